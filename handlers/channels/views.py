"""How channels look: rules, targets and lists."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot import i18n
from bot.channels import ChannelList, TargetView
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


def channel_list(
    context: CoraContext, channels: ChannelList
) -> tuple[str, InlineKeyboardMarkup | None]:
    network = context.services.network
    lines = [tr(context, "channels.header")]
    for implicit in channels.implicit:
        name = (
            sector_name(network, implicit.code, context.language)
            if implicit.kind == "sector"
            else region_name(network, implicit.code, context.language)
        )
        lines.append(
            tr(
                context,
                f"channels.implicit.{implicit.kind}",
                name=name,
                ref=implicit.code,
            )
        )
    rows = []
    for channel in channels.topical:
        state = "joined" if channel.joined else ("open" if channel.admitted else "outside")
        if not channel.is_opt_in and channel.admitted:
            state = "automatic"
        lines.append(
            tr(
                context,
                f"channels.line.{state}",
                name=channel.name,
                ref=channel.slug,
                rule=rule_text(network, channel.sectors, channel.regions, context.language),
            )
        )
        if channel.is_opt_in and channel.admitted:
            action = "leave" if channel.joined else "join"
            rows.append(
                [
                    (
                        plain(context, f"button.channel_{action}", name=channel.name),
                        Button(Kind.CHANNEL, str(channel.id), action).encode(),
                    )
                ]
            )
    if not channels.topical:
        lines.append(tr(context, "channels.no_topical"))
    return "\n".join(lines), keyboard(rows) if rows else None
