"""The delivery worker: sends what the outbox hands out through python-telegram-bot and
reports every outcome back, so that each delivery ends in a recorded final state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telegram import InlineKeyboardMarkup, InputFile, Message
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.alerts import AlertView
from bot.announcements import AnnouncementView
from bot.delivery import DeliveryService, Job, Outcome, Priority, Recorded, Result
from bot.membership import MemberView
from bot.offers.needs import NeedView
from bot.offers.offers import OfferView
from bot.polls import PollView
from handlers.common.context import Services
from handlers.common.render import HTML, NO_PREVIEW
from handlers.transport.ratelimit import Lane, Pace, retry_seconds

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
    when the batch's concurrent sends all ask for it at the same moment."""

    services: Services
    _loads: dict[tuple[str, int], asyncio.Task[Any]] = field(default_factory=dict)

    def language(self, job: Job) -> str:
        return job.language or self.services.settings.cora_default_language

    async def _once(self, key: tuple[str, int], load: Callable[[], Coroutine[Any, Any, T]]) -> T:
        task = self._loads.get(key)
        if task is None:
            task = self._loads[key] = asyncio.create_task(load())
        # Shielded: one send giving up must not cancel the load the others are waiting for.
        result: T = await asyncio.shield(task)
        return result

    async def alert(self, alert_id: int) -> AlertView:
        return await self._once(("alert", alert_id), lambda: self.services.alerts.view(alert_id))

    async def alert_text(self, alert_id: int) -> str | None:
        return await self._once(
            ("alert_text", alert_id), lambda: self.services.alerts.text(alert_id)
        )

    async def follow_up_text(self, follow_up_id: int) -> str | None:
        return await self._once(
            ("follow_up_text", follow_up_id),
            lambda: self.services.alerts.follow_up_text(follow_up_id),
        )

    async def poll(self, poll_id: int) -> PollView:
        return await self._once(("poll", poll_id), lambda: self.services.polls.view(poll_id))

    async def announcement(self, announcement_id: int) -> AnnouncementView:
        return await self._once(
            ("announcement", announcement_id),
            lambda: self.services.announcements.view(announcement_id),
        )

    async def announcement_text(self, announcement_id: int) -> str | None:
        return await self._once(
            ("announcement_text", announcement_id),
            lambda: self.services.announcements.text(announcement_id),
        )

    async def need(self, need_id: int) -> NeedView:
        return await self._once(("need", need_id), lambda: self.services.needs.view(need_id))

    async def need_texts(self, need_id: int) -> tuple[str | None, str | None]:
        return await self._once(("need_texts", need_id), lambda: self.services.needs.texts(need_id))

    async def offer(self, offer_id: int) -> OfferView:
        return await self._once(("offer", offer_id), lambda: self.services.offers.get(offer_id))

    async def member(self, member_id: int) -> MemberView | None:
        return await self._once(
            ("member", member_id), lambda: self.services.membership.get(member_id)
        )


Renderer = Callable[[Job, RenderCache], Awaitable[Rendered]]


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


class Outbox:
    """One loop per process: claim a batch, send it concurrently under the rate limiter,
    record the outcomes in one transaction, repeat; sleep until woken when idle."""

    def __init__(
        self,
        bot: ExtBot[Any],
        services: Services,
        deliveries: DeliveryService,
        renderers: Mapping[str, Renderer],
        *,
        on_recorded: Callable[[Recorded], None],
        on_sent: Callable[[Job], None] = lambda job: None,
        release_everything: bool,
        batch_size: int = 30,
        concurrency: int = 4,
        idle_seconds: float = 1.0,
    ) -> None:
        self._bot = bot
        self._services = services
        self._deliveries = deliveries
        self._renderers = renderers
        self._on_recorded = on_recorded
        self._on_sent = on_sent
        self._release_everything = release_everything
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        # Clear from a wake until the new deliveries' first send has finished (or none were
        # due): what else runs on the bot's core meanwhile may wait (`handed_out`).
        self._handed_out = asyncio.Event()
        self._handed_out.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def wake(self) -> None:
        """New deliveries were committed: look for work now instead of at the next poll."""
        self._handed_out.clear()
        self._wake.set()

    async def handed_out(self) -> None:
        """Return once the deliveries of the last wake are on their way (the first of them
        sent, or nothing was due). An alert's status message for its sender waits for this,
        so that it does not compete with the alert's first deliveries for the database and
        the one core the bot has."""
        await self._handed_out.wait()

    async def start(self) -> None:
        # A single process (SQLite) owns every claim, so whatever it had claimed before a
        # restart was in flight: send it again. Several instances only take over expired ones.
        released = await self._deliveries.release_claims(everything=self._release_everything)
        if released:
            log.warning("resuming %d deliveries that were in flight at the last stop", released)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        """Finish the batch in flight (its outcomes are recorded), then stop."""
        self._stopping = True
        self._handed_out.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("delivery round failed; retrying shortly")
                self._handed_out.set()
                worked = False
                await asyncio.sleep(1.0)
            if not worked and not self._stopping:
                await self._idle()

    async def run_once(self) -> bool:
        """One round; False when there was nothing due."""
        jobs = await self._deliveries.claim(self._batch_size)
        if not jobs:
            self._handed_out.set()
            return False
        cache = RenderCache(self._services)
        results = await asyncio.gather(*(self._send(job, cache) for job in jobs))
        self._handed_out.set()
        recorded = await self._deliveries.record(results)
        self.sent += recorded.finished.get("sent", 0)
        self._on_recorded(recorded)
        return True

    async def _idle(self) -> None:
        timeout = self._idle_seconds
        next_due = await self._deliveries.next_due()
        if next_due is not None:
            wait = (next_due - self._services.clock.now()).total_seconds()
            timeout = min(timeout, max(0.0, wait))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _send(self, job: Job, cache: RenderCache) -> Result:
        try:
            return await self._send_one(job, cache)
        finally:
            self._handed_out.set()

    async def _send_one(self, job: Job, cache: RenderCache) -> Result:
        async with self._slots:
            renderer = self._renderers.get(job.kind)
            try:
                if renderer is None:
                    raise LookupError(f"no renderer for delivery kind {job.kind!r}")
                rendered = await renderer(job, cache)
            except Exception:
                log.exception("could not render delivery %s (%s)", job.id, job.kind)
                return Result(job.id, Outcome.FAILED, error="render error")
            try:
                message = await self._deliver(job, rendered)
            except TelegramError as error:
                outcome = classify(error) or Result(0, Outcome.RETRY, error=type(error).__name__)
                log.info("delivery %s: %s", job.id, outcome.error)
                return Result(
                    job.id, outcome.outcome, retry_after=outcome.retry_after, error=outcome.error
                )
            self._on_sent(job)
            return Result(job.id, Outcome.SENT, message_id=message.message_id)

    async def _deliver(self, job: Job, rendered: Rendered) -> Message:
        # No retries here: a failed delivery is rescheduled in the database.
        pace = Pace(Lane.URGENT if job.priority == Priority.URGENT else Lane.ROUTINE, retries=0)
        if rendered.document is None:
            # Texts members wrote may hold links: no preview, which would fetch the page (from
            # Telegram's servers) and show it as if the network vouched for it.
            return await self._bot.send_message(
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
        return await self._bot.send_document(
            job.chat_id,
            InputFile(document.data, filename=document.filename, attach=True),
            caption=rendered.text,
            parse_mode=HTML,
            reply_markup=rendered.markup,
            disable_notification=job.silent,
            protect_content=rendered.protect,
            rate_limit_args=pace,
        )
