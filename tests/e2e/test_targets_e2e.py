"""Targets through python-telegram-bot: a coordinator types the recipients in German, gets the
closest name on a typo, or ticks sectors and regions on buttons and never types a code."""

from __future__ import annotations

from bot.app import CoraBot
from localapi.server import LocalBotApi
from tests.story import Person, expect, join, reply_to, shows


async def received(person: Person, marker: str) -> None:
    await person.user.wait_for(lambda m: marker in m.text)


def got(person: Person, marker: str) -> bool:
    return any(marker in m.text for m in person.user.messages)


async def test_a_german_target_is_understood_and_a_typo_gets_a_suggestion(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    elsewhere = await join(api, cora, "Sven Schwerin", "police", "SN")
    english = await join(
        api, cora, "Eve English", "coordination", "MV", role="coordinator", language="en"
    )
    reply = await reply_to(
        coordinator.user, "/announce Polizei,Jugendamt@Rostock Dienstbesprechung am Freitag"
    )
    assert shows(reply, "announce.sent", recipients=2), reply.text
    await received(police, "Dienstbesprechung am Freitag")
    await received(youth, "Dienstbesprechung am Freitag")
    coordinator.user.send("/announce")
    await expect(coordinator.user, "announce.ask_target")
    coordinator.user.send("Polzei @ Rostock")
    hint = await expect(coordinator.user, "target.did_you_mean", part="Polzei")
    assert "Meintest du „Polizei“?" in hint.text
    coordinator.user.send("Vorpommern")
    choices = await expect(coordinator.user, "target.ambiguous", part="Vorpommern")
    assert "Vorpommern-Greifswald, Vorpommern-Rügen" in choices.text
    coordinator.user.send("JA @ Landkreis Rostock, Rostock")
    await expect(coordinator.user, "announce.chosen_target")
    await expect(coordinator.user, "announce.ask_text", max=3500)
    reply = await reply_to(english.user, "/announce Polise@HRO Meeting on Friday")
    assert shows(reply, "target.did_you_mean", "en", part="Polise"), reply.text
    assert "Did you mean “Police”?" in reply.text
    reply = await reply_to(english.user, "/announce Police@Rostock Meeting on Friday")
    assert shows(reply, "announce.sent", "en", recipients=1), reply.text
    await received(police, "Meeting on Friday")
    assert not got(elsewhere, "Dienstbesprechung") and not got(elsewhere, "Meeting on Friday")


async def test_sector_and_region_buttons_make_the_target(api: LocalBotApi, cora: CoraBot) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    justice = await join(api, cora, "Jo Justiz", "justice", "HRO")
    elsewhere = await join(api, cora, "Sven Schwerin", "police", "SN")
    coordinator.user.send("/announce")
    asked = await expect(coordinator.user, "announce.ask_target")
    labels = [text for row in asked.buttons for text, _ in row]
    assert {"Polizei", "Jugendamt", "Rostock", "Schwerin", "✅ Fertig"} <= set(labels)
    answer = await coordinator.user.press("✅ Fertig", asked).answer()
    assert answer.text is not None and "mindestens einen Bereich" in answer.text
    for label in ("Polizei", "Jugendamt", "Justiz", "Rostock"):
        await coordinator.user.press(label, asked).answer()
    await coordinator.user.wait_for(lambda m: m is asked and "✓ Rostock" in str(m.buttons))
    await coordinator.user.press("✓ Justiz", asked).answer()  # and off again
    await coordinator.user.wait_for(lambda m: m is asked and "'Justiz'" in str(m.buttons))
    coordinator.user.press("✅ Fertig", asked)
    chosen = await expect(coordinator.user, "announce.chosen_target")
    assert "Polizei" in chosen.text and "Jugendamt" in chosen.text and "Justiz" not in chosen.text
    coordinator.user.send("Fallkonferenz am Montag im Rathaus")
    await expect(coordinator.user, "announce.ask_when")
    coordinator.user.press("Jetzt senden")
    await expect(coordinator.user, "announce.ask_read")
    coordinator.user.press("Ohne Lesebestätigung")
    preview = await expect(coordinator.user, "announce.preview", recipients=2)
    coordinator.user.press("📨 Senden", preview)
    await expect(coordinator.user, "announce.sent", recipients=2)
    await received(police, "Fallkonferenz am Montag")
    await received(youth, "Fallkonferenz am Montag")
    assert not got(justice, "Fallkonferenz") and not got(elsewhere, "Fallkonferenz")


async def test_the_poll_dialog_offers_the_same_buttons(api: LocalBotApi, cora: CoraBot) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    await join(api, cora, "Sven Schwerin", "police", "SN")
    coordinator.user.send("/poll")
    await expect(coordinator.user, "poll.ask_title", max=200)
    coordinator.user.send("Themen für den Fachtag")
    asked = await expect(coordinator.user, "poll.ask_target")
    await coordinator.user.press("Schwerin", asked).answer()
    coordinator.user.press("✅ Fertig", asked)
    chosen = await expect(coordinator.user, "announce.chosen_target")
    assert "Schwerin" in chosen.text
    await expect(coordinator.user, "poll.ask_kind")
