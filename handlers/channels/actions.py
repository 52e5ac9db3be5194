"""Channels: list, show, join and leave; coordinators create, change and archive them."""

from __future__ import annotations

from telegram import Update

from bot.channels import ChannelView
from bot.errors import DomainError
from handlers.channels.views import MEMBERSHIP_WORDS, channel_details, channel_list, channel_text
from handlers.common.callbacks import Button, pressed
from handlers.common.context import CoraContext
from handlers.common.render import (
    chunk_lines,
    edit_html,
    plain,
    say,
    send_html,
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
    query = pressed(update)
    channel_id = button.number("join", "leave")
    service = context.services.channels
    member = context.active_member
    act = service.join if button.action == "join" else service.leave
    channel = await act(member.id, channel_id)
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
    head, *lines = channel_details(context, details)
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
    await send_html(update, channel_text(context, key, channel, **params))
