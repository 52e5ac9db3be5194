"""The HTTP client under python-telegram-bot (`handlers/transport/request.py`), against the local
Bot API: `AiohttpRequest` answers every fault the way PTB's own `HTTPXRequest` does, which runs
the same stories as the reference."""

from __future__ import annotations

import asyncio
import contextlib
import io
import struct
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, LinkPreviewOptions
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.app import build_application
from bot.cli.checks import check_telegram
from bot.config import Settings
from handlers.transport.bot import TelegramBot
from handlers.transport.ratelimit import Lane, Pace, TelegramLimiter
from handlers.transport.request import (
    POOL_TIMEOUT_MESSAGE,
    AiohttpRequest,
    HttpClient,
    telegram_request,
)
from localapi import LocalBotApi, SimUser
from tests.conftest import TOKEN

CLIENTS: tuple[HttpClient, ...] = ("aiohttp", "httpx")


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest) -> HttpClient:
    return request.param  # type: ignore[no-any-return]


def make_bot(api: LocalBotApi, client: HttpClient, **options: Any) -> Bot:
    options.setdefault("connection_pool_size", 8)
    return Bot(
        TOKEN,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        request=telegram_request(client, **options),
    )


@pytest.fixture
async def bot(api: LocalBotApi, client: HttpClient) -> AsyncIterator[Bot]:
    async with make_bot(api, client) as tg_bot:
        yield tg_bot


def started(api: LocalBotApi, name: str = "Mitglied Pappel") -> SimUser:
    user = api.user(first_name=name)
    user.send("/start")
    return user


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\x00" * 2)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_the_setting_selects_the_client() -> None:
    assert isinstance(telegram_request("aiohttp"), AiohttpRequest)
    assert isinstance(telegram_request("httpx"), HTTPXRequest)


async def test_the_bots_own_keyboards_and_formatting_are_not_read_back(
    api: LocalBotApi, client: HttpClient
) -> None:
    """What the bot rendered comes back from Telegram with every answer and every press; it is
    never read (the database says what a message shows), so it is not parsed either."""
    user = started(api)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("✅ 1", callback_data="poll:7:1y")]])
    async with Bot(
        TOKEN,
        base_url=api.base_url,
        request=telegram_request(client, connection_pool_size=2),
        get_updates_request=telegram_request(client, connection_pool_size=1),
    ) as tg_bot:
        sent = await tg_bot.send_message(
            user.id, "<b>Umfrage 7</b>", parse_mode="HTML", reply_markup=markup
        )
        shown = user.messages[-1]
        assert sent.message_id == shown.message_id and sent.chat_id == user.id
        assert sent.text == "Umfrage 7" and sent.reply_markup is None and not sent.entities
        assert shown.buttons == [[("✅ 1", "poll:7:1y")]]  # Telegram got and keeps them
        user.press("✅ 1", shown)
        updates = await tg_bot.get_updates(timeout=0)  # /start, then the press
        query = updates[-1].callback_query
        assert query is not None and query.data == "poll:7:1y" and query.from_user.id == user.id
        assert query.message is not None and query.message.message_id == sent.message_id
        assert query.message.chat.id == user.id and query.message.reply_markup is None
        edited = await tg_bot.edit_message_text(
            "Umfrage 7 ✅", chat_id=user.id, message_id=sent.message_id, reply_markup=markup
        )
        assert not isinstance(edited, bool) and edited.reply_markup is None
        assert edited.text == "Umfrage 7 ✅" and user.messages[-1].buttons == shown.buttons


