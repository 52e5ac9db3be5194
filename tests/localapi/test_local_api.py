"""The local Bot API behaves like Telegram towards the real PTB library and simulated people."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
import signal
import struct
import sys
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    MessageEntity,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from localapi import FaultKind, LimitModel, LocalBotApi, SimUser
from localapi.faults import Fault, Faults
from localapi.html import entities_to_html, parse_html

TOKEN = "424242:local-api-test-token"
NOT_MODIFIED = (
    "Message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


class FakeClock:
    """Monotonic time that tests advance by hand, for the flood limits."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns unless RetryAfter.retry_after is a timedelta; opt in to the new type."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi(token=TOKEN, bot_username="cora_test_bot", clock=clock) as server:
        yield server


def make_bot(api: LocalBotApi, **request: Any) -> Bot:
    return Bot(
        TOKEN,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        request=HTTPXRequest(connection_pool_size=8, **request),
    )


@pytest.fixture
async def bot(api: LocalBotApi) -> AsyncIterator[Bot]:
    async with make_bot(api) as tg_bot:
        yield tg_bot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, api: LocalBotApi, method: str, **kwargs: Any
) -> tuple[int, Any]:
    """A raw request, to see envelopes exactly as Telegram would send them."""
    async with http.request(
        kwargs.pop("verb", "POST"), f"{api.base_url}{TOKEN}/{method}", **kwargs
    ) as r:
        return r.status, await r.json(content_type=None)


def started_user(api: LocalBotApi, **fields: Any) -> SimUser:
    """A person who has written to the bot, so the bot may write to them."""
    user = api.user(**fields)
    user.send("/start")
    return user


def tiny_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x00" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# --- envelopes and PTB's exception mapping -------------------------------------------


async def test_success_envelope_carries_the_result(
    api: LocalBotApi, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, api, "getMe")
    assert status == 200
    assert body == {
        "ok": True,
        "result": {
            "id": 424242,
            "is_bot": True,
            "first_name": "Cora",
            "username": "cora_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        },
    }


async def test_wrong_token_is_401_and_ptb_raises_invalid_token(
    api: LocalBotApi, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{api.base_url}999:wrong/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    with pytest.raises(InvalidToken):
        async with Bot("999:wrong", base_url=api.base_url):
            pass


async def test_unknown_method_is_404(api: LocalBotApi, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, api, "sendTelepathy", data={"chat_id": "1"})
    assert (status, body) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
    )


async def test_method_names_are_case_insensitive(
    api: LocalBotApi, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, api, "getme")
    assert status == 200 and body["result"]["username"] == "cora_test_bot"
    assert api.calls[-1].method == "getMe"


async def test_bad_request_forbidden_conflict_and_retry_after_map_to_ptb_errors(
    api: LocalBotApi, bot: Bot
) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(1, "hello")
    user = started_user(api)
    user.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(user.id, "hello")
    await bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    api.faults.inject("getMe", kind="429", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.get_me()
    assert caught.value.retry_after == dtm.timedelta(seconds=7)


# --- request parsing and validation ---------------------------------------------------


async def test_form_json_and_query_string_requests_are_converted_to_declared_types(
    api: LocalBotApi, http: aiohttp.ClientSession
) -> None:
    user = started_user(api)
    form = {"chat_id": str(user.id), "text": "form", "disable_notification": "true"}
    status, body = await call(http, api, "sendMessage", data=form)
    assert status == 200 and body["result"]["text"] == "form"
    status, body = await call(
        http, api, "sendMessage", json={"chat_id": user.id, "text": "json", "protect_content": True}
    )
    assert status == 200 and body["result"]["has_protected_content"] is True
    query = {"chat_id": str(user.id), "text": "query"}
    status, body = await call(http, api, "sendMessage", verb="GET", params=query)
    assert status == 200 and body["result"]["text"] == "query"

    first, second, _ = api.calls_to("sendMessage")
    assert first.params == {"chat_id": user.id, "text": "form", "disable_notification": True}
    assert second.params["protect_content"] is True
    assert [m.text for m in user.messages] == ["form", "json", "query"]
    assert [m.disable_notification for m in user.messages] == [True, False, False]


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"chat_id": "1", "text": "x", "colour": "red"}, 'Bad Request: unknown parameter "colour"'),
        ({"chat_id": "1"}, 'Bad Request: parameter "text" is required'),
        (
            {"chat_id": "1", "text": "x", "message_thread_id": "main"},
            'Bad Request: parameter "message_thread_id" must be Integer',
        ),
        (
            {"chat_id": "1", "text": "x", "disable_notification": "maybe"},
            'Bad Request: parameter "disable_notification" must be Boolean',
        ),
        (
            {"chat_id": "1", "text": "x", "reply_markup": "{not json"},
            'Bad Request: parameter "reply_markup" is not valid JSON',
        ),
        (
            {
                "chat_id": "1",
                "text": "x",
                "reply_markup": json.dumps({"inline_keyboard": [[{"text": "a", "data": "b"}]]}),
            },
            'Bad Request: parameter "reply_markup" is invalid: '
            "inline_keyboard[0][0].data is not a field of InlineKeyboardButton",
        ),
        (
            {"chat_id": "1", "text": "x", "entities": json.dumps([{"type": "bold", "offset": 0}])},
            'Bad Request: parameter "entities" is invalid: [0].length is required in MessageEntity',
        ),
    ],
)
async def test_unknown_missing_and_mistyped_parameters_are_rejected(
    api: LocalBotApi, http: aiohttp.ClientSession, params: dict[str, str], description: str
) -> None:
    status, body = await call(http, api, "sendMessage", data=params)
    assert (status, body) == (400, {"ok": False, "error_code": 400, "description": description})


async def test_ptb_gets_bad_request_for_parameters_telegram_does_not_know(
    api: LocalBotApi, bot: Bot
) -> None:
    user = started_user(api)
    with pytest.raises(BadRequest, match=r'(?i)unknown parameter "colour"'):
        await bot.send_message(user.id, "hi", api_kwargs={"colour": "red"})
    assert user.messages == []


