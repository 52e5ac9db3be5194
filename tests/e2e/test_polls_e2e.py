"""Meeting and decision polls end to end: real python-telegram-bot against the local Bot API."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import CoraBot
from bot.config import Settings
from bot.polls.model import PollNotice
from bot.runtime import KEEP_KNOWN
from localapi.chats import SimMessage
from localapi.server import LocalBotApi
from storage.models import (
    AnonymousVote,
    AnonymousVoter,
    AuditEvent,
    Delivery,
    Poll,
    PollBallot,
    PollVote,
)
from storage.uow import Effects
from tests.story import Person, expect, join, reply_to, said, settled, shows

BERLIN = ZoneInfo("Europe/Berlin")
POLL_ID = re.compile(r"(?:Umfrage|Terminumfrage|Poll|poll) (\d+)")
DEADLINE = 10.0  # seconds from creating the poll
REMINDER = 5.0  # seconds before the deadline


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"poll_reminders": str(REMINDER), "schedule_check_seconds": 0.5}


def local(moment: datetime, seconds: bool = False) -> str:
    return moment.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M" + (":%S" if seconds else ""))


def in_days(days: int, hour: int, minute: int = 0) -> datetime:
    day = (datetime.now(BERLIN) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def poll_id_in(message: SimMessage) -> int:
    match = POLL_ID.search(message.text)
    assert match, message.text
    return int(match.group(1))


def ballots(person: Person, poll_id: int) -> list[SimMessage]:
    return [
        m
        for m in person.user.messages
        if shows(m, "poll.ballot.header.date", id=poll_id)
        or shows(m, "poll.ballot.header.single", id=poll_id)
    ]


async def test_a_date_poll_to_two_sectors_is_answered_changed_reminded_closed_and_decided(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO", language="en")
    silent = await join(api, cora, "Sam Still", "police", "HRO")
    health = await join(api, cora, "Hugo Health", "health", "HRO")
    elsewhere = await join(api, cora, "Vera Greifswald", "police", "VG")
    first, second, third = in_days(3, 10), in_days(4, 14), in_days(5, 0)
    deadline = datetime.now(UTC) + timedelta(seconds=DEADLINE)
    coordinator.user.send(
        f"/poll police,youth_welfare@HRO {local(deadline, seconds=True)} Fallkonferenz Linde"
        f" | {local(first)} | {local(second)}-16:00 | {third.strftime('%d.%m.%Y')}"
    )
    created = await expect(coordinator.user, "poll.created", count=3)
    poll_id = poll_id_in(created)

    # Everyone in police or youth welfare in Rostock gets the poll, in their language.
    ballot = await expect(police.user, "poll.ballot.header.date", id=poll_id)
    assert "Fallkonferenz Linde" in ballot.text
    assert f"1. {first.strftime('%a')[:2]}" in ballot.text  # weekday in German ("Do., …")
    english = await expect(youth.user, "poll.ballot.header.date", "en", id=poll_id)
    assert first.strftime("%a") in english.text  # "Thu, …"
    await expect(silent.user, "poll.ballot.header.date", id=poll_id)
    assert ballots(health, poll_id) == [] and ballots(elsewhere, poll_id) == []

    # Paul answers by buttons and changes his mind; Jana by command and changes hers.
    await police.user.press("✅ 1", ballot).answer()
    await police.user.press("❌ 2", ballot).answer()
    await police.user.press("🤔 1", ballot).answer()
    reply = await reply_to(youth.user, f"/vote {poll_id} 1=yes 2=maybe 3=no")
    assert shows(reply, "vote.saved", "en", id=poll_id)
    reply = await reply_to(youth.user, f"/vote {poll_id} 2=nein")
    assert shows(reply, "vote.saved", "en", id=poll_id) and "2 ❌" in reply.text
    # Paul's own message shows his current answers (edited in place, coalesced).
    await police.user.wait_for(
        lambda m: m is ballot and "1. " in m.text and "→ 🤔" in m.text and "→ ❌" in m.text,
        timeout=8,
    )
    # The coordinator's overview counts live, with names in a named poll.
    overview = await coordinator.user.wait_for(
        lambda m: shows(m, "poll.results.answered", answered=2, participants=3), timeout=8
    )
    assert "Paul Polizei" in overview.text and "Sam Still" in overview.text  # missing: Sam

    # Only Sam, who has not answered, is reminded before the deadline.
    reminder = await expect(silent.user, "poll.ballot.reminder", id=poll_id, timeout=DEADLINE)
    assert reminder.buttons
    assert not any(shows(m, "poll.ballot.reminder", id=poll_id) for m in police.user.messages)

    # The poll closes itself at the deadline; the coordinator picks the final date.
    old_button = ballot.callback_button("✅ 2")
    assert old_button is not None
    closed = await expect(
        coordinator.user, "poll.closed_notice.deadline", id=poll_id, timeout=DEADLINE + 5
    )
    reply = await reply_to(police.user, f"/vote {poll_id} 1=ja")
    assert shows(reply, "poll.closed", poll=poll_id)
    # Paul's ballot loses its buttons and says so; an old button still only explains.
    await police.user.wait_for(
        lambda m: m is ballot and m.buttons == [] and shows(m, "poll.ballot.closed", id=poll_id),
        timeout=8,
    )
    answer = await police.user.press_raw(old_button, ballot).answer()
    assert answer.show_alert and answer.text == said("poll.closed", poll=poll_id)[0]
    await coordinator.user.press(closed.buttons[0][0][0], closed).answer()  # best first

    results = {}
    for person in (coordinator, police, youth, silent):
        results[person.name] = await person.user.wait_for(lambda m: m.document is not None)
    assert ballots(health, poll_id) == []
    message = results["Paul Polizei"]
    assert shows(message, "poll.result.date", id=poll_id)
    assert message.document is not None and message.document.data is not None
    assert message.document.file_name == f"termin-umfrage-{poll_id}.ics"
    import icalendar  # about 80 modules: not for every worker's collection

    calendar = icalendar.Calendar.from_ical(message.document.data)
    [event] = calendar.walk("VEVENT")
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Berlin"
    start = event.decoded("DTSTART")
    # Option 1 (yes, if need be) beats option 2 (no, no): the first date wins.
    assert start == first and str(start.tzinfo) == "Europe/Berlin"
    assert event.decoded("DTEND") == first + timedelta(hours=1)
    assert str(event["SUMMARY"]) == "Fallkonferenz Linde"
    english_result = results["Jana Jugend"]
    assert shows(english_result, "poll.result.date", "en", id=poll_id)


async def test_anonymous_results_never_reveal_who_answered_what(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    alice = await join(api, cora, "Alice Anonym", "police", "HRO")
    bob = await join(api, cora, "Bob Bedeckt", "police", "HRO")
    deadline = datetime.now(UTC) + timedelta(days=2)
    coordinator.user.send(
        f"/poll police@HRO {local(deadline)} anonym Welches Format für die Fortbildung?"
        " | Präsenz | Online"
    )
    poll_id = poll_id_in(await expect(coordinator.user, "poll.created", count=2))
    ballot = await expect(alice.user, "poll.ballot.header.single", id=poll_id)
    assert shows(ballot, "poll.anonymous_note")
    # Pressed once the ballot's message id is stored: a vote in the moment between Telegram's
    # answer and the outbox's record of it finds no message to refresh (a known gap).
    await settled(cora)
    await alice.user.press("1. Präsenz", ballot).answer()
    await expect(bob.user, "poll.ballot.header.single", id=poll_id)
    await reply_to(bob.user, f"/vote {poll_id} 2")
    reply = await reply_to(bob.user, f"/vote {poll_id} 1")  # changed: still one answer
    assert shows(reply, "vote.saved", id=poll_id)
    # Alice sees her own answer on her message, nobody else's.
    await alice.user.wait_for(lambda m: m is ballot and "☑️ 1. Präsenz" in str(m.buttons))

    for viewer in (coordinator, alice):
        results = await reply_to(viewer.user, f"/results {poll_id}")
        assert shows(results, "poll.results.answered", answered=2, participants=2)
        assert "Präsenz: 2 Stimmen" in results.text and "Online: 0 Stimmen" in results.text
        assert "Alice" not in results.text and "Bob" not in results.text
    overview = await coordinator.user.wait_for(
        lambda m: shows(m, "poll.results.answered", answered=2, participants=2) and bool(m.buttons)
    )
    assert "Alice" not in overview.text and "Bob" not in overview.text

    async with cora.database.read_sessions() as session:
        assert (await session.scalars(select(PollVote))).all() == []
        assert (await session.scalars(select(PollBallot))).all() == []
        votes = (await session.scalars(select(AnonymousVote))).all()
        voters = (await session.scalars(select(AnonymousVoter))).all()
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "poll.answered"))
        ).all()
    assert len(votes) == 2 and len(voters) == 2
    hashes = {v.ballot_hash for v in votes}
    assert hashes.isdisjoint({v.voter_hash for v in voters})  # the tables do not join
    for event in events:
        assert event.actor == "anonymous"
        assert str(alice.member_id) not in event.details and "member" not in event.details

    # Closing erases the poll's secret: the hashes can no longer be linked to anyone.
    reply = await reply_to(coordinator.user, f"/closepoll {poll_id}")
    assert shows(reply, "poll.closed_by_you", id=poll_id)
    async with cora.database.read_sessions() as session:
        poll = await session.get(Poll, poll_id)
    assert poll is not None and poll.voter_secret_cipher is None
    results = await reply_to(alice.user, f"/results {poll_id}")
    assert "Präsenz: 2 Stimmen" in results.text


async def test_a_member_outside_a_channels_rule_can_neither_see_nor_vote(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    reply = await reply_to(
        coordinator.user,
        "/newchannel AG Kinderschutz | child_protection,youth_welfare | all | opt-in",
    )
    assert shows(reply, "channel.created", name="AG Kinderschutz", ref="ag-kinderschutz")

    listing = await reply_to(youth.user, "/channels")
    assert "AG Kinderschutz" in listing.text
    await youth.user.press("➕ AG Kinderschutz beitreten", listing).answer()
    await youth.user.wait_for(
        lambda m: m is listing and "➖ AG Kinderschutz verlassen" in str(m.buttons)
    )
    listing = await reply_to(police.user, "/channels")
    assert "AG Kinderschutz" not in listing.text and listing.buttons == []
    reply = await reply_to(police.user, "/channel ag-kinderschutz")
    assert shows(reply, "channel.unknown", channel="ag-kinderschutz")
    details = await reply_to(youth.user, "/channel ag-kinderschutz")
    assert "Jana Jugend" in details.text and "Paul" not in details.text

    deadline = datetime.now(UTC) + timedelta(days=2)
    coordinator.user.send(
        f"/poll #ag-kinderschutz {local(deadline)} Nächstes Treffen | "
        f"{local(in_days(5, 9))} | {local(in_days(6, 9))}"
    )
    poll_id = poll_id_in(await expect(coordinator.user, "poll.created", count=1))
    ballot = await expect(youth.user, "poll.ballot.header.date", id=poll_id)
    assert ballots(police, poll_id) == []
    for text in (f"/vote {poll_id} 1=ja", f"/results {poll_id}"):
        reply = await reply_to(police.user, text)
        assert shows(reply, "poll.unknown", poll=poll_id)
    hello = await reply_to(police.user, "/help")
    forged = await police.user.press_raw(f"p:{poll_id}:1y", hello).answer()
    assert forged.show_alert and forged.text == said("poll.unknown", poll=poll_id)[0]

    # The rule changes: youth welfare is no longer admitted, so Jana is out at once.
    reply = await reply_to(
        coordinator.user, "/channelrule ag-kinderschutz | child_protection | all"
    )
    assert shows(reply, "channel.rule_changed", name="AG Kinderschutz", removed=1)
    answer = await youth.user.press("✅ 1", ballot).answer()
    assert answer.show_alert and answer.text == said("poll.unknown", poll=poll_id)[0]
    listing = await reply_to(youth.user, "/channels")
    assert "AG Kinderschutz" not in listing.text


async def test_bad_input_gets_a_clear_reply(api: LocalBotApi, cora: CoraBot) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    member = await join(api, cora, "Paul Polizei", "police", "HRO")
    deadline = local(datetime.now(UTC) + timedelta(days=1))
    dates = f"{local(in_days(3, 10))} | {local(in_days(4, 10))}"

    async def poll(text: str) -> SimMessage:
        return await reply_to(coordinator.user, f"/poll police@HRO {text}")

    reply = await poll(f"{deadline} {'x' * 5000} | A | B")
    assert shows(reply, "poll.title_length", min=3, max=200, length=5000)
    reply = await poll(f"01.01.2020 10:00 Termin | {dates}")
    assert shows(reply, "date.in_past", value="01.01.2020 10:00")
    reply = await poll(f"31.02.2027 10:00 Termin | {dates}")
    assert shows(reply, "date.malformed", value="31.02.2027 10:00")
    reply = await poll(f"morgen Termin | {dates}")
    assert shows(reply, "date.malformed", value="morgen")
    reply = await poll(f"{deadline} Termin | {local(in_days(3, 10))} | 32.13.2027 10:00")
    assert shows(reply, "date.malformed", value="32.13.2027 10:00")
    reply = await poll(f"{deadline} Zu viele | " + " | ".join(f"Option {n}" for n in range(21)))
    assert shows(reply, "poll.option_count", min=2, max=20, count=21)
    reply = await poll(f"{deadline} Nur eine | A")
    assert shows(reply, "poll.option_count", count=1)
    reply = await poll(f"{deadline} Termin ohne Optionen")
    assert shows(reply, "poll.usage")

    reply = await poll(f"{deadline} Wohin? | Rostock | Schwerin")
    poll_id = poll_id_in(reply)
    await expect(member.user, "poll.ballot.header.single", id=poll_id)
    for text, key, params in (
        ("/vote 999 1", "poll.unknown", {"poll": "999"}),
        ("/vote abc 1", "poll.unknown", {"poll": "abc"}),
        (f"/vote {poll_id} 0", "poll.option_range", {"option": 0, "max": 2}),
        (f"/vote {poll_id} 21", "poll.option_range", {"option": 21, "max": 2}),
        (f"/vote {poll_id} 1,2", "vote.single_choice", {}),
        (f"/vote {poll_id}", "vote.usage", {}),
        (f"/vote {poll_id} eins", "vote.usage", {}),
        ("/results", "poll.ref_expected", {}),
    ):
        reply = await reply_to(member.user, text)
        assert shows(reply, key, **params), (text, reply.text)
    reply = await reply_to(member.user, "/poll police@HRO")
    assert shows(reply, "error.coordinators_only")


async def test_the_poll_dialog_creates_a_multiple_choice_poll(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    member = await join(api, cora, "Paul Polizei", "police", "SN")
    coordinator.user.send("/poll")
    await expect(coordinator.user, "poll.ask_title", max=200)
    coordinator.user.send("Themen für den Fachtag")
    await expect(coordinator.user, "poll.ask_target")
    coordinator.user.send("police@SN")
    await expect(coordinator.user, "poll.ask_kind")
    coordinator.user.press("☑️ Mehrere Antworten")
    await expect(coordinator.user, "poll.ask_options", min=2, max=20)
    coordinator.user.send("Hochrisikomanagement\nDigitale Gewalt\nKinderschutz")
    await expect(coordinator.user, "poll.ask_deadline")
    coordinator.user.send("31.02.2027")
    await expect(coordinator.user, "date.malformed", value="31.02.2027")
    coordinator.user.send(local(datetime.now(UTC) + timedelta(days=3)).split()[0])
    await expect(coordinator.user, "poll.ask_anonymity")
    coordinator.user.press("👤 Namentlich")
    preview = await expect(coordinator.user, "poll.preview")
    assert "3. Kinderschutz" in preview.text
    assert ballots(member, 1) == []
    coordinator.user.press("📨 Senden", preview)
    poll_id = poll_id_in(await expect(coordinator.user, "poll.created", count=1))
    ballot = await member.user.wait_for(
        lambda m: shows(m, "poll.ballot.header.multiple", id=poll_id)
    )
    await member.user.press("1. Hochrisikomanagement", ballot).answer()
    await member.user.press("3. Kinderschutz", ballot).answer()
    await member.user.press(f"p:{poll_id}:c1", ballot).answer()  # and off again
    await member.user.wait_for(lambda m: m is ballot and "☑️ 3. Kinderschutz" in str(m.buttons))
    reply = await reply_to(member.user, "/polls")
    assert shows(reply, "polls.your_answer", answers="3 ✅")


def decision_offers(person: Person, poll_id: int) -> list[SimMessage]:
    """The person's messages that offer the poll's result to choose (its "pick" buttons)."""
    return [
        m
        for m in person.user.messages
        if any((data or "").startswith(f"p:{poll_id}:pick") for row in m.buttons for _, data in row)
    ]


async def test_closepoll_offers_the_choice_of_the_result_once(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    deadline = local(datetime.now(UTC) + timedelta(days=2))
    coordinator.user.send(f"/poll police@HRO {deadline} Fallkonferenz | Präsenz | Online")
    poll_id = poll_id_in(await expect(coordinator.user, "poll.created", count=1))
    await expect(police.user, "poll.ballot.header.single", id=poll_id)
    overview = await coordinator.user.wait_for(
        lambda m: shows(m, "poll.results.answered", answered=0, participants=1) and bool(m.buttons)
    )

    reply = await reply_to(coordinator.user, f"/closepoll {poll_id}")
    assert shows(reply, "poll.closed_by_you", id=poll_id)
    notice = await expect(coordinator.user, "poll.closed_notice.early", id=poll_id)
    await coordinator.user.wait_for(lambda m: m is overview and shows(m, "poll.state.closed"))
    # Only the notice offers the choice; the overview and the reply do not repeat it.
    assert decision_offers(coordinator, poll_id) == [notice]
    assert not overview.buttons
    assert "Ergebnis" not in reply.text

    await coordinator.user.press(notice.buttons[0][0][0], notice).answer()
    await expect(coordinator.user, "poll.result.choice", id=poll_id)
    assert decision_offers(coordinator, poll_id) == []


async def test_vote_hints_fit_the_poll_and_a_partial_vote_says_what_it_kept(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO", language="en")
    deadline = local(datetime.now(UTC) + timedelta(days=2))

    # A date poll with two dates: the hint names exactly those two, in the reader's language.
    coordinator.user.send(
        f"/poll police,youth_welfare@HRO {deadline} Fallkonferenz"
        f" | {local(in_days(3, 10))} | {local(in_days(4, 10))}"
    )
    dates = poll_id_in(await expect(coordinator.user, "poll.created", count=2))
    ballot = await expect(police.user, "poll.ballot.header.date", id=dates)
    assert f"/vote {dates} 1=ja 2=vielleicht" in ballot.text
    assert "3=" not in ballot.text
    english = await expect(youth.user, "poll.ballot.header.date", "en", id=dates)
    assert f"/vote {dates} 1=yes 2=maybe" in english.text and "3=" not in english.text
    wrong = await reply_to(police.user, f"/vote {dates} 2")
    assert shows(wrong, "vote.date_usage", id=dates, example="1=ja 2=vielleicht")

    # A partial /vote changes the date named and says that the other one keeps its answer.
    reply = await reply_to(police.user, f"/vote {dates} 1=ja 2=nein")
    assert shows(reply, "vote.saved", id=dates, answers="1 ✅, 2 ❌")
    assert not shows(reply, "vote.kept", answers="")
    assert "unverändert" not in reply.text  # nothing kept when every date is named
    reply = await reply_to(police.user, f"/vote {dates} 1=vielleicht")
    assert shows(reply, "vote.saved", id=dates, answers="1 🤔, 2 ❌")
    assert shows(reply, "vote.kept", answers="2 ❌")
    reply = await reply_to(youth.user, f"/vote {dates} 2=yes")
    assert shows(reply, "vote.saved", "en", id=dates, answers="2 ✅")
    assert "kept" not in reply.text  # no earlier answer to keep

    # Choice polls: the example is an option the poll has.
    # (The reply that names the new poll, not whatever comes next: the first poll's
    # overview may arrive in between.)
    before = coordinator.user.last
    coordinator.user.send(f"/poll police@HRO {deadline} Ort | Präsenz | Online | Hybrid")
    single = poll_id_in(await expect(coordinator.user, "poll.created", count=1, after=before))
    ballot = await expect(police.user, "poll.ballot.header.single", id=single)
    assert f"/vote {single} 3" in ballot.text
    before = coordinator.user.last
    coordinator.user.send(f"/poll police@HRO {deadline} mehrfach Themen | Akten | Termine")
    multiple = poll_id_in(await expect(coordinator.user, "poll.created", count=1, after=before))
    assert multiple != single
    ballot = await expect(police.user, "poll.ballot.header.multiple", id=multiple)
    assert f"/vote {multiple} 1,2" in ballot.text
    reply = await reply_to(police.user, f"/vote {multiple} 1,2")
    assert shows(reply, "vote.saved", id=multiple)


@pytest.mark.parametrize(
    "setting_overrides",
    [{"live_message_interval": Settings.model_fields["live_message_interval"].default}],
)
async def test_a_burst_of_answers_edits_each_live_message_at_most_once_per_interval(
    api: LocalBotApi, cora: CoraBot
) -> None:
    """At the default interval (Telegram allows about one edit per chat and second, and
    answers quick edits of one message with 429): five answers in a row change the voter's
    own message and the creator's overview, and neither is edited more than once per
    interval; the last edit shows the last answer."""
    interval = cora.settings.live_message_interval
    assert interval == 3.0
    kira = await join(api, cora, "Kira Kreis", "coordination", "HRO", role="coordinator")
    paul = await join(api, cora, "Paul Polizei", "police", "HRO")
    deadline = local(datetime.now(UTC) + timedelta(days=2))
    reply = await reply_to(kira.user, f"/poll police@HRO {deadline} Wohin? | Rostock | Schwerin")
    poll_id = poll_id_in(reply)
    ballot = await expect(paul.user, "poll.ballot.header.single", id=poll_id)
    await kira.user.wait_for(
        lambda m: shows(m, "poll.results.answered", answered=0, participants=1)
    )
    await cora.runtime.live.settled()

    mark = len(api.calls)
    for option in ("1. Rostock", "2. Schwerin", "1. Rostock", "2. Schwerin", "1. Rostock"):
        # The label is "☑️ 1. Rostock" once an edit has shown it chosen.
        label = next(b[0] for row in ballot.buttons for b in row if b[0].endswith(option))
        await paul.user.press(label, ballot).answer()
    await paul.user.wait_for(lambda m: m is ballot and "☑️ 1. Rostock" in str(m.buttons))
    await cora.runtime.live.settled()

    edits: dict[tuple[object, object], list[float]] = {}
    for call in api.calls[mark:]:
        if call.method.startswith("editMessage") and call.ok:
            where = (call.params.get("chat_id"), call.params.get("message_id"))
            edits.setdefault(where, []).append(call.time)
    chats = {str(chat) for chat, _ in edits}
    assert chats == {str(paul.user.id), str(kira.user.id)}  # both were kept up to date
    for times in edits.values():
        assert len(times) <= 2  # five answers within a fraction of the interval
        gaps = [later - earlier for earlier, later in pairwise(times)]
        assert all(gap >= interval - 0.01 for gap in gaps), gaps


async def test_a_press_before_the_ballot_is_recorded_as_sent_still_shows_the_answer(
    api: LocalBotApi, cora: CoraBot
) -> None:
    """The outbox records a send once Telegram has answered it. A person who presses a button
    of their ballot before that (the answer is late here) still sees their choice: the
    message pressed is refreshed, since the ballot's recording changes nothing to show."""
    kira = await join(api, cora, "Kira Kreis", "coordination", "HRO", role="coordinator")
    paul = await join(api, cora, "Paul Polizei", "police", "HRO")
    await settled(cora)
    api.faults.timeout_delay = 2.0  # within the bot's read timeout: a late answer, not a loss
    api.faults.inject("sendMessage", kind="timeout", chat_id=paul.user.id)
    deadline = local(datetime.now(UTC) + timedelta(days=2))
    reply = await reply_to(kira.user, f"/poll police@HRO {deadline} Wohin? | Rostock | Schwerin")
    poll_id = poll_id_in(reply)
    ballot = await expect(paul.user, "poll.ballot.header.single", id=poll_id)

    async def recorded() -> int | None:
        async with cora.database.read_sessions() as session:
            return await session.scalar(
                select(Delivery.telegram_message_id).where(
                    Delivery.member_id == paul.member_id, Delivery.kind == PollNotice.BALLOT
                )
            )

    assert await recorded() is None  # the press below comes before the bot knows the message
    answer = await paul.user.press("1. Rostock", ballot).answer()
    assert not answer.show_alert

    await paul.user.wait_for(lambda m: m is ballot and "☑️ 1. Rostock" in str(m.buttons))
    async with asyncio.timeout(10):
        while await recorded() is None:
            await asyncio.sleep(0.05)
    assert await recorded() == ballot.message_id  # the late answer is recorded as ever
    async with cora.database.read_sessions() as session:
        votes = (await session.scalars(select(PollVote).where(PollVote.poll_id == poll_id))).all()
    assert [v.member_id for v in votes] == [paul.member_id]
    shown = [m for m in paul.user.messages if shows(m, "poll.ballot.header.single", id=poll_id)]
    assert shown == [ballot]  # sent once: the late answer was not taken for a lost one


