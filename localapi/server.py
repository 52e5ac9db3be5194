"""The local Bot API server: Telegram's HTTP interface over the simulated world, with a call log."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from localapi import snapshot
from localapi.chats import Account, SimMessage
from localapi.commands import CommandLists
from localapi.control import ControlApi
from localapi.errors import ApiError, bad_request, too_many_requests
from localapi.faults import UNPROCESSED, Fault, FaultKind, Faults
from localapi.guard import local_only
from localapi.limits import LimitModel, RateLimitHit, RateLimits
from localapi.methods import BotApiMethods
from localapi.people import SimGroup, SimUser
from localapi.sending import Handler
from localapi.spec import Method, UploadedFile, convert_params, load_spec
from localapi.updates import WebhookAttempt, WebhookSender
from localapi.world import World

JsonDict = dict[str, Any]

DEFAULT_TOKEN = "123456789:LOCAL-test-token_for-cora"  # noqa: S105 - a fake server's token
MAX_UPLOAD_BYTES = 50 * 2**20
# What nginx in front of the Bot API answers when the backend is down.
BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class CallRecord:
    """One request to the Bot API and what it was answered.

    `status` is 0 when the connection was dropped without an answer; `fault` names the
    injected fault, if any ("timeout" calls were processed but answered too late).
    """

    method: str
    params: JsonDict
    status: int
    result: Any
    error: str | None
    time: float
    fault: FaultKind | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


async def _read_params(
    request: web.Request, method: Method
) -> tuple[dict[str, object], dict[str, UploadedFile]]:
    """Query string and body (form, multipart or JSON) as raw values and file parts."""
    raw: dict[str, object] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON encoded request") from None
            if not isinstance(body, dict):
                raise bad_request("can't parse JSON encoded request")
            raw.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files[key] = UploadedFile(value.filename, value.content_type, data)
                else:
                    raw[key] = value
    # A file part named like a parameter is that parameter; others are attach:// targets.
    for name, uploaded in files.items():
        if name in method.fields:
            raw[name] = uploaded
    return raw, files


class BotApiUrls:
    """The addresses python-telegram-bot needs of a Bot API server running at `url`."""

    url: str

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"


class LocalBotApi(BotApiUrls):
    """A fake Telegram Bot API server on 127.0.0.1 that the real PTB library talks to.

    Point PTB at it with `Bot(token, base_url=api.base_url, base_file_url=api.base_file_url)`.
    Simulated people (`api.user()`, `api.group()`) write to the bot and watch their chats;
    every call is recorded in `api.calls`. With `enforce_limits` it answers 429 like Telegram's
    flood control, read as token buckets (`limit_model="bucket"`) or as sliding windows
    (`"strict"`: at most `per_second` messages in any second, one per chat).
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "cora_test_bot",
        bot_id: int | None = None,
        bot_first_name: str = "Cora",
        enforce_limits: bool = False,
        limit_model: LimitModel = "bucket",
        per_second: float = 30.0,
        chat_burst: int = 3,
        privacy_mode: bool = True,
        clock: Callable[[], float] = time.monotonic,
        timeout_delay: float = 10.0,
        webhook_attempts: int = 3,
        webhook_retry_delay: float = 0.05,
        unsafe_public: bool = False,
    ) -> None:
        """`unsafe_public`: answer requests addressed to any host name, not only to 127.0.0.1,
        localhost or ::1. Like the sandbox's page, the fake asks for no password and its /_sim
        API acts as anyone, so by default a web page that rebinds its own name to this computer
        (DNS rebinding) or posts here from another site is refused."""
        prefix = token.partition(":")[0]
        if bot_id is None:
            bot_id = int(prefix) if prefix.isdigit() else 123456789
        self.token = token
        self._clock = clock
        bot = Account(bot_id, bot_first_name, username=bot_username, is_bot=True, started=True)
        self.world = World(bot, privacy_mode=privacy_mode)
        self.limits = RateLimits(
            enabled=enforce_limits,
            clock=clock,
            model=limit_model,
            per_second=per_second,
            chat_burst=chat_burst,
        )
        self.faults = Faults(timeout_delay)
        self.commands_store = CommandLists()
        self.webhook_sender = WebhookSender(
            self.world.updates, attempts=webhook_attempts, retry_delay=webhook_retry_delay
        )
        self._methods = BotApiMethods(
            self.world, self.limits, self.commands_store, self.webhook_sender
        )
        self._handlers: Mapping[str, Handler] = self._methods.table()
        self.calls: list[CallRecord] = []
        self._people: dict[int, SimUser] = {}
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._public = unsafe_public
        self.url = ""

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        load_spec()
        app = web.Application(
            middlewares=[local_only(public=self._public)], client_max_size=MAX_UPLOAD_BYTES
        )
        app.router.add_route("*", "/bot{token}/{method}", self._bot_request)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file_request)
        app.add_routes(ControlApi(self).routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._closing.set()
        self.world.close()
        await self.webhook_sender.clear()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> LocalBotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- the HTTP interface ------------------------------------------------------------

    def _record(
        self,
        method: str,
        params: Mapping[str, object],
        status: int,
        body: JsonDict | None,
        fault: Fault | None = None,
    ) -> None:
        body = body or {}
        self.calls.append(
            CallRecord(
                method=method,
                params=dict(params),
                status=status,
                result=body.get("result"),
                error=body.get("description"),
                time=self._clock(),
                fault=fault.kind if fault else None,
            )
        )

    async def _bot_request(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        if request.match_info["token"] != self.token:
            error = ApiError(401, "Unauthorized")
            self._record(name, {}, error.code, error.envelope())
            return web.json_response(error.envelope(), status=error.code)
        method = load_spec().method(name)
        handler = self._handlers.get(method.name) if method else None
        if method is None or handler is None:
            error = (
                ApiError(404, "Not Found: method not found")
                if method is None
                else ApiError(
                    501, f"Not Implemented: the local Bot API does not simulate {method.name}"
                )
            )
            self._record(name, {}, error.code, error.envelope())
            return web.json_response(error.envelope(), status=error.code)

        params, rejection = await self._parameters(request, method)
        fault = self.faults.draw(method.name, params.get("chat_id"))
        if fault is not None and fault.kind in UNPROCESSED:
            return self._unprocessed(request, method.name, params, fault)
        status, body = await self._answer(handler, params, rejection)
        self._record(method.name, params, status, body, fault)
        if fault is not None and fault.kind == "timeout":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.faults.timeout_delay)
        if fault is not None and fault.kind == "drop_after":
            return self._drop(request)
        return web.json_response(body, status=status)

    @staticmethod
    async def _parameters(
        request: web.Request, method: Method
    ) -> tuple[Mapping[str, object], ApiError | None]:
        """The converted parameters, or the raw ones (for the record) and why they are wrong."""
        try:
            raw, files = await _read_params(request, method)
        except ApiError as error:
            return {}, error
        try:
            return convert_params(method, raw, files), None
        except ApiError as error:
            return raw, error

    @staticmethod
    async def _answer(
        handler: Handler, params: Mapping[str, object], rejection: ApiError | None
    ) -> tuple[int, JsonDict]:
        try:
            if rejection is not None:
                raise rejection
            result = await handler(dict(params))
        except ApiError as error:
            return error.code, error.envelope()
        return 200, {"ok": True, "result": result}

    def _unprocessed(
        self, request: web.Request, method: str, params: Mapping[str, object], fault: Fault
    ) -> web.StreamResponse:
        """Answer with the injected failure without doing the work."""
        if fault.kind == "drop":
            self._record(method, params, 0, None, fault)
            return self._drop(request)
        if fault.kind == "502":
            self._record(method, params, 502, {"description": "Bad Gateway"}, fault)
            return web.Response(status=502, text=BAD_GATEWAY_PAGE, content_type="text/html")
        if fault.kind == "429":
            error = too_many_requests(fault.retry_after)
        else:
            error = ApiError(500, "Internal Server Error")
        self._record(method, params, error.code, error.envelope(), fault)
        return web.json_response(error.envelope(), status=error.code)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        """Close the connection without an HTTP answer, like a broken network path."""
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=499)  # never reaches the client

    async def _file_request(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").envelope(), status=401)
        path = request.match_info["path"]
        for stored in self.world.files.values():
            if stored.file_path == path and stored.data is not None:
                content_type = stored.mime_type or "application/octet-stream"
                return web.Response(body=stored.data, content_type=content_type)
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    # --- simulated people --------------------------------------------------------------

    def user(
        self,
        user_id: int | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "de",
    ) -> SimUser:
        """A new simulated person (ids are assigned if not given)."""
        name = first_name or f"Person {len(self._people) + 1}"
        account = self.world.add_user(user_id, name, last_name, username, language_code)
        person = SimUser(self.world, account)
        self._people[account.id] = person
        return person

    def get_user(self, user_id: int) -> SimUser:
        return self._people[user_id]

    def remove_user(self, user_id: int) -> None:
        """Forget a person and their chat."""
        self._people.pop(user_id, None)
        self.world.remove_user(user_id)

    def save(self, path: Path) -> None:
        """Keep accounts, chats, files and command menus in a file (see localapi.snapshot)."""
        snapshot.save(path, self.world, self.commands_store)

    def restore(self, path: Path) -> bool:
        """Take up what `save` kept, before the bot starts; False when `path` does not exist."""
        restored = snapshot.restore(path, self.world, self.commands_store)
        for account in self.world.accounts.values():
            if account.id not in self._people:
                self._people[account.id] = SimUser(self.world, account)
        return restored

    @property
    def users(self) -> list[SimUser]:
        return list(self._people.values())

    def group(self, title: str) -> SimGroup:
        """A group the bot has been added to."""
        return SimGroup(self.world, self.world.add_group(title))

    # --- what the bot did, for assertions ----------------------------------------------

    def now(self) -> float:
        """The server's clock, the one call records are stamped with (monotonic by default)."""
        return self._clock()

    def calls_to(self, method: str) -> list[CallRecord]:
        return [call for call in self.calls if call.method == method]

    @property
    def delivered(self) -> list[SimMessage]:
        """Every message the bot really delivered, in order (count duplicates here)."""
        return list(self.world.delivered)

    @property
    def enforce_limits(self) -> bool:
        return self.limits.enabled

    @enforce_limits.setter
    def enforce_limits(self, enabled: bool) -> None:
        self.limits.enabled = enabled

    @property
    def rate_limited(self) -> list[RateLimitHit]:
        """Every 429 the flood limits gave."""
        return list(self.limits.hits)

    @property
    def bot(self) -> JsonDict:
        return self.world.bot.to_api()

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[JsonDict]:
        """The commands set for exactly this scope and language."""
        return self.commands_store.get(scope, language_code)

    def commands_shown_to(self, user: SimUser) -> list[JsonDict]:
        """The commands the person's client would show in the private chat."""
        return self.commands_store.shown_in_private_chat(user.id, user.language_code)

    def menu_button(self, chat_id: int | None = None) -> JsonDict:
        if chat_id is not None:
            chat = self.world.chats[chat_id]
            if chat.menu_button is not None:
                return chat.menu_button
        return self._methods.default_menu_button

    async def wait_until_polling(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until a getUpdates request is waiting, e.g. before timing its answer."""
        queue = self.world.updates
        async with asyncio.timeout(timeout):
            await queue.changes.wait_until(lambda: True if queue.polling else None)

    async def wait_until_no_pending_updates(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every update was fetched or delivered to the webhook."""
        queue = self.world.updates
        async with asyncio.timeout(timeout):
            await queue.changes.wait_until(lambda: None if queue.pending else True)

    @property
    def pending_updates(self) -> list[JsonDict]:
        return self.world.updates.pending

    @property
    def webhook_attempts(self) -> list[WebhookAttempt]:
        return list(self.webhook_sender.log)
