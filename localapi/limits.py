"""Telegram's flood limits, read two ways: as token buckets (~30 messages/s per bot with bursts
of 30, 1/s per chat with bursts of 3) or strictly, as sliding windows (at most 30 messages in
any second, at most one per chat in any second, no burst beyond that)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from localapi.errors import too_many_requests

Clock = Callable[[], float]
LimitModel = Literal["bucket", "strict"]
LIMIT_MODELS: tuple[LimitModel, ...] = ("bucket", "strict")
# Sends spaced exactly 1/rate apart must not fail on float rounding.
_EPSILON = 1e-9


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
        return 0.0 if self._tokens >= 1 - _EPSILON else (1 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1


class SlidingWindow:
    """At most `limit` admissions in any window of `seconds`: the next one waits until the
    `limit`-th last is `seconds` old."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._times: deque[float] = deque(maxlen=limit)

    def wait_time(self, now: float) -> float:
        if len(self._times) < self.limit:
            return 0.0
        wait = self._times[0] + self.seconds - now
        return 0.0 if wait <= _EPSILON else wait

    def take(self, now: float) -> None:
        self._times.append(now)


Limit = TokenBucket | SlidingWindow


@dataclass(frozen=True)
class RateLimitHit:
    """A 429 the limiter gave."""

    time: float
    method: str
    chat_id: int
    retry_after: int


class RateLimits:
    """Per-bot and per-chat limits for methods that send or edit messages."""

    def __init__(
        self,
        *,
        enabled: bool,
        clock: Clock,
        model: LimitModel = "bucket",
        per_second: float = 30.0,
        burst: float = 30.0,
        per_chat_per_second: float = 1.0,
        chat_burst: float = 3.0,
    ) -> None:
        self.enabled = enabled
        self._clock = clock
        self._model: LimitModel = model
        self.per_second = per_second
        self.burst = burst
        self.per_chat_per_second = per_chat_per_second
        self.chat_burst = chat_burst
        self._bot: Limit | None = None
        self._chats: dict[int, Limit] = {}
        self.hits: list[RateLimitHit] = []

    @property
    def model(self) -> LimitModel:
        return self._model

    @model.setter
    def model(self, model: LimitModel) -> None:
        if model not in LIMIT_MODELS:
            raise ValueError(f"unknown limit model {model!r}")
        self._model = model
        self.reset()

    def reset(self) -> None:
        """Forget what was sent (e.g. after changing the model or the rates)."""
        self._bot = None
        self._chats.clear()

    def _overall(self, now: float) -> Limit:
        if self.model == "strict":
            return SlidingWindow(max(1, math.floor(self.per_second + _EPSILON)), 1.0)
        return TokenBucket(self.per_second, self.burst, now)

    def _per_chat(self, now: float) -> Limit:
        if self.model == "strict":
            # One message per 1/rate seconds, however long the chat was quiet before.
            return SlidingWindow(1, 1.0 / self.per_chat_per_second)
        return TokenBucket(self.per_chat_per_second, self.chat_burst, now)

    def admit(self, method: str, chat_id: int) -> None:
        """Count the message against the bot's and the chat's limit, or raise 429 with the
        seconds until both admit one."""
        if not self.enabled:
            return
        now = self._clock()
        if self._bot is None:
            self._bot = self._overall(now)
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = self._per_chat(now)
        wait = max(self._bot.wait_time(now), chat.wait_time(now))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self.hits.append(RateLimitHit(now, method, chat_id, retry_after))
            raise too_many_requests(retry_after)
        self._bot.take(now)
        chat.take(now)
