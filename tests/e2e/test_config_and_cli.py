"""Configuration is validated once with clear messages; the command line works without Telegram."""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import os
import re
import sqlite3
import stat
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from cryptography.fernet import Fernet

from bot.app import CoraBot
from bot.cli import main
from bot.config import ConfigError, Settings, load_settings
from bot.keys import known_secrets
from bot.logs import RedactingFilter
from bot.network import NetworkFileError, load_network, parse_network
from localapi.server import LocalBotApi
from tests import postgres
from tests.conftest import TOKEN


def test_keys_generate_prints_a_usable_env_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "generate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    name, _, value = lines[0].partition("=")
    assert name == "CORA_ENCRYPTION_KEY"
    Fernet(value)  # raises if it is not a valid key
    assert main(["keys", "generate"]) == 0
    assert capsys.readouterr().out.splitlines()[0] != lines[0]


def test_every_malformed_value_is_named_in_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token")
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    monkeypatch.setenv("CORA_ENCRYPTION_KEY", "short")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None)
    message = str(error.value)
    for name in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "CORA_ENCRYPTION_KEY", "LOG_LEVEL"):
        assert name in message
    assert "not-a-token" not in message  # the refused secret is not echoed


def test_database_urls_are_normalised_to_async_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://cora@db/cora")
    assert load_settings(_env_file=None).database_url == "postgresql+asyncpg://cora@db/cora"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///data/x.db")
    assert load_settings(_env_file=None).database_url == "sqlite+aiosqlite:///data/x.db"


def test_run_without_a_token_explains_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["run"]) == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("run", "db", "invite", "keys"):
        assert command in result.stdout


def test_the_default_network_is_mecklenburg_vorpommern() -> None:
    network = load_network()
    assert list(network.sectors) == [
        "police",
        "justice",
        "victim_support",
        "youth_welfare",
        "social_welfare",
        "child_protection",
        "health",
        "education",
        "perpetrator_work",
        "coordination",
    ]
    assert list(network.regions) == ["HRO", "SN", "LRO", "LUP", "MSE", "NWM", "VG", "VR", "MV"]
    assert network.sectors["victim_support"].label("de") == "Unterstützungs- und Schutzangebote"
    assert network.statewide_region == "MV"
    assert network.covers("MV", "HRO") and network.covers("HRO", "HRO")
    assert not network.covers("VG", "HRO")


