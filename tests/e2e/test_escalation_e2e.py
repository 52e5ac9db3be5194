"""Escalation of unacknowledged alerts, also across a restart of the bot."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from telegram.warnings import PTBUserWarning

from bot.app import CoraBot, build_application
from bot.config import Settings
from localapi.server import LocalBotApi
from storage.db import Database
from storage.models import Alert
from tests.story import database_locked, expect, join, ref_in, settled, shows

PERIOD = 3.0  # long enough that a press is handled within it on a busy machine


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"escalation_urgent_after": PERIOD, "escalation_check_seconds": 0.2}


async def test_escalation_fires_after_a_restart_and_an_acknowledgement_stops_it(
    api: LocalBotApi, cora: CoraBot, settings: Settings
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    recipient = await join(api, cora, "Paul Polizei", "police", "HRO")
    regional = await join(api, cora, "Rita Region", "coordination", "HRO", role="coordinator")
    state = await join(api, cora, "Stefan Staat", "coordination", "MV", role="coordinator")
    sender.user.send("/alert police HRO ! Niemand reagiert im Fall Ulme")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=1)).text)
    due = time.monotonic() + PERIOD  # raised before the reply came: due by then at the latest
    await recipient.user.wait_for(lambda m: ref in m.text)
    await cora.stop()
    await asyncio.sleep(due - time.monotonic() + 0.3)  # the deadline passes while the bot is down
    restarted = build_application(settings)
    await restarted.start()
    try:
        escalation = await expect(regional.user, "alert.header.escalation.1", ref=ref)
        # The next level would be due one period after this one at the latest.
        next_due = time.monotonic() + PERIOD
        assert "Niemand reagiert" in escalation.text
        await expect(recipient.user, "alert.header.reminder", ref=ref)
        # The regional coordinator confirms at once: the state level is never bothered.
        await regional.user.press("👀 Gesehen", escalation).answer()
        await sender.user.wait_for(
            lambda m: ref in m.text and shows(m, "status.acknowledged", names="Rita Region")
        )
        # Nothing may reach the state level: wait past when it would have (and a sweep).
        await asyncio.sleep(next_due - time.monotonic() + 0.5)
        assert not any(ref in m.text for m in state.user.messages)
    finally:
        await restarted.stop()
        await cora.start()  # the fixture stops it once more


async def test_nobody_answers_so_the_state_coordination_is_alerted(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "VG")
    recipient = await join(api, cora, "Paul Polizei", "police", "VG")
    regional = await join(api, cora, "Gero Greifswald", "coordination", "VG", role="coordinator")
    state = await join(api, cora, "Stefan Staat", "coordination", "MV", role="coordinator")
    sender.user.send("/alert police VG ! Dringende Rückfrage im Fall Espe")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=1)).text)
    await expect(regional.user, "alert.header.escalation.1", ref=ref, timeout=PERIOD + 5)
    assert not any(ref in m.text for m in state.user.messages)
    final = await expect(state.user, "alert.header.escalation.2", ref=ref, timeout=PERIOD + 5)
    assert "Dringende Rückfrage" in final.text
    await sender.user.wait_for(
        lambda m: ref in m.text and shows(m, "status.escalated.2"), timeout=10
    )
    # A take-over by the state coordinator ends it for everyone.
    await state.user.press("✋ Übernehme", final).answer()
    await expect(recipient.user, "alert.notice.taken", ref=ref, name="Stefan Staat")


async def test_an_alert_nobody_can_receive_goes_to_the_coordinators_at_once(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "police", "NWM")
    state = await join(api, cora, "Stefan Staat", "coordination", "MV", role="coordinator")
    sender.user.send("/alert perpetrator_work NWM ! Wer ist zuständig für Fall Kiefer?")
    await expect(sender.user, "alert.raised_to_coordinators")
    # No coordinator for NWM: the state coordination gets it right away.
    message = await state.user.wait_for(lambda m: "Fall Kiefer" in m.text)
    assert shows(message, "alert.header.escalation.2", ref=ref_in(message.text))


async def test_a_stop_lets_a_running_escalation_finish(
    api: LocalBotApi, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A stop comes while an escalation waits for the database (another process holds its
    write lock): the escalation is not cut off half-way, it commits once the lock is free,
    and the stop ends."""
    caplog.set_level(logging.INFO, logger="apscheduler.executors.default")
    cora = build_application(settings)
    await cora.start()
    try:
        sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
        await join(api, cora, "Paul Polizei", "police", "HRO")
        await join(api, cora, "Rita Region", "coordination", "HRO", role="coordinator")
        raised = await cora.services.alerts.raise_alert(
            sender.member_id, ["police"], "HRO", "urgent", "Niemand reagiert im Fall Linde"
        )
        await settled(cora)
        async with database_locked(settings):
            async with asyncio.timeout(PERIOD + 10):
                while not any("Running job" in m and "escalat" in m for m in caplog.messages):
                    await asyncio.sleep(0.05)
            stopping = asyncio.create_task(cora.stop())
            await asyncio.sleep(0.5)
            assert not stopping.done()  # it waits for the escalation
        async with asyncio.timeout(20):
            await stopping
    finally:
        await cora.stop()
    database = Database(settings.database_url)
    try:
        async with database.read_sessions() as session:
            alert = await session.get(Alert, raised.alert.id)
            assert alert is not None and alert.escalation_level == 1
    finally:
        await database.dispose()


async def test_due_times_run_on_the_runtimes_scheduler_alone(cora: CoraBot) -> None:
    """Every due time lives in the database and runs on the runtime's scheduler; PTB's own
    JobQueue (built by default when APScheduler is installed) is not started beside it: it would
    only idle, and every stop of the bot would sleep for it."""
    assert cora.runtime.scheduler.running
    with pytest.warns(PTBUserWarning, match="No `JobQueue` set up"):
        assert cora.application.job_queue is None
