"""A wake of the outbox is never lost: a commit, a hand-over or a stop that comes while the
outbox is between a round and its idle wait (reading when the next delivery is due) cuts the
wait short. Before, the idle wait cleared such a wake, and the alert, or the stop, waited for a
whole idle period (a minute here; found as a 60 s stop in a full test run)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.app import CoraBot
from localapi.server import LocalBotApi
from tests.story import alert_messages, join

IDLE = 30.0  # the outbox's idle poll: a lost wake would cost this much
# Moments after a round starts at which the commit or the stop comes: they sweep the round's
# reads (a few milliseconds), so that some land while the outbox reads when the next is due.
STEPS = [n * 0.0005 for n in range(24)]


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"delivery_idle_seconds": IDLE}


async def test_an_alert_committed_at_any_moment_of_an_idle_round_goes_out_at_once(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sina Sender", "victim_support", "HRO")
    police = await join(api, cora, "Pia Polizei", "police", "HRO")
    outbox = cora.runtime.outbox
    for number, step in enumerate(STEPS):
        outbox.wake()  # a round that finds nothing, then reads when the next one is due
        await asyncio.sleep(step)
        raised = await cora.services.alerts.raise_alert(
            sender.member_id, ["police"], "HRO", "normal", f"Lage im Fall Ahorn {number}"
        )
        await police.user.wait_for(lambda m, ref=raised.alert.ref: ref in m.text, timeout=IDLE / 6)
    assert len(alert_messages(police.user)) == len(STEPS)


async def test_a_stop_at_any_moment_of_an_idle_round_ends_the_outbox_at_once(
    cora: CoraBot,
) -> None:
    outbox = cora.runtime.outbox
    waits = []
    for step in STEPS:
        outbox.wake()
        await asyncio.sleep(step)
        started = time.monotonic()
        await asyncio.wait_for(outbox.stop(), IDLE / 6)
        waits.append(time.monotonic() - started)
        await outbox.start()
    assert max(waits) < IDLE / 6
