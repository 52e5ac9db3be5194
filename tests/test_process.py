"""`cora-bot run` as a real process: answers over the Bot API and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bot.config import Settings
from bot.local_api.server import LocalBotApi
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
