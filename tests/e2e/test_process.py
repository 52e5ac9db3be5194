"""`cora-bot run` as a real process: answers over the Bot API and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bot.config import Settings
from localapi.server import LocalBotApi
from tests.story import expect


async def test_the_bot_process_answers_and_stops_on_sigterm(
    api: LocalBotApi, settings: Settings
) -> None:
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "DATABASE_URL": settings.database_url,
        "CORA_DATA_DIR": str(settings.cora_data_dir),
        "LOG_LEVEL": "DEBUG",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env=environment,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stranger = api.user(first_name="Neu")
        stranger.send("/start")
        await expect(stranger, "join.ask_sector", timeout=30)
        # No key was configured: one was generated into the data directory, readable only by us.
        key_file = settings.cora_data_dir / "keys.env"
        assert key_file.exists() and key_file.stat().st_mode & 0o777 == 0o600
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-2000:]
    log = err.decode()
    assert "cora-bot is running as @cora_test_bot" in log
    assert api.token not in log and api.token.split(":")[1] not in log


async def test_sigterm_during_a_fan_out_finishes_or_hands_back_what_is_in_flight(
    api: LocalBotApi, settings: Settings
) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from bot.alerts import AlertService, EscalationPeriods
    from bot.clock import SystemClock
    from bot.keys import TextCipher
    from bot.network import load_network
    from storage.db import Database
    from storage.models import Delivery, DeliveryStatus
    from storage.uow import UnitOfWorkFactory
    from tests.story import seed_members, until

    assert settings.cora_encryption_key is not None
    key = settings.cora_encryption_key.get_secret_value()
    [sender] = await seed_members(settings.database_url, api, 1, "victim_support", "HRO")
    await seed_members(settings.database_url, api, 120, "police", "HRO")
    database = Database(settings.database_url)
    alerts = AlertService(
        UnitOfWorkFactory(database, SystemClock()),
        load_network(),
        TextCipher([key]),
        EscalationPeriods(timedelta(hours=1), timedelta(hours=4)),
    )
    await alerts.raise_alert(sender.member_id, ["police"], "HRO", "urgent", "Lage im Fall Esche")
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "DATABASE_URL": settings.database_url,
        "CORA_DATA_DIR": str(settings.cora_data_dir),
        "CORA_ENCRYPTION_KEY": key,
        "TELEGRAM_MAX_RATE": "30",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env=environment,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await until(api, lambda: len(api.delivered) > 30, 30)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0
    try:
        async with database.read_sessions() as session:
            states = set((await session.scalars(select(Delivery.status))).all())
    finally:
        await database.dispose()
    # Nothing is left claimed: what was sent is recorded, the rest waits for the next start.
    assert DeliveryStatus.SENDING not in states
    assert DeliveryStatus.PENDING in states and DeliveryStatus.SENT in states
