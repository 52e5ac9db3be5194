"""`cora-bot run` as a real process: answers over the Bot API and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from bot.app import CoraBot
from bot.config import Settings
from localapi.server import LocalBotApi
from tests.story import expect, free_port, join, until

# For a process that stops before it opens the database, which one it is named makes no difference.
ONLY_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
# A fresh interpreter imports the bot before it answers: 2 s on a quiet machine, and 30 s once
# ran out with four pytest workers on two cores (a bound for a failure, not a speed figure).
FIRST_ANSWER_SECONDS = 60


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
        await expect(stranger, "join.ask_sector", timeout=FIRST_ANSWER_SECONDS)
        # No key was configured: one was generated into the data directory, readable only by us.
        key_file = settings.cora_data_dir / "keys.env"
        assert key_file.exists() and key_file.stat().st_mode & 0o777 == 0o600
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-2000:]
    log = err.decode()
    assert "cora-bot is running as @cora_test_bot" in log
    # What the start built is out of the garbage collector's way (bot.memory.settle_start_up).
    settled = re.search(r"start-up settled: (\d+) objects", log)
    assert settled is not None and int(settled.group(1)) > 50_000
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
    # 300 take ten seconds at 30/s: a stop that is slow to begin under load (it sent all of
    # 120 once, at four workers on two cores) still leaves some of them waiting.
    await seed_members(settings.database_url, api, 300, "police", "HRO")
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


@ONLY_SQLITE
async def test_sigterm_stops_the_bot_within_10_s_while_the_bot_api_does_not_answer(
    settings: Settings,
) -> None:
    """A Bot API that accepts connections and never answers (a dead proxy, a black-holed
    route): the start hangs in its first request. SIGTERM must still end the process."""
    connections: list[asyncio.StreamWriter] = []
    talked_to = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        talked_to.set()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456789:LOCAL-test-token_for-cora",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
        "DATABASE_URL": settings.database_url,
        "CORA_DATA_DIR": str(settings.cora_data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=environment, stderr=asyncio.subprocess.PIPE
    )
    try:
        await asyncio.wait_for(talked_to.wait(), 30)
        process.send_signal(signal.SIGTERM)
        # A bounded wait, not a speed figure: the process must not sit out Telegram's time-outs.
        _, err = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
    assert process.returncode == 0, err.decode()[-2000:]
    assert "Traceback" not in err.decode()


async def test_sigterm_stops_a_running_bot_within_10_s_when_the_bot_api_stops_answering(
    api: LocalBotApi, settings: Settings
) -> None:
    """The stop waits for what is in flight at most STOP_GRACE_SECONDS (6 s by default; 1 s
    here, so that the story need not sit it out), then gives it up and ends."""
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "DATABASE_URL": settings.database_url,
        "CORA_DATA_DIR": str(settings.cora_data_dir),
        "STOP_GRACE_SECONDS": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=environment, stderr=asyncio.subprocess.PIPE
    )
    try:
        stranger = api.user(first_name="Neu")
        stranger.send("/start")
        await expect(stranger, "join.ask_sector", timeout=FIRST_ANSWER_SECONDS)
        # From now on every call is answered only after 30 s, long after PTB has given up.
        api.faults.timeout_delay = 30.0
        api.faults.inject(kind="timeout", count=10_000)
        api.faults.inject("getUpdates", kind="timeout", count=10_000)
        calls = len(api.calls)
        stranger.send("/help")
        await until(api, lambda: any(c.fault == "timeout" for c in api.calls[calls:]), 30)
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()[-2000:]
    # The stop overran its grace and was cut off there, not ended some other way.
    assert "not stopped cleanly within 1 s" in err.decode(), err.decode()[-2000:]


@ONLY_SQLITE
async def test_a_bot_api_that_refuses_connections_is_named_without_a_traceback(
    settings: Settings,
) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens there any more
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456789:LOCAL-test-token_for-cora",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
        "DATABASE_URL": settings.database_url,
        "CORA_DATA_DIR": str(settings.cora_data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=environment, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    [line] = err.decode().splitlines()
    assert line.startswith(f"The Telegram Bot API at http://127.0.0.1:{port}/bot did not answer")
    assert "TELEGRAM_BASE_URL" in line
    assert not (settings.cora_data_dir / "keys.env").exists()  # nothing written yet


async def test_a_token_telegram_rejects_is_one_line_and_never_shown(
    api: LocalBotApi, tmp_path: Path
) -> None:
    """`run` asks Telegram before it writes anything: no key file, no database file."""
    data_dir = tmp_path / "data"
    wrong = "987654321:WRONG-token_that-Telegram-rejects"
    database = data_dir / "cora.db"
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": wrong,
        "TELEGRAM_BASE_URL": api.base_url,
        "DATABASE_URL": f"sqlite:///{database}",
        "CORA_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "DEBUG",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    # Logging at DEBUG may say more before it; the answer is one line, without a traceback.
    *_, line = err.decode().splitlines()
    assert line.startswith("Telegram rejected the bot token. Check TELEGRAM_BOT_TOKEN")
    assert "Traceback" not in err.decode()
    shown = (out + err).decode()
    assert wrong not in shown and wrong.split(":")[1] not in shown
    assert not (data_dir / "keys.env").exists()
    assert not database.exists()
    assert [call.status for call in api.calls_to("getMe")] == [401]


async def test_an_unreachable_postgresql_is_one_line_when_the_bot_starts(
    api: LocalBotApi, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    data_dir = tmp_path / "data"
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "DATABASE_URL": f"postgresql://cora:Geheim-42-Passwort@127.0.0.1:{port}/cora",
        "CORA_DATA_DIR": str(data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=environment, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    [line] = err.decode().splitlines()
    assert line.startswith(f"Cannot reach the database, PostgreSQL at 127.0.0.1:{port}/cora")
    assert "Geheim-42-Passwort" not in line
    assert not (data_dir / "keys.env").exists()


@ONLY_SQLITE
async def test_a_second_process_on_the_same_sqlite_file_is_refused(
    api: LocalBotApi, settings: Settings, cora: CoraBot
) -> None:
    """A bot on SQLite hands every claimed delivery back at its start: a second process on the
    same file would send the first one's deliveries again. It is refused with a clear line,
    and the bot already running goes on."""
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "DATABASE_URL": settings.database_url,
        "CORA_DATA_DIR": str(settings.cora_data_dir),
    }
    second = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=environment, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await asyncio.wait_for(second.communicate(), 30)
    finally:
        if second.returncode is None:  # it started after all: end it
            second.kill()
            await second.wait()
    assert second.returncode == 2, err.decode()[-2000:]
    assert "Another cora-bot process is running on the SQLite file" in err.decode()
    assert "Traceback" not in err.decode()
    sara = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    await join(api, cora, "Paul Polizei", "police", "HRO")
    sara.user.send("/alert police HRO ! Lage im Fall Ulme")
    await expect(sara.user, "alert.raised", recipients=1)
