"""The `cora-bot` commands that work on the database: migrate, invite, report, API keys,
offers and key rotation."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot import keys, report
from bot.alerts import AlertService, EscalationPeriods
from bot.cli.checks import check_telegram, database_place
from bot.clock import SystemClock
from bot.config import Settings
from bot.integrations import IntegrationService
from bot.membership import ADMIN_ACTOR, MembershipService
from bot.network import load_network
from bot.offers.files import load_offers
from bot.offers.offers import OfferService
from bot.rotation import rotate_texts
from bot.timing.dates import local_text
from handlers.report.views.picture import report_png, support_png
from handlers.report.views.table import report_csv, support_csv
from handlers.report.views.text import report_lines
from handlers.report.views.values import plain_lines
from storage import migrate
from storage.db import Database
from storage.models import Role
from storage.uow import UnitOfWorkFactory


@asynccontextmanager
async def migrated(settings: Settings) -> AsyncIterator[Database]:
    """The database at the newest schema, disposed of afterwards."""
    database = Database(settings.database_url)
    try:
        await migrate.upgrade(database)
        yield database
    finally:
        await database.dispose()


@contextmanager
def output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", encoding="utf-8", newline="") as file:
        yield file


async def db_upgrade(settings: Settings, args: argparse.Namespace) -> None:
    database = Database(settings.database_url)
    try:
        before = await migrate.current_revision(database)
        await migrate.upgrade(database)
        after = await migrate.current_revision(database)
    finally:
        await database.dispose()
    place = database_place(settings.database_url)
    if before is None:
        print(f"Created the database schema in {place} (migrations up to {after}).")
    elif before != after:
        print(f"Upgraded the database schema in {place} from {before} to {after}.")
    else:
        print(f"The database schema in {place} is up to date ({after}); nothing to do.")


async def invite_create(settings: Settings, args: argparse.Namespace) -> None:
    network = load_network(settings.cora_network_file)
    username = await check_telegram(settings)
    async with migrated(settings) as database:
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
    expires = local_text(created.expires_at, settings.cora_timezone, "en")
    print(
        f"Invitation #{created.id} for {created.role} in {created.sector}/{created.region}, "
        f"{created.max_uses} use(s), valid until {expires} ({settings.cora_timezone}):"
    )
    print(f"https://t.me/{username}?start={created.token}")
    print(created.token)


async def report_command(settings: Settings, args: argparse.Namespace) -> int:
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
    async with migrated(settings) as database:
        service = report.ReportService(
            UnitOfWorkFactory(database, clock),
            network,
            settings.cora_timezone,
            settings.report_slow_after,
            settings.places_stale_after,
        )
        since, until = report.days_period(first, last, timezone)
        result = await service.report(ADMIN_ACTOR, since, until, args.format)
    if args.format == "png":
        draw = support_png if args.support else report_png
        data = draw(result, network, language)
        if args.output is None:
            sys.stdout.buffer.write(data)
        else:
            args.output.write_bytes(data)
        return 0
    if args.format == "csv":
        table = support_csv if args.support else report_csv
        content = table(result, network, language)
    else:
        generated = local_text(result.generated_at, settings.cora_timezone, language)
        lines = report_lines(result, network, language, generated)
        content = plain_lines(lines)
    with output(args.output) as out:
        out.write(content)
    return 0


async def apikey(settings: Settings, args: argparse.Namespace) -> None:
    async with migrated(settings) as database:
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


async def offers_import(settings: Settings, args: argparse.Namespace) -> None:
    network = load_network(settings.cora_network_file)
    specs = load_offers(args.file, network)  # checked completely before anything is written
    async with migrated(settings) as database:
        service = OfferService(
            UnitOfWorkFactory(database, SystemClock()), network, settings.places_stale_after
        )
        result = await service.import_offers(ADMIN_ACTOR, specs)
    print(
        f"{len(specs)} offers read: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged."
    )


async def keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    async with migrated(settings) as database:
        cipher = keys.TextCipher(keys.encryption_keys(settings))
        rotated = await rotate_texts(UnitOfWorkFactory(database, SystemClock()), cipher)
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
