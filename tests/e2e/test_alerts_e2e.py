"""Case alerts end to end: real python-telegram-bot against the local Bot API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import CoraBot, build_application
from bot.config import Settings
from localapi.server import LocalBotApi
from storage.models import Alert, Delivery, DeliveryStatus, Member
from tests.story import alert_messages, expect, join, ref_in, reply_to, said, shows

SECRET_TEXT = "Pseudonym Lila braucht heute noch einen Schutzplatz <b>&amp; Begleitung</b>"


async def test_an_alert_to_police_and_youth_welfare_in_rostock_reaches_exactly_the_matching_members(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    police_hro = await join(api, cora, "Paul Polizei", "police", "HRO")
    youth_hro = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    police_state = await join(api, cora, "Lena Land", "police", "MV")
    police_vg = await join(api, cora, "Vera Greifswald", "police", "VG")
    health_hro = await join(api, cora, "Hugo Health", "health", "HRO")
    revoked = await join(api, cora, "Rudi Revoked", "police", "HRO")
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    coordinator.user.send(f"/revoke {revoked.member_id}")
    await expect(coordinator.user, "decision.revoke.done")

    sender.user.send(f"/alert police,youth_welfare HRO ! {SECRET_TEXT}")
    confirmation = await expect(sender.user, "alert.raised", recipients=3)
    ref = ref_in(confirmation.text)
    for person in (police_hro, youth_hro, police_state):
        received = await person.user.wait_for(lambda m, r=ref: r in m.text and "DRINGEND" in m.text)
        # HTML in the member's text arrives as text, never as formatting.
        assert "<b>&amp; Begleitung</b>" in received.text
        assert "Sara Sender" in received.text
        assert [label for label, _ in received.buttons[0]] == ["👀 Gesehen", "✋ Übernehme"]
    status = await sender.user.wait_for(
        lambda m: shows(m, "status.delivered", delivered=3, recipients=3)
    )
    assert ref in status.text
    for person in (police_vg, health_hro, revoked, sender):
        assert alert_messages(person.user, ref) == []
    assert alert_messages(coordinator.user, ref) == [], [m.text for m in coordinator.user.messages]


async def test_the_dialog_sends_an_alert_with_buttons_and_preview(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "police", "SN")
    recipient = await join(api, cora, "Jo Jugend", "youth_welfare", "SN")
    sender.user.send("/alert")
    sectors = await expect(sender.user, "alert.ask_sectors")
    sender.user.press("Weiter ➡️", sectors)
    refused = await sender.user.press("Weiter ➡️", sectors).answer()
    assert refused.show_alert and refused.text == said("alert.choose_a_sector")[0]
    await sender.user.press("Jugendamt", sectors).answer()
    await sender.user.wait_for(
        lambda m: m is sectors and any(b == "✅ Jugendamt" for row in m.buttons for b, _ in row)
    )
    sender.user.press("Weiter ➡️", sectors)
    await expect(sender.user, "alert.ask_region")
    sender.user.press("Schwerin")
    await expect(sender.user, "alert.ask_urgency")
    sender.user.press("📣 Normal")
    await expect(sender.user, "alert.ask_text", max=3500)
    sender.user.send("Bitte um Rückruf zu Fall Birke, Termin morgen im Amt.")
    preview = await expect(sender.user, "alert.preview", recipients=1)
    assert "Fall Birke" in preview.text
    assert alert_messages(recipient.user) == []  # nothing is sent before "send"
    sender.user.press("📨 Senden", preview)
    await expect(sender.user, "alert.raised", recipients=1)
    received = await recipient.user.wait_for(lambda m: "Fall Birke" in m.text)
    assert "Fallmeldung F-" in received.text and "DRINGEND" not in received.text


async def test_cancel_drops_the_draft(api: LocalBotApi, cora: CoraBot) -> None:
    sender = await join(api, cora, "Sara Sender", "police", "SN")
    sender.user.send("/alert")
    await expect(sender.user, "alert.ask_sectors")
    sender.user.send("/cancel")
    await expect(sender.user, "alert.cancelled")
    async with cora.database.read_sessions() as session:
        assert (await session.scalars(select(Alert))).all() == []


async def test_unknown_sectors_and_regions_list_the_valid_ones(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "police", "SN")
    reply = await reply_to(sender.user, "/alert xyzzy HRO Text")
    assert shows(reply, "error.unknown_sector", sector="xyzzy")
    assert "police, justice, victim_support" in reply.text
    reply = await reply_to(sender.user, "/alert police Qwertz Text")
    assert shows(reply, "error.unknown_region", region="Qwertz") and "HRO, SN" in reply.text
    reply = await reply_to(sender.user, "/alert Polizei Rostok Text")  # labels, and a typo
    assert shows(reply, "target.did_you_mean", part="Rostok", suggestion="Rostock"), reply.text
    reply = await reply_to(sender.user, "/alert police")
    assert shows(reply, "alert.usage")


async def test_personal_data_is_refused_and_nothing_is_sent(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "police", "SN")
    recipient = await join(api, cora, "Jo Jugend", "youth_welfare", "SN")
    reply = await reply_to(
        sender.user, "/alert youth_welfare SN ! Bitte Frau K. anrufen: 0385 1234567"
    )
    assert shows(reply, "alert.findings_blocking") and "0385 1234567" in reply.text
    reply = await reply_to(sender.user, "/alert youth_welfare SN Kind geb. 12.03.2019 in Obhut")
    assert shows(reply, "alert.findings_blocking") and "Geburtsdatum" in reply.text
    # A plain date may be harmless: the sender sees it and may confirm.
    reply = await reply_to(sender.user, "/alert youth_welfare SN Kind in Obhut, Stand 14.01.2027")
    assert shows(reply, "alert.findings_confirm") and "14.01.2027" in reply.text
    assert alert_messages(recipient.user) == []
    sender.user.press("Trotzdem senden", reply)
    await expect(sender.user, "alert.raised", recipients=1)
    await recipient.user.wait_for(lambda m: "Kind in Obhut, Stand 14.01.2027" in m.text)


async def test_names_are_refused_with_their_kind_and_a_pseudonymous_form(
    api: LocalBotApi, cora: CoraBot
) -> None:
    """ "Frau Sabine Müller wurde bedroht, Tochter Lea (6) ist in Obhut": the refusal names
    both, says they are names, and offers "Frau M." and "Tochter (6)"; nothing is sent."""
    sender = await join(api, cora, "Sara Sender", "police", "SN")
    recipient = await join(api, cora, "Jo Jugend", "youth_welfare", "SN")
    reply = await reply_to(
        sender.user,
        "/alert youth_welfare SN Frau Sabine Müller wurde erneut bedroht, "
        "Tochter Lea (6) ist in Obhut. Er fährt HRO-AB 123.",
    )

    assert shows(reply, "alert.findings_blocking")
    assert "• Name: „Sabine Müller“ – besser: „Frau M.“" in reply.text
    assert "• Name: „Lea“ – besser: „Tochter (6)“" in reply.text
    assert "• Kfz-Kennzeichen: „HRO-AB 123“ – bitte weglassen" in reply.text
    assert alert_messages(recipient.user) == []

    english = await join(api, cora, "Eve English", "police", "SN", language="en")
    reply = await reply_to(english.user, "/alert youth_welfare SN Kevin Neumann hit her again")
    assert shows(reply, "alert.findings_blocking", "en")
    assert "• name: “Kevin Neumann” – write “K. N.” instead" in reply.text

    # The pseudonymous form goes out at once, without a question.
    sender.user.send("/alert youth_welfare SN ! Fall Linde: Frau M. wurde erneut bedroht")
    await expect(sender.user, "alert.raised", recipients=1)
    await recipient.user.wait_for(lambda m: "Fall Linde: Frau M." in m.text)


async def test_a_follow_up_with_a_name_or_an_identity_number_is_refused(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    recipient = await join(api, cora, "Paul Polizei", "police", "HRO")
    sender.user.send("/alert police HRO Rückruf zu Fall Eiche erbeten")
    raised = await expect(sender.user, "alert.raised", recipients=1)
    ref = ref_in(raised.text)
    await recipient.user.wait_for(lambda m: ref in m.text)
    # The sender's status message comes on its own; it is not the reply to what follows.
    await sender.user.wait_for(lambda m: ref in m.text, after=raised)

    reply = await reply_to(sender.user, f"/update {ref} Ex-Partner Dennis Hoffmann ist zurück")
    assert shows(reply, "alert.findings_blocking") and "„Dennis Hoffmann“" in reply.text
    assert "besser: „Ex-Partner“" in reply.text
    reply = await reply_to(sender.user, f"/update {ref} Steuer-ID 65929970489 liegt vor")
    assert shows(reply, "alert.findings_blocking") and "Steuer-, Versicherten-" in reply.text
    reply = await reply_to(sender.user, f"/update {ref} Er schreibt ihr als @dennis_b_hro")
    assert shows(reply, "alert.findings_blocking") and "„@dennis_b_hro“" in reply.text
    sender.user.send(f"/update {ref} Herr H. ist zurück, Polizei informiert")
    await expect(sender.user, "alert.follow_up_sent", ref=ref, recipients=1)
    await recipient.user.wait_for(lambda m: "Herr H. ist zurück" in m.text)
    refused = ("Hoffmann", "65929970489", "dennis_b_hro")
    assert [m for m in recipient.user.messages if any(r in m.text for r in refused)] == []


async def test_text_over_the_limit_is_refused_with_the_limit(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "police", "SN")
    reply = await reply_to(sender.user, "/alert police SN " + "x" * 3501)
    assert shows(reply, "alert.text_too_long", max=3500, length=3501)


async def test_ack_and_take_over_by_two_members_at_once(api: LocalBotApi, cora: CoraBot) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    first = await join(api, cora, "Paul Polizei", "police", "HRO")
    second = await join(api, cora, "Petra Polizei", "police", "HRO")
    sender.user.send(f"/alert police HRO ! {SECRET_TEXT}")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=2)).text)
    one = await first.user.wait_for(lambda m: ref in m.text)
    two = await second.user.wait_for(lambda m: ref in m.text)
    # Both press at the same moment: one "Seen" and one "I take over" each.
    presses = [
        first.user.press("👀 Gesehen", one),
        second.user.press("👀 Gesehen", two),
    ]
    await asyncio.gather(*(p.answer() for p in presses))
    takes = [first.user.press("✋ Übernehme", one), second.user.press("✋ Übernehme", two)]
    answers = await asyncio.gather(*(p.answer() for p in takes))
    winners = [a for a in answers if not a.show_alert]
    losers = [a for a in answers if a.show_alert]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].text is not None and "bereits von" in losers[0].text
    winner = first if winners[0] is answers[0] else second
    assert winner.name in losers[0].text
    await sender.user.wait_for(
        lambda m: ref in m.text and shows(m, "status.taken", name=winner.name), timeout=10
    )
    await expect(sender.user, "alert.notice.taken", ref=ref, name=winner.name)
    loser = second if winner is first else first
    await expect(loser.user, "alert.notice.taken", ref=ref, name=winner.name)
    async with cora.database.read_sessions() as session:
        alert = (await session.scalars(select(Alert).where(Alert.ref == ref))).one()
    assert alert.taken_by == winner.member_id and alert.escalate_at is None


async def test_forged_and_foreign_alert_buttons_only_explain(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    recipient = await join(api, cora, "Paul Polizei", "police", "HRO")
    outsider = await join(api, cora, "Olga Outsider", "health", "VG")
    sender.user.send("/alert police HRO Bitte um Rückmeldung zu Fall Ahorn")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=1)).text)
    message = await recipient.user.wait_for(lambda m: ref in m.text)
    data = message.buttons[0][1][1]
    assert data is not None
    hello = await reply_to(outsider.user, "/help")
    for forged in (data, data.replace("take", "ack"), "a:999999:take", "a:abc:take", "a:1:explode"):
        answer = await outsider.user.press_raw(forged, hello).answer()
        assert answer.show_alert, forged
    reply = await reply_to(outsider.user, f"/take {ref}")
    assert shows(reply, "alert.unknown", ref=ref)
    async with cora.database.read_sessions() as session:
        alert = (await session.scalars(select(Alert).where(Alert.ref == ref))).one()
    assert alert.taken_by is None


async def test_follow_up_close_and_list(api: LocalBotApi, cora: CoraBot) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    recipient = await join(api, cora, "Paul Polizei", "police", "HRO")
    sender.user.send("/alert police HRO Rückruf zu Fall Eiche erbeten")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=1)).text)
    await recipient.user.wait_for(lambda m: ref in m.text)
    recipient.user.send("/alerts")
    listing = await expect(recipient.user, "alerts.header", count=1)
    assert (
        ref in listing.text
        and said("alerts.not_seen_by_you")[0].split("·")[0].strip() in listing.text
    )
    reply = await reply_to(recipient.user, f"/update {ref} Ich melde mich")
    assert shows(reply, "alert.not_yours", ref=ref)
    sender.user.send(f"/update {ref} Eiche ist jetzt im <Frauenhaus> untergebracht")
    await expect(sender.user, "alert.follow_up_sent", ref=ref, recipients=1)
    follow_up = await expect(recipient.user, "alert.follow_up", ref=ref, name="Sara Sender")
    assert "im <Frauenhaus> untergebracht" in follow_up.text
    sender.user.send(f"/close {ref}")
    await expect(sender.user, "alert.closed_by_you", ref=ref)
    await expect(recipient.user, "alert.notice.closed", ref=ref, name="Sara Sender")
    reply = await reply_to(recipient.user, f"/ack {ref}")
    assert shows(reply, "alert.closed", ref=ref)
    reply = await reply_to(recipient.user, "/alerts")
    assert shows(reply, "alerts.none")


@pytest.mark.parametrize(
    "setting_overrides", [{}, {"alert_protect_content": False}], indirect=True, ids=["on", "off"]
)
async def test_alerts_and_follow_ups_cannot_be_forwarded_and_show_no_link_preview(
    api: LocalBotApi, cora: CoraBot, settings: Settings
) -> None:
    """ALERT_PROTECT_CONTENT (on by default): Telegram refuses to forward or save the message.
    Links in what a member wrote never get a preview (Telegram would fetch the page)."""
    protect = settings.alert_protect_content
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    recipient = await join(api, cora, "Paul Polizei", "police", "HRO")
    sender.user.send("/alert police HRO Hinweise zu Fall Ahorn: https://beispiel.example/info")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=1)).text)
    received = await recipient.user.wait_for(lambda m: ref in m.text and "beispiel" in m.text)
    sender.user.send(f"/update {ref} Nachtrag: https://beispiel.example/nachtrag")
    follow_up = await expect(recipient.user, "alert.follow_up", ref=ref, name="Sara Sender")
    for message in (received, follow_up):
        assert message.protect_content is protect
        assert message.link_preview is False
    sent = [c for c in api.calls_to("sendMessage") if c.params["chat_id"] == recipient.user.id]
    carrying = [c for c in sent if "beispiel.example" in c.params["text"]]
    assert len(carrying) == 2
    for call in carrying:
        assert call.params.get("protect_content", False) is protect
        assert call.params["link_preview_options"] == {"is_disabled": True}


async def test_blocked_recipients_are_marked_and_reported(api: LocalBotApi, cora: CoraBot) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "HRO", role="coordinator")
    reachable = await join(api, cora, "Paul Polizei", "police", "HRO")
    blocked = await join(api, cora, "Bea Blockiert", "police", "HRO")
    blocked.user.block()
    sender.user.send("/alert police HRO ! Lage im Fall Linde unklar")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=2)).text)
    await reachable.user.wait_for(lambda m: ref in m.text)
    notice = await expect(coordinator.user, "alert.notice.unreachable")
    assert "Bea Blockiert" in notice.text
    await sender.user.wait_for(
        lambda m: ref in m.text and shows(m, "status.unreachable", names="Bea Blockiert")
    )
    async with cora.database.read_sessions() as session:
        member = await session.get(Member, blocked.member_id)
        deliveries = (
            await session.scalars(select(Delivery).where(Delivery.member_id == blocked.member_id))
        ).all()
    assert member is not None and member.unreachable_since is not None
    assert [d.status for d in deliveries] == [DeliveryStatus.UNREACHABLE]
    assert deliveries[0].attempts == 1  # a 403 is final, never retried
    assert alert_messages(blocked.user) == []


async def test_the_database_never_holds_alert_text_in_plain_form(
    api: LocalBotApi,
    cora: CoraBot,
    settings: Settings,
    production_logging: pytest.LogCaptureFixture,
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    recipient = await join(api, cora, "Paul Polizei", "police", "HRO")
    marker = "Schutzplatzsuche fuer Pseudonym Zitronenfalter"
    sender.user.send(f"/alert police HRO {marker}")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=1)).text)
    await recipient.user.wait_for(lambda m: marker in m.text)
    sender.user.send(f"/update {ref} Nachtrag Zitronenfalter ist versorgt")
    await recipient.user.wait_for(lambda m: "Zitronenfalter ist versorgt" in m.text)
    assert production_logging.records, "nothing was logged at all"
    assert "Zitronenfalter" not in production_logging.text
    if settings.database_url.startswith("sqlite"):
        await cora.stop()  # flush the WAL into the file
        path = Path(settings.database_url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"Zitronenfalter" not in raw
        assert "Zitronenfalter".encode("utf-16-le") not in raw
        await cora.start()
    else:
        async with cora.database.read_sessions() as session:
            dump = await session.execute(select(Alert.text_cipher))
            assert all(b"Zitronenfalter" not in row[0] for row in dump.all())


async def test_buttons_keep_working_after_a_restart(
    api: LocalBotApi, cora: CoraBot, settings: Settings
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    recipient = await join(api, cora, "Paul Polizei", "police", "HRO")
    sender.user.send("/alert police HRO Rückfrage zu Fall Buche")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=1)).text)
    message = await recipient.user.wait_for(lambda m: ref in m.text)
    await cora.stop()
    again = build_application(settings)
    await again.start()
    try:
        answer = await recipient.user.press("✋ Übernehme", message).answer()
        assert answer.text == said("alert.taken_by_you", ref=ref)[0]
    finally:
        await again.stop()
        await cora.start()  # the fixture stops it once more


async def test_text_where_a_button_is_expected_gets_a_hint_not_silence(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "police", "SN")
    reply = await reply_to(sender.user, "Hallo?")
    assert shows(reply, "text.unexpected")
    sender.user.send("/alert")
    await expect(sender.user, "alert.ask_sectors")
    reply = await reply_to(sender.user, "Polizei bitte")
    assert shows(reply, "dialog.use_buttons")
    reply = await reply_to(sender.user, "/cancel")
    assert shows(reply, "alert.cancelled")


async def test_an_alert_whose_text_was_moved_from_another_row_arrives_with_a_notice_instead(
    api: LocalBotApi, settings: Settings
) -> None:
    """Texts are bound to their row: a ciphertext copied into another alert with plain SQL does
    not decrypt there. The alert still arrives (it can be acknowledged and asked about), with a
    notice in place of the text, and the error is logged without content."""
    from datetime import timedelta

    from sqlalchemy import text

    from bot.alerts import AlertService, EscalationPeriods
    from bot.clock import SystemClock
    from bot.keys import TextCipher
    from bot.network import load_network
    from storage.db import Database
    from storage.uow import UnitOfWorkFactory
    from tests.story import seed_members

    assert settings.cora_encryption_key is not None
    [sender] = await seed_members(settings.database_url, api, 1, "victim_support", "HRO")
    [recipient] = await seed_members(settings.database_url, api, 1, "police", "HRO")
    database = Database(settings.database_url)
    try:
        alerts = AlertService(
            UnitOfWorkFactory(database, SystemClock()),
            load_network(),
            TextCipher([settings.cora_encryption_key.get_secret_value()]),
            EscalationPeriods(timedelta(hours=1), timedelta(hours=4)),
        )
        ahorn = await alerts.raise_alert(
            sender.member_id, ["police"], "HRO", "normal", "Fall Ahorn braucht Begleitung"
        )
        birke = await alerts.raise_alert(
            sender.member_id, ["police"], "HRO", "normal", "Fall Birke ist versorgt"
        )
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE alerts SET text_cipher = (SELECT text_cipher FROM alerts WHERE id = :a)"
                    " WHERE id = :b"
                ),
                {"a": ahorn.alert.id, "b": birke.alert.id},
            )
    finally:
        await database.dispose()

    cora = build_application(settings)
    await cora.start()
    try:
        user = recipient.user
        first = await user.wait_for(lambda m: ahorn.alert.ref in m.text)
        second = await user.wait_for(lambda m: birke.alert.ref in m.text)
    finally:
        await cora.stop()
    assert "Fall Ahorn braucht Begleitung" in first.text
    assert said("text.unreadable")[0] in second.text
    assert "Ahorn" not in second.text and "Birke" not in second.text
    assert [label for label, _ in second.buttons[0]] == ["👀 Gesehen", "✋ Übernehme"]
