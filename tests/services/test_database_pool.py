"""The PostgreSQL databases of a test process are used again (`tests/postgres.py`,
`DatabasePool`): after a test its database must be exactly the template again, and a test that
leaves a connection open or changes the schema must fail instead of passing its database on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.membership import ADMIN_ACTOR
from storage.db import Database
from tests import postgres
from tests.network_env import berlin, build_env


@pytest.fixture
def pool(postgres_databases: postgres.DatabasePool | None) -> postgres.DatabasePool:
    if postgres_databases is None:
        pytest.skip("PostgreSQL binaries not available (set CORA_TEST_POSTGRES=require in CI)")
    return postgres_databases


@pytest.fixture
def own_pool(pool: postgres.DatabasePool) -> Iterator[postgres.DatabasePool]:
    """A pool of this test's own, which waits 0.3 s for connections to go away."""
    own = postgres.DatabasePool(pool.server, pool.template, prefix="t_check")
    own.connections_gone_seconds = 0.3
    yield own
    own.close()


async def _scalar(url: str, statement: str) -> object:
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            result = await connection.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await database.dispose()


async def test_a_reused_database_has_none_of_the_last_tests_rows_and_restarts_its_sequences(
    pool: postgres.DatabasePool,
) -> None:
    url = await pool.take()
    assert await pool.differences(url) == []
    # What a test writes: members through invitations, an alert with its recipients and
    # deliveries, audit events (which move the template's own row in audit_head) ...
    database = Database(url)
    try:
        env = build_env(database, berlin(2026, 12, 1, 10), timedelta(hours=1))
        sender = await env.member("victim_support", "HRO")
        await env.member("police", "HRO")
        await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage am Hafen")
        await env.deliver()
        await env.membership.create_invite(ADMIN_ACTOR, "police", "HRO")
        async with database.engine.begin() as connection:
            # ... every sequence used, and the template's other row changed.
            await connection.execute(
                text(
                    "SELECT nextval(format('%I.%I', schemaname, sequencename)) "
                    "FROM pg_sequences WHERE schemaname = 'public'"
                )
            )
            await connection.execute(text("UPDATE alembic_version SET version_num = 'x'"))
    finally:
        await database.dispose()
    written = await pool.differences(url)
    for table in ("members", "invites", "alerts", "deliveries", "audit_events", "audit_head"):
        assert any(f"the rows of public.{table}:" in found for found in written), written
    assert any("the sequence public.members_id_seq at" in found for found in written), written
    assert any("the rows of public.alembic_version" in found for found in written), written

    await pool.give_back(url)
    again = await pool.take()
    try:
        assert again == url  # the same database, used again
        assert await pool.differences(again) == []
        # Read as a test reads it: empty, and the first member gets id 1 again.
        assert await _scalar(again, "SELECT count(*) FROM members") == 0
        assert await _scalar(again, "SELECT count(*) FROM audit_events") == 0
        assert await _scalar(again, "SELECT seq FROM audit_head") == 0
        assert await _scalar(again, "SELECT nextval('members_id_seq')") == 1
    finally:
        await pool.give_back(again)


async def test_a_connection_left_open_fails_the_test_and_its_database_is_not_used_again(
    own_pool: postgres.DatabasePool,
) -> None:
    url = await own_pool.take()
    lingering = await own_pool.server.connect(url.rsplit("/", 1)[1])
    try:
        with pytest.raises(postgres.ConnectionsLeft, match="1 connections"):
            await own_pool.give_back(url)
    finally:
        await lingering.close()
    other = await own_pool.take()
    assert other != url
    await own_pool.give_back(other)


async def test_a_schema_change_fails_the_test_and_its_database_is_not_used_again(
    own_pool: postgres.DatabasePool,
) -> None:
    url = await own_pool.take()
    await _scalar(url, "CREATE INDEX members_by_name ON members (display_name)")
    with pytest.raises(postgres.SchemaChanged, match="fresh_database"):
        await own_pool.give_back(url)
    other = await own_pool.take()
    assert other != url
    assert await own_pool.differences(other) == []
    await own_pool.give_back(other)