async def test_union_objects_are_told_apart_by_their_type(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    await bot.set_my_commands([BotCommand("help", "Hilfe")], scope=BotCommandScopeChat(user.id))
    assert api.commands({"type": "chat", "chat_id": user.id}) == [
        {"command": "help", "description": "Hilfe"}
    ]
    assert api.calls_to("setMyCommands")[0].params["scope"] == {"type": "chat", "chat_id": user.id}


# --- formatting and length limits -----------------------------------------------------


async def test_html_is_parsed_into_text_and_utf16_entities(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    sent = await bot.send_message(
        user.id,
        '😀 <b>Fett <i>kursiv</i></b> <a href="https://example.org/?a=1&amp;b=2">Link</a> '
        "&lt;3 &#228; <tg-spoiler>geheim</tg-spoiler> "
        '<pre><code class="language-py">x=1</code></pre>',
        parse_mode="HTML",
    )
    assert sent.text == "😀 Fett kursiv Link <3 ä geheim x=1"
    assert sent.entities == (
        MessageEntity(MessageEntity.BOLD, 3, 11),
        MessageEntity(MessageEntity.ITALIC, 8, 6),
        MessageEntity(MessageEntity.TEXT_LINK, 15, 4, url="https://example.org/?a=1&b=2"),
        MessageEntity(MessageEntity.SPOILER, 25, 6),
        MessageEntity(MessageEntity.PRE, 32, 3, language="py"),
    )
    assert user.last is not None
    assert user.last.html == (
        '😀 <b>Fett <i>kursiv</i></b> <a href="https://example.org/?a=1&amp;b=2">Link</a> '
        '&lt;3 ä <tg-spoiler>geheim</tg-spoiler> <pre><code class="language-py">x=1</code></pre>'
    )


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", 'unescaped "&" at byte offset 4; write it as &amp;'),
        ("ä <b", "Unclosed start tag at byte offset 3"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_invalid_html_is_rejected(api: LocalBotApi, bot: Bot, html: str, detail: str) -> None:
    user = started_user(api)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(user.id, html, parse_mode="HTML")
    assert api.calls[-1].error == f"Bad Request: can't parse entities: {detail}"
    assert user.messages == []


async def test_markdown_v2_and_markdown_are_parsed_or_rejected(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    sent = await bot.send_message(
        user.id,
        r"*fett* _kursiv_ __unter__ ~weg~ ||sp|| [l](https://e.org) `c` 1\.5",
        parse_mode="MarkdownV2",
    )
    assert sent.text == "fett kursiv unter weg sp l c 1.5"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 4),
        ("italic", 5, 6),
        ("underline", 12, 5),
        ("strikethrough", 18, 3),
        ("spoiler", 22, 2),
        ("text_link", 25, 1),
        ("code", 27, 1),
    ]
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved"):
        await bot.send_message(user.id, "Ende.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)Can't find end of Bold entity at byte offset 0"):
        await bot.send_message(user.id, "*offen", parse_mode="MarkdownV2")
    legacy = await bot.send_message(user.id, "*fett* und [l](https://e.org)", parse_mode="Markdown")
    assert legacy.text == "fett und l"
    assert [e.type for e in legacy.entities] == ["bold", "text_link"]
    with pytest.raises(
        BadRequest, match=r"(?i)Can't find end of the entity starting at byte offset 0"
    ):
        await bot.send_message(user.id, "_offen", parse_mode="Markdown")
    with pytest.raises(BadRequest, match=r"(?i)unsupported parse_mode"):
        await bot.send_message(user.id, "x", parse_mode="BBCode")


async def test_text_length_is_counted_in_utf16_after_parsing(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    await bot.send_message(user.id, "😀" * 2048)  # 4096 UTF-16 code units
    await bot.send_message(user.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(user.id, "😀" * 2048 + "a")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(user.id, "<b></b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(user.id, "  \n ")
    await bot.send_document(user.id, b"x", filename="a.txt", caption="😀" * 512)
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_document(user.id, b"x", filename="a.txt", caption="😀" * 512 + "a")
    assert len(user.messages) == 3


async def test_surrounding_whitespace_is_trimmed_and_entities_follow(
    api: LocalBotApi, bot: Bot
) -> None:
    user = started_user(api)
    sent = await bot.send_message(user.id, "\n  <b>hi</b> there  ", parse_mode="HTML")
    assert sent.text == "hi there"
    assert sent.entities == (MessageEntity(MessageEntity.BOLD, 0, 2),)


def test_entities_render_back_to_the_html_they_came_from() -> None:
    source = (
        '<b>a<i>b</i></b><u>c</u> <tg-emoji emoji-id="5">👍</tg-emoji> <blockquote>q</blockquote>'
    )
    assert entities_to_html(*parse_html(source)) == source
    emoji = "😀 <b>x😀<i>y</i></b> &amp; <u>😀</u>😀"  # offsets count two units per emoji
    assert entities_to_html(*parse_html(emoji)) == emoji


def test_crossing_entities_after_emoji_render_nested() -> None:
    text = "😀a<b> &b😀c"
    entities = [
        {"type": "bold", "offset": 2, "length": 5},
        {"type": "italic", "offset": 4, "length": 5},  # crosses the bold one
        {"type": "code", "offset": 8, "length": 1},
        {"type": "underline", "offset": 1, "length": 1},  # inside the emoji: no character
    ]
    assert entities_to_html(text, entities) == (
        "😀<b>a&lt;<i>b&gt; </i></b><i>&amp;<code>b</code></i>😀c"
    )


@pytest.mark.parametrize(
    ("button", "detail"),
    [
        (InlineKeyboardButton("a", callback_data="x" * 65), "Button_data_invalid"),
        (InlineKeyboardButton("a"), "Text buttons are unallowed in the inline keyboard"),
        (
            InlineKeyboardButton("a", callback_data="x", url="https://e.org"),
            "exactly one of the optional fields must be used",
        ),
        (InlineKeyboardButton("a", url="javascript:alert(1)"), "Wrong HTTP URL"),
    ],
)
async def test_invalid_inline_buttons_are_rejected(
    api: LocalBotApi, bot: Bot, button: InlineKeyboardButton, detail: str
) -> None:
    user = started_user(api)
    with pytest.raises(BadRequest, match=f"(?i){detail}"):
        await bot.send_message(user.id, "x", reply_markup=InlineKeyboardMarkup([[button]]))


async def test_callback_data_is_limited_to_64_bytes_not_characters(
    api: LocalBotApi, bot: Bot
) -> None:
    user = started_user(api)
    await bot.send_message(
        user.id,
        "x",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="ä" * 32)]]),
    )
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(
            user.id,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("a", callback_data="ä" * 32 + "x")]]
            ),
        )


