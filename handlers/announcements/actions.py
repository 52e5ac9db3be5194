"""Scheduled announcements and read confirmations: /scheduled and the announcement buttons."""

from __future__ import annotations

from telegram import Update

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
    send_html,
    tr,
    when,
)


async def list_scheduled(update: Update, context: CoraContext) -> None:
    """`/scheduled`: scheduled announcements, each with a cancel button."""
    items = await context.services.announcements.scheduled(context.active_member.id)
    if not items:
        await say(update, context, "scheduled.none")
        return
    await say(update, context, "scheduled.header", count=len(items))
    network = context.services.network
    for announcement, text in items[:20]:
        excerpt = (text or "")[:EXCERPT] + ("…" if text and len(text) > EXCERPT else "")
        cancel = Button(Kind.ANNOUNCEMENT, str(announcement.id), "cancel").encode()
        await say(
            update,
            context,
            "scheduled.line",
            id=announcement.id,
            time=when(context, announcement.send_at),
            target=target_text(network, announcement.target, context.language),
            text=excerpt,
            markup=keyboard([[(plain(context, "button.cancel_announcement"), cancel)]]),
        )


async def announcement_button(update: Update, context: CoraContext, button: Button) -> None:
    """ "Read", and the sender's "cancel", "who" and "remind"."""
    query = update.callback_query
    assert query is not None
    if not button.id.isdigit() or button.action not in ("read", "cancel", "who", "remind"):
        raise DomainError("button.invalid")
    announcement_id = int(button.id)
    service = context.services.announcements
    member = context.active_member
    if button.action == "read":
        await service.confirm_read(member.id, announcement_id)
        await query.answer(plain(context, "announcement.read_thanks"))
        await query.edit_message_reply_markup(None)
        return
    if button.action == "cancel":
        view = await service.cancel(member.id, announcement_id)
        await query.answer()
        await edit_html(query, tr(context, "announcement.cancelled", id=view.id))
        return
    if button.action == "remind":
        count = await service.remind_unread(member.id, announcement_id)
        await query.answer(plain(context, "announcement.reminded", count=count))
        return
    status = await service.read_status(announcement_id)
    if status.announcement.sender.id != member.id and not member.is_coordinator:
        raise DomainError("announcement.unknown", id=announcement_id)
    await query.answer()
    await send_html(update, readers_line(context.language, status))
