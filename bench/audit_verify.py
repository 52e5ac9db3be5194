"""Benchmark: `audit verify` over a long chain (default 1,000,000 events) on SQLite.

Run: .venv/bin/python -m bench.audit_verify [--events N] [--database URL]
Builds a chain of realistic events (the same hashing as the bot), signs a checkpoint, then
times the full verification the `cora-bot audit verify` command runs, and prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, update

from bot import audit
from bot.clock import SystemClock
from storage import migrate
from storage.audit import GENESIS_HASH, canonical_details, event_hash, format_time
from storage.db import Database
from storage.models import AuditEvent, AuditHead
from storage.uow import UnitOfWorkFactory

ACTIONS = ("alert.raised", "delivery.sent", "alert.acknowledged", "member.language_changed")


def _events(count: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    previous = GENESIS_HASH
    base = time.time()
    for seq in range(1, count + 1):
        occurred_at = format_time(datetime.fromtimestamp(base + seq / 100, tz=UTC))
        action = ACTIONS[seq % len(ACTIONS)]
        details = canonical_details({"kind": "alert", "member": seq % 5000, "alert": seq // 1000})
        subject = f"delivery:{seq}"
        digest = event_hash(previous, seq, occurred_at, "system", action, subject, details)
        rows.append(
            {
                "seq": seq,
                "occurred_at": occurred_at,
                "actor": "system",
                "action": action,
                "subject": subject,
                "details": details,
                "prev_hash": previous,
                "hash": digest,
            }
        )
        previous = digest
    return rows


async def run(events: int, url: str | None) -> None:
    directory = tempfile.mkdtemp(prefix="cora-bench-")
    url = url or f"sqlite+aiosqlite:///{Path(directory) / 'audit.db'}"
    database = Database(url)
    await migrate.upgrade(database)
    started = time.perf_counter()
    rows = _events(events)
    built = time.perf_counter() - started
    started = time.perf_counter()
    async with database.engine.begin() as connection:
        for chunk in range(0, len(rows), 50_000):
            await connection.execute(insert(AuditEvent), rows[chunk : chunk + 50_000])
        last = rows[-1]
        await connection.execute(
            update(AuditHead).where(AuditHead.id == 1).values(seq=last["seq"], hash=last["hash"])
        )
    stored = time.perf_counter() - started
    del rows
    key = Ed25519PrivateKey.generate()
    await audit.sign_checkpoint(UnitOfWorkFactory(database, SystemClock()), key)
    cpu_before = time.process_time()
    started = time.perf_counter()
    result = await audit.verify(database, [key.public_key()])
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    await database.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"events": result.events, "intact": result.ok}, sort_keys=True))
    print(f"built chain of {events:,} events in {built:.1f} s, stored in {stored:.1f} s")
    print(
        f"audit verify: {elapsed:.2f} s wall, {cpu:.2f} s CPU "
        f"({events / elapsed:,.0f} events/s), target < 30 s; peak RSS {peak:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    asyncio.run(run(args.events, args.database))


if __name__ == "__main__":
    main()
