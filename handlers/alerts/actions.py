"""Acting on alerts: acknowledge, take over, follow up, close, list."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import CallbackQuery, Update

from bot.alerts import (
    AlertView,
    check_text,
)
from bot.errors import DomainError
from handlers.alerts.views import alert_lines, say_findings
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.render import (
    keyboard,
    plain,
    say,
    send_html,
    tr,
)

log = logging.getLogger(__name__)


FOLLOW_UP = "follow_up_draft"


async def alert_button(update: Update, context: CoraContext, button: Button) -> None:
    """ "Seen", "I take over" and "close" on alert messages."""
    query = update.callback_query
    assert query is not None
    action = _BUTTONS.get(button.action)
    if not button.id.isdecimal() or action is None:
        raise DomainError("button.invalid")
    await action(query, context, int(button.id))


async def _close_button(query: CallbackQuery, context: CoraContext, alert_id: int) -> None:
    view = await context.services.alerts.close(context.active_member.id, alert_id)
    await query.answer(plain(context, "alert.closed_by_you", ref=view.ref))


async def _ack_button(query: CallbackQuery, context: CoraContext, alert_id: int) -> None:
    """The buttons change at once (a reply, ahead of any fan-out); the trace with the time
    follows through the live messages."""
    ack = await context.services.alerts.acknowledge(context.active_member.id, alert_id)
    answer = query.answer(plain(context, "alert.acknowledged", ref=ack.alert.ref))
    if ack.already:
        await answer
    else:  # side by side: the edit need not wait for the answer's round trip
        await asyncio.gather(answer, _show_handled(query, context, ack.alert, taken=False))


async def _take_button(query: CallbackQuery, context: CoraContext, alert_id: int) -> None:
    taken = await context.services.alerts.take_over(context.active_member.id, alert_id)
    if not taken.taken:
        await query.answer(_already_taken(context, taken.alert), show_alert=True)
        return
    await asyncio.gather(
        query.answer(plain(context, "alert.taken_by_you", ref=taken.alert.ref)),
        _show_handled(query, context, taken.alert, taken=True),
    )


_BUTTONS: dict[str, Callable[[CallbackQuery, CoraContext, int], Awaitable[None]]] = {
    "ack": _ack_button,
    "take": _take_button,
    "close": _close_button,
}


def _already_taken(context: CoraContext, alert: AlertView) -> str:
    """Somebody else was first to take the alert over."""
    taker = alert.taken_by
    name = taker.display_name if taker else "–"
    return plain(context, "alert.already_taken", ref=alert.ref, name=name)


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
    await say(update, context, "alert.acknowledged", ref=ack.alert.ref)


async def take_command(update: Update, context: CoraContext) -> None:
    """`/take <ref>`"""
    member = context.active_member
    alert_id = await context.services.alerts.find(member.id, _ref(context))
    taken = await context.services.alerts.take_over(member.id, alert_id)
    if not taken.taken:
        taker = taken.alert.taken_by
        name = taker.display_name if taker else "–"
        await say(update, context, "alert.already_taken", ref=taken.alert.ref, name=name)
        return
    await say(update, context, "alert.taken_by_you", ref=taken.alert.ref)


async def close_command(update: Update, context: CoraContext) -> None:
    """`/close <ref>`"""
    member = context.active_member
    alert_id = await context.services.alerts.find(member.id, _ref(context))
    view = await context.services.alerts.close(member.id, alert_id)
    await say(update, context, "alert.closed_by_you", ref=view.ref)


async def update_command(update: Update, context: CoraContext) -> None:
    """`/update <ref> <text>`: a follow-up to everyone involved."""
    assert update.message is not None
    parts = (update.message.text or "").split(maxsplit=2)
    if len(parts) < 3:
        raise DomainError("alert.update_usage")
    alert_id = await context.services.alerts.find(context.active_member.id, parts[1])
    findings = check_text(parts[2], context.services.network.place_names)
    if not findings:
        await send_follow_up(update, context, alert_id, parts[2], confirmed=False)
        return
    markup = None
    if not any(f.blocking for f in findings):
        # Doubtful finds: the draft waits for "send anyway".
        assert context.user_data is not None
        context.user_data[FOLLOW_UP] = (alert_id, parts[2])
        send = Button(Kind.DRAFT, "followup", "send").encode()
        markup = keyboard([[(plain(context, "button.send_anyway"), send)]])
    await say_findings(update, context, findings, markup)


async def send_follow_up(
    update: Update, context: CoraContext, alert_id: int, text: str, *, confirmed: bool
) -> None:
    count = await context.services.alerts.follow_up(
        context.active_member.id, alert_id, text, confirmed=confirmed
    )
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
        parts.extend(alert_lines(context, real))
    if drills:
        parts.append(tr(context, "alerts.drills", count=len(drills)))
        parts.extend(alert_lines(context, drills))
    await send_html(update, "\n\n".join(parts))
