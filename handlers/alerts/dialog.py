"""The /alert dialog: sectors, region, urgency, text and preview, step by step or in one line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram import CallbackQuery, Update
from telegram.ext import (
    BaseHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.alerts import (
    MAX_TEXT,
    check_text,
    parse_sectors,
)
from bot.errors import DomainError
from handlers.alerts.actions import FOLLOW_UP, send_follow_up
from handlers.alerts.views import sector_keyboard
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.dialogs import (
    TYPED,
    choice_rows,
    chosen_urgency,
    pressed,
    refused,
    settle,
    urgency_row,
)
from handlers.common.forms import Form, TextStep
from handlers.common.render import (
    edit_html,
    keyboard,
    plain,
    region_name,
    say,
    sectors_text,
    tr,
)
from storage.models import Urgency

log = logging.getLogger(__name__)


SECTORS, REGION, URGENCY, TEXT, PREVIEW = range(5)


_DRAFT = "alert_draft"


@dataclass
class Draft:
    """An alert being written; held in memory only, so an unsent text is never stored."""

    sectors: list[str] = field(default_factory=list)
    region: str | None = None
    urgency: str | None = None
    text: str | None = None
    needs_confirmation: bool = False


_FORM = Form(_DRAFT, Draft, "draft", kind=Kind.DRAFT)


async def alert_command(update: Update, context: CoraContext) -> int:
    """`/alert` opens the dialog; `/alert <sectors|all> <region> [!] <text>` sends at once."""
    assert update.message is not None and context.user_data is not None
    parts = (update.message.text or "").split(maxsplit=3)
    if len(parts) == 1:
        context.user_data[_DRAFT] = Draft()
        await _ask_sectors(update, context)
        return SECTORS
    if len(parts) < 4:
        raise DomainError("alert.usage")
    network = context.services.network
    sectors = parse_sectors(network, parts[1])
    region = network.region(parts[2]).code
    rest = parts[3]
    urgency = Urgency.NORMAL
    if rest.startswith("!"):
        urgency, rest = Urgency.URGENT, rest[1:]
    draft = Draft(list(sectors), region, urgency)
    context.user_data[_DRAFT] = draft
    return await _take_text(update, context, draft, rest, send_when_clean=True)


async def _ask_sectors(update: Update, context: CoraContext) -> None:
    await say(update, context, "alert.ask_sectors", markup=sector_keyboard(context, []))


def _data(action: str) -> Callable[[str], str]:
    return lambda value: Button(Kind.DRAFT, value, action).encode()


async def choose_sector(update: Update, context: CoraContext) -> int:
    """Toggle sectors; "next" moves on once at least one is chosen."""
    query, draft = _FORM.pressed(update, context)
    button = pressed(query.data)
    if button.action == "next":
        return await _sectors_chosen(update, context, query, draft)
    network = context.services.network
    if button.id == "all":
        draft.sectors = [] if len(draft.sectors) == len(network.sectors) else list(network.sectors)
    else:
        chosen = set(draft.sectors) ^ {network.sector(button.id).code}
        draft.sectors = [c for c in network.sectors if c in chosen]
    await query.answer()
    await query.edit_message_reply_markup(sector_keyboard(context, draft.sectors))
    return SECTORS


async def _sectors_chosen(
    update: Update, context: CoraContext, query: CallbackQuery, draft: Draft
) -> int:
    if not draft.sectors:
        await query.answer(plain(context, "alert.choose_a_sector"), show_alert=True)
        return SECTORS
    await query.answer()
    network = context.services.network
    sectors = sectors_text(network, draft.sectors, context.language)
    await edit_html(query, tr(context, "alert.chosen_sectors", sectors=sectors))
    rows = choice_rows(context, network.regions, _data("region"))
    markup = keyboard([*rows, _FORM.cancel_row(context)])
    await say(update, context, "alert.ask_region", markup=markup)
    return REGION


async def choose_region(update: Update, context: CoraContext) -> int:
    query, draft = _FORM.pressed(update, context)
    network = context.services.network
    draft.region = network.region(pressed(query.data).id).code
    await query.answer()
    region = region_name(network, draft.region, context.language)
    await edit_html(query, tr(context, "alert.chosen_region", region=region))
    markup = keyboard([urgency_row(context, _data("urgency")), _FORM.cancel_row(context)])
    await say(update, context, "alert.ask_urgency", markup=markup)
    return URGENCY


async def choose_urgency(update: Update, context: CoraContext) -> int:
    query, draft = _FORM.pressed(update, context)
    urgency = chosen_urgency(pressed(query.data).id)
    draft.urgency = urgency
    await query.answer()
    await edit_html(
        query, tr(context, "alert.chosen_urgency", urgency=plain(context, f"urgency.{urgency}"))
    )
    await say(update, context, "alert.ask_text", max=MAX_TEXT)
    return TEXT


async def receive_text(update: Update, context: CoraContext) -> int:
    assert update.message is not None
    return await _take_text(
        update, context, _FORM.draft(context), update.message.text or "", send_when_clean=False
    )


async def _take_text(
    update: Update, context: CoraContext, draft: Draft, text: str, *, send_when_clean: bool
) -> int:
    """Check the text; refuse identifying data, ask to confirm doubtful finds, preview."""
    findings = check_text(text, context.services.network.place_names)
    if await refused(update, context, findings):
        return TEXT
    return await _TEXT.take(update, context, draft, text, findings, send_when_clean)


async def _preview(context: CoraContext, draft: Draft) -> str:
    assert draft.region is not None and draft.urgency is not None
    recipients = await context.services.alerts.count_recipients(
        context.active_member.id, draft.sectors, draft.region
    )
    network = context.services.network
    return tr(
        context,
        "alert.preview",
        urgency=plain(context, f"urgency.{draft.urgency}"),
        sectors=sectors_text(network, draft.sectors, context.language),
        region=region_name(network, draft.region, context.language),
        recipients=recipients,
        text=draft.text,
    )


async def preview_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    button = pressed(query.data)
    draft = _FORM.draft(context)
    if button.action != "send" or draft.text is None:
        raise DomainError("button.invalid")
    await settle(query)
    await _send(update, context, draft)
    return ConversationHandler.END


async def _send(update: Update, context: CoraContext, draft: Draft) -> None:
    assert draft.region is not None and draft.urgency is not None and draft.text is not None
    raised = await context.services.alerts.raise_alert(
        context.active_member.id,
        draft.sectors,
        draft.region,
        draft.urgency,
        draft.text,
        confirmed=draft.needs_confirmation,
    )
    _FORM.forget(context)
    key = "alert.raised" if raised.recipients else "alert.raised_to_coordinators"
    await say(update, context, key, ref=raised.alert.ref, recipients=raised.recipients)


_TEXT = TextStep(_FORM, _send, _preview, PREVIEW)


def alert_dialog() -> BaseHandler[Update, CoraContext, object]:
    return _FORM.dialog(
        "alert",
        alert_command,
        {
            SECTORS: [_FORM.on(choose_sector, r"[^:]+:(toggle|next)")],
            REGION: [_FORM.on(choose_region, r"[^:]+:region")],
            URGENCY: [_FORM.on(choose_urgency, r"[^:]+:urgency")],
            TEXT: [MessageHandler(TYPED, receive_text)],
            PREVIEW: [_FORM.on(preview_button, r"draft:send")],
        },
        cancelled_key="alert.cancelled",
    )


async def draft_button(update: Update, context: CoraContext, button: Button) -> None:
    """Dialog buttons outside a running dialog: a follow-up to confirm, or an old dialog."""
    query = update.callback_query
    assert query is not None
    if button.id == "followup" and button.action == "send":
        pending = context.user_data.pop(FOLLOW_UP, None) if context.user_data else None
        if not isinstance(pending, tuple):
            raise DomainError("dialog.expired")
        alert_id, text = pending
        await settle(query)
        await send_follow_up(update, context, alert_id, text, confirmed=True)
        return
    raise DomainError("dialog.expired")
