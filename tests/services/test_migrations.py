"""The migrations build exactly the schema the models describe.

Alembic is imported by the tests that use it: every pytest worker imports every test module
to collect it, and Alembic's comparison takes a fifth of a second to import."""

from __future__ import annotations

import asyncio
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from storage import migrate
from storage.db import Database
from storage.models import Base


def _diff(connection: Any) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        await migrate.upgrade(database)  # idempotent on the migrated template
        assert await migrate.is_current(database)
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await database.dispose()


def test_the_head_read_from_the_migration_files_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert head is not None
    assert migrate.head_from_files(resources.files("storage") / "migrations" / "versions") == head
    assert migrate.head_revision() == head


_opened: list[str] | None = None  # files opened while a test records them
_AUDIT_HOOKS: list[Any] = []  # an audit hook stays for the whole process: added once


def _record_open(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _opened is not None:
        _opened.append(str(args[0]))


async def test_a_second_start_in_one_process_does_not_read_the_migration_files_again(
    database_url: str,
) -> None:
    """The newest revision is read from the files once per process; every later start checks
    the database with one query and opens no migration file (tests start the bot hundreds of
    times in one process)."""
    global _opened
    if not _AUDIT_HOOKS:
        sys.addaudithook(_record_open)
        _AUDIT_HOOKS.append(_record_open)
    versions = Path(str(resources.files("storage") / "migrations" / "versions"))
    database = Database(database_url)
    try:
        await migrate.upgrade(database)
        _opened = []
        await migrate.upgrade(database)
        opened, _opened = _opened, None
        assert await migrate.current_revision(database) == migrate.head_revision()
    finally:
        _opened = None
        await database.dispose()
    read = [name for name in opened if Path(name).parent == versions]
    assert read == []
    # the recording works: reading a migration file is seen
    _opened = []
    try:
        migrate.head_from_files(resources.files("storage") / "migrations" / "versions")
        assert any(Path(name).parent == versions for name in _opened)
    finally:
        _opened = None


def _migration(revision: str, down: str, target: str = "revision") -> str:
    return (
        f'"""a migration\n\nrevision = "not-this-one"\n"""\n\n'
        f"{target} = {revision}\ndown_revision = {down}\nbranch_labels = None\n"
        "depends_on = None\n\n\ndef upgrade() -> None:\n    pass\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )


_LAYOUTS = {
    "a line": {"a": ('"a"', "None"), "b": ('"b"', '"a"'), "c": ("'c'", "'b'")},
    "annotated": {"a": ('"a"', "None"), "b": ('"b"', '"a"', "revision: str")},
    "two heads": {"a": ('"a"', "None"), "b": ('"b"', '"a"'), "c": ('"c"', '"a"')},
    "merged": {
        "a": ('"a"', "None"),
        "b": ('"b"', '"a"'),
        "c": ('"c"', '"a"'),
        "d": ('"d"', '("b", "c")'),
    },
}


def test_the_head_from_the_files_agrees_with_alembic_or_leaves_it_to_alembic(
    tmp_path: Path,
) -> None:
    """Whatever the migration files look like, the quick reading never names a head Alembic
    would not: either the same single head, or None (then Alembic decides)."""
    from alembic.script import ScriptDirectory

    answers = {}
    for layout, files in _LAYOUTS.items():
        versions = tmp_path / layout.replace(" ", "_") / "versions"
        versions.mkdir(parents=True)
        for name, (revision, down, *target) in files.items():
            (versions / f"{name}.py").write_text(_migration(revision, down, *target))
        alembic_heads = ScriptDirectory(str(versions.parent)).get_heads()
        ours = migrate.head_from_files(versions)
        answers[layout] = (ours, sorted(alembic_heads))
        if len(alembic_heads) == 1:
            assert ours in (alembic_heads[0], None), layout
        else:
            assert ours is None, layout
    assert answers == {
        "a line": ("c", ["c"]),
        "annotated": ("b", ["b"]),
        "two heads": (None, ["b", "c"]),
        "merged": (None, ["d"]),
    }


_START_UP = """
import asyncio, json, sys
import bot.app, bot.cli.main
from storage import migrate
from storage.db import Database

async def start(url):
    database = Database(url)
    try:
        await migrate.upgrade(database)
        return await migrate.current_revision(database)
    finally:
        await database.dispose()

revision = asyncio.run(start(sys.argv[1]))
heavy = ("alembic", "mako", "matplotlib", "icalendar", "sandbox", "localapi")
if sys.argv[1].startswith("sqlite"):  # every PostgreSQL driver's dialect module: ~2 MB
    heavy += ("sqlalchemy.dialects.postgresql",)
print(json.dumps({"revision": revision, "loaded": [m for m in heavy if m in sys.modules]}))
"""


async def test_starting_on_a_current_database_loads_neither_alembic_nor_other_heavy_modules(
    database_url: str,
) -> None:
    """What the bot imports and does before it runs: the schema is checked with one query and
    left alone; Alembic, the sandbox, the calendar and the chart libraries stay unloaded, and
    on SQLite so does SQLAlchemy's PostgreSQL dialect."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _START_UP, database_url, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result == {"revision": migrate.head_revision(), "loaded": []}


@pytest.mark.fresh_database  # downgrades: drops and creates tables
async def test_a_database_behind_the_head_is_migrated_at_start(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_downgrade, "0006")
        assert await migrate.current_revision(database) == "0006"
        await migrate.upgrade(database)
        assert await migrate.current_revision(database) == migrate.head_revision()
        assert await migrate.is_current(database)
    finally:
        await database.dispose()


async def test_an_empty_database_has_no_revision_and_gets_the_whole_schema(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}")
    try:
        assert await migrate.current_revision(database) is None
        await migrate.upgrade(database)
        assert await migrate.current_revision(database) == migrate.head_revision()
        assert await migrate.is_current(database)
    finally:
        await database.dispose()


def _downgrade(connection: Any, revision: str) -> None:
    migrate.command.downgrade(migrate.alembic_config(connection), revision)
