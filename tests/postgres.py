"""A throw-away PostgreSQL server for the test session, started from the machine's binaries."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def available() -> bool:
    return all(_binary(name) for name in ("initdb", "pg_ctl", "postgres"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """initdb + pg_ctl in a temporary directory; as root, the server runs as `postgres`.

    One server serves a whole test run: the pytest-xdist controller starts it and each worker
    attaches to it (`PostgresServer.attach(server.address)`), with databases of its own."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="cora-pg-"))
        self._as_postgres = os.geteuid() == 0

    @property
    def address(self) -> str:
        """What another process needs to attach to this server."""
        return f"{self.port}:{self.directory}"

    @classmethod
    def attach(cls, address: str) -> PostgresServer:
        """A server that another process started (and will stop)."""
        server = cls.__new__(cls)
        port, _, directory = address.partition(":")
        server.port, server.directory = int(port), Path(directory)
        server._as_postgres = os.geteuid() == 0
        return server

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if self._as_postgres:
            shutil.chown(self.directory, "postgres")
        data = str(self.directory / "data")
        self._run(
            str(_binary("initdb")),
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
            "-c max_connections=300"
        )
        self._run(
            str(_binary("pg_ctl")),
            "-D",
            data,
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "-l",
            str(self.directory / "server.log"),
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(
                str(_binary("pg_ctl")),
                "-D",
                str(self.directory / "data"),
                "-m",
                "immediate",
                "stop",
            )
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def connect(self, database: str) -> asyncpg.Connection:
        return await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", database=database
        )

    async def create_database(self, name: str, template: str | None = None) -> str:
        connection = await self.connect("postgres")
        try:
            suffix = f' TEMPLATE "{template}"' if template else ""
            if template and int(await connection.fetchval("SHOW server_version_num")) >= 150000:
                # FILE_COPY copies the template's files instead of writing every page to the
                # WAL (the default since PostgreSQL 15): much less to write per test.
                suffix += " STRATEGY FILE_COPY"
            await connection.execute(f'CREATE DATABASE "{name}"{suffix}')
        finally:
            await connection.close()
        return self.url(name)


# -- databases reused between tests ---------------------------------------------------------
# Creating a database from the template costs the server 0.1-0.4 s of CPU; emptying one that
# a test has used costs about a millisecond on a connection that stays open. Each test process
# keeps its databases and empties one after each test: the rows it wrote are deleted (the
# tables that hold any, found with one query), the template's own rows (the Alembic revision,
# the audit chain's head) are written back, and the sequences restart. A test that changes the
# schema asks for a fresh database (the `fresh_database` mark); one that does so without it
# fails, and its database is not used again.

