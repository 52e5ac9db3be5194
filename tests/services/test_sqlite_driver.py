"""The SQLite driver path (`storage/sqlite.py`): every statement takes one trip to aiosqlite's
thread, and SQLAlchemy sees the same rows, counts, ids and errors as through its own adapter."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

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
