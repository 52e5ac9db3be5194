"""One rate limiter for every request the bot makes, so that fan-out, replies and edits
together stay within Telegram's limits instead of provoking 429s."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]

# Telegram: about 30 messages per second overall, about one per second in a chat (short bursts
# are tolerated), 20 per minute in a group. Messages go out nearly evenly spaced, with bursts of
# at most OVERALL_BURST: that keeps the rate right at the bound without tripping it, and the
# first recipient of an alert need not wait behind the sender's own confirmations.
OVERALL_PER_SECOND = 30.0
OVERALL_BURST = 3
CHAT_BURST, CHAT_PERIOD = 3, 3.3
GROUP_BURST, GROUP_PERIOD = 20, 60.0
MAX_CHAT_LIMITERS = 2048
# What the outbox passes as `rate_limit_args`: no retries here, it reschedules in the database.
# Not 0: python-telegram-bot drops a falsy `rate_limit_args` and the default would apply.
NO_RETRY = -1


_DONE_BEFORE = ("query is too old", "message is not modified")


def _already_done(error: BadRequest) -> bool:
    """Telegram's answer to repeating what already took effect (a callback answered, an edit
    made) after the first answer was lost in transit."""
    return any(text in error.message.lower() for text in _DONE_BEFORE)


def retry_seconds(error: RetryAfter) -> float:
    """Seconds to wait, whether PTB reports them as a number or (in future) a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        after = error.retry_after
    return float(after) if isinstance(after, int | float) else after.total_seconds()


class TelegramLimiter(BaseRateLimiter[int]):
    """`rate_limit_args` is the number of retries after a 429 or a transient failure (default
    2); the outbox passes NO_RETRY because it reschedules the delivery in the database."""

    def __init__(
        self, overall_per_second: float = OVERALL_PER_SECOND, max_retries: int = 2
    ) -> None:
        self._overall = (
            AsyncLimiter(OVERALL_BURST, OVERALL_BURST / overall_per_second)
            if overall_per_second > 0
            else None
        )
        self._chats: dict[int, AsyncLimiter] = {}
        self._max_retries = max_retries
        self._open = asyncio.Event()
        self._open.set()
        self.retry_afters = 0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            if len(self._chats) > MAX_CHAT_LIMITERS:
                # Forget chats whose bucket is full again; they have been quiet long enough.
                for key, old in list(self._chats.items()):
                    if old.has_capacity(old.max_rate):
                        del self._chats[key]
            burst, period = (
                (GROUP_BURST, GROUP_PERIOD) if chat_id < 0 else (CHAT_BURST, CHAT_PERIOD)
            )
            limiter = self._chats[chat_id] = AsyncLimiter(burst, period)
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        retries = self._max_retries if rate_limit_args is None else max(rate_limit_args, 0)
        chat_id: int | None = None
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(data["chat_id"]) if "chat_id" in data else None
        attempt, retried = 0, False
        while True:
            await self._open.wait()
            try:
                if chat_id is None or self._overall is None:
                    return await callback(*args, **kwargs)
                async with self._chat_limiter(chat_id), self._overall:
                    await self._open.wait()
                    return await callback(*args, **kwargs)
            except RetryAfter as error:
                self.retry_afters += 1
                seconds = retry_seconds(error)
                self._pause(seconds)
                if attempt >= retries:
                    raise
                attempt += 1
                log.info("Telegram asked to wait %.0f s (%s); retrying", seconds, endpoint)
            except NetworkError as error:
                # 5xx, time-outs, dropped connections: a reply is worth another try (a time-out
                # may then show twice); Telegram refusing the request itself is not.
                if isinstance(error, BadRequest):
                    if retried and _already_done(error):
                        return True  # the first attempt did arrive; its answer was lost
                    raise
                if attempt >= retries:
                    raise
                attempt += 1
                retried = True
                log.info("%s failed (%s); retrying", endpoint, type(error).__name__)
                await asyncio.sleep(0.5 * attempt)

    def _pause(self, seconds: float) -> None:
        """Hold every request for `seconds`: a 429 concerns the whole bot, not one chat."""
        if not self._open.is_set():
            return
        self._open.clear()
        asyncio.get_running_loop().call_later(seconds, self._open.set)
