"""What a raise sends to the database: statements built once, no ORM row object loaded or
flushed, and still the same rows, audit event and first batch handed to the outbox (claimed,
with quiet hours, deputies' copies, and a recipient without a chat cancelled as the outbox's
claim would)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from bot.alerts import StatusView
from bot.delivery import Job
from bot.errors import DomainError
from bot.keys import bound
from bot.membership import ADMIN_ACTOR
from bot.timing.quiet import QuietHours
from storage.db import Database
from storage.models import Alert, AuditEvent, Delivery, DeliveryStatus, Member
from storage.models.base import Base
from storage.uow import Effects
from tests.network_env import Env, berlin, build_env

FIRST_BATCH = 4


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    env = build_env(database, berlin(2026, 12, 1, 10), timedelta(hours=1))
    # The raise claims the first batch for this process's outbox, as while the bot runs.
    env.outbox.first_batch = FIRST_BATCH
    env.alerts.deliveries = env.outbox
    yield env
    await database.dispose()


@dataclass
class Seen:
    statements: list[str] = field(default_factory=list)  # "VERB table", in order
    loaded: list[str] = field(default_factory=list)  # ORM rows loaded from the database
    flushed: list[str] = field(default_factory=list)  # ORM rows a flush had to write


_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE)


@contextmanager
def watching(env: Env) -> Iterator[Seen]:
    seen = Seen()
    engines = {env.database.engine.sync_engine, env.database.read_engine.sync_engine}

    def on_statement(_c: object, _cursor: object, statement: str, *_: object) -> None:
        verb = statement.split(None, 1)[0].upper()
        if verb in {"BEGIN", "COMMIT", "ROLLBACK"}:
            return
        found = _TABLE.search(statement)
        seen.statements.append(f"{verb} {found.group(1) if found else '?'}")

    def on_load(row: Base, _context: object) -> None:
        seen.loaded.append(type(row).__name__)

    def on_flush(session: Session, *_: object) -> None:
        rows = [*session.new, *session.dirty, *session.deleted]
        seen.flushed.extend(type(row).__name__ for row in rows)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(Base, "load", on_load, propagate=True)
    event.listen(Session, "before_flush", on_flush)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(Base, "load", on_load)
        event.remove(Session, "before_flush", on_flush)


def committed(env: Env) -> list[Effects]:
    effects: list[Effects] = []
    env.alerts.uow.on_commit = effects.append
    return effects


@pytest.mark.parametrize("urgency", ["normal", "urgent"])
async def test_a_raise_sends_statements_built_once_and_loads_no_row_objects(
    env: Env, urgency: str
) -> None:
    sender = await env.member("victim_support", "HRO")
    police = [await env.member("police", "HRO") for _ in range(6)]
    await env.member("youth_welfare", "HRO")  # not a recipient
    # 10:00 in Berlin lies in these quiet hours: a normal alert reaches her silently.
    await env.availability.set_quiet_hours(police[0], QuietHours(9 * 60, 11 * 60))
    await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Vorab")  # warmed up
    await env.deliver()  # nothing more urgent waits
    effects = committed(env)
    env.after(seconds=1)
    now = env.clock.now()
    with watching(env) as seen:
        raised = await env.alerts.raise_alert(sender, ["police"], "HRO", urgency, "Lage")
    urgent = urgency == "urgent"
    # Each statement once, in one transaction; the claim's UPDATE is one statement, not a
    # flush of row objects; not even the sender is loaded as one (its view is read).
    assert seen.statements == [
        "SELECT members",  # the sender (locked for an urgent alert)
        *(["SELECT alerts"] if urgent else []),  # the sender's urgent alerts of the hour
        "SELECT absences",  # the matching members who are away
        "INSERT case_counters",
        "INSERT alerts",
        "INSERT alert_recipients",
        "UPDATE alerts",  # the text and the escalation time
        "INSERT deliveries",
        "SELECT deliveries",  # the first batch
        *([] if urgent else ["SELECT deliveries"]),  # anything more urgent waiting
        "UPDATE deliveries",  # claimed
        "UPDATE audit_head",  # behind the event this process wrote last
        "INSERT audit_events",
    ]
    assert seen.loaded == [] and seen.flushed == []
    assert raised.recipients == 6 and raised.alert.sender is not None
    # The same rows as ever: the alert, its text bound to its id, the escalation time.
    async with env.database.read_sessions() as session:
        alert = await session.get(Alert, raised.alert.id)
        assert alert is not None and alert.text_cipher is not None
        text = env.alerts.cipher.decrypt(alert.text_cipher, bound(Alert.text_cipher, alert.id))
        rows = (
            await session.scalars(
                select(Delivery).where(Delivery.alert_id == alert.id).order_by(Delivery.turn)
            )
        ).all()
        events = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.subject == f"alert:{alert.id}")
            )
        ).all()
    assert text == "Lage" and alert.ref == raised.alert.ref and alert.status == "open"
    assert alert.escalate_at == raised.alert.escalate_at and alert.escalate_at is not None
    assert alert.escalate_at > now and alert.drill is False
    assert events == ["alert.raised"]
    assert sorted(d.member_id for d in rows) == police and [d.turn for d in rows] == list(range(6))
    # The first batch: claimed by this instance, handed over with the commit.
    claimed = rows[:FIRST_BATCH]
    assert {(d.status, d.claimed_by, d.attempts) for d in claimed} == {
        (DeliveryStatus.SENDING, "test", 1)
    }
    assert {d.claimed_until for d in claimed} == {now + env.outbox.lease}
    assert {(d.status, d.claimed_by, d.attempts) for d in rows[FIRST_BATCH:]} == {
        (DeliveryStatus.PENDING, None, 0)
    }
    (after,) = effects
    assert after.deliveries and ("alert", alert.id) in after.rendered
    # The sender's status message as it would be read now (the refresh need not read it).
    assert after.known[("alert", alert.id)] == await env.alerts.status(alert.id)
    jobs = after.claimed
    assert all(isinstance(job, Job) for job in jobs)
    assert [(j.id, j.member_id, j.attempts, j.created_at) for j in jobs] == [  # type: ignore[attr-defined]
        (d.id, d.member_id, 1, now) for d in claimed
    ]
    people = await _people(env)
    for job in jobs:
        assert isinstance(job, Job)
        assert (job.kind, job.alert_id, job.subject_id, job.params) == ("alert", alert.id, None, {})
        priority = 0 if urgent else 1
        assert (job.chat_id, job.language, job.priority) == (*people[job.member_id], priority)
        assert job.silent is (not urgent and job.member_id == police[0])


async def _people(env: Env) -> dict[int, tuple[int | None, str | None]]:
    """Each member's chat and language."""
    async with env.database.read_sessions() as session:
        rows = await session.execute(select(Member.id, Member.chat_id, Member.language))
        return {member_id: (chat, language) for member_id, chat, language in rows.all()}


