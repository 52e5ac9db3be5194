"""A pressed button leaves a trace on the member's own copy (✓ Gesehen 10:42, ✓ Übernommen,
✓ Gelesen), and dead buttons go: on closed alerts, on closed polls, on access requests another
coordinator already decided. Presses on an old button still only get the polite refusal."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import CoraBot
from bot.membership import REQUEST_NOTICE
from bot.polls import PollNotice
from localapi.chats import SimMessage
from localapi.people import SimUser
from localapi.server import LocalBotApi
from storage.models import Alert, AlertRecipient, AnnouncementRecipient, Delivery, Member
from tests.story import Person, expect, join, ref_in, reply_to, said, settled, shows

BERLIN = ZoneInfo("Europe/Berlin")
NUMBER = re.compile(r"Umfrage (\d+)")
LIVE = 10.0  # seconds: a live edit waits up to 3 s behind the last one of its key


def clock(moment: datetime | None) -> str:
    """A time of day as the member reads it: in CORA_TIMEZONE (Europe/Berlin by default)."""
    assert moment is not None
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(BERLIN).strftime("%H:%M")


def labels(message: SimMessage) -> list[str]:
    return [label for row in message.buttons for label, _ in row]


async def recipient_row(cora: CoraBot, ref: str, person: Person) -> AlertRecipient:
    async with cora.database.read_sessions() as session:
        alert = (await session.scalars(select(Alert).where(Alert.ref == ref))).one()
        row = await session.get(AlertRecipient, (alert.id, person.member_id))
        assert row is not None
        return row


async def raise_alert(sender: Person, text: str, recipients: int) -> str:
    sender.user.send(f"/alert police HRO ! {text}")
    return ref_in((await expect(sender.user, "alert.raised", recipients=recipients)).text)


async def test_seen_and_taken_over_show_on_the_members_own_copy(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sara = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    paul = await join(api, cora, "Paul Polizei", "police", "HRO")
    erin = await join(api, cora, "Erin English", "police", "HRO", language="en")
    ref = await raise_alert(sara, "Pseudonym Linde braucht Begleitung", 2)
    copy = await paul.user.wait_for(lambda m: ref in m.text and bool(m.buttons))
    english = await erin.user.wait_for(lambda m: ref in m.text and bool(m.buttons))

    await paul.user.press("👀 Gesehen", copy).answer()
    seen = (await recipient_row(cora, ref, paul)).acknowledged_at
    trace = said("trace.seen", time=clock(seen))[0]
    await paul.user.wait_for(lambda m: m is copy and trace in m.text, LIVE)
    assert labels(copy) == ["✋ Übernehme"]  # "Seen" is done, taking over still makes sense
    assert "Pseudonym Linde braucht Begleitung" in copy.text  # the alert itself stays

    await paul.user.press("✋ Übernehme", copy).answer()
    async with cora.database.read_sessions() as session:
        alert = (await session.scalars(select(Alert).where(Alert.ref == ref))).one()
    taken = said("trace.taken", time=clock(alert.taken_at))[0]
    await paul.user.wait_for(lambda m: m is copy and taken in m.text and m.buttons == [], LIVE)

    # In the reader's language; the other recipient's copy shows nothing of Paul's presses.
    await erin.user.press("👀 Seen", english).answer()
    seen = (await recipient_row(cora, ref, erin)).acknowledged_at
    trace = said("trace.seen", "en", time=clock(seen))[0]
    await erin.user.wait_for(lambda m: m is english and trace in m.text, LIVE)
    assert "✓ Gesehen" not in english.text and "✓ Übernommen" not in english.text
    # Paul had taken it over already: nothing is left to press on Erin's copy.
    assert english.buttons == []


async def test_a_closed_alert_loses_its_buttons_on_every_copy(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sara = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    paul = await join(api, cora, "Paul Polizei", "police", "HRO")
    petra = await join(api, cora, "Petra Polizei", "police", "HRO")
    rudi = await join(api, cora, "Rudi Revoked", "police", "HRO")
    ref = await raise_alert(sara, "Bitte um Rückruf zu Fall Eiche", 3)
    copies = {
        person.name: await person.user.wait_for(lambda m: ref in m.text and bool(m.buttons))
        for person in (paul, petra, rudi)
    }
    await paul.user.press("👀 Gesehen", copies[paul.name]).answer()
    await paul.user.wait_for(lambda m: m is copies[paul.name] and len(labels(m)) == 1, LIVE)
    take = copies[petra.name].buttons[0][1][1]
    assert take is not None
    await settled(cora)
    rudi.user.send("/leave")
    confirm = await expect(rudi.user, "leave.confirm")
    await rudi.user.press(said("button.erase_confirm")[0], confirm).answer()
    await rudi.user.wait_for(lambda m: m is confirm and shows(m, "leave.done"))
    await settled(cora)
    mark, shown = len(api.calls), (copies[rudi.name].text, copies[rudi.name].edits)

    reply = await reply_to(sara.user, f"/close {ref}")
    assert shows(reply, "alert.closed_by_you", ref=ref)
    async with cora.database.read_sessions() as session:
        alert = (await session.scalars(select(Alert).where(Alert.ref == ref))).one()
    closed = said("trace.closed", time=clock(alert.closed_at))[0]
    for person in (paul, petra):
        await person.user.wait_for(
            lambda m, p=person: m is copies[p.name] and closed in m.text, LIVE
        )
        assert copies[person.name].buttons == []
    seen = (await recipient_row(cora, ref, paul)).acknowledged_at
    assert said("trace.seen", time=clock(seen))[0] in copies[paul.name].text
    assert "✓ Gesehen" not in copies[petra.name].text

    # An old button still only explains; a former member's copy is not touched.
    refusal = await petra.user.press_raw(take, copies[petra.name]).answer()
    assert refusal.show_alert and refusal.text == said("alert.closed", ref=ref)[0]
    await settled(cora)
    rudi_calls = [
        c.method for c in api.calls[mark:] if str(c.params.get("chat_id")) == str(rudi.user.id)
    ]
    assert rudi_calls == []
    assert (copies[rudi.name].text, copies[rudi.name].edits) == shown


async def test_a_read_announcement_says_so_instead_of_its_button(
    api: LocalBotApi, cora: CoraBot
) -> None:
    kira = await join(api, cora, "Kira Kreis", "coordination", "HRO", role="coordinator")
    paul = await join(api, cora, "Paul Polizei", "police", "HRO")
    reply = await reply_to(kira.user, "/announce police@HRO +gelesen Bitte die Leitlinie lesen.")
    assert shows(reply, "announce.sent", recipients=1)
    received = await paul.user.wait_for(lambda m: "Leitlinie" in m.text and bool(m.buttons))

    answer = await paul.user.press("✅ Gelesen", received).answer()
    assert answer.text == said("announcement.read_thanks")[0]
    async with cora.database.read_sessions() as session:
        row = (
            await session.scalars(
                select(AnnouncementRecipient).where(
                    AnnouncementRecipient.member_id == paul.member_id
                )
            )
        ).one()
    trace = said("trace.read", time=clock(row.read_at))[0]
    await paul.user.wait_for(lambda m: m is received and trace in m.text and m.buttons == [], LIVE)
    assert "Bitte die Leitlinie lesen." in received.text


async def test_an_alert_copy_still_being_sent_when_the_alert_closes_loses_its_buttons(
    api: LocalBotApi, cora: CoraBot
) -> None:
    """Telegram answers Paul's copy late, and Sara closes the alert before that: once his copy
    is recorded as sent, it shows the end too."""
    sara = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    paul = await join(api, cora, "Paul Polizei", "police", "HRO")
    await settled(cora)
    api.faults.timeout_delay = 3.0  # within the bot's read timeout: a late answer, not a loss
    api.faults.inject("sendMessage", kind="timeout", chat_id=paul.user.id)
    ref = await raise_alert(sara, "Pseudonym Birke braucht Begleitung", 1)
    copy = await paul.user.wait_for(lambda m: ref in m.text and bool(m.buttons))

    reply = await reply_to(sara.user, f"/close {ref}")
    assert shows(reply, "alert.closed_by_you", ref=ref)
    async with cora.database.read_sessions() as session:
        alert = (await session.scalars(select(Alert).where(Alert.ref == ref))).one()
        recorded = await session.scalar(
            select(Delivery.telegram_message_id).where(
                Delivery.alert_id == alert.id, Delivery.member_id == paul.member_id
            )
        )
    assert recorded is None  # the alert closed first
    closed = said("trace.closed", time=clock(alert.closed_at))[0]
    await paul.user.wait_for(lambda m: m is copy and closed in m.text, LIVE)
    assert copy.buttons == []


async def test_a_closed_polls_ballots_lose_their_buttons(api: LocalBotApi, cora: CoraBot) -> None:
    kira = await join(api, cora, "Kira Kreis", "coordination", "HRO", role="coordinator")
    paul = await join(api, cora, "Paul Polizei", "police", "HRO")
    petra = await join(api, cora, "Petra Polizei", "police", "HRO")
    deadline = (datetime.now(UTC) + timedelta(days=2)).astimezone(BERLIN)
    reply = await reply_to(
        kira.user, f"/poll police@HRO {deadline:%d.%m.%Y %H:%M} Wohin? | Rostock | Schwerin"
    )
    poll_id = int(NUMBER.search(reply.text).group(1))  # type: ignore[union-attr]
    ballots = {
        person.name: await expect(person.user, "poll.ballot.header.single", id=poll_id)
        for person in (paul, petra)
    }
    await paul.user.press("1. Rostock", ballots[paul.name]).answer()
    await paul.user.wait_for(
        lambda m: m is ballots[paul.name] and "☑️ 1. Rostock" in str(m.buttons), LIVE
    )
    old = ballots[petra.name].buttons[1][0][1]
    assert old is not None

    reply = await reply_to(kira.user, f"/closepoll {poll_id}")
    assert shows(reply, "poll.closed_by_you", id=poll_id)
    closed = said("poll.ballot.closed", id=poll_id)[0]
    for person in (paul, petra):
        await person.user.wait_for(
            lambda m, p=person: m is ballots[p.name] and closed in m.text and m.buttons == [],
            LIVE,
        )
    assert "→ ✅" in ballots[paul.name].text  # Paul still sees his answer

    refusal = await petra.user.press_raw(old, ballots[petra.name]).answer()
    assert refusal.show_alert and refusal.text == said("poll.closed", poll=poll_id)[0]


async def test_a_ballot_still_being_sent_when_the_poll_closes_loses_its_buttons(
    api: LocalBotApi, cora: CoraBot
) -> None:
    """Telegram answers Petra's ballot late, and the poll closes before that: once her ballot
    is recorded as sent, it is refreshed as closed too."""
    kira = await join(api, cora, "Kira Kreis", "coordination", "HRO", role="coordinator")
    petra = await join(api, cora, "Petra Polizei", "police", "HRO")
    await settled(cora)
    api.faults.timeout_delay = 3.0  # within the bot's read timeout: a late answer, not a loss
    api.faults.inject("sendMessage", kind="timeout", chat_id=petra.user.id)
    deadline = (datetime.now(UTC) + timedelta(days=2)).astimezone(BERLIN)
    reply = await reply_to(
        kira.user, f"/poll police@HRO {deadline:%d.%m.%Y %H:%M} Wohin? | Rostock | Schwerin"
    )
    poll_id = int(NUMBER.search(reply.text).group(1))  # type: ignore[union-attr]
    ballot = await expect(petra.user, "poll.ballot.header.single", id=poll_id)
    assert ballot.buttons

    async def petras_ballot_recorded() -> bool:
        async with cora.database.read_sessions() as session:
            return (
                await session.scalar(
                    select(Delivery.telegram_message_id).where(
                        Delivery.member_id == petra.member_id, Delivery.kind == PollNotice.BALLOT
                    )
                )
            ) is not None

    # Kira's overview of the poll is a message of its own, which can still be on its way (behind
    # Petra's late ballot): the reply is waited for by what it says, not as her next message.
    kira.user.send(f"/closepoll {poll_id}")
    await expect(kira.user, "poll.closed_by_you", id=poll_id)
    assert not await petras_ballot_recorded()  # the poll closed first
    closed = said("poll.ballot.closed", id=poll_id)[0]
    await petra.user.wait_for(lambda m: m is ballot and closed in m.text, LIVE)
    assert ballot.buttons == []
    assert await petras_ballot_recorded()


async def apply_for_access(applicant: SimUser) -> None:
    """Robin Beispiel of the Frauenhaus Rostock asks to join: the coordinators get a notice."""
    applicant.send("/start")
    await expect(applicant, "join.ask_sector")
    applicant.press("Unterstützungs- und Schutzangebote")
    await expect(applicant, "join.ask_region")
    applicant.press("Rostock")
    await expect(applicant, "join.ask_institution")
    applicant.send("Frauenhaus Rostock")
    await expect(applicant, "join.ask_name")
    applicant.send("Robin Beispiel")
    await expect(applicant, "join.submitted")


async def robin(cora: CoraBot) -> Member:
    async with cora.database.read_sessions() as session:
        return (
            await session.scalars(select(Member).where(Member.display_name == "Robin Beispiel"))
        ).one()


def approved_trace(applicant: Member, decider: str) -> str:
    """What the other coordinators' notices say once the request is approved."""
    at = applicant.status_changed_at.replace(tzinfo=UTC).astimezone(BERLIN)
    return said("trace.request.approved", name=decider, time=f"{at:%d.%m.%Y %H:%M}")[0]


