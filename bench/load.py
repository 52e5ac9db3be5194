"""Benchmark: the bot under load — thousands of members, a minute of case alerts raised in the
chat, polls to a thousand members each answered with the button in a burst — and whether it
keeps up: errors, final deliveries, handler latency, memory and database size.

Run: .venv/bin/python -m bench.load [--members 5000] [--alerts 100] [--polls 20] [--voters 1000]
         [--database postgresql://user:pass@host/db] [--concurrency 100] [--no-pin]
         [--bot-from DIR] [--bot-env NAME=VALUE ...]

1. `--members` members spread over the network's sectors and regions (invented names; one in 25
   statewide), among them a coordinator per region and two for the whole state, stored directly.
2. `--polls` polls created by a statewide coordinator with the one-line `/poll` in the chat
   (half of them date polls, every fourth anonymous), each to the members of enough sectors to
   reach about `--voters` people: their ballots go through the outbox while the alerts come in.
3. `--alerts` members (one alert each) send `/alert <sectors> <region> [!] <text>` to the bot,
   evenly spread over one minute; every third is urgent.
4. Once every delivery is final, the first `--voters` people asked in each poll press an answer
   button on their ballot, all polls mixed, `--concurrency` presses in flight at once.

Three processes. The bot is the real one, started as `cora-bot run` starts it (`python -m
bot.cli run`, settings from the environment, long polling) in a child process of its own,
which holds nothing but the bot; with two CPUs it is pinned to CPU 0 from its first instruction,
so every thread it starts stays there. The local Bot API runs in its own (`python -m localapi
serve`). This process is the driver: it seeds the network, plays the simulated people, posts
the presses, keeps their records, reads the database with connections of its own and the
fake's call log; it shares CPU 1 with the fake. The memory and CPU figures are the bot
process's alone: peak memory is its `VmHWM`, its resident set is sampled every 0.25 s by
phase, and its CPU (all threads) is read from /proc/<pid>/stat at the phases' ends. The
driver's own CPU and peak are printed apart. `--bot-from DIR` runs the bot from another
checkout (its tree first on the module path) with this driver: a before/after comparison in
one session.

Telegram's flood limits are off on both sides (TELEGRAM_MAX_RATE=0, the fake without limits):
the load is on the bot. Under the 30 messages/s that Telegram allows, the ~35,000 messages
alone would take about 20 minutes, and `bench.fanout` already shows the outbox on that bound.

Handler latency runs from the fake's getUpdates answer that hands the update to the bot to the
bot's answer to that person: the answerCallbackQuery of that press, or the sendMessage that
confirms the alert (found by its message id). The bot takes updates only as fast as it handles
them (`UPDATES_IN_FLIGHT`), so in a burst most of the wait is at Telegram: the latency from
pressing (the simulated person's POST) shows it. The bot's log records (JSON lines at WARNING
and above) are counted from its output.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select

from bench.bot_process import BotProcess, bot_environment
from bench.common import BOT_CPU, FAKE_CPU, run_benchmark, until
from bench.databases import database_bytes, fresh_database, label
from bench.fake_telegram import FakeTelegram, pin_to_cpu
from bench.load_figures import Figures, Memory, driver_peak_mb, report
from bench.load_people import (
    Person,
    Pressed,
    all_final,
    confirmation_ids,
    count_votes,
    create_polls,
    delivery_states,
    press_burst,
    raise_alerts,
    seed_network,
)
from bot.network import Network, load_network
from bot.polls import PollNotice
from storage.db import Database
from storage.models import Alert

SETTLE_SECONDS = 5.0  # no edits for this long: live messages are done (they coalesce per 3 s)
TIMEOUT = 900.0


def _ok(stats: dict[str, object], method: str) -> int:
    calls = stats["calls"]
    assert isinstance(calls, dict)
    return int(calls.get(method, {}).get("200", 0))


async def run_load(
    args: argparse.Namespace, spec: str, directory: Path, fake: FakeTelegram, bot_cpu: int | None
) -> Figures:
    rng = random.Random(args.seed)
    network = load_network()
    driver_cpu = time.process_time()
    async with fresh_database(spec, directory) as url:
        started = time.monotonic()
        members, coordinators = await seed_network(fake, url, network, args.members)
        figures = Figures(label(spec), len(members) + len(coordinators), len(coordinators))
        figures.seed_seconds = time.monotonic() - started
        print(
            f"network: {figures.members} members over {len(network.sectors)} sectors and "
            f"{len(network.regions)} regions ({figures.coordinators} coordinators), stored "
            f"in {figures.seed_seconds:.1f} s",
            flush=True,
        )
        environment = bot_environment(fake.base_url, url, directory, 0.0, args.http_client)
        environment |= dict(setting.split("=", 1) for setting in args.bot_env)
        database = Database(url)  # the driver's own connections, for its reads
        bot = BotProcess(environment, directory / "bot", cpu=bot_cpu, source=args.bot_from)
        try:
            async with bot:
                memory = Memory(bot.rss_mb)
                memory.start()
                try:
                    await bot.started(fake)
                    await asyncio.sleep(1.0)  # polling has started, start-up work is done
                    figures.rss_started = bot.rss_mb()
                    print(f"bot started: pid {bot.pid} (for py-spy)", flush=True)
                    await _drive(
                        args,
                        bot,
                        database,
                        fake,
                        network,
                        members,
                        coordinators,
                        figures,
                        memory,
                        rng,
                    )
                finally:
                    await memory.stop()
            figures.database_bytes = await database_bytes(url)
        finally:
            await database.dispose()
    figures.log_counts, figures.log_first = bot.log_records()
    figures.driver_cpu_seconds = time.process_time() - driver_cpu
    figures.driver_peak_rss = driver_peak_mb()
    return figures


async def _drive(
    args: argparse.Namespace,
    bot: BotProcess,
    database: Database,
    fake: FakeTelegram,
    network: Network,
    members: Sequence[Person],
    coordinators: Sequence[Person],
    figures: Figures,
    memory: Memory,
    rng: random.Random,
) -> None:
    creator = next(c for c in coordinators if c.region == network.statewide_region)
    senders = rng.sample(list(members), args.alerts)
    first_call = await fake.call_count()
    began, cpu = time.monotonic(), bot.cpu_seconds()

    memory.enter("polls and alerts")
    plans = await create_polls(
        fake,
        database,
        creator,
        network,
        args.polls,
        args.voters,
        len(members) + len(coordinators),
        rng,
    )
    figures.polls = len(plans)
    figures.asked = sum(
        n for (kind, _), n in (await delivery_states(database)).items() if kind == PollNotice.BALLOT
    )
    print(
        f"polls: {len(plans)} created through /poll for {figures.asked} ballots in "
        f"{time.monotonic() - began:.1f} s; now {args.alerts} alerts through /alert",
        flush=True,
    )
    alerts_from, alerts_call = time.monotonic(), await fake.call_count()
    posted = await raise_alerts(fake, senders, network, args.alert_window, rng)

    async def all_raised() -> bool:
        async with database.read_sessions() as session:
            return (await session.scalar(select(func.count()).select_from(Alert)) or 0) >= len(
                posted
            )

    if not await until(all_raised, TIMEOUT, 0.2):
        print("  not every alert was raised in time", flush=True)
    figures.alerts = len(posted)
    figures.alert_window = (posted[-1] - posted[0]) if posted else 0.0
    if not await until(lambda: all_final(database), TIMEOUT, 0.5):
        print("  not every delivery was final in time", flush=True)
    states = await delivery_states(database)
    figures.first_phase_deliveries = sum(states.values())
    figures.alert_recipients = sum(n for (kind, _), n in states.items() if kind == "alert")
    # The phase's last delivery is found in the fake's call log at the end, among the calls
    # up to here.
    phase_end = await fake.call_count()
    figures.cpu_seconds["polls and alerts"] = bot.cpu_seconds() - cpu
    print(
        f"  {figures.first_phase_deliveries} deliveries final "
        f"{time.monotonic() - began:.1f} s after the first poll "
        f"({time.monotonic() - alerts_from:.1f} s after the first alert)",
        flush=True,
    )

    memory.enter("press burst")
    cpu = bot.cpu_seconds()
    before = await fake.stats()
    burst_from = time.monotonic()
    pressed, figures.press_failures = await press_burst(fake, plans, args.concurrency, rng)
    figures.presses = len(pressed)
    figures.presses_posted_in = time.monotonic() - burst_from
    print(
        f"burst: {figures.presses} presses posted in {figures.presses_posted_in:.1f} s "
        f"({args.concurrency} at once)",
        flush=True,
    )
    answered_before = _ok(before, "answerCallbackQuery")

    async def answered() -> bool:
        return _ok(await fake.stats(), "answerCallbackQuery") - answered_before >= len(pressed)

    if not await until(answered, TIMEOUT, 1.0):
        print("  not every press was answered in time", flush=True)
    edits = -1

    async def settled() -> bool:
        nonlocal edits
        now = _ok(await fake.stats(), "editMessageText")
        done, edits = now == edits, now
        return done

    await until(settled, TIMEOUT, SETTLE_SECONDS)
    figures.edits_settled_in = time.monotonic() - burst_from - SETTLE_SECONDS
    await until(lambda: all_final(database), TIMEOUT, 0.5)
    figures.cpu_seconds["press burst"] = bot.cpu_seconds() - cpu
    figures.total_seconds = time.monotonic() - began
    # The bot's memory figures, while it still runs.
    figures.peak_rss = bot.peak_mb()
    figures.rss_end = bot.rss_mb()
    figures.rss_peaks = dict(memory.peaks)
    figures.deliveries = await delivery_states(database)
    votes = await count_votes(database, plans)
    planned = Counter(p.poll_id for p in pressed)
    figures.votes = sum(votes.values())
    figures.wrong_votes = sum(abs(votes.get(i, 0) - planned[i]) for i in planned)
    stats = await fake.stats()
    for method, by_status in stats["calls"].items():
        for status, n in by_status.items():
            figures.calls[method] += n
            if status != "200":
                figures.api_errors[f"{method} {status}"] += n
    last_send = max(
        (
            c.time
            for c in await fake.calls("sendMessage", after=first_call)
            if c.status == 200 and c.seq <= phase_end
        ),
        default=math.nan,
    )
    figures.deliveries_final_after = last_send - began
    confirmations = await confirmation_ids(fake, senders)
    figures.alert_latency, figures.alert_latency_posted = await _alert_latencies(
        fake, alerts_call, senders, posted, confirmations
    )
    (
        figures.press_latency,
        figures.press_latency_posted,
        figures.unanswered,
    ) = await _press_latencies(fake, pressed)
    figures.presses_answered_in = await _last_answer(fake, burst_from)


async def _alert_latencies(
    fake: FakeTelegram,
    after: int,
    senders: Sequence[Person],
    posted: Sequence[float],
    confirmations: Sequence[int | None],
) -> tuple[list[float], list[float]]:
    handed = {u: c.time for c in await fake.calls("getUpdates", after=after) for u in c.update_ids}
    # The alerts were the only updates of that phase, posted one at a time: the k-th update
    # handed out is the k-th alert.
    alert_updates = sorted(handed)[: len(senders)]
    sends = {
        (c.chat_id, c.message_id): c.time
        for c in await fake.calls("sendMessage", after=after)
        if c.status == 200
    }
    from_update, from_posting = [], []
    for sender, update_id, at, message_id in zip(
        senders, alert_updates, posted, confirmations, strict=False
    ):
        answered = sends.get((sender.telegram_id, message_id))
        if answered is None:
            continue
        from_update.append(answered - handed[update_id])
        from_posting.append(answered - at)
    return from_update, from_posting


async def _press_latencies(
    fake: FakeTelegram, pressed: Sequence[Pressed]
) -> tuple[list[float], list[float], int]:
    first = min((p.update_id for p in pressed), default=0)
    handed = {u: c.time for c in await fake.calls("getUpdates") for u in c.update_ids if u >= first}
    answers: dict[str, float] = {}
    for call in await fake.calls("answerCallbackQuery"):
        if call.status == 200 and call.callback_query_id is not None:
            answers.setdefault(call.callback_query_id, call.time)
    from_update, from_press = [], []
    unanswered = 0
    for press in pressed:
        answered = answers.get(press.callback_query_id)
        if answered is None or press.update_id not in handed:
            unanswered += 1
            continue
        from_update.append(answered - handed[press.update_id])
        from_press.append(answered - press.posted)
    return from_update, from_press, unanswered


async def _last_answer(fake: FakeTelegram, since: float) -> float:
    times = [c.time for c in await fake.calls("answerCallbackQuery") if c.time >= since]
    return max(times) - since if times else math.nan


# --- running ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    # The driver (this process) and the fake share CPU 1; the bot alone has CPU 0.
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    driver_pinned = pin and pin_to_cpu(0, FAKE_CPU)
    bot_cpu, fake_cpu = (BOT_CPU, FAKE_CPU) if pin else (None, None)
    spec = args.database or "sqlite"
    print(
        f"cora-bot load benchmark: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{label(spec)}; the bot in its own process (`python -m bot.cli run`"
        + (f" from {args.bot_from}" if args.bot_from else "")
        + "".join(f", {setting}" for setting in args.bot_env)
        + f"), {'pinned to CPU 0' if bot_cpu is not None else 'not pinned'}; the fake Bot API "
        f"and this driver {'pinned to CPU 1' if driver_pinned else 'not pinned'}; "
        f"HTTP client {args.http_client}"
    )
    print(
        "Telegram's limits are off (TELEGRAM_MAX_RATE=0, the fake without flood limits): "
        "the load is on the bot, not on Telegram's 30 messages/s",
        flush=True,
    )
    directory = Path(tempfile.mkdtemp(prefix="cora-load-", dir=args.data_dir))
    try:
        async with FakeTelegram(limits=False, cpu=fake_cpu) as fake:
            figures = await run_load(args, spec, directory, fake, bot_cpu)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print()
    print(report(figures))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--alerts", type=int, default=100, help="raised within --alert-window")
    parser.add_argument("--alert-window", type=float, default=60.0, help="seconds")
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--voters", type=int, default=1000, help="people asked and answering")
    parser.add_argument("--concurrency", type=int, default=100, help="presses in flight")
    parser.add_argument("--database", metavar="URL", help="PostgreSQL (a new database there)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--http-client",
        choices=["aiohttp", "httpx"],
        default="aiohttp",
        help="TELEGRAM_HTTP_CLIENT",
    )
    parser.add_argument(
        "--bot-from",
        type=Path,
        metavar="DIR",
        help="run the bot from another checkout of the repository (e.g. a worktree of main, "
        "for a before/after comparison in one session); the driver stays this one",
    )
    parser.add_argument(
        "--bot-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a further environment variable for the bot (a setting such as "
        "UPDATES_IN_FLIGHT=64, or MALLOC_ARENA_MAX); repeatable",
    )
    run_benchmark(parser, run)


if __name__ == "__main__":
    main()
