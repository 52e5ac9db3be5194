"""The command registry: who may use which command, for the gate, /help and the menu."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from telegram.error import TelegramError

from bot import i18n
from bot.membership import MemberView

log = logging.getLogger(__name__)


class Audience(IntEnum):
    """Ordered: each audience may use the commands of the ones before it."""

    EVERYONE = 0  # also people who are not verified yet
    MEMBER = 1
    COORDINATOR = 2


HandlerCallback = Callable[..., Awaitable[object]]


@dataclass(frozen=True)
class Command:
    name: str
    audience: Audience
    callback: HandlerCallback | None = None  # None: handled by a dialog's entry point
    # Rights over one's own data (GDPR): open to everyone the bot knows, whatever their status.
    self_service: bool = False


class CommandRegistry:
    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def add(
        self,
        name: str,
        audience: Audience,
        callback: HandlerCallback | None = None,
        *,
        self_service: bool = False,
    ) -> None:
        if name in self._commands:
            raise ValueError(f"command /{name} registered twice")
        self._commands[name] = Command(name, audience, callback, self_service)

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._commands.values())

    def for_audience(self, audience: Audience) -> list[Command]:
        return [command for command in self._commands.values() if command.audience <= audience]


class HelpGroup(StrEnum):
    """The sections of /help, in the order shown."""

    ALERTS = "alerts"
    POLLS = "polls"  # polls and announcements
    MEMBERS = "members"
    NETWORK = "network"  # channels, the support system and the report
    YOU = "you"  # profile, language, availability and one's own data


_HELP_GROUPS: dict[HelpGroup, tuple[str, ...]] = {
    HelpGroup.ALERTS: ("alert", "alerts", "ack", "take", "update", "close", "drill", "drillresult"),
    HelpGroup.POLLS: ("poll", "polls", "vote", "results", "closepoll", "announce", "scheduled"),
    HelpGroup.MEMBERS: (
        *("invite", "invites", "pending", "approve", "reject", "revoke"),
        *("members", "change", "erase", "audit"),
    ),
    HelpGroup.NETWORK: (
        *("channels", "channel", "newchannel", "channelrule", "archivechannel"),
        *("find", "need", "needs", "offers", "offer", "places", "waiting", "maintainer"),
        "report",
    ),
    HelpGroup.YOU: (
        *("start", "help", "me", "language", "cancel"),
        *("away", "back", "quiet", "regions", "mydata", "leave"),
    ),
}
_GROUP_OF = {name: group for group, names in _HELP_GROUPS.items() for name in names}


def help_group(name: str) -> HelpGroup:
    """The /help section of a command; one not placed yet goes with the person's own."""
    return _GROUP_OF.get(name, HelpGroup.YOU)


def help_sections(commands: list[Command]) -> list[tuple[HelpGroup, list[Command]]]:
    """The commands by /help section, sections in their order, empty ones left out."""
    sections: dict[HelpGroup, list[Command]] = {group: [] for group in HelpGroup}
    for command in commands:
        sections[help_group(command.name)].append(command)
    return [(group, listed) for group, listed in sections.items() if listed]


def audience_of(member: MemberView | None) -> Audience:
    if member is None or not member.is_active:
        return Audience.EVERYONE
    return Audience.COORDINATOR if member.is_coordinator else Audience.MEMBER


def command_name(text: str | None, bot_username: str) -> str | None:
    """`/cmd`, `/cmd args` or `/cmd@thisbot` → `cmd`; anything else → None."""
    if not text or not text.startswith("/"):
        return None
    word = text.split(maxsplit=1)[0][1:]
    name, _, target = word.partition("@")
    if target and target.lower() != bot_username.lower():
        return None
    return name.lower() or None


def _bot_commands(registry: CommandRegistry, audience: Audience, language: str) -> list[BotCommand]:
    return [
        BotCommand(command.name, i18n.text(language, f"command.{command.name}"))
        for command in registry.for_audience(audience)
    ]


async def set_default_menus(bot: Bot, registry: CommandRegistry, default_language: str) -> None:
    """Members' commands for all private chats, per language; the default is the network's."""
    scope = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands(_bot_commands(registry, Audience.MEMBER, default_language), scope)
    for language in i18n.LANGUAGES:
        commands = _bot_commands(registry, Audience.MEMBER, language)
        await bot.set_my_commands(commands, scope, language_code=language)


async def sync_member_menu(
    bot: Bot, registry: CommandRegistry, member: MemberView, default_language: str
) -> None:
    """Coordinators get their own menu in their chat; everyone else falls back to the default."""
    if member.chat_id is None:
        return
    scope = BotCommandScopeChat(member.chat_id)
    try:
        if member.is_coordinator:
            language = member.language or default_language
            commands = _bot_commands(registry, Audience.COORDINATOR, language)
            await bot.set_my_commands(commands, scope)
        else:
            await bot.delete_my_commands(scope)
    except TelegramError as error:
        log.warning("could not update the command menu of member %s: %s", member.id, error)
