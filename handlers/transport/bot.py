"""python-telegram-bot's `ExtBot` with one send of its own for the outbox.

The outbox needs nothing of a sent message but its id. `send_message` turns every answer into
a `Message` (`Message.de_json`: about a third of the CPU of an outbox send, for one integer).
`send_text` sends the same request the same way, through PTB's `_post`: its defaults, the rate
limiter (with `rate_limit_args`), the request class, the timeouts and the error mapping
(`RetryAfter`, `Forbidden`, `BadRequest`, `TimedOut`, `NetworkError`) all stay in the path;
only the answer is read as the JSON it is.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, LinkPreviewOptions
from telegram.ext import ExtBot


class TelegramBot(ExtBot[Any]):
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
            "reply_markup": self._replace_keyboard(reply_markup),
            "disable_notification": disable_notification,
            "protect_content": protect_content,
            "link_preview_options": link_preview_options,
        }
        result = await self._post(
            "sendMessage", data, api_kwargs=self._merge_api_rl_kwargs(None, rate_limit_args)
        )
        return int(result["message_id"])
