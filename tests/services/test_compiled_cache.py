"""Compiled SQL is shared by the process's engines (`storage/compiled.py`): a second database
of the same kind compiles nothing the first already compiled, each still reads its own rows,
and engines whose dialects would compile differently share nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    column,
    insert,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.ext.asyncio import create_async_engine

from storage.compiled import COMPILED
from storage.db import Database
from tests import postgres

NOTES = table("cache_notes", column("id", Integer), column("body", String))


async def _another(url: str, tmp_path: Path, server: postgres.PostgresServer | None) -> str:
    if url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path / 'second.db'}"
    assert server is not None
    return await server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.mark.fresh_database  # creates a table
async def test_a_second_database_reuses_what_the_first_compiled_and_reads_its_own_rows(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> None:
    server = (
        None if database_url.startswith("sqlite") else request.getfixturevalue("postgres_server")
    )
    # A statement no other test compiles: its first execution anywhere is a miss.
    marker: ColumnElement[str] = literal_column(f"'{uuid.uuid4().hex}'")
    query = select(NOTES.c.body, marker).where(NOTES.c.id > 0).order_by(NOTES.c.id)
    seen = []
    for url, body in [
        (database_url, "erste"),
        (await _another(database_url, tmp_path, server), "zweite"),
    ]:
        database = Database(url)
        try:
            async with database.engine.begin() as connection:
                await connection.execute(text("CREATE TABLE cache_notes (id INTEGER, body TEXT)"))
                await connection.execute(insert(NOTES).values(id=1, body=body))
            async with database.read_engine.connect() as connection:
                result = await connection.execute(query)
                seen.append((result.context.cache_hit, [row[0] for row in result]))
        finally:
            await database.dispose()
    assert seen == [(CacheStats.CACHE_MISS, ["erste"]), (CacheStats.CACHE_HIT, ["zweite"])]


async def test_dialects_that_compile_differently_share_nothing(tmp_path: Path) -> None:
    """The same statement with SQLite's `?` and with named parameters: two entries, and each
    engine runs its own."""
    query = select(NOTES.c.body).where(NOTES.c.body == f"{uuid.uuid4().hex}")
    hits = []
    for paramstyle in ("qmark", "named"):
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{tmp_path / f'{paramstyle}.db'}",
            paramstyle=paramstyle,
            execution_options={"compiled_cache": COMPILED},
        )
        try:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE cache_notes (id INTEGER, body TEXT)"))
                result = await connection.execute(query)
                assert result.all() == []
                hits.append(result.context.cache_hit)
        finally:
            await engine.dispose()
    assert hits == [CacheStats.CACHE_MISS, CacheStats.CACHE_MISS]
