"""Every time a person reads is in the network's time zone (CORA_TIMEZONE) and written the way
the reader's language writes it: in replies, in refusals and on the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.app import CoraBot
from localapi.server import LocalBotApi
from tests.story import join, reply_to, shows


async def test_a_refused_date_is_written_the_readers_way(api: LocalBotApi, cora: CoraBot) -> None:
    english = await join(api, cora, "Erin English", "police", "HRO", language="en")
    german = await join(api, cora, "Gerd Deutsch", "police", "HRO")
    reply = await reply_to(english.user, "/away 30.11.2020")
    assert shows(reply, "away.in_the_past", "en", date="2020-11-30"), reply.text
    reply = await reply_to(german.user, "/away 30.11.2020")
    assert shows(reply, "away.in_the_past", date="30.11.2020"), reply.text


async def test_an_invitations_expiry_is_in_the_networks_time_zone(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    before = datetime.now(UTC)
    created = await reply_to(coordinator.user, "/invite police HRO 1 7")
    assert "UTC" not in created.text
    berlin = (before + timedelta(days=7)).astimezone(ZoneInfo("Europe/Berlin"))
    shown = {
        berlin.strftime("%d.%m.%Y %H:%M"),
        (berlin + timedelta(minutes=1)).strftime("%d.%m.%Y %H:%M"),
    }
    assert any(moment in created.text for moment in shown), created.text