# --- chats and messages ---------------------------------------------------------------


async def test_bot_may_write_only_after_the_person_wrote_first(api: LocalBotApi, bot: Bot) -> None:
    user = api.user(first_name="Mara")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(user.id, "Hallo")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat(user.id)
    user.send("Hallo Bot")
    await bot.send_message(user.id, "Hallo Mara")
    chat = await bot.get_chat(user.id)
    assert (chat.type, chat.first_name) == ("private", "Mara")


async def test_commands_people_send_carry_bot_command_entities(api: LocalBotApi, bot: Bot) -> None:
    user = api.user()
    sent = user.send("/start@cora_test_bot abc /help")
    assert sent["entities"] == [
        {"type": "bot_command", "offset": 0, "length": 20},
        {"type": "bot_command", "offset": 25, "length": 5},
    ]
    (update,) = await bot.get_updates()
    assert update.message is not None
    assert update.message.parse_entities([MessageEntity.BOT_COMMAND]) == {
        MessageEntity(MessageEntity.BOT_COMMAND, 0, 20): "/start@cora_test_bot",
        MessageEntity(MessageEntity.BOT_COMMAND, 25, 5): "/help",
    }
    assert (update.message.from_user.id, update.message.chat.type) == (user.id, "private")


async def test_log_out_and_close_succeed(bot: Bot) -> None:
    assert await bot.log_out() is True
    assert await bot.close() is True


async def test_profile_texts_are_stored_per_language(bot: Bot) -> None:
    await bot.set_my_description("Hilfe bei häuslicher Gewalt")
    await bot.set_my_description("Help against domestic violence", language_code="en")
    await bot.set_my_short_description("Netzwerk")
    assert (await bot.get_my_description("en")).description == "Help against domestic violence"
    assert (await bot.get_my_description("fr")).description == "Hilfe bei häuslicher Gewalt"
    assert (await bot.get_my_short_description()).short_description == "Netzwerk"
    assert (await bot.get_my_name()).name == "Cora"
    with pytest.raises(BadRequest, match=r"(?i)description is too long"):
        await bot.set_my_description("x" * 513)


async def test_message_ids_increase_per_chat(api: LocalBotApi, bot: Bot) -> None:
    ana, ben = started_user(api), started_user(api)
    first = await bot.send_message(ana.id, "1")
    second = await bot.send_message(ana.id, "2")
    other = await bot.send_message(ben.id, "1")
    assert (first.message_id, second.message_id) == (2, 3)  # the /start was message 1
    assert other.message_id == 2
    assert (first.from_user.id, first.chat.id) == (api.bot["id"], ana.id)


async def test_blocked_and_deactivated_people_give_403(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    user.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(user.id, "x")
    with pytest.raises(RuntimeError, match="unblock"):
        user.send("a blocked bot gets nothing")
    user.unblock()
    await bot.send_message(user.id, "welcome back")
    user.deactivate()
    with pytest.raises(Forbidden, match="user is deactivated"):
        await bot.send_message(user.id, "x")
    kinds = [next(k for k in u if k != "update_id") for u in api.world.updates.history]
    assert kinds == ["message", "my_chat_member", "my_chat_member"]
    blocked = api.world.updates.history[1]["my_chat_member"]
    assert blocked["new_chat_member"]["status"] == "kicked"


async def test_notification_and_protection_flags_are_recorded(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    await bot.send_message(user.id, "quiet", disable_notification=True, protect_content=True)
    await bot.send_message(user.id, "loud")
    quiet, loud = user.messages
    assert (quiet.disable_notification, quiet.protect_content) == (True, True)
    assert (loud.disable_notification, loud.protect_content) == (False, False)


async def test_editing_applies_to_the_message_and_removes_an_omitted_keyboard(
    api: LocalBotApi, bot: Bot
) -> None:
    user = started_user(api)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])
    sent = await bot.send_message(user.id, "Frage?", reply_markup=keyboard)
    with pytest.raises(BadRequest, match=NOT_MODIFIED):
        await bot.edit_message_text("Frage?", user.id, sent.message_id, reply_markup=keyboard)
    edited = await bot.edit_message_text(
        "<b>Danke</b>", user.id, sent.message_id, parse_mode="HTML"
    )
    assert edited.reply_markup is None and edited.edit_date is not None
    message = user.messages[0]
    assert (message.text, message.html, message.buttons, message.edits) == (
        "Danke",
        "<b>Danke</b>",
        [],
        1,
    )
    with pytest.raises(BadRequest, match=NOT_MODIFIED):
        await bot.edit_message_reply_markup(user.id, sent.message_id)
    await bot.edit_message_reply_markup(user.id, sent.message_id, reply_markup=keyboard)
    assert message.buttons == [[("Ja", "yes")]]
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", user.id, 999)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", user.id, 1)  # the person's /start


