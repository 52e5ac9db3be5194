"""Reading the log for people: the export for auditors and the latest events for /audit."""

from __future__ import annotations

import csv
import json
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import select

from bot.audit.chain import COLUMNS, snapshot, stream
from bot.audit.regions import concerns, regions_of
from bot.membership import RegionScope
from storage.audit import ADMIN, format_time
from storage.db import Database
from storage.models import AuditEvent
from storage.uow import UnitOfWorkFactory

_PAGE = 500
SCOPED_SCAN = 20_000  # how far back a regional coordinator's /audit looks for their events


@dataclass(frozen=True)
class EventView:
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]


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
    query = select(*COLUMNS).order_by(AuditEvent.seq)
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= format_time(since))
    if until is not None:
        query = query.where(AuditEvent.occurred_at < format_time(until))
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(EXPORT_FIELDS)
    count = 0
    async with snapshot(database) as session, aclosing(stream(session, query)) as partitions:
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
            query = select(*COLUMNS).order_by(AuditEvent.seq.desc())
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
