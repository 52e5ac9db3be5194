"""A fan-out stored in one statement (`DeliveryRepository.insert_many`, `insert_for_members`)
holds exactly what ORM objects would: one row per member, every value and default, aware UTC
times, the round-robin turns; and the unit of work notices the new deliveries, so that the
commit wakes the outbox."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from sandbox.story import add_members
from storage.db import Database
from storage.models import Delivery, DeliveryStatus
from storage.repositories import insert_for_members
from storage.uow import UnitOfWork


class _Clock:
    def now(self) -> datetime:
        return datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


async def test_a_fan_out_is_one_row_per_member_with_turns_and_wakes_the_outbox(
    database_url: str,
) -> None:
    ids = await add_members(database_url, list(range(500, 2500)), "police", "HRO", prefix="M")
    database = Database(database_url)
    try:
        async with UnitOfWork(database, _Clock()) as uow:
            nothing = await uow.deliveries.insert_many(
                kind="poll", member_ids=[], priority=2, now=uow.now()
            )
            noticed_before = uow.effects.deliveries
            stored = await uow.deliveries.insert_many(
                kind="alert",
                member_ids=ids,
                priority=0,
                now=uow.now(),
                silent=True,
                params={"b": 1, "a": "x"},
                first_turn=7,
            )
            noticed = uow.effects.deliveries
            await uow.commit()
        async with UnitOfWork(database, _Clock(), write=False) as uow:
            rows = (await uow.session.scalars(select(Delivery).order_by(Delivery.id))).all()
            uow.session.expunge_all()  # keep what was read after the transaction ends
    finally:
        await database.dispose()
    assert (stored, nothing) == (2000, 0)
    assert (noticed_before, noticed) == (False, True)
    assert sorted(row.member_id for row in rows) == sorted(ids)
    # Shuffled like `enqueue` (the chance of the ids' own order is nil), turn after turn.
    assert [row.member_id for row in rows] != ids
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


async def test_rows_for_members_keep_the_given_order(database_url: str) -> None:
    ids = await add_members(database_url, list(range(10, 40)), "police", "HRO", prefix="M")
    order = ids[20:] + ids[:20]  # not the ids' own order
    database = Database(database_url)
    try:
        async with UnitOfWork(database, _Clock()) as uow:
            stored = await insert_for_members(
                uow.session,
                Delivery,
                order,
                {"kind": "x", "params": "{}", "priority": 1, "next_attempt_at": uow.now()}
                | {"created_at": uow.now(), "status": DeliveryStatus.PENDING, "attempts": 0}
                | {"silent": False},
            )
            noticed = uow.effects.deliveries
            await uow.commit()
        async with UnitOfWork(database, _Clock(), write=False) as uow:
            rows = (
                await uow.session.execute(
                    select(Delivery.member_id, Delivery.turn).order_by(Delivery.id)
                )
            ).all()
    finally:
        await database.dispose()
    assert stored == 30 and noticed is True
    assert [(m, t) for m, t in rows] == [(m, 0) for m in order]  # the column's default turn
