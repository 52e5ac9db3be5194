"""Telegram adapters for case alerts: the /alert dialog and one-line form, acknowledging and
taking over, follow-ups, closing, and how alert deliveries and status messages look."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
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
from bot.alerts import (
    MAX_TEXT,
    AlertLine,
    AlertView,
    Notice,
    StatusView,
    check_text,
    parse_sectors,
)
from bot.delivery import Job
from bot.errors import DomainError
from bot.i18n import Markup
from bot.keys import UnreadableText
from bot.membership import MemberView
from bot.network import Network
from bot.personal_data import Finding
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext, Services
from handlers.common.dialogs import current_draft, forget_draft, pressed, use_buttons
from handlers.common.render import (
    edit_html,
    findings_text,
    keyboard,
    local_time,
    member_text,
    plain,
    region_name,
    rows_of,
    say,
    sector_name,
    sectors_text,
    send_html,
    tr,
    when,
)
from handlers.transport.live import LiveMessage
from handlers.transport.outbox import RenderCache, Rendered
from storage.models import AlertStatus, Urgency

log = logging.getLogger(__name__)

SECTORS, REGION, URGENCY, TEXT, PREVIEW = range(5)
_DRAFT = "alert_draft"
_FOLLOW_UP = "follow_up_draft"


@dataclass
class Draft:
    """An alert being written; held in memory only, so an unsent text is never stored."""

    sectors: list[str] = field(default_factory=list)
    region: str | None = None
    urgency: str | None = None
    text: str | None = None
    needs_confirmation: bool = False


def _draft(context: CoraContext) -> Draft:
    return current_draft(context, _DRAFT, Draft)


# -- the dialog ----------------------------------------------------------------------------


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


def _sector_keyboard(context: CoraContext, chosen: list[str]) -> InlineKeyboardMarkup:
    network = context.services.network
    buttons = [
        (
            ("✅ " if code in chosen else "") + place.label(context.language),
            Button(Kind.DRAFT, code, "toggle").encode(),
        )
        for code, place in network.sectors.items()
    ]
    rows = rows_of(buttons, 2)
    rows.append(
        [(plain(context, "alert.all_sectors"), Button(Kind.DRAFT, "all", "toggle").encode())]
    )
    rows.append(
        [
            (plain(context, "button.next"), Button(Kind.DRAFT, "sectors", "next").encode()),
            (plain(context, "button.cancel"), Button(Kind.DRAFT, "draft", "cancel").encode()),
        ]
    )
    return keyboard(rows)


async def _ask_sectors(update: Update, context: CoraContext) -> None:
    await say(update, context, "alert.ask_sectors", markup=_sector_keyboard(context, []))


async def choose_sector(update: Update, context: CoraContext) -> int:
    """Toggle sectors; "next" moves on once at least one is chosen."""
    query = update.callback_query
    assert query is not None
    draft = _draft(context)
    button = pressed(query.data)
    network = context.services.network
    if button.action == "next":
        if not draft.sectors:
            await query.answer(plain(context, "alert.choose_a_sector"), show_alert=True)
            return SECTORS
        await query.answer()
        await edit_html(
            query,
            tr(
                context,
                "alert.chosen_sectors",
                sectors=sectors_text(network, draft.sectors, context.language),
            ),
        )
        regions = [
            (place.label(context.language), Button(Kind.DRAFT, code, "region").encode())
            for code, place in network.regions.items()
        ]
        rows = rows_of(regions, 2)
        rows.append(
            [(plain(context, "button.cancel"), Button(Kind.DRAFT, "draft", "cancel").encode())]
        )
        await say(update, context, "alert.ask_region", markup=keyboard(rows))
        return REGION
    if button.id == "all":
        draft.sectors = [] if len(draft.sectors) == len(network.sectors) else list(network.sectors)
    else:
        code = network.sector(button.id).code
        chosen = set(draft.sectors) ^ {code}
        draft.sectors = [c for c in network.sectors if c in chosen]
    await query.answer()
    await query.edit_message_reply_markup(_sector_keyboard(context, draft.sectors))
    return SECTORS


async def choose_region(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = _draft(context)
    region = context.services.network.region(pressed(query.data).id).code
    draft.region = region
    await query.answer()
    await edit_html(
        query,
        tr(
            context,
            "alert.chosen_region",
            region=region_name(context.services.network, region, context.language),
        ),
    )
    buttons = [
        (
            plain(context, "urgency.urgent.button"),
            Button(Kind.DRAFT, Urgency.URGENT, "urgency").encode(),
        ),
        (
            plain(context, "urgency.normal.button"),
            Button(Kind.DRAFT, Urgency.NORMAL, "urgency").encode(),
        ),
    ]
    cancel = [(plain(context, "button.cancel"), Button(Kind.DRAFT, "draft", "cancel").encode())]
    await say(update, context, "alert.ask_urgency", markup=keyboard([buttons, cancel]))
    return URGENCY


async def choose_urgency(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = _draft(context)
    urgency = pressed(query.data).id
    if urgency not in (Urgency.URGENT, Urgency.NORMAL):
        raise DomainError("button.invalid")
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
        update, context, _draft(context), update.message.text or "", send_when_clean=False
    )


async def _take_text(
    update: Update, context: CoraContext, draft: Draft, text: str, *, send_when_clean: bool
) -> int:
    """Check the text; refuse identifying data, ask to confirm doubtful finds, preview."""
    findings = check_text(text, context.services.network.place_names)
    if any(finding.blocking for finding in findings):
        await say(update, context, "alert.findings_blocking", findings=_findings(context, findings))
        return TEXT
    draft.text = text.strip()
    draft.needs_confirmation = bool(findings)
    if send_when_clean and not findings:
        await _send(update, context, draft)
        return ConversationHandler.END
    assert draft.region is not None and draft.urgency is not None
    recipients = await context.services.alerts.count_recipients(
        context.active_member.id, draft.sectors, draft.region
    )
    network = context.services.network
    preview = tr(
        context,
        "alert.preview",
        urgency=plain(context, f"urgency.{draft.urgency}"),
        sectors=sectors_text(network, draft.sectors, context.language),
        region=region_name(network, draft.region, context.language),
        recipients=recipients,
        text=draft.text,
    )
    if findings:
        preview += "\n\n" + tr(
            context, "alert.findings_confirm", findings=_findings(context, findings)
        )
    send_label = "button.send_anyway" if findings else "button.send"
    buttons = [
        [
            (plain(context, send_label), Button(Kind.DRAFT, "draft", "send").encode()),
            (plain(context, "button.cancel"), Button(Kind.DRAFT, "draft", "cancel").encode()),
        ]
    ]
    await send_html(update, preview, markup=keyboard(buttons))
    return PREVIEW


def _findings(context: CoraContext, findings: list[Finding]) -> Markup:
    return findings_text(context.language, findings)


async def preview_button(update: Update, context: CoraContext) -> int:
    query = update.callback_query
    assert query is not None
    button = pressed(query.data)
    draft = _draft(context)
    if button.action != "send" or draft.text is None:
        raise DomainError("button.invalid")
    await query.answer()
    await query.edit_message_reply_markup(None)
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
    forget_draft(context, _DRAFT)
    context.background.deliveries_added()
    context.background.alert_changed(raised.alert)
    key = "alert.raised" if raised.recipients else "alert.raised_to_coordinators"
    await say(update, context, key, ref=raised.alert.ref, recipients=raised.recipients)


async def cancel_dialog(update: Update, context: CoraContext) -> int:
    """`/cancel` or the cancel button: the draft is dropped, nothing was stored."""
    forget_draft(context, _DRAFT)
    if update.callback_query:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    await say(update, context, "alert.cancelled")
    return ConversationHandler.END


def alert_dialog() -> BaseHandler[Update, CoraContext, object]:
    draft = f"^{Kind.DRAFT}:"
    # The dialog mixes buttons and typed text, so it is tracked per chat, not per message;
    # PTB warns about exactly that combination.
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    return ConversationHandler(
        entry_points=[CommandHandler("alert", alert_command)],
        states={
            SECTORS: [CallbackQueryHandler(choose_sector, pattern=draft + r"[^:]+:(toggle|next)$")],
            REGION: [CallbackQueryHandler(choose_region, pattern=draft + r"[^:]+:region$")],
            URGENCY: [CallbackQueryHandler(choose_urgency, pattern=draft + r"[^:]+:urgency$")],
            TEXT: [MessageHandler(filters.TEXT & ~filters.COMMAND, receive_text)],
            PREVIEW: [CallbackQueryHandler(preview_button, pattern=draft + r"draft:send$")],
        },
        fallbacks=[
            CommandHandler("cancel", cancel_dialog),
            CallbackQueryHandler(cancel_dialog, pattern=draft + r"draft:cancel$"),
            MessageHandler(filters.TEXT & ~filters.COMMAND, use_buttons),
        ],
        allow_reentry=True,
        name="alert",
    )


async def draft_button(update: Update, context: CoraContext, button: Button) -> None:
    """Dialog buttons outside a running dialog: a follow-up to confirm, or an old dialog."""
    query = update.callback_query
    assert query is not None
    if button.id == "followup" and button.action == "send":
        pending = context.user_data.pop(_FOLLOW_UP, None) if context.user_data else None
        if not isinstance(pending, tuple):
            raise DomainError("dialog.expired")
        alert_id, text = pending
        await query.answer()
        await query.edit_message_reply_markup(None)
        await _follow_up(update, context, alert_id, text, confirmed=True)
        return
    raise DomainError("dialog.expired")


# -- acting on alerts --------------------------------------------------------------------------


async def alert_button(update: Update, context: CoraContext, button: Button) -> None:
    """ "Seen", "I take over" and "close" on alert messages."""
    query = update.callback_query
    assert query is not None
    if not button.id.isdigit() or button.action not in ("ack", "take", "close"):
        raise DomainError("button.invalid")
    alert_id = int(button.id)
    alerts = context.services.alerts
    member = context.active_member
    if button.action == "close":
        view = await alerts.close(member.id, alert_id)
        await query.answer(plain(context, "alert.closed_by_you", ref=view.ref))
        context.background.deliveries_added()
        context.background.alert_changed(view)
        return
    if button.action == "ack":
        ack = await alerts.acknowledge(member.id, alert_id)
        await query.answer(plain(context, "alert.acknowledged", ref=ack.alert.ref))
        if not ack.already:
            context.background.alert_changed(ack.alert)
            await _show_handled(query, context, ack.alert, taken=False)
        return
    taken = await alerts.take_over(member.id, alert_id)
    if not taken.taken:
        taker = taken.alert.taken_by
        await query.answer(
            plain(
                context,
                "alert.already_taken",
                ref=taken.alert.ref,
                name=taker.display_name if taker else "–",
            ),
            show_alert=True,
        )
        return
    await query.answer(plain(context, "alert.taken_by_you", ref=taken.alert.ref))
    context.background.deliveries_added()
    context.background.alert_changed(taken.alert)
    await _show_handled(query, context, taken.alert, taken=True)


async def _show_handled(
    query: CallbackQuery, context: CoraContext, alert: AlertView, *, taken: bool
) -> None:
    """Mark the recipient's own copy: acknowledged keeps "take over", taken over keeps nothing."""
    if taken or alert.taken_by is not None:
        await query.edit_message_reply_markup(None)
    else:
        take = Button(Kind.ALERT, str(alert.id), "take").encode()
        await query.edit_message_reply_markup(keyboard([[(plain(context, "button.take"), take)]]))


