"""Benchmark: an alert's fan-out through the durable outbox, against the local Bot API running
in a process of its own, compared with a plain python-telegram-bot send loop.

Run: .venv/bin/python -m bench.fanout [--recipients 1000] [--overhead-recipients 2000]
         [--repeat 3] [--alerts 50] [--database postgresql://user:pass@host/db]
         [--only limits,overhead,latency] [--clients aiohttp,httpx] [--data-dir DIR] [--no-pin]

--clients names the bot's HTTP clients (TELEGRAM_HTTP_CLIENT) for overhead and latency; limits
runs the first.

limits    one urgent alert to N recipients with Telegram's flood limits enforced by the fake
          (30 messages/s overall, 1/s per chat, 429 otherwise) and the bot's limiter at its
          default of 30/s; then a plain PTB loop (AIORateLimiter, default 30/s) to the same
          number of chats. Time from the raise (the loop's start) to the last delivery as the
          fake recorded it, against the bound N/30 s; 429s; lost and duplicated messages.
overhead  the same with limits off on both sides (TELEGRAM_MAX_RATE=0): deliveries per second
          and CPU per message of the outbox against the plain loop at the same concurrency.
latency   members send `/alert police <region> ! <text>`; time from the fake handing the update
          to the bot (its getUpdates answer) to the first sendMessage to a recipient, with the
          limiter at 30/s and without it.

The bot runs in this process, pinned to CPU 0 where possible; the fake Bot API runs pinned to
CPU 1. With --database URL (PostgreSQL; repeatable), `limits` and `overhead` also run on a new
database on that server, dropped afterwards (the user needs CREATEDB).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import math
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    ALERT_TEXT,
    PSEUDONYMS,
    TELEGRAM_RATE,
    FanOut,
    Payload,
    bot_settings,
    percentile,
    pin_bot,
    pinning,
    plain_fan_out,
    run_benchmark,
    until,
)
from bench.databases import delivery_states, fresh_database, label
from bench.fake_telegram import Call, FakeTelegram
from bot.app import build_application
from bot.network import load_network
from handlers.transport.request import HttpClient
from sandbox.story import add_members
from storage.models import Urgency

log = logging.getLogger("bench.fanout")


def median(rounds: Sequence[FanOut]) -> FanOut:
    """The round with the median rate (the lower one of two)."""
    return sorted(rounds, key=lambda r: r.rate)[(len(rounds) - 1) // 2]


@dataclass
class Latency:
    limiter: str
    from_update: list[float]  # the fake's getUpdates answer → first recipient sendMessage
    from_sending: list[float]  # POST /_sim (this process's clock) → first recipient sendMessage


# --- the durable outbox -----------------------------------------------------------------------


async def outbox_fan_out(
    scenario: str,
    spec: str,
    directory: Path,
    fake: FakeTelegram,
    recipients: int,
    rate: float,
    http_client: HttpClient = "aiohttp",
) -> tuple[FanOut, Payload]:
    """One urgent alert to `recipients` police officers in HRO, raised as the /alert handler
    raises it, delivered by the running bot's outbox."""
    [sender_chat] = await fake.create_users(1, "Absenderin")
    chats = await fake.create_users(recipients, "Mitglied")
    async with fresh_database(spec, directory) as url:
        [sender] = await add_members(
            url, [sender_chat], "victim_support", "HRO", prefix="Absenderin"
        )
        await add_members(url, chats, "police", "HRO", prefix="Mitglied")
        cora = build_application(bot_settings(fake.base_url, url, directory, rate, http_client))
        await cora.start()
        try:
            await asyncio.sleep(0.5)  # start-up requests are done; the limiter is idle
            cpu, fake_cpu = time.process_time(), fake.cpu_seconds()
            started = time.monotonic()
            raised = await cora.services.alerts.raise_alert(
                sender, ["police"], "HRO", Urgency.URGENT, ALERT_TEXT
            )
            raise_seconds = time.monotonic() - started
            outbox = cora.runtime.outbox
            timeout = 60 + 2 * recipients / (rate or 1000)
            if not await until(lambda: outbox.sent >= recipients, timeout):
                log.warning(
                    "%s: only %d of %d delivered in time", scenario, outbox.sent, recipients
                )
            cpu, fake_cpu = time.process_time() - cpu, fake.cpu_seconds() - fake_cpu
        finally:
            await cora.stop()
        recorded = await delivery_states(url, [raised.alert.id])
    calls = await fake.calls()
    result = FanOut.measured(
        (scenario, f"outbox ({http_client})", label(spec)),
        chats,
        started,
        calls,
        await fake.stats(containing=raised.alert.ref),
        (cpu, fake_cpu),
        raise_seconds=raise_seconds,
        recorded=recorded,
    )
    result.other_requests = sum(
        1
        for c in calls
        if c.method in ("sendMessage", "editMessageText")
        and c.chat_id == sender_chat
        and started <= c.time <= started + result.seconds
    )
    return result, await Payload.sent_to(fake, chats[0])


