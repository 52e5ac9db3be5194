"""The outbox's rules, at the service level: order, retries, final states, claims."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.alerts import AlertService, EscalationPeriods
from bot.clock import ManualClock
from bot.delivery import DeliveryService, Outcome, Result
from bot.keys import TextCipher, generate_encryption_key
from bot.membership import ADMIN_ACTOR, MembershipService, TelegramIdentity
from bot.network import load_network
from bot.runtime import ALIVE_FOR, BEAT_SECONDS
from storage.db import Database
from storage.models import AuditEvent, Delivery, DeliveryStatus, Instance
from storage.uow import UnitOfWorkFactory


@dataclass
class Env:
    database: Database
    clock: ManualClock
    membership: MembershipService
    alerts: AlertService
    outbox: DeliveryService

    def instance(self, name: str) -> DeliveryService:
        return DeliveryService(
            UnitOfWorkFactory(self.database, self.clock),
            load_network(),
            instance_id=name,
            max_attempts=3,
            lease=timedelta(seconds=30),
        )

    async def member(self, n: int, sector: str, region: str) -> int:
        invite = await self.membership.create_invite(ADMIN_ACTOR, sector, region)
        progress = await self.membership.redeem_invite(
            TelegramIdentity(900 + n, 900 + n), invite.token
        )
        await self.membership.give_text(progress.member.id, f"Person {n}")
        done = await self.membership.give_text(progress.member.id, "Amt")
        return done.member.id

    async def statuses(self) -> dict[int, str]:
        async with self.database.read_sessions() as session:
            rows = (await session.scalars(select(Delivery).where(Delivery.kind == "alert"))).all()
            return {row.member_id: row.status for row in rows}


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    clock = ManualClock()
    uow = UnitOfWorkFactory(database, clock)
    network = load_network()
    periods = EscalationPeriods(timedelta(minutes=15), timedelta(hours=4))
    alerts = AlertService(uow, network, TextCipher([generate_encryption_key()]), periods)
    outbox = DeliveryService(uow, network, instance_id="one", max_attempts=3)
    yield Env(database, clock, MembershipService(uow, network, 90), alerts, outbox)
    await database.dispose()


async def test_urgent_alerts_are_claimed_before_normal_ones(env: Env) -> None:
    sender = await env.member(0, "victim_support", "HRO")
    await env.member(1, "police", "HRO")
    await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Erst normal")
    env.clock.advance(timedelta(seconds=1))
    urgent = await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Dann dringend")
    jobs = await env.outbox.claim(1)
    assert [job.alert_id for job in jobs] == [urgent.alert.id]


async def test_a_revoked_recipient_gets_nothing_more(env: Env) -> None:
    sender = await env.member(0, "victim_support", "HRO")
    recipient = await env.member(1, "police", "HRO")
    other = await env.member(2, "police", "HRO")
    await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
    await env.membership.revoke(ADMIN_ACTOR, recipient)
    jobs = await env.outbox.claim(10)
    assert [job.member_id for job in jobs if job.kind == "alert"] == [other]
    assert (await env.statuses())[recipient] == DeliveryStatus.CANCELLED
    # The news of the revocation itself still reaches the person.
    assert [job.kind for job in jobs if job.member_id == recipient] == ["decision"]


async def test_retries_honour_retry_after_and_end_in_a_final_state(env: Env) -> None:
    sender = await env.member(0, "victim_support", "HRO")
    await env.member(1, "police", "HRO")
    await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
    [job] = await env.outbox.claim(10)
    await env.outbox.record([Result(job.id, Outcome.RETRY, retry_after=7)])
    assert await env.outbox.claim(10) == []  # not due yet
    env.clock.advance(timedelta(seconds=7))
    [again] = await env.outbox.claim(10)
    assert again.id == job.id and again.attempts == 2
    await env.outbox.record([Result(job.id, Outcome.RETRY, error="500")])
    env.clock.advance(timedelta(minutes=10))
    [third] = await env.outbox.claim(10)
    await env.outbox.record([Result(third.id, Outcome.RETRY, error="500")])
    # Three attempts were allowed: the delivery is given up, never retried forever.
    env.clock.advance(timedelta(hours=1))
    assert await env.outbox.claim(10) == []
    assert set((await env.statuses()).values()) == {DeliveryStatus.FAILED}


async def test_a_failed_send_is_retried_after_delivery_retry_seconds_then_twice_as_long(
    env: Env,
) -> None:
    """DELIVERY_RETRY_SECONDS=10: the first retry after 10 s, the second after 20 s (each
    with up to 20 % jitter)."""
    outbox = DeliveryService(
        UnitOfWorkFactory(env.database, env.clock),
        load_network(),
        instance_id="one",
        backoff_first=10.0,
    )
    sender = await env.member(0, "victim_support", "HRO")
    await env.member(1, "police", "HRO")
    await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
    [job] = await outbox.claim(10)
    for delay in (10, 20):
        await outbox.record([Result(job.id, Outcome.RETRY, error="500")])
        env.clock.advance(timedelta(seconds=delay * 0.8 - 0.1))
        assert await outbox.claim(10) == []  # not due yet
        env.clock.advance(timedelta(seconds=delay * 0.4 + 0.1))
        [job] = await outbox.claim(10)


async def test_claims_of_a_dead_instance_are_taken_over_when_they_expire(env: Env) -> None:
    sender = await env.member(0, "victim_support", "HRO")
    await env.member(1, "police", "HRO")
    await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
    dead, alive = env.instance("dead"), env.instance("alive")
    [claimed] = await dead.claim(10)
    assert await alive.claim(10) == []
    env.clock.advance(timedelta(seconds=31))
    [taken_over] = await alive.claim(10)
    assert taken_over.id == claimed.id
    # The dead instance's late answer no longer counts; the living one's does.
    await dead.record([Result(claimed.id, Outcome.FAILED, error="late")])
    await alive.record([Result(taken_over.id, Outcome.SENT, message_id=5)])
    assert set((await env.statuses()).values()) == {DeliveryStatus.SENT}


async def test_each_final_state_is_audited_once(env: Env) -> None:
    sender = await env.member(0, "victim_support", "HRO")
    first = await env.member(1, "police", "HRO")
    second = await env.member(2, "police", "HRO")
    await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
    jobs = {job.member_id: job for job in await env.outbox.claim(10)}
    await env.outbox.record(
        [
            Result(jobs[first].id, Outcome.SENT, message_id=1),
            Result(jobs[second].id, Outcome.UNREACHABLE, error="403"),
        ]
    )
    async with env.database.read_sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))).all()
    assert actions.count("delivery.sent") == 1
    assert actions.count("delivery.unreachable") == 1
    assert actions.count("member.unreachable") == 1


async def test_recording_a_batch_claims_the_next_in_the_same_transaction(env: Env) -> None:
    """The outbox records a batch's outcomes and claims its next batch with one commit: the
    outcomes are stored, the next deliveries are claimed (recorded before they are sent), and
    one rescheduled by this very record is not claimed again before it is due."""
    sender = await env.member(0, "victim_support", "HRO")
    members = [await env.member(n, "police", "HRO") for n in range(1, 5)]
    await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
    first, second = await env.outbox.claim(2)
    recorded = await env.outbox.record(
        [
            Result(first.id, Outcome.SENT, message_id=1),
            Result(second.id, Outcome.RETRY, retry_after=30, error="429 retry after"),
        ],
        claim=10,
    )
    assert recorded.finished == {DeliveryStatus.SENT: 1}
    assert sorted(job.member_id for job in recorded.claimed) == sorted(
        set(members) - {first.member_id, second.member_id}
    )
    assert await env.statuses() == {
        first.member_id: DeliveryStatus.SENT,
        second.member_id: DeliveryStatus.PENDING,
        **{job.member_id: DeliveryStatus.SENDING for job in recorded.claimed},
    }
    # Claimed for this instance: nobody else takes them, and their outcomes count.
    assert await env.instance("other").claim(10) == []
    await env.outbox.record(
        [Result(job.id, Outcome.SENT, message_id=2) for job in recorded.claimed]
    )
    env.clock.advance(timedelta(seconds=30))
    [retried] = await env.outbox.claim(10)
    assert retried.id == second.id


async def test_instances_count_while_they_beat_and_a_silent_or_stopped_one_no_longer(
    env: Env,
) -> None:
    """The running instances split Telegram's limit (bot/runtime.py): each counts those seen
    within ALIVE_FOR. A killed one stops beating and its share returns after ALIVE_FOR; one
    that stops counts one second more; one gone for a day is forgotten."""
    first, second = env.instance("first"), env.instance("second")
    assert await first.beat(ALIVE_FOR) == 1
    assert await second.beat(ALIVE_FOR) == 2
    assert await first.beat(ALIVE_FOR) == 2  # the same instance again: still two
    env.clock.advance(ALIVE_FOR - timedelta(seconds=BEAT_SECONDS))
    assert await first.beat(ALIVE_FOR) == 2  # `second` was seen lately enough
    env.clock.advance(timedelta(seconds=2 * BEAT_SECONDS))
    assert await first.beat(ALIVE_FOR) == 1  # `second` was killed: its share returns
    assert await second.beat(ALIVE_FOR) == 2  # and back
    await second.leave(ALIVE_FOR)
    assert await first.beat(ALIVE_FOR) == 2  # its last second still counts at Telegram
    env.clock.advance(timedelta(seconds=1))
    assert await first.beat(ALIVE_FOR) == 1
    await second.beat(ALIVE_FOR)
    env.clock.advance(timedelta(days=2))
    await first.beat(ALIVE_FOR)
    async with env.database.read_sessions() as session:
        assert (await session.scalars(select(Instance.instance_id))).all() == ["first"]
