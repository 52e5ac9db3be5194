"""The `cora-bot` command line: run the bot, migrate, bootstrap invites, manage keys."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import logging
import signal
import sys
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TextIO, TypeVar
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import make_url
from telegram import Bot
from telegram.error import BadRequest, InvalidToken, NetworkError

from bot import audit, audit_witness, keys, report
from bot.alerts import AlertService, EscalationPeriods
from bot.app import build_application
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.errors import DomainError, as_domain_error
from bot.i18n import plain_text
from bot.integrations import IntegrationService
from bot.logs import configure_logging
from bot.membership import ADMIN_ACTOR, MembershipService
from bot.network import NetworkFileError, load_network
from bot.offers.files import OfferFileError, load_offers
from bot.offers.offers import OfferService
from bot.rotation import rotate_texts
from bot.timing.dates import local_text
from handlers.report.views.picture import report_png, support_png
from handlers.report.views.table import report_csv, support_csv
from handlers.report.views.text import report_lines
from handlers.report.views.values import plain_lines
from sandbox.run import SandboxOptions, run_sandbox
from storage import migrate
from storage.db import Database
from storage.errors import DatabaseBusyError
from storage.models import Role
from storage.uow import UnitOfWorkFactory

# After SIGTERM the bot finishes the deliveries in flight; if the Bot API does not answer, it
# stops anyway after this long (what was in flight is sent again at the next start).
STOP_GRACE_SECONDS = 6.0
# How long the command line waits for the database before it says it cannot reach it.
DATABASE_CHECK_SECONDS = 15.0
# Exit status when something outside the bot is not as it must be (configuration, token,
# Telegram or the database out of reach): one line says what to check.
SETUP_PROBLEM = 2
log = logging.getLogger("bot.cli")
T = TypeVar("T")


class SetupError(Exception):
    """Something outside the bot is not as it must be; the message says what to check and
    never contains a secret."""


def _version() -> str:
    try:
        return importlib.metadata.version("cora-bot")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout without installing
        return "unknown"


def _parser() -> argparse.ArgumentParser:
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

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply all database migrations")

    invite = commands.add_parser("invite", help="invitations")
    invite_commands = invite.add_subparsers(dest="invite_command", required=True, metavar="ACTION")
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

    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
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

    apikey = commands.add_parser("apikey", help="API keys of agency systems (HTTP API)")
    apikey_commands = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
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

    offers = commands.add_parser("offers", help="the support system's offers")
    offers_commands = offers.add_subparsers(dest="offers_command", required=True, metavar="ACTION")
    offers_import = offers_commands.add_parser(
        "import",
        help="create or update offers from a TOML or CSV file (see README, 'Offers file'); "
        "offers the file does not mention are left as they are",
    )
    offers_import.add_argument("file", type=Path, help="offers.toml or offers.csv")

    _add_sandbox(commands)

    key = commands.add_parser("keys", help="secrets")
    key_commands = key.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    key_commands.add_parser("generate", help="print fresh keys in the form .env expects")
    key_commands.add_parser(
        "rotate",
        help="re-encrypt all stored texts with the first key of CORA_ENCRYPTION_KEY "
        "(put a new key in front, rotate, then remove the old one)",
    )
    return parser


def _add_sandbox(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _telegram_unreachable(settings: Settings, error: Exception) -> SetupError:
    # The base URL holds no token (it is appended to it), so it can be shown.
    return SetupError(
        f"The Telegram Bot API at {settings.telegram_base_url} did not answer "
        f"({type(error).__name__}). Check the network (proxy, firewall) and TELEGRAM_BASE_URL; "
        "nothing was changed, start again."
    )


async def _check_telegram(settings: Settings) -> str:
    """Ask Telegram who the token belongs to (getMe); the bot's username."""
    try:
        async with Bot(settings.bot_token(), base_url=settings.telegram_base_url) as bot:
            return bot.username
    except InvalidToken:
        # PTB's own message quotes the whole token: never show it.
        raise SetupError(
            "Telegram rejected the bot token. Check TELEGRAM_BOT_TOKEN: copy it again from "
            "@BotFather (/mybots, API Token); a token that was revoked must be replaced."
        ) from None
    except NetworkError as error:
        if isinstance(error, BadRequest):  # Telegram answered: not a network problem
            raise
        raise _telegram_unreachable(settings, error) from None


