"""The audit chain's check: every link from genesis (or from the newest signed head) and
every checkpoint, against the heads witnessed outside the database."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PublicKey,
)
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from bot.audit.witness import Witnessed
from bot.keys import key_id
from storage import audit_walk
from storage.audit import GENESIS_HASH, event_batches
from storage.audit_walk import Walk, link_problem
from storage.db import Database
from storage.models import AuditCheckpoint, AuditEvent, AuditHead

COLUMNS = (
    AuditEvent.seq,
    AuditEvent.occurred_at,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.subject,
    AuditEvent.details,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)
BATCH = 20_000  # export
VERIFY_BATCH = 5_000  # rows per fetch while verifying; two are held at a time
# From this many events on, `verify` splits the walk into ranges checked in worker processes
# (when it is given more than one); below, starting them would cost more than it saves.
PARALLEL_FROM = 50_000
WORKER_BATCH = 1_000  # rows per fetch in a PostgreSQL worker (a SQLite worker iterates its cursor)

# The workers import this copy of `storage`, wherever it lies (installed, or a source tree),
# and nothing from the working directory (-P).
_STORAGE_ROOT = str(Path(audit_walk.__file__).resolve().parents[1])

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
    ranges: int = 1  # ranges of the chain checked side by side in worker processes (1: none)

    @property
    def ok(self) -> bool:
        return self.problem is None


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
async def snapshot(database: Database) -> AsyncIterator[AsyncSession]:
    """One consistent view of the log: writers that append meanwhile are not half seen."""
    async with database.read_engine.connect() as connection:
        if not database.is_sqlite:  # SQLite's read transaction is a snapshot already
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        async with AsyncSession(bind=connection, expire_on_commit=False) as session:
            yield session


async def stream(session: AsyncSession, query: Executable) -> AsyncGenerator[Sequence[Any]]:
    connection = await session.connection()  # Core rows, without the ORM's per-row work
    result = await connection.stream(query.execution_options(yield_per=BATCH))
    async for partition in result.partitions(BATCH):
        yield partition


Expected = dict[int, tuple[str, str]]  # seq: (hash it must have, reason when it has not)


async def _walk(
    session: AsyncSession, start: int | None, expected: Expected, batch: int
) -> tuple[int, str, Problem | None]:
    """Check every link from genesis, or from `start` (an event whose hash `expected` holds);
    return the last event reached and the first problem. The rows stream through in batches
    straight from the driver; nothing but the last link is kept."""
    connection = await session.connection()
    # Starting at a checkpoint, its own event is trusted through the signed hash.
    walk = Walk(start or 1, None if start else GENESIS_HASH, expected)
    async with aclosing(event_batches(connection, start=start, batch=batch)) as batches:
        async for rows in batches:
            if not walk.check(rows):
                break
    last_seq, last_hash = walk.last
    return _end(last_seq, last_hash or GENESIS_HASH, walk.problem, expected)


def _end(
    last_seq: int, last_hash: str, problem: tuple[int, str] | None, expected: Expected
) -> tuple[int, str, Problem | None]:
    if problem is not None:
        return last_seq, last_hash, Problem(*problem)
    if expected and max(expected) > last_seq:
        return last_seq, last_hash, Problem(last_seq + 1, "truncated")
    return last_seq, last_hash, None


_WORKER_ENVIRONMENT = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ"})
MAX_WORKERS = 64


def cores() -> int:
    """The cores this process may run on (at most MAX_WORKERS: one connection each)."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    return min(count, MAX_WORKERS)


