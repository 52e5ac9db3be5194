"""Schema migrations with Alembic, run on the application's own async engine.

Alembic (and Mako under it) costs about 8 MB and a fifth of a second to import. A start on a
database that is already current needs neither: one query reads the stored revision, and the
migration files, parsed once per process (not imported: they import Alembic), name the newest
one. Alembic is imported only when there is work for it, or when the files do not form one line
of revisions."""

from __future__ import annotations

import ast
import functools
from importlib import import_module, resources
from importlib.abc import Traversable
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

# Any fixed number: several instances starting at once must not migrate concurrently.
_MIGRATION_LOCK = 4_711_001


def __getattr__(name: str) -> Any:
    """`migrate.command` (Alembic's commands) for callers that drive Alembic themselves, such
    as tests that downgrade; imported on first use."""
    if name == "command":
        return import_module("alembic.command")
    raise AttributeError(name)


def alembic_config(connection: Any = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "storage:migrations")
    config.attributes["connection"] = connection
    return config


def _versions() -> Traversable:
    return resources.files("storage").joinpath("migrations", "versions")


def _literal_assignments(source: str) -> dict[str, Any]:
    """The module-level `name = <literal>` assignments of a migration file."""
    found: dict[str, Any] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                continue
    return found


def head_from_files(versions: Traversable) -> str | None:
    """The one revision no other migration in `versions` revises; None when that is not a
    single line of revisions (several heads, merges, branch labels, dependencies, a revision
    that is not a literal): then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for entry in versions.iterdir():
        if not entry.name.endswith(".py") or entry.name.startswith("__"):
            continue
        names = _literal_assignments(entry.read_text("utf-8"))
        revision, down = names.get("revision"), names.get("down_revision")
        if not isinstance(revision, str) or names.get("branch_labels") or names.get("depends_on"):
            return None
        if down is not None and not isinstance(down, str):
            return None  # a merge point
        revisions.add(revision)
        if down is not None:
            parents.add(down)
    heads = revisions - parents
    if len(heads) != 1 or not parents <= revisions:
        return None
    return heads.pop()


@functools.cache
def _head_of_this_version() -> str | None:
    """The head named by this installation's own migration files, read once per process: they
    do not change under a running program (tests start the bot hundreds of times)."""
    return head_from_files(_versions())


def head_revision() -> str | None:
    """The newest migration of this version (from the files; Alembic's answer when they are not
    one plain line of revisions)."""
    head = _head_of_this_version()
    if head is not None:
        return head
    from alembic.script import ScriptDirectory

    alembic_head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return str(alembic_head) if alembic_head is not None else None


async def current_revision(database: Database) -> str | None:
    """The database's migration, read with one query; None for an empty database."""
    async with database.read_engine.connect() as connection:
        try:
            rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
        except DBAPIError:
            return None  # no schema yet
    if len(rows) > 1:
        raise RuntimeError("the database is at several migration heads")
    return str(rows[0][0]) if rows else None


def _upgrade(connection: Any, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


async def upgrade(database: Database, revision: str = "head") -> None:
    """Migrate to `revision`; to the head only when the database is not already there."""
    if revision == "head":
        head = _head_of_this_version()
        if head is not None and await current_revision(database) == head:
            return
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
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def is_current(database: Database) -> bool:
    """Whether the database is at Alembic's head (Alembic's own view, for checks and tests)."""
    from alembic.script import ScriptDirectory

    async with database.engine.connect() as connection:
        current = await connection.run_sync(_current)
    return current == ScriptDirectory.from_config(alembic_config()).get_current_head()
