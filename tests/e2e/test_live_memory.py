"""The live messages' memory of what they show is bounded, and forgets the least recently shown
first: a message refreshed again unchanged is not edited, however many others came since,
as long as it is among the `remembered` last."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from bot.app import CoraBot
from bot.membership import MemberView
from handlers.transport.live import LiveMessage, LiveMessages
from localapi.server import LocalBotApi
from tests.story import join


async def test_an_unchanged_message_shown_lately_is_not_edited_when_others_overflow_the_memory(
    api: LocalBotApi, cora: CoraBot
) -> None:
    paula = await join(api, cora, "Paula Probe", "police", "HRO")
    reader = await cora.services.membership.get(paula.member_id)
    assert isinstance(reader, MemberView) and reader.chat_id is not None
    chat = reader.chat_id
    # Four messages in Paula's chat, each the live message of one key.
    sent = [await cora.application.bot.send_message(chat, f"Stand {n}") for n in range(4)]
    shows = {n: f"Stand {n}, aktualisiert" for n in range(4)}

    async def refresh(key: Hashable) -> list[LiveMessage]:
        assert isinstance(key, int)
        return [LiveMessage(reader, chat, sent[key].message_id, shows[key])]

    live = LiveMessages(cora.application.bot, refresh, min_interval=0.01, remembered=2)
    await live.start()
    try:

        async def edits_after(*keys: int) -> int:
            before = len(api.calls_to("editMessageText"))
            live.touch(keys)
            await asyncio.wait_for(live.settled(), 10)
            return len(api.calls_to("editMessageText")) - before

        assert await edits_after(0, 1) == 2  # both changed
        assert await edits_after(0) == 0  # unchanged: 0 is now the most recently shown
        assert await edits_after(2) == 1  # a third message: 1, shown longest ago, is forgotten
        assert await edits_after(0, 2) == 0  # still remembered, unchanged
        assert await edits_after(1) == 1  # forgotten: edited once more, though unchanged
        assert len(live._shown) == 2
        shows[0] = "Stand 0, noch einmal geändert"
        assert await edits_after(0) == 1  # a change is always shown
    finally:
        await live.stop()