def split(start: int | None, top: int, parts: int) -> list[tuple[int | None, int]]:
    """`parts` ranges of about equal length that together hold the events from `start` (or
    from genesis: whatever sequence number the first one has) to `top`, as bounds
    low < seq <= high."""
    first = start or 1
    span = top - first + 1
    cuts: list[int | None] = [first - 1 + span * part // parts for part in range(parts + 1)]
    if not start:
        cuts[0] = None
    return [(low, high) for low, high in pairwise(cuts) if high is not None]


async def _source(database: Database, session: AsyncSession) -> dict[str, Any] | None:
    """How a worker process reads this database in the same view as `session`; None when it
    cannot (an in-memory SQLite database)."""
    url = make_url(database.url)
    if database.is_sqlite:
        path = _sqlite_file(url.database)
        return None if path is None else {"sqlite": path}
    _, arguments = database.engine.dialect.create_connect_args(url)
    if any(not isinstance(value, str | int | bool) for value in arguments.values()):
        return None
    # The workers import this transaction's snapshot: what they read is exactly what it sees.
    snapshot = await session.scalar(text("SELECT pg_export_snapshot()"))
    return {"postgres": arguments, "snapshot": snapshot}


def _sqlite_file(path: str | None) -> str | None:
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return str(Path(path).absolute())


class _WorkerFailed(Exception):
    pass


async def _walk_in_ranges(
    source: dict[str, Any],
    start: int | None,
    top: int,
    expected: Expected,
    batch: int,
    workers: int,
) -> tuple[int, str, Problem | None]:
    """The walk of `_walk`, split into one range per worker process; the ranges are joined
    here, where the first link of each (its seam) is checked against the range before. Every
    worker reads no further than `top`, the newest event in the caller's view: an event
    appended meanwhile is not half seen."""
    jobs = [
        {
            **source,
            "low": low,
            "high": high,
            "batch": min(batch, WORKER_BATCH),
            "expected": {
                seq: list(value)
                for seq, value in expected.items()
                if (low is None or seq > low) and seq <= high
            },
        }
        for low, high in split(start, top, workers)
    ]
    paths = [_STORAGE_ROOT, os.environ.get("PYTHONPATH")]
    # Only what a Python process needs: not the bot's token or keys (the job carries the
    # database's address on standard input).
    environment = {
        k: v
        for k, v in os.environ.items()
        if k in _WORKER_ENVIRONMENT or k.startswith(("PG", "SSL_CERT"))  # libpq's, TLS's own
    }
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    # A SQLite worker needs nothing from site-packages (-S: no site, a quicker start);
    # a PostgreSQL worker needs asyncpg.
    options = ("-P", "-S") if "sqlite" in source else ("-P",)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            *options,
            "-m",
            "storage.audit_walk",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
        )
        for _ in jobs
    ]
    answers = [
        asyncio.ensure_future(process.communicate(json.dumps(job).encode()))
        for process, job in zip(processes, jobs, strict=True)
    ]
    try:
        next_seq, previous = start or 1, None if start else GENESIS_HASH
        for process, answer in zip(processes, answers, strict=True):
            out, err = await answer
            if process.returncode != 0:
                lines = err.decode(errors="replace").strip().splitlines() or [""]
                raise _WorkerFailed(f"exit {process.returncode}: {lines[-1][:200]}")
            result = json.loads(out)
            if result["first"] is None:  # no events in this range
                continue
            seq, prev_hash = result["first"]
            if seam := link_problem(seq, next_seq, previous, prev_hash):
                return _end(next_seq - 1, previous or GENESIS_HASH, seam, expected)
            last_seq, last_hash = result["last"]
            if result["problem"] is not None:
                return _end(last_seq, last_hash, tuple(result["problem"]), expected)
            next_seq, previous = last_seq + 1, last_hash
        return _end(next_seq - 1, previous or GENESIS_HASH, None, expected)
    finally:
        for process in processes:  # the walk ended early: the other ranges do not matter
            if process.returncode is None:
                process.kill()
        await asyncio.gather(*answers, return_exceptions=True)


async def verify(
    database: Database,
    keys: Sequence[Ed25519PublicKey],
    *,
    from_checkpoint: bool = False,
    witnessed: Sequence[Witnessed] = (),
    heads: Sequence[tuple[int, str]] = (),
    now: datetime | None = None,
    unsigned_for: timedelta | None = None,
    batch: int = VERIFY_BATCH,
    workers: int = 1,
    parallel_from: int = PARALLEL_FROM,
) -> Verification:
    """Check every link of the chain (or, quicker, the part behind the newest signed head) and
    every checkpoint, against the heads witnessed outside the database (`witnessed`: the
    witness file; `heads`: copied from the coordinators' message); report the first sequence
    number that is not as written. With `now` and `unsigned_for`, an event that has waited
    longer than that for a checkpoint is a problem too: the signer stopped, or its
    checkpoints were deleted. The events stream through `batch` at a time: memory does not
    grow with the length of the log. With `workers` > 1, a walk of at least `parallel_from`
    events is split into that many ranges, each checked in a process of its own."""
    async with snapshot(database) as session:
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
        ranges = 1
        top = await session.scalar(select(func.max(AuditEvent.seq))) or 0
        source = None
        if workers > 1 and top - (start or 1) + 1 >= max(parallel_from, workers):
            source = await _source(database, session)
        walked = None
        if source is not None and sys.executable:
            try:
                walked = await _walk_in_ranges(source, start, top, expected, batch, workers)
                ranges = workers
            except _WorkerFailed as failure:
                log.warning("audit verification in worker processes failed (%s)", failure)
        if walked is None:
            walked = await _walk(session, start, expected, batch)
        last_seq, last_hash, problem = walked
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
    witnesses = len(witnessed) + len(heads)
    return Verification(total, last_seq, len(checkpoints), last, first, witnesses, ranges)


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
    async with snapshot(database) as session:
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
        last_seq, last_hash, problem = await _walk(session, start, expected, VERIFY_BATCH)
        if problem is None and (last_seq, last_hash) != (head.seq, head.hash):
            problem = Problem(min(head.seq, last_seq) + 1, "head")
        if problem is not None:
            problems.append(problem)
        return head.seq, head.hash, min(problems, key=lambda found: found.seq, default=None)
