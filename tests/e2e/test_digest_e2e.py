"""Coming back and switching dialogs: a new dialog ends the open one with a note, and a member
back from an absence (by `/back` or when it runs out) gets a digest of the open alerts that went
to their deputy meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import CoraBot
from bot.clock import ManualClock
from bot.timing.dates import local_text
from localapi.server import LocalBotApi
from storage.models import Absence, Alert, Announcement, Delivery, DeliveryStatus
from tests.story import expect, join, ref_in, reply_to, said, settled, shows


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


def _day(clock: ManualClock, days: int = 0) -> str:
    return local_text(clock.now() + timedelta(days=days), "Europe/Berlin", "de").split(" ")[0]


async def test_starting_a_dialog_ends_the_open_one_with_a_note(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    police = await join(api, cora, "Paul Polizei", "police", "SN")
    coordinator.user.send("/alert")
    sectors = await expect(coordinator.user, "alert.ask_sectors")
    await coordinator.user.press("Jugendamt", sectors).answer()
    coordinator.user.press("Weiter ➡️", sectors)
    await expect(coordinator.user, "alert.ask_region")
    coordinator.user.press("Schwerin")
    await expect(coordinator.user, "alert.ask_urgency")
    coordinator.user.press("📣 Normal")
    waiting = await expect(coordinator.user, "alert.ask_text", max=3500)

    # The alert waits for its text; /announce ends it, says so, and starts the announcement.
    coordinator.user.send("/announce")
    note = await expect(coordinator.user, "dialog.ended_by_other", dialog="Fall-Alarm")
    assert note.text == "Die offene Eingabe „Fall-Alarm“ wurde beendet."
    await expect(coordinator.user, "announce.ask_target", after=waiting)
    # What follows belongs to the announcement, not to the alert that waited for a text.
    coordinator.user.send("police@SN")
    await expect(coordinator.user, "announce.ask_text", max=3500)
    coordinator.user.send("Neue Sprechzeiten der Koordinierungsstelle ab Montag")
    await expect(coordinator.user, "announce.ask_when")
    coordinator.user.press("Jetzt senden")
    await expect(coordinator.user, "announce.ask_read")
    coordinator.user.press("Ohne Lesebestätigung")
    preview = await expect(coordinator.user, "announce.preview", recipients=1)
    coordinator.user.press("📨 Senden", preview)
    await expect(coordinator.user, "announce.sent", recipients=1)
    await police.user.wait_for(lambda m: "Neue Sprechzeiten" in m.text)
    # Nothing of the ended alert was stored; its draft is gone, so `/cancel` finds nothing.
    async with cora.database.read_sessions() as session:
        assert (await session.scalars(select(Alert))).all() == []
        assert len((await session.scalars(select(Announcement))).all()) == 1
    # Whatever the announcement still sends her (its status) has come, so the next message is
    # the reply to her text.
    await settled(cora)
    reply = await reply_to(coordinator.user, "Noch ein Text")
    assert shows(reply, "text.unexpected")

    # In English, and for another pair of dialogs.
    english = await join(
        api, cora, "Erin English", "coordination", "MV", role="coordinator", language="en"
    )
    english.user.send("/announce")
    asked = await expect(english.user, "announce.ask_target", "en")
    english.user.send("/poll")
    note = await expect(english.user, "dialog.ended_by_other", "en", after=asked)
    assert note.text == "The open dialog “announcement” was ended."
    await expect(english.user, "poll.ask_title", "en", after=note)
    # Restarting the same dialog is not a clash: no note.
    english.user.send("/poll")
    again = await expect(english.user, "poll.ask_title", "en", after=note)
    assert not any(
        shows(m, "dialog.ended_by_other", "en")
        for m in english.user.messages
        if m.message_id > note.message_id
    ), again.text


async def test_back_lists_the_open_alerts_the_deputy_got_and_offers_to_take_them_over(
    api: LocalBotApi, cora: CoraBot, clock: ManualClock
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    yvonne = await join(api, cora, "Yvonne Urlaub", "police", "HRO")
    deputy = await join(api, cora, "Dirk Deputy", "police", "LRO")
    other = await join(api, cora, "Olga Ohne", "police", "HRO")
    sender.user.send("/alert police HRO Vorher gemeldet zu Pseudonym Ahorn")
    before = ref_in((await expect(sender.user, "alert.raised", recipients=2)).text)
    await yvonne.user.wait_for(lambda m: before in m.text)
    clock.advance(timedelta(minutes=1))
    tomorrow = _day(clock, 1)
    reply = await reply_to(yvonne.user, f"/away {tomorrow} #{deputy.member_id}")
    assert shows(reply, "away.set_with_deputy", date=tomorrow)

    raised = []
    for text in ("! Schutzplatz für Pseudonym Amsel", "Rückruf zu Pseudonym Birke", "Fall Ceder"):
        clock.advance(timedelta(minutes=7))
        last = sender.user.last
        sender.user.send(f"/alert police HRO {text}")
        raised.append(ref_in((await expect(sender.user, "alert.raised", after=last)).text))
    taken, untaken, closed = raised
    copy = await deputy.user.wait_for(lambda m: taken in m.text and m.buttons != [])
    await deputy.user.press("✋ Übernehme", copy).answer()
    sender.user.send(f"/close {closed}")
    await expect(sender.user, "alert.closed_by_you", ref=closed)

    clock.advance(timedelta(minutes=30))
    welcome = await reply_to(yvonne.user, "/back")
    assert shows(welcome, "back.done")
    assert shows(welcome, "digest.header", count=2)
    assert f"{taken} · Polizei@Rostock" in welcome.text
    assert "übernommen von Dirk Deputy" in welcome.text
    assert f"{untaken} · Polizei@Rostock" in welcome.text
    assert "noch nicht übernommen" in welcome.text
    assert closed not in welcome.text and before not in welcome.text
    async with cora.database.read_sessions() as session:
        alerts = {a.ref: a for a in (await session.scalars(select(Alert))).all()}
    for ref in (taken, untaken):  # raised time in CORA_TIMEZONE, not UTC
        shown = local_text(alerts[ref].created_at, "Europe/Berlin", "de")
        assert f"{ref} · Polizei@Rostock · {shown} ·" in welcome.text, welcome.text
        utc = alerts[ref].created_at.replace(tzinfo=UTC).strftime("%H:%M")
        assert f"{utc} ·" not in welcome.text
    # "Take over" only where nobody has: the untaken one.
    assert [label for row in welcome.buttons for label, _ in row] == [f"✋ Übernehme {untaken}"]
    answer = await yvonne.user.press(f"✋ Übernehme {untaken}", welcome).answer()
    assert answer.text == said("alert.taken_by_you", ref=untaken)[0]
    await sender.user.wait_for(
        lambda m: untaken in m.text and shows(m, "status.taken", name="Yvonne Urlaub")
    )
    # Back and in charge, she hears what follows.
    sender.user.send(f"/update {untaken} Termin steht")
    await expect(yvonne.user, "alert.follow_up", ref=untaken)

    other.user.send(f"/away {tomorrow}")
    await expect(other.user, "away.set", date=tomorrow)
    other.user.send("/back")
    back = await expect(other.user, "digest.none")
    assert (
        back.text.endswith("\n\nKeine offenen Fälle aus deiner Abwesenheit.") and not back.buttons
    )


async def test_an_absence_that_runs_out_sends_the_digest_through_the_outbox(
    api: LocalBotApi, cora: CoraBot, clock: ManualClock
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    yvonne = await join(api, cora, "Yvonne Urlaub", "police", "HRO", language="en")
    deputy = await join(api, cora, "Dirk Deputy", "police", "LRO")
    today = _day(clock)
    await reply_to(yvonne.user, f"/away {today} #{deputy.member_id}")
    async with cora.database.read_sessions() as session:
        absence = (await session.scalars(select(Absence))).one()
    key = f"absence:{absence.id}"
    assert cora.runtime.scheduler.has(key)  # its end is a job, rebuilt at start-up

    sender.user.send("/alert police HRO ! Schutzplatz für Pseudonym Amsel")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=1)).text)
    await deputy.user.wait_for(lambda m: ref in m.text)
    await cora.runtime.end_absences()  # not due yet: nothing happens
    assert not any(shows(m, "digest.absence_ended", "en") for m in yvonne.user.messages)

    clock.advance(absence.ends_at.replace(tzinfo=UTC) - clock.now() + timedelta(seconds=1))
    await cora.runtime.end_absences()
    digest = await expect(yvonne.user, "digest.absence_ended", "en")
    assert shows(digest, "digest.header", "en", count=1)
    assert f"{ref} · Police@Rostock" in digest.text and "not taken over yet" in digest.text
    assert [label for row in digest.buttons for label, _ in row] == [f"✋ Take over {ref}"]
    await expect(deputy.user, "deputy.ended")
    await cora.runtime.end_absences()  # once only
    async with cora.database.read_sessions() as session:
        rows = (
            await session.scalars(select(Delivery).where(Delivery.kind == "absence_digest"))
        ).all()
        ended = await session.get(Absence, absence.id)
    # One delivery, the one that arrived (its outcome may still be being recorded).
    assert [(r.member_id, r.subject_id) for r in rows] == [(yvonne.member_id, absence.id)]
    assert rows[0].status in (DeliveryStatus.SENDING, DeliveryStatus.SENT)
    assert ended is not None and ended.ended_at is not None
    # She is present again: the next alert comes to her, not to the deputy.
    last = sender.user.last
    sender.user.send("/alert police HRO Rückruf zu Pseudonym Birke")
    second = ref_in((await expect(sender.user, "alert.raised", recipients=1, after=last)).text)
    await yvonne.user.wait_for(lambda m: second in m.text)
