"""Several `cora-bot run --webhook` processes on one PostgreSQL share the work: every delivery
and every escalation happens exactly once, and when one process dies the other finishes."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Select, select

from bot.alerts import AlertService, EscalationPeriods
from bot.app import build_application
from bot.clock import SystemClock
from bot.config import Settings
from bot.delivery import DeliveryService
from bot.keys import TextCipher
from bot.network import load_network
from bot.runtime import ALIVE_FOR, BEAT_SECONDS
from localapi.server import LocalBotApi
from storage.db import Database
from storage.models import AuditEvent, Delivery, DeliveryStatus, Instance
from storage.uow import UnitOfWorkFactory
from tests.bot_process import BotProcess, start_bot
from tests.story import alert_messages, free_port, seed_members, shows, until

RECIPIENTS, ESCALATIONS = 1000, 50


@pytest.fixture
def database_url(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("several instances need PostgreSQL; SQLite is the single-process default")
    return database_url


async def start_instances(
    api: LocalBotApi, settings: Settings, count: int, claim_seconds: float, rate: float = 0
) -> list[BotProcess]:
    processes = []
    for _ in range(count):
        port = free_port()
        environment = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url,
            "DATABASE_URL": settings.database_url,
            "CORA_DATA_DIR": str(settings.cora_data_dir),
            "CORA_ENCRYPTION_KEY": settings.cora_encryption_key.get_secret_value(),  # type: ignore[union-attr]
            "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
            "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
            "WEBHOOK_SECRET": "instances-test-secret-0123456789",
            "TELEGRAM_MAX_RATE": str(rate),
            "ESCALATION_URGENT_AFTER": "2",
            "ESCALATION_CHECK_SECONDS": "0.3",
            "DELIVERY_CLAIM_SECONDS": str(claim_seconds),
            "LOG_LEVEL": "WARNING",
        }
        processes.append(await start_bot(environment, ["run", "--webhook"]))
    return processes


async def stop(processes: list[BotProcess]) -> None:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        await asyncio.wait_for(process.wait(), 30)


@asynccontextmanager
async def alert_service(settings: Settings) -> AsyncIterator[AlertService]:
    """The alert service on the instances' database, as another process would raise alerts."""
    database = Database(settings.database_url)
    assert settings.cora_encryption_key is not None
    try:
        yield AlertService(
            UnitOfWorkFactory(database, SystemClock()),
            load_network(),
            TextCipher([settings.cora_encryption_key.get_secret_value()]),
            EscalationPeriods(timedelta(seconds=2), timedelta(hours=4)),
            urgent_per_hour=0,  # 50 urgent alerts from one sender: no ALERT_URGENT_PER_HOUR here
        )
    finally:
        await database.dispose()


async def raise_alerts(settings: Settings, sender: int) -> list[str]:
    """One alert to every police member, and 50 urgent ones nobody will acknowledge."""
    async with alert_service(settings) as alerts:
        big = await alerts.raise_alert(sender, ["police"], "HRO", "normal", "Großlage")
        refs = [big.alert.ref]
        for n in range(ESCALATIONS):
            raised = await alerts.raise_alert(sender, ["health"], "VG", "urgent", f"Fall {n}")
            refs.append(raised.alert.ref)
        return refs


async def read_all(settings: Settings, statement: Select[tuple[Any]]) -> list[Any]:
    """What one statement reads from the instances' database."""
    database = Database(settings.database_url)
    try:
        async with database.read_sessions() as session:
            return list((await session.scalars(statement)).all())
    finally:
        await database.dispose()


async def deliveries(settings: Settings) -> Counter[str]:
    return Counter(await read_all(settings, select(Delivery.status)))


async def escalation_levels(settings: Settings) -> Counter[str]:
    escalated = select(AuditEvent.details).where(AuditEvent.action == "alert.escalated")
    return Counter(await read_all(settings, escalated))


async def scenario(
    api: LocalBotApi, settings: Settings, *, kill_one: bool
) -> tuple[list[Any], Any, list[str]]:
    [sender] = await seed_members(
        settings.database_url, api, 1, "victim_support", "HRO", prefix="Absender"
    )
    police = await seed_members(settings.database_url, api, RECIPIENTS, "police", "HRO")
    await seed_members(settings.database_url, api, 1, "health", "VG", prefix="Gesundheit")
    [coordinator] = await seed_members(
        settings.database_url,
        api,
        1,
        "coordination",
        "VG",
        prefix="Koordination",
        role="coordinator",
    )
    # Exactly once needs claims that outlast the longest send (TELEGRAM_READ_TIMEOUT, 5 s): on
    # a busy machine a send can take longer than 3 s, and the other instance would take over a
    # claim still being sent. When one instance dies, the survivor takes its claims over once
    # they expire: 3 s there, where what was in flight may arrive twice anyway.
    claim_seconds = 3.0 if kill_one else 8.0
    processes = await start_instances(api, settings, 2, claim_seconds)
    try:
        refs = await raise_alerts(settings, sender.member_id)
        if kill_one:
            await until(api, lambda: len(api.delivered) > 200, 60)
            processes[0].kill()
        await until(api, lambda: all(alert_messages(p.user, refs[0]) for p in police), 120)
        await until(
            api,
            lambda: (
                sum(1 for m in coordinator.user.messages if shows(m, "alert.header.escalation.1"))
                >= ESCALATIONS
            ),
            60,
        )
        async with asyncio.timeout(30):
            while (counts := await deliveries(settings))[DeliveryStatus.PENDING] + counts[
                DeliveryStatus.SENDING
            ]:
                await asyncio.sleep(0.2)
    finally:
        await stop(processes)
    return police, coordinator, refs