# --- latency of /alert ----------------------------------------------------------------------


async def alert_latency(
    spec: str,
    directory: Path,
    fake: FakeTelegram,
    alerts: int,
    rate: float,
    http_client: HttpClient = "aiohttp",
) -> Latency:
    """Members raise alerts with the one-line /alert, one after the other, each to the five
    police officers of a region (regions and senders rotate, so no chat nears its own limit)."""
    network = load_network()
    regions = [code for code in network.regions if code != network.statewide_region]
    per_region = 5
    sender_chats = await fake.create_users(10, "Absender")
    region_chats = {
        region: await fake.create_users(per_region, f"Polizei {region}") for region in regions
    }
    async with fresh_database(spec, directory) as url:
        await add_members(url, sender_chats, "victim_support", "HRO", prefix="Absender")
        for region, chats in region_chats.items():
            await add_members(url, chats, "police", region, prefix=f"Polizei {region}")
        cora = build_application(bot_settings(fake.base_url, url, directory, rate, http_client))
        await cora.start()
        sent_at: list[tuple[float, str]] = []
        try:
            await asyncio.sleep(1.0)  # polling has started
            outbox = cora.runtime.outbox
            for number in range(alerts):
                sender = sender_chats[number % len(sender_chats)]
                region = regions[number % len(regions)]
                pseudonym = PSEUDONYMS[number % len(PSEUDONYMS)]
                before = outbox.sent
                sent_at.append((time.monotonic(), region))
                await fake.send(sender, f"/alert police {region} ! Lage im Fall {pseudonym}")
                if not await until(lambda: outbox.sent >= before + per_region, 10):  # noqa: B023
                    raise RuntimeError(f"alert {number + 1} was not delivered within 10 s")
                await asyncio.sleep(0.25)
        finally:
            await cora.stop()
    calls = await fake.calls()
    return _latencies(f"{'30/s' if rate else 'off'}, {http_client}", calls, sent_at, region_chats)


def _latencies(
    limiter: str,
    calls: Sequence[Call],
    sent_at: Sequence[tuple[float, str]],
    region_chats: dict[str, list[int]],
) -> Latency:
    from_update, from_sending = [], []
    for sent, region in sent_at:
        chats = set(region_chats[region])
        handed = next(c for c in calls if c.update_ids and c.time >= sent)
        first = next(
            c
            for c in calls
            if c.method == "sendMessage"
            and c.status == 200
            and c.chat_id in chats
            and c.time >= sent
        )
        from_update.append(first.time - handed.time)
        from_sending.append(first.time - sent)
    return Latency(limiter, from_update, from_sending)


# --- running and reporting --------------------------------------------------------------------


def _round_ratios(outboxes: Sequence[FanOut], plains: Sequence[FanOut]) -> str:
    """The ratio of each round to the plain loop's next to it, which saw the same noise."""
    pairs = list(zip(outboxes, plains, strict=True))
    rates = [o.rate / p.rate for o, p in pairs]
    cpu = [p.cpu_ms_per_message / o.cpu_ms_per_message for o, p in pairs]
    return (
        f"round by round: messages/s {', '.join(f'{r:.2f}' for r in rates)} (median "
        f"{statistics.median(rates):.2f}×); CPU per message {', '.join(f'{r:.2f}' for r in cpu)} "
        f"(median {statistics.median(cpu):.2f}×)"
    )


