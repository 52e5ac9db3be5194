"""Under a seeded 20 % fault profile of the Bot API (429, 500, 502, time-outs, dropped
connections) an urgent alert and a poll lose nothing: every delivery ends final, every
recipient has the alert, every vote is counted. The long run is `python -m bench.faults`."""

from __future__ import annotations

from typing import Any

import pytest

from bench.faults import run_scenario
from bot.app import CoraBot
from localapi.faults import FAULT_KINDS
from localapi.limits import LimitModel
from localapi.server import LocalBotApi
from storage.models import DeliveryStatus


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {
        "delivery_max_attempts": 15,
        "telegram_max_rate": 30,
        # The same lost answers and retries as with the defaults (5 s, 2 s), sooner: the
        # "timeout" fault answers a second after the read time-out.
        "telegram_read_timeout": 1.5,
        "delivery_retry_seconds": 0.25,
    }


@pytest.mark.timeout(300)
@pytest.mark.parametrize("model", ["bucket", "strict"])
async def test_nothing_is_lost_under_a_20_percent_fault_profile(
    api: LocalBotApi, cora: CoraBot, database_url: str, model: LimitModel
) -> None:
    """With Telegram's flood limits enforced as well, read either way."""
    api.enforce_limits = True
    api.limits.model = model
    # 429s ask for 1 s instead of 1-5 s: each still stops every send for its retry_after and
    # lowers the rate, as the flood limits are then enforced on top. The bot then sends at its
    # rate floor (a quarter of 30/s), so the story's length grows with its size. 30 recipients
    # and 15 voters make at least 60 calls besides the retries (alert, ballot, answer to a
    # press); seed 3 faults 11 of the first 60, so with a retry for each at least 71 calls are
    # drawn, and they fault every kind, 15 times (the long run is `python -m bench.faults`).
    outcome = await run_scenario(
        api, cora, database_url, recipients=30, voters=15, seed=3, max_retry_after=1
    )
    assert sum(outcome.faults.values()) >= 10, outcome.faults  # the profile really bit
    assert set(outcome.faults) == set(FAULT_KINDS), outcome.faults  # with every kind of fault
    assert set(outcome.deliveries) == {DeliveryStatus.SENT}, outcome.deliveries
    assert outcome.missing == 0
    assert outcome.votes == outcome.voters
    # Only answers lost in transit (time-outs, connections dropped after processing) repeat.
    lost_answers = outcome.faults["timeout"] + outcome.faults["drop_after"]
    assert outcome.duplicates <= lost_answers
    assert outcome.flood_limited == 0  # the faults slowed the bot down; it never flooded
