"""An alert's first deliveries are claimed by the raise itself and handed to the outbox with
what the raise knew they show; a close, an erasure or a revocation committed before they are
sent still wins, and a stop between the raise and the sends loses nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select

from bot.alerts import RaisedAlert
from bot.app import CoraBot, build_application
from bot.config import Settings
from bot.membership import ADMIN_ACTOR
from localapi.server import LocalBotApi
from sandbox.story import Person
from storage.db import Database
from storage.models import Delivery, DeliveryStatus
from tests.story import alert_messages, database_locked, join, settled

# The outbox's round to this person takes this long (the fake answers late, but in time).
BLOCKED_SECONDS = 1.5


async def statuses(cora: CoraBot, alert_id: int) -> dict[int, tuple[str, str | None]]:
    """Status and claiming instance of each of the alert's deliveries, by member; read with a
    database of its own, as the bot may have stopped (and closed its connections)."""
    database = Database(cora.settings.database_url)
    try:
        async with database.read_sessions() as session:
            rows = await session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
            return {d.member_id: (d.status, d.claimed_by) for d in rows}
    finally:
        await database.dispose()


async def busy_outbox(api: LocalBotApi, cora: CoraBot, sender: Person, blocker: Person) -> None:
    """Keep the outbox in a round of sends for a moment: an alert whose one delivery the fake
    answers only after BLOCKED_SECONDS."""
    api.faults.timeout_delay = BLOCKED_SECONDS
    api.faults.inject("sendMessage", kind="timeout", chat_id=blocker.user.id)
    await cora.services.alerts.raise_alert(sender.member_id, ["health"], "HRO", "urgent", "Vorab")
    async with asyncio.timeout(5):
        while not api.faults.hits:
            await asyncio.sleep(0.01)


async def raised_while_busy(
    api: LocalBotApi, cora: CoraBot, sender: Person, text: str
) -> tuple[RaisedAlert, Person]:
    """Raise a police alert while the outbox is busy; its deliveries are claimed already."""
    blocker = await join(api, cora, "Bea Blockiert", "health", "HRO")
    await busy_outbox(api, cora, sender, blocker)
    raised = await cora.services.alerts.raise_alert(
        sender.member_id, ["police"], "HRO", "urgent", text
    )
    claims = await statuses(cora, raised.alert.id)
    instance = cora.services.deliveries.instance_id
    assert set(claims.values()) == {(DeliveryStatus.SENDING, instance)}, claims
    return raised, blocker


async def test_a_normal_alert_claims_nothing_while_urgent_deliveries_wait(
    api: LocalBotApi, cora: CoraBot
) -> None:
    """The first batch of a normal alert does not jump the queue of an urgent fan-out: its
    deliveries stay pending for the outbox's claim, which serves the urgent ones first."""
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    blocker = await join(api, cora, "Bea Blockiert", "health", "HRO")
    first_batch = cora.services.deliveries.first_batch
    police = [await join(api, cora, f"Paul Polizei {n}", "police", "HRO") for n in range(12)]
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    await busy_outbox(api, cora, sender, blocker)
    urgent = await cora.services.alerts.raise_alert(
        sender.member_id, ["police"], "HRO", "urgent", "Lage im Fall Erle"
    )
    waiting = [s for s, _ in (await statuses(cora, urgent.alert.id)).values()]
    assert 0 < first_batch < len(police) and waiting.count(DeliveryStatus.PENDING) > 0, waiting
    normal = await cora.services.alerts.raise_alert(
        sender.member_id, ["youth_welfare"], "HRO", "normal", "Rückfrage im Fall Erle"
    )
    assert set((await statuses(cora, normal.alert.id)).values()) == {(DeliveryStatus.PENDING, None)}
    await settled(cora)
    assert alert_messages(youth.user, normal.alert.ref)
    assert all(alert_messages(p.user, urgent.alert.ref) for p in police)


