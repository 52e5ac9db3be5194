"""The `cora-bot` command line: run the bot, migrate, bootstrap invites, manage keys."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from telegram.error import BadRequest, NetworkError

from bot import keys
from bot.cli import commands
from bot.cli.audit import audit_command
from bot.cli.checks import SetupError, check_database, telegram_unreachable
from bot.cli.parser import parser
from bot.cli.running import run
from bot.config import ConfigError, Settings, load_settings
from bot.errors import DomainError, as_domain_error
from bot.i18n import plain_text
from bot.logs import configure_logging
from bot.network import NetworkFileError
from bot.offers.files import OfferFileError
from bot.snapshots import snapshot
from storage.db import DatabaseInUse
from storage.errors import DatabaseBusyError

# Exit status when something outside the bot is not as it must be (configuration, token,
# Telegram or the database out of reach): one line says what to check.
SETUP_PROBLEM = 2

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int | None]]
COMMANDS: dict[str, Command] = {
    "run": run,
    "db": commands.db_upgrade,
    "invite": commands.invite_create,
    "keys": commands.keys_rotate,
    "audit": audit_command,
    "apikey": commands.apikey,
    "report": commands.report_command,
    "offers": commands.offers_import,
}


def _uses_database(args: argparse.Namespace) -> bool:
    """Every command but `run` (which checks its token first) and the key printers."""
    if args.command == "run" or (args.command == "audit" and args.audit_command == "public-key"):
        return False
    return args.command in ("db", "invite", "keys", "audit", "apikey", "report")


def _sandbox(args: argparse.Namespace) -> int:
    """`cora-bot sandbox`, imported only here: the bot itself never needs the local Bot API."""
    from sandbox.run import SandboxOptions, run_sandbox

    try:
        return run_sandbox(snapshot(SandboxOptions, args, open_browser=args.open))
    except DatabaseInUse as error:  # a second sandbox on a kept data directory
        print(error, file=sys.stderr)
        return SETUP_PROBLEM


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "sandbox":  # before load_settings: the sandbox reads no configuration
        return _sandbox(args)
    if args.command == "keys" and args.keys_command == "generate":
        for line in keys.generated_env_lines():
            print(line)
        return 0
    try:
        settings = load_settings()
        configure_logging(settings.log_level, keys.known_secrets(settings), settings.log_format)
        if _uses_database(args):
            asyncio.run(check_database(settings))
        return asyncio.run(COMMANDS[args.command](settings, args)) or 0
    except (ConfigError, DatabaseInUse, NetworkFileError, OfferFileError, SetupError) as error:
        print(error, file=sys.stderr)
        return SETUP_PROBLEM
    except NetworkError as error:
        if isinstance(error, BadRequest):  # Telegram answered: not a network problem
            raise
        print(telegram_unreachable(settings, error), file=sys.stderr)
        return SETUP_PROBLEM
    except (DomainError, DatabaseBusyError) as failure:
        refusal = as_domain_error(failure)
        assert isinstance(refusal, DomainError)
        print(plain_text("en", refusal.message_key, **refusal.params), file=sys.stderr)
        return 2
