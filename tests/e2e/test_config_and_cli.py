"""Configuration is validated once with clear messages; the command line works without Telegram."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.cli import main
from bot.config import ConfigError, Settings, load_settings
from bot.network import NetworkFileError, load_network, parse_network


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
    assert "up to date" in capsys.readouterr().out
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
