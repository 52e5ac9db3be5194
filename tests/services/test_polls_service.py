"""Poll, announcement and channel rules at the service level, on SQLite and PostgreSQL:
race-free voting, anonymity, reminders, deadlines, scheduled sending and key rotation."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import IntegrityError

from bot.announcements import AnnouncementService
from bot.channels import ChannelService, Target
from bot.clock import ManualClock
from bot.errors import DomainError, PersonalDataError
from bot.keys import TextCipher, generate_encryption_key
from bot.membership import ADMIN_ACTOR, MembershipService, TelegramIdentity
from bot.network import load_network
from bot.polls import PollDraft, PollService
from bot.rotation import rotate_texts
from storage.db import Database
from storage.errors import DatabaseBusyError
from storage.models import (
    AnonymousVote,
    AnonymousVoter,
    Answer,
    AuditEvent,
    Delivery,
    DeliveryStatus,
    Poll,
    PollKind,
    PollVote,
)
from storage.models.base import Base
from storage.uow import Effects, UnitOfWorkFactory

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@dataclass
class Env:
    database: Database
    clock: ManualClock
    membership: MembershipService
    channels: ChannelService
    announcements: AnnouncementService
    polls: PollService
    cipher: TextCipher
    serial: int = 0

    async def member(self, sector: str, region: str, role: str = "member") -> int:
        self.serial += 1
        invite = await self.membership.create_invite(ADMIN_ACTOR, sector, region, role=role)
        who = TelegramIdentity(5000 + self.serial, 5000 + self.serial)
        progress = await self.membership.redeem_invite(who, invite.token)
        await self.membership.give_text(progress.member.id, f"Person {self.serial}")
        done = await self.membership.give_text(progress.member.id, "Amt")
        return done.member.id

    async def deliveries(self, kind: str) -> list[int]:
        async with self.database.read_sessions() as session:
            rows = await session.scalars(
                select(Delivery.member_id).where(Delivery.kind == kind).order_by(Delivery.id)
            )
            return list(rows)

    async def count(self, model: type) -> int:
        async with self.database.read_sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def services(database: Database, clock: ManualClock, cipher: TextCipher) -> Env:
    uow = UnitOfWorkFactory(database, clock)
    network = load_network()
    channels = ChannelService(uow, network)
    return Env(
        database,
        clock,
        MembershipService(uow, network, 90),
        channels,
        AnnouncementService(uow, network, cipher, channels),
        PollService(
            uow,
            network,
            cipher,
            channels,
            timezone="Europe/Berlin",
            reminders=[timedelta(hours=24), timedelta(hours=1)],
        ),
        cipher,
    )


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    yield services(database, ManualClock(START), TextCipher([generate_encryption_key()]))
    await database.dispose()


async def poll(
    env: Env,
    creator: int,
    target: str,
    kind: str = PollKind.SINGLE,
    *,
    anonymous: bool = False,
    options: list[str] | None = None,
) -> int:
    options = options or ["Rostock", "Schwerin", "Greifswald"]
    view, _ = await env.polls.create(
        creator,
        await env.channels.parse_target(creator, target),
        PollDraft("Ort der Fachtagung", kind, options, anonymous),
        START + timedelta(days=3),
    )
    return view.id


@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
async def test_two_answers_of_one_person_at_once_leave_exactly_one(
    env: Env, anonymous: bool
) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    voter = await env.member("police", "HRO")
    poll_id = await poll(env, coordinator, "police@HRO", anonymous=anonymous)
    model = AnonymousVote if anonymous else PollVote
    for round_ in range(8):
        choices = (1 + round_ % 3, 1 + (round_ + 1) % 3)
        await asyncio.gather(
            *(env.polls.vote(voter, poll_id, {choice: Answer.YES}) for choice in choices)
        )
        assert await env.count(model) == 1, round_
    results = await env.polls.results(coordinator, poll_id)
    assert results.answered == 1
    assert sum(c.get(Answer.YES, 0) for c in results.counts.values()) == 1


async def test_simultaneous_date_answers_keep_one_answer_per_option(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    voter = await env.member("police", "HRO")
    poll_id = await poll(
        env,
        coordinator,
        "police@HRO",
        PollKind.DATE,
        options=["14.01.2027 10:00", "15.01.2027 10:00-12:00", "18.01.2027"],
    )
    for answers in ((Answer.YES, Answer.NO), (Answer.MAYBE, Answer.YES)):
        await asyncio.gather(*(env.polls.vote(voter, poll_id, {1: a, 2: a, 3: a}) for a in answers))
        async with env.database.read_sessions() as session:
            rows = (await session.scalars(select(PollVote))).all()
        assert len(rows) == 3 and len({r.answer for r in rows}) == 1
    # The database itself refuses a second answer to the same option.
    async with env.database.write_sessions() as session:
        row = rows[0]
        session.add(
            PollVote(poll_id=poll_id, member_id=voter, option_id=row.option_id, answer="no")
        )
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_anonymous_answers_can_change_but_cannot_be_linked_to_people(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    voters = [await env.member("police", "HRO") for _ in range(3)]
    poll_id = await poll(env, coordinator, "police@HRO", anonymous=True)
    await env.polls.vote(voters[0], poll_id, {1: Answer.YES})
    await env.polls.vote(voters[1], poll_id, {2: Answer.YES})
    await env.polls.vote(voters[1], poll_id, {3: Answer.YES})  # changed
    ballot = await env.polls.ballot(voters[1], poll_id)
    assert ballot.answers is not None and list(ballot.answers.values()) == [Answer.YES]
    results = await env.polls.results(coordinator, poll_id)
    counts = {
        o.position: results.counts.get(o.id, {}).get(Answer.YES, 0) for o in results.poll.options
    }
    assert counts == {1: 1, 2: 0, 3: 1} and results.answered == 2
    assert results.names is None and results.missing is None

    async with env.database.read_sessions() as session:
        voter_hashes = set(await session.scalars(select(AnonymousVoter.voter_hash)))
        ballot_hashes = set(await session.scalars(select(AnonymousVote.ballot_hash)))
    assert len(voter_hashes) == len(ballot_hashes) == 2
    assert voter_hashes.isdisjoint(ballot_hashes)  # the two tables cannot be joined
    unkeyed = {hashlib.sha256(str(v).encode()).hexdigest() for v in voters}
    assert unkeyed.isdisjoint(voter_hashes | ballot_hashes)  # keyed, not guessable

    # The reminder goes to the one who has not answered, found through the keyed hashes.
    env.clock.advance(timedelta(days=2))
    [due] = await env.polls.run_due()
    assert due.reminded == 1 and await env.deliveries("poll_reminder") == [voters[2]]
    # At the deadline the poll closes and its secret is erased.
    env.clock.advance(timedelta(days=1))
    assert [d.closed for d in await env.polls.run_due()] == [True]
    async with env.database.read_sessions() as session:
        row = await session.get(Poll, poll_id)
    assert row is not None and row.voter_secret_cipher is None
    ballot = await env.polls.ballot(voters[0], poll_id)
    assert ballot.answers is None and not ballot.may_vote
    with pytest.raises(DomainError) as refused:
        await env.polls.vote(voters[2], poll_id, {1: Answer.YES})
    assert refused.value.message_key == "poll.closed"


async def test_reminders_follow_the_configured_offsets_and_the_deadline_closes(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    answered = await env.member("police", "HRO")
    silent = await env.member("police", "HRO")
    poll_id = await poll(env, coordinator, "police@HRO")
    await env.polls.vote(answered, poll_id, {2: Answer.YES})
    assert await env.polls.run_due() == []  # nothing due yet
    env.clock.advance(timedelta(days=2, minutes=1))  # 24 h before the deadline
    [first] = await env.polls.run_due()
    assert first.reminded == 1 and first.next_at == START + timedelta(days=3, hours=-1)
    env.clock.advance(timedelta(hours=23))  # one hour before
    [second] = await env.polls.run_due()
    assert second.reminded == 1 and second.next_at == START + timedelta(days=3)
    assert await env.deliveries("poll_reminder") == [silent, silent]
    env.clock.advance(timedelta(hours=1))
    [closed] = await env.polls.run_due()
    assert closed.closed and await env.deliveries("poll_closed") == [coordinator]
    with pytest.raises(DomainError) as refused:
        await env.polls.decide(answered, poll_id, 2)
    assert refused.value.message_key == "poll.not_yours"
    view = await env.polls.decide(coordinator, poll_id, 2)
    assert view.final_option is not None and view.final_option.text == "Schwerin"
    assert sorted(await env.deliveries("poll_result")) == sorted([coordinator, answered, silent])
    with pytest.raises(DomainError) as again:
        await env.polls.decide(coordinator, poll_id, 1)
    assert again.value.message_key == "poll.decided"


async def test_refusals_of_poll_creation(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    await env.member("police", "HRO")
    target = await env.channels.parse_target(coordinator, "police@HRO")
    deadline = START + timedelta(days=1)

    async def refused(draft: PollDraft, when: datetime = deadline) -> str:
        with pytest.raises(DomainError) as error:
            await env.polls.create(coordinator, target, draft, when)
        return error.value.message_key

    assert await refused(PollDraft("x" * 201, PollKind.SINGLE, ["A", "B"])) == "poll.title_length"
    assert await refused(PollDraft("Ort?", PollKind.SINGLE, ["A", "A"])) == "poll.duplicate_option"
    assert await refused(PollDraft("Ort?", PollKind.SINGLE, ["A", "B"]), START) == "date.in_past"
    dates = ["04.01.2027 12:00", "05.01.2027 12:00"]  # 12:00 Berlin is 11:00 UTC
    assert await refused(PollDraft("Wann?", PollKind.DATE, dates)) == "poll.deadline_after_option"
    assert await refused(PollDraft("Wann?", PollKind.DATE, ["03.01.2027", "05.01.2027"])) == (
        "date.in_past"
    )
    phone = ["Anruf bei 0381 1234567", "B"]
    assert await refused(PollDraft("Wer ruft an?", PollKind.SINGLE, phone)) == "poll.personal_data"
    names = ["Tochter Lea (6) zum Vater", "Kind bleibt bei der Mutter"]
    with pytest.raises(PersonalDataError) as error:
        await env.polls.create(
            coordinator, target, PollDraft("Umgang?", PollKind.SINGLE, names), deadline
        )
    assert [(f.kind, f.excerpt) for f in error.value.findings] == [("name", "Lea")]
    nobody = await env.channels.parse_target(coordinator, "health@VG")
    with pytest.raises(DomainError, match=r"target\.nobody"):
        await env.polls.create(
            coordinator, nobody, PollDraft("Ort?", PollKind.SINGLE, ["A", "B"]), deadline
        )


async def test_scheduled_announcements_are_sent_once_by_concurrent_sweeps(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    recipients = [await env.member("police", "HRO") for _ in range(3)]
    target = await env.channels.parse_target(coordinator, "police")
    for n in range(4):
        await env.announcements.announce(
            coordinator, target, f"Hinweis {n}", send_at=START + timedelta(minutes=5 + n)
        )
    assert await env.announcements.send_due() == []
    env.clock.advance(timedelta(hours=1))
    results = await asyncio.gather(*(env.announcements.send_due() for _ in range(3)))
    assert sorted(s.announcement_id for batch in results for s in batch) == [1, 2, 3, 4]
    assert sorted(await env.deliveries("announcement")) == sorted(recipients * 4)


async def test_channel_rules_decide_membership_now(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    youth = await env.member("youth_welfare", "HRO")
    statewide = await env.member("child_protection", "MV")
    police = await env.member("police", "HRO")
    channel = await env.channels.create(
        coordinator, "AG Kinderschutz", ["child_protection", "youth_welfare"], ["HRO"], "opt_in"
    )
    for member in (youth, statewide):
        await env.channels.join(member, channel.id)
    with pytest.raises(DomainError, match=r"channel\.unknown"):
        await env.channels.join(police, channel.id)
    target = Target.decode(
        (await env.channels.parse_target(coordinator, "#ag-kinderschutz")).encode()
    )
    assert await resolve(env, target) == [youth, statewide]
    _, removed = await env.channels.change_rule(
        coordinator, "ag-kinderschutz", ["child_protection"], []
    )
    assert removed == 1 and await resolve(env, target) == [statewide]
    await env.channels.archive(coordinator, "ag-kinderschutz")
    assert await resolve(env, target) == []
    regional = await env.member("coordination", "SN", "coordinator")
    with pytest.raises(DomainError, match=r"error\.outside_scope"):
        await env.channels.parse_target(regional, "police@HRO")
    sn_only = await env.channels.parse_target(regional, "all")
    assert [g.regions for g in sn_only.groups] == [("SN",)]


async def resolve(env: Env, target: Target) -> list[int]:
    async with UnitOfWorkFactory(env.database, env.clock)(write=False) as uow:
        return [m.id for m in await env.channels.resolve(uow, target)]


async def test_key_rotation_reencrypts_polls_and_announcements(database_url: str) -> None:
    old, new = generate_encryption_key(), generate_encryption_key()
    database = Database(database_url)
    try:
        clock = ManualClock(START)
        env = services(database, clock, TextCipher([old]))
        coordinator = await env.member("coordination", "MV", "coordinator")
        voter = await env.member("police", "HRO")
        poll_id = await poll(env, coordinator, "police@HRO", anonymous=True)
        await env.polls.vote(voter, poll_id, {1: Answer.YES})
        target = await env.channels.parse_target(coordinator, "police")
        await env.announcements.announce(coordinator, target, "Vertraulich")
        # title, secret, three options, announcement text
        rotated_texts = await rotate_texts(
            UnitOfWorkFactory(database, clock), TextCipher([new, old])
        )
        assert (rotated_texts.rewritten, rotated_texts.unreadable) == (6, [])
        rotated = services(database, clock, TextCipher([new]))
        view = await rotated.polls.view(poll_id)
        assert view.title == "Ort der Fachtagung" and view.options[0].text == "Rostock"
        assert await rotated.announcements.text(1) == "Vertraulich"
        # The anonymous voter is still recognised: the poll's secret survived the rotation.
        await rotated.polls.vote(voter, poll_id, {2: Answer.YES})
        assert (await rotated.polls.results(coordinator, poll_id)).answered == 1
    finally:
        await database.dispose()


async def test_a_revoked_coordinators_scheduled_announcement_is_not_sent(env: Env) -> None:
    coordinator = await env.member("coordination", "HRO", "coordinator")
    await env.member("police", "HRO")
    target = await env.channels.parse_target(coordinator, "police")
    await env.announcements.announce(
        coordinator, target, "Später", send_at=START + timedelta(minutes=5)
    )
    await env.membership.revoke(ADMIN_ACTOR, coordinator)
    env.clock.advance(timedelta(minutes=10))
    assert await env.announcements.send_due() == []
    assert await env.deliveries("announcement") == []


# -- a press: one transaction, and what its messages show comes back with it ----------------


async def _ballot_sent(env: Env, member_id: int, poll_id: int, message_id: int) -> None:
    """The outbox delivered the member's ballot as Telegram message `message_id`."""
    async with env.database.write_sessions() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.member_id == member_id, Delivery.subject_id == poll_id)
            .values(status=DeliveryStatus.SENT, telegram_message_id=message_id)
        )
        await session.commit()


