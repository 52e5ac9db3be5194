"""A locked or full database during an action: the member is asked to try again, and the
action and its audit event are written both or neither."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, func, select

from bot.app import CoraBot
from bot.config import Settings
from localapi.server import LocalBotApi
from storage.models import Alert, AuditEvent
from tests.story import join, reply_to, shows


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"database_lock_timeout_ms": 300}


async def counts(cora: CoraBot) -> tuple[int, int]:
    async with cora.database.read_sessions() as session:
        alerts = await session.scalar(select(func.count()).select_from(Alert)) or 0
        raised = (
            await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "alert.raised")
            )
            or 0
        )
    return alerts, raised


async def test_a_locked_database_asks_to_try_again_and_writes_nothing(
    api: LocalBotApi, cora: CoraBot, settings: Settings
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    await join(api, cora, "Paul Polizei", "police", "HRO")
    before = await counts(cora)
    release = threading.Event()
    if settings.database_url.startswith("sqlite"):
        path = settings.database_url.split("///", 1)[1]
        locked = threading.Event()

        def hold() -> None:  # another process's writer holds the database
            connection = sqlite3.connect(path, isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(10)
            connection.execute("ROLLBACK")
            connection.close()

        holder = threading.Thread(target=hold)
        holder.start()
        locked.wait(5)
        reply = await reply_to(sender.user, "/alert police HRO Lage im Fall Eibe")
        release.set()
        holder.join()
    else:
        url = settings.database_url.replace("postgresql+asyncpg", "postgresql")
        other = await asyncpg.connect(url)
        transaction = other.transaction()
        await transaction.start()
        await other.execute("LOCK TABLE alerts IN ACCESS EXCLUSIVE MODE")
        try:
            reply = await reply_to(sender.user, "/alert police HRO Lage im Fall Eibe")
        finally:
            await transaction.rollback()
            await other.close()
    assert shows(reply, "error.try_again")
    assert await counts(cora) == before  # neither the alert nor its audit event
    # Once the lock is gone, the same action goes through.
    last = sender.user.last
    sender.user.send("/alert police HRO Lage im Fall Eibe")
    await sender.user.wait_for(lambda m: shows(m, "alert.raised", recipients=1), after=last)
    assert await counts(cora) == (before[0] + 1, before[1] + 1)


async def test_a_full_disk_asks_to_try_again_and_writes_nothing(
    api: LocalBotApi, cora: CoraBot, settings: Settings
) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("simulated with SQLite's page limit")
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    await join(api, cora, "Paul Polizei", "police", "HRO")

    @event.listens_for(cora.database.engine.sync_engine, "connect")
    def _no_room(dbapi_connection: Any, _record: Any) -> None:
        # The file may not grow any more: SQLite reports "database or disk is full".
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count={pages}")
        cursor.close()

    await cora.database.engine.dispose()  # new connections get the limit
    text = "Dringende Lage im Fall Ulme, " + "Rückfrage zur Unterbringung. " * 100
    refused = None
    for attempt in range(40):
        before = await counts(cora)
        last = sender.user.last
        sender.user.send(f"/alert police HRO Versuch {attempt}: {text}")
        reply = await sender.user.wait_for(
            lambda m: shows(m, "error.try_again") or shows(m, "alert.raised", recipients=1),
            after=last,
        )
        if shows(reply, "error.try_again"):
            refused = attempt
            assert await counts(cora) == before
            break
        assert shows(reply, "alert.raised", recipients=1), reply.text
    assert refused is not None, "the page limit never filled up"
    event.remove(cora.database.engine.sync_engine, "connect", _no_room)
    await cora.database.engine.dispose()
    last = sender.user.last
    sender.user.send("/alert police HRO Nach dem Aufräumen im Fall Ulme")
    await sender.user.wait_for(lambda m: shows(m, "alert.raised", recipients=1), after=last)
