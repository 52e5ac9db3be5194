"""The append side of the hash-chained audit log, written inside the action's transaction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Executable, Result, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.audit_walk import EVENTS
from storage.audit_walk import GENESIS_HASH as GENESIS_HASH
from storage.audit_walk import EventRow as EventRow
from storage.audit_walk import event_hash as event_hash
from storage.models import AuditEvent, AuditHead

SYSTEM = "system"
ADMIN = "admin"
_MAX_DETAIL_TEXT = 80

DetailValue = int | float | bool | str | None | list[int] | list[str]


def canonical_details(details: dict[str, DetailValue]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# EVENTS: the columns in the order event_hash takes them, prev_hash and hash at the end.
# SQLite's and PostgreSQL's placeholders:
_ORDER = " ORDER BY seq"
_FROM = {"sqlite": " WHERE seq >= ?", "postgresql": " WHERE seq >= $1"}


async def event_batches(
    connection: AsyncConnection, *, start: int | None = None, batch: int = 5_000
) -> AsyncGenerator[Sequence[EventRow]]:
    """Every event (from `start` on) in the order of its sequence number, `batch` rows at a
    time, read with the database driver's own cursor: a server-side cursor on PostgreSQL, an
    iterating cursor on SQLite (the next batch is read while the caller checks this one).
    Only two batches are ever held, whatever the length of the log. Runs inside the
    connection's transaction, which must have begun (a statement executed), so that the
    caller sees one snapshot."""
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None  # an open connection
    dialect = connection.dialect.name
    query = EVENTS + (_FROM[dialect] if start is not None else "") + _ORDER
    parameters = (start,) if start is not None else ()
    if dialect == "sqlite":
        cursor = await raw.execute(query, parameters)
        pending = asyncio.ensure_future(cursor.fetchmany(batch))
        try:
            while rows := await pending:
                pending = asyncio.ensure_future(cursor.fetchmany(batch))
                yield rows
        finally:
            await asyncio.wait([pending])  # when the caller stopped early, the read ends first
            if not pending.cancelled():
                pending.exception()  # seen: the caller has what it wanted, or its own error
            await cursor.close()
        return
    if not raw.is_in_transaction():
        raise RuntimeError("event_batches needs a transaction that has begun")
    server_side = await raw.cursor(query, *parameters)
    while rows := await server_side.fetch(batch):
        yield rows


class Execute(Protocol):
    def __call__(
        self, statement: Executable, parameters: Any = None, /
    ) -> Awaitable[Result[Any]]: ...


def format_time(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


@dataclass(frozen=True)
class PendingEvent:
    # In the order event_hash takes them.
    actor: str
    action: str
    subject: str
    details: str


def _check_detail(key: str, value: DetailValue) -> None:
    # Details hold ids, codes and hashes only; long strings would be free text, which never
    # belongs into the audit log.
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, str) and len(item) > _MAX_DETAIL_TEXT:
            raise ValueError(f"audit detail {key!r} is too long to be an id or a hash")


def member_actor(member_id: int) -> str:
    return f"member:{member_id}"


class AuditLog:
    """Collects the events of one transaction and chains them when the transaction commits."""

    def __init__(
        self,
        session: AsyncSession,
        known_head: Callable[[], tuple[int, str] | None] = lambda: None,
        execute: Execute | None = None,
    ) -> None:
        """`known_head`: the newest event this process committed, (seq, hash), if any.
        `execute`: how the transaction runs a Core statement (the session's `execute`, or the
        unit of work's, past the ORM's execution path); the session is flushed first."""
        self._session = session
        self._execute: Execute = execute or session.execute
        self._known_head = known_head
        self._pending: list[PendingEvent] = []
        self.chained: tuple[int, str] | None = None  # the newest (seq, hash) this transaction wrote

    def record(self, actor: str, action: str, subject: str, **details: DetailValue) -> None:
        for key, value in details.items():
            _check_detail(key, value)
        self._pending.append(PendingEvent(actor, action, subject, canonical_details(details)))

    def record_own(self, member_id: int, action: str, **details: DetailValue) -> None:
        """A member's action on their own record: they are the actor and the subject."""
        self.record(member_actor(member_id), action, member_actor(member_id), **details)

    @property
    def pending(self) -> tuple[PendingEvent, ...]:
        return tuple(self._pending)

    async def chain_pending(self, now: datetime) -> None:
        """Append the collected events behind the locked head; call right before commit.

        The head is usually the newest event this process committed: the events are chained
        behind it and the head moves only if it is still that event (one `UPDATE`, which
        locks the row as `SELECT … FOR UPDATE` would). If anyone else appended meanwhile
        (another instance, a `cora-bot` command, a transaction of this process that
        committed first), it matches no row, and the head is read and locked as before."""
        if not self._pending:
            return
        occurred_at = format_time(now)
        known = self._known_head()
        await self._session.flush()  # as an ORM query of the head would (autoflush)
        if known is not None:
            rows, head = self._linked(known, occurred_at)
            moved = await self._execute(
                _MOVE_KNOWN_HEAD,
                {"head_seq": head[0], "head_hash": head[1], "seq": known[0], "hash": known[1]},
            )
            if moved.rowcount == 1:  # type: ignore[attr-defined]
                await self._append(rows, head)
                return
        found = (await self._execute(_HEAD)).first()
        if found is None:
            raise RuntimeError("audit_head row is missing: run `cora-bot db upgrade`")
        rows, head = self._linked((found.seq, found.hash), occurred_at)
        await self._execute(_MOVE_HEAD, {"head_seq": head[0], "head_hash": head[1]})
        await self._append(rows, head)

    def _linked(
        self, head: tuple[int, str], occurred_at: str
    ) -> tuple[list[dict[str, object]], tuple[int, str]]:
        """The pending events as rows chained behind `head`, and the new head."""
        seq, digest = head
        rows: list[dict[str, object]] = []
        for pending in self._pending:
            prev_hash, seq = digest, seq + 1
            actor, action, subject, details = (
                pending.actor,
                pending.action,
                pending.subject,
                pending.details,
            )
            digest = event_hash(prev_hash, seq, occurred_at, actor, action, subject, details)
            rows.append(
                {
                    "seq": seq,
                    "occurred_at": occurred_at,
                    "actor": actor,
                    "action": action,
                    "subject": subject,
                    "details": details,
                    "prev_hash": prev_hash,
                    "hash": digest,
                }
            )
        return rows, (seq, digest)

    async def _append(self, rows: list[dict[str, object]], head: tuple[int, str]) -> None:
        await self._execute(_APPEND, rows)
        self.chained = head
        self._pending.clear()


# Built once, as Core statements: an ORM flush of the events and the head cost more than the
# statements themselves on every action.
_HEAD = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
_EVENTS_TABLE, _HEAD_TABLE = AuditEvent.__table__, AuditHead.__table__
assert isinstance(_EVENTS_TABLE, Table) and isinstance(_HEAD_TABLE, Table)
_APPEND = insert(_EVENTS_TABLE)
_MOVE_HEAD = (
    update(_HEAD_TABLE)
    .where(_HEAD_TABLE.c.id == 1)
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
_MOVE_KNOWN_HEAD = (
    update(_HEAD_TABLE)
    .where(
        _HEAD_TABLE.c.id == 1,
        _HEAD_TABLE.c.seq == bindparam("seq"),
        _HEAD_TABLE.c.hash == bindparam("hash"),
    )
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
