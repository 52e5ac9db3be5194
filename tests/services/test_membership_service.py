"""Service-level stories of verified membership, on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlalchemy import event as sql_event
from sqlalchemy import select, update

from bot.clock import ManualClock
from bot.errors import DomainError
from bot.membership import ADMIN_ACTOR, MEMBERS, MembershipService, Step, TelegramIdentity
from bot.network import load_network
from storage.audit import GENESIS_HASH, event_hash
from storage.db import Database
from storage.models import AuditEvent, Member, MemberStatus
from storage.uow import UnitOfWorkFactory


@dataclass
class Env:
    database: Database
    clock: ManualClock
    membership: MembershipService

    async def audit_actions(self) -> list[str]:
        async with self.database.read_sessions() as session:
            events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all()
        previous = GENESIS_HASH
        for event in events:  # the chain must link up after every story
            assert event.prev_hash == previous
            assert event.hash == event_hash(
                previous,
                event.seq,
                event.occurred_at,
                event.actor,
                event.action,
                event.subject,
                event.details,
            )
            previous = event.hash
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        return [event.action for event in events]


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    clock = ManualClock()
    yield Env(
        database, clock, MembershipService(UnitOfWorkFactory(database, clock), load_network(), 90)
    )
    await database.dispose()


def person(n: int) -> TelegramIdentity:
    return TelegramIdentity(user_id=1000 + n, chat_id=1000 + n, language_code="de")


async def join_by_invite(env: Env, n: int, sector: str, region: str, role: str = "member") -> int:
    invite = await env.membership.create_invite(ADMIN_ACTOR, sector, region, role=role)
    progress = await env.membership.redeem_invite(person(n), invite.token)
    await env.membership.give_text(progress.member.id, f"Person {n}")
    done = await env.membership.give_text(progress.member.id, "Beratungsstelle Nord")
    assert done.member.status == MemberStatus.ACTIVE
    return done.member.id


async def test_an_invited_professional_becomes_active_after_name_and_institution(env: Env) -> None:
    invite = await env.membership.create_invite(ADMIN_ACTOR, "police", "HRO", uses=1, days=7)
    progress = await env.membership.redeem_invite(person(1), invite.token)
    assert progress.member.status == MemberStatus.ONBOARDING and progress.step == Step.NAME
    progress = await env.membership.give_text(progress.member.id, "  Kim   Muster ")
    assert progress.step == Step.INSTITUTION and progress.member.display_name == "Kim Muster"
    progress = await env.membership.give_text(progress.member.id, "Polizeiinspektion Rostock")
    assert progress.member.status == MemberStatus.ACTIVE
    assert (progress.member.sector, progress.member.region, progress.member.role) == (
        "police",
        "HRO",
        "member",
    )
    assert await env.audit_actions() == ["invite.created", "invite.redeemed", "member.activated"]


async def test_only_a_hash_of_the_invite_token_is_stored(env: Env, database_url: str) -> None:
    invite = await env.membership.create_invite(ADMIN_ACTOR, "police", "HRO")
    async with env.database.read_sessions() as session:
        rows = (await session.execute(select(AuditEvent.details))).scalars().all()
        from storage.models import Invite

        stored = (await session.scalars(select(Invite))).one()
    assert invite.token not in stored.token_hash
    assert all(invite.token not in details for details in rows)


async def test_expired_used_up_and_forged_invites_are_refused(env: Env) -> None:
    invite = await env.membership.create_invite(ADMIN_ACTOR, "justice", "SN", uses=1, days=1)
    await env.membership.redeem_invite(person(1), invite.token)
    with pytest.raises(DomainError) as used:
        await env.membership.redeem_invite(person(2), invite.token)
    assert used.value.message_key == "invite.used_up"

    late = await env.membership.create_invite(ADMIN_ACTOR, "justice", "SN", days=1)
    env.clock.advance(timedelta(days=1, seconds=1))
    with pytest.raises(DomainError) as expired:
        await env.membership.redeem_invite(person(3), late.token)
    assert expired.value.message_key == "invite.expired"

    for forged in (late.token[:-1] + ("A" if late.token[-1] != "A" else "B"), "x", "../../etc", ""):
        with pytest.raises(DomainError) as refused:
            await env.membership.redeem_invite(person(4), forged)
        assert refused.value.message_key == "invite.invalid"
    # Refusals write nothing: only the two creations and the one redemption are in the log.
    assert await env.audit_actions() == ["invite.created", "invite.redeemed", "invite.created"]


async def test_a_single_use_invite_redeemed_by_ten_people_at_once_admits_exactly_one(
    env: Env,
) -> None:
    invite = await env.membership.create_invite(ADMIN_ACTOR, "health", "VG", uses=1)
    results = await asyncio.gather(
        *(env.membership.redeem_invite(person(n), invite.token) for n in range(10)),
        return_exceptions=True,
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(admitted) == 1 and len(refused) == 9
    assert {r.message_key for r in refused} == {"invite.used_up"}


async def test_a_request_reaches_the_regional_and_statewide_coordinators_only(env: Env) -> None:
    hro = await join_by_invite(env, 1, "coordination", "HRO", role="coordinator")
    state = await join_by_invite(env, 2, "coordination", "MV", role="coordinator")
    await join_by_invite(env, 3, "coordination", "VG", role="coordinator")

    progress = await env.membership.start_request(person(10))
    assert progress.step == Step.SECTOR
    progress = await env.membership.choose_sector(progress.member.id, "youth_welfare")
    progress = await env.membership.choose_region(progress.member.id, "HRO")
    progress = await env.membership.give_text(progress.member.id, "Jugendamt Rostock")
    assert progress.step == Step.NAME
    progress = await env.membership.give_text(progress.member.id, "Sam Beispiel")
    assert progress.member.status == MemberStatus.PENDING
    assert sorted(c.id for c in progress.notify) == sorted([hro, state])

    assert [m.id for m in await env.membership.list_pending(hro)] == [progress.member.id]
    decision = await env.membership.approve(hro, progress.member.id)
    assert decision.member.status == MemberStatus.ACTIVE
    with pytest.raises(DomainError) as again:
        await env.membership.approve(state, progress.member.id)
    assert again.value.message_key == "decision.state.active"


async def test_coordinators_act_only_within_their_region(env: Env) -> None:
    vg = await join_by_invite(env, 1, "coordination", "VG", role="coordinator")
    member = await join_by_invite(env, 2, "police", "HRO")
    plain_member = await join_by_invite(env, 3, "police", "VG")
    with pytest.raises(DomainError) as outside:
        await env.membership.revoke(vg, member)
    assert outside.value.message_key == "error.unknown_member"
    with pytest.raises(DomainError) as invite_outside:
        await env.membership.create_invite(vg, "police", "HRO")
    assert invite_outside.value.message_key == "error.outside_scope"
    with pytest.raises(DomainError) as not_coordinator:
        await env.membership.create_invite(plain_member, "police", "VG")
    assert not_coordinator.value.message_key == "error.coordinators_only"


async def test_a_revoked_member_cannot_come_back_with_an_old_invite(env: Env) -> None:
    old = await env.membership.create_invite(ADMIN_ACTOR, "education", "LUP", uses=5)
    progress = await env.membership.redeem_invite(person(1), old.token)
    env.clock.advance(timedelta(minutes=1))
    await env.membership.revoke(ADMIN_ACTOR, progress.member.id)
    env.clock.advance(timedelta(minutes=1))
    with pytest.raises(DomainError) as refused:
        await env.membership.redeem_invite(person(1), old.token)
    assert refused.value.message_key == "invite.invalid"
    fresh = await env.membership.create_invite(ADMIN_ACTOR, "education", "LUP")
    again = await env.membership.redeem_invite(person(1), fresh.token)
    assert again.member.status == MemberStatus.ONBOARDING and again.member.id == progress.member.id


async def test_bad_names_are_refused_politely_and_nothing_changes(env: Env) -> None:
    invite = await env.membership.create_invite(ADMIN_ACTOR, "police", "HRO")
    progress = await env.membership.redeem_invite(person(1), invite.token)
    for bad in ("", " ", "x", "\u200b\u200b", "a" * 101):
        with pytest.raises(DomainError) as refused:
            await env.membership.give_text(progress.member.id, bad)
        assert refused.value.message_key == "error.name_length"
    member = await env.membership.get(progress.member.id)
    assert member is not None and member.display_name is None


async def test_a_revocation_by_another_process_reaches_the_gate_within_the_caches_age(
    env: Env, database_url: str
) -> None:
    """The gate's cache is emptied by this process's commits; should a second process write
    the same SQLite file after all, its revocation is seen once the kept read is `max_age`
    old, not never."""
    if not env.database.is_sqlite:
        pytest.skip("the cache is kept on SQLite only")
    member_id = await join_by_invite(env, 1, "police", "HRO")
    cache = env.membership.cache
    assert cache is not None
    assert cache.max_age == 5.0  # the revocation below takes well under that, however busy
    assert (shown := await env.membership.find_by_telegram(1001)) is not None
    assert shown.status == MemberStatus.ACTIVE
    other = Database(database_url)  # another process: its commits are no commits of ours
    try:
        elsewhere = MembershipService(UnitOfWorkFactory(other, env.clock), load_network(), 90)
        await elsewhere.revoke(ADMIN_ACTOR, member_id)
    finally:
        await other.dispose()
    kept = await env.membership.find_by_telegram(1001)
    assert kept is not None and kept.status == MemberStatus.ACTIVE  # the read is still young
    cache.max_age = 0.5  # rather than waiting five seconds: the read is older than this now
    await asyncio.sleep(0.6)
    shown = await env.membership.find_by_telegram(1001)
    assert shown is not None and shown.status == MemberStatus.REVOKED


async def test_a_refresh_takes_the_member_as_now_from_the_gates_read(env: Env) -> None:
    """The refresh after a press takes the voter as they are now: on SQLite from the access
    gate's read of that press, without a transaction of its own; after a change of any member
    (here: the voter is revoked) from the database again."""
    member_id = await join_by_invite(env, 1, "police", "HRO")
    transactions: list[object] = []

    def began(connection: object) -> None:
        transactions.append(connection)

    sql_event.listen(env.database.read_engine.sync_engine, "begin", began)
    at_the_press = await env.membership.find_by_telegram(1001)  # the gate, at the press
    assert at_the_press is not None and at_the_press.id == member_id
    before = len(transactions)
    now = await env.membership.current(at_the_press)
    assert now == at_the_press
    assert len(transactions) - before == (0 if env.database.is_sqlite else 1)

    await env.membership.revoke(ADMIN_ACTOR, member_id)
    before = len(transactions)
    now = await env.membership.current(at_the_press)
    assert now is not None and now.status == MemberStatus.REVOKED
    assert len(transactions) - before == 1
    # A kept read of the person under that Telegram id is not taken for another member.
    assert await env.membership.find_by_telegram(1001) == now
    other = await env.membership.current(replace(at_the_press, id=member_id + 1000))
    assert other is None


async def test_the_gates_cache_keeps_only_the_reads_younger_than_its_age(env: Env) -> None:
    """Issue 18, memory: in a burst of button presses by thousands of people the gate kept
    every person's read until a member changed (10,000 voters: about 8 MB); a read older than
    `max_age` is never used again, so it goes."""
    if not env.database.is_sqlite:
        pytest.skip("the cache is kept on SQLite only")
    await join_by_invite(env, 1, "police", "HRO")
    cache = env.membership.cache
    assert cache is not None
    for stranger in range(5000, 5300):  # strangers are kept too (as None)
        assert await env.membership.find_by_telegram(stranger) is None
    assert len(cache) == 300
    cache.max_age = 0.2
    await asyncio.sleep(0.3)
    member = await env.membership.find_by_telegram(1001)
    assert member is not None and member.status == MemberStatus.ACTIVE
    assert len(cache) == 1  # the 300 older reads went as this one was kept
    assert cache.get(1001) == member and cache.get(5000) is False


async def test_the_gates_read_of_a_person_is_kept_until_a_member_changes(env: Env) -> None:
    """On SQLite (the bot's only process) the access gate's read of a person is kept; every
    committed change of a member's row - by an object or a statement - drops it at once."""
    member_id = await join_by_invite(env, 1, "police", "HRO")
    reads: list[str] = []

    def counted(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM members" in statement:
            reads.append(statement)

    sql_event.listen(env.database.read_engine.sync_engine, "before_cursor_execute", counted)
    find = env.membership.find_by_telegram
    first, again = await find(1001), await find(1001)
    assert first is not None and first == again and first.status == MemberStatus.ACTIVE
    assert len(reads) == (1 if env.database.is_sqlite else 2)
    assert await find(2002) is None and await find(2002) is None  # a stranger, read once too
    assert len(reads) == (2 if env.database.is_sqlite else 4)

    assert (await env.membership.set_language(member_id, "en")).language == "en"
    assert (shown := await find(1001)) is not None and shown.language == "en"
    async with env.membership.uow() as uow:  # a statement, not an object
        await uow.session.execute(
            update(Member).where(Member.id == member_id).values(institution="Revier Süd")
        )
        await uow.commit()
    assert (shown := await find(1001)) is not None and shown.institution == "Revier Süd"
    async with env.membership.uow() as uow:  # a Core statement past the session's ORM path
        await uow.execute(
            update(MEMBERS).where(MEMBERS.c.id == member_id).values(institution="Revier Nord")
        )
        await uow.commit()
    assert (shown := await find(1001)) is not None and shown.institution == "Revier Nord"
    async with env.membership.uow() as uow:  # rolled back: nothing changed, nothing to drop
        await uow.session.execute(
            update(Member).where(Member.id == member_id).values(institution="Nirgendwo")
        )
    assert (shown := await find(1001)) is not None and shown.institution == "Revier Nord"
    await env.membership.revoke(ADMIN_ACTOR, member_id)
    assert (shown := await find(1001)) is not None and shown.status == MemberStatus.REVOKED
    progress = await env.membership.redeem_invite(
        person(1002),
        (await env.membership.create_invite(ADMIN_ACTOR, "police", "HRO")).token,
    )
    assert (joined := await find(2002)) is not None and joined.id == progress.member.id
