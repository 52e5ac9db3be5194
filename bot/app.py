"""`build_application`: the only place that wires handlers, services, storage, scheduler and
Telegram together."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import personal_data
from bot.alerts import AlertService, EscalationPeriods
from bot.announcements import AnnouncementService
from bot.audit import AuditService
from bot.availability import (
    AvailabilityService,
)
from bot.channels import ChannelService
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.data_protection import DataProtectionService
from bot.delivery import DeliveryService
from bot.drills import DrillService
from bot.integrations import IntegrationService
from bot.keys import TextCipher, encryption_keys, signing_key, verify_keys
from bot.membership import MembershipService
from bot.memory import limit_malloc_arenas
from bot.network import Network, load_network
from bot.offers.needs import NeedPeriods, NeedService
from bot.offers.offers import OfferService
from bot.polls import PollService
from bot.refusals import RefusalLog
from bot.report import ReportService
from bot.runtime import Runtime, TelegramApp
from bot.updates import HandledUpdates
from handlers.alerts import actions as alert_actions
from handlers.alerts import dialog as alert_dialog
from handlers.announcements import actions as announcement_actions
from handlers.announcements import dialog as announcement_dialog
from handlers.availability import actions as availability_actions
from handlers.channels import actions as channel_actions
from handlers.common import dialogs
from handlers.common.access import AccessGate
from handlers.common.callbacks import ButtonRouter, Kind
from handlers.common.commands import (
    Audience,
    Command,
    CommandRegistry,
    set_default_menus,
    sync_member_menu,
)
from handlers.common.context import CoraContext, Services
from handlers.common.errors import handle_error
from handlers.data_protection import actions as data_protection_actions
from handlers.drills import actions as drill_actions
from handlers.membership import actions as membership_actions
from handlers.offers import actions as offer_actions
from handlers.offers import dialog as offer_dialog
from handlers.polls import actions as poll_actions
from handlers.polls import dialog as poll_dialog
from handlers.report import actions as report_handlers
from handlers.transport.api import api_routes
from handlers.transport.bot import TelegramBot
from handlers.transport.concurrency import PerPersonUpdateProcessor, UpdateQueue
from handlers.transport.ratelimit import TelegramLimiter
from handlers.transport.request import telegram_request
from handlers.transport.web import MAX_UPDATE_BYTES, Metrics, Probes, health_routes, webhook_route
from storage import migrate
from storage.db import Database
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
GATE_GROUP, JOINING_GROUP, FEATURE_GROUP = -2, -1, 0


def _file_url(base_url: str) -> str:
    root = base_url.removesuffix("/bot")
    return f"{root}/file/bot"


# Every command, in the order the menus show them; None: a dialog's entry point handles it.
_COMMANDS = (
    Command("start", Audience.EVERYONE, membership_actions.start),
    Command("help", Audience.EVERYONE, membership_actions.help_command),
    Command("me", Audience.EVERYONE, membership_actions.me),
    Command("language", Audience.EVERYONE, membership_actions.language),
    Command("cancel", Audience.EVERYONE, membership_actions.cancel),
    Command("alert", Audience.MEMBER, None),
    Command("alerts", Audience.MEMBER, alert_actions.list_alerts),
    Command("ack", Audience.MEMBER, alert_actions.ack_command),
    Command("take", Audience.MEMBER, alert_actions.take_command),
    Command("update", Audience.MEMBER, alert_actions.update_command),
    Command("close", Audience.MEMBER, alert_actions.close_command),
    Command("invite", Audience.COORDINATOR, membership_actions.invite),
    Command("invites", Audience.COORDINATOR, membership_actions.invites),
    Command("pending", Audience.COORDINATOR, membership_actions.pending),
    Command("approve", Audience.COORDINATOR, membership_actions.approve),
    Command("reject", Audience.COORDINATOR, membership_actions.reject),
    Command("revoke", Audience.COORDINATOR, membership_actions.revoke),
    Command("members", Audience.COORDINATOR, membership_actions.members),
    Command("change", Audience.COORDINATOR, membership_actions.change),
    Command("erase", Audience.COORDINATOR, data_protection_actions.erase),
    Command("audit", Audience.COORDINATOR, data_protection_actions.audit_overview),
    Command("mydata", Audience.MEMBER, data_protection_actions.my_data, self_service=True),
    Command("leave", Audience.MEMBER, data_protection_actions.leave, self_service=True),
    Command("channels", Audience.MEMBER, channel_actions.list_channels),
    Command("channel", Audience.MEMBER, channel_actions.show_channel),
    Command("polls", Audience.MEMBER, poll_actions.list_polls),
    Command("vote", Audience.MEMBER, poll_actions.vote_command),
    Command("results", Audience.MEMBER, poll_actions.results_command),
    Command("newchannel", Audience.COORDINATOR, channel_actions.new_channel),
    Command("channelrule", Audience.COORDINATOR, channel_actions.change_rule),
    Command("archivechannel", Audience.COORDINATOR, channel_actions.archive_channel),
    Command("announce", Audience.COORDINATOR, None),
    Command("scheduled", Audience.COORDINATOR, announcement_actions.list_scheduled),
    Command("poll", Audience.COORDINATOR, None),
    Command("closepoll", Audience.COORDINATOR, poll_actions.close_command),
    Command("away", Audience.MEMBER, availability_actions.away),
    Command("back", Audience.MEMBER, availability_actions.back),
    Command("quiet", Audience.MEMBER, availability_actions.quiet),
    Command("regions", Audience.MEMBER, availability_actions.regions),
    Command("drill", Audience.COORDINATOR, drill_actions.drill),
    Command("drillresult", Audience.COORDINATOR, drill_actions.drill_result),
    Command("report", Audience.COORDINATOR, report_handlers.report),
    Command("find", Audience.MEMBER, None),
    Command("need", Audience.MEMBER, None),
    Command("needs", Audience.MEMBER, offer_actions.list_needs),
    Command("offers", Audience.MEMBER, offer_actions.list_offers),
    Command("offer", Audience.MEMBER, offer_actions.offer_command),
    Command("places", Audience.MEMBER, offer_actions.places_command),
    Command("waiting", Audience.MEMBER, offer_actions.waiting_command),
    Command("maintainer", Audience.COORDINATOR, offer_actions.maintainer_command),
)


def _commands() -> CommandRegistry:
    registry = CommandRegistry()
    for command in _COMMANDS:
        registry.add(
            command.name, command.audience, command.callback, self_service=command.self_service
        )
    return registry


def _buttons() -> ButtonRouter:
    router = ButtonRouter()
    router.add(Kind.JOIN, membership_actions.join_button)
    router.add(Kind.LANGUAGE, membership_actions.language_button)
    router.add(Kind.MEMBER, membership_actions.member_button)
    router.add(Kind.INVITE, membership_actions.invite_button)
    router.add(Kind.DRAFT, alert_dialog.draft_button)
    router.add(Kind.ALERT, alert_actions.alert_button)
    router.add(Kind.ERASE, data_protection_actions.erase_button)
    router.add(Kind.CHANNEL, channel_actions.channel_button)
    router.add(Kind.ANNOUNCEMENT, announcement_actions.announcement_button)
    router.add(Kind.POLL, poll_actions.poll_button)
    router.add(Kind.FORM, poll_dialog.form_button)
    router.add(Kind.REGION, availability_actions.region_button)
    router.add(Kind.OFFER, offer_actions.offer_button)
    router.add(Kind.NEED, offer_actions.need_button)
    router.add(Kind.SEEK, offer_dialog.seek_button)
    return router


@dataclass(repr=False)
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

    def __repr__(self) -> str:
        # Short and without secrets: the generated one walked every service (the network once
        # per service, ~160,000 characters) down to python-telegram-bot's repr of the bot, which
        # holds the token. asyncio builds it whenever it shows a task that returned the bot.
        return f"CoraBot({self.application.bot!r})"

    async def start(self, *, mode: str = "polling") -> None:
        """Start everything; `mode` is how updates arrive: polling, webhook, or none (tests
        and instances that only deliver)."""
        self.database.hold()  # SQLite: one process per file
        await migrate.upgrade(self.database)
        # The personal-data check's word lists take a second to load: not on the first alert.
        # They load while the menus are set (network round trips), before anything is sent:
        # a thread of its own beside the outbox would slow sending down.
        warming = asyncio.ensure_future(asyncio.to_thread(personal_data.warm_up))
        await self.application.initialize()
        await self._set_menus()
        await warming
        await self.application.start()
        await self.runtime.start()
        await self._open_doors(mode)
        log.info("cora-bot is running as @%s (%s)", self.application.bot.username, mode)

    async def _open_doors(self, mode: str) -> None:
        """Updates by webhook or long polling; the probes and the HTTP API on their own
        addresses where configured, else beside the webhook."""
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
        api = api_routes(self.services.integrations, self.services.network, self.services.refusals)
        if mode == "webhook":
            beside = (probes if self.settings.metrics_listen is None else []) + (
                api if self.settings.api_listen is None else []
            )
            await self._serve_webhook(beside)
        elif mode == "polling" and self.application.updater is not None:
            await self.application.updater.start_polling(
                poll_interval=0.0, timeout=10, allowed_updates=ALLOWED_UPDATES
            )
        if self.settings.metrics_listen is not None:
            await self._serve(self.settings.metrics_listen, probes)
        if self.settings.api_listen is not None:
            await self._serve(self.settings.api_listen, api)

    async def _serve_webhook(self, beside: list[web.RouteDef]) -> None:
        url, secret = self.settings.webhook()
        services = self.services
        webhook = webhook_route(
            urlsplit(url).path or "/",
            secret,
            self.application,
            services.refusals,
            services.handled_updates,
        )
        await self._serve(self.settings.webhook_listen, [webhook, *beside])
        await self.application.bot.set_webhook(
            url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, max_connections=40
        )

    @property
    def limiter(self) -> TelegramLimiter:
        return self.runtime.limiter

    async def _serve(self, listen: str, routes: list[web.RouteDef]) -> None:
        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        app.add_routes(routes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, _, port = listen.rpartition(":")
        await web.TCPSite(runner, host.strip("[]") or None, int(port)).start()
        self.servers.append(runner)

    async def stop(self) -> None:
        self.runtime.stop_sending()  # a stop is prompt: nothing more is claimed from now on
        for runner in self.servers:  # no new updates while the rest shuts down
            await runner.cleanup()
        self.servers.clear()
        # Refusals of the current minute too: nothing counted is lost at a regular stop.
        await self.services.refusals.flush(everything=True)
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        await self.runtime.stop()
        if self.application.running:
            await self.application.stop()
        await self.runtime.leave()  # after the last reply the handlers sent
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
    """Wire one bot: the services on the database, the Telegram application with its
    handlers, and the runtime that one place after every commit wakes."""
    limit_malloc_arenas()  # before the database's connections start their threads
    clock = clock or SystemClock()
    database = Database(settings.database_url, lock_timeout_ms=settings.database_lock_timeout_ms)
    uow = UnitOfWorkFactory(database, clock)
    metrics = Metrics()
    network = network or load_network(settings.cora_network_file)
    services = _services(settings, uow, network, metrics, instance_id or uuid.uuid4().hex[:12])
    commands = _commands()
    application = _telegram_application(settings)
    _add_handlers(application, services, commands)
    runtime = Runtime(services, application, metrics, release_everything=database.is_sqlite)
    uow.on_commit = runtime.apply  # one place after every commit wakes the background
    return CoraBot(settings, database, services, application, commands, runtime, metrics)


def _services(
    settings: Settings,
    uow: UnitOfWorkFactory,
    network: Network,
    metrics: Metrics,
    instance_id: str,
) -> Services:
    """Every domain service, on one unit-of-work factory."""
    cipher = TextCipher(encryption_keys(settings))
    deliveries = DeliveryService(
        uow,
        network,
        instance_id=instance_id,
        max_attempts=settings.delivery_max_attempts,
        lease=timedelta(seconds=settings.delivery_claim_seconds),
        backoff_first=settings.delivery_retry_seconds,
        timezone=settings.cora_timezone,
    )
    alerts = AlertService(
        uow,
        network,
        cipher,
        EscalationPeriods(settings.escalation_urgent_after, settings.escalation_normal_after),
        urgent_per_hour=settings.alert_urgent_per_hour,
        deliveries=deliveries,
    )
    channels = ChannelService(uow, network)
    offers = OfferService(uow, network, settings.places_stale_after)
    needs = NeedService(
        uow,
        network,
        cipher,
        NeedPeriods(
            widen_after=settings.need_widen_after,
            unmet_after=settings.need_unmet_after,
            urgent_escalation=settings.escalation_urgent_after,
        ),
        settings.places_stale_after,
    )
    return Services(
        settings=settings,
        network=network,
        clock=uow.clock,
        cipher=cipher,
        membership=MembershipService(
            uow, network, settings.invite_max_days, invite_max_uses=settings.invite_max_uses
        ),
        alerts=alerts,
        audit=AuditService(
            uow,
            network,
            [key.key for key in verify_keys(settings)],
            signing_key(settings),
            witness_file=settings.witness_path,
            head_messages=settings.audit_witness_chat,
            checkpoint_every=timedelta(minutes=settings.audit_checkpoint_minutes),
        ),
        data_protection=DataProtectionService(
            uow, network, timedelta(days=settings.retention_days)
        ),
        integrations=IntegrationService(uow, network, cipher, alerts, offers, needs),
        deliveries=deliveries,
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
        reports=ReportService(
            uow,
            network,
            settings.cora_timezone,
            settings.report_slow_after,
            settings.places_stale_after,
        ),
        refusals=RefusalLog(
            uow,
            burst=settings.http_refusal_burst,
            per_minute=settings.http_refusals_per_minute,
            on_refused=lambda endpoint, reason: metrics.refusals.labels(endpoint, reason).inc(),
        ),
        handled_updates=HandledUpdates(uow),
        offers=offers,
        needs=needs,
    )


def _telegram_application(settings: Settings) -> TelegramApp:
    """python-telegram-bot's Application: our context, the per-person update order, the
    bounded update queue, the rate limiter and the HTTP clients."""
    # ExtBot with the outbox's send of a message id (`TelegramBot.send_text`), built here as
    # ApplicationBuilder would build its ExtBot from the same settings.
    telegram_bot = TelegramBot(
        settings.bot_token(),
        base_url=settings.telegram_base_url,
        base_file_url=_file_url(settings.telegram_base_url),
        rate_limiter=TelegramLimiter(settings.telegram_max_rate),
        request=telegram_request(
            settings.telegram_http_client,
            connection_pool_size=32,
            read_timeout=settings.telegram_read_timeout,
        ),
        # Long polling holds its one connection for the poll's duration (PTB's default pool).
        get_updates_request=telegram_request(
            settings.telegram_http_client,
            connection_pool_size=1,
            read_timeout=settings.telegram_read_timeout,
        ),
    )
    return (
        ApplicationBuilder()
        .bot(telegram_bot)
        # Due times live in the database and run on the runtime's scheduler; PTB's own JobQueue
        # (built by default because APScheduler is installed) would only idle beside it, and
        # its stop sleeps 10 ms.
        .job_queue(None)
        .context_types(ContextTypes(context=CoraContext))
        .concurrent_updates(PerPersonUpdateProcessor())
        .update_queue(UpdateQueue(settings.updates_in_flight))
        .build()
    )


def _add_handlers(application: TelegramApp, services: Services, commands: CommandRegistry) -> None:
    """The access gate first, then joining, the dialogs, commands, buttons, and last a reply
    to text nobody expected; one error handler for all."""
    application.bot_data["services"] = services
    application.bot_data["commands"] = commands
    application.add_handler(TypeHandler(Update, AccessGate(commands)), group=GATE_GROUP)
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND, membership_actions.joining_text),
        group=JOINING_GROUP,
    )
    application.add_handler(alert_dialog.alert_dialog())
    application.add_handler(announcement_dialog.announce_dialog())
    application.add_handler(poll_dialog.poll_dialog())
    application.add_handler(offer_dialog.find_dialog())
    application.add_handler(offer_dialog.need_dialog())
    for command in commands:
        if command.callback is not None:
            application.add_handler(CommandHandler(command.name, command.callback))
    application.add_handler(CallbackQueryHandler(_buttons().route))
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND, dialogs.unexpected_text)
    )
    application.add_error_handler(handle_error)