def describe(run: FanOut) -> str:
    lines = [
        f"  {run.sender} ({run.database}): {run.recipients} messages in {run.seconds:.2f} s "
        f"= {run.rate:.1f}/s (first after {1000 * run.first_seconds:.0f} ms)"
    ]
    if run.raise_seconds is not None:
        sending = run.seconds - run.first_seconds
        lines.append(
            f"    raise_alert stored the alert and {run.recipients} deliveries in "
            f"{1000 * run.raise_seconds:.0f} ms; first to last delivery "
            f"{run.recipients / sending if sending > 0 else math.nan:.1f}/s; "
            f"{run.other_requests} status-message requests to the sender meanwhile"
        )
    lines.append(
        f"    429s: {run.rate_limited}; missing: {run.missing}; duplicates: {run.duplicates}"
        + (f"; errors: {dict(run.errors)}" if run.errors else "")
        + (f"; recorded: {dict(run.recorded)}" if run.recorded else "")
    )
    lines.append(
        f"    CPU: bot process {run.cpu_seconds:.2f} s ({run.cpu_ms_per_message:.2f} ms/message, "
        f"{100 * run.cpu_seconds / run.seconds:.0f} % of a core); "
        f"fake Bot API {run.fake_cpu_seconds:.2f} s"
    )
    return "\n".join(lines)


def table(runs: Sequence[FanOut], latencies: Sequence[Latency]) -> str:
    header = (
        f"{'scenario':<20} {'sender':<32} {'db':<10} {'msgs':>5} {'time s':>7} {'msg/s':>7} "
        f"{'bound s':>7} {'ratio':>6} {'429':>4} {'lost':>4} {'dup':>4} {'CPU ms/msg':>10}"
    )
    lines = [header, "-" * len(header)] if runs else []
    for run in runs:
        limited = run.scenario.startswith("limits")
        lines.append(
            f"{run.scenario:<20} {run.sender:<32} {run.database:<10} {run.recipients:>5} "
            f"{run.seconds:>7.2f} {run.rate:>7.1f} "
            + (
                f"{run.bound:>7.2f} {run.seconds / run.bound:>6.3f} "
                if limited
                else f"{'–':>7} {'–':>6} "
            )
            + f"{run.rate_limited:>4} {run.missing:>4} {run.duplicates:>4} "
            f"{run.cpu_ms_per_message:>10.2f}"
        )
    overhead = [r for r in runs if r.scenario.startswith("overhead")]
    for outbox in (r for r in overhead if r.sender.startswith("outbox")):
        plain = next((r for r in overhead if r.sender.startswith("plain")), None)
        if plain is not None:
            lines.append(
                f"{outbox.sender} ({outbox.database}): {outbox.rate / plain.rate:.2f}× the plain "
                f"loop ({outbox.rate:.0f}/s vs {plain.rate:.0f}/s); "
                f"{outbox.cpu_ms_per_message - plain.cpu_ms_per_message:+.2f} ms/message CPU"
            )
    for latency in latencies:
        for name, values in (
            ("getUpdates answer", latency.from_update),
            ("/alert sent", latency.from_sending),
        ):
            ms = [1000 * v for v in values]
            lines.append(
                f"latency, limiter {latency.limiter:<13}, {name:<17} → first delivery: "
                f"p50 {percentile(ms, 0.5):.0f} ms, p90 {percentile(ms, 0.9):.0f} ms, "
                f"max {max(ms):.0f} ms (n={len(ms)})"
            )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    scenarios = set(args.only.split(",")) if args.only else {"limits", "overhead", "latency"}
    bot_pinned, fake_cpu = pin_bot(args.no_pin)
    print(
        f"cora-bot fan-out benchmark: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{pinning(bot_pinned, fake_cpu)} (separate process)"
    )
    directory = Path(tempfile.mkdtemp(prefix="cora-bench-", dir=args.data_dir))
    try:
        runs, latencies = await _run_scenarios(args, scenarios, directory, fake_cpu)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print()
    print(table(runs, latencies))