async def test_a_request_another_coordinator_decided_says_who_and_how(
    api: LocalBotApi, cora: CoraBot
) -> None:
    dana = await join(api, cora, "Dana Koordina", "coordination", "HRO", role="coordinator")
    kira = await join(api, cora, "Kira Kreis", "coordination", "HRO", role="coordinator")
    erin = await join(
        api, cora, "Erin English", "coordination", "MV", role="coordinator", language="en"
    )
    await apply_for_access(api.user(first_name="Robin"))
    notices = {
        person.name: await person.user.wait_for(lambda m: "Robin Beispiel" in m.text)
        for person in (dana, kira, erin)
    }
    old = notices[kira.name].buttons[0][0][1]
    assert old is not None
    await settled(cora)  # a decision that comes sooner: the next test

    await dana.user.press("✅ Aufnehmen", notices[dana.name]).answer()
    await dana.user.wait_for(
        lambda m: m is notices[dana.name] and shows(m, "decision.approve.done")
    )
    applicant = await robin(cora)
    trace = approved_trace(applicant, "Dana Koordina")
    await kira.user.wait_for(lambda m: m is notices[kira.name] and trace in m.text, LIVE)
    assert notices[kira.name].buttons == [] and "Frauenhaus Rostock" in notices[kira.name].text
    await erin.user.wait_for(
        lambda m: m is notices[erin.name] and "✓ Approved by Dana Koordina" in m.text, LIVE
    )
    assert notices[erin.name].buttons == []
    await settled(cora)
    # The decider's own notice shows the decision, not a second trace of it.
    assert shows(notices[dana.name], "decision.approve.done") and "✓" not in notices[dana.name].text

    refusal = await kira.user.press_raw(old, notices[kira.name]).answer()
    assert refusal.show_alert
    assert refusal.text == said("decision.state.active", member=applicant.id)[0]


