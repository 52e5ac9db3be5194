"""Telegram's flood limits as token buckets: ~30 messages/s per bot and 1 message/s per chat."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from localapi.errors import too_many_requests

Clock = Callable[[], float]


class TokenBucket:
    """A bucket of `capacity` tokens refilled at `rate` per second.

    aiolimiter's AsyncLimiter waits for capacity; a server has to answer at once with the
    time until the next token instead, and tests drive it with a fake clock.
    """

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        self._refill(now)
        # The epsilon keeps sends spaced exactly 1/rate apart from failing on float rounding.
        return 0.0 if self._tokens >= 1 - 1e-9 else (1 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1


@dataclass(frozen=True)
class RateLimitHit:
    """A 429 the limiter gave."""

    time: float
    method: str
    chat_id: int
    retry_after: int


class RateLimits:
    """Per-bot and per-chat buckets for methods that send or edit messages."""

    def __init__(
        self,
        *,
        enabled: bool,
        clock: Clock,
        per_second: float = 30.0,
        burst: float = 30.0,
        per_chat_per_second: float = 1.0,
        chat_burst: float = 3.0,
    ) -> None:
        self.enabled = enabled
        self._clock = clock
        self.per_second = per_second
        self.burst = burst
        self.per_chat_per_second = per_chat_per_second
        self.chat_burst = chat_burst
        self._bot: TokenBucket | None = None
        self._chats: dict[int, TokenBucket] = {}
        self.hits: list[RateLimitHit] = []

    def reset(self) -> None:
        """Forget consumed tokens (e.g. after changing the rates)."""
        self._bot = None
        self._chats.clear()

    def admit(self, method: str, chat_id: int) -> None:
        """Take a token from both buckets, or raise 429 with the seconds until both have one."""
        if not self.enabled:
            return
        now = self._clock()
        if self._bot is None:
            self._bot = TokenBucket(self.per_second, self.burst, now)
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = TokenBucket(
                self.per_chat_per_second, self.chat_burst, now
            )
        wait = max(self._bot.wait_time(now), chat.wait_time(now))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self.hits.append(RateLimitHit(now, method, chat_id, retry_after))
            raise too_many_requests(retry_after)
        self._bot.take(now)
        chat.take(now)
