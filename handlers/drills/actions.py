"""Drills: start one, read its result."""

from __future__ import annotations

from telegram import Update

from bot.alerts import parse_sectors
from bot.errors import DomainError
from handlers.common.context import CoraContext
from handlers.common.render import (
    chunk_lines,
    say,
    send_html,
)
from handlers.drills.views import result_lines
from handlers.report.views.values import duration
from storage.models import Urgency


async def drill(update: Update, context: CoraContext) -> None:
    """`/drill <sector[,…]|all> <region|MV> [!]`: an exercise alert, `!` for the urgent path."""
    args = context.args or []
    if len(args) not in (2, 3) or (len(args) == 3 and args[2] != "!"):
        raise DomainError("drill.usage")
    network = context.services.network
    sectors = parse_sectors(network, args[0])
    urgency = Urgency.URGENT if len(args) == 3 else Urgency.NORMAL
    drills = context.services.drills
    raised = await drills.start(context.active_member.id, sectors, args[1], urgency)
    await say(
        update,
        context,
        "drill.started",
        ref=raised.alert.ref,
        recipients=raised.recipients,
        window=duration(drills.result_after.total_seconds()),
    )


async def drill_result(update: Update, context: CoraContext) -> None:
    """`/drillresult <ref>`: the result so far."""
    if not context.args or len(context.args) != 1:
        raise DomainError("drill.ref_expected")
    result = await context.services.drills.result(context.active_member.id, context.args[0])
    settings = context.services.settings
    lines = result_lines(
        result, context.services.network, context.language, settings.cora_timezone, limit=None
    )
    for text in chunk_lines(lines):
        await send_html(update, text)
