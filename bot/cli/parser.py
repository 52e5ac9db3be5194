"""The `cora-bot` command line's arguments."""

from __future__ import annotations

import argparse
import importlib.metadata
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeAlias

from bot.audit.witness import parse_head
from storage.models import Role

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _version() -> str:
    try:
        return importlib.metadata.version("cora-bot")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout without installing
        return "unknown"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cora-bot",
        description="Coordination bot for verified professionals of a regional network "
        "against domestic and sexual violence. Configuration comes from the environment "
        "and .env (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"cora-bot {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot; migrates the database first")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates on WEBHOOK_LISTEN for WEBHOOK_URL instead of long polling",
    )

    db_commands = _actions(commands, "db", "database maintenance")
    db_commands.add_parser("upgrade", help="apply all database migrations")

    invite_commands = _actions(commands, "invite", "invitations")
    create = invite_commands.add_parser(
        "create", help="create an invitation link (e.g. to bootstrap the first coordinator)"
    )
    create.add_argument("--sector", required=True, help="sector slug, e.g. police")
    create.add_argument("--region", required=True, help="region code, e.g. HRO or MV")
    create.add_argument("--role", choices=[Role.MEMBER, Role.COORDINATOR], default=Role.MEMBER)
    create.add_argument(
        "--uses",
        type=int,
        default=None,
        help="how many people may use it (default INVITE_DEFAULT_USES; coordinators: 1)",
    )
    create.add_argument("--days", type=int, default=None, help="days until it expires")

    audit_commands = _actions(commands, "audit", "the tamper-evident audit log")
    verify = audit_commands.add_parser(
        "verify",
        help="check the whole hash chain, every signed checkpoint and the heads witnessed "
        "outside the database; exit 1 naming the first bad sequence number",
    )
    verify.add_argument(
        "--head",
        action="append",
        default=[],
        type=_head,
        metavar="SEQ:HASH",
        help="a signed head copied from the coordinators' daily message; the chain must "
        "contain it (repeatable)",
    )
    verify.add_argument(
        "--witness",
        type=Path,
        metavar="FILE",
        help="the witness file to check against (default: AUDIT_WITNESS_FILE, when it exists)",
    )
    verify.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="processes that check a long chain side by side, one range each "
        "(default: AUDIT_VERIFY_WORKERS; 0: one per core; 1: none besides this one)",
    )
    export = audit_commands.add_parser("export", help="write events for auditors")
    export.add_argument("--since", type=_date, help="first day (YYYY-MM-DD, UTC), inclusive")
    export.add_argument("--until", type=_date, help="last day (YYYY-MM-DD, UTC), inclusive")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    audit_commands.add_parser("checkpoint", help="sign the current head of the chain now")
    audit_commands.add_parser(
        "public-key",
        help="print every public key checkpoints are verified with, with its key id "
        "(for CORA_AUDIT_VERIFY_KEYS)",
    )

    apikey_commands = _actions(commands, "apikey", "API keys of agency systems (HTTP API)")
    api_create = apikey_commands.add_parser(
        "create", help="create a key bound to a sector and region; it is shown only once"
    )
    api_create.add_argument("--name", required=True, help="e.g. 'Leitstelle PP Rostock'")
    api_create.add_argument("--sector", required=True)
    api_create.add_argument("--region", required=True)
    api_revoke = apikey_commands.add_parser("revoke", help="revoke a key at once")
    api_revoke.add_argument("key_id", help="the key's id (second part of the key)")
    report_command = commands.add_parser(
        "report",
        help="the network report: coverage, answer times and gaps per region and sector "
        "(pseudonymous counts, small numbers masked)",
    )
    report_command.add_argument(
        "--since", type=_day, help="first day (YYYY-MM-DD, network time zone); default: 30 days ago"
    )
    report_command.add_argument(
        "--until", type=_day, help="last day (YYYY-MM-DD), inclusive; default: today"
    )
    report_command.add_argument("--format", choices=["text", "csv", "png"], default="text")
    report_command.add_argument(
        "--output", type=Path, help="file to write (default: standard output)"
    )
    report_command.add_argument(
        "--support",
        action="store_true",
        help="with --format csv or png: the support system's table or heat map (offers, free "
        "places, needs) instead of the network's",
    )
    report_command.add_argument(
        "--language",
        choices=["de", "en"],
        help="language of labels (default: CORA_DEFAULT_LANGUAGE)",
    )

    offers_commands = _actions(commands, "offers", "the support system's offers")
    offers_import = offers_commands.add_parser(
        "import",
        help="create or update offers from a TOML or CSV file (see README, 'Offers file'); "
        "offers the file does not mention are left as they are",
    )
    offers_import.add_argument("file", type=Path, help="offers.toml or offers.csv")

    _add_sandbox(commands)

    key_commands = _actions(commands, "keys", "secrets")
    key_commands.add_parser("generate", help="print fresh keys in the form .env expects")
    key_commands.add_parser(
        "rotate",
        help="re-encrypt all stored texts with the first key of CORA_ENCRYPTION_KEY "
        "(put a new key in front, rotate, then remove the old one)",
    )
    return parser


def _actions(commands: Commands, name: str, help: str) -> Commands:
    """A command with actions (`cora-bot audit verify`): its own set of sub-commands."""
    command = commands.add_parser(name, help=help)
    dest = f"{name}_command"
    return command.add_subparsers(dest=dest, required=True, metavar="ACTION")


def _add_sandbox(commands: Commands) -> None:
    sandbox = commands.add_parser(
        "sandbox",
        help="try the bot without Telegram: an invented network on a web page (start here)",
        description="Start the real bot against a built-in local Telegram, on SQLite, with an "
        "invented network, and serve a page on which you act as any of its people side by "
        "side. Needs no token and no configuration: the environment and .env are ignored. "
        "The page and its control API (/_sim) have no password: anyone who can reach the "
        "address can act as anyone, so it listens on 127.0.0.1 only.",
    )
    sandbox.add_argument("--port", type=int, default=8099, help="port of the page (0: any free)")
    sandbox.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; only this computer's unless --unsafe-public is given",
    )
    sandbox.add_argument(
        "--unsafe-public",
        action="store_true",
        help="allow a --host beyond this computer: everyone who reaches it can act as anyone",
    )
    sandbox.add_argument(
        "--data-dir",
        type=Path,
        help="keep the database and keys here across runs (default: a temporary directory, "
        "deleted at the end)",
    )
    sandbox.add_argument(
        "--language",
        choices=["de", "en"],
        default="de",
        help="language of the page and of the invented people's Telegram",
    )
    sandbox.add_argument("--open", action="store_true", help="open the page in a browser")
    sandbox.add_argument("--verbose", action="store_true", help="log the bot at INFO level")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-25") from None


def _head(text: str) -> tuple[int, str]:
    try:
        return parse_head(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _workers(text: str) -> int:
    if not text.isdecimal() or int(text) > 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes from 0 to 64")
    return int(text)


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-25") from None
