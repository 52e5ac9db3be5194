"""The audit log's read side: verifying the hash chain and its signed checkpoints, signing
new checkpoints, exporting events for auditors, and showing the latest ones."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from bot import audit_witness
from bot.audit_regions import concerns, regions_of
from bot.audit_witness import Witnessed
from bot.delivery import Priority
from bot.keys import key_id
from bot.membership import RegionScope
from bot.network import Network
from storage.audit import ADMIN, GENESIS_HASH, SYSTEM, event_hash, format_time
from storage.db import Database
from storage.models import AuditCheckpoint, AuditEvent, AuditHead, Delivery, Role
from storage.uow import UnitOfWork, UnitOfWorkFactory

_COLUMNS = (
    AuditEvent.seq,
    AuditEvent.occurred_at,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.subject,
    AuditEvent.details,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)
_BATCH = 20_000
_PAGE = 500
SCOPED_SCAN = 20_000  # how far back a regional coordinator's /audit looks for their events
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """The first place where the log is not what was written."""

    seq: int
    reason: str  # one of _REASONS

    def __str__(self) -> str:
        return f"sequence number {self.seq}: {_REASONS[self.reason]}"


_REASONS = {
    "modified": "the event's content does not match its hash (modified)",
    "missing": "the event is missing (deleted)",
    "inserted": "an event that was never written is in its place (inserted or renumbered)",
    "reordered": "the event does not follow its predecessor (reordered or inserted)",
    "truncated": "events a signed checkpoint covers are gone (truncated)",
    "checkpoint": "a checkpoint's signature or hash does not match",
    "head": "the recorded head of the chain does not match its last event",
    "key": "a checkpoint is signed with a key that is not among the verify keys "
    "(add its public key to CORA_AUDIT_VERIFY_KEYS)",
    "witnessed": "the chain does not contain a head witnessed outside the database "
    "(rewritten or truncated)",
    "unrecorded": "a checkpoint witnessed outside the database is missing from it or differs "
    "(checkpoints deleted or replaced)",
    "unsigned": "an event has waited longer than twice AUDIT_CHECKPOINT_MINUTES for a signed "
    "checkpoint (checkpoints stopped or deleted)",
    "rewritten": "the event is not the one this bot wrote (rewritten since)",
    "witness_file": "the witness file cannot be read (changed or damaged)",
}


@dataclass(frozen=True)
class Verification:
    events: int
    head_seq: int
    checkpoints: int
    last_checkpoint: AuditCheckpoint | None
    problem: Problem | None
    witnessed: int = 0  # heads from outside the database that were checked

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class EventView:
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]


def checkpoint_message(seq: int, digest: str, signed_at: str) -> bytes:
    """What a checkpoint signs: the head's sequence number and hash, and when."""
    return json.dumps(
        {"hash": digest, "seq": seq, "signed_at": signed_at}, sort_keys=True, separators=(",", ":")
    ).encode()


def _signature_problem(
    head: AuditCheckpoint | Witnessed, keys: Sequence[Ed25519PublicKey]
) -> Problem | None:
    """Checkpoints name the key that signed them, so several keys (after rotations) can be
    told apart; an unknown key is reported as such, not as a forgery."""
    message = checkpoint_message(head.seq, head.hash, head.signed_at)
    for key in keys:
        if key_id(key) != head.key_id:
            continue
        try:
            key.verify(bytes.fromhex(head.signature), message)
        except (InvalidSignature, ValueError):
            return Problem(head.seq, "checkpoint")
        return None
    return Problem(head.seq, "key")


@asynccontextmanager
async def _snapshot(database: Database) -> AsyncIterator[AsyncSession]:
    """One consistent view of the log: writers that append meanwhile are not half seen."""
    async with database.read_engine.connect() as connection:
        if not database.is_sqlite:  # SQLite's read transaction is a snapshot already
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        async with AsyncSession(bind=connection, expire_on_commit=False) as session:
            yield session