async def test_a_notice_still_being_sent_when_the_request_is_decided_loses_its_buttons(
    api: LocalBotApi, cora: CoraBot
) -> None:
    """The outbox records a notice as sent once Telegram has answered (Kira's answer is late
    here). Dana decides before that, so the decision's refresh finds no copy of Kira's to edit:
    once Kira's notice is recorded, it is refreshed too."""
    dana = await join(api, cora, "Dana Koordina", "coordination", "HRO", role="coordinator")
    kira = await join(api, cora, "Kira Kreis", "coordination", "HRO", role="coordinator")
    await settled(cora)
    api.faults.timeout_delay = 3.0  # within the bot's read timeout: a late answer, not a loss
    api.faults.inject("sendMessage", kind="timeout", chat_id=kira.user.id)
    await apply_for_access(api.user(first_name="Robin"))
    notices = {
        person.name: await person.user.wait_for(lambda m: "Robin Beispiel" in m.text)
        for person in (dana, kira)
    }

    async def kiras_notice_recorded() -> bool:
        async with cora.database.read_sessions() as session:
            return (
                await session.scalar(
                    select(Delivery.telegram_message_id).where(
                        Delivery.member_id == kira.member_id, Delivery.kind == REQUEST_NOTICE
                    )
                )
            ) is not None

    await dana.user.press("✅ Aufnehmen", notices[dana.name]).answer()
    await dana.user.wait_for(
        lambda m: m is notices[dana.name] and shows(m, "decision.approve.done")
    )
    assert not await kiras_notice_recorded()  # the decision came first
    trace = approved_trace(await robin(cora), "Dana Koordina")
    await kira.user.wait_for(lambda m: m is notices[kira.name] and trace in m.text, LIVE)
    assert notices[kira.name].buttons == []
    assert await kiras_notice_recorded()
