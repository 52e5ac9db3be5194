"""Reply markup checked as Telegram does: one action per inline button, valid reply keyboards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from localapi.errors import bad_request

JsonDict = dict[str, Any]

BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
MAX_BUTTONS = 100
MAX_CALLBACK_DATA = 64


@dataclass(frozen=True)
class Markup:
    """An inline keyboard goes on the message; the other kinds change the chat's keyboard."""

    inline: JsonDict | None = None
    chat_keyboard: JsonDict | None = None


def check_inline_keyboard(markup: JsonDict | None) -> JsonDict | None:
    """Validate; an empty keyboard means no keyboard, as in Telegram's answers."""
    if markup is None:
        return None
    rows = markup["inline_keyboard"]
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            _check_button(button)
    return markup if any(rows) else None


def _check_button(button: JsonDict) -> None:
    if not button["text"].strip():
        raise bad_request("can't parse inline keyboard button: text must be non-empty")
    actions = [key for key in BUTTON_ACTIONS if key in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used, "
            f"got {', '.join(actions)}"
        )
    data = button.get("callback_data")
    if data is not None and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "tg") or not parts.netloc:
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def check_markup(markup: JsonDict | None) -> Markup:
    if markup is None:
        return Markup()
    if "inline_keyboard" in markup:
        return Markup(inline=check_inline_keyboard(markup))
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not any(rows):
            raise bad_request("keyboard must be non-empty")
        for row in rows:
            for button in row:
                if not button["text"].strip():
                    raise bad_request("keyboard button text must be non-empty")
    return Markup(chat_keyboard=markup)
