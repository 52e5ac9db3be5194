"""Drills at the service level: who may run them, that they never reach beyond their
recipients, their references, and the result figures with exact times."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.alerts import AlertView
from bot.drills import DRILL_RESULT_NOTICE, AckTime, DrillResult, SectorReach
from bot.errors import DomainError
from bot.membership import MemberView
from bot.network import load_network
from handlers.common.render import MESSAGE_LIMIT
from handlers.drills.views import result_message
from storage.db import Database
from storage.models import RecipientReason
from tests.network_env import DRILL_WINDOW, NORMAL_AFTER, URGENT_AFTER, Env, berlin, build_env


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    yield build_env(database, berlin(2026, 11, 3, 9), timedelta(hours=1))
    await database.dispose()


async def test_only_a_coordinator_of_the_region_runs_a_drill(env: Env) -> None:
    member = await env.member("police", "HRO")
    vg = await env.member("coordination", "VG", role="coordinator")
    state = await env.member("coordination", "MV", role="coordinator")
    for who, key in ((member, "error.coordinators_only"), (vg, "error.outside_scope")):
        with pytest.raises(DomainError) as refused:
            await env.drills.start(who, ["police"], "HRO", "normal")
        assert refused.value.message_key == key
    drill = await env.drills.start(state, ["police"], "HRO", "normal")
    assert drill.alert.drill and drill.alert.ref == "U-2026-0001" and drill.recipients == 1
    # Drills have their own numbers: real case references keep running without gaps.
    real = await env.alerts.raise_alert(member, ["coordination"], "VG", "normal", "Frage")
    assert real.alert.ref == "F-2026-0001" and not real.alert.drill


async def test_a_drill_never_escalates_beyond_its_recipients(env: Env) -> None:
    coordinator = await env.member("coordination", "HRO", role="coordinator")
    other = await env.member("coordination", "HRO", role="coordinator")
    state = await env.member("coordination", "MV", role="coordinator")
    police = await env.member("police", "HRO")
    drill = await env.drills.start(coordinator, ["police"], "HRO", "urgent")
    await env.deliver()
    env.after(seconds=URGENT_AFTER.total_seconds())
    [escalated] = await env.alerts.escalate_due()
    assert (escalated.level, escalated.next_at) == (1, None)
    reminders = await env.deliver()
    assert [(job.kind, job.member_id) for job in reminders] == [("alert_reminder", police)]
    env.after(hours=10)
    assert await env.alerts.escalate_due() == []
    rows = await env.recipients(drill.alert.id)
    assert set(rows) == {police}
    assert all(r.reason != RecipientReason.ESCALATION for r in rows.values())
    assert other not in rows and state not in rows


async def test_a_drill_nobody_can_receive_brings_in_nobody(env: Env) -> None:
    coordinator = await env.member("coordination", "HRO", role="coordinator")
    await env.member("coordination", "MV", role="coordinator")
    drill = await env.drills.start(coordinator, ["perpetrator_work"], "HRO", "urgent")
    assert drill.recipients == 0 and drill.alert.escalate_at is None
    env.after(hours=2)
    assert await env.alerts.escalate_due() == []
    result = await env.drills.result(coordinator, drill.alert.ref)
    assert (result.members, result.delivered, result.acks) == (0, 0, ())


async def test_the_result_gives_reach_each_acknowledgement_and_who_did_not_answer(
    env: Env,
) -> None:
    coordinator = await env.member("coordination", "HRO", role="coordinator")
    police_a = await env.member("police", "HRO")
    police_b = await env.member("police", "HRO")
    youth = await env.member("youth_welfare", "HRO")
    health = await env.member("health", "HRO")  # blocked the bot
    nurse = await env.member("health", "HRO")  # away, nobody stands in
    await env.availability.away(nurse, date(2026, 11, 6), None)
    env.blocked.add(health)
    start = env.clock.now()
    drill = await env.drills.start(
        coordinator, ["police", "youth_welfare", "health"], "HRO", "normal"
    )
    await env.deliver()
    env.at(start + timedelta(seconds=42))
    await env.alerts.acknowledge(police_a, drill.alert.id)
    env.at(start + timedelta(seconds=90))
    await env.alerts.take_over(youth, drill.alert.id)  # taking over counts as answering
    result = await env.drills.result(coordinator, drill.alert.ref.lower())
    assert (result.members, result.delivered, result.unreachable, result.pending) == (5, 3, 1, 0)
    assert [(a.member.id, a.sector, a.seconds) for a in result.acks] == [
        (police_a, "police", 42.0),
        (youth, "youth_welfare", 90.0),
    ]
    assert result.first_ack_seconds == 42.0
    assert [m.id for m in result.not_answered] == [police_b, health]
    assert [m.id for m in result.away] == [nurse]
    assert [
        (s.sector, s.members, s.delivered, s.acknowledged, s.first_ack_seconds)
        for s in result.sectors
    ] == [
        ("police", 2, 2, 1, 42.0),
        ("youth_welfare", 1, 1, 1, 90.0),
        ("health", 2, 0, 0, None),
    ]
    # Only the coordinator who ran it and those responsible for the region see the result.
    with pytest.raises(DomainError):
        await env.drills.result(police_a, drill.alert.ref)


async def test_a_drill_ends_after_its_window_and_its_result_goes_to_its_sender(
    env: Env,
) -> None:
    coordinator = await env.member("coordination", "HRO", role="coordinator")
    police = await env.member("police", "HRO")
    drill = await env.drills.start(coordinator, ["police"], "HRO", "normal")
    assert await env.drills.deadlines() == [(drill.alert.id, env.clock.now() + DRILL_WINDOW)]
    await env.deliver()
    env.after(seconds=DRILL_WINDOW.total_seconds() - 1)
    assert await env.drills.finish_due() == []
    env.after(seconds=1)
    assert await env.drills.finish_due() == [drill.alert.id]
    assert await env.drills.finish_due() == []  # once
    [result] = await env.deliver()
    assert (result.kind, result.member_id, result.alert_id) == (
        DRILL_RESULT_NOTICE,
        coordinator,
        drill.alert.id,
    )
    assert await env.drills.deadlines() == []
    # The exercise is over: late answers are refused, and it escalates no more.
    with pytest.raises(DomainError) as closed:
        await env.alerts.acknowledge(police, drill.alert.id)
    assert closed.value.message_key == "alert.closed"
    env.after(seconds=NORMAL_AFTER.total_seconds())
    assert await env.alerts.escalate_due() == []


def test_the_result_of_a_big_drill_still_fits_into_one_message() -> None:
    people = tuple(
        MemberView(
            id=i,
            telegram_user_id=None,
            chat_id=None,
            display_name="N" * 100,
            institution="I" * 200,
            sector="police",
            region="HRO",
            role="member",
            status="active",
            language=None,
        )
        for i in range(1, 301)
    )
    sent = datetime(2026, 11, 3, 8, tzinfo=UTC)
    alert = AlertView(
        id=1,
        ref="U-2026-0001",
        sender=people[0],
        sectors=("police",),
        region="HRO",
        urgency="normal",
        status="closed",
        created_at=sent,
        taken_by=None,
        taken_at=None,
        escalation_level=0,
        escalate_at=None,
        status_chat_id=None,
        status_message_id=None,
        drill=True,
    )
    result = DrillResult(
        alert=alert,
        members=300,
        delivered=290,
        pending=0,
        unreachable=10,
        failed=0,
        acks=tuple(AckTime(p, "police", float(i)) for i, p in enumerate(people[:150])),
        not_answered=people[150:],
        away=(),
        sectors=(SectorReach("police", 300, 290, 150, 0.0),),
    )
    text = result_message(result, load_network(), "de", "Europe/Berlin")
    assert len(text) <= MESSAGE_LIMIT
    assert re.search(r"… und \d+ weitere \(vollständig mit <code>/drillresult U-2026-0001", text)
    assert "Erreicht: <b>290/300</b> zugestellt (97 %)" in text