async def ack_command(update: Update, context: CoraContext) -> None:
    """`/ack <ref>`"""
    member = context.active_member
    alert_id = await context.services.alerts.find(member.id, _ref(context))
    ack = await context.services.alerts.acknowledge(member.id, alert_id)
    if not ack.already:
        context.background.alert_changed(ack.alert)
    await say(update, context, "alert.acknowledged", ref=ack.alert.ref)


async def take_command(update: Update, context: CoraContext) -> None:
    """`/take <ref>`"""
    member = context.active_member
    alert_id = await context.services.alerts.find(member.id, _ref(context))
    taken = await context.services.alerts.take_over(member.id, alert_id)
    if not taken.taken:
        taker = taken.alert.taken_by
        await say(
            update,
            context,
            "alert.already_taken",
            ref=taken.alert.ref,
            name=taker.display_name if taker else "–",
        )
        return
    context.background.deliveries_added()
    context.background.alert_changed(taken.alert)
    await say(update, context, "alert.taken_by_you", ref=taken.alert.ref)


async def close_command(update: Update, context: CoraContext) -> None:
    """`/close <ref>`"""
    member = context.active_member
    alert_id = await context.services.alerts.find(member.id, _ref(context))
    view = await context.services.alerts.close(member.id, alert_id)
    context.background.deliveries_added()
    context.background.alert_changed(view)
    await say(update, context, "alert.closed_by_you", ref=view.ref)