async def test_messages_and_their_answers_go_through(api: LocalBotApi, bot: Bot) -> None:
    user = started(api)
    sent = await bot.send_message(
        user.id, "Lage im Fall Birke: <b>bitte melden</b> &amp; danke", parse_mode="HTML"
    )
    assert user.messages[-1].text == "Lage im Fall Birke: bitte melden & danke"
    assert sent.message_id == user.messages[-1].message_id
    edited = await bot.edit_message_text("geändert ✅", chat_id=user.id, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "geändert ✅"
    assert await bot.get_me() is not None


async def test_files_are_uploaded_as_multipart_with_their_bytes_and_names(
    api: LocalBotApi, bot: Bot
) -> None:
    user = started(api)
    data = bytes(range(256)) * 40  # every byte value, 10 KiB
    sent = await bot.send_document(
        user.id, data, filename="Übersicht Fall Eiche.bin", caption="Meine Daten"
    )
    assert sent.document is not None
    document = user.messages[-1].document
    assert document is not None
    assert (document.file_name, document.data) == ("Übersicht Fall Eiche.bin", data)
    assert user.messages[-1].text == "Meine Daten"
    png = tiny_png()
    photo = await bot.send_photo(user.id, io.BytesIO(png), caption="Bild")  # a file handle
    assert (photo.photo[-1].width, user.messages[-1].photo) == (2, png)
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(user.id, b"kein Bild")


async def test_a_429_raises_retry_after_with_the_servers_seconds(
    api: LocalBotApi, bot: Bot
) -> None:
    user = started(api)
    api.faults.inject("sendMessage", kind="429", retry_after=7)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(user.id, "zu schnell")
    assert raised.value.retry_after.total_seconds() == 7  # type: ignore[union-attr]
    assert user.messages == []


@pytest.mark.parametrize("kind", ["500", "502"])
async def test_server_errors_raise_network_error_and_send_nothing(
    api: LocalBotApi, bot: Bot, kind: str
) -> None:
    user = started(api)
    api.faults.inject("sendMessage", kind=kind)  # type: ignore[arg-type]
    with pytest.raises(NetworkError) as raised:
        await bot.send_message(user.id, "Serverfehler")
    assert not isinstance(raised.value, TimedOut)
    assert user.messages == []
    await bot.send_message(user.id, "danach")  # the connection pool is still usable
    assert [m.text for m in user.messages] == ["danach"]


async def test_refusals_by_telegram_keep_their_kind(api: LocalBotApi, bot: Bot) -> None:
    user = started(api)
    user.block()
    with pytest.raises(Forbidden):
        await bot.send_message(user.id, "Hallo")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(api.user(first_name="Nie geschrieben").id, "Hallo")


async def test_dropped_connections_raise_network_error(api: LocalBotApi, bot: Bot) -> None:
    user = started(api)
    api.faults.inject("sendMessage", kind="drop")
    with pytest.raises(NetworkError) as before:
        await bot.send_message(user.id, "verloren")
    api.faults.inject("sendMessage", kind="drop_after")
    with pytest.raises(NetworkError) as after:
        await bot.send_message(user.id, "angekommen")
    assert not isinstance(before.value, TimedOut) and not isinstance(after.value, TimedOut)
    assert [m.text for m in user.messages] == ["angekommen"]
    await bot.send_message(user.id, "wieder da")
    assert [m.text for m in user.messages] == ["angekommen", "wieder da"]


async def test_a_late_answer_is_a_read_timeout(api: LocalBotApi, client: HttpClient) -> None:
    user = started(api)
    api.faults.timeout_delay = 2.0
    api.faults.inject("sendMessage", kind="timeout")
    async with make_bot(api, client, read_timeout=0.3) as slow:
        with pytest.raises(TimedOut):
            await slow.send_message(user.id, "doppelt?")
        # A timeout passed with the call wins over the default.
        await slow.send_message(user.id, "doppelt?", read_timeout=5)
    assert Counter(m.text for m in api.delivered) == {"doppelt?": 2}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("client", CLIENTS)
async def test_telegram_read_timeout_is_the_bots_read_timeout_also_for_long_polls(
    api: LocalBotApi, settings: Settings, client: HttpClient
) -> None:
    """TELEGRAM_READ_TIMEOUT=0.5 with either client: a late answer times out after 0.5 s, not
    after PTB's default 5 s (the bound of 4 s is no speed figure); a long poll of 1 s waits
    1.5 s."""
    configured = settings.model_copy(
        update={"telegram_read_timeout": 0.5, "telegram_http_client": client}
    )
    bot = build_application(configured).application.bot
    user = started(api)
    api.faults.timeout_delay = 30.0
    async with bot:
        for call in (
            # Not retried by the rate limiter: the outbox's own way.
            lambda: bot.send_message(user.id, "zu spät?", rate_limit_args=Pace(retries=0)),
            lambda: bot.get_updates(timeout=1),
        ):
            api.faults.inject("sendMessage", kind="timeout")
            api.faults.inject("getUpdates", kind="timeout")
            with pytest.raises(TimedOut):
                async with asyncio.timeout(4):
                    await call()
    assert [c.fault for c in api.calls_to("sendMessage")] == ["timeout"]


async def test_a_full_pool_times_out_without_sending(api: LocalBotApi, client: HttpClient) -> None:
    user = started(api)
    api.faults.timeout_delay = 1.5
    api.faults.inject("sendMessage", kind="timeout")
    async with make_bot(api, client, connection_pool_size=1, pool_timeout=0.2) as tg_bot:
        slow = asyncio.create_task(tg_bot.send_message(user.id, "langsam", read_timeout=5))
        await asyncio.sleep(0.3)  # the one connection is busy now
        with pytest.raises(TimedOut) as raised:
            await tg_bot.send_message(user.id, "keine Verbindung frei")
        assert "Pool timeout" in raised.value.message
        await slow
        await tg_bot.send_message(user.id, "wieder frei")
    assert [m.text for m in user.messages] == ["langsam", "wieder frei"]


async def test_a_refused_connection_raises_network_error(client: HttpClient) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens on the port any more
    request = telegram_request(client)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()
    assert not isinstance(raised.value, TimedOut)


async def test_an_upload_nobody_reads_is_a_write_timeout(client: HttpClient) -> None:
    """A server that accepts the connection but never reads: the upload stalls once the
    socket buffers are full, and the (media) write timeout ends it."""
    held: list[asyncio.StreamWriter] = []

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = telegram_request(client, media_write_timeout=0.5)
    upload = RequestData(
        [
            RequestParameter("chat_id", 1, []),
            RequestParameter.from_input("document", InputFile(b"\x00" * (32 << 20), "gross.bin")),
        ]
    )
    await request.initialize()
    try:
        async with server:
            with pytest.raises(TimedOut):
                await asyncio.wait_for(
                    request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/sendDocument", upload), 30
                )
    finally:
        await request.shutdown()
        for writer in held:
            writer.close()


@contextlib.asynccontextmanager
async def forward_proxy(seen: list[str]) -> AsyncIterator[str]:
    """An HTTP proxy for plain http:// targets: it takes each request in absolute form, notes its
    method name, forwards it and answers with what came back (one request per connection)."""

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ")
        headers = dict(line.split(": ", 1) for line in head[1:] if line)
        length = next((int(v) for k, v in headers.items() if k.lower() == "content-length"), 0)
        body = await reader.readexactly(length)
        seen.append(target.rsplit("/", 1)[-1])
        kind = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, target, data=body, headers={"Content-Type": kind} if kind else None
            ) as answer,
        ):
            data = await answer.read()
            writer.write(
                f"HTTP/1.1 {answer.status} {answer.reason}\r\n"
                f"Content-Type: {answer.content_type}\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + data
            )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_the_start_check_goes_the_way_the_bot_goes_with_or_without_a_proxy(
    api: LocalBotApi, client: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cora-bot run` checks the token through the client the bot sends with: aiohttp connects
    directly, httpx takes the proxy HTTP_PROXY names (not for NO_PROXY's hosts). Before, the
    check always went through PTB's httpx client: behind a proxy it passed through the proxy
    while the aiohttp bot went direct, and a dead proxy variable refused a start that the bot
    could make."""
    settings = Settings(
        telegram_bot_token=TOKEN,
        telegram_base_url=api.base_url,
        telegram_http_client=client,
        _env_file=None,
    )
    user = started(api)
    seen: list[str] = []
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with forward_proxy(seen) as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
            monkeypatch.setenv(name, proxy)
        assert await check_telegram(settings) == "cora_test_bot"
        async with make_bot(api, client) as tg_bot:
            await tg_bot.send_message(user.id, "mit Proxy-Variablen")
        proxied = ["getMe", "getMe", "sendMessage"] if client == "httpx" else []
        assert seen == proxied
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert await check_telegram(settings) == "cora_test_bot"
        async with make_bot(api, client) as tg_bot:
            await tg_bot.send_message(user.id, "direkt")
    assert seen == proxied  # NO_PROXY: direct with either client
    assert [m.text for m in user.messages] == ["mit Proxy-Variablen", "direkt"]


async def test_a_request_before_initialize_is_refused() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot/getMe", "POST")
    assert POOL_TIMEOUT_MESSAGE.startswith("Pool timeout")


def telegram_bot(api: LocalBotApi, client: HttpClient) -> TelegramBot:
    """The bot's own `TelegramBot` on the fake, with the HTTP client and the rate limiter."""
    return TelegramBot(
        TOKEN,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        request=telegram_request(client, connection_pool_size=8),
        rate_limiter=TelegramLimiter(30),
    )


async def test_the_outbox_send_is_send_message_returning_only_the_id(
    api: LocalBotApi, client: HttpClient
) -> None:
    """`TelegramBot.send_text` (the outbox's sends) makes the request `send_message` makes with
    the same arguments, through the rate limiter with its pace, and maps Telegram's refusals
    to the same errors; it returns the message's id instead of a `Message`."""
    bot = telegram_bot(api, client)
    first, second = started(api, "Mitglied Pappel"), started(api, "Mitglied Linde")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Übernehmen", callback_data="a:7:take")]])
    arguments: dict[str, Any] = {
        "parse_mode": "HTML",
        "reply_markup": markup,
        "disable_notification": True,
        "protect_content": True,
        "link_preview_options": LinkPreviewOptions(is_disabled=True),
        "rate_limit_args": Pace(Lane.URGENT, retries=0),
    }
    text = "Lage im Fall Birke: <b>bitte melden</b> https://example.org"
    async with bot:
        message = await bot.send_message(first.id, text, **arguments)
        message_id = await bot.send_text(second.id, text, **arguments)
        assert isinstance(message_id, int)
        assert message_id == second.messages[-1].message_id
        assert message.message_id == first.messages[-1].message_id
        # Again, with the keyboard and preview options it serialized the first time.
        assert await bot.send_text(second.id, text, **arguments) == message_id + 1
        made, *sent = (dict(call.params) for call in api.calls_to("sendMessage")[-3:])
        assert made.pop("chat_id") == first.id
        assert [again.pop("chat_id") for again in sent] == [second.id] * 2
        assert sent == [made, made]
        shown = second.messages[-1]
        assert (shown.text, shown.disable_notification, shown.protect_content) == (
            "Lage im Fall Birke: bitte melden https://example.org",
            True,
            True,
        )
        assert not shown.link_preview and shown.reply_markup == markup.to_dict()
        first.block()
        with pytest.raises(Forbidden):
            await bot.send_text(first.id, "Hallo", rate_limit_args=Pace(Lane.ROUTINE, 0))
        api.faults.inject("sendMessage", kind="429", retry_after=7)  # the limiter holds after it
        with pytest.raises(RetryAfter):
            await bot.send_text(second.id, "zu schnell", rate_limit_args=Pace(Lane.URGENT, 0))
    assert [m.text for m in second.messages] == [shown.text] * 2


async def test_the_live_message_edit_is_edit_message_text_without_the_message(
    api: LocalBotApi, client: HttpClient
) -> None:
    """`TelegramBot.edit_text` (a ballot's refresh after a press) makes the request
    `edit_message_text` makes with the same arguments, through the rate limiter, and maps
    Telegram's refusals to the same errors; it builds no `Message` from the answer."""
    bot = telegram_bot(api, client)
    first, second = started(api, "Mitglied Pappel"), started(api, "Mitglied Linde")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("✅ Rostock", callback_data="p:3:c1")]])
    arguments: dict[str, Any] = {
        "parse_mode": "HTML",
        "reply_markup": markup,
        "link_preview_options": LinkPreviewOptions(is_disabled=True),
        "rate_limit_args": Pace(Lane.ROUTINE, retries=0),
    }
    text = "Umfrage 3: <b>Ort der Fachtagung</b> https://example.org"
    async with bot:
        mine = [await bot.send_text(user.id, "Umfrage 3", **arguments) for user in (first, second)]
        edited = await bot.edit_message_text(
            text, chat_id=first.id, message_id=mine[0], **arguments
        )
        assert edited.message_id == mine[0]  # PTB's method builds the message
        assert await bot.edit_text(second.id, mine[1], text, **arguments) is None
        made, again = (dict(call.params) for call in api.calls_to("editMessageText")[-2:])
        assert (made.pop("chat_id"), made.pop("message_id")) == (first.id, mine[0])
        assert (again.pop("chat_id"), again.pop("message_id")) == (second.id, mine[1])
        assert again == made
        shown = second.messages[-1]
        assert shown.text == "Umfrage 3: Ort der Fachtagung https://example.org"
        assert not shown.link_preview and shown.reply_markup == markup.to_dict()
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_text(second.id, mine[1], text, **arguments)
        with pytest.raises(BadRequest, match="not found"):
            await bot.edit_text(second.id, mine[1] + 99, text, **arguments)
        api.faults.inject("editMessageText", kind="429", retry_after=7)
        with pytest.raises(RetryAfter):
            await bot.edit_text(second.id, mine[1], "zu schnell", **arguments)
    assert second.messages[-1].text == shown.text