# What a test could change besides rows: any catalog row it writes (a table, column, index,
# constraint, trigger, function, type, sequence's definition, setting ...) shows as a row more
# or less or a newer transaction id in its catalog. The planner's statistics that autovacuum
# writes are updated in place or live in pg_statistic, which is left out; so are the schemas
# of temporary tables, which a session creates once and leaves behind.
_CATALOGS = [
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_constraint",
    "pg_index",
    "pg_trigger",
    "pg_proc",
    "pg_type",
    "pg_sequence",
    "pg_extension",
    "pg_policy",
    "pg_rewrite",
    "pg_enum",
    "pg_inherits",
    "pg_event_trigger",
    "pg_statistic_ext",
    "pg_namespace",
    "pg_db_role_setting",
]
_SCHEMA_FINGERPRINT = " UNION ALL ".join(
    f"SELECT '{catalog}', count(*), max(xmin::text::bigint) FROM {catalog}"
    + {
        "pg_namespace": " WHERE nspname NOT LIKE 'pg\\_%temp\\_%'",
        "pg_db_role_setting": (
            " WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
    }.get(catalog, "")
    for catalog in _CATALOGS
)
_SCHEMA_FINGERPRINT += " ORDER BY 1"

_TABLES = """
SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
 WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1
"""

_SEQUENCES = """
SELECT format('%I.%I', schemaname, sequencename), start_value, last_value FROM pg_sequences
 WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
"""

_OTHER_CONNECTIONS = """
SELECT pid, application_name, state, left(query, 120) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
   AND backend_type = 'client backend'
"""

# How long a test's connections may take to go away after it ends (a stopped bot's or a
# killed process's backends end within milliseconds).
_CONNECTIONS_GONE_SECONDS = 10.0


class SchemaChanged(AssertionError):
    pass


class ConnectionsLeft(AssertionError):
    pass


class _Template:
    """What a database copied from the template holds before a test: its schema, its rows and
    its sequences, read from a fresh copy (a connection to the template itself would make the
    other processes' CREATE DATABASE … TEMPLATE fail)."""

    def __init__(
        self,
        fingerprint: str,
        tables: list[str],
        rows: dict[str, str],
        sequences: dict[str, int | None],
    ) -> None:
        self.fingerprint = fingerprint
        self.tables = tables
        self.rows = rows  # table -> its rows as JSON, for the tables that have any
        self.sequences = sequences  # sequence -> last value (None: never used)
        self.any_rows = " UNION ALL ".join(
            f"SELECT {_literal(table)} WHERE EXISTS (SELECT FROM {table})" for table in tables
        )

    @classmethod
    async def read(cls, connection: asyncpg.Connection) -> _Template:
        tables = [row[0] for row in await connection.fetch(_TABLES)]
        rows = {}
        for table in tables:
            if await connection.fetchval(f"SELECT EXISTS (SELECT FROM {table})"):
                rows[table] = await connection.fetchval(
                    f"SELECT json_agg(r ORDER BY r::text) FROM {table} AS r"
                )
        sequences = {name: last for name, _, last in await connection.fetch(_SEQUENCES)}
        fingerprint = _fingerprint(await connection.fetch(_SCHEMA_FINGERPRINT))
        return cls(fingerprint, tables, rows, sequences)

    def restore(self, written: list[str], sequences: list[asyncpg.Record]) -> str:
        """The statements that give a database the template's rows and sequences back."""
        statements = [f"DELETE FROM {table}" for table in written]
        for table, rows in self.rows.items():
            if table not in written:
                statements.append(f"DELETE FROM {table}")
            statements.append(
                f"INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, "
                f"{_literal(rows)})"
            )
        for name, start, last in sequences:
            if last != self.sequences.get(name):
                if self.sequences.get(name) is None:
                    statements.append(f"SELECT setval({_literal(name)}, {start}, false)")
                else:
                    statements.append(
                        f"SELECT setval({_literal(name)}, {self.sequences[name]}, true)"
                    )
        return ";\n".join(statements)

    async def differences(self, connection: asyncpg.Connection) -> list[str]:
        """Where a database differs from the template (nothing, after a reset)."""
        found = []
        if _fingerprint(await connection.fetch(_SCHEMA_FINGERPRINT)) != self.fingerprint:
            found.append("the schema")
        tables = [row[0] for row in await connection.fetch(_TABLES)]
        if tables != self.tables:
            found.append(f"the tables: {tables}")
        for table in tables:
            rows = await connection.fetchval(
                f"SELECT json_agg(r ORDER BY r::text) FROM {table} AS r"
            )
            if rows != self.rows.get(table):
                found.append(f"the rows of {table}: {rows}")
        for name, _, last in await connection.fetch(_SEQUENCES):
            if last != self.sequences.get(name):
                found.append(f"the sequence {name} at {last}")
        return found


def _fingerprint(rows: list[asyncpg.Record]) -> str:
    return ", ".join(" ".join(str(field) for field in row) for row in rows)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class DatabasePool:
    """The databases of one test process, copied from `template` once and emptied after each
    test. Their connections live on a thread of their own (each test has its own event loop)
    and stay open: connecting would cost the server more than the reset."""

    def __init__(self, server: PostgresServer, template: str, prefix: str) -> None:
        self.server, self.template, self.prefix = server, template, prefix
        self.connections_gone_seconds = _CONNECTIONS_GONE_SECONDS
        self._free: list[str] = []
        self._connections: dict[str, asyncpg.Connection] = {}
        self._shape: _Template | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="cora-test-databases", daemon=True
        )
        self._thread.start()

    def _on_thread(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def fresh(self) -> str:
        """A new copy of the template, for a test of its own (it is not reused)."""
        return await self.server.create_database(
            f"{self.prefix}_fresh_{uuid.uuid4().hex[:12]}", template=self.template
        )

    async def take(self) -> str:
        """A database as the template is: a reused one, or a new copy."""
        return await self._on_thread(self._take())

    async def give_back(self, url: str) -> None:
        """Empty the database for the next test; raises (and drops it from the pool) when the
        test left connections to it or changed its schema."""
        await self._on_thread(self._give_back(url.rsplit("/", 1)[1]))

    async def differences(self, url: str) -> list[str]:
        return await self._on_thread(self._differences(url.rsplit("/", 1)[1]))

    async def _take(self) -> str:
        if self._free:
            return self.server.url(self._free.pop())
        name = f"{self.prefix}_{uuid.uuid4().hex[:12]}"
        url = await self.server.create_database(name, template=self.template)
        connection = await self.server.connect(name)
        # Deletes in any order, past the foreign keys (their triggers do not fire).
        await connection.execute("SET session_replication_role = replica")
        if self._shape is None:
            self._shape = await _Template.read(connection)
        self._connections[name] = connection
        return url

    async def _give_back(self, name: str) -> None:
        connection, shape = self._connections[name], self._shape
        assert shape is not None
        deadline = time.monotonic() + self.connections_gone_seconds
        while left := await connection.fetch(_OTHER_CONNECTIONS):
            if time.monotonic() > deadline:
                await self._drop(name)
                raise ConnectionsLeft(
                    f"{len(left)} connections to the test's database are still open "
                    f"{self.connections_gone_seconds:g} s after the test: "
                    + "; ".join(" ".join(str(field) for field in row) for row in left)
                )
            await asyncio.sleep(0.01)
        if _fingerprint(await connection.fetch(_SCHEMA_FINGERPRINT)) != shape.fingerprint:
            await self._drop(name)
            raise SchemaChanged(
                "the test changed the database's schema: mark it "
                "@pytest.mark.fresh_database so that it gets a database of its own"
            )
        written = [row[0] for row in await connection.fetch(shape.any_rows)]
        sequences = await connection.fetch(_SEQUENCES)
        async with connection.transaction():
            await connection.execute(shape.restore(written, sequences))
        self._free.append(name)

    async def _differences(self, name: str) -> list[str]:
        assert self._shape is not None
        return await self._shape.differences(self._connections[name])

    async def _drop(self, name: str) -> None:
        """Not used again (left on the server, which is thrown away after the run)."""
        await self._connections.pop(name).close()

    def close(self) -> None:
        async def close_all() -> None:
            for connection in self._connections.values():
                await connection.close()

        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()