async def test_two_instances_send_every_delivery_and_escalation_exactly_once(
    api: LocalBotApi, settings: Settings
) -> None:
    police, coordinator, refs = await scenario(api, settings, kill_one=False)
    assert [len(alert_messages(p.user, refs[0])) for p in police] == [1] * RECIPIENTS
    escalated = [m for m in coordinator.user.messages if shows(m, "alert.header.escalation.1")]
    assert sorted(ref for m in escalated for ref in refs[1:] if ref in m.text) == sorted(refs[1:])
    levels = await escalation_levels(settings)
    assert sum(count for details, count in levels.items() if '"level":1' in details) == ESCALATIONS


async def test_when_one_instance_dies_the_other_finishes(
    api: LocalBotApi, settings: Settings
) -> None:
    police, _, refs = await scenario(api, settings, kill_one=True)
    counts = [len(alert_messages(p.user, refs[0])) for p in police]
    assert min(counts) == 1  # nobody is missing
    assert sum(counts) - RECIPIENTS <= 30  # only what the dead process had in flight
    assert (await deliveries(settings))[DeliveryStatus.SENT] >= RECIPIENTS + ESCALATIONS


SHARED = 240


async def running_instances(settings: Settings, *, counted_for: timedelta = ALIVE_FOR) -> int:
    """Instances noted as running within `counted_for`."""
    since = datetime.now(UTC) - counted_for
    return len(
        await read_all(settings, select(Instance.instance_id).where(Instance.seen_at > since))
    )


async def test_two_instances_share_telegrams_flood_limit(
    api: LocalBotApi, settings: Settings
) -> None:
    """Telegram's limit counts the bot, not the process: two instances at TELEGRAM_MAX_RATE=30
    each would send 60 messages a second. Each takes half, and the fan-out provokes no 429
    under the strict reading (at most 30 in any second); without the shares, 429s to the
    recipients (checked)."""
    api.enforce_limits = True
    api.limits.model = "strict"
    [sender] = await seed_members(
        settings.database_url, api, 1, "victim_support", "HRO", prefix="Absender"
    )
    police = await seed_members(settings.database_url, api, SHARED, "police", "HRO")
    processes = await start_instances(api, settings, 2, 8.0, rate=30)
    try:
        async with asyncio.timeout(30):
            while await running_instances(settings) < 2:
                await asyncio.sleep(0.2)
        # The first to start counts the second at its next beat.
        await asyncio.sleep(2 * BEAT_SECONDS)
        async with alert_service(settings) as alerts:
            raised = await alerts.raise_alert(sender.member_id, ["police"], "HRO", "normal", "Lage")
        await until(api, lambda: all(alert_messages(p.user, raised.alert.ref) for p in police), 90)
    finally:
        await stop(processes)
    assert [len(alert_messages(p.user, raised.alert.ref)) for p in police] == [1] * SHARED
    # No 429 to the fan-out. The limit of one message a second in a chat is kept by each
    # instance for itself: both refresh the sender's status message, and two such edits may
    # fall into one second (Telegram's 429 is then waited out; nothing is lost).
    assert {hit.chat_id for hit in api.rate_limited} <= {sender.user.id}
    # Each left at its stop: counted for one second more, no longer for ALIVE_FOR.
    assert await running_instances(settings, counted_for=ALIVE_FOR - timedelta(seconds=2)) == 0


async def test_an_instance_that_cannot_note_itself_holds_its_messages(
    api: LocalBotApi, settings: Settings
) -> None:
    """Another instance runs, so this one sends at most half the rate. When it cannot note
    itself (the table of notes locked, each beat hanging until its 2 s are up) for most of
    ALIVE_FOR, the other may soon stop counting it and send at the whole rate: it sends
    nothing until it can note itself again. Without the hold, the reply came at once."""
    noted = Database(settings.database_url)
    other = DeliveryService(
        UnitOfWorkFactory(noted, SystemClock()), load_network(), instance_id="other"
    )
    try:
        await other.beat(ALIVE_FOR)  # running, as far as the next one to start can tell
    finally:
        await noted.dispose()
    cora = build_application(settings.model_copy(update={"telegram_max_rate": 30}))
    await cora.start()
    started = asyncio.get_running_loop().time()
    try:
        assert cora.limiter.instances == 2
        person = api.user(first_name="Kim")
        locker = await asyncpg.connect(
            settings.database_url.replace("postgresql+asyncpg", "postgresql")
        )
        try:
            async with locker.transaction():
                await locker.execute("LOCK TABLE instances IN ACCESS EXCLUSIVE MODE")
                # Beats fail from 4 s on; from 8 s the last success is older than 6 s.
                await asyncio.sleep(started + 9 - asyncio.get_running_loop().time())
                person.send("/start")
                await asyncio.sleep(2.5)
                assert person.messages == []  # held
        finally:
            await locker.close()
        await person.wait_for(lambda m: True, 15)  # a beat succeeds; the hold runs out
    finally:
        await cora.stop()