def _database_place(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite file {parsed.database}"
    return f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


async def _check_database(settings: Settings) -> None:
    """Connect once, so that an unreachable database is one clear line instead of a traceback
    from the middle of a migration."""
    database = Database(settings.database_url)
    try:
        async with asyncio.timeout(DATABASE_CHECK_SECONDS):
            async with database.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
    except Exception as error:  # whatever keeps us from it, the advice is the same
        reason = str(error).splitlines()[0] if str(error) else "no answer"
        password = make_url(settings.database_url).password
        if password:
            reason = reason.replace(str(password), "***")
        raise SetupError(
            f"Cannot reach the database, {_database_place(settings.database_url)} "
            f"({type(error).__name__}: {reason}). Check DATABASE_URL (host, port, user, "
            "password, database name) and that the server runs and accepts connections "
            "from here."
        ) from None
    finally:
        await database.dispose()


async def _until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """`work`'s result, or None when SIGTERM or Ctrl-C came first (the work is given up)."""
    working = asyncio.ensure_future(work)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if working.done():
        return working.result()  # a failure ends here, with its error
    working.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await working
    return None


async def _checks(settings: Settings) -> bool:
    await _check_telegram(settings)
    await _check_database(settings)
    return True


async def _run(settings: Settings, *, webhook: bool) -> None:
    if webhook:
        settings.webhook()  # fail early, with the names of what is missing
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Before anything is written (keys, database): a wrong token or an unreachable Telegram
    # or database should cost nothing.
    if not await _until_stopped(_checks(settings), stop):
        log.warning("stopped before the start")
        return
    cora = build_application(settings)
    try:
        started = await _until_stopped(
            _started(cora.start(mode="webhook" if webhook else "polling")), stop
        )
        if started:
            await stop.wait()
        else:
            # SIGTERM while starting, e.g. while the Bot API does not answer: give up starting.
            log.warning("stopping before the start was complete")
    finally:
        try:
            await asyncio.wait_for(cora.stop(), STOP_GRACE_SECONDS)
        except TimeoutError:
            log.warning(
                "not stopped cleanly within %.0f s; deliveries in flight are sent again at the "
                "next start",
                STOP_GRACE_SECONDS,
            )


async def _started(starting: Awaitable[None]) -> bool:
    await starting
    return True


async def _db_upgrade(settings: Settings) -> None:
    database = Database(settings.database_url)
    try:
        before = await migrate.current_revision(database)
        await migrate.upgrade(database)
        after = await migrate.current_revision(database)
    finally:
        await database.dispose()
    place = _database_place(settings.database_url)
    if before is None:
        print(f"Created the database schema in {place} (migrations up to {after}).")
    elif before != after:
        print(f"Upgraded the database schema in {place} from {before} to {after}.")
    else:
        print(f"The database schema in {place} is up to date ({after}); nothing to do.")


async def _invite_create(settings: Settings, args: argparse.Namespace) -> None:
    network = load_network(settings.cora_network_file)
    username = await _check_telegram(settings)
    database = Database(settings.database_url)
    try:
        await migrate.upgrade(database)
        service = MembershipService(
            UnitOfWorkFactory(database, SystemClock()),
            network,
            settings.invite_max_days,
            invite_max_uses=settings.invite_max_uses,
        )
        default_uses = 1 if args.role == Role.COORDINATOR else settings.invite_default_uses
        created = await service.create_invite(
            ADMIN_ACTOR,
            args.sector,
            args.region,
            role=args.role,
            uses=args.uses if args.uses is not None else default_uses,
            days=args.days or settings.invite_default_days,
        )
    finally:
        await database.dispose()
    expires = local_text(created.expires_at, settings.cora_timezone, "en")
    print(
        f"Invitation #{created.id} for {created.role} in {created.sector}/{created.region}, "
        f"{created.max_uses} use(s), valid until {expires} ({settings.cora_timezone}):"
    )
    print(f"https://t.me/{username}?start={created.token}")
    print(created.token)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-25") from None


async def _report(settings: Settings, args: argparse.Namespace) -> int:
    network = load_network(settings.cora_network_file)
    timezone = ZoneInfo(settings.cora_timezone)
    language = args.language or settings.cora_default_language
    clock = SystemClock()
    today = clock.now().astimezone(timezone).date()
    last = args.until or today
    first = args.since or last - timedelta(days=report.DEFAULT_DAYS - 1)
    if args.format == "png" and args.output is None and sys.stdout.isatty():
        print("A picture needs --output FILE.", file=sys.stderr)
        return 2
    database = Database(settings.database_url)
    try:
        await migrate.upgrade(database)
        service = report.ReportService(
            UnitOfWorkFactory(database, clock),
            network,
            settings.cora_timezone,
            settings.report_slow_after,
            settings.places_stale_after,
        )
        since, until = report.days_period(first, last, timezone)
        result = await service.report(ADMIN_ACTOR, since, until, args.format)
    finally:
        await database.dispose()
    if args.format == "png":
        draw = support_png if args.support else report_png
        data = draw(result, network, language)
        if args.output is None:
            sys.stdout.buffer.write(data)
        else:
            args.output.write_bytes(data)
        return 0
    if args.format == "csv":
        write = support_csv if args.support else report_csv
        content = write(result, network, language)
    else:
        generated = local_text(result.generated_at, settings.cora_timezone, language)
        lines = report_lines(result, network, language, generated)
        content = plain_lines(lines)
    with _output(args.output) as out:
        out.write(content)
    return 0


def _head(text: str) -> tuple[int, str]:
    try:
        return audit_witness.parse_head(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-25") from None


async def _audit(settings: Settings, args: argparse.Namespace) -> int:
    if args.audit_command == "public-key":
        for key in keys.verify_keys(settings):
            role = "signs new checkpoints" if key.signs else "verifies earlier checkpoints"
            print(f"{key.text}  key id {key.id}  ({role})")
        return 0
    database = Database(settings.database_url)
    uow = UnitOfWorkFactory(database, SystemClock())
    public_keys = [key.key for key in keys.verify_keys(settings)]
    try:
        await migrate.upgrade(database)
        if args.audit_command == "verify":
            return await _audit_verify(settings, args, database, public_keys)
        if args.audit_command == "checkpoint":
            service = audit.AuditService(
                uow,
                load_network(settings.cora_network_file),
                public_keys,
                keys.signing_key(settings),
                witness_file=settings.witness_path,
                head_messages=settings.audit_witness_chat,
                checkpoint_every=timedelta(minutes=settings.audit_checkpoint_minutes),
            )
            signing = await service.checkpoint()
            if signing.refused is not None:
                print(
                    f"REFUSED to sign: the audit log is not intact at {signing.refused}; "
                    "the statewide coordinators are told.",
                    file=sys.stderr,
                )
                return 1
            if signing.witness_error is not None:
                print(
                    "Signed a checkpoint, but could NOT append it to the witness file "
                    f"{settings.witness_path}: {signing.witness_error}",
                    file=sys.stderr,
                )
                return 1
            if signing.checkpoint is None:
                print("Nothing new to sign.")
            else:
                print(
                    f"Signed checkpoint at sequence number {signing.checkpoint.seq}, "
                    f"witnessed in {settings.witness_path}."
                )
        else:
            until = args.until + timedelta(days=1) if args.until else None
            with _output(args.output) as out:
                count = await audit.export(
                    database, uow, out, since=args.since, until=until, fmt=args.format
                )
            print(f"Exported {count} events.", file=sys.stderr)
    finally:
        await database.dispose()
    return 0


async def _audit_verify(
    settings: Settings,
    args: argparse.Namespace,
    database: Database,
    public_keys: Sequence[Ed25519PublicKey],
) -> int:
    witness_file: Path | None = args.witness
    if witness_file is None and settings.witness_path.exists():
        witness_file = settings.witness_path
    if witness_file is not None and not witness_file.is_file():
        print(f"The witness file {witness_file} does not exist.", file=sys.stderr)
        return 2
    try:
        witnessed = audit_witness.read(witness_file) if witness_file else []
    except audit_witness.WitnessFileError as error:
        print(f"AUDIT LOG NOT VERIFIED: {error}", file=sys.stderr)
        return 1
    result = await audit.verify(
        database,
        public_keys,
        witnessed=witnessed,
        heads=args.head,
        now=SystemClock().now(),
        unsigned_for=timedelta(minutes=2 * settings.audit_checkpoint_minutes),
    )
    print(
        f"{result.events} events, head at {result.head_seq}, "
        f"{result.checkpoints} signed checkpoint(s)."
    )
    if witness_file is not None:
        print(f"{len(witnessed)} witnessed head(s) from {witness_file}.")
    if args.head:
        print(f"{len(args.head)} head(s) given with --head.")
    if result.problem is not None:
        print(f"AUDIT LOG NOT INTACT at {result.problem}", file=sys.stderr)
        return 1
    print("The audit log is intact.")
    return 0


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", encoding="utf-8", newline="") as file:
        yield file


async def _apikey(settings: Settings, args: argparse.Namespace) -> None:
    database = Database(settings.database_url)
    try:
        await migrate.upgrade(database)
        uow = UnitOfWorkFactory(database, SystemClock())
        network = load_network(settings.cora_network_file)
        cipher = keys.TextCipher(keys.encryption_keys(settings))
        periods = EscalationPeriods(
            settings.escalation_urgent_after, settings.escalation_normal_after
        )
        service = IntegrationService(
            uow, network, cipher, AlertService(uow, network, cipher, periods)
        )
        if args.apikey_command == "create":
            created = await service.create_client(args.name, args.sector, args.region)
            client = created.client
            print(
                f"API key for {client.name} ({client.sector}/{client.region}), id {client.key_id}."
            )
            print("Store it now; it is not shown again and only a hash is kept:")
            print(created.api_key)
        else:
            revoked = await service.revoke_client(args.key_id)
            print(f"Revoked the API key {revoked.key_id} of {revoked.name}.")
    finally:
        await database.dispose()


async def _offers_import(settings: Settings, path: Path) -> None:
    network = load_network(settings.cora_network_file)
    specs = load_offers(path, network)  # checked completely before anything is written
    database = Database(settings.database_url)
    try:
        await migrate.upgrade(database)
        service = OfferService(
            UnitOfWorkFactory(database, SystemClock()), network, settings.places_stale_after
        )
        result = await service.import_offers(ADMIN_ACTOR, specs)
    finally:
        await database.dispose()
    print(
        f"{len(specs)} offers read: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged."
    )


async def _keys_rotate(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        await migrate.upgrade(database)
        cipher = keys.TextCipher(keys.encryption_keys(settings))
        rotated = await rotate_texts(UnitOfWorkFactory(database, SystemClock()), cipher)
    finally:
        await database.dispose()
    print(
        f"Re-encrypted {rotated.rewritten} stored texts with the newest key, bound to their rows "
        f"({rotated.current} were already)."
    )
    if rotated.unreadable:
        print(
            f"{len(rotated.unreadable)} stored texts do not decrypt (altered, copied from another "
            f"row, or under a key no longer configured) and were left as they are: "
            f"{', '.join(rotated.unreadable[:20])}{' …' if len(rotated.unreadable) > 20 else ''}",
            file=sys.stderr,
        )
        print("Keep the older keys until this is resolved.", file=sys.stderr)
        return 1
    print("Older keys can now be removed from CORA_ENCRYPTION_KEY.")
    return 0


def _uses_database(args: argparse.Namespace) -> bool:
    """Every command but `run` (which checks its token first) and the key printers."""
    if args.command == "run" or (args.command == "audit" and args.audit_command == "public-key"):
        return False
    return args.command in ("db", "invite", "keys", "audit", "apikey", "report")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sandbox":  # before load_settings: the sandbox reads no configuration
        return run_sandbox(
            SandboxOptions(
                host=args.host,
                port=args.port,
                data_dir=args.data_dir,
                language=args.language,
                open_browser=args.open,
                unsafe_public=args.unsafe_public,
                verbose=args.verbose,
            )
        )
    if args.command == "keys" and args.keys_command == "generate":
        for line in keys.generated_env_lines():
            print(line)
        return 0
    try:
        settings = load_settings()
        configure_logging(settings.log_level, keys.known_secrets(settings), settings.log_format)
        if _uses_database(args):
            asyncio.run(_check_database(settings))
        if args.command == "run":
            asyncio.run(_run(settings, webhook=args.webhook))
        elif args.command == "db":
            asyncio.run(_db_upgrade(settings))
        elif args.command == "invite":
            asyncio.run(_invite_create(settings, args))
        elif args.command == "keys":
            return asyncio.run(_keys_rotate(settings))
        elif args.command == "audit":
            return asyncio.run(_audit(settings, args))
        elif args.command == "apikey":
            asyncio.run(_apikey(settings, args))
        elif args.command == "report":
            return asyncio.run(_report(settings, args))
        elif args.command == "offers":
            asyncio.run(_offers_import(settings, args.file))
    except (ConfigError, NetworkFileError, OfferFileError, SetupError) as error:
        print(error, file=sys.stderr)
        return SETUP_PROBLEM
    except NetworkError as error:
        if isinstance(error, BadRequest):  # Telegram answered: not a network problem
            raise
        print(_telegram_unreachable(settings, error), file=sys.stderr)
        return SETUP_PROBLEM
    except (DomainError, DatabaseBusyError) as failure:
        refusal = as_domain_error(failure)
        assert isinstance(refusal, DomainError)
        print(plain_text("en", refusal.message_key, **refusal.params), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
