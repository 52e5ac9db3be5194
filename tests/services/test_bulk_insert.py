"""A fan-out stored in one statement (`DeliveryRepository.insert_many`) holds exactly what
`enqueue`'s ORM objects would: one row per member, every value and default, aware UTC times,
the members shuffled and turn after turn; and the unit of work notices the new deliveries, so
that the commit wakes the outbox."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from sandbox.story import add_members
from storage.db import Database
from storage.models import Delivery, DeliveryStatus, Member
from storage.uow import UnitOfWork


class _Clock:
    def now(self) -> datetime:
        return datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


async def test_a_fan_out_is_one_row_per_member_with_turns_and_wakes_the_outbox(
    database_url: str,
) -> None:
    police = await add_members(database_url, list(range(500, 2500)), "police", "HRO", prefix="M")
    others = await add_members(database_url, [3, 4], "youth_welfare", "HRO", prefix="J")
    database = Database(database_url)
    try:
        async with UnitOfWork(database, _Clock()) as uow:
            noticed_before = uow.effects.deliveries
            stored = await uow.deliveries.insert_many(
                select(Member.id).where(Member.sector == "police").order_by(Member.id),
                kind="alert",
                priority=0,
                now=uow.now(),
                silent=True,
                params={"b": 1, "a": "x"},
                first_turn=7,
            )
            noticed = uow.effects.deliveries
            nobody = select(Member.id).where(Member.sector == "justice")
            nothing = await uow.deliveries.insert_many(
                nobody, kind="poll", priority=2, now=uow.now()
            )
            await uow.commit()
        async with UnitOfWork(database, _Clock(), write=False) as uow:
            rows = (await uow.session.scalars(select(Delivery).order_by(Delivery.id))).all()
            uow.session.expunge_all()  # keep what was read after the transaction ends
    finally:
        await database.dispose()
    assert (stored, nothing) == (2000, 0)
    assert (noticed_before, noticed) == (False, True)
    members = [row.member_id for row in rows]
    assert sorted(members) == police and not set(members) & set(others)
    # Shuffled like `enqueue` (the chance of the ids' own order is nil), turn after turn.
    assert members != police
    assert [row.turn for row in rows] == list(range(7, 2007))
    first = rows[0]
    assert (first.kind, first.alert_id, first.subject_id, first.priority) == (
        "alert",
        None,
        None,
        0,
    )
    assert first.params == '{"a":"x","b":1}' and first.silent is True
    assert (first.status, first.attempts) == (DeliveryStatus.PENDING, 0)
    assert first.next_attempt_at == first.created_at == _Clock().now()
    assert first.claimed_by is None and first.telegram_message_id is None
    assert first.finished_at is None and first.last_error is None
