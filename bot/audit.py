"""The audit log's read side: verifying the hash chain and its signed checkpoints, signing
new checkpoints, exporting events for auditors, and showing the latest ones."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import func, select
from sqlalchemy.sql import Executable

from bot.audit_regions import concerns, regions_of
from bot.keys import key_id
from bot.membership import RegionScope
from storage.audit import ADMIN, GENESIS_HASH, event_hash, format_time
from storage.db import Database
from storage.models import AuditCheckpoint, AuditEvent, AuditHead
from storage.uow import UnitOfWorkFactory

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


@dataclass(frozen=True)
class Problem:
    """The first place where the log is not what was written."""

    seq: int
    reason: str  # modified, missing, inserted, reordered, truncated, checkpoint, head

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
}


@dataclass(frozen=True)
class Verification:
    events: int
    head_seq: int
    checkpoints: int
    last_checkpoint: AuditCheckpoint | None
    problem: Problem | None

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


def _checkpoint_valid(checkpoint: AuditCheckpoint, keys: Sequence[Ed25519PublicKey]) -> bool:
    message = checkpoint_message(checkpoint.seq, checkpoint.hash, checkpoint.signed_at)
    for key in keys:
        if key_id(key) != checkpoint.key_id:
            continue
        try:
            key.verify(bytes.fromhex(checkpoint.signature), message)
        except (InvalidSignature, ValueError):
            return False
        return True
    return False


async def _stream(database: Database, query: Executable) -> AsyncIterator[Sequence[Any]]:
    async with database.read_engine.connect() as connection:
        result = await connection.stream(query.execution_options(yield_per=_BATCH))
        async for partition in result.partitions(_BATCH):
            yield partition


async def verify(
    database: Database, keys: Sequence[Ed25519PublicKey], *, from_checkpoint: bool = False
) -> Verification:
    """Check every link of the chain (or, quicker, the part behind the last checkpoint) and
    every checkpoint; report the first sequence number that is not as written."""
    async with database.read_sessions() as session:
        checkpoints = (
            await session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
        ).all()
        head = await session.get(AuditHead, 1)
        total = await session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    for checkpoint in checkpoints:
        if not _checkpoint_valid(checkpoint, keys):
            bad = Problem(checkpoint.seq, "checkpoint")
            return Verification(total, 0, len(checkpoints), checkpoint, bad)
    signed = {checkpoint.seq: checkpoint.hash for checkpoint in checkpoints}
    start = checkpoints[-1] if from_checkpoint and checkpoints else None
    expected: int = start.seq if start else 1
    previous: str | None = None if start else GENESIS_HASH
    query = select(*_COLUMNS).order_by(AuditEvent.seq)
    if start is not None:
        query = query.where(AuditEvent.seq >= start.seq)
    problem: Problem | None = None
    last_seq, last_hash = 0, GENESIS_HASH
    async for rows in _stream(database, query):
        for seq, occurred_at, actor, action, subject, details, prev_hash, digest in rows:
            # Starting at a checkpoint, its own event is trusted through the signed hash.
            problem = _check(seq, expected, previous, prev_hash)
            if problem is None and digest != event_hash(
                prev_hash, seq, occurred_at, actor, action, subject, details
            ):
                problem = Problem(seq, "modified")
            if problem is None and seq in signed and signed[seq] != digest:
                problem = Problem(seq, "checkpoint")
            if problem is not None:
                break
            previous, expected = digest, seq + 1
            last_seq, last_hash = seq, digest
        if problem is not None:
            break
    if problem is None and checkpoints and checkpoints[-1].seq > last_seq:
        problem = Problem(last_seq + 1, "truncated")
    if problem is None and head is not None and (head.seq, head.hash) != (last_seq, last_hash):
        problem = Problem(min(head.seq, last_seq) + 1, "head")
    last = checkpoints[-1] if checkpoints else None
    return Verification(total, last_seq, len(checkpoints), last, problem)


def _check(seq: int, expected: int, previous: str | None, prev_hash: str) -> Problem | None:
    if seq > expected:
        return Problem(expected, "missing")
    if seq < expected:
        return Problem(seq, "inserted")
    if previous is not None and prev_hash != previous:
        return Problem(seq, "reordered")
    return None


async def sign_checkpoint(uow: UnitOfWorkFactory, key: Ed25519PrivateKey) -> AuditCheckpoint | None:
    """Sign the current head, unless it was signed already (nothing happened since)."""
    async with uow() as work:
        head = await work.session.scalar(
            select(AuditHead).where(AuditHead.id == 1).with_for_update()
        )
        if head is None or head.seq == 0:
            return None
        last = await work.session.scalar(select(func.max(AuditCheckpoint.seq)))
        if last == head.seq:
            return None
        signed_at = format_time(work.now())
        signature = key.sign(checkpoint_message(head.seq, head.hash, signed_at))
        checkpoint = AuditCheckpoint(
            seq=head.seq,
            hash=head.hash,
            signed_at=signed_at,
            key_id=key_id(key.public_key()),
            signature=signature.hex(),
        )
        work.session.add(checkpoint)
        await work.commit()
        return checkpoint


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
    async for rows in _stream(database, query):
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


class AuditService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        verify_keys: Sequence[Ed25519PublicKey],
        signing_key: Ed25519PrivateKey,
    ) -> None:
        self._uow = uow
        self._verify_keys = verify_keys
        self._signing_key = signing_key

    async def overview(self, limit: int = 10, *, scope: RegionScope | None = None) -> Overview:
        """Checkpoints and the chain behind the last one (the full check is `audit verify`),
        and the latest events (of the coordinator's region when `scope` is given)."""
        database = self._uow.database
        checked = await verify(database, self._verify_keys, from_checkpoint=True)
        return Overview(checked, await latest(database, limit, scope=scope))

    async def checkpoint(self) -> AuditCheckpoint | None:
        return await sign_checkpoint(self._uow, self._signing_key)
