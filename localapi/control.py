"""A JSON control API under /_sim that drives simulated people over HTTP, for the web sandbox
and for benchmarks that run the fake Telegram in a process of its own."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from localapi.chats import SimMessage

if TYPE_CHECKING:
    from localapi.people import SimUser
    from localapi.server import CallRecord, LocalBotApi

JsonDict = dict[str, Any]
KEEP_ALIVE_SECONDS = 15.0
MAX_LONG_POLL_SECONDS = 60.0
MAX_BULK_USERS = 100_000


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _describe_user(user: SimUser) -> JsonDict:
    return user.to_api() | {
        "blocked": user.blocked,
        "deactivated": user.deactivated,
        "started": user.account.started,
    }


def _describe_call(seq: int, call: CallRecord) -> JsonDict:
    chat_id = call.params.get("chat_id")
    result = call.result
    described: JsonDict = {
        "seq": seq,
        "method": call.method,
        "status": call.status,
        "time": call.time,
        "chat_id": chat_id if isinstance(chat_id, int) else None,
        "message_id": result.get("message_id") if isinstance(result, dict) else None,
        "fault": call.fault,
    }
    if call.method == "getUpdates" and isinstance(result, list):
        described["update_ids"] = [update["update_id"] for update in result]
    if call.method == "answerCallbackQuery":
        described["callback_query_id"] = call.params.get("callback_query_id")
    return described


async def _body(request: web.Request) -> JsonDict:
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be JSON"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}),
            content_type="application/json",
        )
    return body


class ControlApi:
    """Routes for listing and creating people, acting as them and following their chats."""

    def __init__(self, api: LocalBotApi) -> None:
        self._api = api
        self._ending = False

    async def end_streams(self, app: web.Application) -> None:
        """For aiohttp's on_shutdown: end the event streams and long polls now, rather than
        have the server wait its shutdown timeout for them (the Bot API itself goes on)."""
        self._ending = True
        self._api.world.changes.notify()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_sim/users", self.list_users),
            web.post("/_sim/users", self.create_user),
            web.post("/_sim/users/bulk", self.create_users),
            web.get("/_sim/users/{user_id}/messages", self.list_messages),
            web.post("/_sim/users/{user_id}/messages", self.send_text),
            web.post("/_sim/users/{user_id}/press", self.press_button),
            web.post("/_sim/users/{user_id}/{action:block|unblock|deactivate}", self.set_state),
            web.get("/_sim/events", self.poll_events),
            web.get("/_sim/events/stream", self.stream_events),
            web.get("/_sim/calls", self.list_calls),
            web.get("/_sim/stats", self.stats),
        ]

    def _user(self, request: web.Request) -> SimUser:
        try:
            return self._api.get_user(int(request.match_info["user_id"]))
        except (KeyError, ValueError):
            raise web.HTTPNotFound(
                text=json.dumps({"error": "no such user"}), content_type="application/json"
            ) from None

    async def list_users(self, request: web.Request) -> web.Response:
        return web.json_response([_describe_user(u) for u in self._api.users])

    async def create_user(self, request: web.Request) -> web.Response:
        body = await _body(request)
        fields = ("user_id", "first_name", "last_name", "username", "language_code")
        unknown = set(body) - {*fields, "started"}
        if unknown:
            return _error(400, f"unknown fields {sorted(unknown)}")
        try:
            user = self._api.user(**{k: body[k] for k in fields if k in body})
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        user.account.started = bool(body.get("started", False))
        return web.json_response(_describe_user(user), status=201)

    async def create_users(self, request: web.Request) -> web.Response:
        """Many people at once, named "<first_name> <n>"; with `started`, each has opened the
        chat with the bot before, so the bot may write to them."""
        body = await _body(request)
        unknown = set(body) - {"count", "first_name", "language_code", "started"}
        if unknown:
            return _error(400, f"unknown fields {sorted(unknown)}")
        count, prefix = body.get("count"), body.get("first_name", "Person")
        if not isinstance(count, int) or isinstance(count, bool):
            return _error(400, "count must be a number")
        if not 1 <= count <= MAX_BULK_USERS:
            return _error(400, f"count must be between 1 and {MAX_BULK_USERS}")
        if not isinstance(prefix, str) or not prefix:
            return _error(400, "first_name must be a non-empty string")
        language = body.get("language_code", "de")
        ids: list[int] = []
        for number in range(1, count + 1):
            user = self._api.user(first_name=f"{prefix} {number}", language_code=language)
            user.account.started = bool(body.get("started", False))
            ids.append(user.id)
        return web.json_response({"ids": ids}, status=201)

    async def list_messages(self, request: web.Request) -> web.Response:
        """Every message in the person's chat with the bot, from both sides."""
        user = self._user(request)
        return web.json_response([m.describe() for m in user.history])

    async def send_text(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await _body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return _error(400, "text must be a non-empty string")
        try:
            message = user.send(text)
        except RuntimeError as exc:
            return _error(409, str(exc))
        return web.json_response(message, status=201)

    async def press_button(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await _body(request)
        button = body.get("button")
        if not isinstance(button, str):
            return _error(400, "button must be the text or callback_data of a button")
        message: SimMessage | None = None
        if "message_id" in body:
            message = next((m for m in user.messages if m.message_id == body["message_id"]), None)
            if message is None:
                return _error(404, "no such bot message")
        try:
            press = user.press(button, message)
        except LookupError as exc:
            return _error(404, str(exc))
        except RuntimeError as exc:
            return _error(409, str(exc))
        payload = {
            "callback_query_id": press.id,
            "data": press.data,
            "message_id": press.message.message_id,
            "update_id": press.update_id,
        }
        return web.json_response(payload, status=201)

    async def set_state(self, request: web.Request) -> web.Response:
        user = self._user(request)
        action = request.match_info["action"]
        {"block": user.block, "unblock": user.unblock, "deactivate": user.deactivate}[action]()
        return web.json_response(_describe_user(user))

    async def list_calls(self, request: web.Request) -> web.Response:
        """The call log after `after` (optionally one `method`), without parameters or texts:
        when each call was answered (the server's monotonic clock), to which chat, how; which
        updates a getUpdates handed out, and which press an answerCallbackQuery answered."""
        try:
            after = max(0, int(request.query.get("after", "0")))
        except ValueError:
            return _error(400, "after must be a number")
        method = request.query.get("method")
        calls = self._api.calls
        found = [
            _describe_call(seq, call)
            for seq, call in enumerate(calls[after:], start=after + 1)
            if method is None or call.method == method
        ]
        return web.json_response({"calls": found, "last": len(calls)})

    async def stats(self, request: web.Request) -> web.Response:
        """Counts for checking a run: calls by method and status, 429s the flood limits gave,
        and the bot's delivered messages per chat (only those containing `containing`)."""
        containing = request.query.get("containing")
        calls: dict[str, dict[str, int]] = {}
        for call in self._api.calls:
            by_status = calls.setdefault(call.method, {})
            by_status[str(call.status)] = by_status.get(str(call.status), 0) + 1
        delivered: dict[str, int] = {}
        for message in self._api.world.delivered:
            if containing is None or containing in message.text:
                key = str(message.chat_id)
                delivered[key] = delivered.get(key, 0) + 1
        return web.json_response(
            {
                "time": self._api.now(),
                "calls": calls,
                "rate_limited": len(self._api.limits.hits),
                "limits": {
                    "enabled": self._api.limits.enabled,
                    "model": self._api.limits.model,
                    "per_second": self._api.limits.per_second,
                },
                "delivered": delivered,
            }
        )

    def _events_after(self, seq: int) -> list[JsonDict] | None:
        events = self._api.world.events[seq:]
        if events:
            return events
        return [] if self._api.world.closed or self._ending else None

    async def poll_events(self, request: web.Request) -> web.Response:
        """Long poll: events after `after`, waiting up to `timeout` seconds for the first one."""
        try:
            after = int(request.query.get("after", "0"))
            timeout = min(float(request.query.get("timeout", "0")), MAX_LONG_POLL_SECONDS)
        except ValueError:
            return _error(400, "after and timeout must be numbers")
        try:
            async with asyncio.timeout(timeout):
                events = await self._api.world.changes.wait_until(lambda: self._events_after(after))
        except TimeoutError:
            events = []
        last = events[-1]["seq"] if events else after
        return web.json_response({"events": events, "last": last})

    async def stream_events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events; a reconnecting EventSource resumes from Last-Event-ID."""
        try:
            after = int(request.headers.get("Last-Event-ID") or request.query.get("after", "0"))
        except ValueError:
            return _error(400, "after must be a number")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        seen = after
        try:
            while not (self._api.world.closed or self._ending):
                try:
                    async with asyncio.timeout(KEEP_ALIVE_SECONDS):
                        events = await self._api.world.changes.wait_until(
                            functools.partial(self._events_after, seen)
                        )
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                for event in events:
                    data = json.dumps(event, ensure_ascii=False)
                    await response.write(
                        f"id: {event['seq']}\nevent: {event['kind']}\ndata: {data}\n\n".encode()
                    )
                    seen = event["seq"]
        except ConnectionResetError:
            pass  # the page went away
        return response