async def test_deleted_messages_stay_flagged(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    sent = await bot.send_message(user.id, "weg damit")
    await bot.send_message(user.id, "bleibt")
    assert await bot.delete_message(user.id, sent.message_id) is True
    assert [(m.text, m.deleted) for m in user.messages] == [("weg damit", True), ("bleibt", False)]
    assert user.last is not None and user.last.text == "bleibt"
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(user.id, sent.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("zurück", user.id, sent.message_id)


async def test_wait_for_sees_messages_arriving_and_edits_that_match(
    api: LocalBotApi, bot: Bot
) -> None:
    user = started_user(api)
    sent = await bot.send_message(user.id, "Bitte warten")
    arriving = asyncio.create_task(user.wait_for("fertig"))
    edited = asyncio.create_task(user.wait_for(lambda m: m.edits > 0))
    await asyncio.sleep(0)
    assert not arriving.done()
    await bot.edit_message_text("fertig", user.id, sent.message_id)
    assert (await arriving).message_id == sent.message_id
    assert (await edited).text == "fertig"
    newer = asyncio.create_task(user.wait_for("fertig", after=user.messages[0]))
    await bot.send_message(user.id, "wieder fertig")
    assert (await newer).text == "wieder fertig"
    with pytest.raises(TimeoutError, match="no bot message matching 'nie'"):
        await user.wait_for("nie", timeout=0.05)


async def test_reply_keyboards_change_the_persons_keyboard(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    sent = await bot.send_message(user.id, "Wähle", reply_markup=ReplyKeyboardMarkup([["A", "B"]]))
    assert sent.reply_markup is None  # Message.reply_markup is for inline keyboards only
    assert user.reply_keyboard == [["A", "B"]]


async def test_reply_to_a_missing_message_is_rejected_unless_allowed(
    api: LocalBotApi, bot: Bot
) -> None:
    user = started_user(api)
    reply = await bot.send_message(user.id, "Antwort", reply_to_message_id=1)
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "/start"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(user.id, "x", reply_to_message_id=99)
    await bot.send_message(user.id, "x", reply_to_message_id=99, allow_sending_without_reply=True)


# --- buttons and callback queries ----------------------------------------------------


async def test_pressing_a_button_sends_a_callback_query_the_bot_answers(
    api: LocalBotApi, bot: Bot
) -> None:
    user = started_user(api)
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Bestätigen", callback_data="ack:7")],
            [InlineKeyboardButton("Web", url="https://e.org")],
        ]
    )
    sent = await bot.send_message(user.id, "Alarm", reply_markup=keyboard)
    assert user.messages[0].buttons == [[("Bestätigen", "ack:7")], [("Web", "https://e.org")]]
    press = user.press("Bestätigen")
    updates = await bot.get_updates(offset=2)
    query = updates[-1].callback_query
    assert query is not None
    assert (query.data, query.from_user.id, query.message.message_id) == (
        "ack:7",
        user.id,
        sent.message_id,
    )
    assert query.message.reply_markup == keyboard and query.chat_instance
    assert await query.answer("Danke!", show_alert=True) is True
    answer = await press.answer(timeout=1)
    assert (answer.text, answer.show_alert) == ("Danke!", True)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345")
    by_data = user.press("ack:7")
    assert by_data.data == "ack:7"
    with pytest.raises(LookupError):
        user.press("Nein")


async def test_forged_callback_data_reaches_the_bot(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    await bot.send_message(
        user.id,
        "x",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]]),
    )
    user.press_raw("admin:delete_all", user.messages[0])
    updates = await bot.get_updates()
    assert updates[-1].callback_query is not None
    assert updates[-1].callback_query.data == "admin:delete_all"


async def test_unanswered_press_times_out(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    await bot.send_message(
        user.id,
        "x",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]]),
    )
    press = user.press("a")
    with pytest.raises(TimeoutError, match="did not answer"):
        await user.wait_for_answer(press, timeout=0.05)


# --- files, polls, commands and other methods -----------------------------------------


async def test_documents_and_photos_keep_their_bytes(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    sent = await bot.send_document(user.id, b"a;b\n1;2\n", filename="export.csv", caption="Export")
    assert sent.document is not None and sent.document.file_name == "export.csv"
    document = user.messages[0].document
    assert document is not None
    assert (document.file_name, document.data, document.mime_type) == (
        "export.csv",
        b"a;b\n1;2\n",
        "text/csv",
    )
    assert user.messages[0].text == "Export"
    again = await bot.send_document(user.id, sent.document.file_id)
    assert again.document is not None and again.document.file_id == sent.document.file_id
    png = tiny_png(3, 2)
    photo = await bot.send_photo(user.id, png, caption="Bild")
    assert (photo.photo[-1].width, photo.photo[-1].height) == (3, 2)
    assert (user.messages[-1].photo, user.messages[-1].text) == (png, "Bild")
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(user.id, b"not an image")
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_document(user.id, "no-such-file-id")


async def test_the_bot_can_download_a_file_a_person_sent(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    user.send_document(b"%PDF-1.4", "report.pdf", caption="Bericht")
    updates = await bot.get_updates()
    document = updates[-1].message.document
    assert document is not None and document.mime_type == "application/pdf"
    file = await bot.get_file(document.file_id)
    assert await file.download_as_bytearray() == bytearray(b"%PDF-1.4")


async def test_polls_collect_votes_and_can_be_stopped(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    sent = await bot.send_poll(user.id, "Termin?", ["Mo", "Di"], is_anonymous=False)
    user.vote(user.messages[0], 1)
    updates = await bot.get_updates(offset=2)
    answer = next(u.poll_answer for u in updates if u.poll_answer)
    assert (answer.poll_id, answer.option_ids, answer.user.id) == (sent.poll.id, (1,), user.id)
    stopped = await bot.stop_poll(user.id, sent.message_id)
    assert stopped.is_closed and [o.voter_count for o in stopped.options] == [0, 1]
    with pytest.raises(BadRequest, match="Poll has already been closed"):
        await bot.stop_poll(user.id, sent.message_id)
    with pytest.raises(BadRequest, match="Poll must have 2-12 options"):
        await bot.send_poll(user.id, "Nur eins?", ["ja"])


async def test_commands_are_stored_per_scope_and_language(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api, language_code="en")
    await bot.set_my_commands([BotCommand("start", "Starten")])
    await bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
    await bot.set_my_commands(
        [BotCommand("alert", "Alarm")], scope=BotCommandScopeAllPrivateChats()
    )
    assert api.commands() == [{"command": "start", "description": "Starten"}]
    assert api.commands(language_code="en") == [{"command": "start", "description": "Start"}]
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats()) == (
        BotCommand("alert", "Alarm"),
    )
    assert api.commands_shown_to(user) == [{"command": "alert", "description": "Alarm"}]
    await bot.delete_my_commands(scope=BotCommandScopeAllPrivateChats())
    assert api.commands_shown_to(user) == [{"command": "start", "description": "Start"}]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "x")])


