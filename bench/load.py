"""Benchmark: the bot under load — thousands of members, a minute of case alerts raised in the
chat, polls to a thousand members each answered with the button in a burst — and whether it
keeps up: errors, final deliveries, handler latency, memory and database size.

Run: .venv/bin/python -m bench.load [--members 5000] [--alerts 100] [--polls 20] [--voters 1000]
         [--database postgresql://user:pass@host/db] [--concurrency 100] [--no-pin]

1. `--members` members spread over the network's sectors and regions (invented names; one in 25
   statewide), among them a coordinator per region and two for the whole state, stored directly.
2. `--polls` polls created by a statewide coordinator through the poll service (half of them
   date polls, every fourth anonymous), each to the members of enough sectors to reach about
   `--voters` people: their ballots go through the outbox while the alerts come in.
3. `--alerts` members (one alert each) send `/alert <sectors> <region> [!] <text>` to the bot,
   evenly spread over one minute; every third is urgent.
4. Once every delivery is final, the first `--voters` people asked in each poll press an answer
   button on their ballot, all polls mixed, `--concurrency` presses in flight at once.

The bot is the real one (`build_application`, long polling) in this process; the local Bot API
runs in its own (`python -m localapi serve`), so the memory and CPU figures are the bot's.
Telegram's flood limits are off on both sides (TELEGRAM_MAX_RATE=0, the fake without limits):
the load is on the bot. Under the 30 messages/s that Telegram allows, the ~35,000 messages
alone would take about 20 minutes, and `bench.fanout` already shows the outbox on that bound.

Handler latency runs from the fake's getUpdates answer that hands the update to the bot to the
bot's answer to that person: the answerCallbackQuery of that press, or the sendMessage that
confirms the alert (found by its message id). The bot takes updates only as fast as it handles
them (`UPDATES_IN_FLIGHT`), so in a burst most of the wait is at Telegram: the latency from
pressing (the simulated person's POST) shows it. Peak memory is `ru_maxrss` of this process,
read before the benchmark fetches the fake's call log.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import math
import os
import platform
import random
import resource
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bench.databases import database_bytes, fresh_database, label
from bench.fake_telegram import FakeTelegram, pin_to_cpu
from bench.fanout import bot_settings, percentile
from bot.app import CoraBot, build_application
from bot.network import Network, load_network
from bot.polls import PollDraft, PollNotice
from handlers.common.callbacks import Button, Kind
from sandbox.story import add_members, said
from storage.models import (
    Alert,
    AnonymousVoter,
    Delivery,
    DeliveryStatus,
    Member,
    PollBallot,
    PollKind,
    PollParticipant,
)

BOT_CPU, FAKE_CPU = 0, 1
STATEWIDE_EVERY = 25  # one member in 25 is registered for the whole state
PSEUDONYMS = ("Pappel", "Birke", "Eiche", "Linde", "Ulme", "Erle", "Esche", "Weide")
POLL_TITLES = ("Netzwerktreffen", "Fallkonferenz Nord", "Fortbildung", "Arbeitsgruppe")
CHOICES = ["Präsenz in Rostock", "Online", "Verschieben"]
SETTLE_SECONDS = 5.0  # no edits for this long: live messages are done (they coalesce per 3 s)
TIMEOUT = 900.0

log = logging.getLogger("bench.load")


@dataclass(frozen=True)
class Person:
    telegram_id: int
    member_id: int
    sector: str
    region: str


@dataclass(frozen=True)
class Pressed:
    poll_id: int
    callback_query_id: str
    update_id: int
    posted: float  # this process's clock, just before the POST


class LogCounter(logging.Handler):
    """Counts the bot's log records by level; keeps the first few warnings and errors."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] += 1
        if len(self.first) < 8:
            self.first.append(f"{record.levelname} {record.name}: {record.getMessage()[:160]}")