@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
async def test_a_press_is_one_transaction_and_returns_what_the_ballot_shows(
    env: Env, anonymous: bool
) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    voter = await env.member("police", "HRO")
    poll_id = await poll(env, coordinator, "police@HRO", PollKind.MULTIPLE, anonymous=anonymous)
    await _ballot_sent(env, voter, poll_id, 77)
    await env.polls.toggle(voter, poll_id, 1)
    begun: list[object] = []
    statements: list[str] = []

    def on_begin(connection: object) -> None:
        begun.append(connection)

    def on_statement(_c: object, _cursor: object, statement: str, *_: object) -> None:
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    loaded: list[str] = []

    def on_load(row: object, _context: object) -> None:
        loaded.append(type(row).__name__)

    committed: list[Effects] = []
    env.polls.uow.on_commit = committed.append
    engines = {env.database.engine.sync_engine, env.database.read_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "begin", on_begin)
        event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(Base, "load", on_load, propagate=True)
    try:
        ballot = await env.polls.toggle(voter, poll_id, 3)
    finally:
        event.remove(Base, "load", on_load)
        for engine in engines:
            event.remove(engine, "begin", on_begin)
            event.remove(engine, "before_cursor_execute", on_statement)
    # Eligibility in one query; the lock, the answers before, the change, the poll messages
    # and the audit event: one transaction, no second look for the refresh.
    assert len(begun) == 1
    assert len(statements) <= 8, statements
    assert loaded == []  # plain rows: not one row object is built for a press
    stored = await env.polls.ballot(voter, poll_id)
    positions = {o.id: o.position for o in stored.poll.options}
    assert ballot.answers is not None and stored.answers is not None
    assert {positions[o]: a for o, a in ballot.answers.items()} == {1: Answer.YES, 3: Answer.YES}
    assert ballot.answers == stored.answers
    member = await env.membership.get(voter)
    assert member is not None
    assert ballot.messages == ((member.chat_id, 77),)
    assert tuple(await env.polls.ballot_messages(voter, poll_id)) == ballot.messages
    assert ballot.member is not None and ballot.member.id == voter and ballot.may_vote
    # The refresh of the person's poll messages gets the ballot with the commit's effects.
    (effects,) = committed
    assert effects.known == {("ballot", poll_id, voter): ballot}
    assert effects.live == {("ballot", poll_id, voter), ("poll", poll_id)}


