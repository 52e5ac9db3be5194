"""The aiohttp server of `cora-bot run --webhook`: Telegram's updates, health and readiness
probes, and Prometheus metrics."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from sqlalchemy import text
from telegram import Update

from bot.errors import DomainError
from bot.refusals import RefusalLog, Source
from bot.updates import HandledUpdates
from handlers.common.context import Services
from storage.db import Database

log = logging.getLogger(__name__)

MAX_UPDATE_BYTES = 1024 * 1024  # Telegram's updates are far smaller; anything bigger is refused
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


class Metrics:
    """The bot's Prometheus metrics, in a registry of its own (one per running bot)."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        counter, gauge = partial(Counter, registry=registry), partial(Gauge, registry=registry)
        self.deliveries = counter("cora_deliveries", "Deliveries by final state", ["state"])
        self.delivery_latency = Histogram(
            "cora_delivery_latency_seconds",
            "Time from committing a delivery to Telegram accepting it",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
            registry=registry,
        )
        self.escalations = counter("cora_escalations", "Escalations of unacknowledged alerts")
        self.queue_depth = gauge("cora_delivery_queue_depth", "Deliveries waiting to be sent")
        self.queue_age = gauge(
            "cora_delivery_queue_oldest_seconds", "Age of the oldest delivery waiting to be sent"
        )
        self.retry_afters = gauge("cora_telegram_429", "429 answers from Telegram since start")
        self.send_rate = gauge(
            "cora_telegram_send_rate",
            "Messages per second the rate limiter allows now (lowered after a 429; 0: unpaced)",
        )
        self.active_members = gauge("cora_active_members", "Active members of the network")
        self.refusals = counter(
            "cora_http_refusals",
            "Refused requests to the webhook and the HTTP API, by reason",
            ["endpoint", "reason"],
        )


@dataclass
class Probes:
    """What readiness depends on, supplied by the running bot."""

    services: Services
    database: Database
    metrics: Metrics
    scheduler_running: Callable[[], bool]
    retry_afters: Callable[[], int]
    send_rate: Callable[[], float]
    max_backlog_age: timedelta


async def _refresh(probes: Probes) -> dict[str, Any]:
    """Read the figures that live in the database into the gauges."""
    services, metrics = probes.services, probes.metrics
    depth, oldest = await services.deliveries.backlog()
    age = (services.clock.now() - oldest).total_seconds() if oldest else 0.0
    counts = await services.membership.count_by_status()
    metrics.queue_depth.set(depth)
    metrics.queue_age.set(age)
    metrics.retry_afters.set(probes.retry_afters())
    metrics.send_rate.set(probes.send_rate())
    metrics.active_members.set(counts.get("active", 0))
    return {"backlog": depth, "backlog_age_seconds": round(age, 1)}


async def _readiness(probes: Probes) -> tuple[bool, dict[str, Any]]:
    """Database reachable, scheduler running, no delivery waiting too long; and the figures."""
    checks: dict[str, Any] = {}
    try:
        async with probes.database.read_sessions() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks.update(await _refresh(probes))
    except Exception as error:  # any failure to reach the database means not ready
        log.warning("readiness: database unreachable: %s", type(error).__name__)
        checks["database"] = "unreachable"
    checks["scheduler"] = "running" if probes.scheduler_running() else "stopped"
    ready = (
        checks["database"] == "ok"
        and checks["scheduler"] == "running"
        and checks.get("backlog_age_seconds", 0) <= probes.max_backlog_age.total_seconds()
    )
    return ready, checks


def health_routes(probes: Probes) -> list[web.RouteDef]:
    async def healthz(request: web.Request) -> web.Response:
        """The process is up."""
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        """Database reachable, scheduler running, no delivery waiting too long."""
        ready, checks = await _readiness(probes)
        return web.json_response(
            {"status": "ready" if ready else "not ready", **checks}, status=200 if ready else 503
        )

    async def metrics(request: web.Request) -> web.Response:
        try:
            await _refresh(probes)
        except Exception as error:
            log.warning("metrics: database unreachable: %s", type(error).__name__)
        body = generate_latest(probes.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics),
    ]


async def _read_update(request: web.Request, secret: str, bot: Any) -> Update | tuple[int, str]:
    """The update a request carries, or the status and reason to refuse the request with."""
    given = request.headers.get(SECRET_HEADER, "")
    # Bytes, so that a header with any characters is compared, never an error.
    if not hmac.compare_digest(given.encode(errors="surrogateescape"), secret.encode()):
        return 403, "forbidden"
    if request.content_length is not None and request.content_length > MAX_UPDATE_BYTES:
        return 413, "too_large"
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return 413, "too_large"
    try:
        update = Update.de_json(json.loads(body), bot)
    except (ValueError, TypeError, KeyError, AttributeError):
        update = None
    return (400, "malformed") if update is None else update


async def _refuse(
    refusals: RefusalLog, request: web.Request, status: int, reason: str
) -> web.Response:
    """Count the refusal; an address whose budget is spent gets 429 instead."""
    source = Source("webhook", request.remote or "unknown")
    headers = {}
    wait = refusals.retry_after(source)
    if wait is not None:
        status, reason = 429, "throttled"
        headers["Retry-After"] = str(wait)
    log.debug("refused a webhook request (%s)", reason)
    await refusals.refused(source, reason)
    return web.json_response({"error": reason}, status=status, headers=headers)


def webhook_route(
    path: str, secret: str, application: Any, refusals: RefusalLog, handled: HandledUpdates
) -> web.RouteDef:
    """Telegram POSTs each update here; only requests carrying our secret are accepted, and an
    update already taken in (by this or another instance) is answered but not handled again.
    Refusals are counted per remote address and minute (one audit event each); an address
    whose budget of refusals is spent gets 429 instead of 403."""

    async def receive(request: web.Request) -> web.Response:
        update = await _read_update(request, secret, application.bot)
        if not isinstance(update, Update):
            return await _refuse(refusals, request, *update)
        # Claimed before Telegram gets its 200: a copy resent meanwhile finds the claim.
        try:
            first = await handled.first_time(update.update_id)
        except DomainError:  # the database is busy or away: Telegram will send it again
            return web.json_response({"error": "busy"}, status=503)
        if not first:
            log.info("update %d was taken in before; not handled again", update.update_id)
            return web.json_response({"ok": True})
        await application.update_queue.put(update)
        return web.json_response({"ok": True})

    return web.post(path, receive)
