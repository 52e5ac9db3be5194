"""How channels look: rules, targets and lists."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot import i18n
from bot.channels import ChannelList, ChannelView, TargetView
from bot.channels.rules import ChannelDetails, ImplicitChannel
from bot.network import Network
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.render import (
    keyboard,
    plain,
    region_name,
    sector_name,
    tr,
)
from storage.models import ChannelMembership

MEMBERSHIP_WORDS = {
    "opt-in": ChannelMembership.OPT_IN,
    "optin": ChannelMembership.OPT_IN,
    "auto": ChannelMembership.AUTOMATIC,
    "automatic": ChannelMembership.AUTOMATIC,
    "automatisch": ChannelMembership.AUTOMATIC,
}


def rule_text(
    network: Network, sectors: tuple[str, ...], regions: tuple[str, ...], language: str
) -> str:
    """`Police, Youth welfare office · Rostock`; empty parts read "all"."""
    sector_part = (
        ", ".join(sector_name(network, code, language) for code in sectors)
        if sectors
        else i18n.text(language, "sectors.all")
    )
    region_part = (
        ", ".join(region_name(network, code, language) for code in regions)
        if regions
        else i18n.text(language, "regions.all")
    )
    return f"{sector_part} · {region_part}"


def target_text(network: Network, target: TargetView, language: str) -> str:
    """Whom something is addressed to, in words."""
    parts = [
        f"#{group.channel_name}"
        if group.channel_name is not None
        else rule_text(network, group.sectors, group.regions, language)
        for group in target.groups
    ]
    return " + ".join(parts)


def implicit_name(context: CoraContext, implicit: ImplicitChannel) -> str:
    """The name of a sector's or a region's channel."""
    name = sector_name if implicit.kind == "sector" else region_name
    return name(context.services.network, implicit.code, context.language)


def channel_text(context: CoraContext, key: str, channel: ChannelView, **params: int) -> str:
    """A text about one topical channel: its name, reference, rule and kind of membership."""
    return tr(
        context,
        key,
        name=channel.name,
        ref=channel.slug,
        rule=rule_text(
            context.services.network, channel.sectors, channel.regions, context.language
        ),
        membership=plain(context, f"channel.membership.{channel.membership}"),
        **params,
    )


def channel_details(context: CoraContext, details: ChannelDetails) -> list[str]:
    """`/channel`: the head (rule or implied channel), then one line per member."""
    count = len(details.members)
    if details.channel is not None:
        head = channel_text(context, "channel.details", details.channel, count=count)
    else:
        assert details.implicit is not None
        implicit = details.implicit
        head = tr(
            context,
            f"channel.details.{implicit.kind}",
            name=implicit_name(context, implicit),
            ref=implicit.code,
            count=count,
        )
    network = context.services.network
    return [head] + [
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


def _topical_line(context: CoraContext, channel: ChannelView) -> str:
    state = "joined" if channel.joined else ("open" if channel.admitted else "outside")
    if not channel.is_opt_in and channel.admitted:
        state = "automatic"
    rule = rule_text(context.services.network, channel.sectors, channel.regions, context.language)
    return tr(context, f"channels.line.{state}", name=channel.name, ref=channel.slug, rule=rule)


def channel_list(
    context: CoraContext, channels: ChannelList
) -> tuple[str, InlineKeyboardMarkup | None]:
    """`/channels`: the implied channels, the topical ones, join or leave buttons."""
    lines = [tr(context, "channels.header")]
    lines += [
        tr(
            context,
            f"channels.implicit.{implicit.kind}",
            name=implicit_name(context, implicit),
            ref=implicit.code,
        )
        for implicit in channels.implicit
    ]
    lines += [_topical_line(context, channel) for channel in channels.topical]
    rows = []
    for channel in channels.topical:
        if channel.is_opt_in and channel.admitted:
            action = "leave" if channel.joined else "join"
            label = plain(context, f"button.channel_{action}", name=channel.name)
            rows.append([(label, Button(Kind.CHANNEL, str(channel.id), action).encode())])
    if not channels.topical:
        lines.append(tr(context, "channels.no_topical"))
    return "\n".join(lines), keyboard(rows) if rows else None