async def _stream(session: AsyncSession, query: Executable) -> AsyncGenerator[Sequence[Any]]:
    connection = await session.connection()  # Core rows, without the ORM's per-row work
    result = await connection.stream(query.execution_options(yield_per=_BATCH))
    async for partition in result.partitions(_BATCH):
        yield partition


Expected = dict[int, tuple[str, str]]  # seq: (hash it must have, reason when it has not)


async def _walk(
    session: AsyncSession, start: int | None, expected: Expected
) -> tuple[int, str, Problem | None]:
    """Check every link from genesis, or from `start` (an event whose hash `expected` holds);
    return the last event reached and the first problem."""
    query = select(*_COLUMNS).order_by(AuditEvent.seq)
    if start is not None:
        query = query.where(AuditEvent.seq >= start)
    next_seq: int = start or 1
    # Starting at a checkpoint, its own event is trusted through the signed hash.
    previous: str | None = None if start else GENESIS_HASH
    last_seq, last_hash = next_seq - 1, GENESIS_HASH
    async with aclosing(_stream(session, query)) as partitions:
        async for rows in partitions:
            for seq, occurred_at, actor, action, subject, details, prev_hash, digest in rows:
                problem = _check(seq, next_seq, previous, prev_hash)
                if problem is None and digest != event_hash(
                    prev_hash, seq, occurred_at, actor, action, subject, details
                ):
                    problem = Problem(seq, "modified")
                if problem is None and seq in expected and expected[seq][0] != digest:
                    problem = Problem(seq, expected[seq][1])
                if problem is not None:
                    return last_seq, last_hash, problem
                previous, next_seq = digest, seq + 1
                last_seq, last_hash = seq, digest
    if expected and max(expected) > last_seq:
        return last_seq, last_hash, Problem(last_seq + 1, "truncated")
    return last_seq, last_hash, None


async def verify(
    database: Database,
    keys: Sequence[Ed25519PublicKey],
    *,
    from_checkpoint: bool = False,
    witnessed: Sequence[Witnessed] = (),
    heads: Sequence[tuple[int, str]] = (),
    now: datetime | None = None,
    unsigned_for: timedelta | None = None,
) -> Verification:
    """Check every link of the chain (or, quicker, the part behind the newest signed head) and
    every checkpoint, against the heads witnessed outside the database (`witnessed`: the
    witness file; `heads`: copied from the coordinators' message); report the first sequence
    number that is not as written. With `now` and `unsigned_for`, an event that has waited
    longer than that for a checkpoint is a problem too: the signer stopped, or its
    checkpoints were deleted."""
    async with _snapshot(database) as session:
        checkpoints = (
            await session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
        ).all()
        head = await session.get(AuditHead, 1)
        total = await session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        problems = [
            problem
            for checkpoint in checkpoints
            if (problem := _signature_problem(checkpoint, keys)) is not None
        ]
        expected: Expected = {c.seq: (c.hash, "checkpoint") for c in checkpoints}
        recorded = {(c.seq, c.hash) for c in checkpoints}
        for witness in witnessed:
            if (problem := _signature_problem(witness, keys)) is not None:
                problems.append(problem)
            if (witness.seq, witness.hash) not in recorded:
                problems.append(Problem(witness.seq, "unrecorded"))
            expected[witness.seq] = (witness.hash, "witnessed")
        for seq, digest in heads:
            expected[seq] = (digest, "witnessed")
        start = max(expected) if from_checkpoint and expected else None
        last_seq, last_hash, problem = await _walk(session, start, expected)
        if problem is not None:
            problems.append(problem)
        elif head is not None and (head.seq, head.hash) != (last_seq, last_hash):
            problems.append(Problem(min(head.seq, last_seq) + 1, "head"))
        if now is not None and unsigned_for is not None:
            signed = max((c.seq for c in checkpoints), default=0)
            waiting = await _first_unsigned(session, signed)
            if waiting is not None and now - datetime.fromisoformat(waiting[1]) > unsigned_for:
                problems.append(Problem(waiting[0], "unsigned"))
    last = checkpoints[-1] if checkpoints else None
    first = min(problems, key=lambda found: found.seq, default=None)
    return Verification(total, last_seq, len(checkpoints), last, first, len(witnessed) + len(heads))


