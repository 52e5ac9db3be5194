"""Channels: list, show, join and leave; coordinators create, change and archive them."""

from __future__ import annotations

from telegram import Update

from bot.channels import ChannelView
from bot.errors import DomainError
from handlers.channels.views import MEMBERSHIP_WORDS, channel_list, rule_text
from handlers.common.callbacks import Button
from handlers.common.context import CoraContext
from handlers.common.render import (
    chunk_lines,
    edit_html,
    plain,
    region_name,
    say,
    sector_name,
    send_html,
    tr,
)
from storage.models import ChannelMembership


def _split_args(update: Update) -> list[str]:
    assert update.message is not None
    text = (update.message.text or "").partition(" ")[2]
    return [part.strip() for part in text.split("|")] if text.strip() else []


def _codes(raw: str) -> list[str]:
    return [part.strip() for part in raw.replace(" ", ",").split(",") if part.strip()]


async def list_channels(update: Update, context: CoraContext) -> None:
    """`/channels`: the member's channels, join/leave buttons for opt-in ones."""
    channels = await context.services.channels.list_for(context.active_member.id)
    text, markup = channel_list(context, channels)
    await send_html(update, text, markup=markup)


async def channel_button(update: Update, context: CoraContext, button: Button) -> None:
    """Join and leave buttons of /channels."""
    query = update.callback_query
    assert query is not None
    if not button.id.isdigit() or button.action not in ("join", "leave"):
        raise DomainError("button.invalid")
    service = context.services.channels
    member = context.active_member
    if button.action == "join":
        channel = await service.join(member.id, int(button.id))
    else:
        channel = await service.leave(member.id, int(button.id))
    done = "channel.joined" if button.action == "join" else "channel.left"
    await query.answer(plain(context, done, name=channel.name))
    text, markup = channel_list(context, await service.list_for(member.id))
    await edit_html(query, text, markup=markup)


async def show_channel(update: Update, context: CoraContext) -> None:
    """`/channel <name>`: rule and members of a channel."""
    ref = " ".join(context.args or []).strip()
    if not ref:
        raise DomainError("channel.ref_expected")
    details = await context.services.channels.details(context.active_member.id, ref)
    network = context.services.network
    if details.channel is not None:
        channel = details.channel
        head = tr(
            context,
            "channel.details",
            name=channel.name,
            ref=channel.slug,
            rule=rule_text(network, channel.sectors, channel.regions, context.language),
            membership=plain(context, f"channel.membership.{channel.membership}"),
            count=len(details.members),
        )
    else:
        assert details.implicit is not None
        implicit = details.implicit
        name = (
            sector_name(network, implicit.code, context.language)
            if implicit.kind == "sector"
            else region_name(network, implicit.code, context.language)
        )
        head = tr(
            context,
            f"channel.details.{implicit.kind}",
            name=name,
            ref=implicit.code,
            count=len(details.members),
        )
    lines = [
        tr(
            context,
            "channel.member_line",
            id=member_id,
            name=name or "–",
            sector=sector_name(network, sector, context.language),
            region=region or "–",
        )
        for member_id, name, sector, region in details.members
    ]
    for text in chunk_lines(lines, head):
        await send_html(update, text)


async def new_channel(update: Update, context: CoraContext) -> None:
    """`/newchannel <name> | <sectors|all> | <regions|all> [| opt-in|auto]`"""
    parts = _split_args(update)
    if len(parts) not in (3, 4):
        raise DomainError("channel.usage")
    membership = ChannelMembership.OPT_IN
    if len(parts) == 4:
        word = parts[3].lower()
        if word not in MEMBERSHIP_WORDS:
            raise DomainError("channel.usage")
        membership = MEMBERSHIP_WORDS[word]
    channel = await context.services.channels.create(
        context.active_member.id, parts[0], _codes(parts[1]), _codes(parts[2]), membership
    )
    await _say_channel(update, context, "channel.created", channel)


async def change_rule(update: Update, context: CoraContext) -> None:
    """`/channelrule <channel> | <sectors|all> | <regions|all>`"""
    parts = _split_args(update)
    if len(parts) != 3:
        raise DomainError("channel.rule_usage")
    channel, removed = await context.services.channels.change_rule(
        context.active_member.id, parts[0], _codes(parts[1]), _codes(parts[2])
    )
    await _say_channel(update, context, "channel.rule_changed", channel, removed=removed)


async def archive_channel(update: Update, context: CoraContext) -> None:
    """`/archivechannel <channel>`"""
    ref = " ".join(context.args or []).strip()
    if not ref:
        raise DomainError("channel.ref_expected")
    channel = await context.services.channels.archive(context.active_member.id, ref)
    await say(update, context, "channel.archived", name=channel.name)


async def _say_channel(
    update: Update, context: CoraContext, key: str, channel: ChannelView, **params: int
) -> None:
    network = context.services.network
    text = tr(
        context,
        key,
        name=channel.name,
        ref=channel.slug,
        rule=rule_text(network, channel.sectors, channel.regions, context.language),
        membership=plain(context, f"channel.membership.{channel.membership}"),
        **params,
    )
    await send_html(update, text)
