"""Fresh databases for benchmark runs, and many active members stored at once."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from storage import migrate
from storage.db import Database
from storage.models import Delivery


def is_postgresql(spec: str) -> bool:
    return spec.startswith(("postgresql", "postgres:"))


def label(spec: str) -> str:
    return "PostgreSQL" if is_postgresql(spec) else "SQLite"


def _asyncpg_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    return url


@asynccontextmanager
async def fresh_database(spec: str, directory: Path) -> AsyncIterator[str]:
    """A new, migrated database: a SQLite file in `directory`, or for a PostgreSQL URL a new
    database on that server (the given one is not touched), dropped afterwards."""
    if not is_postgresql(spec):
        path = directory / f"cora-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite+aiosqlite:///{path}"
        await _migrate(url)
        yield url
        return
    server = make_url(_asyncpg_url(spec))
    name = f"cora_bench_{uuid.uuid4().hex[:10]}"
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    import asyncpg  # type: ignore[import-untyped]  # PostgreSQL only

    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        await _migrate(url)
        yield url
    finally:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


async def _migrate(url: str) -> None:
    """Migrate in a child process, so that the benchmark's process (which runs the bot and whose
    memory is measured) never loads Alembic: the bot does not either on a current database."""
    child = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.databases", url)
    if await child.wait() != 0:
        raise RuntimeError(f"migrating the benchmark's database failed ({child.returncode})")


async def _upgrade(url: str) -> None:
    database = Database(url)
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()


async def delivery_states(url: str, alert_ids: Sequence[int]) -> Counter[str]:
    """How the alerts' deliveries ended, as the outbox recorded them."""
    database = Database(url)
    try:
        async with database.read_sessions() as session:
            rows = await session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.alert_id.in_(list(alert_ids)))
                .group_by(Delivery.status)
            )
            return Counter({status: count for status, count in rows.all()})
    finally:
        await database.dispose()


async def database_bytes(url: str) -> int:
    """The database's size on disk: the SQLite file with its write-ahead log and shared-memory
    index, or PostgreSQL's `pg_database_size`."""
    if not is_postgresql(url):
        return _sqlite_bytes(make_url(url).database or "")
    import asyncpg

    dsn = make_url(_asyncpg_url(url)).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        return int(await connection.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await connection.close()


def _sqlite_bytes(path: str) -> int:
    files = (path, f"{path}-wal", f"{path}-shm")
    return sum(os.path.getsize(f) for f in files if os.path.exists(f))


if __name__ == "__main__":  # python -m bench.databases URL: migrate that database to the head
    asyncio.run(_upgrade(sys.argv[1]))