async def test_menu_button_and_chat_actions_are_recorded(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    await bot.set_chat_menu_button(user.id, MenuButtonCommands())
    assert api.menu_button(user.id) == {"type": "commands"}
    assert await bot.get_chat_menu_button(user.id) == MenuButtonCommands()
    await bot.send_chat_action(user.id, "typing")
    assert user.chat_actions == ["typing"]
    with pytest.raises(BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(user.id, "dancing")


async def test_groups_show_the_bot_only_commands_and_replies_in_privacy_mode(
    api: LocalBotApi, bot: Bot
) -> None:
    group = api.group("Netzwerk HRO")
    ana = api.user(first_name="Ana")
    group.send(ana, "Guten Morgen")
    group.send(ana, "/status@cora_test_bot")
    group.send(ana, "/status@other_bot")
    sent = await bot.send_message(group.id, "Alles ruhig")
    group.send(ana, "Danke", reply_to=group.messages[0])
    texts = [u.message.text for u in await bot.get_updates() if u.message]
    assert texts == ["/status@cora_test_bot", "Danke"]
    assert sent.chat.type == "group" and sent.chat.id < 0
    assert [m.text for m in group.messages] == ["Alles ruhig"]


# --- getUpdates and webhooks ----------------------------------------------------------


async def test_get_updates_confirms_by_offset_and_respects_limit(
    api: LocalBotApi, bot: Bot
) -> None:
    user = api.user()
    for text in ("eins", "zwei", "drei"):
        user.send(text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first] == ["eins", "zwei"]
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest] == ["drei"]
    assert await bot.get_updates(offset=rest[-1].update_id + 1) == ()
    assert api.pending_updates == []


async def test_long_polling_returns_as_soon_as_an_update_arrives(
    api: LocalBotApi, bot: Bot
) -> None:
    user = api.user()
    loop = asyncio.get_running_loop()
    started = loop.time()
    polling = asyncio.create_task(bot.get_updates(timeout=10))
    await api.wait_until_polling()
    user.send("jetzt")
    updates = await polling
    assert [u.message.text for u in updates] == ["jetzt"]
    assert loop.time() - started < 2


async def test_allowed_updates_filters_new_updates(api: LocalBotApi, bot: Bot) -> None:
    user = api.user()
    await bot.get_updates(allowed_updates=["callback_query"])
    user.send("wird nicht zugestellt")
    assert api.pending_updates == []
    await bot.get_updates(allowed_updates=[])
    user.send("wieder da")
    assert [u.message.text for u in await bot.get_updates()] == ["wieder da"]


async def test_a_second_get_updates_terminates_the_waiting_one(api: LocalBotApi) -> None:
    async with make_bot(api) as first, make_bot(api) as second:
        waiting = asyncio.create_task(first.get_updates(timeout=10))
        await api.wait_until_polling()
        assert await second.get_updates() == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await waiting


async def test_setting_a_webhook_terminates_a_waiting_get_updates(api: LocalBotApi) -> None:
    async with make_bot(api) as poller, make_bot(api) as admin:
        waiting = asyncio.create_task(poller.get_updates(timeout=10))
        await api.wait_until_polling()
        await admin.set_webhook("https://example.org/hook")
        with pytest.raises(Conflict, match="terminated by setWebhook request"):
            await waiting
        await admin.delete_webhook()


async def test_webhook_gets_updates_with_the_secret_and_retries_failures(
    api: LocalBotApi, bot: Bot
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        if len(received) == 1:
            return web.Response(status=500)
        arrived.set()
        return web.Response()

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        user = api.user()
        user.send("vorher")
        await bot.set_webhook(url, secret_token="s3cr3t", drop_pending_updates=True)
        user.send("Hallo Hook")
        await asyncio.wait_for(arrived.wait(), 5)
        await api.wait_until_no_pending_updates()
        assert [secret for secret, _ in received] == ["s3cr3t", "s3cr3t"]
        assert received[0][1] == received[1][1]
        update = Update.de_json(received[1][1], bot)
        assert update.message is not None and update.message.text == "Hallo Hook"
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count) == (url, 0)
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )
        assert [a.status for a in api.webhook_attempts] == [500, 200]
        await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
    finally:
        await runner.cleanup()


async def test_invalid_webhook_settings_are_rejected(api: LocalBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)https url must be provided"):
        await bot.set_webhook("ftp://example.org/hook")
    with pytest.raises(BadRequest, match="Secret token contains unallowed characters"):
        await bot.set_webhook("https://example.org/hook", secret_token="nicht erlaubt!")


