"""Availability end to end: an absent member's deputy, quiet hours as Telegram's
`disable_notification`, and a further region confirmed by its coordinator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.app import CoraBot
from localapi.server import LocalBotApi
from tests.story import alert_messages, expect, join, ref_in, reply_to, shows


def _in_a_week() -> str:
    return (
        (datetime.now(UTC) + timedelta(days=7))
        .astimezone(ZoneInfo("Europe/Berlin"))
        .strftime("%d.%m.%Y")
    )


async def test_an_away_members_alert_goes_to_the_deputy_and_the_status_says_so(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    present = await join(api, cora, "Paul Polizei", "police", "HRO")
    yvonne = await join(api, cora, "Yvonne Urlaub", "police", "HRO")
    zeno = await join(api, cora, "Zeno Zeitweg", "police", "HRO")
    deputy = await join(api, cora, "Dirk Deputy", "police", "LRO")
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    until = _in_a_week()
    reply = await reply_to(yvonne.user, f"/away {until} #{deputy.member_id}")
    assert shows(reply, "away.set_with_deputy", date=until) and "Dirk Deputy" in reply.text
    told = await expect(deputy.user, "deputy.notice", date=until)
    assert "Yvonne Urlaub" in told.text
    reply = await reply_to(zeno.user, f"/away {until}")
    assert shows(reply, "away.set", date=until)

    sender.user.send("/alert police HRO ! Schutzplatz für Pseudonym Amsel gesucht")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=2)).text)
    await present.user.wait_for(lambda m: ref in m.text)
    standing_in = await deputy.user.wait_for(lambda m: ref in m.text)
    assert shows(standing_in, "alert.deputy_for") and "Yvonne Urlaub" in standing_in.text
    assert "Pseudonym Amsel" in standing_in.text
    status = await sender.user.wait_for(
        lambda m: (
            ref in m.text
            and shows(m, "status.delivered", delivered=2, recipients=2)
            and shows(m, "status.deputy", deputy="Dirk Deputy", member="Yvonne Urlaub")
            and shows(m, "status.away", names="Zeno Zeitweg")
        )
    )
    assert "Yvonne" in status.text
    assert alert_messages(yvonne.user, ref) == [] and alert_messages(zeno.user, ref) == []
    # The deputy acts for the absent member like any recipient.
    await deputy.user.press("👀 Gesehen", standing_in).answer()
    await sender.user.wait_for(
        lambda m: ref in m.text and shows(m, "status.acknowledged", names="Dirk Deputy")
    )

    listing = await reply_to(coordinator.user, "/members police")
    assert shows(listing, "members.away_with_deputy", date=until, deputy=deputy.member_id), (
        listing.text
    )
    assert shows(listing, "members.away", date=until)

    reply = await reply_to(yvonne.user, "/back")
    assert shows(reply, "back.done")
    await expect(deputy.user, "deputy.ended")
    sender.user.send("/alert police HRO Rückruf zu Pseudonym Drossel")
    second = ref_in((await expect(sender.user, "alert.raised", recipients=2, after=reply)).text)
    await yvonne.user.wait_for(lambda m: second in m.text)
    assert alert_messages(deputy.user, second) == []


async def test_quiet_hours_send_normal_alerts_silently_and_urgent_ones_loudly(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    sleeper = await join(api, cora, "Nora Nacht", "police", "HRO")
    awake = await join(api, cora, "Tim Tag", "police", "HRO")
    now = datetime.now(ZoneInfo("Europe/Berlin"))
    window = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"
    reply = await reply_to(sleeper.user, f"/quiet {window}")
    assert shows(reply, "quiet.set", hours=window)
    assert shows(await reply_to(sleeper.user, "/quiet"), "quiet.current", hours=window)

    sender.user.send("/alert police HRO Bitte morgen Rückruf zu Pseudonym Fink")
    first = await expect(sender.user, "alert.raised", recipients=2)
    normal = ref_in(first.text)
    sender.user.send("/alert police HRO ! Sofort: Pseudonym Meise braucht Begleitung")
    urgent = ref_in((await expect(sender.user, "alert.raised", recipients=2, after=first)).text)
    flags = {}
    for person in (sleeper, awake):
        for ref in (normal, urgent):
            message = await person.user.wait_for(lambda m, r=ref: r in m.text)
            flags[(person.name, ref)] = message.disable_notification
    assert flags == {
        ("Nora Nacht", normal): True,
        ("Nora Nacht", urgent): False,
        ("Tim Tag", normal): False,
        ("Tim Tag", urgent): False,
    }
    # A follow-up to the normal alert is quiet for her as well.
    sender.user.send(f"/update {normal} Termin steht")
    follow_up = await expect(sleeper.user, "alert.follow_up", ref=normal)
    assert follow_up.disable_notification is True
    assert shows(await reply_to(sleeper.user, "/quiet off"), "quiet.off")
    sender.user.send(f"/update {normal} Termin verschoben")
    later = await sleeper.user.wait_for(lambda m: "verschoben" in m.text)
    assert later.disable_notification is False


async def test_a_further_region_confirmed_by_its_coordinator_brings_that_regions_alerts(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "police", "HRO")
    counsellor = await join(api, cora, "Bea Beratung", "victim_support", "LRO")
    coordinator = await join(api, cora, "Rita Region", "coordination", "HRO", role="coordinator")
    reply = await reply_to(counsellor.user, "/regions add HRO")
    assert shows(reply, "regions.requested", region="Rostock")
    request = await expect(coordinator.user, "regions.request", region="Rostock")
    assert "Bea Beratung" in request.text
    sender.user.send("/alert victim_support HRO Vor der Bestätigung")
    await expect(sender.user, "alert.raised_to_coordinators")
    confirm = request.callback_button("✅ Bestätigen")
    assert confirm is not None
    await coordinator.user.press(confirm, request).answer()
    await coordinator.user.wait_for(
        lambda m: m is request and shows(m, "regions.decided.confirmed", region="Rostock")
    )
    await expect(counsellor.user, "regions.decision.confirmed", region="Rostock")
    listing = await reply_to(counsellor.user, "/regions")
    assert shows(listing, "regions.confirmed", region="Rostock")
    sender.user.send("/alert victim_support HRO Schutzplatz für Pseudonym Lerche")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=1)).text)
    await counsellor.user.wait_for(lambda m: ref in m.text and "Lerche" in m.text)
    # A pressed button cannot decide twice.
    again = await coordinator.user.press_raw(confirm, request).answer()
    assert again.show_alert