class Memory:
    """Samples this process's resident set every quarter second, by phase."""

    def __init__(self) -> None:
        self.phase = "start-up"
        self.peaks: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def rss_mb() -> float:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    @staticmethod
    def peak_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    def enter(self, phase: str) -> None:
        self.phase = phase

    async def _sample(self) -> None:
        while True:
            rss = self.rss_mb()
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)
            await asyncio.sleep(0.25)

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@dataclass
class Figures:
    database: str
    members: int
    coordinators: int
    seed_seconds: float = math.nan
    polls: int = 0
    asked: int = 0
    alerts: int = 0
    alert_window: float = math.nan
    alert_recipients: int = 0
    deliveries_final_after: float = math.nan  # from the first poll to the last final delivery
    first_phase_deliveries: int = 0
    presses: int = 0
    press_failures: int = 0
    presses_posted_in: float = math.nan
    presses_answered_in: float = math.nan  # from the first press to the last answer
    edits_settled_in: float = math.nan  # from the first press until the ballots stopped changing
    unanswered: int = 0
    votes: int = 0
    wrong_votes: int = 0
    alert_latency: list[float] = field(default_factory=list)
    alert_latency_posted: list[float] = field(default_factory=list)
    press_latency: list[float] = field(default_factory=list)
    press_latency_posted: list[float] = field(default_factory=list)
    deliveries: Counter[tuple[str, str]] = field(default_factory=Counter)
    api_errors: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    log_counts: Counter[str] = field(default_factory=Counter)
    log_first: list[str] = field(default_factory=list)
    rss_started: float = math.nan
    rss_peaks: dict[str, float] = field(default_factory=dict)
    rss_end: float = math.nan
    peak_rss: float = math.nan
    database_bytes: int = 0
    total_seconds: float = math.nan
    cpu_seconds: dict[str, float] = field(default_factory=dict)


# --- the network ----------------------------------------------------------------------------