# --- a real PTB Application ---------------------------------------------------------


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeat what the person wrote."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"Echo: {update.effective_message.text}")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet with a button."""
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Weiter", callback_data="next")]])
    await update.effective_message.reply_text("Willkommen", reply_markup=keyboard)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the press and edit the message."""
    query = update.callback_query
    assert query is not None
    await query.answer("Los geht's")
    await query.edit_message_text("Weiter geht's")


@pytest.fixture
async def echo_app(api: LocalBotApi) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .connection_pool_size(4)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=dtm.timedelta(seconds=5))
        yield app
        await app.updater.stop()
        await app.stop()


async def test_a_polling_application_echoes_and_handles_presses(
    api: LocalBotApi, echo_app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    user = api.user(first_name="Lea")
    user.send("Hallo")
    assert (await user.wait_for("Echo")).text == "Echo: Hallo"
    user.send("/start")
    welcome = await user.wait_for("Willkommen")
    press = user.press("Weiter")
    answer = await press.answer()
    assert answer.text == "Los geht's"
    assert (await user.wait_for("Weiter geht's")).message_id == welcome.message_id
    assert welcome.buttons == []


# --- flood limits ---------------------------------------------------------------------


async def test_more_than_a_burst_per_chat_gets_retry_after(
    api: LocalBotApi, bot: Bot, clock: FakeClock
) -> None:
    api.enforce_limits = True
    user = started_user(api)
    for index in range(3):
        await bot.send_message(user.id, f"{index}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(user.id, "zu viel")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("auch Bearbeiten zählt", user.id, 2)
    clock.advance(1.0)
    await bot.send_message(user.id, "wieder erlaubt")
    assert [(h.method, h.chat_id, h.retry_after) for h in api.rate_limited] == [
        ("sendMessage", user.id, 1),
        ("editMessageText", user.id, 1),
    ]
    assert [c.status for c in api.calls_to("sendMessage")] == [200, 200, 200, 429, 200]
    api.enforce_limits = False
    for index in range(5):
        await bot.send_message(user.id, f"frei {index}")


async def test_overall_limit_of_30_per_second(api: LocalBotApi, bot: Bot, clock: FakeClock) -> None:
    api.enforce_limits = True
    users = [started_user(api) for _ in range(31)]
    for user in users[:30]:
        await bot.send_message(user.id, "Rundruf")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(users[30].id, "Rundruf")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)


async def test_strict_limits_allow_30_in_any_sliding_second_and_no_more(
    api: LocalBotApi, bot: Bot, clock: FakeClock
) -> None:
    api.enforce_limits = True
    api.limits.model = "strict"
    users = [started_user(api) for _ in range(62)]
    for user in users[:30]:
        await bot.send_message(user.id, "Rundruf")
    # A bucket would have refilled 15 of its 30 tokens after half a second; the window has not
    # moved: the 30 messages of the last second still count.
    clock.advance(0.5)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(users[30].id, "Rundruf")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    # One second after the first burst it has left the window: 30 more, not 59.
    clock.advance(0.5)
    for user in users[30:60]:
        await bot.send_message(user.id, "Rundruf")
    with pytest.raises(RetryAfter):
        await bot.send_message(users[60].id, "Rundruf")
    assert [(h.method, h.retry_after) for h in api.rate_limited] == [("sendMessage", 1)] * 2
    assert len(api.delivered) == 60

    # The same pattern under the bucket: a burst of 30 and 15 more half a second later.
    api.limits.model = "bucket"
    clock.advance(5.0)
    for user in users[:30]:
        await bot.send_message(user.id, "Eimer")
    clock.advance(0.5)
    for user in users[30:45]:
        await bot.send_message(user.id, "Eimer")
    assert len(api.rate_limited) == 2


async def test_strict_limits_allow_one_message_per_chat_in_any_second_edits_included(
    api: LocalBotApi, bot: Bot, clock: FakeClock
) -> None:
    api.enforce_limits = True
    api.limits.model = "strict"
    user = started_user(api)
    first = await bot.send_message(user.id, "eins")
    clock.advance(0.9)
    with pytest.raises(RetryAfter):
        await bot.send_message(user.id, "zwei")  # a bucket would allow a burst of 3
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("eins, bearbeitet", user.id, first.message_id)
    clock.advance(0.1)
    await bot.edit_message_text("eins, bearbeitet", user.id, first.message_id)
    assert user.messages[-1].text == "eins, bearbeitet"
    assert [(h.method, h.chat_id) for h in api.rate_limited] == [
        ("sendMessage", user.id),
        ("editMessageText", user.id),
    ]


async def test_strict_limits_count_edits_against_the_overall_window(
    api: LocalBotApi, bot: Bot, clock: FakeClock
) -> None:
    api.enforce_limits = True
    api.limits.model = "strict"
    api.limits.per_second = 5
    api.limits.reset()
    users = [started_user(api) for _ in range(6)]
    sent = [await bot.send_message(user.id, "Lage") for user in users[:3]]
    clock.advance(1.0)
    for user, message in zip(users[:3], sent, strict=True):
        await bot.edit_message_text("Lage, aktualisiert", user.id, message.message_id)
    await bot.send_message(users[3].id, "Lage")
    await bot.send_message(users[4].id, "Lage")
    with pytest.raises(RetryAfter):  # three edits and two messages fill the second
        await bot.send_message(users[5].id, "Lage")


@pytest.mark.parametrize("model", ["bucket", "strict"])
async def test_sending_spaced_at_30_per_second_never_hits_either_model(
    api: LocalBotApi, bot: Bot, clock: FakeClock, model: LimitModel
) -> None:
    api.enforce_limits = True
    api.limits.model = model
    users = [started_user(api) for _ in range(40)]
    for round_ in range(2):
        for user in users:
            await bot.send_message(user.id, f"Runde {round_}")
            clock.advance(1 / 30)
    assert api.rate_limited == []
    assert len(api.delivered) == 80


# --- faults ---------------------------------------------------------------------------


async def test_injected_errors_are_answered_without_doing_the_work(
    api: LocalBotApi, bot: Bot, http: aiohttp.ClientSession
) -> None:
    user = started_user(api)
    api.faults.inject("sendMessage", kind="429", retry_after=3)
    api.faults.inject("sendMessage", kind="500")
    api.faults.inject("sendMessage", kind="502")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(user.id, "1")
    assert caught.value.retry_after == dtm.timedelta(seconds=3)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(user.id, "2")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(user.id, "3")
    assert user.messages == []
    await bot.send_message(user.id, "4")
    assert [m.text for m in user.messages] == ["4"]
    assert [(c.status, c.fault) for c in api.calls_to("sendMessage")] == [
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (200, None),
    ]


async def test_bad_gateway_is_an_html_page_like_a_real_proxy(
    api: LocalBotApi, http: aiohttp.ClientSession
) -> None:
    api.faults.inject("getMe", kind="502")
    async with http.post(f"{api.base_url}{TOKEN}/getMe") as response:
        assert response.status == 502
        assert response.content_type == "text/html"
        assert "502 Bad Gateway" in await response.text()


async def test_a_read_timeout_still_delivers_the_message(api: LocalBotApi) -> None:
    user = started_user(api)
    api.faults.timeout_delay = 2.0
    api.faults.inject("sendMessage", kind="timeout")
    async with make_bot(api, read_timeout=0.2) as slow_client:
        with pytest.raises(TimedOut):
            await slow_client.send_message(user.id, "doppelt?")
        await slow_client.send_message(user.id, "doppelt?")  # the retry a client would make
    assert Counter(m.text for m in api.delivered) == {"doppelt?": 2}
    assert api.calls_to("sendMessage")[0].fault == "timeout"


async def test_dropped_connections_before_and_after_processing(api: LocalBotApi, bot: Bot) -> None:
    user = started_user(api)
    api.faults.inject("sendMessage", kind="drop")
    with pytest.raises(NetworkError):
        await bot.send_message(user.id, "verloren")
    assert user.messages == []
    api.faults.inject("sendMessage", kind="drop_after")
    with pytest.raises(NetworkError):
        await bot.send_message(user.id, "angekommen")
    assert [m.text for m in user.messages] == ["angekommen"]
    assert [(c.status, c.fault) for c in api.calls_to("sendMessage")] == [
        (0, "drop"),
        (200, "drop_after"),
    ]


async def test_faults_for_any_method_spare_get_updates(api: LocalBotApi, bot: Bot) -> None:
    api.faults.inject(kind="500", count=2)
    assert await bot.get_updates() == ()
    with pytest.raises(NetworkError):
        await bot.get_me()
    with pytest.raises(NetworkError):
        await bot.get_me()
    assert (await bot.get_me()).username == "cora_test_bot"


async def _faults_seen(seed: int) -> list[str | None]:
    async with LocalBotApi(token=TOKEN) as server:
        user = started_user(server)
        kinds: dict[FaultKind, float] = {"429": 1, "500": 1, "502": 1, "drop": 1, "drop_after": 1}
        async with make_bot(server) as client:
            server.faults.profile(rate=0.5, seed=seed, kinds=kinds)
            for index in range(30):
                with contextlib.suppress(NetworkError, RetryAfter):
                    await client.send_message(user.id, f"{index}")
        retry_after = [h.fault.retry_after for h in server.faults.hits if h.fault.kind == "429"]
        assert all(1 <= seconds <= 5 for seconds in retry_after)
        return [c.fault for c in server.calls_to("sendMessage")]


async def test_a_seeded_fault_profile_is_reproducible() -> None:
    first, again, other = await _faults_seen(7), await _faults_seen(7), await _faults_seen(8)
    assert first == again
    assert first != other
    assert 5 <= sum(kind is not None for kind in first) <= 25
    assert {"429", "500", "502", "drop", "drop_after"} >= {k for k in first if k}


def test_a_profiles_retry_after_can_be_capped_and_faults_the_same_calls() -> None:
    """Tests cap a 429's retry_after at 1 s; the seed still draws the same faults."""

    def drawn(**cap: int) -> list[Fault | None]:
        faults = Faults()
        faults.profile(rate=0.5, seed=3, **cap)
        return [faults.draw("sendMessage") for _ in range(200)]

    usual, capped = drawn(), drawn(max_retry_after=1)
    assert [f and f.kind for f in usual] == [f and f.kind for f in capped]
    assert max(f.retry_after for f in usual if f and f.kind == "429") > 1
    assert {f.retry_after for f in capped if f and f.kind == "429"} == {1}
    with pytest.raises(ValueError, match="at least 1"):
        Faults().profile(max_retry_after=0)