async def _run_scenarios(
    args: argparse.Namespace, scenarios: set[str], directory: Path, fake_cpu: int | None
) -> tuple[list[FanOut], list[Latency]]:
    runs: list[FanOut] = []
    latencies: list[Latency] = []
    databases = ["sqlite", *(spec for spec in args.database if spec != "sqlite")]
    clients: list[HttpClient] = [c for c in ("aiohttp", "httpx") if c in args.clients.split(",")]
    if not clients:
        raise SystemExit("--clients: aiohttp, httpx or both")

    def report(result: FanOut) -> None:
        runs.append(result)
        print(describe(result), flush=True)

    for spec in databases:
        if "limits" in scenarios:
            n = args.recipients
            print(
                f"\n[limits] {n} recipients, fake enforces 30/s overall and 1/s per chat, "
                f"bound {n / TELEGRAM_RATE:.2f} s ({label(spec)})",
                flush=True,
            )
            async with FakeTelegram(limits=True, cpu=fake_cpu) as fake:
                result, payload = await outbox_fan_out(
                    "limits (30/s)", spec, directory, fake, n, 30, clients[0]
                )
            report(result)
            if spec == "sqlite":
                async with FakeTelegram(limits=True, cpu=fake_cpu) as fake:
                    report(await plain_fan_out("limits (30/s)", fake, n, payload, limiter=True))
        if "overhead" in scenarios:
            n = args.overhead_recipients
            print(
                f"\n[overhead] {n} recipients, no limits anywhere ({label(spec)}), "
                f"{args.repeat} rounds; the table shows the median round",
                flush=True,
            )
            outboxes: dict[HttpClient, list[FanOut]] = {c: [] for c in clients}
            plains: list[FanOut] = []
            for _ in range(args.repeat):  # interleaved, so that all see the same noise
                for client in clients:
                    async with FakeTelegram(limits=False, cpu=fake_cpu) as fake:
                        result, payload = await outbox_fan_out(
                            "overhead (no limit)", spec, directory, fake, n, 0, client
                        )
                    outboxes[client].append(result)
                    print(describe(result), flush=True)
                if spec == "sqlite":
                    async with FakeTelegram(limits=False, cpu=fake_cpu) as fake:
                        plain = await plain_fan_out(
                            "overhead (no limit)", fake, n, payload, limiter=False
                        )
                    plains.append(plain)
                    print(describe(plain), flush=True)
            for rounds in (*outboxes.values(), plains):
                if rounds:
                    runs.append(median(rounds))
                    rates = ", ".join(f"{r.rate:.0f}" for r in rounds)
                    print(f"  {rounds[0].sender}: {rates} messages/s", flush=True)
            for client, rounds in outboxes.items():
                if plains:
                    print(f"  outbox ({client}) / plain loop, {_round_ratios(rounds, plains)}")
        if "latency" in scenarios and spec == "sqlite":
            for (rate, limits), client in itertools.product(((30.0, True), (0.0, False)), clients):
                print(
                    f"\n[latency] {args.alerts} one-line /alert commands, limiter "
                    f"{'30/s, fake limits on' if rate else 'off'}, {client}",
                    flush=True,
                )
                async with FakeTelegram(limits=limits, cpu=fake_cpu) as fake:
                    latency = await alert_latency(spec, directory, fake, args.alerts, rate, client)
                latencies.append(latency)
                ms = [1000 * v for v in latency.from_update]
                print(
                    f"  p50 {percentile(ms, 0.5):.0f} ms, p90 {percentile(ms, 0.9):.0f} ms, "
                    f"max {max(ms):.0f} ms, mean {statistics.fmean(ms):.0f} ms",
                    flush=True,
                )
    return runs, latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=1000, help="for `limits`")
    parser.add_argument("--overhead-recipients", type=int, default=2000, help="for `overhead`")
    parser.add_argument("--alerts", type=int, default=50, help="for `latency`")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of `overhead`")
    parser.add_argument(
        "--database",
        action="append",
        default=[],
        metavar="URL",
        help="also run limits and overhead on PostgreSQL (a new database on this server)",
    )
    parser.add_argument("--only", help="comma-separated: limits,overhead,latency")
    parser.add_argument("--clients", default="aiohttp,httpx", help="TELEGRAM_HTTP_CLIENT(s)")
    # It logs a traceback for every 429; the benchmark counts them instead.
    run_benchmark(parser, run, "telegram.ext.AIORateLimiter")


if __name__ == "__main__":
    main()