async def update_command(update: Update, context: CoraContext) -> None:
    """`/update <ref> <text>`: a follow-up to everyone involved."""
    assert update.message is not None
    parts = (update.message.text or "").split(maxsplit=2)
    if len(parts) < 3:
        raise DomainError("alert.update_usage")
    alert_id = await context.services.alerts.find(context.active_member.id, parts[1])
    findings = check_text(parts[2], context.services.network.place_names)
    if any(f.blocking for f in findings):
        await say(update, context, "alert.findings_blocking", findings=_findings(context, findings))
        return
    if findings:
        assert context.user_data is not None
        context.user_data[_FOLLOW_UP] = (alert_id, parts[2])
        buttons = [
            [
                (
                    plain(context, "button.send_anyway"),
                    Button(Kind.DRAFT, "followup", "send").encode(),
                ),
            ]
        ]
        await say(
            update,
            context,
            "alert.findings_confirm",
            findings=_findings(context, findings),
            markup=keyboard(buttons),
        )
        return
    await _follow_up(update, context, alert_id, parts[2], confirmed=False)


async def _follow_up(
    update: Update, context: CoraContext, alert_id: int, text: str, *, confirmed: bool
) -> None:
    count = await context.services.alerts.follow_up(
        context.active_member.id, alert_id, text, confirmed=confirmed
    )
    context.background.deliveries_added()
    view = await context.services.alerts.view(alert_id)
    await say(update, context, "alert.follow_up_sent", ref=view.ref, recipients=count)


