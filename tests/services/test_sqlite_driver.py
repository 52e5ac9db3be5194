"""The SQLite driver path (`storage/sqlite.py`): every statement takes one trip to aiosqlite's
thread, and SQLAlchemy sees the same rows, counts, ids and errors as through its own adapter."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event, text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import READ_CONNECTIONS, Database
from storage.sqlite import OneTripDBAPI

SCHEMA = "CREATE TABLE cases (id INTEGER PRIMARY KEY, ref TEXT UNIQUE NOT NULL, seen INTEGER)"


async def _session_of(module: Any, path: Path) -> dict[str, Any]:
    """What one sequence of statements shows through a DBAPI shim, and how many trips to the
    thread each statement took."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", module=module)
    trips: list[int] = []
    try:
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            assert isinstance(raw, aiosqlite.Connection)
            original = raw._execute

            async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
                trips.append(1)
                return await original(fn, *args, **kwargs)

            raw._execute = counted  # type: ignore[method-assign]
            await connection.exec_driver_sql(SCHEMA)
            inserted = await connection.execute(
                text("INSERT INTO cases (ref, seen) VALUES (:ref, 0)"), {"ref": "F-1"}
            )
            many = await connection.execute(
                text("INSERT INTO cases (ref, seen) VALUES (:ref, 0)"),
                [{"ref": f"F-{n}"} for n in range(2, 502)],
            )
            trips.clear()
            updated = await connection.execute(text("UPDATE cases SET seen = 1 WHERE id % 2 = 0"))
            update_trips = len(trips)
            trips.clear()
            rows = (await connection.execute(text("SELECT id, ref FROM cases ORDER BY id"))).all()
            select_trips = len(trips)
            with pytest.raises(IntegrityError):
                await connection.execute(
                    text("INSERT INTO cases (ref, seen) VALUES (:ref, 0)"), {"ref": "F-1"}
                )
            with pytest.raises(OperationalError):
                await connection.execute(text("SELECT nothing FROM nowhere"))
            return {
                "lastrowid": inserted.lastrowid,
                "many": many.rowcount,
                "updated": updated.rowcount,
                "rows": [tuple(r) for r in rows],
                "update_trips": update_trips,
                "select_trips": select_trips,
            }
    finally:
        await engine.dispose()


async def test_statements_take_one_trip_and_show_what_sqlalchemys_adapter_shows(
    tmp_path: Path,
) -> None:
    plain = await _session_of(AsyncAdapt_aiosqlite_dbapi(aiosqlite, sqlite3), tmp_path / "a.db")
    one_trip = await _session_of(OneTripDBAPI(), tmp_path / "b.db")
    assert (one_trip["update_trips"], one_trip["select_trips"]) == (1, 1)
    assert plain["select_trips"] >= 3  # cursor, execute and fetch, close
    shown = ("lastrowid", "many", "updated", "rows")
    assert {k: one_trip[k] for k in shown} == {k: plain[k] for k in shown}
    assert one_trip["updated"] == 250 and len(one_trip["rows"]) == 501


def _count_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The trips to aiosqlite's thread and back, by what each ran."""
    trips: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return trips


async def test_a_committed_transaction_sends_no_rollback_to_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    try:
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql(SCHEMA)
        async with database.session(write=False) as session:  # its first connection is made
            await session.execute(text("SELECT 1"))
        trips = _count_trips(monkeypatch)

        def rollbacks() -> list[str]:
            return [trip for trip in trips if trip == "rollback"]

        for n in range(3):
            async with database.session(write=True) as session:
                await session.execute(
                    text("INSERT INTO cases (ref, seen) VALUES (:ref, 0)"), {"ref": f"F-{n}"}
                )
                await session.commit()
        assert rollbacks() == []  # the pool's reset on return is not sent after a COMMIT
        async with database.session(write=True) as session:
            await session.execute(text("UPDATE cases SET seen = 1"))
        # Left without a commit: rolled back once (the pool's reset after it is not sent).
        assert rollbacks() == ["rollback"]
        async with database.session(write=False) as session:
            assert (await session.scalar(text("SELECT sum(seen) FROM cases"))) == 0
        assert rollbacks() == ["rollback"] * 2
    finally:
        await database.dispose()


async def test_a_transaction_opened_on_the_driver_after_a_commit_is_still_rolled_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d.db"
    database = Database(f"sqlite+aiosqlite:///{path}", lock_timeout_ms=100)
    try:
        async with database.engine.connect() as connection:
            await connection.exec_driver_sql(SCHEMA)
            await connection.commit()
            raw = (await connection.get_raw_connection()).driver_connection
            assert isinstance(raw, aiosqlite.Connection)
            await raw.execute("BEGIN IMMEDIATE")  # behind SQLAlchemy's back
            await raw.execute("INSERT INTO cases (ref, seen) VALUES ('F-1', 0)")
        # Returned to the pool: rolled back, so the write lock is free and nothing was kept.
        with sqlite3.connect(path, timeout=0.1) as other:
            other.execute("BEGIN IMMEDIATE")
            assert other.execute("SELECT count(*) FROM cases").fetchone() == (0,)
            other.rollback()
    finally:
        await database.dispose()


async def test_a_write_transaction_begins_in_the_trip_of_its_first_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "e.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql(SCHEMA)
        trips = _count_trips(monkeypatch)
        async with database.session(write=True) as session:
            assert (await session.scalar(text("SELECT count(*) FROM cases"))) == 0
            assert trips == ["_execute"]  # BEGIN IMMEDIATE and the SELECT
            # The first statement, a read, took the write lock with it: nobody else writes.
            with sqlite3.connect(path, timeout=0) as other, pytest.raises(sqlite3.OperationalError):
                other.execute("BEGIN IMMEDIATE")
            await session.execute(text("INSERT INTO cases (ref, seen) VALUES ('F-1', 0)"))
            await session.commit()
        assert trips == ["_execute", "_execute", "commit"]
        trips.clear()
        async with database.session(write=True) as session:  # began, nothing sent
            await session.connection()
            await session.commit()
        assert trips == []
        with sqlite3.connect(path, timeout=0) as other:
            other.execute("BEGIN IMMEDIATE")  # the lock is free again
            assert other.execute("SELECT ref FROM cases").fetchall() == [("F-1",)]
            other.rollback()
    finally:
        await database.dispose()


async def test_readers_at_once_keep_their_connections_for_the_next_burst(tmp_path: Path) -> None:
    """As many read transactions at once as the read pool allows (a burst of presses: the
    access gate's first read of each person) open their connections once; the next burst
    finds them open instead of opening (a thread, the pragmas) and closing them again."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    opened: list[object] = []

    def on_connect(connection: object, _record: object) -> None:
        opened.append(connection)

    event.listen(database.read_engine.sync_engine, "connect", on_connect)
    try:
        for _ in range(3):
            gate = asyncio.Event()

            async def read(gate: asyncio.Event) -> None:
                async with database.session(write=False) as session:
                    await session.execute(text("SELECT 1"))
                    await gate.wait()  # all of them at once

            readers = [asyncio.create_task(read(gate)) for _ in range(READ_CONNECTIONS)]
            while database.read_engine.sync_engine.pool.checkedout() < READ_CONNECTIONS:
                await asyncio.sleep(0.01)
            gate.set()
            await asyncio.gather(*readers)
        assert len(opened) == READ_CONNECTIONS
    finally:
        await database.dispose()
