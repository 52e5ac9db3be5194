"""Telegram adapters for announcements: the /announce dialog and one-line form, /scheduled,
read confirmations, and how announcements and their read status look."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import i18n
from bot.announcements import MAX_TEXT, AnnouncementNotice, ReadStatus, check_text
from bot.channels import Target
from bot.delivery import Job
from bot.errors import DomainError
from bot.i18n import Markup
from bot.keys import UnreadableText
from bot.membership import MemberView
from bot.network import Network
from bot.timing.dates import parse_moment, split_leading_moment
from handlers.alerts import _findings
from handlers.channels import target_text
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext, Services
from handlers.common.dialogs import current_draft, forget_draft, pressed, use_buttons
from handlers.common.render import (
    edit_html,
    keyboard,
    local_time,
    member_text,
    plain,
    rows_of,
    say,
    send_html,
    tr,
    when,
)
from handlers.transport.live import LiveMessage
from handlers.transport.outbox import RenderCache, Rendered
from storage.models import AnnouncementStatus

TARGET, TEXT, WHEN, READ, PREVIEW = range(5)
_DRAFT = "announcement_draft"
_READ_FLAGS = ("+read", "+gelesen")
_AT_WORDS = ("at", "am", "um")
_EXCERPT = 300


@dataclass
class Draft:
    """An announcement being written; in memory only until it is sent or scheduled."""

    target: Target | None = None
    text: str | None = None
    send_at: datetime | None = None
    read_confirmation: bool = False
    needs_confirmation: bool = False


def _draft(context: CoraContext) -> Draft:
    return current_draft(context, _DRAFT, Draft)


def _cancel_row(context: CoraContext) -> list[tuple[str, str]]:
    return [(plain(context, "button.cancel"), Button(Kind.FORM, "ann", "cancel").encode())]


# -- the one-line form and the dialog -------------------------------------------------------


async def announce_command(update: Update, context: CoraContext) -> int:
    """`/announce` opens the dialog; `/announce <target> [at DD.MM.YYYY HH:MM] [+read] <text>`
    sends (or schedules) at once."""
    assert update.message is not None and context.user_data is not None
    raw = (update.message.text or "").partition(" ")[2].strip()
    if not raw:
        context.user_data[_DRAFT] = Draft()
        await _ask_target(update, context)
        return TARGET
    target_raw, _, rest = raw.partition(" ")
    if not rest.strip():
        raise DomainError("announce.usage")
    draft = Draft(
        target=await context.services.channels.parse_target(context.active_member.id, target_raw)
    )
    word, _, after = rest.strip().partition(" ")
    if word.lower() in _AT_WORDS:
        moment, rest = split_leading_moment(after)
        draft.send_at = _send_time(context, moment or "")
    word, _, after = rest.strip().partition(" ")
    if word.lower() in _READ_FLAGS:
        draft.read_confirmation, rest = True, after
    context.user_data[_DRAFT] = draft
    return await _take_text(update, context, draft, rest, send_when_clean=True)


def _send_time(context: CoraContext, raw: str) -> datetime:
    settings = context.services.settings
    moment = parse_moment(
        raw, settings.cora_timezone, now=context.services.clock.now(), need_time=True
    )
    return moment.start


async def _ask_target(update: Update, context: CoraContext) -> None:
    channels = await context.services.channels.list_for(context.active_member.id)
    buttons = [(plain(context, "announce.everyone"), Button(Kind.FORM, "all", "atarget").encode())]
    buttons += [
        (f"#{c.name}", Button(Kind.FORM, f"c{c.id}", "atarget").encode()) for c in channels.topical
    ]
    rows = rows_of(buttons, 2)
    rows.append(_cancel_row(context))
    await say(update, context, "announce.ask_target", markup=keyboard(rows))


async def target_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    button = pressed(query.data)
    draft = _draft(context)
    raw = "all" if button.id == "all" else f"#{button.id.removeprefix('c')}"
    return await _set_target(update, context, draft, raw)


async def target_text_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    return await _set_target(update, context, _draft(context), update.message.text or "")


async def _set_target(update: Update, context: CoraContext, draft: Draft, raw: str) -> int:
    if update.callback_query:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    draft.target = await context.services.channels.parse_target(context.active_member.id, raw)
    view = await context.services.channels.describe(draft.target)
    network = context.services.network
    await say(
        update,
        context,
        "announce.chosen_target",
        target=target_text(network, view, context.language),
    )
    await say(
        update, context, "announce.ask_text", max=MAX_TEXT, markup=keyboard([_cancel_row(context)])
    )
    return TEXT


async def text_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    draft = _draft(context)
    findings = check_text(update.message.text or "", context.services.network.place_names)
    if any(finding.blocking for finding in findings):
        await say(update, context, "alert.findings_blocking", findings=_findings(context, findings))
        return TEXT
    draft.text = (update.message.text or "").strip()
    draft.needs_confirmation = bool(findings)
    buttons = [[(plain(context, "announce.now"), Button(Kind.FORM, "now", "awhen").encode())]]
    buttons.append(_cancel_row(context))
    await say(update, context, "announce.ask_when", markup=keyboard(buttons))
    return WHEN


async def when_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(None)
    _draft(context).send_at = None
    return await _ask_read(update, context)


async def when_text(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    _draft(context).send_at = _send_time(context, update.message.text or "")
    return await _ask_read(update, context)


async def _ask_read(update: Update, context: CoraContext) -> int:
    buttons = [
        [
            (plain(context, "announce.read_yes"), Button(Kind.FORM, "yes", "aread").encode()),
            (plain(context, "announce.read_no"), Button(Kind.FORM, "no", "aread").encode()),
        ],
        _cancel_row(context),
    ]
    await say(update, context, "announce.ask_read", markup=keyboard(buttons))
    return READ


async def read_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = _draft(context)
    draft.read_confirmation = pressed(query.data).id == "yes"
    await query.answer()
    await query.edit_message_reply_markup(None)
    assert draft.text is not None
    return await _take_text(update, context, draft, draft.text, send_when_clean=False)


async def _take_text(
    update: Update, context: CoraContext, draft: Draft, text: str, *, send_when_clean: bool
) -> int:
    """Refuse identifying data; send at once when clean, otherwise show the preview."""
    findings = check_text(text, context.services.network.place_names)
    if any(finding.blocking for finding in findings):
        await say(update, context, "alert.findings_blocking", findings=_findings(context, findings))
        forget_draft(context, _DRAFT)
        return ConversationHandler.END
    draft.text = text.strip()
    draft.needs_confirmation = bool(findings)
    if send_when_clean and not findings:
        await _send(update, context, draft)
        return ConversationHandler.END
    assert draft.target is not None
    services = context.services
    recipients = await services.announcements.count_recipients(
        context.active_member.id, draft.target
    )
    view = await services.channels.describe(draft.target)
    moment = when(context, draft.send_at) if draft.send_at else plain(context, "announce.now_label")
    preview = tr(
        context,
        "announce.preview",
        target=target_text(services.network, view, context.language),
        recipients=recipients,
        time=moment,
        read=plain(context, "announce.read_yes" if draft.read_confirmation else "announce.read_no"),
        text=draft.text,
    )
    if findings:
        preview += "\n\n" + tr(
            context, "alert.findings_confirm", findings=_findings(context, findings)
        )
    label = "button.send_anyway" if findings else "button.send"
    buttons = [
        [
            (plain(context, label), Button(Kind.FORM, "ann", "send").encode()),
            *_cancel_row(context),
        ]
    ]
    await send_html(update, preview, markup=keyboard(buttons))
    return PREVIEW


async def preview_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = _draft(context)
    if draft.text is None or draft.target is None:
        raise DomainError("dialog.expired")
    await query.answer()
    await query.edit_message_reply_markup(None)
    await _send(update, context, draft)
    return ConversationHandler.END


async def _send(update: Update, context: CoraContext, draft: Draft) -> None:
    assert draft.target is not None and draft.text is not None
    announced = await context.services.announcements.announce(
        context.active_member.id,
        draft.target,
        draft.text,
        send_at=draft.send_at,
        read_confirmation=draft.read_confirmation,
        confirmed=draft.needs_confirmation,
    )
    forget_draft(context, _DRAFT)
    announcement = announced.announcement
    context.background.announcement_changed(
        announcement.id, announcement.send_at if announcement.is_scheduled else None
    )
    if announcement.is_scheduled:
        await say(
            update,
            context,
            "announce.scheduled",
            id=announcement.id,
            time=when(context, announcement.send_at),
            recipients=announced.recipients,
        )
        return
    context.background.deliveries_added()
    await say(update, context, "announce.sent", id=announcement.id, recipients=announced.recipients)


async def cancel_dialog(update: Update, context: CoraContext) -> int:
    forget_draft(context, _DRAFT)
    if update.callback_query:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    await say(update, context, "announce.cancelled")
    return ConversationHandler.END


def announce_dialog() -> BaseHandler[Update, CoraContext, object]:
    form = f"^{Kind.FORM}:"
    text = filters.TEXT & ~filters.COMMAND
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    return ConversationHandler(
        entry_points=[CommandHandler("announce", announce_command)],
        states={
            TARGET: [
                CallbackQueryHandler(target_button, pattern=form + r"[^:]+:atarget$"),
                MessageHandler(text, target_text_step),
            ],
            TEXT: [MessageHandler(text, text_step)],
            WHEN: [
                CallbackQueryHandler(when_button, pattern=form + r"now:awhen$"),
                MessageHandler(text, when_text),
            ],
            READ: [CallbackQueryHandler(read_button, pattern=form + r"(yes|no):aread$")],
            PREVIEW: [CallbackQueryHandler(preview_button, pattern=form + r"ann:send$")],
        },
        fallbacks=[
            CommandHandler("cancel", cancel_dialog),
            CallbackQueryHandler(cancel_dialog, pattern=form + r"ann:cancel$"),
            MessageHandler(text, use_buttons),
        ],
        allow_reentry=True,
        name="announce",
    )


# -- scheduled announcements and read confirmations ------------------------------------------


async def list_scheduled(update: Update, context: CoraContext) -> None:
    """`/scheduled`: scheduled announcements, each with a cancel button."""
    items = await context.services.announcements.scheduled(context.active_member.id)
    if not items:
        await say(update, context, "scheduled.none")
        return
    await say(update, context, "scheduled.header", count=len(items))
    network = context.services.network
    for announcement, text in items[:20]:
        excerpt = (text or "")[:_EXCERPT] + ("…" if text and len(text) > _EXCERPT else "")
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
        _, already = await service.confirm_read(member.id, announcement_id)
        if not already:
            context.background.announcement_changed(announcement_id, None)
        await query.answer(plain(context, "announcement.read_thanks"))
        await query.edit_message_reply_markup(None)
        return
    if button.action == "cancel":
        view = await service.cancel(member.id, announcement_id)
        await query.answer()
        context.background.announcement_changed(view.id, None)
        await edit_html(query, tr(context, "announcement.cancelled", id=view.id))
        return
    if button.action == "remind":
        count = await service.remind_unread(member.id, announcement_id)
        context.background.deliveries_added()
        await query.answer(plain(context, "announcement.reminded", count=count))
        return
    status = await service.read_status(announcement_id)
    if status.announcement.sender.id != member.id and not member.is_coordinator:
        raise DomainError("announcement.unknown", id=announcement_id)
    await query.answer()
    await send_html(update, _readers(context.language, status))


def _names(people: tuple[MemberView, ...]) -> str:
    return ", ".join(m.display_name or f"#{m.id}" for m in people)


def _readers(language: str, status: ReadStatus) -> str:
    return i18n.html_text(
        language,
        "announcement.readers",
        id=status.announcement.id,
        read=_names(status.read) or "–",
        unread=_names(status.unread) or "–",
    )


# -- how announcements and the read status look ----------------------------------------------


async def render_announcement(job: Job, cache: RenderCache) -> Rendered:
    """The announcement, or a reminder to confirm it."""
    assert job.subject_id is not None
    language = cache.language(job)
    announcement = await cache.announcement(job.subject_id)
    try:
        text = await cache.announcement_text(job.subject_id)
    except UnreadableText:
        text = i18n.text(language, "text.unreadable")
    services = cache.services
    header = "announcement.header"
    if job.kind == AnnouncementNotice.REMINDER:
        header = "announcement.header.reminder"
    body = i18n.html_text(
        language,
        "announcement.body",
        header=Markup(i18n.html_text(language, header, id=announcement.id)),
        sender=member_text(services.network, announcement.sender, language),
        target=target_text(services.network, announcement.target, language),
        time=local_time(
            announcement.sent_at or announcement.send_at, services.settings.cora_timezone, language
        ),
        text=text if text is not None else i18n.text(language, "alert.text_removed"),
    )
    markup = None
    if announcement.read_confirmation:
        read = Button(Kind.ANNOUNCEMENT, str(announcement.id), "read").encode()
        markup = keyboard([[(i18n.text(language, "button.read"), read)]])
    return Rendered(body, markup)


def render_read_status(
    status: ReadStatus, language: str, network: Network, timezone: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The sender's live status of a sent announcement."""
    announcement = status.announcement
    lines = [
        i18n.html_text(
            language,
            "announcement.status.head",
            id=announcement.id,
            target=target_text(network, announcement.target, language),
            time=local_time(announcement.sent_at or announcement.send_at, timezone, language),
        ),
        i18n.html_text(
            language,
            "status.delivered",
            delivered=status.delivered,
            recipients=status.recipients,
        ),
    ]
    if status.failed:
        lines.append(i18n.html_text(language, "status.failed", count=status.failed))
    if not announcement.read_confirmation:
        return "\n".join(lines), None
    lines.append(
        i18n.html_text(
            language,
            "announcement.status.read",
            read=len(status.read),
            recipients=status.recipients,
        )
    )
    who = Button(Kind.ANNOUNCEMENT, str(announcement.id), "who").encode()
    row = [(i18n.text(language, "button.who_read"), who)]
    if status.unread:
        remind = Button(Kind.ANNOUNCEMENT, str(announcement.id), "remind").encode()
        row.append((i18n.text(language, "button.remind", count=len(status.unread)), remind))
    return "\n".join(lines), keyboard([row])


async def live_status(services: Services, announcement_id: int) -> list[LiveMessage]:
    """The sender's status message of a sent announcement, for the live board."""
    status = await services.announcements.read_status(announcement_id)
    announcement = status.announcement
    sender = announcement.sender
    if announcement.status != AnnouncementStatus.SENT or sender.chat_id is None:
        return []
    language = sender.language or services.settings.cora_default_language
    text, markup = render_read_status(
        status, language, services.network, services.settings.cora_timezone
    )

    async def store(message_id: int) -> None:
        assert sender.chat_id is not None
        await services.announcements.set_status_message(announcement_id, sender.chat_id, message_id)

    return [
        LiveMessage(
            reader=sender,
            chat_id=announcement.status_chat_id or sender.chat_id,
            message_id=announcement.status_message_id,
            text=text,
            markup=markup,
            store=store,
        )
    ]
