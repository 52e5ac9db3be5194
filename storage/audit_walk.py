"""Walking the audit chain: the hash of an event and the check of consecutive events, with
nothing but the standard library and the database drivers, so that a worker process that
checks one range of a long chain (`python -m storage.audit_walk`, a job on standard input)
starts in milliseconds and stays small.

Every event stores its predecessor's hash as well as its own, so a range can be checked
without the events before it; only its first link (the seam) is left to whoever joins the
ranges: `Walk.first` holds what it needs. On SQLite, SQLite writes each event's hash input
and the worker only hashes it (`INPUTS`, `Walk.check_inputs`); event_hash decides every
event where the two differ."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) quotes with
from typing import Any

GENESIS_HASH = "0" * 64
_sha256 = hashlib.sha256

EventRow = Sequence[Any]  # (seq, occurred_at, actor, action, subject, details, prev_hash, hash)
InputRow = Sequence[Any]  # (seq, prev_hash, hash, the hash input as SQLite built it)
Expected = Mapping[int, tuple[str, str]]  # seq: (hash it must have, reason when it has not)

EVENTS = (
    "SELECT seq, occurred_at, actor, action, subject, details, prev_hash, hash FROM audit_events"
)
# SQLite builds each event's hash input in C: its json_array writes the same text as
# event_hash for every string (tests/services/test_audit.py), and a row needs four Python
# objects instead of eight. Nothing depends on the two agreeing: an event whose input from
# SQLite does not hash to its hash is decided by event_hash from its own columns.
INPUTS = (
    "SELECT seq, prev_hash, hash, CAST(prev_hash || char(10) || "
    "json_array(seq, occurred_at, actor, action, subject, details) AS BLOB) FROM audit_events"
)


def event_hash(
    prev_hash: str, seq: int, occurred_at: str, actor: str, action: str, subject: str, details: str
) -> str:
    """SHA-256 over the previous hash and the event's canonical serialisation, the JSON array
    `json.dumps([seq, occurred_at, actor, action, subject, details], separators=(",", ":"),
    ensure_ascii=False)`, spelled out with json's own quoting: json.dumps builds an encoder on
    every call, which was most of the cost of verifying a long chain."""
    quote = encode_basestring
    return _sha256(
        f"{prev_hash}\n[{seq},{quote(occurred_at)},{quote(actor)},{quote(action)},"
        f"{quote(subject)},{quote(details)}]".encode()
    ).hexdigest()


def link_problem(
    seq: int, expected: int, previous: str | None, prev_hash: str
) -> tuple[int, str] | None:
    """Where and why an event does not follow the one before it (None: it does)."""
    if seq > expected:
        return expected, "missing"
    if seq < expected:
        return seq, "inserted"
    if previous is not None and prev_hash != previous:
        return seq, "reordered"
    return None


class Walk:
    """The check of consecutive events, batch by batch: every link, every hash, and the hashes
    that checkpoints and witnesses expect. Only the last link is kept.

    `next_seq` and `previous` are what the next event must have as its sequence number and its
    predecessor's hash; None takes the first event's own (a range whose seam is checked when
    the ranges are joined; starting at a checkpoint, whose signed hash vouches for it)."""

    def __init__(self, next_seq: int | None, previous: str | None, expected: Expected) -> None:
        self.next_seq = next_seq
        self.previous = previous
        self.expected = expected
        self.first: tuple[int, str] | None = None  # (seq, prev_hash) of the first event seen
        self.problem: tuple[int, str] | None = None  # (seq, reason) of the first problem
        self.events = 0
        self.by_columns = 0  # events decided from their own columns (`check`)

    @property
    def last(self) -> tuple[int, str | None]:
        """The last event that was checked and found right (sequence number and hash)."""
        return (self.next_seq or 1) - 1, self.previous

    def check(self, rows: Iterable[EventRow]) -> bool:
        """Check the next events; False once a problem is found (`problem`)."""
        if self.problem is not None:
            return False
        rows = iter(rows)
        if self.first is None:
            row = next(rows, None)
            if row is None:
                return True
            self.first = (row[0], row[6])
            if self.next_seq is None:
                self.next_seq = row[0]
            if self.previous is None:
                self.previous = row[6]
            rows = chain((row,), rows)
        next_seq, previous, expected = self.next_seq, self.previous, self.expected
        assert next_seq is not None
        checked = 0
        for seq, occurred_at, actor, action, subject, details, prev_hash, digest in rows:
            if seq != next_seq or prev_hash != previous:
                self.problem = link_problem(seq, next_seq, previous, prev_hash)
                assert self.problem is not None
            elif digest != event_hash(prev_hash, seq, occurred_at, actor, action, subject, details):
                self.problem = (seq, "modified")
            elif seq in expected and expected[seq][0] != digest:
                self.problem = (seq, expected[seq][1])
            else:
                previous, next_seq = digest, seq + 1
                checked += 1
                continue
            break
        self.next_seq, self.previous = next_seq, previous
        self.events += checked
        return self.problem is None

    def check_inputs(self, rows: Iterator[InputRow]) -> InputRow | None:
        """`check` for rows that carry their hash input as the database built it: take events
        while each follows the one before and its input hashes to its hash; return the first
        row that does not (None: all did). That row is for `check` to decide, with the
        event's own columns: it may be a problem, or an event whose input the database wrote
        differently from event_hash. So is the first event of a walk and an event that a
        checkpoint or a witness expects."""
        if self.problem is not None:
            return None
        if self.first is None:
            return next(rows, None)
        next_seq, previous, expected, sha256 = self.next_seq, self.previous, self.expected, _sha256
        assert next_seq is not None
        start, odd = next_seq, None
        for row in rows:
            seq, prev_hash, digest, data = row
            if (
                seq != next_seq
                or prev_hash != previous
                or digest != sha256(data).hexdigest()
                or seq in expected
            ):
                odd = row
                break
            previous, next_seq = digest, seq + 1
        self.next_seq, self.previous = next_seq, previous
        self.events += next_seq - start  # one sequence number per event taken
        return odd


# ---- one range, in a worker process ------------------------------------------------------

# A PostgreSQL snapshot id as pg_export_snapshot() returns it, e.g. 00000003-0000001B-1.
_SNAPSHOT = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


def _range_query(
    placeholder: str, low: int | None, high: int | None, select: str = EVENTS
) -> tuple[str, list[int]]:
    """Events with low < seq <= high (either bound may be open), in order."""
    conditions, parameters = [], []
    for operator, bound in ((">", low), ("<=", high)):
        if bound is not None:
            parameters.append(bound)
            conditions.append(f"seq {operator} {placeholder.format(len(parameters))}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return select + where + " ORDER BY seq", parameters


def _walk_sqlite(job: dict[str, Any], walk: Walk) -> None:
    # Read-only by the statement, not by the connection's mode: a read-only connection cannot
    # open a database in WAL mode whose -shm file it may not write.
    connection = sqlite3.connect(job["sqlite"], timeout=job.get("timeout", 10.0))
    try:
        connection.execute("PRAGMA query_only=ON")
        connection.execute("PRAGMA cache_size=-512")  # KiB; each page is read once
        walk_sqlite(connection, walk, job["low"], job["high"])
    finally:
        connection.close()


def walk_sqlite(
    connection: sqlite3.Connection,
    walk: Walk,
    low: int | None,
    high: int | None,
    inputs: str = INPUTS,
) -> None:
    """Check the events low < seq <= high with the hash inputs SQLite builds (`inputs`);
    `walk.check` decides every event they do not vouch for, from its own columns. When
    SQLite cannot build them (a BLOB where text belongs, a build without JSON), the rest of
    the range is read column by column."""
    at = EVENTS + " WHERE seq = ?"
    try:
        query, parameters = _range_query("?", low, high, inputs)
        rows = connection.execute(query, parameters)  # row by row: cheaper than batches
        while (odd := walk.check_inputs(rows)) is not None:
            walk.by_columns += 1
            if not walk.check(connection.execute(at, (odd[0],))):
                return
        return
    except sqlite3.Error:
        pass
    if walk.first is not None:
        low = walk.last[0]
    query, parameters = _range_query("?", low, high)
    walk.check(connection.execute(query, parameters))


async def _walk_postgres(job: dict[str, Any], walk: Walk) -> None:
    import asyncpg  # type: ignore[import-untyped]

    snapshot = job.get("snapshot")
    if snapshot is not None and not _SNAPSHOT.fullmatch(snapshot):
        raise ValueError("not a snapshot id")
    connection = await asyncpg.connect(**job["postgres"])
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            if snapshot is not None:  # the verifying process's view, exactly
                await connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            query, parameters = _range_query("${}", job["low"], job["high"])
            cursor = await connection.cursor(query, *parameters)
            while (rows := await cursor.fetch(job["batch"])) and walk.check(rows):
                pass
    finally:
        await connection.close()


def check_range(job: dict[str, Any]) -> dict[str, Any]:
    """Check the events low < seq <= high of the database the job names (`sqlite`: a file;
    `postgres`: asyncpg's connect arguments and the `snapshot` to read in)."""
    expected = {int(seq): (digest, reason) for seq, (digest, reason) in job["expected"].items()}
    walk = Walk(job.get("next_seq"), job.get("previous"), expected)
    if "sqlite" in job:
        _walk_sqlite(job, walk)
    else:
        import asyncio  # only here, as asyncpg: a SQLite worker stays small

        asyncio.run(_walk_postgres(job, walk))
    return {"first": walk.first, "last": walk.last, "problem": walk.problem, "events": walk.events}


def main() -> None:
    """One job (JSON) on standard input, its result (JSON) on standard output."""
    job = json.loads(sys.stdin.buffer.read())
    result = check_range(job)
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
