"""Messages kept up to date in place (a poll's overview, a member's answers, an announcement's
read status): changes mark a key dirty, and each key is edited at most once per interval, so a
busy poll never runs into Telegram's edit limits. Each message names its reader, and only an
active member's messages are sent or edited: after revocation, erasure or leaving, nothing
more reaches the person this way."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.membership import MemberView
from handlers.common.render import HTML, NO_PREVIEW
from handlers.transport.ratelimit import Lane, Pace

log = logging.getLogger(__name__)
_MAX_SHOWN = 10_000
# Status messages wait behind urgent deliveries (a few seconds at most), not behind replies.
_ROUTINE = Pace(Lane.ROUTINE)
_YIELD_AT_MOST = 2.0  # seconds a refresh waits for the outbox's first sends


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


class LiveMessages:
    def __init__(
        self,
        bot: ExtBot[Any],
        refresh: Refresh,
        *,
        min_interval: float = 3.0,
        yield_to: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._bot = bot
        self._refresh = refresh
        self._yield_to = yield_to
        self._min_interval = min_interval
        self._dirty: set[Hashable] = set()
        self._last_edit: dict[Hashable, float] = {}
        self._shown: dict[tuple[int, int], bytes] = {}
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()  # nothing left to show
        self._settled.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def touch(self, keys: Iterable[Hashable]) -> None:
        before = len(self._dirty)
        self._dirty.update(keys)
        if len(self._dirty) != before:
            self._settled.clear()
            self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="live-messages")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def settled(self) -> None:
        """Return once every change touched so far is shown (or found not to be shown)."""
        await self._settled.wait()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            now = time.monotonic()
            ready = [
                k for k in self._dirty if now - self._last_edit.get(k, -1e9) >= self._min_interval
            ]
            if ready and self._yield_to is not None:
                # Urgent work first (the outbox's new deliveries), but never for long.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._yield_to(), _YIELD_AT_MOST)
            for key in ready:
                self._dirty.discard(key)
                try:
                    await self._update(key)
                except Exception:
                    log.exception("could not refresh live message %s", key)
                self._last_edit[key] = time.monotonic()
            if not self._dirty:
                self._settled.set()
            if self._stopping:
                break
            self._forget_old()
            waits = [
                self._min_interval - (time.monotonic() - self._last_edit.get(k, -1e9))
                for k in self._dirty
            ]
            timeout = max(0.05, min(waits)) if waits else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _forget_old(self) -> None:
        """Keep memory bounded in a long-running bot: quiet keys need no history."""
        now = time.monotonic()
        for key in [k for k, at in self._last_edit.items() if now - at > self._min_interval]:
            if key not in self._dirty:
                del self._last_edit[key]
        if len(self._shown) > _MAX_SHOWN:
            self._shown.clear()  # costs at most one needless edit per message

    async def _update(self, key: Hashable) -> None:
        for message in await self._refresh(key):
            if not message.reader.is_active:
                log.debug("live message %s not shown: its reader is no longer a member", key)
                continue
            if message.message_id is None:
                sent = await self._bot.send_message(
                    message.chat_id,
                    message.text,
                    parse_mode=HTML,
                    reply_markup=message.markup,
                    link_preview_options=NO_PREVIEW,
                    rate_limit_args=_ROUTINE,
                )
                if message.store is not None:
                    await message.store(sent.message_id)
                self._shown[(message.chat_id, sent.message_id)] = _fingerprint(message)
                continue
            where = (message.chat_id, message.message_id)
            if self._shown.get(where) == _fingerprint(message):
                continue
            try:
                await self._bot.edit_message_text(
                    message.text,
                    chat_id=message.chat_id,
                    message_id=message.message_id,
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
                continue
            self._shown[where] = _fingerprint(message)


def _fingerprint(message: LiveMessage) -> bytes:
    """A digest of what the message shows: thousands of ballots are remembered by 16 bytes
    each rather than by their text and buttons."""
    markup = message.markup.to_json() if message.markup is not None else ""
    return hashlib.blake2b(f"{message.text}\x00{markup}".encode(), digest_size=16).digest()
