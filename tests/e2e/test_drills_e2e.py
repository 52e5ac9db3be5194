"""A drill end to end: a coordinator exercises three sectors in Rostock; every message says
ÜBUNG; the result has the right reach and times; nobody outside the drill hears of it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import CoraBot
from bot.clock import ManualClock
from localapi.server import LocalBotApi
from tests.story import expect, join, reply_to, said, shows

DRILL_REF = re.compile(r"U-\d{4}-\d{4}")
WINDOW = timedelta(minutes=30)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"drill_result_after": WINDOW}


def drill_ref(text: str) -> str:
    match = DRILL_REF.search(text)
    assert match, text
    return match.group(0)


async def test_a_drill_with_three_sectors_gives_reach_and_times_and_stays_an_exercise(
    api: LocalBotApi, cora: CoraBot, clock: ManualClock
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "HRO", role="coordinator")
    colleague = await join(api, cora, "Rita Region", "coordination", "HRO", role="coordinator")
    state = await join(api, cora, "Stefan Staat", "coordination", "MV", role="coordinator")
    paul = await join(api, cora, "Paul Polizei", "police", "HRO")
    petra = await join(api, cora, "Petra Polizei", "police", "HRO")
    jana = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    hugo = await join(api, cora, "Hugo Health", "health", "HRO")
    hugo.user.block()

    coordinator.user.send("/drill police,youth_welfare,health HRO")
    started = await expect(coordinator.user, "drill.started", recipients=4, window="30 min")
    ref = drill_ref(started.text)
    messages = {}
    for person in (paul, petra, jana):
        message = await person.user.wait_for(lambda m: ref in m.text)
        assert message.text.startswith("🧪 ÜBUNG – keine echte Fallmeldung"), message.text
        assert said("drill.text")[0] in message.text
        messages[person.name] = message
    await coordinator.user.wait_for(
        lambda m: ref in m.text and shows(m, "status.delivered", delivered=3, recipients=4)
    )

    clock.advance(timedelta(seconds=42))
    await paul.user.press("👀 Gesehen", messages["Paul Polizei"]).answer()
    clock.advance(timedelta(seconds=48))
    await jana.user.press("👀 Gesehen", messages["Jana Jugend"]).answer()

    # Exercises are listed apart from real alerts.
    listing = await reply_to(petra.user, "/alerts")
    assert shows(listing, "alerts.drills", count=1) and ref in listing.text
    assert not shows(listing, "alerts.header", count=1)

    result = await reply_to(coordinator.user, f"/drillresult {ref}")
    text = result.text
    assert text.startswith("🧪 ÜBUNG")
    assert shows(result, "drill.result.reach", delivered=3, members=4, percent=75)
    assert shows(result, "drill.result.first", time="42 s")
    assert shows(result, "drill.result.undelivered", unreachable=1, failed=0, pending=0)
    assert re.search(r"nach 42 s: #\d+ Paul Polizei", text)
    assert re.search(r"nach 1 min 30 s: #\d+ Jana Jugend", text)
    assert "Polizei: 2/2 zugestellt, 1 bestätigt, erste Bestätigung nach 42 s" in text
    assert "Jugendamt: 1/1 zugestellt, 1 bestätigt, erste Bestätigung nach 1 min 30 s" in text
    assert "Gesundheitswesen: 0/1 zugestellt, 0 bestätigt, erste Bestätigung nach –" in text
    not_answered = text.split(said("drill.result.not_answered")[0])[1]
    assert "Petra Polizei" in not_answered and "Hugo Health" in not_answered
    assert "Paul Polizei" not in not_answered

    # As with a real alert, an acknowledgement stops the escalation ladder; and a drill never
    # climbs it beyond its own recipients anyway (see the service stories).
    clock.advance(cora.settings.escalation_normal_after)
    await cora.runtime.run_escalations()

    # When the window is over, the result comes by itself, and the drill is closed.
    seen_button = messages["Petra Polizei"].callback_button("👀 Gesehen")
    assert seen_button is not None
    clock.advance(WINDOW)
    await cora.runtime.finish_drills()
    final = await coordinator.user.wait_for(
        lambda m: m.message_id > result.message_id and shows(m, "drill.result.head", ref=ref)
    )
    assert shows(final, "drill.result.reach", delivered=3, members=4, percent=75)
    # Every copy loses its buttons and says the drill is closed; an old button only explains.
    copy = messages["Petra Polizei"]
    await petra.user.wait_for(
        lambda m: m is copy and m.buttons == [] and "🔒 Geschlossen" in m.text
    )
    late = await petra.user.press_raw(seen_button, copy).answer()
    assert late.show_alert and late.text == said("alert.closed", ref=ref)[0]
    assert not any(shows(m, "alert.header.reminder", ref=ref) for m in petra.user.messages)

    for person in (coordinator, paul, petra, jana):
        about = [m for m in person.user.messages if ref in m.text]
        assert about and all("ÜBUNG" in m.text for m in about), [m.text for m in about]
    for outsider in (colleague, state):
        assert not any(ref in m.text for m in outsider.user.messages)
    # A real alert raised meanwhile still gets a real case number.
    paul.user.send("/alert youth_welfare HRO Rückfrage zu Pseudonym Star")
    real = await expect(paul.user, "alert.raised", recipients=1)
    assert "F-" in real.text and "ÜBUNG" not in real.text


async def test_only_coordinators_may_drill(api: LocalBotApi, cora: CoraBot) -> None:
    member = await join(api, cora, "Paul Polizei", "police", "HRO")
    coordinator = await join(api, cora, "Gero Greifswald", "coordination", "VG", role="coordinator")
    assert shows(await reply_to(member.user, "/drill police HRO"), "error.coordinators_only")
    assert shows(await reply_to(coordinator.user, "/drill police HRO"), "error.outside_scope")
    assert shows(await reply_to(coordinator.user, "/drill police"), "drill.usage")
    reply = await reply_to(coordinator.user, "/drillresult U-2026-0099")
    assert shows(reply, "drill.unknown", ref="U-2026-0099")
