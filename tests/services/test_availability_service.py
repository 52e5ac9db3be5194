"""Absences and deputies, quiet hours and further regions, at the service level with a clock
that only moves when told to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.availability import (
    ABSENCE_DIGEST_NOTICE,
    DEPUTY_ENDED_NOTICE,
    DEPUTY_NOTICE,
    REGION_REQUEST_NOTICE,
)
from bot.delivery import Outcome, Result
from bot.errors import DomainError
from bot.membership import ADMIN_ACTOR
from bot.timing.quiet import QuietHours, parse_quiet_hours
from storage.db import Database
from storage.models import AuditEvent, Delivery, RecipientReason
from tests.network_env import Env, berlin, build_env


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    yield build_env(database, berlin(2026, 12, 1, 10), timedelta(hours=1))
    await database.dispose()


async def actions(env: Env) -> list[str]:
    async with env.database.read_sessions() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


# -- absences and deputies -------------------------------------------------------------------


async def test_an_away_members_alert_goes_to_their_deputy_and_nobody_gets_it_twice(
    env: Env,
) -> None:
    sender = await env.member("victim_support", "HRO")
    anna = await env.member("police", "HRO")
    bert = await env.member("police", "HRO")  # Anna's deputy, and a recipient himself
    carl = await env.member("police", "LRO")  # Dora's deputy from another region
    dora = await env.member("police", "HRO")
    await env.availability.away(anna, date(2026, 12, 10), bert)
    await env.availability.away(dora, date(2026, 12, 5), carl)
    raised = await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
    assert raised.recipients == 2
    rows = await env.recipients(raised.alert.id)
    assert {m: (r.reason, r.deputy_id) for m, r in rows.items()} == {
        anna: (RecipientReason.AWAY, bert),
        bert: (RecipientReason.TARGET, None),
        carl: (RecipientReason.DEPUTY, None),
        dora: (RecipientReason.AWAY, carl),
    }
    jobs = [job for job in await env.deliver() if job.kind == "alert"]
    assert sorted((job.member_id, job.params.get("deputy_for")) for job in jobs) == sorted(
        [(bert, str(anna)), (carl, str(dora))]
    )
    status = await env.alerts.status(raised.alert.id)
    assert [(d.id, a.id) for d, a in status.deputies] == [(bert, anna), (carl, dora)]
    assert status.away == () and status.recipients == 2 and status.delivered == 2
    # The absent members cannot act on it; their deputies can.
    with pytest.raises(DomainError, match=r"alert\.not_recipient"):
        await env.alerts.acknowledge(anna, raised.alert.id)
    await env.alerts.acknowledge(carl, raised.alert.id)


async def test_no_chains_a_deputy_who_is_away_stands_in_for_nobody(env: Env) -> None:
    sender = await env.member("victim_support", "HRO")
    anna = await env.member("police", "HRO")
    bert = await env.member("police", "HRO")
    await env.availability.away(anna, date(2026, 12, 10), bert)
    await env.availability.away(bert, date(2026, 12, 3), None)
    raised = await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
    assert raised.recipients == 0
    status = await env.alerts.status(raised.alert.id)
    assert [m.id for m in status.away] == [anna, bert] and status.deputies == ()
    # Nobody can receive it: the coordinators are brought in at once, as always.
    assert raised.alert.escalate_at == env.clock.now()
    assert [job for job in await env.deliver() if job.kind == "alert"] == []


async def test_the_sender_does_not_stand_in_for_a_recipient(env: Env) -> None:
    sender = await env.member("police", "HRO")
    anna = await env.member("police", "HRO")
    await env.availability.away(anna, date(2026, 12, 10), sender)
    raised = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Lage")
    assert raised.recipients == 0
    assert [m.id for m in (await env.alerts.status(raised.alert.id)).away] == [anna]


async def test_the_deputy_is_told_and_hears_when_the_absence_ends(env: Env) -> None:
    anna = await env.member("police", "HRO")
    bert = await env.member("police", "VG")
    await env.availability.away(anna, date(2026, 12, 10), bert)
    [notice] = await env.deliver()
    assert (notice.kind, notice.member_id, notice.params) == (
        DEPUTY_NOTICE,
        bert,
        {"member": anna, "until": "2026-12-10"},
    )
    assert (await env.availability.back(anna)) is not None
    [ended] = await env.deliver()
    assert (ended.kind, ended.member_id) == (DEPUTY_ENDED_NOTICE, bert)
    assert await env.availability.back(anna) is None
    own = [a for a in await actions(env) if a in ("member.away", "member.back")]
    assert own == ["member.away", "member.back"]  # the second /back changed nothing


async def test_an_absence_ends_with_its_last_day_in_the_networks_time_zone(env: Env) -> None:
    sender = await env.member("victim_support", "HRO")
    anna = await env.member("police", "HRO")
    await env.availability.away(anna, date(2026, 12, 10), None)
    count = env.alerts.count_recipients
    assert await count(sender, ["police"], "HRO") == 0
    env.at(berlin(2026, 12, 10, 23, 59))  # 22:59 UTC: still the 10th in Berlin
    assert await count(sender, ["police"], "HRO") == 0
    assert (await env.availability.absences([anna]))[anna].until_day == date(2026, 12, 10)
    env.at(berlin(2026, 12, 11, 0, 0))
    assert await count(sender, ["police"], "HRO") == 1
    assert await env.availability.absences([anna]) == {}


async def test_an_absence_that_ran_out_while_the_bot_was_down_still_brings_the_digest(
    env: Env,
) -> None:
    sender = await env.member("victim_support", "HRO")
    anna = await env.member("police", "HRO")
    bert = await env.member("police", "VG")
    away = await env.availability.away(anna, date(2026, 12, 3), bert)
    carl = await env.member("police", "HRO")
    old = await env.availability.away(carl, date(2026, 12, 1), None)
    # What start-up schedules: every absence not yet ended, at its end.
    assert sorted(await env.availability.due_times()) == [
        (away.id, away.ends_at),
        (old.id, old.ends_at),
    ]
    raised = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Lage")
    await env.deliver()
    assert await env.availability.end_due() == []  # nothing has run out yet
    # Down from the 1st to the 5th: both end at once; the digest still goes to Anna (her
    # absence ran out 1.5 days ago) and Carl (3.5 days), and the deputy hears it is over.
    env.at(berlin(2026, 12, 5, 12))
    ended = await env.availability.end_due()
    assert sorted(ended) == sorted([anna, carl])
    assert sorted((j.kind, j.member_id, j.subject_id) for j in await env.deliver()) == sorted(
        [
            (ABSENCE_DIGEST_NOTICE, anna, away.id),
            (ABSENCE_DIGEST_NOTICE, carl, old.id),
            (DEPUTY_ENDED_NOTICE, bert, None),
        ]
    )
    assert await env.availability.end_due() == [] and await env.availability.due_times() == []
    digest = await env.availability.digest(away.id)
    assert digest is not None and [a.ref for a in digest.alerts] == [raised.alert.ref]
    # Back, Anna answers in her own name.
    seen = await env.alerts.acknowledge(anna, raised.alert.id)
    assert not seen.already
    rows = await env.recipients(raised.alert.id)
    assert rows[anna].reason == RecipientReason.TARGET and rows[anna].acknowledged_at


async def test_an_absence_that_ran_out_over_a_week_ago_ends_without_a_digest(env: Env) -> None:
    anna = await env.member("police", "HRO")
    bert = await env.member("police", "VG")
    await env.availability.away(anna, date(2026, 12, 1), bert)
    await env.deliver()
    env.at(berlin(2026, 12, 9, 12))  # the bot was down for more than 7 days
    assert await env.availability.end_due() == [anna]
    assert [(j.kind, j.member_id) for j in await env.deliver()] == [(DEPUTY_ENDED_NOTICE, bert)]


async def test_an_absent_member_cannot_answer_the_alerts_their_deputy_got(env: Env) -> None:
    sender = await env.member("victim_support", "HRO")
    anna = await env.member("police", "HRO")
    bert = await env.member("police", "VG")
    await env.availability.away(anna, date(2026, 12, 3), bert)
    raised = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Lage")
    with pytest.raises(DomainError) as refused:
        await env.alerts.take_over(anna, raised.alert.id)
    assert refused.value.message_key == "alert.not_recipient"


async def test_back_ends_an_absence_early_and_a_new_one_replaces_the_old(env: Env) -> None:
    sender = await env.member("victim_support", "HRO")
    anna = await env.member("police", "HRO")
    bert = await env.member("police", "HRO")
    carl = await env.member("police", "VG")
    await env.availability.away(anna, date(2026, 12, 10), carl)
    replaced = await env.availability.away(anna, date(2026, 12, 12), bert)
    current = await env.availability.absences([anna])
    assert current[anna].id == replaced.id and current[anna].deputy is not None
    # The first deputy hears that they no longer stand in; the new one that they do.
    assert sorted((job.kind, job.member_id) for job in await env.deliver()) == sorted(
        [(DEPUTY_NOTICE, carl), (DEPUTY_ENDED_NOTICE, carl), (DEPUTY_NOTICE, bert)]
    )
    await env.availability.back(anna)
    assert await env.alerts.count_recipients(sender, ["police"], "HRO") == 2  # Carl is in VG


async def test_a_deputy_must_be_present_from_the_same_sector_and_not_oneself(env: Env) -> None:
    anna = await env.member("police", "HRO")
    judge = await env.member("justice", "HRO")
    bert = await env.member("police", "HRO")
    await env.availability.away(bert, date(2026, 12, 4), None)
    cases = {
        "away.deputy_other_sector": (date(2026, 12, 10), judge),
        "away.deputy_self": (date(2026, 12, 10), anna),
        "away.deputy_away": (date(2026, 12, 10), bert),
        "error.unknown_member": (date(2026, 12, 10), 9999),
        "away.in_the_past": (date(2026, 11, 30), None),
        "away.too_long": (date(2028, 1, 1), None),
    }
    for key, (until, deputy) in cases.items():
        with pytest.raises(DomainError) as refused:
            await env.availability.away(anna, until, deputy)
        assert refused.value.message_key == key
    assert await env.availability.absences([anna]) == {}


async def test_a_deputy_who_changed_sector_no_longer_stands_in(env: Env) -> None:
    sender = await env.member("victim_support", "HRO")
    anna = await env.member("police", "HRO")
    bert = await env.member("police", "VG")
    await env.availability.away(anna, date(2026, 12, 10), bert)
    await env.membership.change(ADMIN_ACTOR, bert, sector="justice")
    raised = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Lage")
    assert raised.recipients == 0
    assert [m.id for m in (await env.alerts.status(raised.alert.id)).away] == [anna]


async def test_escalation_still_reaches_an_absent_coordinator(env: Env) -> None:
    sender = await env.member("victim_support", "HRO")
    coordinator = await env.member("coordination", "HRO", role="coordinator")
    await env.availability.away(coordinator, date(2026, 12, 10), None)
    raised = await env.alerts.raise_alert(sender, ["coordination", "police"], "HRO", "urgent", "?")
    assert raised.recipients == 0
    [escalated] = await env.alerts.escalate_due()
    assert escalated.level == 1
    rows = await env.recipients(raised.alert.id)
    assert rows[coordinator].reason == RecipientReason.ESCALATION
    assert [job.member_id for job in await env.deliver() if job.kind == "escalation"] == [
        coordinator
    ]


# -- quiet hours -----------------------------------------------------------------------------


def test_quiet_hours_are_read_the_way_people_write_them() -> None:
    assert parse_quiet_hours("22:00-07:00") == QuietHours(22 * 60, 7 * 60)
    assert parse_quiet_hours("22-7") == QuietHours(22 * 60, 7 * 60)
    assert parse_quiet_hours("12:30 – 13:15") == QuietHours(750, 795)
    assert parse_quiet_hours("off") is None and parse_quiet_hours("aus") is None
    for wrong, key in (("22:00", "quiet.usage"), ("25-7", "quiet.usage"), ("7-7", "quiet.empty")):
        with pytest.raises(DomainError) as refused:
            parse_quiet_hours(wrong)
        assert refused.value.message_key == key
    night = QuietHours(22 * 60, 7 * 60)
    assert [night.contains(h * 60) for h in (21, 22, 23, 0, 6, 7)] == [
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    assert night.text() == "22:00-07:00"


async def test_normal_messages_arrive_silently_in_quiet_hours_urgent_ones_always_ring(
    env: Env,
) -> None:
    sender = await env.member("victim_support", "HRO")
    sleeper = await env.member("police", "HRO")
    awake = await env.member("police", "HRO")
    await env.availability.set_quiet_hours(sleeper, QuietHours(22 * 60, 7 * 60))
    env.at(berlin(2026, 12, 1, 23, 30))
    normal = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Rückruf morgen")
    urgent = await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Jetzt")
    jobs = await env.deliver()
    silent = {(job.member_id, job.alert_id): job.silent for job in jobs}
    assert silent == {
        (sleeper, normal.alert.id): True,
        (sleeper, urgent.alert.id): False,
        (awake, normal.alert.id): False,
        (awake, urgent.alert.id): False,
    }
    # A follow-up to the normal alert is just as quiet; the urgent one's rings.
    await env.alerts.follow_up(sender, normal.alert.id, "Nachtrag")
    await env.alerts.follow_up(sender, urgent.alert.id, "Nachtrag")
    followed = {(job.member_id, job.alert_id): job.silent for job in await env.deliver()}
    assert followed[(sleeper, normal.alert.id)] is True
    assert followed[(sleeper, urgent.alert.id)] is False
    env.at(berlin(2026, 12, 2, 7, 0))  # the window ends at 07:00
    await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Guten Morgen")
    assert {job.member_id: job.silent for job in await env.deliver()} == {
        sleeper: False,
        awake: False,
    }


async def test_silence_is_decided_when_a_message_is_sent_not_when_it_was_queued(
    env: Env,
) -> None:
    sender = await env.member("victim_support", "HRO")
    sleeper = await env.member("police", "HRO")
    await env.availability.set_quiet_hours(sleeper, QuietHours(22 * 60, 7 * 60))
    env.at(berlin(2026, 12, 1, 21, 50))
    await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Rückruf")
    [first] = await env.outbox.claim(10)
    assert first.silent is False
    await env.outbox.record([Result(first.id, Outcome.RETRY, retry_after=20 * 60)])
    env.at(berlin(2026, 12, 1, 22, 10))
    [retry] = await env.outbox.claim(10)
    assert retry.id == first.id and retry.silent is True
    async with env.database.read_sessions() as session:
        stored = await session.get(Delivery, first.id)
    assert stored is not None and stored.silent is False  # the queued intent is unchanged


# -- further regions -------------------------------------------------------------------------


async def test_a_further_region_counts_once_a_coordinator_of_it_confirmed(env: Env) -> None:
    sender = await env.member("victim_support", "HRO")
    counsellor = await env.member("police", "LRO")
    hro = await env.member("coordination", "HRO", role="coordinator")
    vg = await env.member("coordination", "VG", role="coordinator")
    request = await env.availability.request_region(counsellor, "hro")
    assert request.request.region == "HRO" and request.coordinators == 1
    [asked] = await env.deliver()
    assert (asked.kind, asked.member_id) == (REGION_REQUEST_NOTICE, hro)
    assert await env.alerts.count_recipients(sender, ["police"], "HRO") == 0
    with pytest.raises(DomainError) as refused:
        await env.availability.decide_region(vg, request.request.id, confirm=True)
    assert refused.value.message_key == "error.outside_scope"
    decision = await env.availability.decide_region(hro, request.request.id, confirm=True)
    assert decision.confirmed and decision.member.id == counsellor
    assert await env.alerts.count_recipients(sender, ["police"], "HRO") == 1
    assert await env.alerts.count_recipients(sender, ["police"], "VG") == 0
    with pytest.raises(DomainError) as twice:
        await env.availability.decide_region(hro, request.request.id, confirm=False)
    assert twice.value.message_key == "regions.request_decided"
    await env.availability.remove_region(counsellor, "HRO")
    assert await env.alerts.count_recipients(sender, ["police"], "HRO") == 0
    assert [a for a in await actions(env) if a.startswith("member.region")] == [
        "member.region_requested",
        "member.region_confirmed",
        "member.region_removed",
    ]


async def test_a_declined_or_repeated_region_request(env: Env) -> None:
    counsellor = await env.member("victim_support", "LRO")
    state = await env.member("coordination", "MV", role="coordinator")
    for key, region in (("regions.already_covered", "LRO"), ("error.unknown_region", "XYZ")):
        with pytest.raises(DomainError) as refused:
            await env.availability.request_region(counsellor, region)
        assert refused.value.message_key == key
    first = await env.availability.request_region(counsellor, "SN")
    with pytest.raises(DomainError) as again:
        await env.availability.request_region(counsellor, "SN")
    assert again.value.message_key == "regions.already_pending"
    decision = await env.availability.decide_region(state, first.request.id, confirm=False)
    assert not decision.confirmed
    assert (await env.availability.availability(counsellor)).regions == ()
    # Declined requests may be asked again.
    await env.availability.request_region(counsellor, "SN")


# -- data protection -------------------------------------------------------------------------


async def test_availability_is_in_a_members_data_and_goes_with_erasure_and_retention(
    env: Env,
) -> None:
    sender = await env.member("police", "SN")
    anna = await env.member("victim_support", "HRO")
    bert = await env.member("victim_support", "HRO")
    state = await env.member("coordination", "MV", role="coordinator")
    await env.availability.away(anna, date(2026, 12, 10), bert)
    await env.availability.set_quiet_hours(anna, QuietHours(22 * 60, 7 * 60))
    request = await env.availability.request_region(anna, "SN")
    await env.availability.decide_region(state, request.request.id, confirm=True)
    await env.availability.back(anna)
    data = await env.data_protection.my_data(anna)
    assert data["member"]["quiet_hours"] == "22:00-07:00"
    assert [(a["deputy"], a["until_day"]) for a in data["absences"]] == [(bert, "2026-12-10")]
    assert [(r["region"], r["status"]) for r in data["further_regions"]] == [("SN", "confirmed")]
    assert [a["member"] for a in (await env.data_protection.my_data(bert))["deputy_for"]] == [anna]
    assert await env.alerts.count_recipients(sender, ["victim_support"], "SN") == 1

    await env.availability.away(anna, date(2026, 12, 20), None)
    await env.data_protection.erase(ADMIN_ACTOR, anna)
    assert await env.alerts.count_recipients(sender, ["victim_support"], "SN") == 0
    assert await env.availability.absences([anna]) == {}
    # Ended absences are kept only for the retention period.
    await env.availability.away(bert, date(2026, 12, 2), None)
    env.at(berlin(2027, 3, 5, 12))
    await env.data_protection.apply_retention()
    assert (await env.data_protection.my_data(bert))["absences"] == []
