"""The outbox under Telegram's limits, faults and a killed process: nothing is lost."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import CoraBot
from bot.config import Settings
from localapi.limits import LimitModel
from localapi.server import LocalBotApi
from storage.db import Database
from storage.models import Delivery, DeliveryStatus
from tests.bot_process import BotProcess, start_bot
from tests.story import alert_messages, expect, join, ref_in, seed_members, until


async def statuses(database_url: str) -> Counter[str]:
    database = Database(database_url)
    try:
        async with database.read_sessions() as session:
            rows = await session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.kind == "alert")
                .group_by(Delivery.status)
            )
            return Counter({status: count for status, count in rows.all()})
    finally:
        await database.dispose()


async def all_final(database_url: str, timeout: float) -> Counter[str]:
    async with asyncio.timeout(timeout):
        while True:
            counts = await statuses(database_url)
            if not counts[DeliveryStatus.PENDING] and not counts[DeliveryStatus.SENDING]:
                return counts
            await asyncio.sleep(0.1)


async def everyone_has(api: LocalBotApi, people: list[Any], ref: str, timeout: float) -> None:
    await until(api, lambda: all(alert_messages(p.user, ref) for p in people), timeout)


class TestUnderTelegramLimits:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {"telegram_max_rate": 30}

    @pytest.mark.parametrize("model", ["bucket", "strict"])
    async def test_a_fan_out_sits_on_the_limit_without_a_single_429(
        self, api: LocalBotApi, cora: CoraBot, database_url: str, model: LimitModel
    ) -> None:
        """Telegram's limits read as token buckets, or strictly: at most 30 messages in any
        second (the sender's confirmation and status message included), one per chat."""
        sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
        people = await seed_members(database_url, api, 75, "police", "HRO")
        api.enforce_limits = True
        api.limits.model = model
        sender.user.send("/alert police HRO ! Großlage, bitte alle Kräfte informieren")
        ref = ref_in((await expect(sender.user, "alert.raised", recipients=75)).text)
        await everyone_has(api, people, ref, timeout=30)
        assert api.rate_limited == []
        # The last batch's outcomes are recorded just after Telegram has accepted it.
        assert await all_final(database_url, timeout=10) == Counter({DeliveryStatus.SENT: 75})


class TestFaults:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        # The same time-out and retries as with the defaults (5 s, 2 s), sooner.
        return {"telegram_read_timeout": 1.5, "delivery_retry_seconds": 0.25}

    async def test_429_5xx_timeouts_and_dropped_connections_are_retried_until_delivered(
        self, api: LocalBotApi, cora: CoraBot, database_url: str
    ) -> None:
        sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
        people = await seed_members(database_url, api, 12, "police", "HRO")
        api.faults.timeout_delay = 2.5  # longer than the read timeout of 1.5 s
        for kind in ("429", "500", "502", "drop", "drop_after"):
            api.faults.inject("sendMessage", kind=kind, count=2, retry_after=1)
        api.faults.inject("sendMessage", kind="timeout", count=1)
        # Raised directly, so that the faults hit the deliveries, not the sender's reply.
        raised = await cora.services.alerts.raise_alert(
            sender.member_id, ["police"], "HRO", "urgent", "Bitte melden"
        )
        ref = raised.alert.ref
        await everyone_has(api, people, ref, timeout=40)
        assert await all_final(database_url, timeout=40) == Counter({DeliveryStatus.SENT: 12})
        # Only sends whose answer was lost (time-out, drop after processing) may repeat.
        duplicates = sum(len(alert_messages(p.user, ref)) - 1 for p in people)
        assert duplicates <= 3


class TestGivingUp:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {"delivery_max_attempts": 1}

    async def test_nothing_is_retried_forever(
        self, api: LocalBotApi, cora: CoraBot, database_url: str
    ) -> None:
        sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
        police = await seed_members(database_url, api, 2, "police", "HRO")
        # The first delivery fails (the sender's status message goes out beside it).
        api.faults.inject("sendMessage", kind="500", count=1, chat_id=police[0].id)
        raised = await cora.services.alerts.raise_alert(
            sender.member_id, ["police"], "HRO", "normal", "Test"
        )
        ref = raised.alert.ref
        await sender.user.wait_for(
            lambda m: ref in m.text and "Nicht zustellbar: 1" in m.text, timeout=10
        )
        assert await all_final(database_url, timeout=10) == Counter(
            {DeliveryStatus.SENT: 1, DeliveryStatus.FAILED: 1}
        )


async def test_a_killed_bot_resumes_the_fan_out_after_a_restart(
    api: LocalBotApi, settings: Settings, database_url: str
) -> None:
    """SIGKILL during a 300-recipient fan-out: after the restart everyone has the alert, and
    only sends that were in flight at the kill arrive twice."""
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "DATABASE_URL": database_url,
        "CORA_DATA_DIR": str(settings.cora_data_dir),
        "CORA_ENCRYPTION_KEY": settings.cora_encryption_key.get_secret_value()
        if settings.cora_encryption_key
        else "",
        "TELEGRAM_MAX_RATE": "60",
        # With PostgreSQL, claims of a dead process are taken over when they expire.
        "DELIVERY_CLAIM_SECONDS": "3",
        "LOG_LEVEL": "WARNING",
    }

    async def start() -> BotProcess:
        return await start_bot(environment, ["run"])

    [sender] = await seed_members(database_url, api, 1, "victim_support", "HRO", prefix="Sender")
    people = await seed_members(database_url, api, 300, "police", "MV")
    process = await start()
    try:
        sender.user.send("/alert police HRO ! Großlage im Fall Pappel, alle informieren")
        confirmation = await sender.user.wait_for(lambda m: "F-" in m.text, timeout=30)
        ref = ref_in(confirmation.text)
        await until(api, lambda: sum(1 for p in people if alert_messages(p.user, ref)) >= 60, 30)
        process.kill()  # SIGKILL: no chance to clean up
        await process.wait()
        delivered_at_kill = len(api.delivered)
        process = await start()
        await everyone_has(api, people, ref, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    counts = [len(alert_messages(p.user, ref)) for p in people]
    assert min(counts) == 1
    # At most one batch (30) was in flight when the process died.
    assert sum(counts) - len(people) <= 30, (sum(counts), delivered_at_kill)
    assert await all_final(database_url, timeout=30) == Counter({DeliveryStatus.SENT: 300})


async def test_a_reply_survives_a_server_error(api: LocalBotApi, cora: CoraBot) -> None:
    """Replies to the person acting are retried after 5xx and dropped connections."""
    member = await join(api, cora, "Mo Mitglied", "police", "HRO")
    api.faults.inject("sendMessage", kind="500", count=1)
    api.faults.inject("sendMessage", kind="drop", count=1)
    member.user.send("/me")
    await expect(member.user, "me.profile", id=member.member_id)
    assert [c.status for c in api.calls_to("sendMessage")][-3:] == [500, 0, 200]


async def test_a_button_answer_lost_in_transit_is_not_an_error(
    api: LocalBotApi, cora: CoraBot, caplog: pytest.LogCaptureFixture
) -> None:
    """The answer to a press arrives, but Telegram's reply is lost; the retry is told "query
    is too old" — which only means the first attempt worked."""
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    recipient = await join(api, cora, "Paul Polizei", "police", "HRO")
    sender.user.send("/alert police HRO Rückfrage im Fall Ahorn")
    message = await recipient.user.wait_for(lambda m: "Fall Ahorn" in m.text)
    api.faults.inject("answerCallbackQuery", kind="drop_after", count=1)
    press = recipient.user.press("👀 Gesehen", message)
    answer = await press.answer()
    assert not answer.show_alert
    await recipient.user.wait_for(lambda m: m is message and len(m.buttons[0]) == 1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
