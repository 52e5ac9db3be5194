"""Benchmark: `raise_alert` for many recipients, which holds SQLite's write lock meanwhile.

Run: .venv/bin/python -m bench.raising [--recipients 2000] [--repeat 9]
         [--database postgresql://user:pass@host/db] [--data-dir DIR] [--no-pin]

A fresh migrated database gets `--recipients` active police members in HRO and one sender (invented
names). Each round raises one urgent alert to all of them through `AlertService.raise_alert`
(resolving the recipients, storing the alert, one recipient row and one pending delivery each,
the audit event, in one transaction) and reports the wall time and the CPU time of this process.

Interleaved with it, on the same database, two references: the **baseline**, the same recipient
and delivery rows stored as ORM objects (`add_all`, one flush; how `raise_alert` stored them
before), and the **floor**, a transaction that changes one row (the write lock, `BEGIN
IMMEDIATE`, a durable commit). The ratio raise_alert / baseline is what the bulk statements
bought, whatever the machine's load.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from bench.common import pin_bot, run_benchmark
from bench.databases import fresh_database, label
from bot.alerts import AlertService, EscalationPeriods
from bot.clock import SystemClock
from bot.keys import TextCipher, generate_encryption_key
from bot.network import load_network
from sandbox.story import add_members
from storage.db import Database
from storage.models import (
    Alert,
    AlertRecipient,
    AlertStatus,
    Member,
    RecipientReason,
    Urgency,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory

TEXT = "Großlage im Fall Pappel: bitte alle Kräfte informieren und kurz zurückmelden."


async def _orm_baseline(database: Database, sender: int, member_ids: list[int], n: int) -> float:
    """The baseline: an alert with one recipient row and one pending delivery per member
    stored as ORM objects (the deliveries through `DeliveryRepository.enqueue`), as
    `raise_alert` did before. Returns the wall time."""
    started = time.perf_counter()
    async with UnitOfWork(database, SystemClock()) as uow:
        now = uow.now()
        alert = Alert(
            ref=f"B-{n}",
            sender_id=sender,
            sectors="police",
            region="HRO",
            urgency=Urgency.URGENT,
            status=AlertStatus.OPEN,
            created_at=now,
            escalation_level=0,
            drill=False,
        )
        uow.session.add(alert)
        await uow.session.flush()
        uow.session.add_all(
            AlertRecipient(
                alert_id=alert.id, member_id=m, reason=RecipientReason.TARGET, sector="police"
            )
            for m in member_ids
        )
        uow.deliveries.enqueue(
            kind="alert", member_ids=member_ids, priority=0, now=now, alert_id=alert.id
        )
        await uow.session.flush()
        await uow.commit()
    return time.perf_counter() - started


async def _one_row(database: Database, member_id: int) -> float:
    """The floor: a write transaction that changes one row."""
    started = time.perf_counter()
    async with UnitOfWork(database, SystemClock()) as uow:
        await uow.session.execute(
            update(Member).where(Member.id == member_id).values(status_changed_at=uow.now())
        )
        await uow.commit()
    return time.perf_counter() - started


def _ms(seconds: list[float]) -> list[float]:
    return sorted(1000 * s for s in seconds)


async def measure(spec: str, directory: Path, recipients: int, repeat: int) -> None:
    async with fresh_database(spec, directory) as url:
        [sender] = await add_members(url, [1], "victim_support", "HRO", prefix="Absenderin")
        members = await add_members(
            url, list(range(100, 100 + recipients)), "police", "HRO", prefix="Mitglied"
        )
        database = Database(url)
        alerts = AlertService(
            UnitOfWorkFactory(database, SystemClock()),
            load_network(None),
            TextCipher([generate_encryption_key()]),
            EscalationPeriods(timedelta(minutes=5), timedelta(minutes=30)),
            urgent_per_hour=0,  # one sender raises every round
        )
        raising: list[float] = []
        raising_cpu: list[float] = []
        baseline: list[float] = []
        floor: list[float] = []
        try:
            # One warm-up round of each: connections, statement caches, imports.
            await alerts.raise_alert(sender, ["police"], "HRO", Urgency.URGENT, TEXT)
            await _orm_baseline(database, sender, members, 0)
            for n in range(1, repeat + 1):
                # Interleaved, so that all three see the same machine.
                cpu, started = time.process_time(), time.perf_counter()
                raised = await alerts.raise_alert(sender, ["police"], "HRO", Urgency.URGENT, TEXT)
                raising.append(time.perf_counter() - started)
                raising_cpu.append(time.process_time() - cpu)
                assert raised.recipients == recipients, raised.recipients
                baseline.append(await _orm_baseline(database, sender, members, n))
                floor.append(await _one_row(database, sender))
        finally:
            await database.dispose()
    ms, base, low = _ms(raising), _ms(baseline), _ms(floor)
    median, base_median = statistics.median(ms), statistics.median(base)
    cpu_ms = statistics.median(1000 * s for s in raising_cpu)
    print(
        f"{label(spec):10}  raise_alert, {recipients} recipients: median {median:.0f} ms"
        f" (min {ms[0]:.0f}, max {ms[-1]:.0f}; CPU {cpu_ms:.0f} ms), n={repeat}"
    )
    print(
        f"{'':10}  baseline, the same rows as ORM objects: median {base_median:.0f} ms"
        f" (min {base[0]:.0f}, max {base[-1]:.0f})"
    )
    print(
        f"{'':10}  floor, a transaction that changes one row: median"
        f" {statistics.median(low):.0f} ms (min {low[0]:.0f}, max {low[-1]:.0f})"
    )
    print(f"{'':10}  ratio raise_alert / baseline: {median / base_median:.2f}")


async def run(args: argparse.Namespace) -> None:
    pinned, _ = pin_bot(args.no_pin)
    print(
        f"cora-bot raising benchmark: {os.cpu_count()} CPUs, Python {platform.python_version()}"
        + (", pinned to CPU 0" if pinned else ", not pinned")
    )
    directory = Path(tempfile.mkdtemp(prefix="cora-raising-", dir=args.data_dir))
    try:
        for spec in ["sqlite", *args.database]:
            await measure(spec, directory, args.recipients, args.repeat)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=9, help="rounds (the median is shown)")
    parser.add_argument("--database", action="append", default=[], metavar="URL")
    run_benchmark(parser, run)


if __name__ == "__main__":
    main()
