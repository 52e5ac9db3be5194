"""The delivery worker: sends what the outbox hands out through python-telegram-bot and
reports every outcome back, so that each delivery ends in a recorded final state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Mapping, Sequence
from dataclasses import KW_ONLY, InitVar, dataclass, field
from typing import Any, TypeVar, cast

from telegram import InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.alerts import AlertView
from bot.announcements import AnnouncementView
from bot.delivery import DeliveryService, Job, Outcome, Priority, Recorded, Result
from bot.membership import MemberView
from bot.offers.catalogue import OfferView
from bot.offers.need_view import NeedView
from bot.polls import PollView
from handlers.common.context import Services
from handlers.common.render import HTML, NO_PREVIEW
from handlers.transport.bot import TelegramBot
from handlers.transport.ratelimit import (
    WINDOW_MARGIN,
    WINDOW_SECONDS,
    Lane,
    Pace,
    TelegramLimiter,
    retry_seconds,
)
from handlers.transport.worker import Worker

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Document:
    """A file sent with a delivery; the text becomes its caption (at most 1024 characters)."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class Rendered:
    """`protect`: Telegram's protect_content (no forwarding or saving), for case content."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    document: Document | None = None
    protect: bool = False


@dataclass
class RenderCache:
    """What several deliveries of one batch share: an alert to 30 people is loaded once, also
    when the batch's concurrent sends all ask for it at the same moment. `known` is what the
    transaction that handed the batch over knew (an alert's view and text), taken instead of
    a load while `current()` says nothing was committed since."""

    services: Services
    known: Mapping[Hashable, object] = field(default_factory=dict)
    current: Callable[[], bool] = lambda: False
    _loads: dict[tuple[str, int], asyncio.Task[Any]] = field(default_factory=dict)
    _made: dict[Hashable, asyncio.Future[Any]] = field(default_factory=dict)

    def language(self, job: Job) -> str:
        return job.language or self.services.settings.cora_default_language

    async def _once(self, kind: str, key: int, load: Callable[[int], Coroutine[Any, Any, T]]) -> T:
        if (kind, key) in self.known and self.current():
            return cast(T, self.known[(kind, key)])
        task = self._loads.get((kind, key))
        if task is None:
            task = self._loads[(kind, key)] = asyncio.create_task(load(key))
        # Shielded: one send giving up must not cancel the load the others are waiting for.
        result: T = await asyncio.shield(task)
        return result

    async def shared(self, key: Hashable, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """What several deliveries of the batch show alike (an alert to 30 people in one
        language), made once for all of them: `key` names everything it depends on.

        The first to ask makes it itself, not in a task of its own: a task would start only
        in the event loop's next round, after whatever else is ready then (a handler's
        reply, a live message), and a batch's first send would wait for all of it. The others
        wait for what it makes, or its error; should it be cancelled while making (its send
        given up), the next of them makes it instead."""
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = asyncio.get_running_loop().create_future()
            try:
                result: T = await make()
            except asyncio.CancelledError:
                del self._made[key]
                made.cancel()  # those waiting ask again
                raise
            except Exception as error:
                made.set_exception(error)
                made.exception()  # seen here: the maker raises it; nobody else may wait
                raise
            made.set_result(result)
            return result
        try:
            shown: T = await asyncio.shield(made)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if made.cancelled() and task is not None and not task.cancelling():
                return await self.shared(key, make)  # the maker gave up, this send did not
            raise
        return shown

    async def alert(self, alert_id: int) -> AlertView:
        return await self._once("alert", alert_id, self.services.alerts.view)

    async def alert_text(self, alert_id: int) -> str | None:
        return await self._once("alert_text", alert_id, self.services.alerts.text)

    async def follow_up_text(self, follow_up_id: int) -> str | None:
        return await self._once("follow_up", follow_up_id, self.services.alerts.follow_up_text)

    async def poll(self, poll_id: int) -> PollView:
        return await self._once("poll", poll_id, self.services.polls.view)

    async def announcement(self, announcement_id: int) -> AnnouncementView:
        return await self._once("announcement", announcement_id, self.services.announcements.view)

    async def announcement_text(self, announcement_id: int) -> str | None:
        return await self._once("ann_text", announcement_id, self.services.announcements.text)

    async def need(self, need_id: int) -> NeedView:
        return await self._once("need", need_id, self.services.needs.view)

    async def need_texts(self, need_id: int) -> tuple[str | None, str | None]:
        return await self._once("need_texts", need_id, self.services.needs.texts)

    async def offer(self, offer_id: int) -> OfferView:
        return await self._once("offer", offer_id, self.services.offers.get)

    async def member(self, member_id: int) -> MemberView | None:
        return await self._once("member", member_id, self.services.membership.get)


Renderer = Callable[[Job, RenderCache], Awaitable[Rendered]]


@dataclass(frozen=True)
class Handed:
    """Deliveries claimed for this outbox by the transaction that stored them (a raise's
    first batch), what that transaction knew they show, and its commit number."""

    jobs: Sequence[Job]
    rendered: Mapping[Hashable, object]
    commit: int


def classify(error: TelegramError) -> Result | None:
    """How a Telegram error ends a delivery (the id is filled in by the caller)."""
    if isinstance(error, RetryAfter):
        return Result(0, Outcome.RETRY, retry_after=retry_seconds(error), error="429 retry after")
    if isinstance(error, Forbidden):
        return Result(0, Outcome.UNREACHABLE, error=f"403 {error.message}")
    if isinstance(error, BadRequest):
        if "chat not found" in error.message.lower():
            return Result(0, Outcome.UNREACHABLE, error="400 chat not found")
        return Result(0, Outcome.FAILED, error=f"400 {error.message}")
    return None


# Claims are renewed while the outbox holds them (several instances), for at most this many
# leases after it got them: a batch held longer is taken to be stuck, and its claims expire so
# that another instance sends it (perhaps a second time, but not never).
RENEWED_FOR_LEASES = 10


@dataclass(eq=False)
class Outbox(Worker):
    """One loop per process: claim a batch, send it concurrently under the rate limiter,
    record the outcomes in one transaction, repeat; sleep until woken when idle."""

    task_name = "outbox"
    bot: TelegramBot
    services: Services
    deliveries: DeliveryService
    renderers: Mapping[str, Renderer]
    _: KW_ONLY
    # With the batch's outcomes, the monotonic time its sending (and rendering) began.
    on_recorded: Callable[[Recorded, float], None]
    on_sent: Callable[[Job], None] = lambda job: None
    release_everything: bool
    batch_size: int = 30
    concurrency: InitVar[int] = 4
    idle_seconds: float = 1.0
    sent: int = field(default=0, init=False)

    def __post_init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._handed: deque[Handed] = deque()
        # The next batch, claimed by the transaction that recorded the last one.
        self._claimed: list[Job] = []
        # Every delivery this outbox holds a claim on (in flight, handed over, claimed ahead),
        # with when it got it (monotonic): renewed by `_renewing` (several instances).
        self._held: dict[int, float] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._renewer_stop = asyncio.Event()

    def wake(self) -> None:
        """New deliveries were committed: look for work now instead of at the next poll."""
        self._wake.set()

    def hand(self, handed: Handed) -> None:
        """Deliveries claimed for this outbox by a committed transaction: sent next, without a
        claim of their own. While stopping they wait to be handed back by `stop`; once
        stopped, they are left to their claim's expiry (or to the release at the next start),
        as after a crash."""
        if self._task is None:
            return
        self._handed.append(handed)
        self._hold(handed.jobs)
        self._wake.set()

    async def start(self) -> None:
        # A single process (SQLite) owns every claim, so whatever it had claimed before a
        # restart was in flight: send it again. Several instances only take over expired ones.
        released = await self.deliveries.release_claims(everything=self.release_everything)
        if released:
            log.warning("resuming %d deliveries that were in flight at the last stop", released)
        # The process before was sending when it stopped (its claims were released, or, with
        # several instances, are still held until they expire): its last messages may still
        # count in Telegram's window, overall and per chat, so the first message waits one
        # window. A single process released every claim, so none can be held elsewhere.
        sending = released or (
            not self.release_everything and await self.deliveries.sending_elsewhere()
        )
        if sending and isinstance(self.bot.rate_limiter, TelegramLimiter):
            self.bot.rate_limiter.hold(WINDOW_SECONDS + WINDOW_MARGIN)
        await super().start()
        if not self.release_everything:  # another instance could take over expired claims
            self._renewer_stop.clear()
            self._renewer = asyncio.create_task(self._renewing(), name="outbox-claims")
        # From now on a raise claims its first deliveries for this outbox (`hand`).
        self.deliveries.first_batch = self._concurrency

    def wind_down(self) -> None:
        """Claim nothing more (a raise no longer claims its first batch for this outbox
        either): a stop then waits only for the batch in flight."""
        self.deliveries.first_batch = 0
        super().wind_down()

    async def stop(self) -> None:
        await super().stop()
        if self._renewer is not None:  # after the batch in flight: its claims were renewed
            self._renewer_stop.set()
            await self._renewer
            self._renewer = None
        self._held.clear()
        # Batches handed over or claimed ahead but not sent: their claims go back at once, so
        # that another instance (or the next start) need not wait for them to expire.
        jobs = [job for handed in self._handed for job in handed.jobs] + self._claimed
        self._handed.clear()
        self._claimed = []
        if jobs:
            try:
                released = await self.deliveries.release_jobs(jobs)
            except Exception:  # their claims expire instead, as after a crash
                log.warning("could not hand back %d claimed deliveries", len(jobs), exc_info=True)
            else:
                log.info("handed back %d claimed deliveries at the stop", released)

    async def _run(self) -> None:
        while not self._stopping:
            # Cleared before the round, not before the idle wait: a wake during the round (a
            # commit, a hand-over, a stop while the round reads the database) cuts that wait
            # short instead of being lost for a whole idle period.
            self._wake.clear()
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("delivery round failed; retrying shortly")
                worked = False
                await asyncio.sleep(1.0)
            if not worked and not self._stopping:
                await self._idle()

    async def run_once(self) -> bool:
        """One round; False when there was nothing due."""
        started = time.monotonic()  # no message of the batch shows anything read before this
        if self._handed:
            handed = self._handed.popleft()
            try:
                jobs, cache = await self._handed_over(handed)
            except Exception:
                self._handed.appendleft(handed)  # its claims are held: the next round tries again
                raise
            taken = handed.jobs
        else:
            jobs, self._claimed = self._claimed, []
            if not jobs:
                jobs = await self.deliveries.claim(self.batch_size)
                self._hold(jobs)
            if not jobs:
                return False
            cache = RenderCache(self.services)
            taken = jobs
        try:
            if not jobs:
                return True  # a hand-over whose deliveries were all cancelled meanwhile
            results = await asyncio.gather(*await self._started(jobs, cache))
            # The next batch is claimed with this one's outcomes, unless a hand-over goes
            # first, a batch claimed ahead still waits behind one, or the outbox is stopping. A
            # hand-over can arrive while the record waits for the database: the batch it claims
            # then waits behind the hand-over, and is never replaced.
            claim = 0 if self._handed or self._claimed or self._stopping else self.batch_size
            recorded = await self.deliveries.record(results, claim=claim)
        finally:
            # Recorded, cancelled or taken over; or not recorded (the round failed): then
            # their claims expire and they are sent again, as before the renewal.
            for job in taken:
                self._held.pop(job.id, None)
        self._hold(recorded.claimed)
        self._claimed += recorded.claimed
        self.sent += recorded.finished.get("sent", 0)
        self.on_recorded(recorded, started)
        return True

    def _hold(self, jobs: Sequence[Job]) -> None:
        if self.release_everything:  # one process (SQLite): nobody takes a claim over
            return
        now = time.monotonic()
        for job in jobs:
            self._held.setdefault(job.id, now)

    async def _renewing(self) -> None:
        """Every third of the lease, renew the claims this outbox holds: deliveries still being
        sent (a slow Bot API, a long retry_after) or waiting behind a batch are not taken over
        and sent again by another instance while this one may still send them. Not beyond
        RENEWED_FOR_LEASES leases: a batch held that long is left to expire."""
        lease = self.deliveries.lease.total_seconds()
        while not self._renewer_stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renewer_stop.wait(), lease / 3)
            oldest = time.monotonic() - RENEWED_FOR_LEASES * lease
            stuck = [job_id for job_id, since in self._held.items() if since <= oldest]
            if stuck:
                log.warning(
                    "%d deliveries held longer than %.0f s: their claims are left to expire",
                    len(stuck),
                    RENEWED_FOR_LEASES * lease,
                )
                for job_id in stuck:
                    del self._held[job_id]
            held = list(self._held)
            if not held:
                continue
            try:
                await self.deliveries.renew(held)
            except Exception:  # the sends go on; their claims may expire meanwhile
                log.warning("could not renew the claims of %d deliveries", len(held), exc_info=True)

    async def _started(self, jobs: Sequence[Job], cache: RenderCache) -> list[asyncio.Task[Result]]:
        """The batch's sends as tasks, the first one given a pass of the event loop before the
        others start: before Python 3.12 aiohttp writes a request's body in a task of its own,
        which would otherwise wait behind the preparation of every other send of the batch
        (about half a millisecond each) before the first message leaves."""
        first = asyncio.ensure_future(self._send(jobs[0], cache))
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:  # as gather would cancel it
            first.cancel()
            raise
        return [first, *(asyncio.ensure_future(self._send(job, cache)) for job in jobs[1:])]

    async def _handed_over(self, handed: Handed) -> tuple[Sequence[Job], RenderCache]:
        """A handed-over batch is sent as claimed, rendered from what its transaction knew,
        while no other transaction of this process has committed since; otherwise its jobs
        are checked again (a revocation, an erasure cancels them, as it would a claim) and
        rendered from the database. Other processes' commits are not seen: they race the
        first sends as they race any claimed batch between its claim and its sends."""
        factory = self.deliveries.uow

        def current() -> bool:
            return factory.unchanged_since(handed.commit)

        if current():
            return handed.jobs, RenderCache(self.services, handed.rendered, current)
        return await self.deliveries.confirm(handed.jobs), RenderCache(self.services)

    async def _idle(self) -> None:
        timeout = self.idle_seconds
        next_due = await self.deliveries.next_due()
        if next_due is not None:
            wait = (next_due - self.services.clock.now()).total_seconds()
            timeout = min(timeout, max(0.0, wait))
        await self._wait(timeout)

    async def _send(self, job: Job, cache: RenderCache) -> Result:
        async with self._slots:
            renderer = self.renderers.get(job.kind)
            try:
                if renderer is None:
                    raise LookupError(f"no renderer for delivery kind {job.kind!r}")
                rendered = await renderer(job, cache)
            except Exception:
                log.exception("could not render delivery %s (%s)", job.id, job.kind)
                return Result(job.id, Outcome.FAILED, error="render error")
            try:
                message_id = await self._deliver(job, rendered)
            except TelegramError as error:
                outcome = classify(error) or Result(0, Outcome.RETRY, error=type(error).__name__)
                log.info("delivery %s: %s", job.id, outcome.error)
                return Result(
                    job.id, outcome.outcome, retry_after=outcome.retry_after, error=outcome.error
                )
            self.on_sent(job)
            return Result(job.id, Outcome.SENT, message_id=message_id)

    async def _deliver(self, job: Job, rendered: Rendered) -> int:
        """The sent message's id."""
        # No retries here: a failed delivery is rescheduled in the database.
        pace = Pace(Lane.URGENT if job.priority == Priority.URGENT else Lane.ROUTINE, retries=0)
        if rendered.document is None:
            # Texts members wrote may hold links: no preview, which would fetch the page (from
            # Telegram's servers) and show it as if the network vouched for it.
            return await self.bot.send_text(
                job.chat_id,
                rendered.text,
                parse_mode=HTML,
                reply_markup=rendered.markup,
                disable_notification=job.silent,
                protect_content=rendered.protect,
                link_preview_options=NO_PREVIEW,
                rate_limit_args=pace,
            )
        document = rendered.document
        sent = await self.bot.send_document(
            job.chat_id,
            InputFile(document.data, filename=document.filename, attach=True),
            caption=rendered.text,
            parse_mode=HTML,
            reply_markup=rendered.markup,
            disable_notification=job.silent,
            protect_content=rendered.protect,
            rate_limit_args=pace,
        )
        return sent.message_id
