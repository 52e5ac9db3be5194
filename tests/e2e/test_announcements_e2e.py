"""Announcements and channels end to end: scheduled sending across a restart, read
confirmations and reminders, cancelling, the dialog, and the coordinators' channels."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.announcements import AnnouncementNotice
from bot.app import CoraBot, build_application
from bot.config import Settings
from localapi.chats import SimMessage
from localapi.server import LocalBotApi
from storage.models import (
    Announcement,
    AnnouncementStatus,
    AuditEvent,
    ChannelMember,
    Delivery,
)
from tests.story import Person, expect, join, reply_to, shows

BERLIN = ZoneInfo("Europe/Berlin")
ANNOUNCEMENT_ID = re.compile(r"(?:Ankündigung|Announcement|announcement) (\d+)")


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"schedule_check_seconds": 0.5}


def local(moment: datetime) -> str:
    return moment.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M:%S")


def announcement_id_in(message: SimMessage) -> int:
    match = ANNOUNCEMENT_ID.search(message.text)
    assert match, message.text
    return int(match.group(1))


async def until_past(moment: datetime) -> None:
    """Sleep until a little after `moment` (a time given to the bot to the second)."""
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.3)


def announcements(person: Person, marker: str) -> list[SimMessage]:
    return [m for m in person.user.messages if shows(m, "announcement.body") and marker in m.text]


async def test_a_scheduled_announcement_is_sent_after_a_restart(
    api: LocalBotApi, cora: CoraBot, settings: Settings
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    at = datetime.now(UTC) + timedelta(seconds=3)
    reply = await reply_to(
        coordinator.user,
        f"/announce police@HRO at {local(at)} Die Dienstbesprechung beginnt <heute> später",
    )
    assert shows(reply, "announce.scheduled", recipients=1)
    listing = await reply_to(coordinator.user, "/scheduled")
    assert shows(listing, "scheduled.header", count=1)
    await coordinator.user.wait_for(lambda m: shows(m, "scheduled.line") and "<heute>" in m.text)
    assert announcements(police, "Dienstbesprechung") == []

    await cora.stop()
    await until_past(at)  # the time passes while the bot is down
    restarted = build_application(settings)
    await restarted.start()
    try:
        received = await police.user.wait_for(lambda m: "Dienstbesprechung" in m.text)
        assert shows(received, "announcement.body") and "Dana Koordina" in received.text
        assert "beginnt <heute> später" in received.text  # member text stays text
        assert received.buttons == []  # no read confirmation asked for
        await coordinator.user.wait_for(
            lambda m: shows(m, "announcement.status.head") and "1/1" in m.text
        )
        async with restarted.database.read_sessions() as session:
            [row] = (await session.scalars(select(Announcement))).all()
        assert row.status == AnnouncementStatus.SENT and row.text_cipher is not None
        assert b"Dienstbesprechung" not in row.text_cipher
        assert announcements(youth, "Dienstbesprechung") == []
        reply = await reply_to(coordinator.user, "/scheduled")
        assert shows(reply, "scheduled.none")
    finally:
        await restarted.stop()
        await cora.start()  # the fixture stops it once more


async def test_read_confirmations_are_counted_and_the_others_reminded(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO", language="en")
    health = await join(api, cora, "Hugo Health", "health", "HRO")
    reply = await reply_to(
        coordinator.user,
        "/announce police,youth_welfare@HRO +gelesen Bitte die neue Leitlinie Hochrisiko lesen.",
    )
    assert shows(reply, "announce.sent", recipients=2)
    received = await police.user.wait_for(lambda m: "Leitlinie Hochrisiko" in m.text)
    assert received.buttons[0][0][0] == "✅ Gelesen"
    read_data = received.buttons[0][0][1]
    assert read_data is not None
    english = await youth.user.wait_for(lambda m: "Leitlinie Hochrisiko" in m.text)
    assert shows(english, "announcement.body", "en") and english.buttons[0][0][0] == "✅ Read"
    assert announcements(health, "Leitlinie") == []

    answer = await police.user.press("✅ Gelesen", received).answer()
    assert answer.text == "Danke, als gelesen bestätigt."
    await police.user.wait_for(lambda m: m is received and m.buttons == [])
    status = await coordinator.user.wait_for(
        lambda m: shows(m, "announcement.status.read", read=1, recipients=2), timeout=8
    )
    await coordinator.user.press("👥 Wer hat gelesen?", status).answer()
    readers = await expect(coordinator.user, "announcement.readers")
    assert "Gelesen: Paul Polizei" in readers.text
    assert "Noch nicht bestätigt: Jana Jugend" in readers.text

    answer = await coordinator.user.press("🔔 Erinnern (1)", status).answer()
    assert answer.text == "Erinnerung an 1 Person unterwegs."
    reminder = await expect(youth.user, "announcement.header.reminder", "en")
    assert "Leitlinie Hochrisiko" in reminder.text
    assert not any(shows(m, "announcement.header.reminder") for m in police.user.messages)
    await youth.user.press("✅ Read", reminder).answer()
    await coordinator.user.wait_for(
        lambda m: m is status and shows(m, "announcement.status.read", read=2, recipients=2),
        timeout=8,
    )
    # A confirmation is not for everyone: an outsider's forged press only explains.
    hello = await reply_to(health.user, "/help")
    forged = await health.user.press_raw(read_data, hello).answer()
    assert forged.show_alert
    async with cora.database.read_sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions.count("announcement.read") == 2
    assert actions.count("announcement.reminded") == 1


async def test_a_scheduled_announcement_can_be_cancelled(api: LocalBotApi, cora: CoraBot) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    at = datetime.now(UTC) + timedelta(seconds=4)
    reply = await reply_to(coordinator.user, f"/announce all at {local(at)} Sommerfest fällt aus")
    announcement_id = announcement_id_in(reply)
    coordinator.user.send("/scheduled")
    line = await expect(coordinator.user, "scheduled.line", id=announcement_id)
    await coordinator.user.press("🗑 Absagen", line).answer()
    await expect(coordinator.user, "announcement.cancelled", id=announcement_id)
    # The wait that makes "nothing is sent" mean something: past the announcement's due time,
    # and then the sweep that sends what is due (run here, so that the test does not wait for
    # the scheduler's next round). A cancelled announcement would have been handed to the
    # outbox by then: no delivery is recorded for it, so none can arrive later either.
    await until_past(at)
    assert await cora.services.announcements.send_due() == []
    async with cora.database.read_sessions() as session:
        row = await session.get(Announcement, announcement_id)
        queued = await session.scalars(
            select(Delivery.id).where(
                Delivery.kind == AnnouncementNotice.ANNOUNCEMENT,
                Delivery.subject_id == announcement_id,
            )
        )
        assert queued.all() == []
    assert row is not None and row.status == AnnouncementStatus.CANCELLED
    assert announcements(police, "Sommerfest") == []


async def test_the_dialog_previews_and_refuses_personal_data(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    police = await join(api, cora, "Paul Polizei", "police", "SN")
    coordinator.user.send("/announce")
    await expect(coordinator.user, "announce.ask_target")
    coordinator.user.send("xyzzy")
    reply = await expect(coordinator.user, "target.unknown", part="xyzzy")
    assert "Polizei, Justiz" in reply.text
    coordinator.user.send("police@SN")
    await expect(coordinator.user, "announce.ask_text", max=3500)
    coordinator.user.send("Rückfragen bitte an Frau Muster, Tel. 0385 1234567")
    refusal = await expect(coordinator.user, "alert.findings_blocking")
    assert "• Name: „Muster“ – besser: „Frau M.“" in refusal.text
    assert "• Telefonnummer: „0385 1234567“" in refusal.text
    coordinator.user.send("Neue Sprechzeiten der Koordinierungsstelle ab Montag")
    await expect(coordinator.user, "announce.ask_when")
    coordinator.user.send("01.01.2020 10:00")
    await expect(coordinator.user, "date.in_past", value="01.01.2020 10:00")
    coordinator.user.press("Jetzt senden")
    await expect(coordinator.user, "announce.ask_read")
    coordinator.user.press("Ohne Lesebestätigung")
    preview = await expect(coordinator.user, "announce.preview", recipients=1)
    assert announcements(police, "Sprechzeiten") == []
    coordinator.user.press("📨 Senden", preview)
    await expect(coordinator.user, "announce.sent", recipients=1)
    await police.user.wait_for(lambda m: "Neue Sprechzeiten" in m.text)


async def test_regional_coordinators_reach_their_region_only(
    api: LocalBotApi, cora: CoraBot
) -> None:
    regional = await join(api, cora, "Rita Region", "coordination", "HRO", role="coordinator")
    police_hro = await join(api, cora, "Paul Polizei", "police", "HRO")
    police_sn = await join(api, cora, "Sven Schwerin", "police", "SN")
    police_state = await join(api, cora, "Lena Land", "police", "MV")
    reply = await reply_to(regional.user, "/announce police@SN Das geht nicht")
    assert shows(reply, "error.outside_scope", region="SN")
    reply = await reply_to(regional.user, "/announce police Fortbildung im Mai")
    assert shows(reply, "announce.sent", recipients=2)  # Rostock and the statewide member
    await police_hro.user.wait_for(lambda m: "Fortbildung im Mai" in m.text)
    await police_state.user.wait_for(lambda m: "Fortbildung im Mai" in m.text)
    assert announcements(police_sn, "Fortbildung") == []
    reply = await reply_to(police_hro.user, "/announce police Hallo")
    assert shows(reply, "error.coordinators_only")


async def test_channels_membership_follows_rule_and_profile(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    reply = await reply_to(coordinator.user, "/newchannel Fallkonferenz Rostock | all | HRO | auto")
    assert shows(reply, "channel.created", ref="fallkonferenz-rostock")
    listing = await reply_to(youth.user, "/channels")
    assert "Fallkonferenz Rostock (automatisch)" in listing.text
    assert "Jugendamt (Bereich, automatisch)" in listing.text
    reply = await reply_to(youth.user, "/announce #fallkonferenz-rostock Hallo")
    assert shows(reply, "error.coordinators_only")

    reply = await reply_to(coordinator.user, "/newchannel Netzwerk Rostock | all | HRO")
    assert shows(reply, "channel.created", ref="netzwerk-rostock")
    listing = await reply_to(youth.user, "/channels")
    await youth.user.press("➕ Netzwerk Rostock beitreten", listing).answer()
    reply = await reply_to(coordinator.user, "/newchannel AG Täterarbeit | perpetrator_work | all")
    assert shows(reply, "channel.created", ref="ag-taeterarbeit")
    reply = await reply_to(coordinator.user, "/newchannel x | all | all")
    assert shows(reply, "channel.name_length", min=3, max=60)
    reply = await reply_to(
        coordinator.user, "/newchannel Frau Muster Tel. 0381 1234567 | all | all"
    )
    assert shows(reply, "channel.personal_data")
    reply = await reply_to(coordinator.user, "/newchannel Hilfe für Familie Nguyen | all | all")
    assert shows(reply, "channel.personal_data")
    assert "• Name: „Nguyen“ – besser: „Familie N.“" in reply.text
    reply = await reply_to(coordinator.user, "/newchannel Fall Linde Rostock | all | HRO")
    assert shows(reply, "channel.created", ref="fall-linde-rostock")
    reply = await reply_to(coordinator.user, "/newchannel Kanal ohne Regel")
    assert shows(reply, "channel.usage")

    # Jana is re-invited into another region: the Rostock channel no longer reaches her.
    await reply_to(coordinator.user, f"/revoke {youth.member_id}")
    invite = await reply_to(coordinator.user, "/invite youth_welfare SN")
    token = invite.text.split("start=")[1].split()[0]
    before = youth.user.last
    youth.user.send(f"/start {token}")
    await expect(youth.user, "join.ask_name", after=before)
    youth.user.send("Jana Jugend")
    await expect(youth.user, "join.ask_institution", after=before)
    youth.user.send("Jugendamt Schwerin")
    await expect(youth.user, "join.activated", name="Jana Jugend", after=before)
    # The coordinator hears that their link was used (before the next reply is read).
    await expect(coordinator.user, "invite.redeemed", after=invite)
    listing = await reply_to(youth.user, "/channels")
    assert "Fallkonferenz Rostock" not in listing.text and "Netzwerk Rostock" not in listing.text
    async with cora.database.read_sessions() as session:
        assert (await session.scalars(select(ChannelMember))).all() == []
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions.count("channel.joined") == 1 and actions.count("channel.member_removed") == 1
    reply = await reply_to(coordinator.user, "/announce #fallkonferenz-rostock Hallo Rostock")
    assert shows(reply, "target.nobody")

    reply = await reply_to(coordinator.user, "/archivechannel fallkonferenz-rostock")
    assert shows(reply, "channel.archived", name="Fallkonferenz Rostock")
    reply = await reply_to(coordinator.user, "/channel fallkonferenz-rostock")
    assert shows(reply, "channel.unknown")


class TestExactSchedule:
    """Without the safety-net sweep, the scheduler's own jobs fire at the stored times."""

    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {"schedule_check_seconds": 3600, "poll_reminders": "2"}

    async def test_announcements_and_poll_deadlines_fire_on_time(
        self, api: LocalBotApi, cora: CoraBot
    ) -> None:
        coordinator = await join(
            api, cora, "Dana Koordina", "coordination", "MV", role="coordinator"
        )
        police = await join(api, cora, "Paul Polizei", "police", "HRO")
        at = datetime.now(UTC) + timedelta(seconds=2)
        reply = await reply_to(coordinator.user, f"/announce police at {local(at)} Pünktlich")
        assert shows(reply, "announce.scheduled", recipients=1)
        received = await police.user.wait_for(lambda m: "Pünktlich" in m.text, timeout=6)
        assert datetime.fromtimestamp(received.date, UTC) >= at.replace(microsecond=0)

        # Margins for a busy machine: the command must arrive before its deadline, and before
        # the reminder's time (two seconds earlier) too.
        deadline = datetime.now(UTC) + timedelta(seconds=6)
        reply = await reply_to(
            coordinator.user, f"/poll police {local(deadline)} Kurzfristig | Ja | Nein"
        )
        assert shows(reply, "poll.created", count=1)
        await expect(police.user, "poll.ballot.reminder", timeout=8)
        await expect(coordinator.user, "poll.closed_notice.deadline", timeout=10)