def test_a_replacement_network_file_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "net.toml"
    good.write_text(
        'statewide_region = "ALL"\n[sectors.police]\nde = "Polizei"\n'
        '[regions.A]\nde = "Nord"\n[regions.ALL]\nde = "Alle"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CORA_NETWORK_FILE", str(good))
    network = load_network(load_settings(_env_file=None).cora_network_file)
    assert list(network.regions) == ["A", "ALL"]
    with pytest.raises(NetworkFileError, match="statewide_region"):
        parse_network('[sectors.police]\nde = "P"\n[regions.A]\nde = "A"\n')
    with pytest.raises(NetworkFileError, match="German label"):
        parse_network('statewide_region = "A"\n[sectors.police]\nen = "P"\n[regions.A]\nde = "A"\n')
    monkeypatch.setenv("CORA_NETWORK_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="CORA_NETWORK_FILE"):
        load_settings(_env_file=None)


def test_db_upgrade_migrates_a_new_sqlite_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "fresh" / "cora.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    assert f"Created the database schema in the SQLite file {database}" in capsys.readouterr().out
    tables = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sqlite3; print(sqlite3.connect('{database}').execute("
            "\"select group_concat(name) from sqlite_master where type='table'\").fetchone()[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert {"members", "invites", "audit_events", "audit_head"} <= set(tables.strip().split(","))


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    server: postgres.PostgresServer | None = request.getfixturevalue("postgres_server")
    if server is None:
        pytest.skip("PostgreSQL binaries not available (set CORA_TEST_POSTGRES=require in CI)")
    return await server.create_database(f"empty_{uuid.uuid4().hex[:12]}")


def test_db_upgrade_on_an_empty_database_says_what_it_did(
    empty_database: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from storage.migrate import head_revision
    from tests.story import run_cli

    monkeypatch.setenv("DATABASE_URL", empty_database)
    monkeypatch.chdir(tmp_path)
    assert run_cli("db", "upgrade") == 0
    created = capsys.readouterr().out
    assert "Created the database schema in " in created
    assert f"(migrations up to {head_revision()})" in created
    assert run_cli("db", "upgrade") == 0
    assert f"is up to date ({head_revision()}); nothing to do" in capsys.readouterr().out


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as finished:
        main(["--version"])
    assert finished.value.code == 0
    assert capsys.readouterr().out.strip() == f"cora-bot {importlib.metadata.version('cora-bot')}"


def test_the_command_line_prints_no_html_tags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.story import run_cli

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cora.db'}")
    monkeypatch.chdir(tmp_path)
    assert run_cli("report", "--since", "2026-10-31", "--until", "2026-10-01") == 2
    refusal = capsys.readouterr().err.strip()
    assert "Try 30d, 2026-10, 2026 or 2026-10-01..2026-10-31." in refusal
    assert "<" not in refusal and "&" not in refusal


def test_an_unreachable_postgresql_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.story import free_port, run_cli

    port = free_port()  # nothing listens there
    monkeypatch.setenv(
        "DATABASE_URL", f"postgresql://cora:Geheim-42-Passwort@127.0.0.1:{port}/cora"
    )
    monkeypatch.chdir(tmp_path)
    for command in (("db", "upgrade"), ("report",), ("audit", "verify")):
        assert run_cli(*command) == 2
        output = capsys.readouterr()
        [line] = output.err.splitlines()
        assert line.startswith(f"Cannot reach the database, PostgreSQL at 127.0.0.1:{port}/cora")
        assert "Check DATABASE_URL" in line
        assert "Geheim-42-Passwort" not in output.err + output.out


def test_the_database_password_is_redacted_from_logs_and_left_out_of_the_settings_repr() -> None:
    settings = Settings(
        database_url="postgresql://cora:Geheim%2F42-Passwort@db.example/cora", _env_file=None
    )
    assert "Geheim" not in repr(settings)
    redacting = RedactingFilter(known_secrets(settings))
    for text in (
        "cannot connect to postgresql://cora:Geheim%2F42-Passwort@db.example/cora",
        "password 'Geheim/42-Passwort' was rejected",
    ):
        record = logging.LogRecord("asyncpg", logging.ERROR, __file__, 1, text, None, None)
        assert redacting.filter(record)
        assert "Geheim" not in record.getMessage()
        assert "<secret>" in record.getMessage()


async def test_a_running_bot_shows_no_secret_in_its_repr(cora: CoraBot, settings: Settings) -> None:
    """asyncio shows a task's result in its repr (and builds it for every signal handler
    a runner replaces); python-telegram-bot's `Bot[token=…]` showed the whole token."""
    bot_id, _, secret = TOKEN.partition(":")
    assert repr(cora) == f"CoraBot(TelegramBot[id={bot_id}])"
    shown = " ".join(map(repr, (cora, cora.application, cora.application.bot, cora.settings)))
    assert secret not in shown
    assert settings.cora_encryption_key is not None
    assert settings.cora_encryption_key.get_secret_value() not in shown


async def test_an_invitation_from_the_command_line_expires_in_the_networks_time_zone(
    api: LocalBotApi,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.story import run_cli

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
    monkeypatch.setenv("TELEGRAM_BASE_URL", api.base_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cora.db'}")
    monkeypatch.setenv("CORA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CORA_TIMEZONE", "Europe/Berlin")
    monkeypatch.chdir(tmp_path)
    before = datetime.now(UTC)
    # In a thread: the local Bot API answers on this test's event loop.
    created = await asyncio.to_thread(
        run_cli, "invite", "create", "--sector", "police", "--region", "HRO", "--days", "7"
    )
    assert created == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "UTC" not in first
    expected = {
        format_datetime(moment, "d MMM yyyy, HH:mm", tzinfo=ZoneInfo("Europe/Berlin"), locale="en")
        for moment in (before + timedelta(days=7), before + timedelta(days=7, minutes=1))
    }
    assert any(f"valid until {moment} (Europe/Berlin):" in first for moment in expected), first


def test_escalation_periods_accept_seconds_and_iso_durations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ESCALATION_URGENT_AFTER", "900")
    monkeypatch.setenv("ESCALATION_NORMAL_AFTER", "PT4H")
    settings = load_settings(_env_file=None)
    assert settings.escalation_urgent_after.total_seconds() == 900
    assert settings.escalation_normal_after.total_seconds() == 4 * 3600
    monkeypatch.setenv("ESCALATION_URGENT_AFTER", "soon")
    with pytest.raises(ConfigError, match="ESCALATION_URGENT_AFTER"):
        load_settings(_env_file=None)


ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_env_example_and_the_readme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`.env.example` names every setting with its default, and copied to `.env` unchanged it
    is a valid configuration; the README's table lists every setting too."""
    example = (ROOT / ".env.example").read_text("utf-8")
    readme = (ROOT / "README.md").read_text("utf-8")
    table = readme[readme.index("## Configuration") : readme.index("### Command line")]
    names = [name.upper() for name in Settings.model_fields]
    assert [n for n in names if not re.search(rf"^{n}=", example, re.MULTILINE)] == []
    assert [n for n in names if f"`{n}`" not in table] == []
    for name in names:
        monkeypatch.delenv(name, raising=False)
    documented = load_settings(_env_file=ROOT / ".env.example")
    defaults = load_settings(_env_file=None)
    assert {
        name: getattr(documented, name)
        for name in Settings.model_fields
        if getattr(documented, name) != getattr(defaults, name)
    } == {}


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o277], ids=["022", "000", "277"])
def test_the_data_directory_keys_and_sqlite_file_are_for_the_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int
) -> None:
    from tests.story import run_cli

    data = tmp_path / "srv" / "data"
    for name in ("CORA_ENCRYPTION_KEY", "CORA_AUDIT_SIGNING_KEY", "CORA_AUDIT_VERIFY_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CORA_DATA_DIR", str(data))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{data}/cora.db")
    previous = os.umask(umask)
    try:
        assert run_cli("db", "upgrade") == 0
        assert run_cli("audit", "public-key") == 0  # generates keys.env
        # What SQLite creates beside the database while it is open takes the file's mode.
        connection = sqlite3.connect(data / "cora.db")
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE scratch (x)")
            connection.commit()
            beside = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.glob("cora.db-*")}
        finally:
            connection.close()
    finally:
        os.umask(previous)
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    assert (mode(data.parent), mode(data)) == (0o700, 0o700)
    assert (mode(data / "cora.db"), mode(data / "keys.env")) == (0o600, 0o600)
    assert beside == {"cora.db-wal": 0o600, "cora.db-shm": 0o600}


def test_docker_compose_keeps_the_data_directory_in_a_volume() -> None:
    """Keys generated into /var/lib/cora (and the SQLite file, if used) survive a new container."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    mounts = [str(v).split(":") for v in compose["services"]["bot"].get("volumes", [])]
    [(volume, _)] = [mount[:2] for mount in mounts if mount[1:2] == ["/var/lib/cora"]]
    assert volume in compose["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    assert "CORA_DATA_DIR=/var/lib/cora" in dockerfile
    assert "chmod 0700 /var/lib/cora" in dockerfile


def test_the_test_command_leaves_the_quick_starts_environment_alone() -> None:
    """./scripts/test installs into an environment of its own: reinstalling the quick start's
    .venv as an editable install would break a cora-bot running from it."""
    script = (ROOT / "scripts" / "test").read_text("utf-8")
    commands = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in commands if re.search(r"(?<![\w-])\.venv(?![\w-])", line)]
    assert "venv=${CORA_TEST_VENV:-.venv-test}" in commands
    assert ".venv-test/" in (ROOT / ".gitignore").read_text("utf-8").splitlines()


def test_the_license_is_an_spdx_expression() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["license"] == "AGPL-3.0-or-later"
    assert importlib.metadata.metadata("cora-bot")["License-Expression"] == "AGPL-3.0-or-later"
