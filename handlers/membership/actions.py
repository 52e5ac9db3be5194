"""Joining, language, help, and the coordinators' member commands and buttons."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ApplicationHandlerStop

from bot.errors import DomainError
from bot.i18n import LANGUAGES
from bot.membership import MemberView, Progress, Step, TelegramIdentity, next_step
from handlers.common.callbacks import Button, Kind, pressed
from handlers.common.commands import (
    Audience,
    CommandRegistry,
    HelpGroup,
    audience_of,
    help_sections,
    sync_member_menu,
)
from handlers.common.context import CoraContext
from handlers.common.render import (
    chunk_lines,
    edit_html,
    keyboard,
    member_line,
    plain,
    region_label,
    rows_of,
    say,
    say_count,
    sector_label,
    send_html,
    tr,
    when,
)
from handlers.membership.views import (
    _absence_suffix,
    _decision_buttons,
    _invite_line,
    _role_suffix,
    _withdraw_button,
    place_buttons,
)
from storage.models import MemberStatus, Role

log = logging.getLogger(__name__)


def _identity(update: Update) -> TelegramIdentity:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    return TelegramIdentity(user.id, chat.id, user.language_code)


def _registry(context: CoraContext) -> CommandRegistry:
    registry: CommandRegistry = context.bot_data["commands"]
    return registry


def parse_member_id(args: list[str] | None) -> int:
    """`12` or `#12` → 12; anything else is a polite error."""
    raw = (args or [""])[0].lstrip("#")
    if not raw.isdecimal() or len(raw) > 12:
        raise DomainError("error.member_id_expected")
    return int(raw)


async def _sync_menu(context: CoraContext, member: MemberView, language: str | None = None) -> None:
    """Show the member the commands their role allows (in the default language unless given)."""
    default = context.services.settings.cora_default_language
    await sync_member_menu(context.bot, _registry(context), member, language or default)


async def start(update: Update, context: CoraContext) -> None:
    """Redeem an invite token, or begin (or continue) an access request."""
    if context.args:
        await _redeem(update, context, context.args[0])
        return
    member = context.member
    if member is not None and member.status not in (MemberStatus.APPLYING,):
        if member.status == MemberStatus.ONBOARDING:
            await ask_next(update, context, Progress(member, next_step(member)))
            return
        key = "start.already_member" if member.is_active else f"access.{member.status}"
        await say(update, context, key, name=member.display_name or "")
        return
    progress = await context.services.membership.start_request(_identity(update))
    if member is None:
        await say(update, context, "join.request_intro")
    await ask_next(update, context, progress)


async def _redeem(update: Update, context: CoraContext, token: str) -> None:
    progress = await context.services.membership.redeem_invite(_identity(update), token)
    invited = progress.member
    await say(
        update,
        context,
        "join.invited",
        sector=sector_label(context, invited.sector),
        region=region_label(context, invited.region),
        role=plain(context, f"role.{invited.role}"),
    )
    await ask_next(update, context, progress)


async def ask_next(update: Update, context: CoraContext, progress: Progress) -> None:
    """Ask the next question of the joining dialog, or say how it ended."""
    match progress.step:
        case Step.SECTOR | Step.REGION:
            markup = keyboard(rows_of(place_buttons(context, progress.step), 2))
            await say(update, context, f"join.ask_{progress.step}", markup=markup)
        case Step.INSTITUTION | Step.NAME:
            await say(update, context, f"join.ask_{progress.step}")
        case Step.DONE if progress.member.is_active:
            await say(update, context, "join.activated", name=progress.member.display_name or "")
            await _sync_menu(context, progress.member)
        case Step.DONE:
            await say(update, context, "join.submitted")


async def joining_text(update: Update, context: CoraContext) -> None:
    """Answers to the joining questions; stops other handlers while someone is joining."""
    member = context.member
    if member is None or member.status not in (MemberStatus.ONBOARDING, MemberStatus.APPLYING):
        return
    assert update.message is not None and update.message.text is not None
    progress = await context.services.membership.give_text(member.id, update.message.text)
    await ask_next(update, context, progress)
    raise ApplicationHandlerStop


async def join_button(update: Update, context: CoraContext, button: Button) -> None:
    """Sector and region buttons of an access request."""
    query = pressed(update)
    member = context.member
    if member is None or member.status != MemberStatus.APPLYING:
        await query.answer(plain(context, "join.step_outdated"), show_alert=True)
        return
    membership = context.services.membership
    if button.action == "sector":
        progress = await membership.choose_sector(member.id, button.id)
        chosen = sector_label(context, progress.member.sector)
    elif button.action == "region":
        progress = await membership.choose_region(member.id, button.id)
        chosen = region_label(context, progress.member.region)
    else:
        raise DomainError("button.invalid")
    await query.answer()
    await edit_html(query, tr(context, "join.chosen", choice=chosen))
    await ask_next(update, context, progress)


async def help_command(update: Update, context: CoraContext) -> None:
    """List exactly the commands this person may use, in sections (alerts, polls, ...)."""
    audience = audience_of(context.member)
    lines = [tr(context, "help.header")]
    for group, commands in help_sections(_registry(context).for_audience(audience)):
        # Without /report the section is the network and the support system only.
        member_only = group == HelpGroup.NETWORK and audience < Audience.COORDINATOR
        title = "network_member" if member_only else str(group)
        lines += ["", tr(context, f"help.group.{title}")]
        lines += [
            tr(
                context,
                "help.line",
                command=command.name,
                description=plain(context, f"command.{command.name}"),
            )
            for command in commands
        ]
    for text in chunk_lines(lines):
        await send_html(update, text)


async def me(update: Update, context: CoraContext) -> None:
    """Show the person's own profile and status."""
    member = context.member
    if member is None:
        await say(update, context, "access.stranger")
        return
    await say(
        update,
        context,
        "me.profile",
        id=member.id,
        name=member.display_name or "–",
        institution=member.institution or "–",
        sector=sector_label(context, member.sector),
        region=region_label(context, member.region),
        role=plain(context, f"role.{member.role}"),
        status=plain(context, f"status.{member.status}"),
        language=context.language,
    )