async def test_the_first_batch_holds_the_deputies_copies_and_cancels_who_has_no_chat(
    env: Env,
) -> None:
    sender = await env.member("victim_support", "HRO")
    anna = await env.member("police", "HRO")
    bert = await env.member("police", "HRO")  # Anna's deputy, and a recipient himself
    carl = await env.member("police", "LRO")  # Dora's deputy from another region
    dora = await env.member("police", "HRO")
    eve = await env.member("police", "HRO")  # her chat is gone
    await env.availability.away(anna, date(2026, 12, 10), bert)
    await env.availability.away(dora, date(2026, 12, 5), carl)
    async with env.database.write_sessions() as session:
        await session.execute(update(Member).where(Member.id == eve).values(chat_id=None))
        await session.commit()
    effects = committed(env)
    raised = await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
    assert raised.recipients == 3
    (after,) = effects
    assert ("alert", raised.alert.id) not in after.known  # it names who is away: read
    jobs = [job for job in after.claimed if isinstance(job, Job)]
    # The deputies' copies (stored as row objects) are in the batch with the targets'.
    assert sorted((j.member_id, j.params.get("deputy_for")) for j in jobs) == sorted(
        [(bert, str(anna)), (carl, str(dora))]
    )
    statuses = {d.member_id: d.status for d in await env.deliveries(raised.alert.id)}
    assert statuses == {
        bert: DeliveryStatus.SENDING,
        carl: DeliveryStatus.SENDING,
        eve: DeliveryStatus.CANCELLED,
    }
    async with env.database.read_sessions() as session:
        cancelled = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action == "delivery.cancelled")
            )
        ).all()
    assert cancelled == ["delivery.cancelled"]


@pytest.mark.parametrize("urgency", ["normal", "urgent"])
async def test_a_sender_who_is_no_longer_active_raises_nothing(env: Env, urgency: str) -> None:
    sender = await env.member("victim_support", "HRO")
    await env.member("police", "HRO")
    await env.membership.revoke(ADMIN_ACTOR, sender)
    with pytest.raises(DomainError, match=r"access\.not_active"):
        await env.alerts.raise_alert(sender, ["police"], "HRO", urgency, "Lage")
    async with env.database.read_sessions() as session:
        assert (await session.scalars(select(Alert.id))).all() == []
        alerts = select(Delivery.id).where(Delivery.kind == "alert")
        assert (await session.scalars(alerts)).all() == []


async def test_a_recipient_without_a_chat_is_counted_cancelled_in_the_known_status(
    env: Env,
) -> None:
    sender = await env.member("victim_support", "HRO")
    await env.member("police", "HRO")
    gone = await env.member("police", "HRO")
    async with env.database.write_sessions() as session:
        await session.execute(update(Member).where(Member.id == gone).values(chat_id=None))
        await session.commit()
    effects = committed(env)
    raised = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Lage")
    (after,) = effects
    known = after.known[("alert", raised.alert.id)]
    assert known == await env.alerts.status(raised.alert.id)
    assert isinstance(known, StatusView) and (known.recipients, known.cancelled) == (2, 1)
