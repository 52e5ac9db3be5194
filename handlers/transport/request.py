"""python-telegram-bot's HTTP requests on aiohttp (`TELEGRAM_HTTP_CLIENT=aiohttp`, the default),
or on PTB's own httpx client (`httpx`).

`AiohttpRequest` costs about a quarter of the CPU per request that `HTTPXRequest` does: httpcore
checks every pooled connection on every request. It behaves like `HTTPXRequest` towards PTB:
the same form and multipart bodies, the same four timeouts (connect, read, write, pool; files
get `media_write_timeout` for writing), and the same errors: `TimedOut` for every timeout (a
full pool says so, and nothing was sent), `NetworkError` for a refused or dropped connection.
Status codes and the JSON body (`RetryAfter`, `BadRequest`, …) are left to PTB's
`BaseRequest`, as for every request class.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import BytesPayload
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

log = logging.getLogger(__name__)

HttpClient = Literal["aiohttp", "httpx"]
_FORM = "application/x-www-form-urlencoded"
POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* "
    "sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
)


class _TimedBody(BytesPayload):
    """A request body whose writing must finish within the write timeout: aiohttp has none of
    its own (its read timeout starts once the body is written)."""

    def __init__(self, body: bytes, content_type: str, write_timeout: float | None) -> None:
        super().__init__(body, content_type=content_type)
        self._write_timeout = write_timeout

    async def write(self, writer: AbstractStreamWriter) -> None:
        async with asyncio.timeout(self._write_timeout):
            await super().write(writer)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        async with asyncio.timeout(self._write_timeout):
            await super().write_with_length(writer, content_length)


_RENDERED = ("reply_markup", "entities")


def without_keyboards(payload: bytes) -> JSONDict:
    """Telegram's answer without the inline keyboards and formatting entities of the bot's own
    messages in it: of a message the bot sent or edited (the result), and of the message under
    a pressed button (a callback query in `getUpdates`). The bot never reads them back (what a
    message shows comes from the database), and python-telegram-bot would build an object for
    every button and entity of every ballot pressed or edited: more than the rest costs."""
    answer = BaseRequest.parse_json_payload(payload)
    result = answer.get("result")
    if isinstance(result, dict):
        for key in _RENDERED:
            result.pop(key, None)
    elif isinstance(result, list):
        for update in result:
            query = update.get("callback_query") if isinstance(update, dict) else None
            message = query.get("message") if isinstance(query, dict) else None
            if isinstance(message, dict):
                for key in _RENDERED:
                    message.pop(key, None)
    return answer


class AiohttpRequest(BaseRequest):
    """A `telegram.request.BaseRequest` on one `aiohttp.ClientSession` with a pool of at most
    `connection_pool_size` connections (HTTP/1.1, keep-alive)."""

    parse_json_payload = staticmethod(without_keyboards)

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_slots",
        "_timeouts",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # A request waits here for a free connection (the pool timeout); the connector then
        # never has to queue it.
        self._slots = asyncio.Semaphore(connection_pool_size)
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                # PTB reads the status and the body itself; nothing is raised for a status.
                raise_for_status=False,
                auto_decompress=True,
                # Direct: no proxy from HTTPS_PROXY or HTTP_PROXY (httpx takes them; README).
                trust_env=False,
            )

    async def shutdown(self) -> None:
        if self._session is None or self._session.closed:
            log.debug("AiohttpRequest is already shut down")
            return
        await self._session.close()

    def _timeout(self, connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get((connect, read))
        if timeout is None:
            # No total: PTB gives each phase its own limit, and a long poll reads for long.
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
            if len(self._timeouts) < 64:
                self._timeouts[(connect, read)] = timeout
        return timeout

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        body = await self._body(request_data, write) if request_data else None
        await self._take_slot(_given(pool_timeout, self._pool_timeout))
        timeout = self._timeout(
            _given(connect_timeout, self._connect_timeout), _given(read_timeout, self._read_timeout)
        )
        try:
            return await _exchange(session, method, url, body, timeout)
        finally:
            self._slots.release()

    async def _take_slot(self, pool_timeout: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            return
        try:
            async with asyncio.timeout(pool_timeout):
                await self._slots.acquire()
        except TimeoutError as error:
            raise TimedOut(POOL_TIMEOUT_MESSAGE) from error

    async def _body(self, data: RequestData, write_timeout: float | None) -> _TimedBody:
        """The fields as HTTPXRequest sends them: each value JSON-encoded, url-encoded as a
        form, or with files as multipart/form-data."""
        fields = data.json_parameters
        if not data.contains_files:
            return _TimedBody(urlencode(fields).encode(), _FORM, write_timeout)
        form = aiohttp.FormData(quote_fields=False)
        for name, value in fields.items():
            form.add_field(name, value)
        for name, (filename, content, mimetype) in data.multipart_data.items():
            form.add_field(name, content, filename=filename, content_type=mimetype)
        multipart = form()
        return _TimedBody(await multipart.as_bytes(), multipart.content_type, write_timeout)


async def _exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: _TimedBody | None,
    limits: aiohttp.ClientTimeout,
) -> tuple[int, bytes]:
    """One HTTP exchange; its failures raised as PTB's TimedOut and NetworkError."""
    try:
        async with session.request(
            method, url, data=body, timeout=limits, allow_redirects=False
        ) as response:
            return response.status, await response.read()
    except TimeoutError as error:  # connect, read or write (asyncio.TimeoutError is this)
        raise TimedOut from error
    except aiohttp.ClientError as error:
        raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


def _given(value: ODVInput[float], default: float | None) -> float | None:
    """A timeout passed to one request, or the request class's own for that phase."""
    return default if isinstance(value, DefaultValue) else value


class _HTTPXRequest(HTTPXRequest):
    """PTB's own client, reading answers as `AiohttpRequest` does."""

    __slots__ = ()
    parse_json_payload = staticmethod(without_keyboards)


def telegram_request(client: HttpClient, **options: Any) -> BaseRequest:
    """The request class `TELEGRAM_HTTP_CLIENT` selects, with PTB's keyword options."""
    if client == "httpx":
        return _HTTPXRequest(**options)
    return AiohttpRequest(**options)
