"""Telegram adapters for availability: /away and /back, /quiet, /regions and the coordinators'
confirmation of further regions, and how their notices look."""

from __future__ import annotations

from datetime import date

from telegram import Update

from bot import i18n
from bot.availability import AbsenceView, Availability, parse_day
from bot.delivery import Job
from bot.errors import DomainError
from bot.timing.quiet import parse_quiet_hours
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.render import (
    day_text,
    edit_html,
    keyboard,
    member_line,
    member_text,
    region_label,
    region_name,
    say,
    send_html,
    tr,
)
from handlers.membership import parse_member_id
from handlers.transport.outbox import RenderCache, Rendered

# -- absences ----------------------------------------------------------------------------------


async def away(update: Update, context: CoraContext) -> None:
    """`/away <until DD.MM.YYYY> [deputy]`: a planned absence; `/away` alone shows the current."""
    args = context.args or []
    member = context.active_member
    if not args:
        current = await context.services.availability.availability(member.id)
        if current.absence is None:
            await say(update, context, "away.usage")
        else:
            await send_html(update, _absence_text(context, current.absence))
        return
    if len(args) > 2:
        raise DomainError("away.usage")
    until = parse_day(args[0])
    deputy = parse_member_id(args[1:]) if len(args) == 2 else None
    absence = await context.services.availability.away(member.id, until, deputy)
    context.background.deliveries_added()
    await send_html(update, _absence_text(context, absence))


def _absence_text(context: CoraContext, absence: AbsenceView) -> str:
    until = day_text(absence.until_day, context.language)
    if absence.deputy is None:
        return tr(context, "away.set", date=until)
    return tr(
        context,
        "away.set_with_deputy",
        date=until,
        deputy=member_line(context, absence.deputy),
    )


async def back(update: Update, context: CoraContext) -> None:
    """`/back`: end the absence early."""
    ended = await context.services.availability.back(context.active_member.id)
    if ended is None:
        await say(update, context, "back.not_away")
        return
    context.background.deliveries_added()
    await say(update, context, "back.done")


async def render_deputy(job: Job, cache: RenderCache) -> Rendered:
    """To the deputy: whom they stand in for, and until when."""
    language = cache.language(job)
    absent = await cache.member(int(job.params["member"] or 0))
    line = member_text(cache.services.network, absent, language) if absent else "–"
    until = date.fromisoformat(str(job.params["until"]))
    return Rendered(
        i18n.html_text(language, "deputy.notice", member=line, date=day_text(until, language))
    )


async def render_deputy_ended(job: Job, cache: RenderCache) -> Rendered:
    language = cache.language(job)
    absent = await cache.member(int(job.params["member"] or 0))
    line = member_text(cache.services.network, absent, language) if absent else "–"
    return Rendered(i18n.html_text(language, "deputy.ended", member=line))


# -- quiet hours -------------------------------------------------------------------------------


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


# -- further regions ---------------------------------------------------------------------------


async def regions(update: Update, context: CoraContext) -> None:
    """`/regions`, `/regions add <region>`, `/regions remove <region>`."""
    args = context.args or []
    member = context.active_member
    availability = context.services.availability
    if not args:
        await send_html(update, _regions_text(context, await availability.availability(member.id)))
        return
    if len(args) != 2 or args[0].lower() not in ("add", "remove"):
        raise DomainError("regions.usage")
    if args[0].lower() == "add":
        request = await availability.request_region(member.id, args[1])
        context.background.deliveries_added()
        key = "regions.requested" if request.coordinators else "regions.requested_nobody"
        await say(update, context, key, region=region_label(context, request.request.region))
        return
    await availability.remove_region(member.id, args[1])
    await say(update, context, "regions.removed", region=region_label(context, args[1].upper()))


def _regions_text(context: CoraContext, availability: Availability) -> str:
    lines = [
        tr(
            context,
            "regions.own",
            region=region_label(context, availability.member.region),
        )
    ]
    for row in availability.regions:
        key = "regions.confirmed" if row.confirmed else "regions.pending"
        lines.append(tr(context, key, region=region_label(context, row.region)))
    lines.append(tr(context, "regions.usage"))
    return "\n".join(lines)


async def region_button(update: Update, context: CoraContext, button: Button) -> None:
    """A coordinator confirms or declines a member's further region."""
    query = update.callback_query
    assert query is not None
    if not button.id.isdigit() or button.action not in ("ok", "no"):
        raise DomainError("button.invalid")
    decision = await context.services.availability.decide_region(
        context.active_member.id, int(button.id), confirm=button.action == "ok"
    )
    context.background.deliveries_added()
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


async def render_region_request(job: Job, cache: RenderCache) -> Rendered:
    """To a coordinator: a member asks to be reachable for a further region."""
    assert job.subject_id is not None
    language = cache.language(job)
    network = cache.services.network
    member = await cache.member(int(job.params["member"] or 0))
    if member is None:
        raise LookupError("the member is gone")
    region = str(job.params["region"])
    request = await cache.services.availability.region_request(job.subject_id)
    text = i18n.html_text(
        language,
        "regions.request",
        member=member_text(network, member, language),
        region=region_name(network, region, language),
    )
    if request is None or request.confirmed:
        return Rendered(text)  # decided (or withdrawn) before this message went out
    buttons = [
        (
            i18n.text(language, f"button.region_{action}"),
            Button(Kind.REGION, str(request.id), action).encode(),
        )
        for action in ("ok", "no")
    ]
    return Rendered(text, keyboard([buttons]))


async def render_region_decision(job: Job, cache: RenderCache) -> Rendered:
    language = cache.language(job)
    region = region_name(cache.services.network, str(job.params["region"]), language)
    return Rendered(
        i18n.html_text(language, f"regions.decision.{job.params['decision']}", region=region)
    )