# --- the call log ---------------------------------------------------------------------


async def test_every_call_is_recorded_with_converted_params(
    api: LocalBotApi, bot: Bot, clock: FakeClock
) -> None:
    user = started_user(api)
    await bot.send_message(user.id, "eins")
    clock.advance(0.5)
    with pytest.raises(BadRequest):
        await bot.send_message(user.id, "")
    ok, failed = api.calls_to("sendMessage")
    assert ok.params == {"chat_id": user.id, "text": "eins"}
    assert ok.ok and ok.result["text"] == "eins" and ok.error is None
    assert (failed.status, failed.error) == (400, "Bad Request: message text is empty")
    assert failed.time - ok.time == 0.5
    assert [c.method for c in api.calls] == ["getMe", "sendMessage", "sendMessage"]


# --- the /_sim control API ------------------------------------------------------------


async def test_control_api_drives_a_person_through_http(
    api: LocalBotApi, bot: Bot, http: aiohttp.ClientSession
) -> None:
    sim = f"{api.url}/_sim"
    async with http.post(f"{sim}/users", json={"first_name": "Jo", "username": "jo_hro"}) as r:
        assert r.status == 201
        person = await r.json()
    assert person["first_name"] == "Jo" and person["started"] is False
    async with http.get(f"{sim}/users") as r:
        assert [u["id"] for u in await r.json()] == [person["id"]]
    async with http.post(f"{sim}/users/{person['id']}/messages", json={"text": "/start"}) as r:
        assert r.status == 201 and (await r.json())["text"] == "/start"

    updates = await bot.get_updates()
    assert updates[-1].message.text == "/start"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
    sent = await bot.send_message(
        person["id"], "<i>Hallo</i>", parse_mode="HTML", reply_markup=keyboard
    )
    async with http.get(f"{sim}/users/{person['id']}/messages") as r:
        messages = await r.json()
    assert [(m["from_bot"], m["html"]) for m in messages] == [
        (False, "/start"),
        (True, "<i>Hallo</i>"),
    ]
    assert messages[1]["buttons"] == [[{"text": "OK", "value": "ok"}]]

    async with http.post(f"{sim}/users/{person['id']}/press", json={"button": "OK"}) as r:
        assert r.status == 201
        pressed_ = await r.json()
    assert pressed_["message_id"] == sent.message_id
    updates = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert updates[-1].callback_query.id == pressed_["callback_query_id"]

    async with http.post(f"{sim}/users/{person['id']}/block") as r:
        assert (await r.json())["blocked"] is True
    with pytest.raises(Forbidden):
        await bot.send_message(person["id"], "x")
    async with http.post(f"{sim}/users/999/messages", json={"text": "x"}) as r:
        assert r.status == 404
    async with http.post(f"{sim}/users/{person['id']}/press", json={"button": "Nope"}) as r:
        assert r.status == 404


async def test_control_api_long_poll_reports_new_and_edited_messages(
    api: LocalBotApi, bot: Bot, http: aiohttp.ClientSession
) -> None:
    user = started_user(api)
    async with http.get(f"{api.url}/_sim/events", params={"after": "0"}) as r:
        backlog = await r.json()
    assert [e["kind"] for e in backlog["events"]] == ["message"]

    async def next_events() -> dict[str, Any]:
        params = {"after": str(backlog["last"]), "timeout": "5"}
        async with http.get(f"{api.url}/_sim/events", params=params) as r:
            result: dict[str, Any] = await r.json()
            return result

    waiting = asyncio.create_task(next_events())
    sent = await bot.send_message(user.id, "neu")
    fresh = await waiting
    assert [(e["kind"], e["message"]["text"]) for e in fresh["events"]] == [("message", "neu")]
    await bot.edit_message_text("geändert", user.id, sent.message_id)
    async with http.get(f"{api.url}/_sim/events", params={"after": str(fresh["last"])}) as r:
        edits = (await r.json())["events"]
    assert [(e["kind"], e["message"]["text"], e["message"]["edits"]) for e in edits] == [
        ("edit", "geändert", 1)
    ]


