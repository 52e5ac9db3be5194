"""Refused HTTP requests reach the audit log as one event per source and minute: what happens
at the minute boundary, when the database is away at a flush, and when sources multiply."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.clock import ManualClock
from bot.refusals import MAX_SOURCES_PER_MINUTE, RefusalLog, Source
from storage.db import Database
from storage.models import AuditEvent
from storage.uow import UnitOfWorkFactory


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, lock_timeout_ms=100)
    try:
        yield database
    finally:
        await database.dispose()


async def events(database: Database) -> list[dict[str, Any]]:
    async with database.read_sessions() as session:
        rows = await session.execute(
            select(AuditEvent.subject, AuditEvent.details)
            .where(AuditEvent.action.like("%.refused"))
            .order_by(AuditEvent.seq)
        )
        return [{"subject": subject, **json.loads(details)} for subject, details in rows]


async def test_a_burst_across_the_minute_boundary_keeps_every_count(database: Database) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 12, 0, 59, 500_000, tzinfo=UTC))
    refusals = RefusalLog(UnitOfWorkFactory(database, clock), burst=1000, per_minute=1000)
    source = Source("webhook", "192.0.2.7")
    for _ in range(3):
        await refusals.refused(source, "forbidden")
    clock.advance(timedelta(seconds=1))
    for _ in range(2):
        await refusals.refused(source, "forbidden")
    # The finished minute is written; the running one waits until it is over.
    assert await refusals.flush() == 1
    assert refusals.pending == 2
    assert await refusals.flush() == 0
    [first] = await events(database)
    assert (first["minute"], first["count"], first["reasons"]) == (
        "2026-03-02T12:00+00:00",
        3,
        ["forbidden=3"],
    )
    # At shutdown the running minute is written too.
    assert await refusals.flush(everything=True) == 1
    assert refusals.pending == 0
    [_, second] = await events(database)
    assert (second["minute"], second["count"]) == ("2026-03-02T12:01+00:00", 2)


async def test_counts_wait_for_the_next_flush_when_the_database_is_away(
    database: Database, database_url: str
) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 12, 0, 10, tzinfo=UTC))
    refusals = RefusalLog(UnitOfWorkFactory(database, clock), burst=1000, per_minute=1000)
    for _ in range(4):
        await refusals.refused(Source("api", "192.0.2.8", "00aa11bb22cc33dd"), "bad_signature")
    clock.advance(timedelta(minutes=1))
    blocker = Database(database_url)
    try:
        async with blocker.engine.begin() as connection:
            if blocker.is_sqlite:  # the first statement takes the write lock (BEGIN IMMEDIATE)
                await connection.execute(text("SELECT 1"))
            else:
                await connection.execute(text("LOCK TABLE audit_head IN ACCESS EXCLUSIVE MODE"))
            assert await refusals.flush() == 0
            assert refusals.pending == 4
    finally:
        await blocker.dispose()
    assert await refusals.flush() == 1
    [event] = await events(database)
    assert (event["count"], event["key"], event["subject"]) == (4, "00aa11bb22cc33dd", "192.0.2.8")


async def test_many_sources_in_one_minute_share_one_event_beyond_the_cap(
    database: Database,
) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 12, 0, 10, tzinfo=UTC))
    refusals = RefusalLog(UnitOfWorkFactory(database, clock), burst=1000, per_minute=1000)
    sources = MAX_SOURCES_PER_MINUTE + 50
    for i in range(sources):
        await refusals.refused(Source("webhook", f"2001:db8::{i:x}"), "forbidden")
    assert await refusals.flush(everything=True) == MAX_SOURCES_PER_MINUTE + 1
    written = await events(database)
    assert sum(event["count"] for event in written) == sources
    assert [e["count"] for e in written if e["subject"] == "other"] == [50]


async def test_a_source_over_its_budget_is_told_when_to_come_back(database: Database) -> None:
    refusals = RefusalLog(UnitOfWorkFactory(database, ManualClock()), burst=3, per_minute=6)
    source, other = Source("webhook", "192.0.2.9"), Source("webhook", "192.0.2.10")
    for _ in range(3):
        assert refusals.retry_after(source) is None
        await refusals.refused(source, "forbidden")
    assert refusals.retry_after(source) == 10  # one refusal more every 10 s
    assert refusals.retry_after(other) is None
