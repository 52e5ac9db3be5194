"""What runs beside the handlers: the outbox, live messages and every due time (escalations,
scheduled announcements, poll reminders and deadlines, drills, needs and places reminders,
audit checkpoints, retention)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram.ext import Application

from bot.alerts import Notice, StatusView
from bot.alerts.copies import COPY_KINDS
from bot.announcements import AnnouncementNotice
from bot.audit import AUDIT_HEAD_NOTICE, AUDIT_REFUSED_NOTICE
from bot.availability import (
    ABSENCE_DIGEST_NOTICE,
    DEPUTY_ENDED_NOTICE,
    DEPUTY_NOTICE,
    REGION_DECISION_NOTICE,
    REGION_REQUEST_NOTICE,
)
from bot.delivery import UNREACHABLE_NOTICE, Job, Recorded, Sent
from bot.drills import DRILL_RESULT_NOTICE
from bot.membership import CHANGE_NOTICE, DECISION_NOTICE, REDEEMED_NOTICE, REQUEST_NOTICE
from bot.offers.asking import NeedNotice
from bot.offers.offers import PLACES_REMINDER
from bot.polls import BALLOT_KINDS, Ballot, PollNotice
from bot.timing.scheduling import Scheduler, Task
from handlers.alerts import views as alert_views
from handlers.announcements import views as announcement_views
from handlers.availability import views as availability_views
from handlers.common.context import CoraContext, Services
from handlers.data_protection import views as data_protection_views
from handlers.drills import views as drill_views
from handlers.membership import views as membership_views
from handlers.offers import views as offer_views
from handlers.polls import views as poll_views
from handlers.transport.live import LiveMessage, LiveMessages
from handlers.transport.outbox import RENEWED_FOR_LEASES, Handed, Outbox, Renderer
from handlers.transport.ratelimit import TelegramLimiter
from handlers.transport.web import Metrics
from storage.uow import Effects

log = logging.getLogger(__name__)

ESCALATION_SWEEP = "escalation-sweep"
AUDIT_CHECKPOINT = "audit-checkpoint"
RETENTION = "retention"
SCHEDULE_SWEEP = "schedule-sweep"
REFUSAL_FLUSH = "refusal-flush"
HANDLED_UPDATES = "handled-updates"
INSTANCE_BEAT = "instance-beat"
# Several instances on one database (PostgreSQL) note every BEAT_SECONDS that they run, and
# each sends at most its share of TELEGRAM_MAX_RATE: Telegram's limit counts the bot, not the
# process. An instance not seen for ALIVE_FOR no longer counts (killed: its share returns).
BEAT_SECONDS = 2.0
# Longer than a stop takes (STOP_GRACE_SECONDS, 6 s): a stopping instance still counts while it
# sends its last messages.
ALIVE_FOR = timedelta(seconds=5 * BEAT_SECONDS)
REFUSAL_FLUSH_SECONDS = 10
KEEP_KNOWN = 512  # ballots kept for their refresh (Runtime._known)
KEEP_CHANGED = 10_000  # changes of copies remembered for the deliveries in flight
# The live keys of messages the outbox sends (their copies in people's chats), each with the key
# that refreshes all copies of its subject at once.
_ANNOUNCEMENT_KINDS = (AnnouncementNotice.ANNOUNCEMENT, AnnouncementNotice.REMINDER)


def _copy_keys(sent: Sent) -> tuple[Hashable, Hashable] | None:
    """The live key that refreshes this sent message, and the one for all its subject's copies
    (None for a message that is never edited)."""
    if sent.kind in COPY_KINDS and sent.alert_id is not None:
        return ("alert-copy", sent.alert_id, sent.member_id), ("alert-copies", sent.alert_id)
    subject, member = sent.subject_id, sent.member_id
    if subject is None:
        return None
    if sent.kind == REQUEST_NOTICE:
        key: Hashable = ("request", subject)
    elif sent.kind in _ANNOUNCEMENT_KINDS:
        key = ("announcement-copy", subject, member)
    elif sent.kind in BALLOT_KINDS:
        key = ("ballot", subject, member)
    else:
        return None
    return key, key


_COPY_FAMILIES = frozenset({"alert-copy", "alert-copies", "request", "announcement-copy", "ballot"})


@dataclass(frozen=True)
class Known:
    """What a committed transaction knew a touched live message is to show, and the process's
    commit number of that transaction (`UnitOfWorkFactory.unchanged_since`)."""

    shown: object
    commit: int


TelegramApp = Application[Any, CoraContext, Any, Any, Any, Any]


def _renderers() -> dict[str, Renderer]:
    return {
        Notice.ALERT: alert_views.render_alert,
        Notice.REMINDER: alert_views.render_alert,
        Notice.ESCALATION: alert_views.render_alert,
        Notice.FOLLOW_UP: alert_views.render_follow_up,
        Notice.TAKEN: alert_views.render_notice,
        Notice.CLOSED: alert_views.render_notice,
        UNREACHABLE_NOTICE: alert_views.render_unreachable,
        Notice.URGENT_LIMIT: alert_views.render_urgent_limit,
        REDEEMED_NOTICE: membership_views.render_redeemed,
        REQUEST_NOTICE: membership_views.render_request,
        DECISION_NOTICE: membership_views.render_decision,
        CHANGE_NOTICE: membership_views.render_change,
        AnnouncementNotice.ANNOUNCEMENT: announcement_views.render_announcement,
        AnnouncementNotice.REMINDER: announcement_views.render_announcement,
        PollNotice.BALLOT: poll_views.render_ballot,
        PollNotice.REMINDER: poll_views.render_ballot,
        PollNotice.CLOSED: poll_views.render_closed,
        PollNotice.RESULT: poll_views.render_result,
        DEPUTY_NOTICE: availability_views.render_deputy,
        DEPUTY_ENDED_NOTICE: availability_views.render_deputy_ended,
        ABSENCE_DIGEST_NOTICE: availability_views.render_absence_digest,
        REGION_REQUEST_NOTICE: availability_views.render_region_request,
        REGION_DECISION_NOTICE: availability_views.render_region_decision,
        DRILL_RESULT_NOTICE: drill_views.render_drill_result,
        AUDIT_HEAD_NOTICE: data_protection_views.render_audit_head,
        AUDIT_REFUSED_NOTICE: data_protection_views.render_audit_refused,
        NeedNotice.NEED: offer_views.render_need,
        NeedNotice.TAKEN: offer_views.render_need_notice,
        NeedNotice.GONE: offer_views.render_need_notice,
        NeedNotice.UNMET: offer_views.render_need_notice,
        NeedNotice.ESCALATION: offer_views.render_need_escalation,
        PLACES_REMINDER: offer_views.render_places_reminder,
    }


class Runtime:
    """The background parts: outbox, live messages and every due time (escalations, scheduled
    announcements, poll reminders and deadlines). It hears of every committed change through
    `apply`, called after each unit of work that has effects."""

    def __init__(
        self,
        services: Services,
        application: TelegramApp,
        metrics: Metrics,
        *,
        release_everything: bool,
    ) -> None:
        self.services = services
        self.metrics = metrics
        self.scheduler = Scheduler()
        limiter = application.bot.rate_limiter
        assert isinstance(limiter, TelegramLimiter)
        self.limiter = limiter
        self._shared = not release_everything  # a database other instances may use too
        self._beaten = time.monotonic()  # when this instance was last noted as running
        settings = services.settings
        self.outbox = Outbox(
            application.bot,
            services,
            services.deliveries,
            _renderers(),
            on_recorded=self._recorded,
            on_sent=self._sent,
            release_everything=release_everything,
            concurrency=settings.delivery_concurrency,
            idle_seconds=settings.delivery_idle_seconds,
        )
        self.live = LiveMessages(
            application.bot, self._live_messages, min_interval=settings.live_message_interval
        )
        # What a committed transaction knew a touched live message is to show (a vote's
        # ballot), until the refresh shows it; a later touch without it drops it. At most
        # KEEP_KNOWN: in a burst of presses the refreshes fall behind, and each ballot kept is
        # several kB; beyond that the refresh reads the ballot itself.
        self._known: dict[Hashable, Known] = {}
        # The copies' keys touched by commits, oldest first, with when (monotonic): a message
        # rendered before such a change and recorded as sent only after the change's refresh
        # (which found no recorded copy to edit) is refreshed once more when it is recorded.
        # Kept for one lease longer than an outbox renews its claims: no batch is in flight
        # longer than that.
        self._changed: dict[Hashable, float] = {}
        self._changed_for = (RENEWED_FOR_LEASES + 1) * settings.delivery_claim_seconds

    def apply(self, effects: Effects) -> None:
        """After every commit: wake the outbox for new deliveries, refresh the live messages
        the change touched, and (re)schedule the deadlines it moved."""
        if effects.claimed:
            jobs = [job for job in effects.claimed if isinstance(job, Job)]
            self.outbox.hand(Handed(jobs, effects.rendered, effects.commit))
        if effects.deliveries:
            self.outbox.wake()
        for key in effects.live:
            if key in effects.known and (key in self._known or len(self._known) < KEEP_KNOWN):
                self._known[key] = Known(effects.known[key], effects.commit)
            else:
                self._known.pop(key, None)
        self.live.touch(effects.live)
        # A vote's ballot (touched with what it shows) needs no second refresh: the pressed
        # message is refreshed itself (bot/polls/voting.py).
        self._note_changed(key for key in effects.live if key not in effects.known)
        for key, when in effects.due.items():
            self._at(key, when, self._job_for(key))

    def _job_for(self, key: str) -> Task:
        kind = key.partition(":")[0]
        jobs: dict[str, Task] = {
            "escalate": self.run_escalations,
            "drill-result": self.finish_drills,
            "announce": self.send_announcements,
            "poll": self.run_polls,
            "need": self.run_needs,
            "absence": self.end_absences,
        }
        return jobs[kind]

    def _recorded(self, recorded: Recorded, started: float) -> None:
        for state, count in recorded.finished.items():
            self.metrics.deliveries.labels(state).inc(count)
        self.live.touch(("alert", i) for i in recorded.alert_ids)
        self.live.touch(
            ("announcement", subject)
            for kind, subject in recorded.subjects
            if kind == AnnouncementNotice.ANNOUNCEMENT
        )
        self.live.touch(self._changed_in_flight(recorded.sent, started))
        if recorded.new_deliveries:
            self.outbox.wake()

    def _note_changed(self, keys: Iterable[Hashable]) -> None:
        now, changed = time.monotonic(), self._changed
        for key in keys:
            if isinstance(key, tuple) and key[0] in _COPY_FAMILIES:
                changed.pop(key, None)  # to the end: the dict stays ordered by time
                changed[key] = now
        while changed:
            oldest = next(iter(changed))
            if now - changed[oldest] <= self._changed_for and len(changed) <= KEEP_CHANGED:
                break
            del changed[oldest]

    def _changed_in_flight(self, sent: Iterable[Sent], started: float) -> list[Hashable]:
        """The keys of the messages just recorded as sent whose subject changed after their batch
        began: they may show what was before, and the change's own refresh found no recorded
        copy of them to edit."""
        if not self._changed:
            return []
        keys = []
        for delivery in sent:
            found = _copy_keys(delivery)
            if found is not None and any(self._changed.get(k, started) > started for k in found):
                keys.append(found[0])
        return keys

    def _sent(self, job: Job) -> None:
        latency = (self.services.clock.now() - job.created_at).total_seconds()
        self.metrics.delivery_latency.observe(max(latency, 0.0))

    async def _live_messages(self, key: Hashable) -> list[LiveMessage]:
        assert isinstance(key, tuple)
        services = self.services
        if key[0] == "alert":
            # What the raise knew, while no other write of this process has committed since
            # (an answer, a close, an erasure, a sent delivery would change it): else read.
            known = self._known.pop(key, None)
            status = (
                known.shown
                if isinstance(known, Known)
                and isinstance(known.shown, StatusView)
                and services.alerts.uow.unchanged_since(known.commit)
                else None
            )
            return await alert_views.live_status(services, key[1], status)
        if key[0] == "alert-copy":
            return await alert_views.live_copies(services, key[1], key[2])
        if key[0] == "alert-copies":
            return await alert_views.live_copies(services, key[1])
        if key[0] == "announcement-copy":
            return await announcement_views.live_copies(services, key[1], key[2])
        if key[0] == "request":
            return await membership_views.live_request(services, key[1])
        if key[0] == "announcement":
            return await announcement_views.live_status(services, key[1])
        if key[0] == "poll":
            return await poll_views.live_overview(services, key[1])
        known = self._known.pop(key, None)
        ballot = (
            known.shown if isinstance(known, Known) and isinstance(known.shown, Ballot) else None
        )
        return await poll_views.live_ballot(services, key[1], key[2], ballot)

    def _at(self, key: str, when: datetime | None, job: Task) -> None:
        if when is None:
            self.scheduler.cancel(key)
        else:
            self.scheduler.at(key, when, job)

    async def send_announcements(self) -> None:
        """Send the scheduled announcements that are due (also those missed while down)."""
        sent = await self.services.announcements.send_due()
        self.live.touch(("announcement", item.announcement_id) for item in sent)

    async def run_polls(self) -> None:
        """Send due poll reminders and close polls at their deadline (also missed ones)."""
        done = await self.services.polls.run_due()
        for item in done:
            self._at(f"poll:{item.poll_id}", item.next_at, self.run_polls)
        self.live.touch(("poll", item.poll_id) for item in done)

    async def run_needs(self) -> None:
        """Widen, escalate and close as unmet the needs that are due (also missed ones)."""
        handled = await self.services.needs.run_due()
        for item in handled:
            self._at(f"need:{item.need_id}", item.next_at, self.run_needs)

    async def end_absences(self) -> None:
        """End the absences that ran out (also while the bot was down); the digest and the
        deputy's notice go through the outbox."""
        await self.services.availability.end_due()

    async def remind_stale_places(self) -> None:
        """Remind maintainers whose places report is older than PLACES_STALE_AFTER."""
        await self.services.offers.remind_stale()

    async def _sweep(self) -> None:
        await self.send_announcements()
        await self.run_polls()
        await self.run_needs()
        await self.end_absences()
        await self.remind_stale_places()

    async def run_escalations(self) -> None:
        """Escalate what is due (also what fell due while the bot was down)."""
        escalated = await self.services.alerts.escalate_due()
        for item in escalated:
            self._at(f"escalate:{item.alert_id}", item.next_at, self.run_escalations)
        self.metrics.escalations.inc(sum(1 for item in escalated if item.new_deliveries))
        self.live.touch(("alert", item.alert_id) for item in escalated)

    async def finish_drills(self) -> None:
        """Close drills whose time is up and send their results (also those missed while the
        bot was down)."""
        finished = await self.services.drills.finish_due()
        self.live.touch(("alert", i) for i in finished)

    async def sweep(self) -> None:
        await self.run_escalations()
        await self.finish_drills()

    async def start(self) -> None:
        if self._shared:
            await self._join()
        await self.outbox.start()
        await self.live.start()
        # After a restart every open alert's status message may be stale, or was never sent.
        self.live.touch(("alert", i) for i in await self.services.alerts.open_alert_ids())
        self.scheduler.start()
        settings = self.services.settings
        self.scheduler.every(ESCALATION_SWEEP, settings.escalation_check_seconds, self.sweep)
        self.scheduler.every(SCHEDULE_SWEEP, settings.schedule_check_seconds, self._sweep)
        # What fell due while the bot was down runs now; the rest is scheduled.
        await self.sweep()
        for alert_id, at in await self.services.alerts.deadlines():
            self._at(f"escalate:{alert_id}", at, self.run_escalations)
        for alert_id, at in await self.services.drills.deadlines():
            self._at(f"drill-result:{alert_id}", at, self.finish_drills)
        await self._sweep()
        for announcement_id, at in await self.services.announcements.due_times():
            self._at(f"announce:{announcement_id}", at, self.send_announcements)
        for poll_id, at in await self.services.polls.due_times():
            self._at(f"poll:{poll_id}", at, self.run_polls)
        for need_id, at in await self.services.needs.due_times():
            self._at(f"need:{need_id}", at, self.run_needs)
        for absence_id, at in await self.services.availability.due_times():
            self._at(f"absence:{absence_id}", at, self.end_absences)
        self.live.touch(("poll", poll_id) for poll_id in await self.services.polls.undecided_ids())
        self.live.touch(("announcement", i) for i in await self.services.announcements.sent_ids())
        self.scheduler.every(
            AUDIT_CHECKPOINT, settings.audit_checkpoint_minutes * 60, self.sign_checkpoint
        )
        self.scheduler.every(RETENTION, 24 * 3600, self.apply_retention)
        await self.apply_retention()
        # A finished minute's refusals reach the audit log within these seconds.
        self.scheduler.every(REFUSAL_FLUSH, REFUSAL_FLUSH_SECONDS, self.audit_refusals)
        self.scheduler.every(HANDLED_UPDATES, 3600, self.forget_handled_updates)

    async def _join(self) -> None:
        """Before the first message: count the running instances, take this one's share and
        beat from now on. Those already running learn of it at their next beat (within
        BEAT_SECONDS); it does not wait for them: after a crash the dead instance still counts
        until ALIVE_FOR, and an urgent alert must not wait for that."""
        self.limiter.share(await self.services.deliveries.beat(ALIVE_FOR))
        self._beaten = time.monotonic()
        self.scheduler.every(INSTANCE_BEAT, BEAT_SECONDS, self.beat)

    async def beat(self) -> None:
        """Note this instance as running and take its share of Telegram's limit. An instance
        that could not say so for most of ALIVE_FOR may count no longer for the others: it
        sends nothing until it can again."""
        try:
            async with asyncio.timeout(BEAT_SECONDS):  # a hung beat is a failed one
                running = await self.services.deliveries.beat(ALIVE_FOR)
        except Exception:
            log.warning("could not note this instance as running", exc_info=True)
            stale = time.monotonic() - self._beaten > ALIVE_FOR.total_seconds() - 2 * BEAT_SECONDS
            if stale and self.limiter.instances > 1:  # alone, it takes nobody's share
                self.limiter.hold(2 * BEAT_SECONDS)  # until past the next beat
            return
        self._beaten = time.monotonic()
        self.limiter.share(running)

    async def sign_checkpoint(self) -> None:
        signing = await self.services.audit.checkpoint()
        if signing.checkpoint is not None:
            log.info("signed audit checkpoint at %d", signing.checkpoint.seq)

    async def audit_refusals(self) -> None:
        await self.services.refusals.flush()

    async def forget_handled_updates(self) -> None:
        await self.services.handled_updates.prune()

    async def apply_retention(self) -> None:
        result = await self.services.data_protection.apply_retention()
        if result.alerts or result.deliveries or result.requests:
            log.info(
                "retention: %d alerts, %d follow-ups, %d deliveries, %d requests",
                result.alerts,
                result.follow_ups,
                result.deliveries,
                result.requests,
            )

    def stop_sending(self) -> None:
        """The first step of a stop: the outbox claims no new batch while the rest of the
        bot shuts down (what is not claimed waits for the next start or another instance)."""
        self.outbox.wind_down()

    async def stop(self) -> None:
        await self.scheduler.shutdown()
        await self.live.stop()
        await self.outbox.stop()

    async def leave(self) -> None:
        """The last step of a stop, after the last message: the others take this instance's
        share a second later (what it sent in its last second still counts at Telegram)."""
        if self._shared:
            try:
                await self.services.deliveries.leave(ALIVE_FOR)
            except Exception:
                log.warning("could not note this instance as stopped", exc_info=True)
