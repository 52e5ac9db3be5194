"""The HTTP API for agency systems: raise an alert and read its state; find offers of the
support system, raise a need and read its course. Every request is signed (HMAC-SHA256), fresh,
never replayed, and audited."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.errors import DomainError
from bot.integrations import ApiRefusal, Client, IntegrationService
from bot.integrations.signing import KEY_ID
from bot.network import Network
from bot.refusals import RefusalLog, Source
from handlers.transport.openapi import (
    IDEMPOTENCY_HEADER,
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    openapi,
)
from storage.errors import DatabaseBusyError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024

Answer = tuple[int, dict[str, Any]]
Action = Callable[[web.Request, Client, bytes], Awaitable[Answer]]
Handler = Callable[[web.Request], Awaitable[web.Response]]
Route = Callable[[str, Handler], web.RouteDef]

__all__ = ["MAX_BODY_BYTES", "api_routes", "openapi"]


@dataclass(frozen=True)
class Outcome:
    """How a call ended: the answer, the refusal's code, and who called (if known)."""

    status: int
    answer: dict[str, Any]
    code: str | None = None
    client: Client | None = None
    unauthenticated: bool = False  # refused before the key was known

    @property
    def headers(self) -> dict[str, str]:
        retry = self.answer.get("retry_after") if self.status == 429 else None
        return {"Retry-After": str(retry)} if retry is not None else {}


@dataclass(frozen=True)
class SignedApi:
    """Signed calls: throttled per source, authenticated, answered, and audited."""

    integrations: IntegrationService
    refusals: RefusalLog

    def route(self, route: str, action: Action) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            return await self.call(route, action, request)

        return handle

    async def call(self, route: str, action: Action, request: web.Request) -> web.Response:
        key_id = request.headers.get(KEY_HEADER, "")
        source = Source(
            "api", request.remote or "unknown", key_id if KEY_ID.fullmatch(key_id) else "-"
        )
        outcome = await self._outcome(route, action, request, source)
        if outcome.unauthenticated and outcome.code is not None:
            # Not authenticated: counted per source and minute, one audit event each.
            await self.refusals.refused(source, outcome.code)
        else:
            client_id = outcome.client.id if outcome.client is not None else None
            await self.integrations.record_call(
                client_id, request.method, route, outcome.status, outcome.code
            )
        return web.json_response(outcome.answer, status=outcome.status, headers=outcome.headers)

    async def _outcome(
        self, route: str, action: Action, request: web.Request, source: Source
    ) -> Outcome:
        client: Client | None = None
        try:
            wait = self.refusals.retry_after(source)
            if wait is not None:
                raise ApiRefusal(429, "throttled", retry_after=wait)
            body = await _body(request)
            client = await self._authenticate(request, body)
            status, answer = await action(request, client, body)
            return Outcome(status, answer, client=client)
        except ApiRefusal as refusal:
            refusal.details.pop("client", None)
            # Unauthenticated refusals are summed up per source and minute (bot.refusals).
            level = logging.DEBUG if client is None else logging.INFO
            log.log(level, "API refused %s %s: %s", request.method, route, refusal.code)
            answer = {"error": refusal.code, **refusal.details}
            return Outcome(refusal.status, answer, refusal.code, client, client is None)
        except DatabaseBusyError:  # nothing was written; the caller may retry
            return Outcome(503, {"error": "error.try_again"}, "error.try_again", client)

    async def _authenticate(self, request: web.Request, body: bytes) -> Client:
        return await self.integrations.authenticate(
            request.headers.get(KEY_HEADER, ""),
            request.headers.get(TIMESTAMP_HEADER, ""),
            request.headers.get(SIGNATURE_HEADER, ""),
            request.method,
            request.path_qs,
            body,
        )


def api_routes(
    integrations: IntegrationService, network: Network, refusals: RefusalLog
) -> list[web.RouteDef]:
    description = openapi(network)
    api = SignedApi(integrations, refusals)

    async def serve_openapi(request: web.Request) -> web.Response:
        return web.json_response(description)

    return [
        *(add(path, api.route(path, action)) for add, path, action in _actions(integrations)),
        web.get("/api/v1/openapi.json", serve_openapi),
    ]


def _actions(integrations: IntegrationService) -> list[tuple[Route, str, Action]]:
    """The signed routes: method, path, and what answers them."""
    return [
        (web.post, "/api/v1/alerts", _created(integrations.raise_alert)),
        (web.get, "/api/v1/alerts/{ref}", _state(integrations.alert_status, "unknown_alert")),
        (web.get, "/api/v1/offers", _offers(integrations)),
        (web.post, "/api/v1/needs", _created(integrations.raise_need)),
        (web.get, "/api/v1/needs/{ref}", _state(integrations.need_status, "unknown_need")),
    ]


def _created(create: Callable[[Client, str, bytes], Awaitable[Answer]]) -> Action:
    """A POST that creates something, once per Idempotency-Key."""

    async def action(request: web.Request, client: Client, body: bytes) -> Answer:
        return await create(client, request.headers.get(IDEMPOTENCY_HEADER, ""), body)

    return action


def _state(read: Callable[[Client, str], Awaitable[dict[str, Any]]], unknown: str) -> Action:
    """A GET of something the client raised, by its reference; 404 `unknown` for any other."""

    async def action(request: web.Request, client: Client, body: bytes) -> Answer:
        try:
            return 200, await read(client, request.match_info["ref"])
        except DomainError:
            raise ApiRefusal(404, unknown) from None

    return action


def _offers(integrations: IntegrationService) -> Action:
    async def action(request: web.Request, client: Client, body: bytes) -> Answer:
        return 200, await integrations.find_offers(client, dict(request.query))

    return action


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiRefusal(413, "body_too_large")
    try:
        body = await request.content.read(MAX_BODY_BYTES + 1)
    except web.HTTPRequestEntityTooLarge:
        raise ApiRefusal(413, "body_too_large") from None
    if len(body) > MAX_BODY_BYTES:
        raise ApiRefusal(413, "body_too_large")
    return body
