"""Messages kept up to date in place (a poll's overview, a member's answers, an announcement's
read status): changes mark a key dirty, and each key is edited at most once per interval, so a
busy poll never runs into Telegram's edit limits. Each message names its reader, and only an
active member's messages are sent or edited: after revocation, erasure or leaving, nothing
more reaches the person this way."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import KW_ONLY, dataclass, field

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, TelegramError

from bot.membership import MemberView
from handlers.common.render import HTML, NO_PREVIEW
from handlers.transport.bot import TelegramBot
from handlers.transport.ratelimit import Lane, Pace
from handlers.transport.worker import Worker

log = logging.getLogger(__name__)
# Status messages wait behind urgent deliveries (a few seconds at most), not behind replies.
_ROUTINE = Pace(Lane.ROUTINE)


@dataclass(frozen=True)
class LiveMessage:
    """What one message should show now, to whom. Without a message id it is sent, and
    `store` remembers the new id (an overview is sent once, then only edited)."""

    reader: MemberView  # as loaded for this refresh: whose chat the message is in
    chat_id: int
    message_id: int | None
    text: str
    markup: InlineKeyboardMarkup | None = None
    store: Callable[[int], Awaitable[None]] | None = None


Refresh = Callable[[Hashable], Awaitable[list[LiveMessage]]]


def owned_message(
    owner: MemberView | None,
    stored: tuple[int | None, int | None],
    show: Callable[[str], tuple[str, InlineKeyboardMarkup | None]],
    store: Callable[[int, int], Awaitable[None]],
    *,
    default_language: str,
) -> list[LiveMessage]:
    """The one message its owner keeps in their chat (a sender's status, a creator's overview):
    `stored` is its (chat id, message id) once sent, `show(language)` its text and buttons, and
    `store(chat_id, message_id)` remembers where it was sent. None without an owner or a chat."""
    chat_id = stored[0] or (owner.chat_id if owner else None)
    if owner is None or chat_id is None:
        return []
    text, markup = show(owner.language or default_language)

    async def remember(message_id: int) -> None:
        await store(chat_id, message_id)

    return [LiveMessage(owner, chat_id, stored[1], text, markup, remember)]


@dataclass(eq=False)
class LiveMessages(Worker):
    """Shows the live messages of dirty keys, each key at most once per `min_interval`."""

    task_name = "live-messages"
    bot: TelegramBot
    refresh: Refresh
    _: KW_ONLY
    min_interval: float = 3.0
    # What the messages last shown show (a fingerprint each, by chat and message id), so that
    # an unchanged message is not edited again; the least recently shown are forgotten first.
    remembered: int = 10_000
    _dirty: set[Hashable] = field(default_factory=set, init=False)
    _last_edit: dict[Hashable, float] = field(default_factory=dict, init=False)
    _shown: OrderedDict[tuple[int, int], bytes] = field(default_factory=OrderedDict, init=False)
    _settled: asyncio.Event = field(default_factory=asyncio.Event, init=False)  # all shown

    def __post_init__(self) -> None:
        self._settled.set()

    def touch(self, keys: Iterable[Hashable]) -> None:
        before = len(self._dirty)
        self._dirty.update(keys)
        if len(self._dirty) != before:
            self._settled.clear()
            self._wake.set()

    async def settled(self) -> None:
        """Return once every change touched so far is shown (or found not to be shown)."""
        await self._settled.wait()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self._show_ready()
            if not self._dirty:
                self._settled.set()
            if self._stopping:
                break
            self._forget_old()
            waits = [
                self.min_interval - (time.monotonic() - self._last_edit.get(k, -1e9))
                for k in self._dirty
            ]
            await self._wait(max(0.05, min(waits)) if waits else None)

    async def _show_ready(self) -> None:
        """Show every dirty key whose last edit is at least `min_interval` ago."""
        now = time.monotonic()
        ready = [k for k in self._dirty if now - self._last_edit.get(k, -1e9) >= self.min_interval]
        for key in ready:
            self._dirty.discard(key)
            try:
                await self._update(key)
            except Exception:
                log.exception("could not refresh live message %s", key)
            self._last_edit[key] = time.monotonic()

    def _forget_old(self) -> None:
        """Keep memory bounded in a long-running bot: quiet keys need no history."""
        now = time.monotonic()
        for key in [k for k, at in self._last_edit.items() if now - at > self.min_interval]:
            if key not in self._dirty:
                del self._last_edit[key]

    async def _update(self, key: Hashable) -> None:
        for message in await self.refresh(key):
            if not message.reader.is_active:
                log.debug("live message %s not shown: its reader is no longer a member", key)
            elif message.message_id is None:
                await self._send(message)
            elif self._shown.get(where := (message.chat_id, message.message_id)) == _fingerprint(
                message
            ):
                self._shown.move_to_end(where)  # unchanged: no edit, and kept the longest
            else:
                await self._edit(key, message, message.message_id)

    async def _send(self, message: LiveMessage) -> None:
        sent = await self.bot.send_message(
            message.chat_id,
            message.text,
            parse_mode=HTML,
            reply_markup=message.markup,
            link_preview_options=NO_PREVIEW,
            rate_limit_args=_ROUTINE,
        )
        if message.store is not None:
            await message.store(sent.message_id)
        self._remember((message.chat_id, sent.message_id), message)

    async def _edit(self, key: Hashable, message: LiveMessage, message_id: int) -> None:
        try:
            await self.bot.edit_text(
                message.chat_id,
                message_id,
                message.text,
                parse_mode=HTML,
                reply_markup=message.markup,
                link_preview_options=NO_PREVIEW,
                rate_limit_args=_ROUTINE,
            )
        except BadRequest as error:
            if "not modified" not in error.message:
                log.warning("live message %s not edited: %s", key, error.message)
        except TelegramError as error:
            log.warning("live message %s not edited: %s", key, error)
            self._dirty.add(key)  # try again at the next round
            return
        self._remember((message.chat_id, message_id), message)

    def _remember(self, where: tuple[int, int], message: LiveMessage) -> None:
        self._shown[where] = _fingerprint(message)
        self._shown.move_to_end(where)
        while len(self._shown) > self.remembered:
            self._shown.popitem(last=False)  # shown again, it is edited once even if unchanged


def _fingerprint(message: LiveMessage) -> bytes:
    """A digest of what the message shows: thousands of ballots are remembered by 16 bytes
    each rather than by their text and buttons."""
    digest = hashlib.blake2b(message.text.encode(), digest_size=16)
    if message.markup is not None:
        for row in message.markup.inline_keyboard:
            digest.update(b"\x00")
            for button in row:
                # A button's text and its callback data or link (what `keyboard` builds; the
                # whole button for any other kind): cheaper than the markup's JSON.
                kind = (button.callback_data, button.url)
                shown = f"{kind}" if kind != (None, None) else button.to_json()
                digest.update(f"\x01{button.text}\x02{shown}".encode())
    return digest.digest()
