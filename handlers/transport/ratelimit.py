"""One rate limiter for every request the bot makes, so that fan-out, replies and edits together
stay within Telegram's flood limits, however strictly Telegram reads them, without a 429.

Telegram documents "about 30 messages per second" and "about one per second in a chat" (20 per
minute in a group). Read strictly, that is at most 30 messages in any sliding second. A message
reaches Telegram after its request starts and before its answer comes back, so the limiter
counts every message from its start until one window after its answer: a new one starts only
while fewer than the limit are in flight or were answered less than a second ago. That holds
whatever the network's latency, and costs one round trip per window. Within that, messages are
spaced evenly (bursts of at most OVERALL_BURST), so that a free slot comes every few tens of
milliseconds rather than all at once each second. In a chat, at most one message a second
(a handler's second message into the same chat waits for it).

Waiting requests are served in turns: a reply to someone acting in a chat before an urgent
delivery, an urgent delivery before everything else; a request that has waited long enough
goes first anyway, so nothing starves.

After a 429 everything that sends a message waits `retry_after`, and the rate drops to 70 % of
what it was (once per flood, not per answer); it then recovers by 0.15 messages/s each second
(additive increase, multiplicative decrease), so a limit stricter than the configured one is
learned rather than hit again and again.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import math
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]
Clock = Callable[[], float]

OVERALL_PER_SECOND = 30.0
# Up to OVERALL_BURST go at once after a pause, e.g. while the outbox records one batch and
# claims the next (a few hundred milliseconds on a busy machine); the window still holds.
OVERALL_BURST = 10
WINDOW_SECONDS = 1.0
# The answer time is an upper bound on the arrival, so the window needs no safety margin;
# this one only keeps float rounding on the right side.
WINDOW_MARGIN = 0.001
CHAT_SECONDS = 1.0
GROUP_LIMIT, GROUP_SECONDS = 20, 60.0
MAX_CHATS = 2048
# Additive increase, multiplicative decrease after a 429; never below a quarter of the ceiling
# (Telegram's real limit is not that far off, and random 429s must not stall the bot).
DECREASE = 0.7
RECOVERY_PER_SECOND = 0.15
FLOOR_SHARE = 0.25

# Methods that send or edit a message: these count against Telegram's flood limits.
_MESSAGE_METHODS = frozenset(
    {"copyMessage", "copyMessages", "forwardMessage", "forwardMessages", "stopPoll"}
)
_NOT_MESSAGES = frozenset({"sendChatAction"})


def counts_as_message(endpoint: str) -> bool:
    """Whether Telegram counts the request against its message limits."""
    if endpoint in _NOT_MESSAGES:
        return False
    return endpoint.startswith(("send", "edit")) or endpoint in _MESSAGE_METHODS


class Lane(IntEnum):
    """Whose request it is, for the order in which waiting requests go."""

    REPLY = 0  # an answer to someone acting in the chat now (every handler's request)
    URGENT = 1  # an urgent alert's delivery
    ROUTINE = 2  # other deliveries, status messages


# A waiting request's turn is when it came minus its lane's head start: a reply goes before
# urgent deliveries that came up to a second after it, an urgent delivery before routine ones
# that came up to three seconds before it.
HEAD_START = {Lane.REPLY: 4.0, Lane.URGENT: 3.0, Lane.ROUTINE: 0.0}


@dataclass(frozen=True)
class Pace:
    """What a caller tells the limiter about a request, as python-telegram-bot's
    `rate_limit_args`: its lane, and how often to retry after a 429 or a transient failure
    (None: the limiter's default; the outbox passes 0, it reschedules in the database)."""

    lane: Lane = Lane.REPLY
    retries: int | None = None


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


class Window:
    """Messages that may fall into one of Telegram's windows: those in flight, and the answer
    times of the last `keep` ones."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.in_flight = 0
        self._answered: list[float] = []

    def ready_at(self, limit: int, seconds: float) -> float:
        """When one more may start without `limit` falling into any `seconds`: -inf for now,
        inf while messages in flight fill the window (an answer frees it)."""
        free = limit - self.in_flight
        if free <= 0:
            return math.inf
        if len(self._answered) < free:
            return -math.inf
        return self._answered[-free] + seconds

    def begin(self) -> None:
        self.in_flight += 1

    def end(self, at: float) -> None:
        self.in_flight -= 1
        bisect.insort(self._answered, at)
        if len(self._answered) > self.keep:
            del self._answered[0]

    def quiet_since(self, at: float) -> bool:
        return self.in_flight == 0 and (not self._answered or self._answered[-1] < at)


class AdaptiveRate:
    """Messages per second: the ceiling until a 429, then additive increase, multiplicative
    decrease."""

    def __init__(self, ceiling: float) -> None:
        self.ceiling = ceiling
        self._base = ceiling
        self._decreased_at = -math.inf

    @property
    def floor(self) -> float:
        return self.ceiling * FLOOR_SHARE

    def at(self, now: float) -> float:
        if self._decreased_at == -math.inf:
            return self.ceiling
        recovered = self._base + RECOVERY_PER_SECOND * (now - self._decreased_at)
        return min(self.ceiling, recovered)

    def limit_to(self, ceiling: float) -> None:
        """A new ceiling (the instances on one database split the limit): the rate never
        exceeds it, and a lowered rate recovers towards it."""
        self.ceiling = ceiling
        self._base = min(self._base, ceiling)

    def decrease(self, now: float, started: float) -> bool:
        """Lower the rate after a 429 to a request that started at `started`; False when it
        started before the last decrease (one flood, several answers: one decrease)."""
        if started < self._decreased_at:
            return False
        self._base = max(self.floor, self.at(now) * DECREASE)
        self._decreased_at = now
        return True


@dataclass
class _Tries:
    """The retries one request has left."""

    allowed: int
    attempt: int = 0
    retried: bool = False  # after a network failure: the first attempt may have arrived

    def another(self, *, network: bool = False) -> bool:
        if self.attempt >= self.allowed:
            return False
        self.attempt += 1
        self.retried = self.retried or network
        return True


def _chat_id(data: dict[str, Any]) -> int | None:
    with contextlib.suppress(TypeError, ValueError):
        return int(data["chat_id"]) if "chat_id" in data else None
    return None


@dataclass(order=True)
class _Waiter:
    turn: float
    seq: int
    chat_id: int | None = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)


class TelegramLimiter(BaseRateLimiter[Pace]):
    """Python-telegram-bot's rate limiter for the whole bot: pass `Pace(lane, retries)` as
    `rate_limit_args` (default: a reply, 2 retries). `overall_per_second=0` switches pacing
    off; a 429 still makes messages wait `retry_after`."""

    def __init__(
        self,
        overall_per_second: float = OVERALL_PER_SECOND,
        max_retries: int = 2,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._paced = overall_per_second > 0
        self._rate = AdaptiveRate(overall_per_second if self._paced else 1.0)
        self._max_retries = max_retries
        self._clock = clock
        self._overall = Window(keep=max(1, math.ceil(overall_per_second * WINDOW_SECONDS)))
        self._chats: dict[int, Window] = {}
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()
        self._next_start = -math.inf  # the even spacing's next slot
        self._paused_until = -math.inf
        self._timer: asyncio.TimerHandle | None = None
        self._configured = overall_per_second
        self.instances = 1  # that share Telegram's limit (`share`)
        self.retry_afters = 0

    @property
    def rate(self) -> float:
        """Messages per second it allows now (0: not paced)."""
        return self._rate.at(self._clock()) if self._paced else 0.0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Pace | None,
    ) -> JSONResult:
        pace = rate_limit_args or Pace()
        tries = _Tries(self._max_retries if pace.retries is None else max(pace.retries, 0))
        counted = counts_as_message(endpoint)
        chat_id = _chat_id(data)
        while True:
            if counted:
                await self._acquire(pace.lane, chat_id)
            try:
                result = await self._attempt(callback(*args, **kwargs), endpoint, counted, tries)
            finally:
                if counted:
                    self._release(chat_id)
            if result is not None:
                return result

    async def _attempt(
        self, call: Coroutine[Any, Any, JSONResult], endpoint: str, counted: bool, tries: _Tries
    ) -> JSONResult | None:
        """One try in its turn; None to try again, after waiting what the failure asks for."""
        started = self._clock()
        try:
            return await call
        except RetryAfter as error:
            seconds = retry_seconds(error)
            self._flooded(endpoint, seconds, started, counted)
            if not tries.another():
                raise
            if not counted:
                await asyncio.sleep(seconds)
        except BadRequest as error:  # Telegram refused the request itself: no retry
            if tries.retried and _already_done(error):
                return True  # the first attempt did arrive; its answer was lost
            raise
        except NetworkError as error:
            # 5xx, time-outs, dropped connections: a reply is worth another try (a time-out
            # may then show twice).
            if not tries.another(network=True):
                raise
            log.info("%s failed (%s); retrying", endpoint, type(error).__name__)
            await asyncio.sleep(0.5 * tries.attempt)
        return None

    def share(self, instances: int) -> None:
        """Send at most this instance's share of the configured rate: the instances on one
        database (PostgreSQL) split Telegram's limit, which counts the bot, not the process."""
        instances = max(1, instances)
        if instances == self.instances:
            return
        self.instances = instances
        if self._paced:
            self._rate.limit_to(self._configured / instances)
            log.info(
                "%d instances share Telegram's limit: at most %.1f messages/s here",
                instances,
                self._configured / instances,
            )
            if self._waiting:
                self._dispatch()  # a larger share may start a waiting message now

    def hold(self, seconds: float) -> None:
        """Start no message for `seconds`: after a stop in the middle of sending, what the
        process before sent in its last moments still counts in Telegram's window, and this
        one cannot know how much it was (it starts within a second when restarted at once)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    # --- 429s -------------------------------------------------------------------------------

    def _flooded(self, endpoint: str, seconds: float, started: float, counted: bool) -> None:
        """Count and log a 429; for a message, hold all messages and lower the rate."""
        self.retry_afters += 1
        now = self._clock()
        if counted:
            self._paused_until = max(self._paused_until, now + seconds)
            if self._paced:
                self._rate.decrease(now, started)
        log.warning(
            "Telegram answered 429 to %s: waiting %.0f s; %s",
            endpoint,
            seconds,
            f"sending at most {self.rate:.1f} messages/s" if self._paced else "not paced",
        )

    # --- turns --------------------------------------------------------------------------------

    async def _acquire(self, lane: Lane, chat_id: int | None) -> None:
        if not self._paced:
            wait = self._paused_until - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            return
        now = self._clock()
        waiter = _Waiter(
            now - HEAD_START[lane],
            next(self._seq),
            chat_id,
            asyncio.get_running_loop().create_future(),
        )
        bisect.insort(self._waiting, waiter)
        self._dispatch()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self._release(chat_id)  # its turn came, but it will not send
            raise

    def _release(self, chat_id: int | None) -> None:
        if not self._paced:
            return
        now = self._clock()
        self._overall.end(now)
        if chat_id is not None:
            self._chat(chat_id).end(now)
        self._dispatch()

    def _chat(self, chat_id: int) -> Window:
        window = self._chats.get(chat_id)
        if window is None:
            if len(self._chats) >= MAX_CHATS:
                # Forget chats quiet for longer than any window; they cannot limit anything.
                quiet = self._clock() - GROUP_SECONDS
                for key in [k for k, w in self._chats.items() if w.quiet_since(quiet)]:
                    del self._chats[key]
            window = self._chats[chat_id] = Window(keep=GROUP_LIMIT if chat_id < 0 else 1)
        return window

    def _chat_ready_at(self, chat_id: int | None, slowdown: float) -> float:
        if chat_id is None:
            return -math.inf
        window = self._chat(chat_id)
        ready = window.ready_at(1, CHAT_SECONDS * slowdown + WINDOW_MARGIN)
        if chat_id < 0:
            ready = max(ready, window.ready_at(GROUP_LIMIT, GROUP_SECONDS * slowdown))
        return ready

    def _dispatch(self) -> None:
        """Start every waiting request whose turn it is; wake up again when the next may."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting = [w for w in self._waiting if not w.granted.done()]
        now = self._clock()
        rate = self._rate.at(now)
        wake = math.inf
        while self._waiting:
            wake = self._overall_ready_at(rate)
            if wake > now:
                break
            chosen, wake = self._next_waiter(now, slowdown=self._rate.ceiling / rate)
            if chosen is None:
                break
            self._grant(chosen, now, spacing=1.0 / rate)
        if self._waiting and wake < math.inf:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, wake - now), self._dispatch)

    def _overall_ready_at(self, rate: float) -> float:
        """When the bot as a whole may send the next message: after a 429's pause, in the
        even spacing (allowing a small burst), and within the window's limit."""
        limit = max(1, math.floor(rate * WINDOW_SECONDS + 1e-9))
        return max(
            self._paused_until,
            self._next_start - (OVERALL_BURST - 1) * (1.0 / rate),
            self._overall.ready_at(limit, WINDOW_SECONDS + WINDOW_MARGIN),
        )

    def _next_waiter(self, now: float, slowdown: float) -> tuple[_Waiter | None, float]:
        """The first waiter (in turn order) whose chat may receive now; else None and when
        the first chat may."""
        chats_ready = math.inf
        for waiter in self._waiting:
            ready = self._chat_ready_at(waiter.chat_id, slowdown)
            if ready <= now:
                return waiter, chats_ready
            chats_ready = min(chats_ready, ready)
        return None, chats_ready

    def _grant(self, waiter: _Waiter, now: float, spacing: float) -> None:
        self._waiting.remove(waiter)
        self._overall.begin()
        if waiter.chat_id is not None:
            self._chat(waiter.chat_id).begin()
        self._next_start = max(self._next_start, now) + spacing
        waiter.granted.set_result(None)