async def test_a_revoked_members_next_press_is_refused_at_once(
    api: LocalBotApi, cora: CoraBot
) -> None:
    """The access gate keeps its read of a person (on SQLite); a revocation drops it, so the
    very next press meets the gate's refusal and no vote is stored."""
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    rudi = await join(api, cora, "Rudi Rasch", "police", "HRO")
    deadline = datetime.now(UTC) + timedelta(days=2)
    coordinator.user.send(f"/poll police@HRO {local(deadline)} Wer kommt zur Übung? | Ich | Später")
    poll_id = poll_id_in(await expect(coordinator.user, "poll.created", count=1))
    ballot = await expect(rudi.user, "poll.ballot.header.single", id=poll_id)
    await settled(cora)
    first = await rudi.user.press("1. Ich", ballot).answer()  # the gate now knows him
    assert not first.show_alert
    coordinator.user.send(f"/revoke {rudi.member_id}")
    await expect(coordinator.user, "decision.revoke.done")
    refused = await rudi.user.press("2. Später", ballot).answer()
    assert refused.show_alert and refused.text == said("access.revoked")[0]
    async with cora.database.read_sessions() as session:
        votes = (await session.scalars(select(PollVote).where(PollVote.poll_id == poll_id))).all()
    assert [v.member_id for v in votes] == [rudi.member_id]  # only the vote before revocation