async def _answered(env: Env) -> list[str]:
    async with env.database.read_sessions() as session:
        actions = await session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "poll.answered")
        )
        return list(actions)


async def test_presses_that_arrive_together_share_one_commit_and_refuse_only_themselves(
    env: Env,
) -> None:
    """Group commit: votes that arrive while others are stored go into one transaction (one
    COMMIT, one append to the audit chain); a refused vote among them refuses only itself,
    and every vote is answered only once it is committed."""
    coordinator = await env.member("coordination", "MV", "coordinator")
    voters = [await env.member("police", "HRO") for _ in range(5)]
    outsider = await env.member("victim_support", "HRO")  # not asked
    poll_id = await poll(env, coordinator, "police@HRO", PollKind.MULTIPLE)
    committed: list[object] = []

    def on_commit(connection: object) -> None:
        committed.append(connection)

    event.listen(env.database.engine.sync_engine, "commit", on_commit)
    try:
        outcomes = await asyncio.gather(
            *(env.polls.toggle(voter, poll_id, 2) for voter in voters[:3]),
            env.polls.toggle(outsider, poll_id, 2),
            env.polls.toggle(voters[3], poll_id, 9),  # no such option
            env.polls.vote(voters[4], poll_id, {1: Answer.YES, 3: Answer.YES}),
            env.polls.toggle(voters[0], poll_id, 1),  # the same person again: in order
            return_exceptions=True,
        )
    finally:
        event.remove(env.database.engine.sync_engine, "commit", on_commit)
    assert len(committed) == 1
    refusals = [o.message_key for o in outcomes if isinstance(o, DomainError)]
    assert refusals == ["poll.unknown", "poll.option_range"]
    ballots = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(ballots) == 5
    for voter, expected in [
        (voters[0], {1, 2}),
        (voters[1], {2}),
        (voters[2], {2}),
        (voters[3], set()),
        (voters[4], {1, 3}),
    ]:
        stored = await env.polls.ballot(voter, poll_id)
        positions = {o.id: o.position for o in stored.poll.options}
        assert stored.answers is not None
        assert {positions[o] for o in stored.answers} == expected, voter
    assert ballots[-1].answers is not None and len(ballots[-1].answers) == 2  # in order
    assert sorted(await _answered(env)) == sorted(
        f"member:{v}" for v in [*voters[:3], voters[4], voters[0]]
    )


