"""How alerts look: deliveries, notices, the sender's live status message."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from functools import partial

from telegram import InlineKeyboardMarkup, Update

from bot import i18n
from bot.alerts import (
    AlertCopy,
    AlertLine,
    AlertView,
    Notice,
    StatusView,
)
from bot.delivery import Job
from bot.i18n import Markup
from bot.keys import UnreadableText
from bot.membership import MemberView
from bot.network import Network
from bot.personal_data import Finding
from bot.timing.dates import trace_time
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext, Services
from handlers.common.render import (
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
    tr,
    when,
)
from handlers.transport.live import LiveMessage, owned_message
from handlers.transport.outbox import RenderCache, Rendered
from storage.models import AlertStatus

log = logging.getLogger(__name__)


def sector_keyboard(context: CoraContext, chosen: list[str]) -> InlineKeyboardMarkup:
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


def alert_lines(context: CoraContext, lines: list[AlertLine]) -> list[str]:
    """One line per alert of /alerts: icon, reference, whom, when, and where it stands."""
    network = context.services.network
    return [
        tr(
            context,
            "alerts.line",
            icon=_icon(line.alert),
            ref=line.alert.ref,
            sectors=sectors_text(network, line.alert.sectors, context.language),
            region=line.alert.region,
            time=when(context, line.alert.created_at),
            state=Markup(_line_state(context, line)),
        )
        for line in lines
    ]


def _line_state(context: CoraContext, line: AlertLine) -> str:
    """Taken over by whom, or (the sender) how many acknowledged, or whether I have seen it."""
    if line.alert.taken_by is not None:
        return tr(context, "alerts.taken", name=line.alert.taken_by.display_name or "–")
    if line.mine:
        acknowledged, recipients = line.acknowledged, line.recipients
        return tr(context, "alerts.sent_by_you", acknowledged=acknowledged, recipients=recipients)
    key = "alerts.seen_by_you" if line.acknowledged_by_me else "alerts.not_seen_by_you"
    return tr(context, key)


def _icon(alert: AlertView) -> str:
    if alert.drill:
        return "🧪"
    return "🚨" if alert.is_urgent else "📣"


async def say_findings(
    update: Update,
    context: CoraContext,
    findings: Sequence[Finding],
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """What looks like personal data in a text: blocking finds refuse it; doubtful ones are
    shown with `markup` to confirm them."""
    blocking = any(finding.blocking for finding in findings)
    await say(
        update,
        context,
        "alert.findings_blocking" if blocking else "alert.findings_confirm",
        findings=findings_text(context.language, findings),
        markup=markup,
    )


def drill_banner(language: str, alert: AlertView) -> str:
    """Every message about a drill starts with this line, so nobody takes it for a real case."""
    return i18n.html_text(language, "drill.banner") + "\n" if alert.drill else ""


def _headed(language: str, alert: AlertView, key: str, **params: object) -> str:
    """A message about an alert: the drill banner, then the line `key` with its icon and ref."""
    return drill_banner(language, alert) + i18n.html_text(
        language, key, icon=_icon(alert), ref=alert.ref, **params
    )


async def _readable(text: Awaitable[str | None], language: str, *, removed: str) -> str:
    """A decrypted text; the message `removed` once retention removed it. One that cannot be
    decrypted is said so: the message still goes out, to be acknowledged and asked about."""
    try:
        clear = await text
    except UnreadableText:
        return i18n.text(language, "text.unreadable")
    return clear if clear is not None else i18n.text(language, removed)


async def render_alert(job: Job, cache: RenderCache) -> Rendered:
    """The alert itself, a reminder of it, or its escalation to coordinators: the same for
    every recipient of a batch who reads the same language, so rendered once for them."""
    assert job.alert_id is not None
    language = cache.language(job)
    params = tuple(sorted(job.params.items()))
    key = ("alert", job.alert_id, job.kind, params, language)
    return await cache.shared(key, partial(_render_alert, job, cache, job.alert_id, language))


async def _render_alert(job: Job, cache: RenderCache, alert_id: int, language: str) -> Rendered:
    alert = await cache.alert(alert_id)
    settings = cache.services.settings
    network = cache.services.network
    removed = "drill.text" if alert.drill else "alert.text_removed"
    body = i18n.html_text(
        language,
        "alert.body",
        header=Markup(await _alert_header(job, cache, alert, language)),
        sectors=sectors_text(network, alert.sectors, language),
        region=region_name(network, alert.region, language),
        sender=_sender(alert, network, language),
        time=local_time(alert.created_at, settings.cora_timezone, language),
        text=await _readable(cache.alert_text(alert_id), language, removed=removed),
    )
    return Rendered(body, _alert_buttons(alert, language), protect=settings.alert_protect_content)


async def _alert_header(job: Job, cache: RenderCache, alert: AlertView, language: str) -> str:
    """What kind of message it is (alert, reminder, escalation), and whom a deputy stands in
    for."""
    header_key = {
        Notice.ALERT: f"{'drill' if alert.drill else 'alert'}.header.{alert.urgency}",
        Notice.REMINDER: "alert.header.reminder",
        Notice.ESCALATION: f"alert.header.escalation.{job.params.get('level', 1)}",
    }[job.kind]
    header = _headed(language, alert, header_key)
    standing_in = str(job.params.get("deputy_for") or "")
    if standing_in:
        network = cache.services.network
        absent = [await cache.member(int(i)) for i in standing_in.split(",")]
        header += "\n" + i18n.html_text(
            language,
            "alert.deputy_for",
            members=Markup(", ".join(member_text(network, m, language) for m in absent if m)),
        )
    return header


def _alert_buttons(
    alert: AlertView, language: str, *, seen: bool = False
) -> InlineKeyboardMarkup | None:
    """ "Seen" (until the reader has seen it) and "I take over", while the alert is open and
    nobody took it over."""
    if alert.status != AlertStatus.OPEN or alert.taken_by is not None:
        return None
    actions = (
        (("button.take", "take"),) if seen else (("button.ack", "ack"), ("button.take", "take"))
    )
    return keyboard(
        [
            [
                (i18n.text(language, key), Button(Kind.ALERT, str(alert.id), action).encode())
                for key, action in actions
            ]
        ]
    )


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
    text = await _readable(
        cache.follow_up_text(job.subject_id), language, removed="alert.text_removed"
    )
    return Rendered(
        _headed(
            language,
            alert,
            "alert.follow_up",
            name=author.display_name if author else "–",
            text=text,
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
    return Rendered(_headed(language, alert, key, name=who.display_name if who else "–"))


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


async def live_copies(
    services: Services, alert_id: int, member_id: int | None = None
) -> list[LiveMessage]:
    """The recipients' own copies of an alert (one member's, or everyone's once it closed):
    as sent, with what the reader did and whether it is closed, and only the buttons that
    still make sense."""
    copies = await services.alerts.copies(alert_id, member_id)
    if not copies:
        return []
    cache = RenderCache(services)
    alert = await cache.alert(alert_id)
    messages = []
    for item in copies:
        job, language = item.copy.job, cache.language(item.copy.job)
        rendered = await render_alert(job, cache)
        lines = [rendered.text, *_trace(item, alert, language, services.settings.cora_timezone)]
        markup = _alert_buttons(alert, language, seen=item.acknowledged_at is not None)
        messages.append(
            LiveMessage(
                item.copy.reader, item.copy.chat_id, item.copy.message_id, "\n".join(lines), markup
            )
        )
    return messages


def _trace(item: AlertCopy, alert: AlertView, language: str, timezone: str) -> list[str]:
    """✓ Übernommen 10:43 (or ✓ Gesehen 10:42), and 🔒 Geschlossen 11:05."""
    lines = [""]
    if item.taken_at is not None:
        at = trace_time(item.taken_at, timezone, language, day_of=alert.created_at)
        lines.append(i18n.html_text(language, "trace.taken", time=at))
    elif item.acknowledged_at is not None:
        at = trace_time(item.acknowledged_at, timezone, language, day_of=alert.created_at)
        lines.append(i18n.html_text(language, "trace.seen", time=at))
    if item.closed_at is not None:
        at = trace_time(item.closed_at, timezone, language, day_of=alert.created_at)
        lines.append(i18n.html_text(language, "trace.closed", time=at))
    return lines if len(lines) > 1 else []


async def live_status(
    services: Services, alert_id: int, known: StatusView | None = None
) -> list[LiveMessage]:
    """The sender's status message of an alert: sent once, then edited in place. Alerts an
    agency system raised have none (it reads the state over the API). `known`: the status
    as the transaction that touched it knew it, shown without reading it back."""
    status = known if known is not None else await services.alerts.status(alert_id)
    alert = status.alert
    network, timezone = services.network, services.settings.cora_timezone
    return owned_message(
        alert.sender,
        (alert.status_chat_id, alert.status_message_id),
        lambda language: render_status(status, language, network, timezone),
        partial(services.alerts.set_status_message, alert.id),
        default_language=services.settings.cora_default_language,
    )


def render_status(
    status: StatusView, language: str, network: Network, timezone: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The sender's live status message."""
    alert = status.alert
    lines = [
        _headed(
            language,
            alert,
            "status.head",
            urgency=i18n.text(language, f"urgency.{alert.urgency}"),
            sectors=sectors_text(network, alert.sectors, language),
            region=region_name(network, alert.region, language),
        ),
        i18n.html_text(
            language, "status.delivered", delivered=status.delivered, recipients=status.recipients
        ),
        *_status_people(status, language, timezone),
        *_status_course(status, language),
    ]
    if alert.status == AlertStatus.CLOSED:
        return "\n".join(lines), None
    close = Button(Kind.ALERT, str(alert.id), "close").encode()
    return "\n".join(lines), keyboard([[(i18n.text(language, "button.close"), close)]])


def _status_people(status: StatusView, language: str, timezone: str) -> list[str]:
    """Who acknowledged, took over, stood in, was away."""
    alert = status.alert
    lines = []
    if status.acknowledged:
        names = ", ".join(_name(m) for m in status.acknowledged)
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
    return lines


def _status_course(status: StatusView, language: str) -> list[str]:
    """Who could not be reached, failures, escalation, closing."""
    alert = status.alert
    lines = []
    if status.unreachable:
        names = ", ".join(_name(m) for m in status.unreachable)
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
    return lines


def _name(member: MemberView) -> str:
    return member.display_name or f"#{member.id}"
