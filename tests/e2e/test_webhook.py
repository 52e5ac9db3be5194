"""Webhook mode: Telegram's updates over HTTP with a secret, and the operator's probes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import CoraBot, build_application
from bot.clock import ManualClock, SystemClock
from bot.config import Settings
from bot.updates import HandledUpdates
from localapi.server import LocalBotApi
from storage.db import Database
from storage.models import Alert, AuditEvent, Delivery
from storage.uow import UnitOfWorkFactory
from tests.story import alert_messages, expect, free_port, join

SECRET = "webhook-secret-for-tests-0123456789"


async def raw_request(base: str, head: bytes, body: bytes = b"") -> int:
    """Send bytes as they are (clients refuse to send non-ASCII headers); the HTTP status."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()
        await writer.wait_closed()


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
    # A secret with bytes that are not UTF-8 is just a wrong secret.
    head = b"POST /telegram/updates HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += b"X-Telegram-Bot-Api-Secret-Token: \xff\xfe\r\n"
    assert await raw_request(f"http://127.0.0.1:{ports[0]}", head, b"{}") == 403
    # One event for the source and minute, with the count; one warning with the same sum.
    await webhook_bot.services.refusals.flush(everything=True)
    events = await refused_events(webhook_bot.database, "webhook.refused")
    assert sum(event["count"] for event in events) == 5
    assert reason_counts(events) == {"forbidden": 3, "malformed": 1, "too_large": 1}
    assert {event["subject"] for event in events} == {"127.0.0.1"}
    warned = [r.getMessage() for r in caplog.records if "webhook requests from" in r.getMessage()]
    assert sum(int(line.split()[1]) for line in warned) == 5


async def refused_events(database: Database, action: str) -> list[dict[str, Any]]:
    async with database.read_sessions() as session:
        rows = (
            await session.execute(
                select(AuditEvent.subject, AuditEvent.details).where(AuditEvent.action == action)
            )
        ).all()
    return [{"subject": subject, **json.loads(details)} for subject, details in rows]


