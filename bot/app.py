"""`build_application`: the only place that wires handlers, services, storage, scheduler and
Telegram together."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.alerts import AlertService, AlertView, EscalationPeriods, Notice
from bot.announcements import AnnouncementNotice, AnnouncementService
from bot.audit import AuditService
from bot.availability import (
    DEPUTY_ENDED_NOTICE,
    DEPUTY_NOTICE,
    REGION_DECISION_NOTICE,
    REGION_REQUEST_NOTICE,
    AvailabilityService,
)
from bot.channels import ChannelService
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.data_protection import DataProtectionService
from bot.delivery import UNREACHABLE_NOTICE, DeliveryService, Job, Recorded
from bot.drills import DRILL_RESULT_NOTICE, DrillService
from bot.integrations import IntegrationService
from bot.keys import TextCipher, encryption_keys, signing_key, verify_key
from bot.membership import CHANGE_NOTICE, DECISION_NOTICE, REQUEST_NOTICE, MembershipService
from bot.network import Network, load_network
from bot.polls import PollNotice, PollService, PollView
from bot.report import ReportService
from bot.scheduling import Scheduler, Task
from handlers import alerts as alert_handlers
from handlers import announcements as announcement_handlers
from handlers import availability as availability_handlers
from handlers import channels as channel_handlers
from handlers import data_protection as data_protection_handlers
from handlers import dialogs
from handlers import drills as drill_handlers
from handlers import membership as membership_handlers
from handlers import polls as poll_handlers
from handlers import report as report_handlers
from handlers.access import AccessGate
from handlers.api import api_routes
from handlers.callbacks import ButtonRouter, Kind
from handlers.commands import Audience, CommandRegistry, set_default_menus, sync_member_menu
from handlers.concurrency import PerPersonUpdateProcessor, UpdateQueue
from handlers.context import CoraContext, Services
from handlers.errors import handle_error
from handlers.live import LiveMessage, LiveMessages
from handlers.outbox import Outbox, Renderer
from handlers.ratelimit import TelegramLimiter
from handlers.web import MAX_UPDATE_BYTES, Metrics, Probes, health_routes, webhook_route
from storage import migrate
from storage.db import Database
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
GATE_GROUP, JOINING_GROUP, FEATURE_GROUP = -2, -1, 0
ESCALATION_SWEEP = "escalation-sweep"
AUDIT_CHECKPOINT = "audit-checkpoint"
RETENTION = "retention"
SCHEDULE_SWEEP = "schedule-sweep"

TelegramApp = Application[Any, CoraContext, Any, Any, Any, Any]


def _file_url(base_url: str) -> str:
    root = base_url.removesuffix("/bot")
    return f"{root}/file/bot"


def _commands() -> CommandRegistry:
    registry = CommandRegistry()
    m, a, d = membership_handlers, alert_handlers, data_protection_handlers
    v, r = availability_handlers, drill_handlers
    registry.add("start", Audience.EVERYONE, m.start)
    registry.add("help", Audience.EVERYONE, m.help_command)
    registry.add("me", Audience.EVERYONE, m.me)
    registry.add("language", Audience.EVERYONE, m.language)
    registry.add("cancel", Audience.EVERYONE, m.cancel)
    registry.add("alert", Audience.MEMBER)  # the dialog's entry point
    registry.add("alerts", Audience.MEMBER, a.list_alerts)
    registry.add("ack", Audience.MEMBER, a.ack_command)
    registry.add("take", Audience.MEMBER, a.take_command)
    registry.add("update", Audience.MEMBER, a.update_command)
    registry.add("close", Audience.MEMBER, a.close_command)
    registry.add("invite", Audience.COORDINATOR, m.invite)
    registry.add("pending", Audience.COORDINATOR, m.pending)
    registry.add("approve", Audience.COORDINATOR, m.approve)
    registry.add("reject", Audience.COORDINATOR, m.reject)
    registry.add("revoke", Audience.COORDINATOR, m.revoke)
    registry.add("members", Audience.COORDINATOR, m.members)
    registry.add("change", Audience.COORDINATOR, m.change)
    registry.add("erase", Audience.COORDINATOR, d.erase)
    registry.add("audit", Audience.COORDINATOR, d.audit_overview)
    registry.add("mydata", Audience.MEMBER, d.my_data, self_service=True)
    registry.add("leave", Audience.MEMBER, d.leave, self_service=True)
    c, n, p = channel_handlers, announcement_handlers, poll_handlers
    registry.add("channels", Audience.MEMBER, c.list_channels)
    registry.add("channel", Audience.MEMBER, c.show_channel)
    registry.add("polls", Audience.MEMBER, p.list_polls)
    registry.add("vote", Audience.MEMBER, p.vote_command)
    registry.add("results", Audience.MEMBER, p.results_command)
    registry.add("newchannel", Audience.COORDINATOR, c.new_channel)
    registry.add("channelrule", Audience.COORDINATOR, c.change_rule)
    registry.add("archivechannel", Audience.COORDINATOR, c.archive_channel)
    registry.add("announce", Audience.COORDINATOR)  # the dialog's entry point
    registry.add("scheduled", Audience.COORDINATOR, n.list_scheduled)
    registry.add("poll", Audience.COORDINATOR)  # the dialog's entry point
    registry.add("closepoll", Audience.COORDINATOR, p.close_command)
    registry.add("away", Audience.MEMBER, v.away)
    registry.add("back", Audience.MEMBER, v.back)
    registry.add("quiet", Audience.MEMBER, v.quiet)
    registry.add("regions", Audience.MEMBER, v.regions)
    registry.add("drill", Audience.COORDINATOR, r.drill)
    registry.add("drillresult", Audience.COORDINATOR, r.drill_result)
    registry.add("report", Audience.COORDINATOR, report_handlers.report)
    return registry


def _buttons() -> ButtonRouter:
    router = ButtonRouter()
    router.add(Kind.JOIN, membership_handlers.join_button)
    router.add(Kind.LANGUAGE, membership_handlers.language_button)
    router.add(Kind.MEMBER, membership_handlers.member_button)
    router.add(Kind.DRAFT, alert_handlers.draft_button)
    router.add(Kind.ALERT, alert_handlers.alert_button)
    router.add(Kind.ERASE, data_protection_handlers.erase_button)
    router.add(Kind.CHANNEL, channel_handlers.channel_button)
    router.add(Kind.ANNOUNCEMENT, announcement_handlers.announcement_button)
    router.add(Kind.POLL, poll_handlers.poll_button)
    router.add(Kind.FORM, poll_handlers.form_button)
    router.add(Kind.REGION, availability_handlers.region_button)
    return router


def _renderers() -> dict[str, Renderer]:
    a = alert_handlers
    return {
        Notice.ALERT: a.render_alert,
        Notice.REMINDER: a.render_alert,
        Notice.ESCALATION: a.render_alert,
        Notice.FOLLOW_UP: a.render_follow_up,
        Notice.TAKEN: a.render_notice,
        Notice.CLOSED: a.render_notice,
        UNREACHABLE_NOTICE: a.render_unreachable,
        REQUEST_NOTICE: membership_handlers.render_request,
        DECISION_NOTICE: membership_handlers.render_decision,
        CHANGE_NOTICE: membership_handlers.render_change,
        AnnouncementNotice.ANNOUNCEMENT: announcement_handlers.render_announcement,
        AnnouncementNotice.REMINDER: announcement_handlers.render_announcement,
        PollNotice.BALLOT: poll_handlers.render_ballot,
        PollNotice.REMINDER: poll_handlers.render_ballot,
        PollNotice.CLOSED: poll_handlers.render_closed,
        PollNotice.RESULT: poll_handlers.render_result,
        DEPUTY_NOTICE: availability_handlers.render_deputy,
        DEPUTY_ENDED_NOTICE: availability_handlers.render_deputy_ended,
        REGION_REQUEST_NOTICE: availability_handlers.render_region_request,
        REGION_DECISION_NOTICE: availability_handlers.render_region_decision,
        DRILL_RESULT_NOTICE: drill_handlers.render_drill_result,
    }


class Runtime:
    """The background parts: outbox, live messages and every due time (escalations, scheduled
    announcements, poll reminders and deadlines). Handlers tell it about committed changes
    through `CoraContext.background`."""

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
        )
        self.live = LiveMessages(application.bot, self._live_messages)

    # Background protocol -------------------------------------------------------------------

    def deliveries_added(self) -> None:
        self.outbox.wake()

    def alert_changed(self, alert: AlertView) -> None:
        self.live.touch([("alert", alert.id)])
        self._schedule(alert.id, alert.escalate_at)
        if alert.drill:
            self._schedule_result(alert.id, alert.result_due_at)

    def announcement_changed(self, announcement_id: int, send_at: datetime | None) -> None:
        self._at(f"announce:{announcement_id}", send_at, self.send_announcements)
        if send_at is None:
            self.live.touch([("announcement", announcement_id)])

    def poll_changed(self, poll: PollView) -> None:
        self._at(f"poll:{poll.id}", poll.due_at, self.run_polls)
        self.live.touch([("poll", poll.id)])

    def ballot_changed(self, poll_id: int, member_id: int) -> None:
        self.live.touch([("ballot", poll_id, member_id), ("poll", poll_id)])

    # ----------------------------------------------------------------------------------------

    def _recorded(self, recorded: Recorded) -> None:
        for state, count in recorded.finished.items():
            self.metrics.deliveries.labels(state).inc(count)
        self.live.touch(("alert", i) for i in recorded.alert_ids)
        self.live.touch(
            ("announcement", subject)
            for kind, subject in recorded.subjects
            if kind == AnnouncementNotice.ANNOUNCEMENT
        )
        if recorded.new_deliveries:
            self.outbox.wake()

    def _sent(self, job: Job) -> None:
        latency = (self.services.clock.now() - job.created_at).total_seconds()
        self.metrics.delivery_latency.observe(max(latency, 0.0))

    async def _live_messages(self, key: Hashable) -> list[LiveMessage]:
        assert isinstance(key, tuple)
        services = self.services
        if key[0] == "alert":
            return await alert_handlers.live_status(services, key[1])
        if key[0] == "announcement":
            return await announcement_handlers.live_status(services, key[1])
        if key[0] == "poll":
            return await poll_handlers.live_overview(services, key[1])
        return await poll_handlers.live_ballot(services, key[1], key[2])

    def _at(self, key: str, when: datetime | None, job: Task) -> None:
        if when is None:
            self.scheduler.cancel(key)
        else:
            self.scheduler.at(key, when, job)

    async def send_announcements(self) -> None:
        """Send the scheduled announcements that are due (also those missed while down)."""
        sent = await self.services.announcements.send_due()
        if sent:
            self.outbox.wake()
        self.live.touch(("announcement", item.announcement_id) for item in sent)

    async def run_polls(self) -> None:
        """Send due poll reminders and close polls at their deadline (also missed ones)."""
        done = await self.services.polls.run_due()
        for item in done:
            self._at(f"poll:{item.poll_id}", item.next_at, self.run_polls)
        if any(item.closed or item.reminded for item in done):
            self.outbox.wake()
        self.live.touch(("poll", item.poll_id) for item in done)

    async def _sweep(self) -> None:
        await self.send_announcements()
        await self.run_polls()

    def _schedule(self, alert_id: int, at: Any) -> None:
        key = f"escalate:{alert_id}"
        if at is None:
            self.scheduler.cancel(key)
        else:
            self.scheduler.at(key, at, self.run_escalations)

    async def run_escalations(self) -> None:
        """Escalate what is due (also what fell due while the bot was down)."""
        escalated = await self.services.alerts.escalate_due()
        for item in escalated:
            self._schedule(item.alert_id, item.next_at)
        if any(item.new_deliveries for item in escalated):
            self.outbox.wake()
        self.metrics.escalations.inc(sum(1 for item in escalated if item.new_deliveries))
        self.live.touch(("alert", item.alert_id) for item in escalated)

    def _schedule_result(self, alert_id: int, at: Any) -> None:
        key = f"drill-result:{alert_id}"
        if at is None:
            self.scheduler.cancel(key)
        else:
            self.scheduler.at(key, at, self.finish_drills)

    async def finish_drills(self) -> None:
        """Close drills whose time is up and send their results (also those missed while the
        bot was down)."""
        finished = await self.services.drills.finish_due()
        if finished:
            self.outbox.wake()
            self.live.touch(("alert", i) for i in finished)

    async def sweep(self) -> None:
        await self.run_escalations()
        await self.finish_drills()

    async def start(self) -> None:
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
            self._schedule(alert_id, at)
        for alert_id, at in await self.services.drills.deadlines():
            self._schedule_result(alert_id, at)
        await self._sweep()
        for announcement_id, at in await self.services.announcements.due_times():
            self._at(f"announce:{announcement_id}", at, self.send_announcements)
        for poll_id, at in await self.services.polls.due_times():
            self._at(f"poll:{poll_id}", at, self.run_polls)
        self.live.touch(("poll", poll_id) for poll_id in await self.services.polls.undecided_ids())
        self.live.touch(("announcement", i) for i in await self.services.announcements.sent_ids())
        self.scheduler.every(
            AUDIT_CHECKPOINT, settings.audit_checkpoint_minutes * 60, self.sign_checkpoint
        )
        self.scheduler.every(RETENTION, 24 * 3600, self.apply_retention)
        await self.apply_retention()

    async def sign_checkpoint(self) -> None:
        checkpoint = await self.services.audit.checkpoint()
        if checkpoint is not None:
            log.info("signed audit checkpoint at %d", checkpoint.seq)

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

    async def stop(self) -> None:
        self.scheduler.shutdown()
        await self.live.stop()
        await self.outbox.stop()


@dataclass
class CoraBot:
    """A wired bot: Telegram application, services, background runtime and database."""

    settings: Settings
    database: Database
    services: Services
    application: TelegramApp
    commands: CommandRegistry
    runtime: Runtime
    metrics: Metrics
    servers: list[web.AppRunner] = field(default_factory=list)

    async def start(self, *, mode: str = "polling") -> None:
        """Start everything; `mode` is how updates arrive: polling, webhook, or none (tests
        and instances that only deliver)."""
        await migrate.upgrade(self.database)
        await self.application.initialize()
        await self._set_menus()
        await self.application.start()
        await self.runtime.start()
        probes = health_routes(
            Probes(
                self.services,
                self.database,
                self.metrics,
                lambda: self.runtime.scheduler.running,
                lambda: self.limiter.retry_afters,
                lambda: self.limiter.rate,
                timedelta(seconds=self.settings.ready_max_backlog_seconds),
            )
        )
        api = api_routes(self.services.integrations, self.services.network)
        if mode == "webhook":
            url, secret = self.settings.webhook()
            routes = [
                webhook_route(
                    urlsplit(url).path or "/",
                    secret,
                    self.application,
                    self.services.audit.record_refusal,
                )
            ]
            if self.settings.metrics_listen is None:
                routes += probes
            if self.settings.api_listen is None:
                routes += api
            await self._serve(self.settings.webhook_listen, routes)
            await self.application.bot.set_webhook(
                url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, max_connections=40
            )
        elif mode == "polling" and self.application.updater is not None:
            await self.application.updater.start_polling(
                poll_interval=0.0, timeout=10, allowed_updates=ALLOWED_UPDATES
            )
        if self.settings.metrics_listen is not None:
            await self._serve(self.settings.metrics_listen, probes)
        if self.settings.api_listen is not None:
            await self._serve(self.settings.api_listen, api)
        log.info("cora-bot is running as @%s (%s)", self.application.bot.username, mode)

    @property
    def limiter(self) -> TelegramLimiter:
        limiter = self.application.bot.rate_limiter
        assert isinstance(limiter, TelegramLimiter)
        return limiter

    async def _serve(self, listen: str, routes: list[web.RouteDef]) -> None:
        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        app.add_routes(routes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, _, port = listen.rpartition(":")
        await web.TCPSite(runner, host.strip("[]") or None, int(port)).start()
        self.servers.append(runner)

    async def stop(self) -> None:
        for runner in self.servers:  # no new updates while the rest shuts down
            await runner.cleanup()
        self.servers.clear()
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        await self.runtime.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        await self.database.dispose()

    async def _set_menus(self) -> None:
        bot, default_language = self.application.bot, self.settings.cora_default_language
        await set_default_menus(bot, self.commands, default_language)
        for coordinator in await self.services.membership.active_coordinators():
            await sync_member_menu(bot, self.commands, coordinator, default_language)


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    network: Network | None = None,
    instance_id: str | None = None,
) -> CoraBot:
    clock = clock or SystemClock()
    network = network or load_network(settings.cora_network_file)
    database = Database(settings.database_url, lock_timeout_ms=settings.database_lock_timeout_ms)
    uow = UnitOfWorkFactory(database, clock)
    cipher = TextCipher(encryption_keys(settings))
    alerts = AlertService(
        uow,
        network,
        cipher,
        EscalationPeriods(settings.escalation_urgent_after, settings.escalation_normal_after),
    )
    channels = ChannelService(uow, network)
    services = Services(
        settings=settings,
        network=network,
        clock=clock,
        cipher=cipher,
        membership=MembershipService(uow, network, settings.invite_max_days),
        alerts=alerts,
        audit=AuditService(uow, [verify_key(settings)], signing_key(settings)),
        data_protection=DataProtectionService(
            uow, network, timedelta(days=settings.retention_days)
        ),
        integrations=IntegrationService(uow, network, cipher, alerts),
        deliveries=DeliveryService(
            uow,
            network,
            instance_id=instance_id or uuid.uuid4().hex[:12],
            max_attempts=settings.delivery_max_attempts,
            lease=timedelta(seconds=settings.delivery_claim_seconds),
            timezone=settings.cora_timezone,
        ),
        channels=channels,
        announcements=AnnouncementService(uow, network, cipher, channels),
        polls=PollService(
            uow,
            network,
            cipher,
            channels,
            timezone=settings.cora_timezone,
            reminders=settings.poll_reminder_offsets,
        ),
        availability=AvailabilityService(uow, network, settings.cora_timezone),
        drills=DrillService(uow, network, alerts, settings.drill_result_after),
        reports=ReportService(uow, network, settings.cora_timezone, settings.report_slow_after),
    )
    commands = _commands()
    application: TelegramApp = (
        ApplicationBuilder()
        .token(settings.bot_token())
        .base_url(settings.telegram_base_url)
        .base_file_url(_file_url(settings.telegram_base_url))
        .context_types(ContextTypes(context=CoraContext))
        .concurrent_updates(PerPersonUpdateProcessor())
        .update_queue(UpdateQueue(settings.updates_in_flight))
        .rate_limiter(TelegramLimiter(settings.telegram_max_rate))
        .connection_pool_size(32)
        .build()
    )
    metrics = Metrics()
    runtime = Runtime(services, application, metrics, release_everything=database.is_sqlite)
    cora = CoraBot(settings, database, services, application, commands, runtime, metrics)
    application.bot_data["services"] = services
    application.bot_data["commands"] = commands
    application.bot_data["background"] = runtime

    application.add_handler(TypeHandler(Update, AccessGate(commands)), group=GATE_GROUP)
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND, membership_handlers.joining_text),
        group=JOINING_GROUP,
    )
    application.add_handler(alert_handlers.alert_dialog())
    application.add_handler(announcement_handlers.announce_dialog())
    application.add_handler(poll_handlers.poll_dialog())
    for command in commands:
        if command.callback is not None:
            application.add_handler(CommandHandler(command.name, command.callback))
    application.add_handler(CallbackQueryHandler(_buttons().route))
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND, dialogs.unexpected_text)
    )
    application.add_error_handler(handle_error)
    return cora