def _ref(context: CoraContext) -> str:
    if not context.args or len(context.args) != 1:
        raise DomainError("alert.ref_expected")
    return context.args[0]


async def list_alerts(update: Update, context: CoraContext) -> None:
    """`/alerts`: open alerts the member sent or received; drills apart, as exercises."""
    lines = await context.services.alerts.open_alerts(context.active_member.id)
    if not lines:
        await say(update, context, "alerts.none")
        return
    real = [line for line in lines if not line.alert.drill]
    drills = [line for line in lines if line.alert.drill]
    parts = []
    if real:
        parts.append(tr(context, "alerts.header", count=len(real)))
        parts.extend(_alert_lines(context, real))
    if drills:
        parts.append(tr(context, "alerts.drills", count=len(drills)))
        parts.extend(_alert_lines(context, drills))
    await send_html(update, "\n\n".join(parts))


def _alert_lines(context: CoraContext, lines: list[AlertLine]) -> list[str]:
    network = context.services.network
    rendered = []
    for line in lines:
        alert = line.alert
        if alert.taken_by is not None:
            state = tr(context, "alerts.taken", name=alert.taken_by.display_name or "–")
        elif line.mine:
            state = tr(
                context,
                "alerts.sent_by_you",
                acknowledged=line.acknowledged,
                recipients=line.recipients,
            )
        else:
            key = "alerts.seen_by_you" if line.acknowledged_by_me else "alerts.not_seen_by_you"
            state = tr(context, key)
        rendered.append(
            tr(
                context,
                "alerts.line",
                icon=_icon(alert),
                ref=alert.ref,
                sectors=sectors_text(network, alert.sectors, context.language),
                region=alert.region,
                time=when(context, alert.created_at),
                state=Markup(state),
            )
        )
    return rendered


def _icon(alert: AlertView) -> str:
    if alert.drill:
        return "🧪"
    return "🚨" if alert.is_urgent else "📣"


def drill_banner(language: str, alert: AlertView) -> str:
    """Every message about a drill starts with this line, so nobody takes it for a real case."""
    return i18n.html_text(language, "drill.banner") + "\n" if alert.drill else ""


# -- how deliveries and the status look ------------------------------------------------------