async def _first_unsigned(session: AsyncSession, signed: int) -> tuple[int, str] | None:
    row = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.occurred_at)
            .where(AuditEvent.seq > signed)
            .order_by(AuditEvent.seq)
            .limit(1)
        )
    ).first()
    return None if row is None else (row.seq, row.occurred_at)


def _check(seq: int, expected: int, previous: str | None, prev_hash: str) -> Problem | None:
    if seq > expected:
        return Problem(expected, "missing")
    if seq < expected:
        return Problem(seq, "inserted")
    if previous is not None and prev_hash != previous:
        return Problem(seq, "reordered")
    return None


async def check_unsigned_part(
    database: Database,
    keys: Sequence[Ed25519PublicKey],
    witness: Witnessed | None = None,
    written: tuple[int, str] | None = None,
) -> tuple[int, str, Problem | None]:
    """What the signer checks before it signs: the newest checkpoint's signature, that it
    agrees with the newest witnessed head, every link from there to the head, and that the
    newest event this process wrote itself (`written`) is still in the chain. Returns the head
    that may be signed, and the first problem."""
    async with _snapshot(database) as session:
        head = await session.get(AuditHead, 1)
        if head is None or head.seq == 0:
            return 0, GENESIS_HASH, None
        newest = await session.scalar(
            select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)
        )
        problems: list[Problem] = []
        expected: Expected = {}
        if newest is not None:
            if (problem := _signature_problem(newest, keys)) is not None:
                problems.append(problem)
            expected[newest.seq] = (newest.hash, "checkpoint")
        if witness is not None:
            if (problem := _signature_problem(witness, keys)) is not None:
                problems.append(problem)
            recorded = await session.scalar(
                select(func.count())
                .select_from(AuditCheckpoint)
                .where(AuditCheckpoint.seq == witness.seq, AuditCheckpoint.hash == witness.hash)
            )
            if not recorded:
                problems.append(Problem(witness.seq, "unrecorded"))
            expected[witness.seq] = (witness.hash, "witnessed")
        start = max(expected) if expected else None
        if written is not None and written[0] > (start or 0):
            expected[written[0]] = (written[1], "rewritten")
        last_seq, last_hash, problem = await _walk(session, start, expected)
        if problem is None and (last_seq, last_hash) != (head.seq, head.hash):
            problem = Problem(min(head.seq, last_seq) + 1, "head")
        if problem is not None:
            problems.append(problem)
        return head.seq, head.hash, min(problems, key=lambda found: found.seq, default=None)


@dataclass(frozen=True)
class Signing:
    """What one run of the signer did: signed a checkpoint, refused (and why), or neither
    (nothing new). `notified`: messages it queued for the statewide coordinators."""

    checkpoint: AuditCheckpoint | None = None
    refused: Problem | None = None
    notified: int = 0
    witness_error: str | None = None  # signed, but the witness file could not be written


HeadMessage = Callable[[UnitOfWork, AuditCheckpoint], Awaitable[int]]


async def sign_checkpoint(
    uow: UnitOfWorkFactory,
    key: Ed25519PrivateKey,
    *,
    verify_keys: Sequence[Ed25519PublicKey] = (),
    witness_file: Path | None = None,
    head_message: HeadMessage | None = None,
) -> Signing:
    """Sign the current head, unless it was signed already (nothing happened since) — and
    never a chain that does not extend the newest signed and witnessed head. Each signed
    checkpoint is also appended to `witness_file`, after it is committed."""
    keys = [*verify_keys, key.public_key()]
    witness, unreadable = _newest_witness(witness_file)
    if unreadable is not None:
        return Signing(refused=unreadable)
    seq, digest, problem = await check_unsigned_part(uow.database, keys, witness, uow.written_head)
    if problem is not None:
        return Signing(refused=problem)
    if seq == 0:
        return Signing()
    async with uow() as work:
        await work.session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
        last = await work.session.scalar(select(func.max(AuditCheckpoint.seq)))
        if last is not None and last >= seq:
            return Signing()
        current = await work.session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
        if current != digest:  # changed while it was being checked
            return Signing(refused=Problem(seq, "rewritten"))
        signed_at = format_time(work.now())
        signature = key.sign(checkpoint_message(seq, digest, signed_at))
        checkpoint = AuditCheckpoint(
            seq=seq,
            hash=digest,
            signed_at=signed_at,
            key_id=key_id(key.public_key()),
            signature=signature.hex(),
        )
        work.session.add(checkpoint)
        notified = await head_message(work, checkpoint) if head_message is not None else 0
        await work.commit()
    if witness_file is not None:
        try:
            audit_witness.append(witness_file, witnessed(checkpoint))
        except OSError as error:
            log.error("could not append checkpoint %d to the witness file: %s", seq, error)
            return Signing(checkpoint=checkpoint, notified=notified, witness_error=str(error))
    return Signing(checkpoint=checkpoint, notified=notified)


