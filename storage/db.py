"""Engines and sessions for SQLite (default, single process) and PostgreSQL (production)."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from storage.compiled import COMPILED
from storage.files import create_private_file, private_directory
from storage.sqlite import OneTripConnection, OneTripDBAPI

# Each pooled connection keeps its own page cache (SQLite's default: up to 2 MiB), so 20
# connections can hold 40 MiB. The operating system caches the file as well, and a write by
# another connection empties the cache at its next read transaction anyway: the readers, kept
# open and busy while the bot writes all the time, get a smaller one than the writer.
PAGE_CACHE_KIB = 512
READ_PAGE_CACHE_KIB = 128
# SQLite connections for reading, kept open (each with a thread of aiosqlite's).
READ_CONNECTIONS = 18


def dialect_insert(is_sqlite: bool) -> Any:
    """The dialect's `insert` (with `on_conflict_do_update`). Imported when first asked for:
    `sqlalchemy.dialects.postgresql` loads every PostgreSQL driver's dialect module (about
    2 MB), which a bot on SQLite never uses."""
    if is_sqlite:
        from sqlalchemy.dialects import sqlite

        return sqlite.insert
    from sqlalchemy.dialects import postgresql

    return postgresql.insert


def _configure_sqlite(
    engine: AsyncEngine,
    begin: str,
    *,
    foreign_keys: bool = True,
    lock_timeout_ms: int = 10_000,
    cache_kib: int = PAGE_CACHE_KIB,
) -> None:
    # SQLAlchemy takes over BEGIN so that reads run inside the transaction too, and writers take
    # the write lock up front (BEGIN IMMEDIATE) instead of failing half-way on upgrade.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout_ms)}")
        # Erased personal data is overwritten, not merely unlinked from the file's pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        driver = connection.connection.dbapi_connection
        if begin == "BEGIN IMMEDIATE" and isinstance(driver, OneTripConnection):
            # A writer's first statement takes the write lock with it, in one trip to the
            # thread. (Readers' snapshots are also taken by the driver's own cursors, e.g.
            # to verify the audit chain: their BEGIN goes first, as ever.)
            driver.begin_with_next_statement(begin)
        else:
            connection.exec_driver_sql(begin)


class DatabaseInUse(Exception):
    """Another process already sends from this SQLite file."""


class Database:
    """The engines of one database and the lock that serialises SQLite writers in-process."""

    def __init__(self, url: str, *, echo: bool = False, lock_timeout_ms: int = 10_000) -> None:
        """`lock_timeout_ms`: how long an action waits for a lock another connection holds
        before it gives up with "try again" (SQLite's busy timeout, PostgreSQL's lock_timeout).
        """
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._held: int | None = None  # the file descriptor of the SQLite file's lock (`hold`)
        self._file: Path | None = None  # the SQLite database's file (not `:memory:`, a URI)
        # Parameters may hold names; they must not end up in logs or error messages. Compiled
        # SQL is shared with the process's other engines (storage/compiled.py).
        options: dict[str, Any] = {
            "echo": echo,
            "hide_parameters": True,
            "execution_options": {"compiled_cache": COMPILED},
        }
        if self.is_sqlite:
            database = make_url(url).database
            if database and database != ":memory:" and not database.startswith("file:"):
                self._file = Path(database)
                # SQLite gives its -wal and -shm files the database file's permissions.
                private_directory(self._file.parent)
                create_private_file(self._file)
            # One trip to aiosqlite's thread per statement instead of four (storage/sqlite.py).
            options["module"] = OneTripDBAPI()
            self.engine = create_async_engine(url, pool_size=2, max_overflow=0, **options)
            # Readers: at most as many as before (8 kept + 10 overflow), all kept open. An
            # overflow connection is closed when it is returned, and a burst of presses (the
            # access gate's first read of each person) opened one again, with its thread and
            # its pragmas, for most reads.
            self.read_engine = create_async_engine(
                url, pool_size=READ_CONNECTIONS, max_overflow=0, **options
            )
            _configure_sqlite(self.engine, "BEGIN IMMEDIATE", lock_timeout_ms=lock_timeout_ms)
            _configure_sqlite(
                self.read_engine,
                "BEGIN",
                lock_timeout_ms=lock_timeout_ms,
                cache_kib=READ_PAGE_CACHE_KIB,
            )
            # One writer at a time: waiting on an asyncio lock is cheaper and fairer than
            # spinning on SQLite's busy timeout.
            self.write_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            server = {"lock_timeout": str(int(lock_timeout_ms))}
            self.engine = create_async_engine(
                url,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                connect_args={"server_settings": server},
                **options,
            )
            self.read_engine = self.engine
            self.write_lock = None
        self.write_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def connect(self) -> AsyncConnection:
        return self.engine.connect()

    def migration_engine(self) -> AsyncEngine:
        """The engine to migrate with. SQLite rebuilds tables to alter them, which foreign keys
        would refuse while other tables point at them; they are checked after the migration."""
        if not self.is_sqlite:
            return self.engine
        engine = create_async_engine(
            self.url,
            poolclass=NullPool,
            hide_parameters=True,
            execution_options={"compiled_cache": COMPILED},
        )
        _configure_sqlite(engine, "BEGIN IMMEDIATE", foreign_keys=False)
        return engine

    def session(self, *, write: bool) -> AsyncSession:
        return (self.write_sessions if write else self.read_sessions)()

    async def purge_freed_pages(self) -> None:
        """After erasing personal data: make sure no older version of the rows remains where
        the database keeps them (SQLite's write-ahead log; PostgreSQL's dead row versions)."""
        if self.is_sqlite:
            assert self.write_lock is not None
            async with self.write_lock, self.engine.connect() as connection:
                raw = (await connection.get_raw_connection()).driver_connection
                assert raw is not None
                cursor = await raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                await cursor.close()
        else:
            async with self.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("VACUUM members, alerts")

    def hold(self) -> None:
        """Take a SQLite file for this process alone, or refuse with `DatabaseInUse`.

        A bot that starts on SQLite hands every claimed delivery back, since a single process
        owns every claim: a second process on the same file would send the first one's
        deliveries again. The lock is `<file>.lock`, held until `dispose`; the kernel drops it
        when the process ends, however it ends. PostgreSQL needs none (claims expire instead).
        """
        if self._file is None or self._held is not None:
            return
        path = self._file.with_name(self._file.name + ".lock")
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise DatabaseInUse(
                f"Another cora-bot process is running on the SQLite file {self._file}. SQLite is "
                "for one process: stop the other one first (or use PostgreSQL for several "
                "instances). Nothing was changed."
            ) from None
        self._held = descriptor

    async def dispose(self) -> None:
        if self._held is not None:
            os.close(self._held)  # closing the descriptor drops the lock
            self._held = None
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
