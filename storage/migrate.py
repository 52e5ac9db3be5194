"""Schema migrations with Alembic, run on the application's own async engine."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from storage.db import Database

# Any fixed number: several instances starting at once must not migrate concurrently.
_MIGRATION_LOCK = 4_711_001


def alembic_config(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "storage:migrations")
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Any, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def upgrade(database: Database, revision: str = "head") -> None:
    engine = database.migration_engine()
    try:
        async with engine.begin() as connection:
            if database.is_sqlite:
                await connection.run_sync(_upgrade, revision)
                broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"migration left broken references: {broken[:5]}")
            else:
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
                await connection.run_sync(_upgrade, revision)
    finally:
        if engine is not database.engine:
            await engine.dispose()


def _current(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest migration of this version."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return str(head) if head is not None else None


async def current_revision(database: Database) -> str | None:
    """The database's migration; None for an empty database."""
    async with database.engine.connect() as connection:
        revision: str | None = await connection.run_sync(_current)
    return revision


async def is_current(database: Database) -> bool:
    async with database.engine.connect() as connection:
        current = await connection.run_sync(_current)
    return current == ScriptDirectory.from_config(alembic_config()).get_current_head()