def _newest_witness(path: Path | None) -> tuple[Witnessed | None, Problem | None]:
    try:
        return audit_witness.newest(path), None
    except audit_witness.WitnessFileError as error:
        log.error("%s", error)
        return None, Problem(0, "witness_file")


def witnessed(checkpoint: AuditCheckpoint) -> Witnessed:
    return Witnessed(
        seq=checkpoint.seq,
        hash=checkpoint.hash,
        signed_at=checkpoint.signed_at,
        key_id=checkpoint.key_id,
        signature=checkpoint.signature,
    )


EXPORT_FIELDS = ("seq", "occurred_at", "actor", "action", "subject", "details", "prev_hash", "hash")


async def export(
    database: Database,
    uow: UnitOfWorkFactory,
    out: TextIO,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    fmt: str = "jsonl",
) -> int:
    """Write the events between `since` and `until` (UTC) for auditors; the export itself is
    audited."""
    query = select(*_COLUMNS).order_by(AuditEvent.seq)
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= format_time(since))
    if until is not None:
        query = query.where(AuditEvent.occurred_at < format_time(until))
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(EXPORT_FIELDS)
    count = 0
    async with _snapshot(database) as session, aclosing(_stream(session, query)) as partitions:
        async for rows in partitions:
            for row in rows:
                if writer is not None:
                    writer.writerow(row)
                else:
                    record = dict(zip(EXPORT_FIELDS, row, strict=True))
                    record["details"] = json.loads(record["details"])
                    out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
    async with uow() as work:
        work.audit.record(
            ADMIN,
            "audit.exported",
            "audit",
            events=count,
            format=fmt,
            since=since.date().isoformat() if since else None,
            until=until.date().isoformat() if until else None,
        )
        await work.commit()
    return count


async def latest(
    database: Database, limit: int = 10, *, scope: RegionScope | None = None
) -> list[EventView]:
    """The newest events; within a regional coordinator's scope, the newest that concern
    their region among the last SCOPED_SCAN events."""
    found: list[Any] = []
    async with database.read_sessions() as session:
        before: int | None = None
        scanned = 0
        while len(found) < limit and scanned < (SCOPED_SCAN if scope else limit):
            query = select(*_COLUMNS).order_by(AuditEvent.seq.desc())
            if before is not None:
                query = query.where(AuditEvent.seq < before)
            page = (await session.execute(query.limit(_PAGE if scope else limit))).all()
            if not page:
                break
            scanned += len(page)
            before = page[-1].seq
            if scope is None:
                found.extend(page)
                continue
            concerned = await regions_of(
                session, [(row.subject, row.details) for row in page], scope.statewide
            )
            found.extend(row for row, r in zip(page, concerned, strict=True) if concerns(r, scope))
    return [
        EventView(
            seq=row.seq,
            occurred_at=datetime.fromisoformat(row.occurred_at),
            actor=row.actor,
            action=row.action,
            subject=row.subject,
            details=json.loads(row.details),
        )
        for row in found[:limit]
    ]


@dataclass(frozen=True)
class Overview:
    """What coordinators see in /audit: the quick check and the latest events."""

    verification: Verification
    events: list[EventView]


