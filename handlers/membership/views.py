"""How membership looks: requests, decisions, redemptions and changes, buttons and lines."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup

from bot import i18n
from bot.availability import AbsenceView
from bot.delivery import Job
from bot.i18n import Markup
from bot.membership import InviteView, MemberView, Step
from bot.timing.dates import local_text
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext, Services
from handlers.common.render import (
    day_text,
    keyboard,
    member_text,
    plain,
    region_label,
    region_name,
    sector_label,
    sector_name,
    tr,
    when,
)
from handlers.transport.live import LiveMessage
from handlers.transport.outbox import RenderCache, Rendered

log = logging.getLogger(__name__)


def _revoke_button(language: str, member_id: int) -> tuple[str, str]:
    return (
        i18n.text(language, "button.revoke"),
        Button(Kind.MEMBER, str(member_id), "revoke").encode(),
    )


def _withdraw_button(language: str, invite_id: int) -> tuple[str, str]:
    return (
        i18n.text(language, "button.withdraw_invite"),
        Button(Kind.INVITE, str(invite_id), "withdraw").encode(),
    )


def place_buttons(context: CoraContext, step: Step) -> list[tuple[str, str]]:
    """One button per sector (or region) to choose from while requesting access."""
    network = context.services.network
    places = network.sectors if step == Step.SECTOR else network.regions
    return [
        (place.label(context.language), Button(Kind.JOIN, code, str(step)).encode())
        for code, place in places.items()
    ]


async def render_request(job: Job, cache: RenderCache) -> Rendered:
    """A new access request, to a coordinator, with the decision buttons."""
    language = cache.language(job)
    applicant = await cache.member(int(job.params["member"] or 0))
    if applicant is None:
        raise LookupError("the applicant is gone")
    text = i18n.html_text(
        language, "request.new", member=member_text(cache.services.network, applicant, language)
    )
    return Rendered(text, _decision_buttons(language, applicant.id))


async def live_request(services: Services, applicant_id: int) -> list[LiveMessage]:
    """Once a coordinator decided an access request, the other coordinators' notices of it
    say who decided how, and their buttons go (the decider's own shows the decision)."""
    decided = await services.membership.decided_request(applicant_id)
    if decided is None:
        return []
    cache = RenderCache(services)
    decider = decided.decided_by
    key = {"active": "approved", "rejected": "rejected"}.get(decided.applicant.status, "revoked")
    messages = []
    for copy in decided.copies:
        if decider is not None and copy.reader.id == decider.id:
            continue
        language = cache.language(copy.job)
        rendered = await render_request(copy.job, cache)
        name = decider.display_name if decider is not None else None
        trace = i18n.html_text(
            language,
            f"trace.request.{key}",
            name=name or i18n.text(language, "trace.operator"),
            time=local_text(decided.decided_at, services.settings.cora_timezone, language),
        )
        text = f"{rendered.text}\n\n{trace}"
        messages.append(LiveMessage(copy.reader, copy.chat_id, copy.message_id, text))
    return messages


async def render_redeemed(job: Job, cache: RenderCache) -> Rendered:
    """To the inviting coordinator: who joined with their link, with a button to revoke them
    at once and, while the link admits more, one to withdraw it."""
    language = cache.language(job)
    newcomer = await cache.member(int(job.params["member"] or 0))
    if newcomer is None:
        raise LookupError("the new member is gone")
    invite = await cache.services.membership.get_invite(int(job.params["invite"] or 0))
    left = invite.uses_left if invite is not None else 0
    text = i18n.html_text(
        language,
        "invite.redeemed",
        member=member_text(cache.services.network, newcomer, language),
        count=left,
    )
    buttons = [_revoke_button(language, newcomer.id)]
    if invite is not None and left > 0:
        buttons.append(_withdraw_button(language, invite.id))
    return Rendered(text, keyboard([buttons]))


async def render_decision(job: Job, cache: RenderCache) -> Rendered:
    """The news of a coordinator's decision, to the person concerned."""
    language = cache.language(job)
    return Rendered(i18n.html_text(language, f"decision.{job.params['decision']}.member"))


def _decision_buttons(language: str, member_id: int) -> InlineKeyboardMarkup:
    return keyboard(
        [
            [
                (
                    i18n.text(language, f"button.{action}"),
                    Button(Kind.MEMBER, str(member_id), action).encode(),
                )
                for action in ("approve", "reject")
            ]
        ]
    )


def _invite_line(context: CoraContext, item: InviteView) -> str:
    return tr(
        context,
        "invites.line",
        id=item.id,
        sector=sector_label(context, item.sector),
        region=region_label(context, item.region),
        role=plain(context, f"role.{item.role}"),
        count=item.uses_left,
        uses=item.uses,
        expires=when(context, item.expires_at),
    )


async def render_change(job: Job, cache: RenderCache) -> Rendered:
    """The member's own news that a coordinator changed their sector, region or role."""
    language = cache.language(job)
    member = await cache.member(job.member_id)
    if member is None:
        raise LookupError("the member is gone")
    network = cache.services.network
    return Rendered(
        i18n.html_text(
            language,
            "change.member",
            sector=sector_name(network, member.sector, language),
            region=region_name(network, member.region, language),
            role=i18n.text(language, f"role.{member.role}"),
        )
    )


def _absence_suffix(context: CoraContext, absence: AbsenceView | None) -> Markup:
    """` · away until 10.12.2026, deputy #12`"""
    if absence is None:
        return Markup("")
    until = day_text(absence.until_day, context.language)
    if absence.deputy is None:
        return Markup(tr(context, "members.away", date=until))
    return Markup(tr(context, "members.away_with_deputy", date=until, deputy=absence.deputy.id))


def _role_suffix(context: CoraContext, member: MemberView) -> Markup:
    return (
        Markup(tr(context, "members.coordinator_suffix")) if member.is_coordinator else Markup("")
    )
