"""`build_application`: the only place that wires handlers, services, storage, scheduler and
Telegram together."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

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
from bot.audit import AuditService
from bot.availability import (
    DEPUTY_ENDED_NOTICE,
    DEPUTY_NOTICE,
    REGION_DECISION_NOTICE,
    REGION_REQUEST_NOTICE,
    AvailabilityService,
)
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.data_protection import DataProtectionService
from bot.delivery import UNREACHABLE_NOTICE, DeliveryService, Recorded
from bot.drills import DRILL_RESULT_NOTICE, DrillService
from bot.keys import TextCipher, encryption_keys, signing_key, verify_key
from bot.membership import CHANGE_NOTICE, DECISION_NOTICE, REQUEST_NOTICE, MembershipService
from bot.network import Network, load_network
from bot.report import ReportService
from bot.scheduling import Scheduler
from handlers import alerts as alert_handlers
from handlers import availability as availability_handlers
from handlers import data_protection as data_protection_handlers
from handlers import drills as drill_handlers
from handlers import membership as membership_handlers
from handlers import report as report_handlers
from handlers.access import AccessGate
from handlers.callbacks import ButtonRouter, Kind
from handlers.commands import Audience, CommandRegistry, set_default_menus, sync_member_menu
from handlers.concurrency import PerPersonUpdateProcessor
from handlers.context import CoraContext, Services
from handlers.errors import handle_error
from handlers.outbox import Outbox, Renderer
from handlers.ratelimit import TelegramLimiter
from handlers.status import StatusBoard
from storage import migrate
from storage.db import Database
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
GATE_GROUP, JOINING_GROUP, FEATURE_GROUP = -2, -1, 0
ESCALATION_SWEEP = "escalation-sweep"
AUDIT_CHECKPOINT = "audit-checkpoint"
RETENTION = "retention"

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
        DEPUTY_NOTICE: availability_handlers.render_deputy,
        DEPUTY_ENDED_NOTICE: availability_handlers.render_deputy_ended,
        REGION_REQUEST_NOTICE: availability_handlers.render_region_request,
        REGION_DECISION_NOTICE: availability_handlers.render_region_decision,
        DRILL_RESULT_NOTICE: drill_handlers.render_drill_result,
    }


class Runtime:
    """The background parts: outbox, status messages and escalation deadlines. Handlers tell it
    about committed changes through `CoraContext.background`."""

    def __init__(
        self, services: Services, application: TelegramApp, *, release_everything: bool
    ) -> None:
        self.services = services
        self.scheduler = Scheduler()
        settings = services.settings
        network, timezone = services.network, settings.cora_timezone
        self.board = StatusBoard(
            application.bot,
            services,
            lambda status, language: alert_handlers.render_status(
                status, language, network, timezone
            ),
        )
        self.outbox = Outbox(
            application.bot,
            services,
            services.deliveries,
            _renderers(),
            on_recorded=self._recorded,
            release_everything=release_everything,
        )

    # Background protocol -------------------------------------------------------------------

    def deliveries_added(self) -> None:
        self.outbox.wake()

    def alert_changed(self, alert: AlertView) -> None:
        self.board.touch([alert.id])
        self._schedule(alert.id, alert.escalate_at)
        if alert.drill:
            self._schedule_result(alert.id, alert.result_due_at)

    # ----------------------------------------------------------------------------------------

    def _recorded(self, recorded: Recorded) -> None:
        self.board.touch(recorded.alert_ids)
        if recorded.new_deliveries:
            self.outbox.wake()

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
        self.board.touch(item.alert_id for item in escalated)

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
            self.board.touch(finished)

    async def sweep(self) -> None:
        await self.run_escalations()
        await self.finish_drills()

    async def start(self) -> None:
        await self.outbox.start()
        await self.board.start()
        self.scheduler.start()
        self.scheduler.every(
            ESCALATION_SWEEP, self.services.settings.escalation_check_seconds, self.sweep
        )
        await self.sweep()
        for alert_id, at in await self.services.alerts.deadlines():
            self._schedule(alert_id, at)
        for alert_id, at in await self.services.drills.deadlines():
            self._schedule_result(alert_id, at)
        settings = self.services.settings
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
        await self.board.stop()
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

    async def start(self, *, polling: bool = True) -> None:
        await migrate.upgrade(self.database)
        await self.application.initialize()
        await self._set_menus()
        await self.application.start()
        await self.runtime.start()
        if polling and self.application.updater is not None:
            await self.application.updater.start_polling(
                poll_interval=0.0, timeout=10, allowed_updates=ALLOWED_UPDATES
            )
        log.info("cora-bot is running as @%s", self.application.bot.username)

    async def stop(self) -> None:
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
    database = Database(settings.database_url)
    uow = UnitOfWorkFactory(database, clock)
    cipher = TextCipher(encryption_keys(settings))
    alerts = AlertService(
        uow,
        network,
        cipher,
        EscalationPeriods(settings.escalation_urgent_after, settings.escalation_normal_after),
    )
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
        deliveries=DeliveryService(
            uow,
            network,
            instance_id=instance_id or uuid.uuid4().hex[:12],
            max_attempts=settings.delivery_max_attempts,
            lease=timedelta(seconds=settings.delivery_claim_seconds),
            timezone=settings.cora_timezone,
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
        .rate_limiter(TelegramLimiter(settings.telegram_max_rate))
        .connection_pool_size(32)
        .build()
    )
    runtime = Runtime(services, application, release_everything=database.is_sqlite)
    cora = CoraBot(settings, database, services, application, commands, runtime)
    application.bot_data["services"] = services
    application.bot_data["commands"] = commands
    application.bot_data["background"] = runtime

    application.add_handler(TypeHandler(Update, AccessGate(commands)), group=GATE_GROUP)
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND, membership_handlers.joining_text),
        group=JOINING_GROUP,
    )
    application.add_handler(alert_handlers.alert_dialog())
    for command in commands:
        if command.callback is not None:
            application.add_handler(CommandHandler(command.name, command.callback))
    application.add_handler(CallbackQueryHandler(_buttons().route))
    application.add_error_handler(handle_error)
    return cora