async def test_control_api_streams_server_sent_events(
    api: LocalBotApi, bot: Bot, http: aiohttp.ClientSession
) -> None:
    user = started_user(api)
    async with http.get(f"{api.url}/_sim/events/stream", headers={"Last-Event-ID": "1"}) as stream:
        assert stream.content_type == "text/event-stream"
        await bot.send_message(user.id, "live")
        lines: list[str] = []
        while len(lines) < 3:
            line = (await asyncio.wait_for(stream.content.readline(), 5)).decode().rstrip("\n")
            if line:
                lines.append(line)
    assert lines[0] == "id: 2" and lines[1] == "event: message"
    assert json.loads(lines[2].removeprefix("data: "))["message"]["text"] == "live"


async def test_control_api_creates_many_people_who_have_started_the_chat(
    api: LocalBotApi, bot: Bot, http: aiohttp.ClientSession
) -> None:
    body = {"count": 3, "first_name": "Mitglied", "started": True}
    async with http.post(f"{api.url}/_sim/users/bulk", json=body) as r:
        assert r.status == 201
        ids = (await r.json())["ids"]
    assert [api.get_user(i).first_name for i in ids] == ["Mitglied 1", "Mitglied 2", "Mitglied 3"]
    await bot.send_message(ids[2], "Hallo")  # no /start needed: they have started the chat
    async with http.post(f"{api.url}/_sim/users", json={"started": True}) as r:
        assert (await r.json())["started"] is True
    for wrong in (
        {"count": 0},
        {"count": "3"},
        {"count": 2, "age": 40},
        {"count": 2, "first_name": ""},
    ):
        async with http.post(f"{api.url}/_sim/users/bulk", json=wrong) as r:
            assert r.status == 400, wrong


async def test_control_api_reports_calls_and_delivered_messages_per_chat(
    api: LocalBotApi, bot: Bot, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    first, second = started_user(api), started_user(api)
    await bot.send_message(first.id, "F-2026-0001 Lage")
    clock.advance(0.5)
    await bot.send_message(second.id, "F-2026-0001 Lage")
    await bot.send_message(second.id, "F-2026-0002 Andere Lage")
    api.enforce_limits = True
    api.limits.chat_burst = 1
    api.limits.reset()
    await bot.send_message(first.id, "eins")
    with pytest.raises(RetryAfter):
        await bot.send_message(first.id, "zwei")

    async with http.get(f"{api.url}/_sim/stats", params={"containing": "F-2026-0001"}) as r:
        stats = await r.json()
    assert stats["delivered"] == {str(first.id): 1, str(second.id): 1}
    assert stats["calls"]["sendMessage"] == {"200": 4, "429": 1}
    assert stats["rate_limited"] == 1 and stats["time"] == clock.now

    async with http.get(f"{api.url}/_sim/calls", params={"method": "sendMessage"}) as r:
        log = await r.json()
    sends = log["calls"]
    assert [(c["chat_id"], c["status"]) for c in sends] == [
        (first.id, 200),
        (second.id, 200),
        (second.id, 200),
        (first.id, 200),
        (first.id, 429),
    ]
    assert sends[1]["time"] - sends[0]["time"] == 0.5
    assert sends[0]["message_id"] == first.messages[0].message_id
    assert log["last"] == len(api.calls)
    async with http.get(f"{api.url}/_sim/calls", params={"after": str(sends[-1]["seq"])}) as r:
        assert (await r.json())["calls"] == []


async def test_control_api_calls_tell_which_updates_get_updates_handed_out(
    api: LocalBotApi, bot: Bot, http: aiohttp.ClientSession
) -> None:
    user = api.user()
    user.send("/start")
    user.send("/help")
    updates = await bot.get_updates()
    async with http.get(f"{api.url}/_sim/calls", params={"method": "getUpdates"}) as r:
        [call] = (await r.json())["calls"]
    assert call["update_ids"] == [u.update_id for u in updates]


async def test_control_api_calls_tie_a_press_to_its_update_and_its_answer(
    api: LocalBotApi, bot: Bot, http: aiohttp.ClientSession
) -> None:
    user = started_user(api)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
    await bot.send_message(user.id, "Bitte bestätigen", reply_markup=keyboard)
    async with http.post(f"{api.url}/_sim/users/{user.id}/press", json={"button": "OK"}) as r:
        pressed_ = await r.json()
    *_, update = await bot.get_updates()
    assert pressed_["update_id"] == update.update_id
    await bot.answer_callback_query(update.callback_query.id)
    async with http.get(f"{api.url}/_sim/calls") as r:
        calls = (await r.json())["calls"]
    [handed] = [c for c in calls if c["method"] == "getUpdates"]
    [answer] = [c for c in calls if c["method"] == "answerCallbackQuery"]
    assert handed["update_ids"][-1] == pressed_["update_id"]
    assert answer["callback_query_id"] == pressed_["callback_query_id"]


async def test_the_fake_serves_from_a_process_of_its_own_until_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "localapi",
        "serve",
        "--port",
        "0",
        "--token",
        TOKEN,
        "--limits",
        "strict",
        "--per-second",
        "20",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        url = line.split("listening on ")[1].split()[0]
        async with Bot(TOKEN, base_url=f"{url}/bot") as remote:
            assert (await remote.get_me()).username == "cora_test_bot"
        async with aiohttp.ClientSession() as http, http.get(f"{url}/_sim/stats") as r:
            stats = await r.json()
        assert stats["rate_limited"] == 0
        assert stats["limits"] == {"enabled": True, "model": "strict", "per_second": 20}
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0
    assert "(limits strict 20/s)" in line
