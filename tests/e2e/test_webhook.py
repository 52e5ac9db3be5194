"""Webhook mode: Telegram's updates over HTTP with a secret, and the operator's probes."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import CoraBot, build_application
from bot.config import Settings
from localapi.server import LocalBotApi
from storage.models import AuditEvent
from tests.story import expect, free_port, join

SECRET = "webhook-secret-for-tests-0123456789"


@pytest.fixture
def ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture
def setting_overrides(ports: tuple[int, int]) -> dict[str, Any]:
    webhook, metrics = ports
    return {
        "webhook_url": f"http://127.0.0.1:{webhook}/telegram/updates",
        "webhook_listen": f"127.0.0.1:{webhook}",
        "webhook_secret": SECRET,
        "metrics_listen": f"127.0.0.1:{metrics}",
    }


@pytest.fixture
async def webhook_bot(settings: Settings) -> AsyncIterator[CoraBot]:
    bot = build_application(settings)
    await bot.start(mode="webhook")
    try:
        yield bot
    finally:
        await bot.stop()


async def test_updates_arrive_by_webhook_with_the_secret(
    api: LocalBotApi, webhook_bot: CoraBot
) -> None:
    [registered] = api.calls_to("setWebhook")
    assert registered.params["secret_token"] == SECRET
    assert registered.params["allowed_updates"] == ["message", "callback_query"]
    member = await join(api, webhook_bot, "Wera Webhook", "police", "HRO")
    member.user.send("/me")
    await expect(member.user, "me.profile", id=member.member_id)
    assert all(a.status == 200 for a in api.webhook_attempts)
    assert api.calls_to("getUpdates") == []


async def test_requests_without_the_secret_are_refused_and_logged(
    webhook_bot: CoraBot, ports: tuple[int, int], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{ports[0]}/telegram/updates"
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "text": "/start",
        },
    }
    caplog.set_level(logging.WARNING)
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 403
        good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with http.post(url, data=b"{not json", headers=good) as response:
            assert response.status == 400
        async with http.post(url, data=b"x" * (2 * 1024 * 1024), headers=good) as response:
            assert response.status == 413
        async with http.get(f"http://127.0.0.1:{ports[0]}/metrics") as response:
            assert response.status == 404  # probes have their own port here
    refusals = [r for r in caplog.records if "refused a webhook request" in r.getMessage()]
    assert len(refusals) == 4
    async with webhook_bot.database.read_sessions() as session:
        details = (
            await session.scalars(
                select(AuditEvent.details).where(AuditEvent.action == "webhook.refused")
            )
        ).all()
    reasons = sorted(json.loads(d)["reason"] for d in details)
    assert reasons == ["forbidden", "forbidden", "malformed", "too_large"]


async def test_health_readiness_and_metrics(
    api: LocalBotApi, webhook_bot: CoraBot, ports: tuple[int, int]
) -> None:
    base = f"http://127.0.0.1:{ports[1]}"
    sender = await join(api, webhook_bot, "Sara Sender", "victim_support", "HRO")
    await join(api, webhook_bot, "Paul Polizei", "police", "HRO")
    sender.user.send("/alert police HRO Rückfrage")
    await sender.user.wait_for(lambda m: "Zugestellt: 1/1" in m.text)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
        async with http.get(f"{base}/readyz") as response:
            body = await response.json()
            assert response.status == 200, body
            assert body["database"] == "ok" and body["scheduler"] == "running"
        async with http.get(f"{base}/metrics") as response:
            metrics = await response.text()
    assert 'cora_deliveries_total{state="sent"}' in metrics
    assert "cora_delivery_latency_seconds_count" in metrics
    assert "cora_active_members 2.0" in metrics
    assert "cora_delivery_queue_depth 0.0" in metrics
    webhook_bot.runtime.scheduler.shutdown()
    async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as response:
        assert response.status == 503
        assert json.loads(await response.text())["scheduler"] == "stopped"