AUDIT_HEAD_NOTICE = "audit_head"
AUDIT_REFUSED_NOTICE = "audit_refused"
_DAY = timedelta(days=1)


class AuditService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        network: Network,
        verify_keys: Sequence[Ed25519PublicKey],
        signing_key: Ed25519PrivateKey,
        *,
        witness_file: Path | None = None,
        head_messages: bool = True,
        checkpoint_every: timedelta = timedelta(hours=1),
    ) -> None:
        self._uow = uow
        self._network = network
        self._verify_keys = verify_keys
        self._signing_key = signing_key
        self._witness_file = witness_file
        self._head_messages = head_messages
        self._checkpoint_every = checkpoint_every

    async def overview(self, limit: int = 10, *, scope: RegionScope | None = None) -> Overview:
        """Checkpoints and the chain behind the newest signed or witnessed head (the full
        check is `audit verify`), and the latest events (of the coordinator's region when
        `scope` is given)."""
        database = self._uow.database
        witness, unreadable = _newest_witness(self._witness_file)
        checked = await verify(
            database,
            self._verify_keys,
            from_checkpoint=True,
            witnessed=[witness] if witness is not None else [],
        )
        if unreadable is not None and checked.problem is None:
            checked = replace(checked, problem=unreadable)
        return Overview(checked, await latest(database, limit, scope=scope))

    async def checkpoint(self) -> Signing:
        """Sign the head (and once a day send it to the statewide coordinators), or refuse
        a chain that was rewritten and tell them."""
        signing = await sign_checkpoint(
            self._uow,
            self._signing_key,
            verify_keys=self._verify_keys,
            witness_file=self._witness_file,
            head_message=self._head_message if self._head_messages else None,
        )
        if signing.refused is not None:
            notified = await self._report_refusal(signing.refused)
            return Signing(refused=signing.refused, notified=notified)
        return signing

    async def _statewide_coordinators(self, uow: UnitOfWork) -> list[int]:
        found = await uow.members.find(
            regions=[self._network.statewide_region], role=Role.COORDINATOR
        )
        return [member.id for member in found]

    async def _last_notice(self, uow: UnitOfWork, kind: str) -> Delivery | None:
        return await uow.session.scalar(
            select(Delivery)
            .where(Delivery.kind == kind)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .limit(1)
        )

    async def _head_message(self, uow: UnitOfWork, checkpoint: AuditCheckpoint) -> int:
        """Once a day, the newest signed head goes to the statewide coordinators: a copy on
        their devices that nobody who can write the database or the server can reach."""
        now = uow.now()
        last = await self._last_notice(uow, AUDIT_HEAD_NOTICE)
        # Half a signing interval early, so that the hourly signer's drift does not skip a day.
        if last is not None and now - last.created_at < _DAY - self._checkpoint_every / 2:
            return 0
        return uow.deliveries.enqueue(
            kind=AUDIT_HEAD_NOTICE,
            member_ids=await self._statewide_coordinators(uow),
            priority=Priority.NORMAL,
            now=now,
            params={
                "seq": checkpoint.seq,
                "hash": checkpoint.hash,
                "signed_at": checkpoint.signed_at,
                "key": checkpoint.key_id,
            },
        )

    async def _report_refusal(self, problem: Problem) -> int:
        """Tell the statewide coordinators that the signer refused (once a day for the same
        problem: the signer retries every interval)."""
        params: dict[str, int | str | None] = {"seq": problem.seq, "reason": problem.reason}
        log.error("refused to sign the audit log: %s", problem)
        async with self._uow() as uow:
            now = uow.now()
            last = await self._last_notice(uow, AUDIT_REFUSED_NOTICE)
            if (
                last is not None
                and json.loads(last.params) == params
                and now - last.created_at < _DAY
            ):
                return 0
            count = uow.deliveries.enqueue(
                kind=AUDIT_REFUSED_NOTICE,
                member_ids=await self._statewide_coordinators(uow),
                priority=Priority.URGENT,
                now=now,
                params=params,
            )
            uow.audit.record(SYSTEM, "audit.checkpoint_refused", "audit", **params)
            await uow.commit()
            return count
