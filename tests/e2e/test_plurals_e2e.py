"""A number meets its noun in the chat as in the catalogue's plural forms: "an 1 Empfänger:in",
not "an 1 Empfänger:innen"."""

from __future__ import annotations

from bot.app import CoraBot
from localapi.server import LocalBotApi
from tests.story import join, reply_to


async def test_an_alert_to_one_recipient_says_one_recipient(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    await join(api, cora, "Paul Polizei", "police", "HRO")
    english = await join(api, cora, "Erin English", "victim_support", "HRO", language="en")
    reply = await reply_to(sender.user, "/alert police HRO Rückruf im Fall Amsel erbeten")
    assert "an 1 Empfänger:in gesendet" in reply.text, reply.text
    reply = await reply_to(english.user, "/alert police HRO Call back in the Amsel case")
    assert "sent to 1 recipient." in reply.text, reply.text
    await join(api, cora, "Pia Polizei", "police", "HRO")
    reply = await reply_to(sender.user, "/alert police HRO Zweiter Rückruf im Fall Amsel")
    assert "an 2 Empfänger:innen gesendet" in reply.text, reply.text