async def language(update: Update, context: CoraContext) -> None:
    """`/language de|en`, or buttons to choose."""
    choice = (context.args or [""])[0].lower()
    if choice not in LANGUAGES:
        buttons = [
            (plain(context, f"language.{code}"), Button(Kind.LANGUAGE, code, "set").encode())
            for code in LANGUAGES
        ]
        await say(update, context, "language.choose", markup=keyboard([buttons]))
        return
    await _set_language(update, context, choice)
    await say(update, context, "language.set")


async def language_button(update: Update, context: CoraContext, button: Button) -> None:
    """The language buttons of /language."""
    query = pressed(update)
    if button.id not in LANGUAGES:
        raise DomainError("button.invalid")
    await _set_language(update, context, button.id)
    await query.answer()
    await edit_html(query, tr(context, "language.set"))


async def _set_language(update: Update, context: CoraContext, choice: str) -> None:
    context.language = choice
    if context.member is not None:
        member = await context.services.membership.set_language(context.member.id, choice)
        context.member = member
        if member.is_coordinator:
            await _sync_menu(context, member, choice)


async def cancel(update: Update, context: CoraContext) -> None:
    """Outside a dialog there is nothing to cancel; dialogs register their own /cancel."""
    await say(update, context, "cancel.nothing")


async def invite(update: Update, context: CoraContext) -> None:
    """`/invite <sector> <region> [uses] [days]`: create an invitation link."""
    args = context.args or []
    if len(args) < 2 or len(args) > 4 or not all(arg.isdecimal() for arg in args[2:]):
        raise DomainError("invite.usage")
    uses = int(args[2]) if len(args) > 2 else context.services.settings.invite_default_uses
    days = int(args[3]) if len(args) > 3 else context.services.settings.invite_default_days
    created = await context.services.membership.create_invite(
        context.active_member.id, args[0], args[1], uses=uses, days=days
    )
    await say(
        update,
        context,
        "invite.created",
        link=f"https://t.me/{context.bot.username}?start={created.token}",
        sector=sector_label(context, created.sector),
        region=region_label(context, created.region),
        uses=created.max_uses,
        expires=when(context, created.expires_at),
    )


async def invites(update: Update, context: CoraContext) -> None:
    """`/invites`: the coordinator's own links that still admit someone, each with a button
    to withdraw it."""
    active = await context.services.membership.list_invites(context.active_member.id)
    await _each_with_buttons(
        update,
        context,
        "invites",
        [
            (_invite_line(context, item), keyboard([[_withdraw_button(context.language, item.id)]]))
            for item in active
        ],
    )


