"""A crash loop: the bot process is killed with SIGKILL at random moments during a fan-out under
Telegram's flood limits, five times with the limits read as token buckets and five times read
strictly, and restarted each time. Afterwards everyone has the alert, duplicates come only from
sends in flight at a kill, nothing provoked a 429, and `cora-bot audit verify` passes."""

from __future__ import annotations

import asyncio
import os
import random
from datetime import timedelta

import pytest

from bench.limits import sending
from bot.alerts import AlertService, EscalationPeriods
from bot.clock import SystemClock
from bot.config import Settings
from bot.keys import TextCipher, generate_signing_key
from bot.network import load_network
from localapi.chats import SimMessage
from localapi.limits import LimitModel
from localapi.server import LocalBotApi
from storage.db import Database
from storage.uow import UnitOfWorkFactory
from tests.bot_process import BotProcess, start_bot
from tests.story import alert_messages, run_cli, seed_members, until

# Per model: ten kills in all. What is proven (nobody missing, duplicates only from sends in
# flight) does not grow with the number of recipients, as long as every kill falls into the
# fan-out, which the test checks; 150 take five seconds at 30/s, more than the kills need.
KILLS, RECIPIENTS = 5, 150


@pytest.mark.timeout(300)
@pytest.mark.parametrize("model", ["bucket", "strict"])
async def test_kills_during_a_fan_out_under_flood_limits_lose_nothing(
    api: LocalBotApi,
    settings: Settings,
    model: LimitModel,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.enforce_limits = True
    api.limits.model = model
    assert settings.cora_encryption_key is not None
    key = settings.cora_encryption_key.get_secret_value()
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "DATABASE_URL": settings.database_url,
        "CORA_DATA_DIR": str(settings.cora_data_dir),
        "CORA_ENCRYPTION_KEY": key,
        "CORA_AUDIT_SIGNING_KEY": generate_signing_key(),
        "TELEGRAM_MAX_RATE": "30",
        "DELIVERY_CLAIM_SECONDS": "2",
        "LOG_LEVEL": "WARNING",
    }

    async def start() -> BotProcess:
        return await start_bot(environment, ["run"])

    [sender] = await seed_members(
        settings.database_url, api, 1, "victim_support", "HRO", prefix="Absender"
    )
    people = await seed_members(settings.database_url, api, RECIPIENTS, "police", "HRO")
    database = Database(settings.database_url)
    alerts = AlertService(
        UnitOfWorkFactory(database, SystemClock()),
        load_network(),
        TextCipher([key]),
        EscalationPeriods(timedelta(hours=1), timedelta(hours=4)),
    )
    raised = await alerts.raise_alert(
        sender.member_id, ["police"], "HRO", "urgent", "Großlage im Fall Kiefer"
    )
    await database.dispose()
    ref = raised.alert.ref
    chance = random.Random(11)
    in_flight_at_kills = 0
    reached_at_kills: list[int] = []

    def has_it(messages: list[SimMessage]) -> bool:
        return any(ref in m.text for m in messages)

    process = await start()
    try:
        for _ in range(KILLS):
            delivered = len(api.delivered)
            await until(api, lambda n=delivered: len(api.delivered) > n, 30)  # it is sending
            await asyncio.sleep(chance.uniform(0.0, 0.8))
            process.kill()
            await process.wait()
            reached_at_kills.append(sum(1 for p in people if has_it(p.user.messages)))
            in_flight_at_kills += await sending(settings.database_url)
            process = await start()
        await until(api, lambda: all(has_it(p.user.messages) for p in people), 120)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
    assert reached_at_kills[-1] < RECIPIENTS  # every kill fell into the fan-out
    copies = [len(alert_messages(p.user, ref)) for p in people]
    assert min(copies) == 1  # nobody is missing
    assert sum(copies) - RECIPIENTS <= in_flight_at_kills  # only sends in flight at a kill
    assert api.rate_limited == []  # a restarted process does not flood either
    # The command itself, in this process (its own interpreter would only add a start-up).
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(run_cli, "audit", "verify") == 0
    assert "intact" in capsys.readouterr().out
