"""Scheduled announcements and read confirmations: /scheduled and the announcement buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import CallbackQuery, InlineKeyboardMarkup, Update

from bot.announcements import AnnouncementView
from bot.errors import DomainError
from handlers.announcements.views import EXCERPT, readers_line
from handlers.channels.views import target_text
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.render import (
    edit_html,
    keyboard,
    plain,
    say,
    say_count,
    send_html,
    tr,
    when,
)


async def say_about(
    update: Update,
    context: CoraContext,
    key: str,
    announcement: AnnouncementView,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **params: object,
) -> None:
    """A text about one announcement: its number and when it is (to be) sent, and `params`."""
    time = when(context, announcement.send_at)
    await say(update, context, key, id=announcement.id, time=time, markup=markup, **params)


async def list_scheduled(update: Update, context: CoraContext) -> None:
    """`/scheduled`: scheduled announcements, each with a cancel button."""
    items = await context.services.announcements.scheduled(context.active_member.id)
    if not await say_count(update, context, "scheduled", items):
        return
    network = context.services.network
    for announcement, text in items[:20]:
        excerpt = (text or "")[:EXCERPT] + ("…" if text and len(text) > EXCERPT else "")
        cancel = Button(Kind.ANNOUNCEMENT, str(announcement.id), "cancel").encode()
        await say_about(
            update,
            context,
            "scheduled.line",
            announcement,
            target=target_text(network, announcement.target, context.language),
            text=excerpt,
            markup=keyboard([[(plain(context, "button.cancel_announcement"), cancel)]]),
        )


async def announcement_button(update: Update, context: CoraContext, button: Button) -> None:
    """ "Read", and the sender's "cancel", "who" and "remind"."""
    action = _ACTIONS.get(button.action)
    if not button.id.isdecimal() or action is None:
        raise DomainError("button.invalid")
    query = update.callback_query
    assert query is not None
    await action(update, context, query, int(button.id))


async def _read(update: Update, context: CoraContext, query: CallbackQuery, item: int) -> None:
    """The press leaves its trace on the member's own copy through the live messages."""
    await context.services.announcements.confirm_read(context.active_member.id, item)
    await query.answer(plain(context, "announcement.read_thanks"))


async def _cancel(update: Update, context: CoraContext, query: CallbackQuery, item: int) -> None:
    view = await context.services.announcements.cancel(context.active_member.id, item)
    await query.answer()
    await edit_html(query, tr(context, "announcement.cancelled", id=view.id))


async def _remind(update: Update, context: CoraContext, query: CallbackQuery, item: int) -> None:
    count = await context.services.announcements.remind_unread(context.active_member.id, item)
    await query.answer(plain(context, "announcement.reminded", count=count))


async def _who(update: Update, context: CoraContext, query: CallbackQuery, item: int) -> None:
    member = context.active_member
    status = await context.services.announcements.read_status(item)
    if status.announcement.sender.id != member.id and not member.is_coordinator:
        raise DomainError("announcement.unknown", id=item)
    await query.answer()
    await send_html(update, readers_line(context.language, status))


_Action = Callable[[Update, CoraContext, CallbackQuery, int], Awaitable[None]]
_ACTIONS: dict[str, _Action] = {"read": _read, "cancel": _cancel, "remind": _remind, "who": _who}
