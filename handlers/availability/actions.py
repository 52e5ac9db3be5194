"""Absences, deputies, quiet hours and further regions: commands and buttons."""

from __future__ import annotations

from telegram import Update

from bot.availability import parse_day
from bot.errors import DomainError
from bot.timing.quiet import parse_quiet_hours
from handlers.availability.views import absence_text, digest_text, regions_text
from handlers.common.callbacks import Button, pressed
from handlers.common.context import CoraContext
from handlers.common.render import (
    edit_html,
    member_line,
    region_label,
    say,
    send_html,
    tr,
)
from handlers.membership.actions import parse_member_id


async def away(update: Update, context: CoraContext) -> None:
    """`/away <until DD.MM.YYYY> [deputy]`: a planned absence; `/away` alone shows the current."""
    args = context.args or []
    member = context.active_member
    if not args:
        current = await context.services.availability.availability(member.id)
        if current.absence is None:
            await say(update, context, "away.usage")
        else:
            await send_html(update, absence_text(context, current.absence))
        return
    if len(args) > 2:
        raise DomainError("away.usage")
    until = parse_day(args[0])
    deputy = parse_member_id(args[1:]) if len(args) == 2 else None
    absence = await context.services.availability.away(member.id, until, deputy)
    await send_html(update, absence_text(context, absence))


async def back(update: Update, context: CoraContext) -> None:
    """`/back`: end the absence early, with a digest of the open alerts the deputy got."""
    services = context.services
    ended = await services.availability.back(context.active_member.id)
    if ended is None:
        await say(update, context, "back.not_away")
        return
    digest = await services.availability.digest(ended.id)
    if digest is None:  # erased meanwhile
        await say(update, context, "back.done")
        return
    text, markup = digest_text(
        services.network, digest, context.language, services.settings.cora_timezone
    )
    await send_html(update, f"{tr(context, 'back.done')}\n\n{text}", markup=markup)


async def quiet(update: Update, context: CoraContext) -> None:
    """`/quiet 22:00-07:00`, `/quiet off`; `/quiet` alone shows the current setting."""
    member = context.active_member
    availability = context.services.availability
    if not context.args:
        current = (await availability.availability(member.id)).quiet
        if current is None:
            await say(update, context, "quiet.none")
        else:
            await say(update, context, "quiet.current", hours=current.text())
        return
    hours = parse_quiet_hours(" ".join(context.args))
    await availability.set_quiet_hours(member.id, hours)
    if hours is None:
        await say(update, context, "quiet.off")
    else:
        await say(update, context, "quiet.set", hours=hours.text())


async def regions(update: Update, context: CoraContext) -> None:
    """`/regions`, `/regions add <region>`, `/regions remove <region>`."""
    args = context.args or []
    member = context.active_member
    availability = context.services.availability
    if not args:
        await send_html(update, regions_text(context, await availability.availability(member.id)))
        return
    if len(args) != 2 or args[0].lower() not in ("add", "remove"):
        raise DomainError("regions.usage")
    if args[0].lower() == "add":
        request = await availability.request_region(member.id, args[1])
        key = "regions.requested" if request.coordinators else "regions.requested_nobody"
        await say(update, context, key, region=region_label(context, request.request.region))
        return
    await availability.remove_region(member.id, args[1])
    await say(update, context, "regions.removed", region=region_label(context, args[1].upper()))


async def region_button(update: Update, context: CoraContext, button: Button) -> None:
    """A coordinator confirms or declines a member's further region."""
    query = pressed(update)
    decision = await context.services.availability.decide_region(
        context.active_member.id, button.number("ok", "no"), confirm=button.action == "ok"
    )
    await query.answer()
    await edit_html(
        query,
        tr(
            context,
            "regions.decided.confirmed" if decision.confirmed else "regions.decided.declined",
            member=member_line(context, decision.member),
            region=region_label(context, decision.request.region),
        ),
    )