async def test_refreshes_that_fall_behind_keep_a_bounded_number_of_ballots(
    api: LocalBotApi, cora: CoraBot
) -> None:
    """In a burst of presses the ballot refreshes fall behind the votes; the runtime keeps at
    most KEEP_KNOWN of the ballots the votes handed over (several kB each), and a ballot it did
    not keep is read for its refresh: the voter's message shows their answer."""
    kira = await join(api, cora, "Kira Kreis", "coordination", "HRO", role="coordinator")
    paul = await join(api, cora, "Paul Polizei", "police", "HRO")
    deadline = local(datetime.now(UTC) + timedelta(days=2))
    reply = await reply_to(kira.user, f"/poll police@HRO {deadline} Wohin? | Rostock | Schwerin")
    poll_id = poll_id_in(reply)
    ballot = await expect(paul.user, "poll.ballot.header.single", id=poll_id)
    await cora.runtime.live.settled()

    # As many handed-over ballots waiting for their refresh as a burst leaves behind (for
    # people who are not members: their refresh shows nothing).
    waiting = Effects()
    for member_id in range(10_000_000, 10_000_000 + KEEP_KNOWN + 100):
        waiting.touch_with(("ballot", poll_id, member_id), object())
    cora.runtime.apply(waiting)
    assert len(cora.runtime._known) == KEEP_KNOWN

    label = next(b[0] for row in ballot.buttons for b in row if b[0].endswith("2. Schwerin"))
    await paul.user.press(label, ballot).answer()
    # After the 612 refreshes ahead of it, one after the other (a read each; seconds on
    # PostgreSQL). A bound for a failure, not a speed figure: with four pytest workers on two
    # cores, each read also waits for the fake Bot API in this test's own event loop, and 60 s
    # were once not enough.
    await paul.user.wait_for(
        lambda m: m is ballot and "☑️ 2. Schwerin" in str(m.buttons), timeout=110
    )
    await cora.runtime.live.settled()
    assert not cora.runtime._known
