"""How availability looks: absence texts, the digest on return, deputy and region notices."""

from __future__ import annotations

from datetime import date

from telegram import InlineKeyboardMarkup

from bot import i18n
from bot.availability import AbsenceView, Availability, Digest, MissedAlert
from bot.delivery import Job
from bot.network import Network
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.render import (
    day_text,
    keyboard,
    local_time,
    member_line,
    member_text,
    region_label,
    region_name,
    sectors_text,
    tr,
)
from handlers.transport.outbox import RenderCache, Rendered


def absence_text(context: CoraContext, absence: AbsenceView) -> str:
    until = day_text(absence.until_day, context.language)
    if absence.deputy is None:
        return tr(context, "away.set", date=until)
    return tr(
        context,
        "away.set_with_deputy",
        date=until,
        deputy=member_line(context, absence.deputy),
    )


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


def digest_text(
    network: Network, digest: Digest, language: str, timezone: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One line per open alert of the absence (reference, sectors@region, raised, who holds
    it), with "take over" for those nobody has taken; or that there are none."""
    if not digest.alerts:
        return i18n.html_text(language, "digest.none"), None
    lines = [i18n.html_text(language, "digest.header", count=len(digest.alerts))]
    lines += [_missed_line(network, alert, language, timezone) for alert in digest.alerts]
    take = [
        [
            (
                i18n.text(language, "digest.take", ref=alert.ref),
                Button(Kind.ALERT, str(alert.id), "take").encode(),
            )
        ]
        for alert in digest.alerts
        if alert.taken_by is None
    ]
    return "\n".join(lines), keyboard(take) if take else None


def _missed_line(network: Network, alert: MissedAlert, language: str, timezone: str) -> str:
    holder = (
        i18n.html_text(language, "digest.taken_by", name=alert.taken_by.display_name or "–")
        if alert.taken_by is not None
        else i18n.html_text(language, "digest.untaken")
    )
    return i18n.html_text(
        language,
        "digest.line",
        ref=alert.ref,
        sectors=sectors_text(network, alert.sectors, language),
        region=region_name(network, alert.region, language),
        raised=local_time(alert.raised_at, timezone, language),
        holder=i18n.Markup(holder),
    )


async def render_absence_digest(job: Job, cache: RenderCache) -> Rendered:
    """To the member when the absence has run out: it is over, and the digest."""
    assert job.subject_id is not None
    language = cache.language(job)
    services = cache.services
    ended = i18n.html_text(language, "digest.absence_ended")
    digest = await services.availability.digest(job.subject_id)
    if digest is None:
        return Rendered(ended)
    text, markup = digest_text(services.network, digest, language, services.settings.cora_timezone)
    return Rendered(f"{ended}\n\n{text}", markup)


def regions_text(context: CoraContext, availability: Availability) -> str:
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