@pytest.mark.fresh_database  # creates a trigger
async def test_a_vote_that_fails_while_writing_does_not_take_the_others_with_it(
    env: Env, database_url: str
) -> None:
    """If a vote of a group fails after it began writing, the group is rolled back and each
    vote runs alone: the others are stored once, the failing one is refused."""
    coordinator = await env.member("coordination", "MV", "coordinator")
    voters = [await env.member("police", "HRO") for _ in range(4)]
    poll_id = await poll(env, coordinator, "police@HRO", PollKind.MULTIPLE)
    failing = voters[2]
    async with env.database.engine.begin() as connection:
        if database_url.startswith("sqlite"):
            await connection.execute(
                text(
                    "CREATE TRIGGER refuse_vote BEFORE INSERT ON poll_votes "
                    f"WHEN NEW.member_id = {failing} BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            await connection.execute(
                text(
                    "CREATE FUNCTION refuse_vote() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.member_id = {failing} THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            await connection.execute(
                text(
                    "CREATE TRIGGER refuse_vote BEFORE INSERT ON poll_votes "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_vote()"
                )
            )
    outcomes = await asyncio.gather(
        *(env.polls.toggle(voter, poll_id, 1) for voter in voters), return_exceptions=True
    )
    assert isinstance(outcomes[2], DatabaseBusyError)
    assert "refused" in str(outcomes[2].__cause__)
    assert all(not isinstance(o, BaseException) for i, o in enumerate(outcomes) if i != 2)
    assert await env.count(PollVote) == 3
    assert sorted(await _answered(env)) == sorted(f"member:{v}" for v in voters if v != failing)


async def test_a_persons_poll_messages_are_found_through_an_index(env: Env) -> None:
    if not env.database.is_sqlite:
        pytest.skip("the query plan is read from SQLite")
    query = (
        "EXPLAIN QUERY PLAN SELECT telegram_message_id FROM deliveries "
        "WHERE member_id = 1 AND subject_id = 2 AND kind = 'poll' AND status = 'sent'"
    )
    async with env.database.read_engine.connect() as connection:
        plan = " ".join(str(row[-1]) for row in await connection.exec_driver_sql(query))
    assert "ix_deliveries_member_subject" in plan, plan
