"""The access gate: runs first for every update and lets only verified members through."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.i18n import pick_language
from bot.membership import MemberView
from handlers.common.callbacks import SELF_SERVICE_KINDS, UNVERIFIED_KINDS, decode
from handlers.common.commands import Audience, CommandRegistry, audience_of, command_name
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
        context.language = pick_language(
            member.language if member else None,
            user.language_code,
            context.services.settings.cora_default_language,
        )
        refusal = self._refusal(update, context, member)
        if refusal is None:
            return
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
        raise ApplicationHandlerStop

    def _refusal(
        self, update: Update, context: CoraContext, member: MemberView | None
    ) -> str | None:
        """The message key explaining why this update is refused, or None to let it through."""
        audience = audience_of(member)
        joining = member is None or member.status in _JOINING
        message = update.message
        name = command_name(message.text, context.bot.username) if message else None
        command = self._registry.get(name) if name else None
        if member is not None and command is not None and command.self_service:
            return None
        if member is not None and update.callback_query:
            button = decode(update.callback_query.data)
            if button is not None and button.kind in SELF_SERVICE_KINDS:
                return None
        if audience >= Audience.MEMBER:
            if name is None:
                return None
            command = self._registry.get(name)
            if command is None:
                return "command.unknown"
            if command.audience > audience:
                return "error.coordinators_only"
            return None
        if not joining:
            # Pending, rejected or revoked: only a fresh invitation link may change anything.
            if name == "start" and message is not None and len((message.text or "").split()) > 1:
                return None
            return _explanation(member)
        if update.callback_query:
            button = decode(update.callback_query.data)
            return None if button and button.kind in UNVERIFIED_KINDS else _explanation(member)
        if message is None:
            return "access.unsupported"
        if name is not None:
            command = self._registry.get(name)
            return (
                None if command and command.audience == Audience.EVERYONE else _explanation(member)
            )
        return None if member is not None else _explanation(member)

    async def _refuse_group(self, update: Update, context: CoraContext) -> None:
        message = update.message
        if message and command_name(message.text, context.bot.username) is not None:
            user = update.effective_user
            context.language = pick_language(
                None,
                user.language_code if user else None,
                context.services.settings.cora_default_language,
            )
            await say(update, context, "access.private_only", bot=context.bot.username)


def _explanation(member: MemberView | None) -> str:
    if member is None:
        return "access.stranger"
    return f"access.{member.status}"