async def test_the_raise_claims_the_first_deliveries_and_the_outbox_sends_them_once(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    police = [await join(api, cora, f"Paul Polizei {n}", "police", "HRO") for n in range(3)]
    raised, _ = await raised_while_busy(api, cora, sender, "Lage im Fall Birke")
    await settled(cora)
    for person in police:
        [received] = alert_messages(person.user, raised.alert.ref)
        assert "Fall Birke" in received.text and "Sara Sender" in received.text
        assert [label for label, _ in received.buttons[0]] == ["👀 Gesehen", "✋ Übernehme"]
    assert set((await statuses(cora, raised.alert.id)).values()) == {(DeliveryStatus.SENT, None)}


async def test_a_close_before_the_first_sends_wins_over_what_the_raise_knew(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    raised, _ = await raised_while_busy(api, cora, sender, "Lage im Fall Birke")
    await cora.services.alerts.close(sender.member_id, raised.alert.id)
    await settled(cora)
    [received] = alert_messages(police.user, raised.alert.ref)
    assert received.buttons == []  # closed: nothing to acknowledge or take over


async def test_an_erasure_before_the_first_sends_wins_over_what_the_raise_knew(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    police = await join(api, cora, "Paul Polizei", "police", "HRO")
    raised, _ = await raised_while_busy(api, cora, sender, "Lage im Fall Birke")
    await cora.services.data_protection.erase(ADMIN_ACTOR, sender.member_id)
    await settled(cora)
    [received] = alert_messages(police.user, raised.alert.ref)
    assert "Fall Birke" in received.text
    assert "Sara" not in received.text  # the erased sender's name is gone


async def test_a_revocation_before_the_first_sends_wins_over_the_raise_s_claim(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    revoked = await join(api, cora, "Rudi Revoked", "police", "HRO")
    staying = await join(api, cora, "Paul Polizei", "police", "HRO")
    raised, _ = await raised_while_busy(api, cora, sender, "Lage im Fall Birke")
    await cora.services.membership.revoke(ADMIN_ACTOR, revoked.member_id)
    await settled(cora)
    assert alert_messages(revoked.user, raised.alert.ref) == []
    assert len(alert_messages(staying.user, raised.alert.ref)) == 1
    final = await statuses(cora, raised.alert.id)
    assert final[revoked.member_id][0] == DeliveryStatus.CANCELLED
    assert final[staying.member_id][0] == DeliveryStatus.SENT


async def test_a_stop_between_the_raise_and_its_sends_loses_nothing(
    api: LocalBotApi, settings: Settings
) -> None:
    # On PostgreSQL the next instance takes the claims over once they expire; on SQLite the
    # restart releases them at once.
    settings = settings.model_copy(update={"delivery_claim_seconds": 2})
    cora = build_application(settings)
    await cora.start()
    try:
        sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
        police = [await join(api, cora, f"Paul Polizei {n}", "police", "HRO") for n in range(2)]
        raised, _ = await raised_while_busy(api, cora, sender, "Lage im Fall Birke")
    finally:
        # Finishes the round in flight; the raise's claimed deliveries were never sent.
        await cora.stop()
    assert all(alert_messages(p.user, raised.alert.ref) == [] for p in police)
    # The stop handed the unsent claims back: nobody waits for them to expire.
    assert set((await statuses(cora, raised.alert.id)).values()) == {(DeliveryStatus.PENDING, None)}
    again = build_application(settings)
    await again.start()
    try:
        await settled(again)
        for person in police:
            assert len(alert_messages(person.user, raised.alert.ref)) == 1
        final = await statuses(again, raised.alert.id)
        assert {status for status, _ in final.values()} == {DeliveryStatus.SENT}
    finally:
        await again.stop()


async def first_batch_answered_late(
    api: LocalBotApi,
    cora: CoraBot,
    sender: Person,
    police: list[Person],
    late: float = BLOCKED_SECONDS,
) -> RaisedAlert:
    """Raise an urgent alert to `police` whose first batch (handed over by the raise, two with
    DELIVERY_CONCURRENCY=2) the fake answers only after `late` seconds (each person's first
    message); return once both sends have arrived."""
    api.faults.timeout_delay = late
    for person in police:
        api.faults.inject("sendMessage", kind="timeout", chat_id=person.user.id)
    raised = await cora.services.alerts.raise_alert(
        sender.member_id, ["police"], "HRO", "urgent", "Lage im Fall Birke"
    )
    async with asyncio.timeout(5):
        while len(api.faults.hits) < 2:
            await asyncio.sleep(0.01)
    return raised


@asynccontextmanager
async def five_police_answered_late(
    api: LocalBotApi, settings: Settings, late: float = BLOCKED_SECONDS
) -> AsyncIterator[tuple[CoraBot, RaisedAlert]]:
    """A bot sending two at a time (DELIVERY_CONCURRENCY=2), and an urgent alert to five police
    members whose first batch the fake answers late (`first_batch_answered_late`); the bot is
    stopped at the end."""
    cora = build_application(settings.model_copy(update={"delivery_concurrency": 2}))
    await cora.start()
    try:
        sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
        police = [await join(api, cora, f"Paul Polizei {n}", "police", "HRO") for n in range(5)]
        yield cora, await first_batch_answered_late(api, cora, sender, police, late)
    finally:
        await cora.stop()


async def test_a_batch_claimed_ahead_is_handed_back_at_a_stop(
    api: LocalBotApi, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The transaction that records a batch also claims the next one. A stop that arrives
    while that transaction waits for a lock finds the next batch claimed and not sent: it
    hands the claims back, so that nobody waits for them to expire."""
    caplog.set_level(logging.INFO, logger="handlers.transport.outbox")
    async with five_police_answered_late(api, settings) as (cora, raised):
        answered = asyncio.get_running_loop().time() + BLOCKED_SECONDS
        async with database_locked(settings):
            # The answers arrive; recording them (and claiming the next batch) waits for the
            # lock. The margin lets the bot read both answers before the stop is asked for.
            await asyncio.sleep(answered + 1.0 - asyncio.get_running_loop().time())
            stopping = asyncio.create_task(cora.stop())
            await asyncio.sleep(0.2)
        await stopping
    assert "handed back 3 claimed deliveries at the stop" in caplog.messages  # the rest
    final = await statuses(cora, raised.alert.id)
    assert sorted(status for status, _ in final.values()) == [
        *[DeliveryStatus.PENDING] * 3,
        *[DeliveryStatus.SENT] * 2,
    ]
    assert all(claimed_by is None for _, claimed_by in final.values())


async def test_a_stop_claims_nothing_more_while_it_shuts_the_rest_down(
    api: LocalBotApi, settings: Settings
) -> None:
    """A stop first tells the outbox to claim nothing more: the rest of the shut-down (here the
    last getUpdates, which confirms the updates fetched, answered late) does not keep it
    sending. The batch in flight is still sent and recorded; the rest waits for the next
    start."""
    # The stop must begin while the first batch is still in flight: 3 s leave room for a busy
    # machine (1.5 s did not always, and the next batch was sent before the stop began).
    async with five_police_answered_late(api, settings, late=3.0) as (cora, raised):
        api.faults.timeout_delay = 6.0  # for the stop's getUpdates: the batch is answered first
        api.faults.inject("getUpdates", kind="timeout", count=2)
        await cora.stop()
    final = await statuses(cora, raised.alert.id)
    assert sorted(status for status, _ in final.values()) == [
        *[DeliveryStatus.PENDING] * 3,
        *[DeliveryStatus.SENT] * 2,
    ]
    assert all(claimed_by is None for _, claimed_by in final.values())
    assert sum(len(alert_messages(user, raised.alert.ref)) for user in api.users) == 2


async def test_a_hand_over_while_a_batch_is_claimed_ahead_loses_neither(
    api: LocalBotApi, settings: Settings
) -> None:
    """A raise commits while the outbox records a batch and claims the next one. The raise's
    batch is sent first; the batch claimed ahead is still sent after it, not left claimed
    until the claim expires."""
    settings = settings.model_copy(update={"delivery_concurrency": 2})
    cora = build_application(settings)
    await cora.start()
    try:
        sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
        police = [await join(api, cora, f"Paul Polizei {n}", "police", "HRO") for n in range(5)]
        youth = [
            await join(api, cora, f"Jana Jugend {n}", "youth_welfare", "HRO") for n in range(2)
        ]
        first = await first_batch_answered_late(api, cora, sender, police)
        async with database_locked(settings):
            # The second raise and the record of the first batch (which claims the rest of
            # the first alert) both wait for the lock; whichever commits first, the outbox
            # then holds a batch claimed ahead and a hand-over.
            second = asyncio.create_task(
                cora.services.alerts.raise_alert(
                    sender.member_id, ["youth_welfare"], "HRO", "urgent", "Lage im Fall Eibe"
                )
            )
            await asyncio.sleep(BLOCKED_SECONDS + 0.5)
        later = await second
        # Well within DELIVERY_CLAIM_SECONDS (30 s), after which a lost claim would be
        # taken over.
        await settled(cora)
        for person in police:
            assert len(alert_messages(person.user, first.alert.ref)) == 1
        for person in youth:
            assert len(alert_messages(person.user, later.alert.ref)) == 1
    finally:
        await cora.stop()


@asynccontextmanager
async def two_instances_one_answered_late(
    api: LocalBotApi, settings: Settings, police_members: int, late: float
) -> AsyncIterator[tuple[CoraBot, list[Person], RaisedAlert]]:
    """Two bots on one database (PostgreSQL): the first sends two at a time and raises an urgent
    alert to `police_members` police members, whose first messages the fake answers `late`
    seconds late; yields once the first instance's batch is being sent and the second has
    started. Both are stopped at the end."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("several instances need PostgreSQL")
    first = build_application(settings.model_copy(update={"delivery_concurrency": 2}))
    await first.start()
    second = build_application(settings, instance_id="second-instance")
    try:
        sender = await join(api, first, "Sara Sender", "victim_support", "HRO")
        police = [
            await join(api, first, f"Paul Polizei {n}", "police", "HRO")
            for n in range(police_members)
        ]
        raised = await first_batch_answered_late(api, first, sender, police, late)
        await second.start(mode="none")
        yield first, police, raised
        await settled(second)
    finally:
        await second.stop()
        await first.stop()


async def test_sends_that_outlast_the_claim_are_not_taken_over_by_another_instance(
    api: LocalBotApi, settings: Settings
) -> None:
    """With several instances, a claim expires after DELIVERY_CLAIM_SECONDS so that a dead
    instance's deliveries are taken over. An instance that is alive but slow to send (the Bot
    API answers late, a long retry_after) renews its claims while it sends: the other instance
    does not take them over and send them a second time. (Claims of 2 s, renewed every 0.67 s,
    answers 4.5 s late: within the read timeout, a late answer, not a loss.)"""
    settings = settings.model_copy(
        update={"delivery_claim_seconds": 2.0, "delivery_idle_seconds": 0.2}
    )
    async with two_instances_one_answered_late(api, settings, 5, 4.5) as (first, police, raised):
        await settled(first)
    final = await statuses(first, raised.alert.id)
    assert [status for status, _ in final.values()] == [DeliveryStatus.SENT] * 5
    for person in police:
        assert len(alert_messages(person.user, raised.alert.ref)) == 1


async def test_claims_held_longer_than_ten_leases_are_left_to_another_instance(
    api: LocalBotApi, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The renewal has a bound: an instance that holds a batch for more than ten leases (here
    10 s: its sends hang, say) stops renewing it, and the other instance sends it. Perhaps a
    second time, but a hung instance never keeps an alert from its recipients."""
    caplog.set_level(logging.WARNING, logger="handlers.transport.outbox")
    settings = settings.model_copy(
        update={
            "delivery_claim_seconds": 1.0,
            "delivery_idle_seconds": 0.2,
            "telegram_read_timeout": 20.0,
        }
    )
    # Two police members: the first instance's first batch is the whole alert; its sends hang
    # for 14 s.
    async with two_instances_one_answered_late(api, settings, 2, 14.0) as (first, police, raised):
        hung_since = asyncio.get_running_loop().time()
        # Before the hung sends are answered, the other instance has sent and recorded them
        # (the fake processed the hung ones at once: those people have a second copy).
        await asyncio.sleep(hung_since + 12.5 - asyncio.get_running_loop().time())
        now = await statuses(first, raised.alert.id)
        assert [status for status, _ in now.values()] == [DeliveryStatus.SENT] * 2
        for person in police:
            assert len(alert_messages(person.user, raised.alert.ref)) == 2
        assert any("held longer than 10 s" in message for message in caplog.messages)
