"""Pending updates, handed out by getUpdates long polling or pushed to a webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from localapi.changes import Changes
from localapi.errors import conflict

JsonDict = dict[str, Any]
log = logging.getLogger(__name__)

# Update types a bot receives when allowed_updates is empty or was never set.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class _Poll:
    terminated_by: str | None = None


class UpdateQueue:
    """Updates waiting for the bot, confirmed by getUpdates offsets or webhook delivery."""

    def __init__(self) -> None:
        self.changes = Changes()
        self.allowed: frozenset[str] = frozenset()
        self.history: list[JsonDict] = []
        self.closed = False
        self._pending: list[JsonDict] = []
        self._next_id = 1
        self._poll: _Poll | None = None

    @property
    def pending(self) -> list[JsonDict]:
        return list(self._pending)

    @property
    def polling(self) -> bool:
        """Whether a getUpdates request is waiting right now."""
        return self._poll is not None

    def allows(self, kind: str) -> bool:
        if not self.allowed:
            return kind not in NOT_BY_DEFAULT
        return kind in self.allowed

    def set_allowed(self, kinds: Iterable[str] | None) -> None:
        """None keeps the previous setting, as in Telegram."""
        if kinds is not None:
            self.allowed = frozenset(kinds)

    @property
    def next_id(self) -> int:
        return self._next_id

    def continue_from(self, update_id: int) -> None:
        """Number new updates from here on, as Telegram does after a restart of the sandbox."""
        self._next_id = max(self._next_id, update_id)

    def push(self, kind: str, payload: JsonDict) -> JsonDict | None:
        """Queue an update; Telegram filters by allowed_updates when the update is created."""
        if not self.allows(kind):
            return None
        update = {"update_id": self._next_id, kind: payload}
        self._next_id += 1
        self._pending.append(update)
        self.history.append(update)
        self.changes.notify()
        return update

    def confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def remove(self, update_id: int) -> None:
        self._pending = [u for u in self._pending if u["update_id"] != update_id]
        self.changes.notify()

    def drop_pending(self) -> None:
        self._pending.clear()

    def close(self) -> None:
        self.closed = True
        self.changes.notify()

    def terminate_poll(self, reason: str) -> None:
        """End a waiting getUpdates with 409 "Conflict: terminated by <reason>"."""
        if self._poll is not None:
            self._poll.terminated_by = reason
            self.changes.notify()

    async def poll(self, offset: int | None, limit: int, wait_seconds: float) -> list[JsonDict]:
        """getUpdates: a newer request terminates an older one that is still waiting."""
        self.terminate_poll(
            "other getUpdates request; make sure that only one bot instance is running"
        )
        ticket = _Poll()
        self._poll = ticket
        self.changes.notify()
        try:
            if offset is not None:
                self.confirm(offset)

            def ready() -> list[JsonDict] | None:
                if ticket.terminated_by or self.closed:
                    return []
                return self._pending[:limit] or None

            try:
                async with asyncio.timeout(max(wait_seconds, 0.0)):
                    result = await self.changes.wait_until(ready)
            except TimeoutError:
                result = []
            if ticket.terminated_by:
                raise conflict(f"terminated by {ticket.terminated_by}")
            return result
        finally:
            if self._poll is ticket:
                self._poll = None


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None = None
    has_custom_certificate: bool = False


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of an update to the webhook."""

    update_id: int
    attempt: int
    status: int | None
    error: str | None
    secret_token: str | None


@dataclass
class WebhookSender:
    """POSTs pending updates in order to the webhook, retrying failed deliveries a few times.

    Telegram keeps retrying for hours; here an update is dropped after `attempts` tries so
    a broken receiver shows up in tests as `dropped` instead of as a hang.
    """

    queue: UpdateQueue
    attempts: int = 3
    retry_delay: float = 0.05
    timeout: float = 10.0
    webhook: Webhook | None = None
    log: list[WebhookAttempt] = field(default_factory=list)
    dropped: list[JsonDict] = field(default_factory=list)
    last_error_date: int | None = None
    last_error_message: str | None = None
    _task: asyncio.Task[None] | None = None

    def set(self, webhook: Webhook) -> None:
        self.webhook = webhook
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="local-bot-api-webhook")

    async def clear(self) -> None:
        self.webhook = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout)
        ) as session:
            while True:
                pending = await self.queue.changes.wait_until(
                    lambda: self.queue.pending[:1] or None
                )
                await self._deliver(session, pending[0])

    async def _deliver(self, session: aiohttp.ClientSession, update: JsonDict) -> None:
        webhook = self.webhook
        assert webhook is not None
        headers = {}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        for attempt in range(1, self.attempts + 1):
            status: int | None = None
            error: str | None = None
            try:
                async with session.post(webhook.url, json=update, headers=headers) as response:
                    status = response.status
                    if not 200 <= status < 300:
                        error = f"Wrong response from the webhook: {status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {exc!r}"
            self.log.append(
                WebhookAttempt(update["update_id"], attempt, status, error, webhook.secret_token)
            )
            if error is None:
                self.queue.remove(update["update_id"])
                return
            self.last_error_date = int(time.time())
            self.last_error_message = error
            log.debug("webhook delivery of update %s failed: %s", update["update_id"], error)
            if attempt < self.attempts:
                await asyncio.sleep(self.retry_delay * 2 ** (attempt - 1))
        self.queue.remove(update["update_id"])
        self.dropped.append(update)
