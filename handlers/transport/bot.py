"""python-telegram-bot's `ExtBot` with a send of its own for the outbox and an edit of its own
for the live messages.

The outbox needs nothing of a sent message but its id. `send_message` turns every answer into
a `Message` (`Message.de_json`: about a third of the CPU of an outbox send, for one integer).
`send_text` sends the same request the same way, through PTB's `_post`: its defaults, the rate
limiter (with `rate_limit_args`), the request class, the timeouts and the error mapping
(`RetryAfter`, `Forbidden`, `BadRequest`, `TimedOut`, `NetworkError`) all stay in the path;
only the answer is read as the JSON it is. The keyboard and the link preview options, the same
objects for a whole batch, are serialized once as PTB's request would serialize them (a JSON
string goes into the request as it is) instead of once per recipient. `edit_text` is
`edit_message_text` in the same way for the live messages (a voter's ballot after each press),
which need nothing of the edited message.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, TelegramObject
from telegram.ext import ExtBot
from telegram.request._requestparameter import RequestParameter

# How many serialized objects `send_text` keeps: a batch's keyboards (one per language) and
# the link preview options.
KEEP_SERIALIZED = 16


class TelegramBot(ExtBot[Any]):
    __slots__ = ("_serialized",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():
            # id → (the object, kept so that its id stays its own; its JSON)
            self._serialized: dict[int, tuple[TelegramObject, str | None]] = {}

    def __repr__(self) -> str:
        """The bot's id (public: every chat with it shows it), never python-telegram-bot's
        `Bot[token=…]`, the whole token."""
        return f"TelegramBot[id={self.token.partition(':')[0]}]"

    def _json(self, value: TelegramObject | None) -> str | None:
        """`value` as PTB's request would put it into the form (the JSON of its `to_dict`),
        made once per object while it is among the last `KEEP_SERIALIZED`."""
        if value is None:
            return None
        kept = self._serialized.get(id(value))
        if kept is not None and kept[0] is value:
            return kept[1]
        serialized = RequestParameter.from_input("value", value).json_value
        if len(self._serialized) >= KEEP_SERIALIZED:
            self._serialized.clear()
        self._serialized[id(value)] = (value, serialized)
        return serialized

    async def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        parse_mode: str | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
        disable_notification: bool = False,
        protect_content: bool = False,
        link_preview_options: LinkPreviewOptions | None = None,
        rate_limit_args: Any = None,
    ) -> int:
        """`send_message` with these arguments, returning the sent message's id instead of
        the message. The same `sendMessage` request: ExtBot's keyboard replacement (arbitrary
        callback data), `_post`'s defaults, the rate limiter and the request class."""
        data: dict[str, object] = {
            "chat_id": chat_id,
            "text": text,
            "parse_mode": parse_mode,
            "reply_markup": self._json(self._replace_keyboard(reply_markup)),
            "disable_notification": disable_notification,
            "protect_content": protect_content,
            # With `Defaults`, ExtBot merges their link preview options into these.
            "link_preview_options": (
                self._json(link_preview_options) if self.defaults is None else link_preview_options
            ),
        }
        result = await self._post(
            "sendMessage", data, api_kwargs=self._merge_api_rl_kwargs(None, rate_limit_args)
        )
        return int(result["message_id"])

    async def edit_text(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        parse_mode: str | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
        link_preview_options: LinkPreviewOptions | None = None,
        rate_limit_args: Any = None,
    ) -> None:
        """`edit_message_text` with these arguments, without building the edited `Message`
        from the answer. The same `editMessageText` request through `_post` (with `Defaults`,
        PTB's own method, which merges them)."""
        if self.defaults is not None:
            await self.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=parse_mode,
                reply_markup=reply_markup,
                link_preview_options=link_preview_options,
                rate_limit_args=rate_limit_args,
            )
            return
        data: dict[str, object] = {
            "text": text,
            "chat_id": chat_id,
            "message_id": message_id,
            "parse_mode": parse_mode,
            "reply_markup": self._json(self._replace_keyboard(reply_markup)),
            "link_preview_options": self._json(link_preview_options),
        }
        await self._post(
            "editMessageText", data, api_kwargs=self._merge_api_rl_kwargs(None, rate_limit_args)
        )
