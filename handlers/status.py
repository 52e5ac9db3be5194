"""The sender's live status message of an alert: sent once, then edited in place, coalesced
so that a busy alert is edited at most every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, TelegramError

from bot.alerts import StatusView
from handlers.context import Services
from handlers.render import HTML

log = logging.getLogger(__name__)

RenderStatus = Callable[[StatusView, str], tuple[str, InlineKeyboardMarkup | None]]


class StatusBoard:
    def __init__(
        self,
        bot: Bot,
        services: Services,
        render: RenderStatus,
        *,
        min_interval: float = 3.0,
    ) -> None:
        self._bot = bot
        self._services = services
        self._render = render
        self._min_interval = min_interval
        self._dirty: set[int] = set()
        self._last_edit: dict[int, float] = {}
        self._shown: dict[int, str] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def touch(self, alert_ids: Iterable[int]) -> None:
        """These alerts changed; their status messages will be refreshed soon."""
        before = len(self._dirty)
        self._dirty.update(alert_ids)
        if len(self._dirty) != before:
            self._wake.set()

    async def start(self) -> None:
        # After a restart every open alert's message may be stale, or was never sent.
        self.touch(await self._services.alerts.open_alert_ids())
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="status-board")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            now = time.monotonic()
            ready = [
                a for a in self._dirty if now - self._last_edit.get(a, 0.0) >= self._min_interval
            ]
            for alert_id in ready:
                self._dirty.discard(alert_id)
                try:
                    await self.refresh(alert_id)
                except Exception:
                    log.exception("could not refresh the status of alert %s", alert_id)
                self._last_edit[alert_id] = time.monotonic()
            if self._stopping:
                break
            waits = [
                self._min_interval - (time.monotonic() - self._last_edit.get(a, 0.0))
                for a in self._dirty
            ]
            timeout = max(0.05, min(waits)) if waits else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def refresh(self, alert_id: int) -> None:
        status = await self._services.alerts.status(alert_id)
        alert = status.alert
        sender = alert.sender
        if sender is None or sender.chat_id is None:
            return  # raised by an agency system, which reads its status over the API
        language = sender.language or self._services.settings.cora_default_language
        text, markup = self._render(status, language)
        if alert.status_message_id is None:
            message = await self._bot.send_message(
                sender.chat_id, text, parse_mode=HTML, reply_markup=markup
            )
            await self._services.alerts.set_status_message(
                alert.id, sender.chat_id, message.message_id
            )
        elif self._shown.get(alert_id) != text:
            try:
                await self._bot.edit_message_text(
                    text,
                    chat_id=alert.status_chat_id,
                    message_id=alert.status_message_id,
                    parse_mode=HTML,
                    reply_markup=markup,
                )
            except BadRequest as error:
                if "not modified" not in error.message:
                    raise
            except TelegramError as error:
                log.warning("status of alert %s not edited: %s", alert_id, error)
                self._dirty.add(alert_id)  # try again at the next round
                return
        self._shown[alert_id] = text
