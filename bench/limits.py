"""Benchmark: an urgent alert's fan-out on Telegram's flood limit, read two ways, without a
single 429; with the bot killed three times on the way; and two plain python-telegram-bot
loops beside it.

Run: .venv/bin/python -m bench.limits [--models bucket,strict] [--recipients 300,1000]
         [--kills 3] [--only outbox,kills,peers] [--seed 11] [--data-dir DIR] [--no-pin]

Models (the local Bot API in a process of its own, `python -m localapi serve --limits M`):
  bucket  token buckets: 30 messages/s with bursts of 30 overall, 1/s with bursts of 3 per chat
  strict  sliding windows: at most 30 messages in any second, at most one per chat in any second

For each model and each number of recipients N:
  outbox   one urgent alert to N police officers, raised as /alert raises it, delivered by the
           running bot (limiter at 30/s). Time from the raise to the fake's record of the last
           delivery, against the bound N/30 s; 429s; recipients without it; duplicates.
  peers    the same text and buttons to N chats by (a) a plain loop, `await send_message();
           await asyncio.sleep(1/30)`, and (b) python-telegram-bot's AIORateLimiter (its
           defaults: 30/s overall, no retry after a 429) with 16 sends at once.
  kills    (strict only) the bot as a process of its own (`cora-bot run`): a member sends
           `/alert police HRO ! …`, and the process is killed with SIGKILL three times at
           seeded random moments during the fan-out, and restarted at once. Time from the
           member's message to the last delivery; 429s; lost; duplicates against the
           deliveries that were in flight (claimed, not yet recorded) at the kills.

The bot runs pinned to CPU 0 where possible, the fake pinned to CPU 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import platform
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.common import (
    ALERT_TEXT,
    BOT_CPU,
    TELEGRAM_RATE,
    FanOut,
    pin_bot,
    pinning,
    plain_fan_out,
    run_benchmark,
)
from bench.databases import fresh_database
from bench.fake_telegram import TOKEN, FakeTelegram, pin_to_cpu
from bench.fanout import outbox_fan_out
from bot.keys import generate_encryption_key, generate_signing_key
from localapi.limits import LIMIT_MODELS, LimitModel
from sandbox.story import add_members
from storage.db import Database
from storage.models import Delivery, DeliveryStatus

REF = re.compile(r"\b[A-Z]-\d{4}-\d{4}\b")
log = logging.getLogger("bench.limits")


@dataclass
class Row:
    model: LimitModel
    scenario: str
    sender: str
    run: FanOut
    in_flight: int | None = None  # deliveries claimed but not recorded at the kills

    @property
    def ratio(self) -> float:
        return self.run.seconds / self.run.bound


# --- the bot killed during the fan-out ------------------------------------------------------


async def sending(url: str) -> int:
    """Deliveries claimed and not yet recorded: the sends in flight when the bot is killed."""
    database = Database(url)
    try:
        async with database.read_sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.SENDING)
            )
            return int(count or 0)
    finally:
        await database.dispose()


async def _delivered(fake: FakeTelegram, ref: str) -> dict[str, int]:
    found: dict[str, int] = (await fake.stats(containing=ref))["delivered"]
    return found


async def killed_fan_out(
    directory: Path, fake: FakeTelegram, recipients: int, kills: int, seed: int
) -> tuple[FanOut, int]:
    """An urgent /alert to `recipients`, the bot process killed `kills` times on the way."""
    [sender_chat] = await fake.create_users(1, "Absenderin")
    chats = await fake.create_users(recipients, "Mitglied")
    chance = random.Random(seed)  # nosec B311 - reproducible kill moments, not security
    # Kill points: after a random share of the deliveries, plus a random part of a second.
    kill_after = sorted(chance.uniform(0.05, 0.9) * recipients for _ in range(kills))
    async with fresh_database("sqlite", directory) as url:
        await add_members(url, [sender_chat], "victim_support", "HRO", prefix="Absenderin")
        await add_members(url, chats, "police", "HRO", prefix="Mitglied")
        environment = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": fake.base_url,
            "DATABASE_URL": url,
            "CORA_DATA_DIR": str(directory / "data"),
            "CORA_ENCRYPTION_KEY": generate_encryption_key(),
            "CORA_AUDIT_SIGNING_KEY": generate_signing_key(),
            "TELEGRAM_MAX_RATE": str(TELEGRAM_RATE),
            "LOG_LEVEL": "ERROR",
        }

        async def start() -> asyncio.subprocess.Process:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                env=environment,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            pin_to_cpu(process.pid, BOT_CPU)
            return process

        process = await start()
        in_flight = 0
        killed_at: list[float] = []
        try:
            # Started once getUpdates is polling.
            while not await fake.calls("getUpdates"):
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            cpu_fake = fake.cpu_seconds()
            started = time.monotonic()
            await fake.send(sender_chat, f"/alert police HRO ! {ALERT_TEXT}")
            ref = None
            while ref is None:
                for message in await fake.messages(sender_chat):
                    if message["from_bot"] and (found := REF.search(message["text"])):
                        ref = found.group(0)
                await asyncio.sleep(0.05)
            for share in kill_after:
                while sum(1 for n in (await _delivered(fake, ref)).values() if n) < share:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(chance.uniform(0.0, 0.8))
                process.kill()
                await process.wait()
                killed_at.append(time.monotonic())
                in_flight += await sending(url)
                process = await start()
            deadline = time.monotonic() + 60 + 3 * recipients / TELEGRAM_RATE
            while len(await _delivered(fake, ref)) < recipients:
                if time.monotonic() > deadline:
                    log.warning("killed fan-out: not everyone had the alert in time")
                    break
                await asyncio.sleep(0.2)
            fake_cpu = fake.cpu_seconds() - cpu_fake
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
    calls = await fake.calls()
    wanted = set(chats)
    for moment in killed_at:
        after = [c for c in calls if c.time > moment]
        hello = next((c.time for c in after if c.method == "getMe"), math.nan)
        sent = next(
            (c.time for c in after if c.method == "sendMessage" and c.chat_id in wanted), math.nan
        )
        print(
            f"    restart after a kill: first request (getMe) after {hello - moment:.2f} s, "
            f"first delivery after {sent - moment:.2f} s",
            flush=True,
        )
    run = FanOut.measured(
        ("kills", f"outbox, SIGKILL x{kills}", "SQLite"),
        chats,
        started,
        calls,
        await fake.stats(containing=ref),
        (math.nan, fake_cpu),
    )
    return run, in_flight


# --- running and reporting --------------------------------------------------------------------


def describe(row: Row) -> str:
    run = row.run
    text = (
        f"  [{row.model}] {row.sender}: {run.recipients} in {run.seconds:.2f} s "
        f"({row.ratio:.3f} x the bound of {run.bound:.2f} s); 429s {run.rate_limited}, "
        f"lost {run.missing}, duplicates {run.duplicates}"
    )
    if row.in_flight is not None:
        text += f" (in flight at the kills: {row.in_flight})"
    if run.errors:
        text += f"; errors {dict(run.errors)}"
    if run.other_requests:
        text += f"; {run.other_requests} status-message requests to the sender meanwhile"
    return text


def table(rows: Sequence[Row]) -> str:
    header = (
        f"{'model':<7} {'scenario':<16} {'sender':<34} {'msgs':>5} {'time s':>7} "
        f"{'bound s':>7} {'ratio':>6} {'429':>4} {'lost':>4} {'dup':>4} {'in flight':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        run = row.run
        lines.append(
            f"{row.model:<7} {row.scenario:<16} {row.sender:<34} {run.recipients:>5} "
            f"{run.seconds:>7.2f} {run.bound:>7.2f} {row.ratio:>6.3f} {run.rate_limited:>4} "
            f"{run.missing:>4} {run.duplicates:>4} "
            f"{'–' if row.in_flight is None else row.in_flight:>9}"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    models: list[LimitModel] = [m for m in LIMIT_MODELS if m in args.models.split(",")]
    sizes = [int(n) for n in args.recipients.split(",")]
    scenarios = set(args.only.split(","))
    bot_pinned, fake_cpu = pin_bot(args.no_pin)
    print(
        f"cora-bot flood-limit benchmark: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {pinning(bot_pinned, fake_cpu)}; "
        f"bound = N / 30 s; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    rows: list[Row] = []

    def report(row: Row) -> None:
        rows.append(row)
        print(describe(row), flush=True)

    directory = Path(tempfile.mkdtemp(prefix="cora-limits-", dir=args.data_dir))
    try:
        for model in models:
            for n in sizes:
                print(f"\n[{model}] urgent alert to {n}", flush=True)
                payload = None
                if "outbox" in scenarios or "peers" in scenarios:
                    async with FakeTelegram(limits=model, cpu=fake_cpu) as fake:
                        result, payload = await outbox_fan_out(
                            "outbox", "sqlite", directory, fake, n, TELEGRAM_RATE
                        )
                    if "outbox" in scenarios:
                        report(Row(model, "urgent alert", "outbox (cora-bot)", result))
                if "peers" in scenarios and payload is not None:
                    async with FakeTelegram(limits=model, cpu=fake_cpu) as fake:
                        loop = await plain_fan_out(
                            "peers", fake, n, payload, limiter=False, pace=1 / TELEGRAM_RATE
                        )
                    report(Row(model, "urgent alert", loop.sender, loop))
                    async with FakeTelegram(limits=model, cpu=fake_cpu) as fake:
                        ptb = await plain_fan_out("peers", fake, n, payload, limiter=True)
                    report(Row(model, "urgent alert", "PTB AIORateLimiter, 16 at once", ptb))
                if "kills" in scenarios and model == "strict":
                    async with FakeTelegram(limits=model, cpu=fake_cpu) as fake:
                        killed, in_flight = await killed_fan_out(
                            directory, fake, n, args.kills, args.seed
                        )
                    report(Row(model, f"SIGKILL x{args.kills}", killed.sender, killed, in_flight))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print()
    print(table(rows))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="bucket,strict", help="bucket, strict or both")
    parser.add_argument("--recipients", default="300,1000", help="comma-separated sizes")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs in the kills scenario")
    parser.add_argument("--only", default="outbox,kills,peers", help="scenarios to run")
    parser.add_argument("--seed", type=int, default=11, help="for the kill moments")
    # The benchmark counts 429s; the libraries would log a line (PTB a traceback) for each.
    run_benchmark(parser, run, "telegram.ext.AIORateLimiter", "handlers.transport.ratelimit")


if __name__ == "__main__":
    main()