async def invite_button(update: Update, context: CoraContext, button: Button) -> None:
    """Withdraw one of the coordinator's own links (from /invites or a redemption notice)."""
    query = pressed(update)
    withdrawn = await context.services.membership.withdraw_invite(
        context.active_member.id, button.number("withdraw")
    )
    await query.answer()
    await edit_html(
        query,
        tr(
            context,
            "invites.withdrawn",
            id=withdrawn.id,
            sector=sector_label(context, withdrawn.sector),
            region=region_label(context, withdrawn.region),
        ),
    )


async def pending(update: Update, context: CoraContext) -> None:
    """List open access requests, each with approve/reject buttons."""
    requests = await context.services.membership.list_pending(context.active_member.id)
    await _each_with_buttons(
        update,
        context,
        "pending",
        [
            (member_line(context, applicant), _decision_buttons(context.language, applicant.id))
            for applicant in requests
        ],
    )


async def _each_with_buttons(
    update: Update, context: CoraContext, key: str, items: list[tuple[str, InlineKeyboardMarkup]]
) -> None:
    """A header, then (at most 20) messages each with its own buttons; `<key>.none` if empty."""
    if not await say_count(update, context, key, items):
        return
    for text, markup in items[:20]:
        await send_html(update, text, markup=markup)


async def approve(update: Update, context: CoraContext) -> None:
    """`/approve <member>`"""
    await _decide(update, context, "approve", parse_member_id(context.args))


async def reject(update: Update, context: CoraContext) -> None:
    """`/reject <member>`"""
    await _decide(update, context, "reject", parse_member_id(context.args))


async def revoke(update: Update, context: CoraContext) -> None:
    """`/revoke <member>`: ends the membership at once."""
    await _decide(update, context, "revoke", parse_member_id(context.args))


async def member_button(update: Update, context: CoraContext, button: Button) -> None:
    """Approve/reject buttons on requests; revoke on a redemption or urgent-limit notice."""
    query = pressed(update)
    member_id = button.number("approve", "reject", "revoke")
    text = await _decision(context, button.action, member_id)
    await query.answer()
    await edit_html(query, text)


async def _decide(update: Update, context: CoraContext, action: str, member_id: int) -> None:
    await send_html(update, await _decision(context, action, member_id))


async def _decision(context: CoraContext, action: str, member_id: int) -> str:
    """Carry out a decision, tell the person concerned, and return the coordinator's summary."""
    membership = context.services.membership
    actor = context.active_member.id
    decision = {
        "approve": membership.approve,
        "reject": membership.reject,
        "revoke": membership.revoke,
    }[action]
    result = await decision(actor, member_id)
    if result.member.role == Role.COORDINATOR:
        await _sync_menu(context, result.member)
    return tr(context, f"decision.{action}.done", member=member_line(context, result.member))


async def change(update: Update, context: CoraContext) -> None:
    """`/change <member> [sector=…] [region=…] [role=…]`"""
    args = context.args or []
    member_id = parse_member_id(args[:1])
    fields: dict[str, str] = {}
    for arg in args[1:]:
        name, sep, value = arg.partition("=")
        if not sep or name not in ("sector", "region", "role") or not value or name in fields:
            raise DomainError("change.usage")
        fields[name] = value
    if not fields:
        raise DomainError("change.usage")
    changed = await context.services.membership.change(
        context.active_member.id, member_id, **fields
    )
    await _sync_menu(context, changed)
    await say(
        update,
        context,
        "change.done",
        member=member_line(context, changed),
        role=plain(context, f"role.{changed.role}"),
    )


async def members(update: Update, context: CoraContext) -> None:
    """`/members [sector] [region]`: the active members, optionally filtered."""
    sector = region = None
    network = context.services.network
    for arg in context.args or []:
        if arg.upper() in network.regions and region is None:
            region = arg
        elif sector is None:
            sector = arg
        else:
            raise DomainError("members.usage")
    found = await context.services.membership.list_members(context.active_member.id, sector, region)
    if not found:
        await say(update, context, "members.none")
        return
    absences = await context.services.availability.absences(m.id for m in found)
    lines = [
        member_line(context, member)
        + _role_suffix(context, member)
        + _absence_suffix(context, absences.get(member.id))
        for member in found
    ]
    for text in chunk_lines(lines, tr(context, "members.header", count=len(found))):
        await send_html(update, text)