async def render_alert(job: Job, cache: RenderCache) -> Rendered:
    """The alert itself, a reminder of it, or its escalation to coordinators."""
    assert job.alert_id is not None
    language = cache.language(job)
    alert = await cache.alert(job.alert_id)
    settings = cache.services.settings
    try:
        text = await cache.alert_text(job.alert_id)
    except UnreadableText:
        # The alert still goes out, so that it can be acknowledged and asked about.
        text = i18n.text(language, "text.unreadable")
    network = cache.services.network
    header_key = {
        Notice.ALERT: f"{'drill' if alert.drill else 'alert'}.header.{alert.urgency}",
        Notice.REMINDER: "alert.header.reminder",
        Notice.ESCALATION: f"alert.header.escalation.{job.params.get('level', 1)}",
    }[job.kind]
    header = drill_banner(language, alert) + i18n.html_text(
        language, header_key, ref=alert.ref, icon=_icon(alert)
    )
    standing_in = str(job.params.get("deputy_for") or "")
    if standing_in:
        absent = [await cache.member(int(i)) for i in standing_in.split(",")]
        header += "\n" + i18n.html_text(
            language,
            "alert.deputy_for",
            members=Markup(", ".join(member_text(network, m, language) for m in absent if m)),
        )
    if text is None:
        text = i18n.text(language, "drill.text" if alert.drill else "alert.text_removed")
    body = i18n.html_text(
        language,
        "alert.body",
        header=Markup(header),
        sectors=sectors_text(network, alert.sectors, language),
        region=region_name(network, alert.region, language),
        sender=_sender(alert, network, language),
        time=local_time(alert.created_at, settings.cora_timezone, language),
        text=text,
    )
    buttons = [
        (i18n.text(language, "button.ack"), Button(Kind.ALERT, str(alert.id), "ack").encode()),
        (i18n.text(language, "button.take"), Button(Kind.ALERT, str(alert.id), "take").encode()),
    ]
    markup = (
        keyboard([buttons]) if alert.status == AlertStatus.OPEN and alert.taken_by is None else None
    )
    return Rendered(body, markup, protect=settings.alert_protect_content)


def _sender(alert: AlertView, network: Network, language: str) -> Markup:
    if alert.sender is not None:
        return member_text(network, alert.sender, language)
    client = alert.client
    return Markup(
        i18n.html_text(
            language,
            "alert.sender_system",
            name=client.name if client else "–",
            sector=sector_name(network, client.sector if client else None, language),
            region=client.region if client else "–",
        )
    )


async def render_follow_up(job: Job, cache: RenderCache) -> Rendered:
    assert job.alert_id is not None and job.subject_id is not None
    language = cache.language(job)
    alert = await cache.alert(job.alert_id)
    author = await cache.member(int(job.params["member"] or 0))
    try:
        text = await cache.follow_up_text(job.subject_id)
    except UnreadableText:
        text = i18n.text(language, "text.unreadable")
    return Rendered(
        drill_banner(language, alert)
        + i18n.html_text(
            language,
            "alert.follow_up",
            icon=_icon(alert),
            ref=alert.ref,
            name=author.display_name if author else "–",
            text=text if text is not None else i18n.text(language, "alert.text_removed"),
        ),
        protect=cache.services.settings.alert_protect_content,
    )


async def render_notice(job: Job, cache: RenderCache) -> Rendered:
    """Short notices about an alert's course: taken over, closed."""
    assert job.alert_id is not None
    language = cache.language(job)
    alert = await cache.alert(job.alert_id)
    who = await cache.member(int(job.params["member"] or 0))
    key = {Notice.TAKEN: "alert.notice.taken", Notice.CLOSED: "alert.notice.closed"}[job.kind]
    return Rendered(
        drill_banner(language, alert)
        + i18n.html_text(
            language, key, icon=_icon(alert), ref=alert.ref, name=who.display_name if who else "–"
        )
    )


async def render_unreachable(job: Job, cache: RenderCache) -> Rendered:
    language = cache.language(job)
    member = await cache.member(int(job.params["member"] or 0))
    line = member_text(cache.services.network, member, language) if member else "–"
    return Rendered(i18n.html_text(language, "alert.notice.unreachable", member=line))


