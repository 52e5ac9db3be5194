"""The access gate: runs first for every update and lets only verified members through."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.i18n import pick_language
from bot.membership import MemberView
from handlers.common.callbacks import SELF_SERVICE_KINDS, UNVERIFIED_KINDS, Button, decode
from handlers.common.commands import (
    Audience,
    Command,
    CommandRegistry,
    audience_of,
    command_name,
)
from handlers.common.context import CoraContext
from handlers.common.render import plain, say
from storage.models import MemberStatus

log = logging.getLogger(__name__)

_JOINING = (MemberStatus.ONBOARDING, MemberStatus.APPLYING)


def _kind(update: Update) -> str:
    if update.callback_query:
        return "callback"
    if update.message and update.message.text and update.message.text.startswith("/"):
        return "command"
    return "message" if update.message else "other"


class AccessGate:
    """Decides, per update, whether it may reach any feature handler."""

    def __init__(self, registry: CommandRegistry) -> None:
        self._registry = registry

    async def __call__(self, update: Update, context: CoraContext) -> None:
        """Load the person, pick their language, and stop whatever they may not do."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or user.is_bot:
            raise ApplicationHandlerStop
        if chat.type != ChatType.PRIVATE:
            await self._refuse_group(update, context)
            raise ApplicationHandlerStop
        member = await context.services.membership.find_by_telegram(user.id)
        context.member = member
        _pick_language(context, member.language if member else None, user.language_code)
        refusal = self._refusal(update, context, member)
        if refusal is not None:
            await _refuse(update, context, member, refusal)
            raise ApplicationHandlerStop

    def _refusal(
        self, update: Update, context: CoraContext, member: MemberView | None
    ) -> str | None:
        """The message key explaining why this update is refused, or None to let it through."""
        message, query = update.message, update.callback_query
        name = command_name(message.text, context.bot.username) if message else None
        command = self._registry.get(name) if name else None
        button = decode(query.data) if query else None
        if member is not None and (
            (command is not None and command.self_service)
            or (button is not None and button.kind in SELF_SERVICE_KINDS)
        ):
            return None
        audience = audience_of(member)
        if audience >= Audience.MEMBER:
            return _member_refusal(name, command, audience)
        if member is not None and member.status not in _JOINING:
            # Pending, rejected or revoked: only a fresh invitation link may change anything.
            words = len((message.text or "").split()) if message else 0
            return None if name == "start" and words > 1 else _explanation(member)
        return _joining_refusal(update, member, name, command, button)

    async def _refuse_group(self, update: Update, context: CoraContext) -> None:
        message = update.message
        if message and command_name(message.text, context.bot.username) is not None:
            user = update.effective_user
            _pick_language(context, None, user.language_code if user else None)
            await say(update, context, "access.private_only", bot=context.bot.username)


def _pick_language(context: CoraContext, chosen: str | None, client: str | None) -> None:
    default = context.services.settings.cora_default_language
    context.language = pick_language(chosen, client, default)


async def _refuse(
    update: Update, context: CoraContext, member: MemberView | None, refusal: str
) -> None:
    """Log the refusal (without the text) and explain it where the person acted."""
    log.info(
        "refused %s from %s (%s)",
        _kind(update),
        f"member {member.id}" if member else "a stranger",
        member.status if member else "unknown",
    )
    if update.callback_query:
        await update.callback_query.answer(plain(context, refusal), show_alert=True)
    elif update.message:
        await say(update, context, refusal)


def _joining_refusal(
    update: Update,
    member: MemberView | None,
    name: str | None,
    command: Command | None,
    button: Button | None,
) -> str | None:
    """Someone joining, or a stranger, may press the joining buttons and use open commands."""
    if update.callback_query:
        return None if button and button.kind in UNVERIFIED_KINDS else _explanation(member)
    if update.message is None:
        return "access.unsupported"
    if name is not None:
        return None if command and command.audience == Audience.EVERYONE else _explanation(member)
    return None if member is not None else _explanation(member)


def _member_refusal(name: str | None, command: Command | None, audience: Audience) -> str | None:
    """Members may use any known command their role allows."""
    if name is None:
        return None
    if command is None:
        return "command.unknown"
    return "error.coordinators_only" if command.audience > audience else None


def _explanation(member: MemberView | None) -> str:
    if member is None:
        return "access.stranger"
    return f"access.{member.status}"
