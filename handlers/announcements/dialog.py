"""The /announce dialog: target, text, time, read confirmation and preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from telegram import Update
from telegram.ext import (
    BaseHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.announcements import check_text
from bot.channels import Target
from bot.errors import DomainError
from bot.texts import MAX_TEXT
from bot.timing.dates import parse_moment, split_leading_moment
from handlers.announcements.actions import say_about
from handlers.channels.views import target_text
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.dialogs import (
    TYPED,
    pressed,
    refused,
    settle,
    take_target,
    target_keyboard,
    target_pressed,
)
from handlers.common.forms import Form, TextStep
from handlers.common.render import keyboard, plain, say, tr, when

TARGET, TEXT, WHEN, READ, PREVIEW = range(5)


_DRAFT = "announcement_draft"


_READ_FLAGS = ("+read", "+gelesen")


_AT_WORDS = ("at", "am", "um")


@dataclass
class Draft:
    """An announcement being written; in memory only until it is sent or scheduled."""

    target: Target | None = None
    text: str | None = None
    send_at: datetime | None = None
    read_confirmation: bool = False
    needs_confirmation: bool = False


_FORM = Form(_DRAFT, Draft, "ann", "atarget")


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
    markup = await target_keyboard(context, _FORM.target_data, _FORM.cancel)
    await say(update, context, "announce.ask_target", markup=markup)


async def target_button(update: Update, context: CoraContext) -> int:
    raw = await target_pressed(update, context, _FORM.target_data, _FORM.cancel)
    if raw is None:
        return TARGET
    return await _set_target(update, context, _FORM.draft(context), raw)


async def target_text_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    return await _set_target(update, context, _FORM.draft(context), update.message.text or "")


async def _set_target(update: Update, context: CoraContext, draft: Draft, raw: str) -> int:
    draft.target = await take_target(update, context, raw)
    markup = keyboard([_FORM.cancel_row(context)])
    await say(update, context, "announce.ask_text", max=MAX_TEXT, markup=markup)
    return TEXT


async def text_step(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    draft = _FORM.draft(context)
    text = update.message.text or ""
    findings = check_text(text, context.services.network.place_names)
    if await refused(update, context, findings):
        return TEXT
    draft.text = text.strip()
    draft.needs_confirmation = bool(findings)
    buttons = [[(plain(context, "announce.now"), Button(Kind.FORM, "now", "awhen").encode())]]
    buttons.append(_FORM.cancel_row(context))
    await say(update, context, "announce.ask_when", markup=keyboard(buttons))
    return WHEN


async def when_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    await settle(query)
    _FORM.draft(context).send_at = None
    return await _ask_read(update, context)


async def when_text(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    _FORM.draft(context).send_at = _send_time(context, update.message.text or "")
    return await _ask_read(update, context)


async def _ask_read(update: Update, context: CoraContext) -> int:
    buttons = [
        [
            (plain(context, "announce.read_yes"), Button(Kind.FORM, "yes", "aread").encode()),
            (plain(context, "announce.read_no"), Button(Kind.FORM, "no", "aread").encode()),
        ],
        _FORM.cancel_row(context),
    ]
    await say(update, context, "announce.ask_read", markup=keyboard(buttons))
    return READ


async def read_button(update: Update, context: CoraContext) -> int:
    query, draft = _FORM.pressed(update, context)
    draft.read_confirmation = pressed(query.data).id == "yes"
    await settle(query)
    assert draft.text is not None
    return await _take_text(update, context, draft, draft.text, send_when_clean=False)


async def _take_text(
    update: Update, context: CoraContext, draft: Draft, text: str, *, send_when_clean: bool
) -> int:
    """Refuse identifying data; send at once when clean, otherwise show the preview."""
    findings = check_text(text, context.services.network.place_names)
    if await refused(update, context, findings):
        _FORM.forget(context)
        return ConversationHandler.END
    return await _TEXT.take(update, context, draft, text, findings, send_when_clean)


async def _preview(context: CoraContext, draft: Draft) -> str:
    assert draft.target is not None
    services = context.services
    recipients = await services.announcements.count_recipients(
        context.active_member.id, draft.target
    )
    view = await services.channels.describe(draft.target)
    moment = when(context, draft.send_at) if draft.send_at else plain(context, "announce.now_label")
    read = "announce.read_yes" if draft.read_confirmation else "announce.read_no"
    return tr(
        context,
        "announce.preview",
        target=target_text(services.network, view, context.language),
        recipients=recipients,
        time=moment,
        read=plain(context, read),
        text=draft.text,
    )


async def preview_button(update: Update, context: CoraContext) -> int:
    query, draft = _FORM.pressed(update, context)
    if draft.text is None or draft.target is None:
        raise DomainError("dialog.expired")
    await settle(query)
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
    _FORM.forget(context)
    announcement = announced.announcement
    if announcement.is_scheduled:
        recipients = announced.recipients
        await say_about(update, context, "announce.scheduled", announcement, recipients=recipients)
        return
    await say(update, context, "announce.sent", id=announcement.id, recipients=announced.recipients)


_TEXT = TextStep(_FORM, _send, _preview, PREVIEW)


def announce_dialog() -> BaseHandler[Update, CoraContext, object]:
    return _FORM.dialog(
        "announce",
        announce_command,
        {
            TARGET: [
                _FORM.on(target_button, r"[^:]+:atarget"),
                MessageHandler(TYPED, target_text_step),
            ],
            TEXT: [MessageHandler(TYPED, text_step)],
            WHEN: [
                _FORM.on(when_button, r"now:awhen"),
                MessageHandler(TYPED, when_text),
            ],
            READ: [_FORM.on(read_button, r"(yes|no):aread")],
            PREVIEW: [_FORM.on(preview_button, r"ann:send")],
        },
        cancelled_key="announce.cancelled",
    )
