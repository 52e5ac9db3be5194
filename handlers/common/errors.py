"""The one error handler: domain refusals become translated replies, the rest a polite apology."""

from __future__ import annotations

import logging
from datetime import date, datetime

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.errors import DomainError, PersonalDataError, as_domain_error
from bot.i18n import html_text, pick_language, text
from bot.network import Names
from handlers.common.context import CoraContext
from handlers.common.render import day_text, findings_text, local_time

log = logging.getLogger(__name__)


async def _language(update: Update, context: CoraContext) -> str:
    user = update.effective_user
    default = context.services.settings.cora_default_language
    if user is None:
        return default
    try:
        member = await context.services.membership.find_by_telegram(user.id)
    except Exception:  # the database may be what failed
        member = None
    return pick_language(member.language if member else None, user.language_code, default)


_ECHO_LIMIT = 300  # long enough for lists of valid codes, short enough for any message


def _shorten(value: object) -> object:
    if isinstance(value, str) and len(value) > _ECHO_LIMIT:
        return value[: _ECHO_LIMIT - 1] + "…"
    return value


def _shown(value: object, language: str, timezone: str) -> object:
    """Dates, times and places of a refusal in the reader's way and the network's time zone."""
    if isinstance(value, Names):
        return _shorten(value.shown(language))
    if isinstance(value, datetime):
        return local_time(value, timezone, language)
    if isinstance(value, date):
        return day_text(value, language)
    return _shorten(value)


async def handle_error(update: object, context: CoraContext) -> None:
    """Reply to the person and stop this update from reaching any later handler group."""
    error = as_domain_error(context.error)
    if not isinstance(update, Update):
        log.error("error outside an update", exc_info=error)
        return
    if isinstance(error, DomainError):
        # Parameters often echo what the person typed: keep the reply short and valid.
        key, params = error.message_key, dict(error.params)
        log.info("refused update %s: %s", update.update_id, key)  # never the findings' text
    else:
        key, params = "error.generic", {}
        # Only the type and the update id: tracebacks of our code are fine, message bodies not.
        log.error("update %s failed", update.update_id, exc_info=error)
    try:
        await _reply(update, context, error, key, params)
    except TelegramError as reply_error:
        log.warning("could not send the error reply: %s", reply_error)
    raise ApplicationHandlerStop


async def _reply(
    update: Update, context: CoraContext, error: object, key: str, params: dict[str, object]
) -> None:
    """The explanation in the person's language, where they acted."""
    language = await _language(update, context)
    timezone = context.services.settings.cora_timezone
    params = {name: _shown(value, language, timezone) for name, value in params.items()}
    if isinstance(error, PersonalDataError):
        params["findings"] = findings_text(language, error.findings)
    if update.callback_query:
        await update.callback_query.answer(text(language, key, **params), show_alert=True)
    elif update.effective_chat:
        await update.effective_chat.send_message(
            html_text(language, key, **params), parse_mode=ParseMode.HTML
        )
