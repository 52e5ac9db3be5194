"""`build_application`: the only place that wires handlers, services, storage and Telegram."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.keys import TextCipher, encryption_keys
from bot.membership import MembershipService
from bot.network import Network, load_network
from handlers import membership as membership_handlers
from handlers.access import AccessGate
from handlers.callbacks import ButtonRouter, Kind
from handlers.commands import Audience, CommandRegistry, set_default_menus, sync_member_menu
from handlers.concurrency import PerPersonUpdateProcessor
from handlers.context import CoraContext, Services
from handlers.errors import handle_error
from storage import migrate
from storage.db import Database
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
GATE_GROUP, JOINING_GROUP, FEATURE_GROUP = -2, -1, 0

TelegramApp = Application[Any, CoraContext, Any, Any, Any, Any]


def _file_url(base_url: str) -> str:
    root = base_url.removesuffix("/bot")
    return f"{root}/file/bot"


def _commands() -> CommandRegistry:
    registry = CommandRegistry()
    m = membership_handlers
    registry.add("start", Audience.EVERYONE, m.start)
    registry.add("help", Audience.EVERYONE, m.help_command)
    registry.add("me", Audience.EVERYONE, m.me)
    registry.add("language", Audience.EVERYONE, m.language)
    registry.add("cancel", Audience.EVERYONE, m.cancel)
    registry.add("invite", Audience.COORDINATOR, m.invite)
    registry.add("pending", Audience.COORDINATOR, m.pending)
    registry.add("approve", Audience.COORDINATOR, m.approve)
    registry.add("reject", Audience.COORDINATOR, m.reject)
    registry.add("revoke", Audience.COORDINATOR, m.revoke)
    registry.add("members", Audience.COORDINATOR, m.members)
    return registry


def _buttons() -> ButtonRouter:
    router = ButtonRouter()
    router.add(Kind.JOIN, membership_handlers.join_button)
    router.add(Kind.LANGUAGE, membership_handlers.language_button)
    router.add(Kind.MEMBER, membership_handlers.member_button)
    return router


@dataclass
class CoraBot:
    """A wired bot: Telegram application, services and database, started and stopped together."""

    settings: Settings
    database: Database
    services: Services
    application: TelegramApp
    commands: CommandRegistry

    async def start(self, *, polling: bool = True) -> None:
        await migrate.upgrade(self.database)
        await self.application.initialize()
        await self._set_menus()
        await self.application.start()
        if polling and self.application.updater is not None:
            await self.application.updater.start_polling(
                poll_interval=0.0, timeout=10, allowed_updates=ALLOWED_UPDATES
            )
        log.info("cora-bot is running as @%s", self.application.bot.username)

    async def stop(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
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
    settings: Settings, *, clock: Clock | None = None, network: Network | None = None
) -> CoraBot:
    clock = clock or SystemClock()
    network = network or load_network(settings.cora_network_file)
    database = Database(settings.database_url)
    uow = UnitOfWorkFactory(database, clock)
    services = Services(
        settings=settings,
        network=network,
        clock=clock,
        cipher=TextCipher(encryption_keys(settings)),
        membership=MembershipService(uow, network, settings.invite_max_days),
    )
    commands = _commands()
    application: TelegramApp = (
        ApplicationBuilder()
        .token(settings.bot_token())
        .base_url(settings.telegram_base_url)
        .base_file_url(_file_url(settings.telegram_base_url))
        .context_types(ContextTypes(context=CoraContext))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .concurrent_updates(PerPersonUpdateProcessor())
        .connection_pool_size(32)
        .build()
    )
    cora = CoraBot(settings, database, services, application, commands)
    application.bot_data["services"] = services
    application.bot_data["commands"] = commands

    application.add_handler(TypeHandler(Update, AccessGate(commands)), group=GATE_GROUP)
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND, membership_handlers.joining_text),
        group=JOINING_GROUP,
    )
    for command in commands:
        if command.callback is not None:
            application.add_handler(CommandHandler(command.name, command.callback))
    application.add_handler(CallbackQueryHandler(_buttons().route))
    application.add_error_handler(handle_error)
    return cora
