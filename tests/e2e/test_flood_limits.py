"""Telegram's flood limits read strictly (at most 30 messages in any second, one per chat): the
bot learns a limit stricter than the one it was configured with instead of hitting it again
and again, and a person acting during an urgent fan-out is answered before it goes on."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import pytest

from bot.app import CoraBot
from localapi.server import CallRecord, LocalBotApi
from tests.story import Person, alert_messages, seed_members, until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def metric(text: str, name: str) -> float:
    [line] = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(line.split()[1])


def deliveries_to(api: LocalBotApi, people: list[Person]) -> list[CallRecord]:
    chats = {person.id for person in people}
    return [c for c in api.calls_to("sendMessage") if c.ok and c.params.get("chat_id") in chats]


async def raise_urgent(cora: CoraBot, sender: Person, text: str) -> str:
    """An urgent alert to the police in HRO, raised as the /alert handler raises it (the commit
    wakes the outbox and the sender's status message)."""
    raised = await cora.services.alerts.raise_alert(
        sender.member_id, ["police"], "HRO", "urgent", text
    )
    return raised.alert.ref


class TestAStricterLimitThanConfigured:
    METRICS_PORT = free_port()

    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {"telegram_max_rate": 30, "metrics_listen": f"127.0.0.1:{self.METRICS_PORT}"}

    @pytest.mark.timeout(120)
    async def test_is_learned_after_a_few_429s_and_then_no_longer_hit(
        self,
        api: LocalBotApi,
        cora: CoraBot,
        database_url: str,
        production_logging: pytest.LogCaptureFixture,
    ) -> None:
        # Telegram allows 20 messages in any second; the bot believes 30.
        api.enforce_limits = True
        api.limits.model = "strict"
        api.limits.per_second = 20
        api.limits.reset()
        [sender] = await seed_members(database_url, api, 1, "victim_support", "HRO", prefix="S")
        people = await seed_members(database_url, api, 180, "police", "HRO")
        ref = await raise_urgent(cora, sender, "Großlage im Fall Kiefer")
        await until(api, lambda: all(alert_messages(p.user, ref) for p in people), 90)

        assert all(len(alert_messages(p.user, ref)) == 1 for p in people)
        hits = api.rate_limited
        assert 1 <= len(hits) <= 8, hits  # it had to find the limit, and found it quickly
        delivered = deliveries_to(api, people)
        assert len(delivered) == 180
        # The second half of the fan-out ran without a single flood error.
        assert max(hit.time for hit in hits) < delivered[90].time
        assert 10 <= cora.limiter.rate < 20

        flood_logs = [r for r in production_logging.records if "answered 429" in r.getMessage()]
        assert len(flood_logs) == len(hits)
        url = f"http://127.0.0.1:{self.METRICS_PORT}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            metrics = await response.text()
        assert metric(metrics, "cora_telegram_429") == len(hits)
        assert 10 <= metric(metrics, "cora_telegram_send_rate") < 20


class TestUrgentFanOut:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        # Many sends waiting at the limiter at once: the reply must not queue behind them.
        return {"telegram_max_rate": 30, "delivery_concurrency": 16}

    @pytest.mark.timeout(120)
    async def test_a_person_taking_over_is_answered_before_the_fan_out_goes_on(
        self, api: LocalBotApi, cora: CoraBot, database_url: str
    ) -> None:
        api.enforce_limits = True
        api.limits.model = "strict"
        [sender] = await seed_members(database_url, api, 1, "victim_support", "HRO", prefix="S")
        people = await seed_members(database_url, api, 150, "police", "HRO")
        ref = await raise_urgent(cora, sender, "Großlage im Fall Kiefer")
        await until(api, lambda: len(deliveries_to(api, people)) >= 60, 30)

        # Among the first to receive it (more than a second ago: their chat's limit is free).
        first = deliveries_to(api, people)[0]
        taker = next(p for p in people if p.id == first.params["chat_id"])
        [alert] = alert_messages(taker.user, ref)
        press = taker.user.press("✋ Übernehme", alert)
        answer = await press.answer(timeout=5)
        assert not answer.show_alert
        await until(api, lambda: any(c.ok for c in edits_of(api, taker)), 5)

        handed_out = next(
            c
            for c in api.calls_to("getUpdates")
            if any(u["update_id"] == press.update_id for u in c.result or [])
        )
        [edit] = [c for c in edits_of(api, taker) if c.ok]
        [answered] = [c for c in api.calls_to("answerCallbackQuery") if c.ok]
        between = [c for c in deliveries_to(api, people) if handed_out.time < c.time < edit.time]
        # While the handler stores the take-over, the fan-out goes on (how many messages depends
        # on the database's speed: a second's worth at most); the handler then answers the press
        # and edits the message, and the edit takes the next free slot, ahead of the sixteen
        # deliveries waiting for theirs (one may be on its way).
        assert len(between) <= 30, [round(c.time - handed_out.time, 3) for c in between]
        assert len([c for c in between if c.time > answered.time]) <= 1
        # The next slot comes within a second: 30 messages in any second, then one is free.
        assert edit.time - answered.time < 1.0
        await until(api, lambda: all(alert_messages(p.user, ref) for p in people), 60)
        assert api.rate_limited == []


def edits_of(api: LocalBotApi, person: Person) -> list[CallRecord]:
    return [
        c for c in api.calls_to("editMessageReplyMarkup") if c.params.get("chat_id") == person.id
    ]