async def render_urgent_limit(job: Job, cache: RenderCache) -> Rendered:
    """To the coordinators: a member (or an agency system) reached ALERT_URGENT_PER_HOUR and
    further urgent alerts are refused; a member comes with a button to revoke them."""
    language = cache.language(job)
    network = cache.services.network
    limit = int(job.params["limit"] or 0)
    if job.params.get("member") is not None:
        member = await cache.member(int(job.params["member"] or 0))
        if member is None:
            raise LookupError("the member is gone")
        text = i18n.html_text(
            language,
            "alert.urgent_limit.coordinators",
            member=member_text(network, member, language),
            count=limit,
        )
        revoke = Button(Kind.MEMBER, str(member.id), "revoke").encode()
        return Rendered(text, keyboard([[(i18n.text(language, "button.revoke"), revoke)]]))
    client = await cache.services.alerts.client_name(int(job.params["client"] or 0))
    if client is None:
        raise LookupError("the agency system is gone")
    text = i18n.html_text(
        language,
        "alert.urgent_limit.coordinators_api",
        name=client.name,
        sector=sector_name(network, client.sector, language),
        region=region_name(network, client.region, language),
        count=limit,
    )
    return Rendered(text)


async def live_status(services: Services, alert_id: int) -> list[LiveMessage]:
    """The sender's status message of an alert: sent once, then edited in place. Alerts an
    agency system raised have none (it reads the state over the API)."""
    status = await services.alerts.status(alert_id)
    alert, sender = status.alert, status.alert.sender
    chat_id = alert.status_chat_id or (sender.chat_id if sender else None)
    if sender is None or chat_id is None:
        return []
    language = sender.language or services.settings.cora_default_language
    text, markup = render_status(
        status, language, services.network, services.settings.cora_timezone
    )

    async def store(message_id: int) -> None:
        await services.alerts.set_status_message(alert.id, chat_id, message_id)

    return [LiveMessage(sender, chat_id, alert.status_message_id, text, markup, store)]


def render_status(
    status: StatusView, language: str, network: Network, timezone: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The sender's live status message."""
    alert = status.alert
    lines = [
        drill_banner(language, alert)
        + i18n.html_text(
            language,
            "status.head",
            icon=_icon(alert),
            ref=alert.ref,
            urgency=i18n.text(language, f"urgency.{alert.urgency}"),
            sectors=sectors_text(network, alert.sectors, language),
            region=region_name(network, alert.region, language),
        ),
        i18n.html_text(
            language, "status.delivered", delivered=status.delivered, recipients=status.recipients
        ),
    ]
    if status.acknowledged:
        names = ", ".join(m.display_name or f"#{m.id}" for m in status.acknowledged)
        lines.append(i18n.html_text(language, "status.acknowledged", names=names))
    if alert.taken_by is not None and alert.taken_at is not None:
        lines.append(
            i18n.html_text(
                language,
                "status.taken",
                name=alert.taken_by.display_name or "–",
                time=local_time(alert.taken_at, timezone, language),
            )
        )
    for deputy, absent in status.deputies:
        lines.append(
            i18n.html_text(language, "status.deputy", deputy=_name(deputy), member=_name(absent))
        )
    if status.away:
        names = ", ".join(_name(m) for m in status.away)
        lines.append(i18n.html_text(language, "status.away", names=names))
    if status.unreachable:
        names = ", ".join(m.display_name or f"#{m.id}" for m in status.unreachable)
        lines.append(i18n.html_text(language, "status.unreachable", names=names))
    if status.failed:
        lines.append(i18n.html_text(language, "status.failed", count=status.failed))
    if alert.escalation_level:
        key = (
            "status.drill_reminded"
            if alert.drill
            else f"status.escalated.{min(alert.escalation_level, 2)}"
        )
        lines.append(i18n.html_text(language, key))
    if alert.status == AlertStatus.CLOSED:
        lines.append(i18n.html_text(language, "status.closed"))
        return "\n".join(lines), None
    close = Button(Kind.ALERT, str(alert.id), "close").encode()
    return "\n".join(lines), keyboard([[(i18n.text(language, "button.close"), close)]])


def _name(member: MemberView) -> str:
    return member.display_name or f"#{member.id}"
