"""Benchmark: one member cannot starve urgent alerts. Six urgent alerts to the same 1,000
members are queued under Telegram's limits (30 messages/s); then other members raise small
urgent alerts (5 recipients each). How long until their first and last recipient has them?

Run: .venv/bin/python -m bench.fairness [--bulk 1000] [--alerts 6] [--probes 3]
         [--probe-every 5] [--no-baseline] [--database postgresql://user@host/db] [--no-pin]

turns     the outbox as it is: deliveries of equal priority are claimed by turn (each alert's
          n-th recipient before any alert's (n+1)-th), so a new alert starts at the front.
fifo      the baseline in the same run: the claim query as it was before (priority, then first
          come, first served by whole alert), swapped in for this scenario only. One probe;
          it waits until the bulk before it is through, about bulk × alerts / 30 s.

The fake Bot API enforces Telegram's flood limits (30/s overall, about 1/s per chat, 429
otherwise) and runs pinned to CPU 1 in its own process; the bot runs in this process on CPU 0
with its limiter at the default of 30/s. Times come from the fake's call log (when it answered
each sendMessage), from just before the probe alert is raised.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from bench.common import (
    TELEGRAM_RATE,
    bot_settings,
    pin_bot,
    pinning,
    run_benchmark,
    span,
)
from bench.databases import fresh_database, label
from bench.fake_telegram import FakeTelegram
from bot.app import CoraBot, build_application
from sandbox.story import add_members
from storage.models import Delivery, DeliveryStatus, Urgency
from storage.repositories import DeliveryRepository

BULK_TEXT = "Großlage im Fall Pappel: bitte alle Kräfte informieren und kurz zurückmelden."
PROBE_TEXT = "Kind in Gefahr im Fall Linde, bitte sofort melden."

log = logging.getLogger("bench.fairness")


@dataclass
class Probe:
    """One small urgent alert raised while the bulk is queued."""

    queued: int  # deliveries of the bulk still waiting when it was raised
    first: float  # seconds from the raise to its first recipient's message
    last: float  # ... to its last


@dataclass
class Run:
    order: str
    database: str
    probes: list[Probe]
    bulk_sent: int  # bulk deliveries the fake answered while the probes went out
    bulk_seconds: float
    rate_limited: int

    @property
    def bulk_rate(self) -> float:
        return self.bulk_sent / self.bulk_seconds if self.bulk_seconds > 0 else math.nan


async def _fifo_due(self: DeliveryRepository, now: datetime, limit: int) -> Sequence[Delivery]:
    """The claim query before turns: priority, then first come, first served."""
    query = (
        select(Delivery)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
        .order_by(Delivery.priority, Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await self._session.scalars(query)).all()


@contextlib.contextmanager
def claim_order(order: str) -> Iterator[None]:
    if order == "turns":
        yield
        return
    original = DeliveryRepository.due
    DeliveryRepository.due = _fifo_due  # type: ignore[method-assign]
    try:
        yield
    finally:
        DeliveryRepository.due = original  # type: ignore[method-assign]


async def run(
    order: str,
    spec: str,
    directory: Path,
    args: argparse.Namespace,
    probes: int,
    fake_cpu: int | None,
    recipients: int = 5,
) -> Run:
    """Bulk alerts from one member, then `probes` small urgent alerts, with this claim order."""
    bulk, alerts, probe_every = args.bulk, args.alerts, args.probe_every
    async with FakeTelegram(limits=True, cpu=fake_cpu) as fake:
        if fake_cpu is not None and not fake.pinned:
            log.warning("could not pin the fake Bot API to CPU %d", fake_cpu)
        [flooder_chat] = await fake.create_users(1, "Flut")
        bulk_chats = await fake.create_users(bulk, "Polizei")
        probe_senders = await fake.create_users(probes, "Absender")
        probe_chats = [await fake.create_users(recipients, f"Jugendamt{n}") for n in range(probes)]
        async with fresh_database(spec, directory) as url:
            [flooder] = await add_members(url, [flooder_chat], "victim_support", "HRO", prefix="F")
            await add_members(url, bulk_chats, "police", "HRO", prefix="Polizist")
            senders = await add_members(url, probe_senders, "victim_support", "HRO", prefix="A")
            # Each probe goes to its own five youth welfare officers, in a region of their own.
            regions = ["SN", "LRO", "LUP", "MSE", "NWM", "VG", "VR"]
            for n, chats in enumerate(probe_chats):
                await add_members(
                    url, chats, "youth_welfare", regions[n % len(regions)], prefix=f"J{n}"
                )
            cora = build_application(bot_settings(fake.base_url, url, directory, TELEGRAM_RATE))
            with claim_order(order):
                await cora.start()
                try:
                    await asyncio.sleep(0.5)  # start-up requests are done; the limiter is idle
                    return await _measure(
                        order,
                        spec,
                        cora,
                        fake,
                        flooder,
                        senders,
                        probe_chats,
                        bulk_chats,
                        regions,
                        alerts=alerts,
                        probe_every=probe_every,
                    )
                finally:
                    await cora.stop()


async def _measure(
    order: str,
    spec: str,
    cora: CoraBot,
    fake: FakeTelegram,
    flooder: int,
    senders: list[int],
    probe_chats: list[list[int]],
    bulk_chats: list[int],
    regions: list[str],
    *,
    alerts: int,
    probe_every: float,
) -> Run:
    services = cora.services
    bulk_started = time.monotonic()
    for _ in range(alerts):
        await services.alerts.raise_alert(flooder, ["police"], "HRO", Urgency.URGENT, BULK_TEXT)
    total = alerts * len(bulk_chats)
    results: list[Probe] = []
    for n, (sender, chats) in enumerate(zip(senders, probe_chats, strict=True)):
        await asyncio.sleep(probe_every)
        waiting, _ = await services.deliveries.backlog()
        started = time.monotonic()
        await services.alerts.raise_alert(
            sender, ["youth_welfare"], regions[n % len(regions)], Urgency.URGENT, PROBE_TEXT
        )
        deadline = started + 30 + 2 * total / TELEGRAM_RATE
        wanted = set(chats)
        while time.monotonic() < deadline:
            calls = await fake.calls("sendMessage")
            if wanted <= {c.chat_id for c in calls if c.status == 200}:
                break
            await asyncio.sleep(0.2)
        first, last = span(await fake.calls("sendMessage"), chats, started)
        results.append(Probe(waiting, first, last))
    calls = await fake.calls("sendMessage")
    window_end = max(c.time for c in calls)
    bulk_set = set(bulk_chats)
    bulk_sent = sum(
        1
        for c in calls
        if c.status == 200 and c.chat_id in bulk_set and bulk_started <= c.time <= window_end
    )
    stats = await fake.stats()
    return Run(
        order,
        label(spec),
        results,
        bulk_sent,
        window_end - bulk_started,
        stats["rate_limited"],
    )


def report(runs: Sequence[Run], args: argparse.Namespace) -> None:
    print(
        f"\n{args.alerts} urgent alerts to the same {args.bulk} members queued at once "
        f"({args.alerts * args.bulk} deliveries); then urgent alerts to 5 other members, "
        f"one every {args.probe_every:g} s. Limits on (30/s)."
    )
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs\n")
    header = (
        f"{'order':6} {'db':10} {'probe':>5} {'queued':>7} {'first s':>8} {'last s':>7}"
        f" {'bulk msg/s':>10} {'429':>4}"
    )
    print(header)
    print("-" * len(header))
    for result in runs:
        for n, probe in enumerate(result.probes, start=1):
            print(
                f"{result.order:6} {result.database:10} {n:>5} {probe.queued:>7} "
                f"{probe.first:>8.2f} {probe.last:>7.2f} {result.bulk_rate:>10.1f} "
                f"{result.rate_limited:>4}"
            )
    turns = [p for r in runs if r.order == "turns" for p in r.probes]
    fifo = [p for r in runs if r.order == "fifo" for p in r.probes]
    if turns:
        print(
            f"\nturns: first delivery max {max(p.first for p in turns):.2f} s "
            f"(median {statistics.median(p.first for p in turns):.2f} s; target 1 s), "
            f"last delivery max {max(p.last for p in turns):.2f} s (target 3 s)"
        )
    if turns and fifo:
        ratio = statistics.median(p.last for p in fifo) / max(p.last for p in turns)
        print(
            f"fifo (before): first {fifo[0].first:.1f} s, last {fifo[0].last:.1f} s: "
            f"{ratio:.0f}× the worst probe with turns"
        )


async def main_async(args: argparse.Namespace) -> None:
    bot_pinned, fake_cpu = pin_bot(args.no_pin)
    print(pinning(bot_pinned, fake_cpu), flush=True)
    directory = Path(args.data_dir or tempfile.mkdtemp(prefix="cora-fairness-"))
    orders = [("turns", args.probes), *([("fifo", 1)] if args.baseline else [])]
    runs: list[Run] = []
    try:
        for spec in ["sqlite", *args.database]:
            for order, probes in orders:
                runs.append(await run(order, spec, directory, args, probes, fake_cpu))
    finally:
        if not args.data_dir:
            shutil.rmtree(directory, ignore_errors=True)
    report(runs, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bulk", type=int, default=1000, help="members each bulk alert reaches")
    parser.add_argument("--alerts", type=int, default=6, help="bulk alerts from one member")
    parser.add_argument("--probes", type=int, default=3, help="small urgent alerts to time")
    parser.add_argument("--probe-every", type=float, default=5.0, help="seconds between probes")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument("--database", action="append", default=[], help="PostgreSQL URL")
    run_benchmark(parser, main_async)


if __name__ == "__main__":
    main()
