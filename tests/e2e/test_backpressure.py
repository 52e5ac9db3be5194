"""A burst of updates is taken from Telegram only as fast as the bot handles it: memory stays
bounded, and what a crash could lose is bounded too (updates not yet taken stay with Telegram)."""

from __future__ import annotations

import pytest

from bot.app import build_application
from bot.config import Settings
from localapi.server import LocalBotApi
from tests.story import seed_members, shows, until

PEOPLE, EACH, IN_FLIGHT = 30, 10, 8
BATCH = 100  # updates per getUpdates answer, as Telegram's default


@pytest.fixture
def setting_overrides() -> dict[str, int]:
    return {"updates_in_flight": IN_FLIGHT}


def most_taken_ahead(api: LocalBotApi) -> int:
    """The most updates Telegram had handed out, at any moment, beyond the ones answered."""
    handed: set[int] = set()
    answered = ahead = 0
    for call in api.calls:
        if not call.ok:
            continue
        if call.method == "getUpdates":
            handed.update(update["update_id"] for update in call.result)
        elif call.method == "sendMessage":
            answered += 1
        ahead = max(ahead, len(handed) - answered)
    return ahead


async def test_a_burst_is_taken_from_telegram_as_the_bot_handles_it(
    api: LocalBotApi, settings: Settings, database_url: str
) -> None:
    people = await seed_members(database_url, api, PEOPLE, "police", "HRO")
    for person in people:  # all of it waits at Telegram before the bot starts
        for _ in range(EACH):
            person.user.send("/me")
    cora = build_application(settings)
    await cora.start()
    try:

        def everyone_answered() -> bool:
            return all(
                sum(shows(m, "me.profile", id=p.member_id) for m in p.user.messages) == EACH
                for p in people
            )

        await until(api, everyone_answered, timeout=60)
    finally:
        await cora.stop()

    # Handled at most IN_FLIGHT at once, IN_FLIGHT more queued, and one batch being queued:
    # without back-pressure all 300 are fetched and acknowledged within the first moments.
    assert most_taken_ahead(api) <= 2 * IN_FLIGHT + BATCH < PEOPLE * EACH
    assert sum(call.ok for call in api.calls_to("getUpdates")) > (PEOPLE * EACH) // BATCH
