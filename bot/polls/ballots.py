"""How answers are stored, race-free: one ballot row per voter (the lock, by upsert) and at most
one answer per option (primary keys). In anonymous polls the voter appears only as two
unlinkable keyed hashes under the poll's secret."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Table, bindparam, delete, select

from bot.polls.model import PollRecord
from storage.db import dialect_insert
from storage.models import AnonymousVote, AnonymousVoter, Base, PollBallot, PollVote
from storage.uow import UnitOfWork


def keyed_hash(key: bytes, member_id: int) -> str:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(str(member_id).encode())
    return mac.finalize().hex()


def derive(secret: bytes, poll_id: int, purpose: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=f"cora-bot poll {poll_id}".encode(),
        info=b"cora-bot " + purpose,
    ).derive(secret)


@dataclass(frozen=True)
class Voter:
    """How a voter appears in the tables: a member id, or two unlinkable keyed hashes."""

    member_id: int
    voter_hash: str | None = None
    ballot_hash: str | None = None

    @classmethod
    def of(cls, poll: PollRecord, member_id: int, secret: bytes | None) -> Voter:
        """`secret` is the anonymous poll's secret (None for a named poll)."""
        if secret is None:
            return cls(member_id)
        return cls(
            member_id,
            keyed_hash(derive(secret, poll.id, b"voter"), member_id),
            keyed_hash(derive(secret, poll.id, b"ballot"), member_id),
        )

    @property
    def key(self) -> int | str:
        """The voter's key in the answer table: the member id, or the ballot hash."""
        return self.member_id if self.ballot_hash is None else self.ballot_hash


@dataclass(frozen=True)
class _AnswerStatements:
    """The statements on one answer table, with bound parameters `poll_id`, `voter`,
    `option_id` and `answer`."""

    answers: Any
    clear: Any
    set: Any
    unset: Any


def _answer_statements(table: Table, voter: str, insert: Any) -> _AnswerStatements:
    """Core statements on the table (not the ORM entity), so that an upsert does not take the
    ORM's bulk-insert path."""
    mine = (table.c.poll_id == bindparam("poll_id")) & (table.c[voter] == bindparam("voter"))
    return _AnswerStatements(
        answers=select(table.c.option_id, table.c.answer).where(mine),
        clear=delete(table).where(mine),
        set=insert(table)
        .values(
            {
                "poll_id": bindparam("poll_id"),
                voter: bindparam("voter"),
                "option_id": bindparam("option_id"),
                "answer": bindparam("answer"),
            }
        )
        .on_conflict_do_update(
            index_elements=["poll_id", voter, "option_id"],
            set_={"answer": bindparam("answer")},
        ),
        unset=delete(table).where(mine, table.c.option_id == bindparam("option_id")),
    )


@dataclass(frozen=True)
class _Statements:
    """A press's statements, built once per dialect: constructing them costs more than
    running them (SQLAlchemy builds and keys an expression on every call)."""

    lock_named: Any
    lock_anonymous: Any
    drop_named: Any
    drop_anonymous: Any
    named: _AnswerStatements
    anonymous: _AnswerStatements

    def answers(self, voter: Voter) -> _AnswerStatements:
        return self.named if voter.ballot_hash is None else self.anonymous


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@functools.cache
def _statements(is_sqlite: bool) -> _Statements:
    insert: Any = dialect_insert(is_sqlite)
    ballots, voters = _table(PollBallot), _table(AnonymousVoter)
    return _Statements(
        lock_named=insert(ballots)
        .values(
            poll_id=bindparam("poll_id"),
            member_id=bindparam("voter"),
            revision=1,
            updated_at=bindparam("updated_at"),
        )
        .on_conflict_do_update(
            index_elements=["poll_id", "member_id"],
            set_={"revision": ballots.c.revision + 1, "updated_at": bindparam("updated_at")},
        ),
        lock_anonymous=insert(voters)
        .values(poll_id=bindparam("poll_id"), voter_hash=bindparam("voter"), revision=1)
        .on_conflict_do_update(
            index_elements=["poll_id", "voter_hash"],
            set_={"revision": voters.c.revision + 1},
        ),
        drop_named=delete(ballots).where(
            ballots.c.poll_id == bindparam("poll_id"), ballots.c.member_id == bindparam("voter")
        ),
        drop_anonymous=delete(voters).where(
            voters.c.poll_id == bindparam("poll_id"), voters.c.voter_hash == bindparam("voter")
        ),
        named=_answer_statements(_table(PollVote), "member_id", insert),
        anonymous=_answer_statements(_table(AnonymousVote), "ballot_hash", insert),
    )


async def lock_ballot(uow: UnitOfWork, poll: PollRecord, voter: Voter) -> None:
    """Create or touch the voter's ballot row. Its row lock makes a second, simultaneous
    answer of the same person wait until the first is committed, and then replace it."""
    statements = _statements(uow.is_sqlite)
    if voter.voter_hash is None:
        await uow.execute(
            statements.lock_named,
            {"poll_id": poll.id, "voter": voter.member_id, "updated_at": uow.now()},
        )
    else:
        await uow.execute(
            statements.lock_anonymous, {"poll_id": poll.id, "voter": voter.voter_hash}
        )


async def drop_ballot(uow: UnitOfWork, poll: PollRecord, voter: Voter) -> None:
    """An empty ballot is no ballot: "has voted" stays true only with an answer."""
    statements = _statements(uow.is_sqlite)
    if voter.voter_hash is None:
        await uow.execute(statements.drop_named, {"poll_id": poll.id, "voter": voter.member_id})
    else:
        await uow.execute(
            statements.drop_anonymous, {"poll_id": poll.id, "voter": voter.voter_hash}
        )


async def clear_answers(uow: UnitOfWork, poll: PollRecord, voter: Voter) -> None:
    statements = _statements(uow.is_sqlite).answers(voter)
    await uow.execute(statements.clear, {"poll_id": poll.id, "voter": voter.key})


async def set_answer(
    uow: UnitOfWork, poll: PollRecord, voter: Voter, option_id: int, answer: str | None
) -> None:
    """One answer per (poll, voter, option): an upsert, or a delete to clear it."""
    statements = _statements(uow.is_sqlite).answers(voter)
    values = {"poll_id": poll.id, "voter": voter.key, "option_id": option_id}
    if answer is None:
        await uow.execute(statements.unset, values)
    else:
        await uow.execute(statements.set, {**values, "answer": answer})


async def own_answers(uow: UnitOfWork, poll: PollRecord, voter: Voter) -> dict[int, str]:
    statements = _statements(uow.is_sqlite).answers(voter)
    rows = await uow.execute(statements.answers, {"poll_id": poll.id, "voter": voter.key})
    return {row.option_id: row.answer for row in rows}
