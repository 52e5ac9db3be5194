"""The formats the README promises for what members type: a poll is referred to by its number
(`7` or `#7`), times are `DD.MM.YYYY [HH:MM]` in the network's time zone, and a scheduled
announcement needs a minute still to come."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.app import CoraBot
from localapi.server import LocalBotApi
from tests.story import expect, join, reply_to, shows

BERLIN = ZoneInfo("Europe/Berlin")


def _local(moment: datetime) -> str:
    return moment.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")


async def test_a_poll_is_referred_to_by_its_number_with_or_without_hash(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    member = await join(api, cora, "Paul Polizei", "police", "HRO")
    deadline = (datetime.now(BERLIN) + timedelta(days=3)).strftime("%d.%m.%Y")
    coordinator.user.send(f"/poll police@HRO {deadline} Ort der Fallkonferenz | Rostock | Online")
    created = await expect(coordinator.user, "poll.created", count=1)
    poll_id = created.text.split("Umfrage ", 1)[1].split()[0]
    ballot = await member.user.wait_for(lambda m: "Ort der Fallkonferenz" in m.text)
    member.user.send(f"/vote #{poll_id} 2")
    await expect(member.user, "vote.saved", id=poll_id, after=ballot)
    results = await reply_to(member.user, f"/results {poll_id}")
    assert "Ort der Fallkonferenz" in results.text


async def test_an_announcement_is_scheduled_only_for_a_minute_still_to_come(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    await join(api, cora, "Paul Polizei", "police", "HRO")
    now = datetime.now(BERLIN)
    reply = await reply_to(coordinator.user, f"/announce police@HRO at {_local(now)} Heute Team")
    assert shows(reply, "date.in_past", value=_local(now)), reply.text
    later = now + timedelta(minutes=2)
    reply = await reply_to(coordinator.user, f"/announce police@HRO at {_local(later)} Team")
    assert shows(reply, "announce.scheduled", recipients=1), reply.text
