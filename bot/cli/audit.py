"""`cora-bot audit`: verify, sign a checkpoint, export, print the public keys."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot import keys
from bot.audit import AuditService, export, verify, witness
from bot.audit.chain import cores
from bot.cli.commands import migrated, output
from bot.clock import SystemClock
from bot.config import Settings
from bot.network import load_network
from storage.db import Database
from storage.uow import UnitOfWorkFactory


async def audit_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.audit_command == "public-key":
        for key in keys.verify_keys(settings):
            role = "signs new checkpoints" if key.signs else "verifies earlier checkpoints"
            print(f"{key.text}  key id {key.id}  ({role})")
        return 0
    public_keys = [key.key for key in keys.verify_keys(settings)]
    async with migrated(settings) as database:
        if args.audit_command == "verify":
            return await _verify(settings, args, database, public_keys)
        uow = UnitOfWorkFactory(database, SystemClock())
        if args.audit_command == "checkpoint":
            service = AuditService(
                uow,
                load_network(settings.cora_network_file),
                public_keys,
                keys.signing_key(settings),
                witness_file=settings.witness_path,
                head_messages=settings.audit_witness_chat,
                checkpoint_every=timedelta(minutes=settings.audit_checkpoint_minutes),
            )
            return await _checkpoint(settings, service)
        until = args.until + timedelta(days=1) if args.until else None
        with output(args.output) as out:
            count = await export(database, uow, out, since=args.since, until=until, fmt=args.format)
        print(f"Exported {count} events.", file=sys.stderr)
    return 0


async def _checkpoint(settings: Settings, service: AuditService) -> int:
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
    return 0


async def _verify(
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
        witnessed = witness.read(witness_file) if witness_file else []
    except witness.WitnessFileError as error:
        print(f"AUDIT LOG NOT VERIFIED: {error}", file=sys.stderr)
        return 1
    result = await verify(
        database,
        public_keys,
        witnessed=witnessed,
        heads=args.head,
        now=SystemClock().now(),
        unsigned_for=timedelta(minutes=2 * settings.audit_checkpoint_minutes),
        workers=(settings.audit_verify_workers if args.workers is None else args.workers)
        or cores(),
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