def reason_counts(events: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for event in events:
        for item in event["reasons"]:
            reason, count = item.split("=")
            counts[reason] += int(count)
    return counts


def refusal_metric(metrics: str, endpoint: str) -> dict[str, float]:
    found = {}
    for line in metrics.splitlines():
        prefix = f'cora_http_refusals_total{{endpoint="{endpoint}",reason="'
        if line.startswith(prefix):
            reason, value = line.removeprefix(prefix).split('"} ')
            found[reason] = float(value)
    return found


async def test_a_flood_of_refused_requests_writes_a_handful_of_audit_events(
    api: LocalBotApi, settings: Settings, ports: tuple[int, int]
) -> None:
    """500 webhook calls with a wrong secret and 500 API calls with a bad signature: each
    source is throttled (429 with Retry-After) after its budget, the audit log gets one event
    per source and minute whose counts add up to 500 each — also for the minute still running
    when the bot stops — and /metrics counts them by reason. Telegram itself still gets in."""
    bot = build_application(settings)
    await bot.start(mode="webhook")
    stopped = False
    try:
        created = await bot.services.integrations.create_client("Leitstelle Flut", "police", "HRO")
        key_id = created.client.key_id
        webhook = f"http://127.0.0.1:{ports[0]}/telegram/updates"
        alerts = f"http://127.0.0.1:{ports[0]}/api/v1/alerts"
        statuses: Counter[int] = Counter()
        async with aiohttp.ClientSession() as http:
            for _ in range(500):
                headers = {"X-Telegram-Bot-Api-Secret-Token": "guessed"}
                async with http.post(webhook, json={"update_id": 1}, headers=headers) as answer:
                    statuses[answer.status] += 1
                    if answer.status == 429:
                        assert int(answer.headers["Retry-After"]) >= 1
            for i in range(500):
                headers = {
                    "X-Cora-Key": key_id,
                    "X-Cora-Timestamp": str(int(time.time())),
                    "X-Cora-Signature": f"{i:064x}",
                    "Idempotency-Key": f"flood-{i}",
                }
                async with http.post(alerts, data=b"{}", headers=headers) as answer:
                    statuses[answer.status] += 1
                    if answer.status == 429:
                        assert int(answer.headers["Retry-After"]) >= 1
            # Telegram, with the secret, is never throttled by someone else's refusals.
            member = await join(api, bot, "Wera Webhook", "police", "HRO")
            member.user.send("/me")
            await expect(member.user, "me.profile", id=member.member_id)
            async with http.get(f"http://127.0.0.1:{ports[1]}/metrics") as answer:
                metrics = await answer.text()
        burst = settings.http_refusal_burst
        assert statuses[403] >= burst and statuses[401] >= burst
        assert statuses[429] >= 1000 - 4 * burst
        assert statuses[403] + statuses[401] + statuses[429] == 1000
        webhook_metric = refusal_metric(metrics, "webhook")
        assert sum(webhook_metric.values()) == 500 and webhook_metric["throttled"] > 0
        api_metric = refusal_metric(metrics, "api")
        assert sum(api_metric.values()) == 500 and api_metric["bad_signature"] >= burst
        await bot.stop()  # writes the current minute's counts too
        stopped = True
    finally:
        if not stopped:
            await bot.stop()
    database = Database(settings.database_url)
    try:
        webhook_events = await refused_events(database, "webhook.refused")
        api_events = await refused_events(database, "api.refused")
    finally:
        await database.dispose()
    # One source each; a minute may turn during the flood, so one or two events.
    assert 1 <= len(webhook_events) <= 2 and 1 <= len(api_events) <= 2
    assert sum(event["count"] for event in webhook_events) == 500
    assert sum(event["count"] for event in api_events) == 500
    assert reason_counts(webhook_events) == {
        reason: int(value) for reason, value in webhook_metric.items()
    }
    assert {event["key"] for event in api_events} == {key_id}


async def test_a_resent_update_is_handled_once_also_after_a_restart(
    api: LocalBotApi, settings: Settings, ports: tuple[int, int]
) -> None:
    """Telegram resends an update when our 200 came late: the bot raises the alert once, also
    when the copy arrives after a restart."""
    bot = build_application(settings)
    await bot.start(mode="webhook")
    webhook = f"http://127.0.0.1:{ports[0]}/telegram/updates"
    secret = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    try:
        sender = await join(api, bot, "Sara Sender", "victim_support", "HRO")
        police = await join(api, bot, "Paul Polizei", "police", "HRO")
        sender.user.send("/alert police HRO Rückfrage zum Fall Linde")
        await sender.user.wait_for(lambda m: "Zugestellt: 1/1" in m.text)
        [update] = [
            u
            for u in api.world.updates.history
            if u.get("message", {}).get("text", "").startswith("/alert")
        ]
        async with (
            aiohttp.ClientSession() as http,
            http.post(webhook, json=update, headers=secret) as answer,
        ):
            assert answer.status == 200
        # The same person's updates are handled in order: once /me is answered, a handled
        # copy of /alert would have raised its alert.
        sender.user.send("/me")
        await expect(sender.user, "me.profile", id=sender.member_id)
    finally:
        await bot.stop()
    bot = build_application(settings)
    await bot.start(mode="webhook")
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(webhook, json=update, headers=secret) as answer,
        ):
            assert answer.status == 200
        before = sender.user.last
        sender.user.send("/me")
        await expect(sender.user, "me.profile", id=sender.member_id, after=before)
        async with bot.database.read_sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Alert)) == 1
            assert await session.scalar(select(func.count()).select_from(Delivery)) == 1
        assert len(alert_messages(police.user)) == 1
    finally:
        await bot.stop()


async def test_two_instances_take_in_an_update_once(database_url: str) -> None:
    """Two processes (each with its own engine) receive the same update at the same moment:
    exactly one takes it in."""
    databases = [Database(database_url), Database(database_url)]
    try:
        services = [HandledUpdates(UnitOfWorkFactory(db, SystemClock())) for db in databases]
        for update_id in range(1, 21):
            first = await asyncio.gather(*(s.first_time(update_id) for s in services))
            assert sorted(first) == [False, True], update_id
        assert not await services[0].first_time(7)
    finally:
        for database in databases:
            await database.dispose()


async def test_handled_update_ids_are_forgotten_after_a_day(database_url: str) -> None:
    database = Database(database_url)
    clock = ManualClock()
    try:
        handled = HandledUpdates(UnitOfWorkFactory(database, clock))
        assert await handled.first_time(1)
        clock.advance(timedelta(hours=24))
        assert await handled.first_time(2)
        assert await handled.prune() == 0
        clock.advance(timedelta(hours=2))
        assert await handled.prune() == 1  # update 1: older than Telegram keeps an update
        assert not await handled.first_time(2)
    finally:
        await database.dispose()


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
    await webhook_bot.runtime.scheduler.shutdown()
    async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as response:
        assert response.status == 503
        assert json.loads(await response.text())["scheduler"] == "stopped"
