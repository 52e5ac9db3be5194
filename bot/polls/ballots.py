"""How answers are stored, race-free: one ballot row per voter (the lock, by upsert) and at most
one answer per option (primary keys). In anonymous polls the voter appears only as two
unlinkable keyed hashes under the poll's secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import AnonymousVote, AnonymousVoter, Poll, PollBallot, PollVote
from storage.uow import UnitOfWork

# Where a voter's rows are: the table, its voter column, and the voter's key in it.
Votes = tuple[type[PollVote] | type[AnonymousVote], InstrumentedAttribute[Any], Any]
BallotRow = tuple[type[PollBallot] | type[AnonymousVoter], InstrumentedAttribute[Any], Any]


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
    def of(cls, poll: Poll, member_id: int, secret: bytes | None) -> Voter:
        """`secret` is the anonymous poll's secret (None for a named poll)."""
        if secret is None:
            return cls(member_id)
        return cls(
            member_id,
            keyed_hash(derive(secret, poll.id, b"voter"), member_id),
            keyed_hash(derive(secret, poll.id, b"ballot"), member_id),
        )

    def votes(self) -> Votes:
        """Where this voter's answers are: the table, its voter column, and the voter's key."""
        if self.ballot_hash is None:
            return PollVote, PollVote.member_id, self.member_id
        return AnonymousVote, AnonymousVote.ballot_hash, self.ballot_hash

    def ballot(
        self,
    ) -> tuple[type[PollBallot] | type[AnonymousVoter], InstrumentedAttribute[Any], Any]:
        """Where this voter's ballot row is: the table, its voter column, and the voter's key."""
        if self.voter_hash is None:
            return PollBallot, PollBallot.member_id, self.member_id
        return AnonymousVoter, AnonymousVoter.voter_hash, self.voter_hash


def _insert(uow: UnitOfWork):  # type: ignore[no-untyped-def]
    return sqlite.insert if uow.is_sqlite else postgresql.insert


async def lock_ballot(uow: UnitOfWork, poll: Poll, voter: Voter) -> None:
    """Create or touch the voter's ballot row. Its row lock makes a second, simultaneous
    answer of the same person wait until the first is committed, and then replace it."""
    table, column, key = voter.ballot()
    extra = {"updated_at": uow.now()} if table is PollBallot else {}
    await uow.session.execute(
        _insert(uow)(table)
        .values({"poll_id": poll.id, column.key: key, "revision": 1, **extra})
        .on_conflict_do_update(
            index_elements=["poll_id", column.key],
            set_={"revision": table.revision + 1, **extra},
        )
    )


async def drop_ballot(uow: UnitOfWork, poll: Poll, voter: Voter) -> None:
    """An empty ballot is no ballot: "has voted" stays true only with an answer."""
    table, column, key = voter.ballot()
    await uow.session.execute(delete(table).where(table.poll_id == poll.id, column == key))


async def clear_answers(uow: UnitOfWork, poll: Poll, voter: Voter) -> None:
    table, column, key = voter.votes()
    await uow.session.execute(delete(table).where(table.poll_id == poll.id, column == key))


async def set_answer(
    uow: UnitOfWork, poll: Poll, voter: Voter, option_id: int, answer: str | None
) -> None:
    """One answer per (poll, voter, option): an upsert, or a delete to clear it."""
    table, column, key = voter.votes()
    if answer is None:
        await uow.session.execute(
            delete(table).where(
                table.poll_id == poll.id, column == key, table.option_id == option_id
            )
        )
        return
    await uow.session.execute(
        _insert(uow)(table)
        .values({"poll_id": poll.id, column.key: key, "option_id": option_id, "answer": answer})
        .on_conflict_do_update(
            index_elements=["poll_id", column.key, "option_id"], set_={"answer": answer}
        )
    )


async def own_answers(uow: UnitOfWork, poll: Poll, voter: Voter) -> dict[int, str]:
    table, column, key = voter.votes()
    rows = await uow.session.execute(
        select(table.option_id, table.answer).where(table.poll_id == poll.id, column == key)
    )
    return {option_id: answer for option_id, answer in rows.all()}