async def seed_network(
    fake: FakeTelegram, url: str, network: Network, count: int
) -> tuple[list[Person], list[Person]]:
    """Members spread over sectors and regions, and coordinators; each has opened the chat."""
    statewide = network.statewide_region
    regions = [code for code in network.regions if code != statewide]
    sectors = list(network.sectors)
    groups: dict[tuple[str, str, str], int] = Counter()
    for region in [*regions, statewide, statewide]:
        groups["coordination", region, "coordinator"] += 1
    for number in range(count - sum(groups.values())):
        sector = sectors[number % len(sectors)]
        if number % STATEWIDE_EVERY == STATEWIDE_EVERY - 1:
            region = statewide
        else:
            region = regions[(number // len(sectors)) % len(regions)]
        groups[sector, region, "member"] += 1
    members: list[Person] = []
    coordinators: list[Person] = []
    for (sector, region, role), size in sorted(groups.items()):
        prefix = f"{network.sectors[sector].label('de')} {region}"
        if role == "coordinator":
            prefix = f"Koordination {region}"
        chats = await fake.create_users(size, prefix)
        ids = await add_members(url, chats, sector, region, prefix=prefix, role=role)
        people = [Person(t, m, sector, region) for t, m in zip(chats, ids, strict=True)]
        (coordinators if role == "coordinator" else members).extend(people)
    return members, coordinators


# --- polls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollPlan:
    poll_id: int
    kind: str
    options: int
    voters: list[int]  # Telegram ids of the first `--voters` people asked


async def create_polls(
    cora: CoraBot,
    creator: Person,
    network: Network,
    count: int,
    voters: int,
    members: int,
    rng: random.Random,
) -> list[PollPlan]:
    """Polls to enough sectors (statewide) to reach about `voters` people each."""
    services = cora.services
    sectors = list(network.sectors)
    per_poll = min(len(sectors), max(1, round(voters * len(sectors) / members)))
    combinations = list(itertools.combinations(sectors, per_poll))
    rng.shuffle(combinations)
    zone = ZoneInfo(services.settings.cora_timezone)
    today = datetime.now(zone).replace(hour=10, minute=0, second=0, microsecond=0)
    created: list[tuple[int, str, int]] = []
    for number in range(count):
        target = await services.channels.parse_target(
            creator.member_id, ",".join(combinations[number % len(combinations)])
        )
        title = f"{POLL_TITLES[number % len(POLL_TITLES)]} {number + 1}"
        if number % 2 == 0:
            days = [today + timedelta(days=14 + number + step) for step in range(3)]
            draft = PollDraft(
                title, PollKind.DATE, [d.strftime("%d.%m.%Y %H:%M") for d in days], number % 4 == 3
            )
        else:
            draft = PollDraft(title, PollKind.SINGLE, list(CHOICES), number % 4 == 3)
        poll, _ = await services.polls.create(
            creator.member_id, target, draft, services.clock.now() + timedelta(days=7)
        )
        created.append((poll.id, draft.kind, len(draft.options)))
    asked = await _asked(cora, [poll_id for poll_id, _, _ in created])
    return [
        PollPlan(poll_id, kind, options, asked[poll_id][:voters])
        for poll_id, kind, options in created
    ]


async def _asked(cora: CoraBot, poll_ids: Sequence[int]) -> dict[int, list[int]]:
    async with cora.database.read_sessions() as session:
        rows = await session.execute(
            select(PollParticipant.poll_id, Member.telegram_user_id)
            .join(Member, Member.id == PollParticipant.member_id)
            .where(PollParticipant.poll_id.in_(list(poll_ids)))
            .order_by(PollParticipant.poll_id, Member.id)
        )
        asked: dict[int, list[int]] = defaultdict(list)
        for poll_id, telegram_id in rows.all():
            if telegram_id is not None:
                asked[poll_id].append(telegram_id)
        return asked


def answer_button(plan: PollPlan, rng: random.Random) -> str:
    option = rng.randint(1, plan.options)
    if plan.kind == PollKind.DATE:
        return Button(Kind.POLL, str(plan.poll_id), f"{option}{rng.choice('ymn')}").encode()
    return Button(Kind.POLL, str(plan.poll_id), f"c{option}").encode()


# --- alerts ---------------------------------------------------------------------------------


async def raise_alerts(
    fake: FakeTelegram,
    senders: Sequence[Person],
    network: Network,
    window: float,
    rng: random.Random,
) -> list[float]:
    """Each sender writes one one-line /alert, evenly spread over `window` seconds; returns when
    each was posted. One POST at a time, so the fake numbers the updates in this order."""
    regions = [code for code in network.regions if code != network.statewide_region]
    sectors = [code for code in network.sectors if code != "coordination"]
    started = time.monotonic()
    posted = []
    for number, sender in enumerate(senders):
        await asyncio.sleep(max(0.0, started + number * window / len(senders) - time.monotonic()))
        chosen = ",".join(rng.sample(sectors, rng.randint(1, 3)))
        urgent = "! " if number % 3 == 0 else ""
        text = f"Lage im Fall {PSEUDONYMS[number % len(PSEUDONYMS)]}: bitte kurz zurückmelden"
        posted.append(time.monotonic())
        await fake.send(sender.telegram_id, f"/alert {chosen} {rng.choice(regions)} {urgent}{text}")
    return posted


def _confirms(text: str, pieces: Sequence[str]) -> bool:
    position = 0
    for piece in pieces:
        found = text.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


async def confirmation_ids(fake: FakeTelegram, senders: Sequence[Person]) -> list[int | None]:
    """The message id of the bot's confirmation of each sender's alert."""
    keys = [said("alert.raised"), said("alert.raised_to_coordinators")]
    found: list[int | None] = []
    for sender in senders:
        messages = await fake.messages(sender.telegram_id)
        found.append(
            next(
                (
                    m["message_id"]
                    for m in messages
                    if m["from_bot"] and any(_confirms(m["text"], k) for k in keys)
                ),
                None,
            )
        )
    return found


# --- waiting --------------------------------------------------------------------------------


async def until(condition: Callable[[], Awaitable[bool]], seconds: float, every: float) -> bool:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True


async def delivery_states(cora: CoraBot) -> Counter[tuple[str, str]]:
    async with cora.database.read_sessions() as session:
        rows = await session.execute(
            select(Delivery.kind, Delivery.status, func.count()).group_by(
                Delivery.kind, Delivery.status
            )
        )
        return Counter({(kind, status): n for kind, status, n in rows.all()})


async def all_final(cora: CoraBot) -> bool:
    states = await delivery_states(cora)
    open_states = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    return not any(n for (_, status), n in states.items() if status in open_states)


def _ok(stats: dict[str, object], method: str) -> int:
    calls = stats["calls"]
    assert isinstance(calls, dict)
    return int(calls.get(method, {}).get("200", 0))


# --- the run --------------------------------------------------------------------------------


async def press_burst(
    fake: FakeTelegram, plans: Sequence[PollPlan], concurrency: int, rng: random.Random
) -> tuple[list[Pressed], int]:
    """Every planned voter presses an answer on their ballot, all polls mixed."""
    jobs = [(plan, voter) for plan in plans for voter in plan.voters]
    rng.shuffle(jobs)
    pending = iter(jobs)
    pressed: list[Pressed] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for plan, voter in pending:
            button = answer_button(plan, rng)
            posted = time.monotonic()
            try:
                answer = await fake.press(voter, button)
            except RuntimeError as error:
                failures += 1
                log.warning("press refused by the fake: %s", error)
                continue
            pressed.append(
                Pressed(plan.poll_id, answer["callback_query_id"], answer["update_id"], posted)
            )

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return pressed, failures


async def count_votes(cora: CoraBot, plans: Sequence[PollPlan]) -> dict[int, int]:
    """People with an answer, per poll (named: ballots; anonymous: voter hashes)."""
    ids = [plan.poll_id for plan in plans]
    async with cora.database.read_sessions() as session:
        named = await session.execute(
            select(PollBallot.poll_id, func.count())
            .where(PollBallot.poll_id.in_(ids))
            .group_by(PollBallot.poll_id)
        )
        anonymous = await session.execute(
            select(AnonymousVoter.poll_id, func.count())
            .where(AnonymousVoter.poll_id.in_(ids))
            .group_by(AnonymousVoter.poll_id)
        )
        return dict(named.all()) | dict(anonymous.all())


async def run_load(
    args: argparse.Namespace, spec: str, directory: Path, fake: FakeTelegram
) -> Figures:
    rng = random.Random(args.seed)
    network = load_network()
    logs = LogCounter()
    logging.getLogger().addHandler(logs)
    memory = Memory()
    memory.start()
    try:
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
            cora = build_application(bot_settings(fake, url, directory, 0.0, args.http_client))
            await cora.start()
            try:
                await asyncio.sleep(1.0)  # polling has started, start-up work is done
                figures.rss_started = memory.rss_mb()
                await _drive(args, cora, fake, network, members, coordinators, figures, memory, rng)
                await memory.stop()
                figures.peak_rss = memory.peak_mb()  # before the call log is fetched
                figures.rss_end = memory.rss_mb()
                figures.rss_peaks = dict(memory.peaks)
                figures.database_bytes = await database_bytes(url)
            finally:
                await cora.stop()
    finally:
        await memory.stop()
        logging.getLogger().removeHandler(logs)
    figures.log_counts, figures.log_first = logs.counts, logs.first
    return figures


async def _drive(
    args: argparse.Namespace,
    cora: CoraBot,
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
    began, cpu = time.monotonic(), time.process_time()

    memory.enter("polls and alerts")
    plans = await create_polls(
        cora, creator, network, args.polls, args.voters, len(members) + len(coordinators), rng
    )
    figures.polls = len(plans)
    figures.asked = sum(
        n for (kind, _), n in (await delivery_states(cora)).items() if kind == PollNotice.BALLOT
    )
    print(
        f"polls: {len(plans)} created for {figures.asked} ballots in "
        f"{time.monotonic() - began:.1f} s; now {args.alerts} alerts through /alert",
        flush=True,
    )
    alerts_from = time.monotonic()
    posted = await raise_alerts(fake, senders, network, args.alert_window, rng)

    async def all_raised() -> bool:
        async with cora.database.read_sessions() as session:
            return (await session.scalar(select(func.count()).select_from(Alert)) or 0) >= len(
                posted
            )

    if not await until(all_raised, TIMEOUT, 0.2):
        print("  not every alert was raised in time", flush=True)
    figures.alerts = len(posted)
    figures.alert_window = (posted[-1] - posted[0]) if posted else 0.0
    if not await until(lambda: all_final(cora), TIMEOUT, 0.5):
        print("  not every delivery was final in time", flush=True)
    states = await delivery_states(cora)
    figures.first_phase_deliveries = sum(states.values())
    figures.alert_recipients = sum(n for (kind, _), n in states.items() if kind == "alert")
    last_send = max(
        (c.time for c in await fake.calls("sendMessage", after=first_call) if c.status == 200),
        default=math.nan,
    )
    figures.deliveries_final_after = last_send - began
    figures.cpu_seconds["polls and alerts"] = time.process_time() - cpu
    print(
        f"  {figures.first_phase_deliveries} deliveries final {figures.deliveries_final_after:.1f} "
        f"s after the first poll ({time.monotonic() - alerts_from:.1f} s after the first alert)",
        flush=True,
    )

    memory.enter("press burst")
    cpu = time.process_time()
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
    await until(lambda: all_final(cora), TIMEOUT, 0.5)
    figures.cpu_seconds["press burst"] = time.process_time() - cpu
    figures.total_seconds = time.monotonic() - began
    figures.deliveries = await delivery_states(cora)
    votes = await count_votes(cora, plans)
    planned = Counter(p.poll_id for p in pressed)
    figures.votes = sum(votes.values())
    figures.wrong_votes = sum(abs(votes.get(i, 0) - planned[i]) for i in planned)
    stats = await fake.stats()
    for method, by_status in stats["calls"].items():
        for status, n in by_status.items():
            figures.calls[method] += n
            if status != "200":
                figures.api_errors[f"{method} {status}"] += n

    # What follows reads the fake's logs; the caller takes the peak memory before that.
    confirmations = await confirmation_ids(fake, senders)
    figures.alert_latency, figures.alert_latency_posted = await _alert_latencies(
        fake, first_call, senders, posted, confirmations
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


# --- reporting ------------------------------------------------------------------------------


def _spread(values: Sequence[float]) -> str:
    if not values:
        return "no samples"
    ms = [1000 * v for v in values]
    return (
        f"p50 {percentile(ms, 0.5):,.0f} ms, p95 {percentile(ms, 0.95):,.0f} ms, "
        f"max {max(ms):,.0f} ms (n={len(ms)})"
    )


def report(figures: Figures) -> str:
    by_state: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for (kind, status), n in figures.deliveries.items():
        by_state[status] += n
        by_kind[kind][status] += n
    total = sum(by_state.values())
    final = total - by_state[DeliveryStatus.PENDING] - by_state[DeliveryStatus.SENDING]
    failed = by_state[DeliveryStatus.FAILED] + by_state[DeliveryStatus.UNREACHABLE]
    burst_rate = figures.presses / figures.presses_answered_in
    delivery_rate = figures.first_phase_deliveries / figures.deliveries_final_after
    kinds = "; ".join(
        f"{kind} " + ", ".join(f"{s} {n}" for s, n in sorted(c.items()))
        for kind, c in sorted(by_kind.items())
    )
    api_errors = ", ".join(f"{k} × {n}" for k, n in sorted(figures.api_errors.items())) or "none"
    cpu = ", ".join(f"{phase} {s:.1f} s" for phase, s in figures.cpu_seconds.items())
    peaks = ", ".join(f"{phase} {mb:.0f} MB" for phase, mb in figures.rss_peaks.items())
    lines = [
        f"database                 {figures.database}",
        f"members                  {figures.members} ({figures.coordinators} coordinators)",
        f"polls                    {figures.polls}, {figures.asked} ballots "
        f"({figures.asked / max(figures.polls, 1):.0f} per poll)",
        f"alerts                   {figures.alerts} through /alert in "
        f"{figures.alert_window:.1f} s, {figures.alert_recipients} deliveries",
        f"ballots and alerts       {figures.first_phase_deliveries} deliveries final after "
        f"{figures.deliveries_final_after:.1f} s ({delivery_rate:.0f}/s)",
        f"presses                  {figures.presses} posted in {figures.presses_posted_in:.1f} s, "
        f"all answered after {figures.presses_answered_in:.1f} s ({burst_rate:.0f}/s); "
        f"ballots edited until {figures.edits_settled_in:.1f} s",
        f"votes stored             {figures.votes} (differences from the presses: "
        f"{figures.wrong_votes})",
        "",
        f"ERROR log records        {figures.log_counts['ERROR'] + figures.log_counts['CRITICAL']}"
        f" (warnings: {figures.log_counts['WARNING']})",
        f"failed deliveries        {failed} (failed or unreachable)",
        f"unanswered presses       {figures.unanswered} (refused by the fake: "
        f"{figures.press_failures})",
        f"Bot API errors           {api_errors}",
        f"deliveries final         {final} of {total}: "
        + ", ".join(f"{s} {n}" for s, n in sorted(by_state.items())),
        f"  by kind                {kinds}",
        "",
        f"handler latency /alert   {_spread(figures.alert_latency)}  (getUpdates answer → "
        "confirmation)",
        f"  from posting           {_spread(figures.alert_latency_posted)}",
        f"handler latency presses  {_spread(figures.press_latency)}  (getUpdates answer → "
        "answerCallbackQuery)",
        f"  from pressing          {_spread(figures.press_latency_posted)}  (includes the wait "
        "at Telegram while the bot is busy)",
        "",
        f"RSS after start          {figures.rss_started:.0f} MB",
        f"peak RSS (ru_maxrss)     {figures.peak_rss:.0f} MB  (by phase: {peaks}; at the end "
        f"{figures.rss_end:.0f} MB)",
        f"database size            {figures.database_bytes / 2**20:.1f} MB"
        + (" (file + WAL + shm)" if figures.database == "SQLite" else " (pg_database_size)"),
        f"total time               {figures.total_seconds:.1f} s (bot CPU: {cpu})",
        "Bot API calls            "
        + ", ".join(f"{m} {n}" for m, n in figures.calls.most_common(6)),
    ]
    if figures.log_first:
        lines += ["", "first warnings and errors:", *(f"  {line}" for line in figures.log_first)]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    cpus = os.cpu_count() or 1
    pin = not args.no_pin and cpus >= 2
    bot_pinned = pin and pin_to_cpu(0, BOT_CPU)
    spec = args.database or "sqlite"
    print(
        f"cora-bot load benchmark: {cpus} CPUs, Python {platform.python_version()}, "
        f"{label(spec)}, bot {'pinned to CPU 0' if bot_pinned else 'not pinned'}, fake Bot API "
        f"in its own process{' pinned to CPU 1' if pin else ''}; HTTP client {args.http_client}"
    )
    print(
        "Telegram's limits are off (TELEGRAM_MAX_RATE=0, the fake without flood limits): "
        "the load is on the bot, not on Telegram's 30 messages/s",
        flush=True,
    )
    directory = Path(tempfile.mkdtemp(prefix="cora-load-", dir=args.data_dir))
    try:
        async with FakeTelegram(limits=False, cpu=FAKE_CPU if pin else None) as fake:
            figures = await run_load(args, spec, directory, fake)
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
        "--data-dir", help="where the SQLite file goes, removed afterwards (default: temp dir)"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
