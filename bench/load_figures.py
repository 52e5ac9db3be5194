"""The figures of `bench.load`: what it counts and samples while it runs, and its report."""

from __future__ import annotations

import asyncio
import math
import resource
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.common import percentile
from storage.models import DeliveryStatus


class Memory:
    """Samples a process's resident set (`rss_mb`) every quarter second, by phase."""

    def __init__(self, rss_mb: Callable[[], float]) -> None:
        self.rss_mb = rss_mb
        self.phase = "start-up"
        self.peaks: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

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


def driver_peak_mb() -> float:
    """This process's (the benchmark driver's) peak resident set."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


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
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # the bot's process
    driver_cpu_seconds: float = math.nan  # the benchmark's own process, the whole run
    driver_peak_rss: float = math.nan


def spread(values: Sequence[float]) -> str:
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
    cpu_per_press = (
        1000 * figures.cpu_seconds.get("press burst", math.nan) / max(figures.presses, 1)
    )
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
        f"handler latency /alert   {spread(figures.alert_latency)}  (getUpdates answer → "
        "confirmation)",
        f"  from posting           {spread(figures.alert_latency_posted)}",
        f"handler latency presses  {spread(figures.press_latency)}  (getUpdates answer → "
        "answerCallbackQuery)",
        f"  from pressing          {spread(figures.press_latency_posted)}  (includes the wait "
        "at Telegram while the bot is busy)",
        "",
        f"bot process: RSS after start {figures.rss_started:.0f} MB",
        f"bot process: peak RSS    {figures.peak_rss:.0f} MB (VmHWM; sampled by phase: {peaks}; "
        f"at the end {figures.rss_end:.0f} MB)",
        f"database size            {figures.database_bytes / 2**20:.1f} MB"
        + (" (file + WAL + shm)" if figures.database == "SQLite" else " (pg_database_size)"),
        f"bot process: CPU         {cpu}; per press {cpu_per_press:.1f} ms",
        f"benchmark driver         CPU {figures.driver_cpu_seconds:.1f} s, peak RSS "
        f"{figures.driver_peak_rss:.0f} MB (its own process, not in the figures above)",
        f"total time               {figures.total_seconds:.1f} s",
        "Bot API calls            "
        + ", ".join(f"{m} {n}" for m, n in figures.calls.most_common(6)),
    ]
    if figures.log_first:
        lines += ["", "first warnings and errors:", *(f"  {line}" for line in figures.log_first)]
    return "\n".join(lines)
