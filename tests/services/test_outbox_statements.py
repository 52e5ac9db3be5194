"""What the outbox's claim and record send to the database: Core statements, no ORM row object
loaded, one UPDATE per kind of change; and still the same rules (claimed, cancelled, quiet
hours, final states, retries, audit events, a member's reachability, coordinators told once)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.delivery import Outcome, Result
from bot.timing.quiet import QuietHours
from storage.db import Database
from storage.models import AuditEvent, Delivery, DeliveryStatus, Member
from tests.network_env import Env, berlin, build_env
from tests.services.test_raise_statements import watching


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    env = build_env(database, berlin(2026, 12, 1, 10), timedelta(hours=1))
    yield env
    await database.dispose()


async def _actions(env: Env) -> list[str]:
    async with env.database.read_sessions() as session:
        return list(
            (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))).all()
        )


async def _member(env: Env, member_id: int) -> Member:
    async with env.database.read_sessions() as session:
        member = await session.get(Member, member_id)
    assert member is not None
    return member


async def test_claim_and_record_load_no_row_objects_and_keep_the_rules(env: Env) -> None:
    sender = await env.member("victim_support", "HRO")
    coordinator = await env.member("police", "HRO", role="coordinator")
    quiet, blocked, busy, gone = [await env.member("police", "HRO") for _ in range(4)]
    # 10:00 in Berlin lies in her quiet hours: a normal alert reaches her silently.
    await env.availability.set_quiet_hours(quiet, QuietHours(9 * 60, 11 * 60))
    async with env.database.write_sessions() as session:
        await session.execute(update(Member).where(Member.id == gone).values(chat_id=None))
        await session.commit()
    raised = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Lage")
    before = len(await _actions(env))

    with watching(env) as seen:
        jobs = {job.member_id: job for job in await env.outbox.claim(10)}
    assert seen.loaded == [] and seen.flushed == []
    assert seen.statements == [
        "UPDATE deliveries",  # expired claims handed back
        "SELECT deliveries",  # the due ones with their members' columns
        "UPDATE deliveries",  # the one to a member without a chat: cancelled
        "UPDATE deliveries",  # the others: claimed, one statement
        "UPDATE audit_head",
        "INSERT audit_events",
    ]
    assert set(jobs) == {coordinator, quiet, blocked, busy}
    assert jobs[quiet].silent and not jobs[busy].silent
    assert all(job.attempts == 1 for job in jobs.values())

    with watching(env) as seen:
        recorded = await env.outbox.record(
            [
                Result(jobs[coordinator].id, Outcome.SENT, message_id=71),
                Result(jobs[quiet].id, Outcome.SENT, message_id=72),
                Result(jobs[blocked].id, Outcome.UNREACHABLE, error="403 blocked"),
                Result(jobs[busy].id, Outcome.RETRY, retry_after=7, error="429 retry after"),
            ]
        )
    # Row objects only where a member became unreachable: the region's coordinator, read
    # to be told, and the new notice to her.
    assert seen.loaded == ["Member"] and seen.flushed == ["Delivery"]
    assert seen.statements[:3] == [
        "SELECT deliveries",  # the batch, locked, with its members' reachability
        "UPDATE deliveries",  # the final states (executemany)
        "UPDATE deliveries",  # the retry
    ]
    assert recorded.finished == {"sent": 2, "unreachable": 1}
    assert recorded.alert_ids == {raised.alert.id} and recorded.new_deliveries == 1

    rows = {d.member_id: d for d in await env.deliveries(raised.alert.id)}
    assert {m: rows[m].status for m in rows} == {
        coordinator: DeliveryStatus.SENT,
        quiet: DeliveryStatus.SENT,
        blocked: DeliveryStatus.UNREACHABLE,
        busy: DeliveryStatus.PENDING,
        gone: DeliveryStatus.CANCELLED,
    }
    assert (rows[coordinator].telegram_message_id, rows[quiet].telegram_message_id) == (71, 72)
    assert all(rows[m].finished_at == env.clock.now() for m in (coordinator, blocked, gone))
    assert rows[busy].next_attempt_at == env.clock.now() + timedelta(seconds=7)
    assert rows[busy].last_error == "429 retry after" and rows[busy].finished_at is None
    assert rows[blocked].last_error == "403 blocked"
    assert all(d.claimed_by is None and d.claimed_until is None for d in rows.values())
    assert (await _member(env, blocked)).unreachable_since == env.clock.now()
    notices = await env.deliveries(raised.alert.id, kinds=["unreachable"])
    assert notices == []  # the notice belongs to no alert
    new = (await _actions(env))[before:]
    assert sorted(new) == sorted(
        [
            "delivery.cancelled",
            "delivery.sent",
            "delivery.sent",
            "delivery.unreachable",
            "member.unreachable",
        ]
    )

    # The coordinator is told once; the retry comes back when it is due.
    env.after(seconds=8)
    sent = await env.deliver()
    assert sorted((job.kind, job.member_id) for job in sent) == [
        ("alert", busy),
        ("unreachable", coordinator),
    ]
    assert [job.attempts for job in sent if job.kind == "alert"] == [2]


async def test_a_member_reached_again_is_no_longer_unreachable(env: Env) -> None:
    sender = await env.member("victim_support", "HRO")
    await env.member("police", "HRO", role="coordinator")
    blocked = await env.member("police", "HRO")
    env.blocked.add(blocked)
    await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Lage")
    await env.deliver()
    assert (await _member(env, blocked)).unreachable_since is not None
    env.blocked.clear()
    env.after(minutes=5)
    await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Lage 2")
    with watching(env) as seen:
        await env.deliver()
    assert seen.loaded == []
    assert (await _member(env, blocked)).unreachable_since is None
    actions = await _actions(env)
    assert actions.count("member.unreachable") == 1


async def test_two_deliveries_to_one_unreachable_member_tell_the_coordinators_once(
    env: Env,
) -> None:
    sender = await env.member("victim_support", "HRO")
    coordinator = await env.member("police", "HRO", role="coordinator")
    blocked = await env.member("police", "HRO")
    env.blocked.add(blocked)
    first = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Lage")
    second = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Lage 2")
    sent = await env.deliver()
    assert sorted(j.member_id for j in sent if j.kind == "alert") == sorted(
        [coordinator, blocked] * 2
    )
    assert [j.member_id for j in sent if j.kind == "unreachable"] == [coordinator]
    for alert in (first, second):
        [mine] = [d for d in await env.deliveries(alert.alert.id) if d.member_id == blocked]
        assert mine.status == DeliveryStatus.UNREACHABLE
    assert (await _actions(env)).count("member.unreachable") == 1
    async with env.database.read_sessions() as session:
        kinds = (await session.scalars(select(Delivery.kind))).all()
    assert kinds.count("unreachable") == 1
