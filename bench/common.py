"""What the benchmarks share: the bot's settings, CPU pinning, command-line options, waiting,
the figures of one fan-out, and the plain python-telegram-bot loops the outbox is compared with."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from bench.fake_telegram import TOKEN, Call, FakeTelegram, pin_to_cpu
from bot.config import Settings
from bot.keys import generate_encryption_key, generate_signing_key
from handlers.transport.request import HttpClient

ALERT_TEXT = "Großlage im Fall Pappel: bitte alle Kräfte informieren und kurz zurückmelden."
PSEUDONYMS = ("Pappel", "Birke", "Eiche", "Linde", "Ulme", "Erle", "Esche", "Weide")
TELEGRAM_RATE = 30.0
# The outbox sends DELIVERY_CONCURRENCY at once (default 8); the plain loop gets the same.
CONCURRENCY: int = Settings.model_fields["delivery_concurrency"].default
BOT_CPU, FAKE_CPU = 0, 1


# --- setting up a run -----------------------------------------------------------------------


def bot_settings(
    base_url: str,
    database_url: str,
    directory: Path,
    rate: float,
    http_client: HttpClient = "aiohttp",
) -> Settings:
    """The bot's settings against a local Bot API at `base_url` (which accepts TOKEN)."""
    return Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        telegram_base_url=base_url,
        database_url=database_url,
        cora_data_dir=directory / "data",
        cora_encryption_key=generate_encryption_key(),
        cora_audit_signing_key=generate_signing_key(),
        telegram_max_rate=rate,
        telegram_http_client=http_client,
        log_level="WARNING",
    )


def machine_options(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --no-pin, which every benchmark that starts the bot takes."""
    parser.add_argument(
        "--data-dir", help="where the SQLite files go, removed afterwards (default: the temp dir)"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")


def pin_bot(no_pin: bool) -> tuple[bool, int | None]:
    """Pin this process (the bot) to BOT_CPU where there are two CPUs and pinning is wanted;
    whether that worked, and the CPU for the fake Bot API (None: do not pin it)."""
    pin = not no_pin and (os.cpu_count() or 1) >= 2
    return pin and pin_to_cpu(0, BOT_CPU), FAKE_CPU if pin else None


def pinning(bot_pinned: bool, fake_cpu: int | None) -> str:
    return (
        f"bot {'pinned to CPU 0' if bot_pinned else 'not pinned'}, fake Bot API "
        f"{'pinned to CPU 1' if fake_cpu is not None else 'not pinned'}"
    )


def quiet_logging(*noisy: str) -> None:
    """Warnings and errors only; nothing from the `noisy` loggers (the benchmark counts what
    they would log, e.g. a traceback for every 429)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in noisy:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def run_benchmark(
    parser: argparse.ArgumentParser,
    benchmark: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
    *noisy: str,
) -> None:
    """The command line with the machine options, quiet logging, and the benchmark."""
    machine_options(parser)
    args = parser.parse_args()
    quiet_logging(*noisy)
    asyncio.run(benchmark(args))


async def until(
    condition: Callable[[], bool | Awaitable[bool]], seconds: float, every: float = 0.01
) -> bool:
    """Wait until `condition()` (plain or awaitable) holds; False after `seconds`. Polling an
    attribute every 10 ms costs the measured process next to nothing."""
    deadline = time.monotonic() + seconds
    while True:
        held = condition()
        if await held if inspect.isawaitable(held) else held:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)


# --- figures --------------------------------------------------------------------------------


def delivered_once(delivered: dict[str, int], chats: Sequence[int]) -> tuple[int, int]:
    """Missing recipients and duplicate messages."""
    counts = [delivered.get(str(chat), 0) for chat in chats]
    return sum(1 for n in counts if n == 0), sum(max(0, n - 1) for n in counts)


def span(calls: Sequence[Call], chats: Sequence[int], started: float) -> tuple[float, float]:
    """Seconds from `started` to the first and the last successful send to one of `chats`."""
    wanted = set(chats)
    times = [
        c.time
        for c in calls
        if c.method == "sendMessage" and c.status == 200 and c.chat_id in wanted
    ]
    if not times:
        return math.nan, math.nan
    return min(times) - started, max(times) - started


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class FanOut:
    """One fan-out: who sent it, how long it took, and what arrived."""

    scenario: str
    sender: str
    database: str
    recipients: int
    seconds: float  # from the raise (or the loop's start) to the last delivery the fake recorded
    first_seconds: float  # ... to the first delivery
    rate_limited: int  # 429s the fake gave during the run
    missing: int  # recipients without the message
    duplicates: int  # messages beyond the first per recipient
    cpu_seconds: float  # this process (the bot and its database threads) over the run
    fake_cpu_seconds: float
    raise_seconds: float | None = None  # storing the alert and its deliveries
    other_requests: int = 0  # status message sent and edited under the same limiter meanwhile
    recorded: Counter[str] = field(default_factory=Counter)  # final states in the database
    errors: Counter[str] = field(default_factory=Counter)  # exceptions the plain loop got

    @classmethod
    def measured(
        cls,
        names: tuple[str, str, str],
        chats: Sequence[int],
        started: float,
        calls: Sequence[Call],
        stats: dict[str, Any],
        cpu: tuple[float, float],
        **extra: Any,
    ) -> FanOut:
        """The figures of a fan-out (scenario, sender, database) to `chats` from `started`, read
        from the fake's call log and statistics; `cpu` is the bot's and the fake's."""
        first, last = span(calls, chats, started)
        missing, duplicates = delivered_once(stats["delivered"], chats)
        return cls(
            *names,
            len(chats),
            last,
            first,
            stats["rate_limited"],
            missing,
            duplicates,
            *cpu,
            **extra,
        )

    @property
    def rate(self) -> float:
        return self.recipients / self.seconds if self.seconds > 0 else math.nan

    @property
    def bound(self) -> float:
        return self.recipients / TELEGRAM_RATE

    @property
    def cpu_ms_per_message(self) -> float:
        return 1000 * self.cpu_seconds / self.recipients


@dataclass(frozen=True)
class Payload:
    """The alert message as the outbox sent it, for the plain loops to send the same."""

    html: str
    markup: InlineKeyboardMarkup | None

    @classmethod
    async def sent_to(cls, fake: FakeTelegram, chat: int) -> Payload:
        [message, *_] = [m for m in await fake.messages(chat) if m["from_bot"]]
        rows = [
            [InlineKeyboardButton(b["text"], callback_data=b["value"]) for b in row]
            for row in message["buttons"]
        ]
        return cls(message["html"], InlineKeyboardMarkup(rows) if rows else None)


# --- the plain python-telegram-bot loops ----------------------------------------------------


async def plain_fan_out(
    scenario: str,
    fake: FakeTelegram,
    recipients: int,
    payload: Payload,
    *,
    limiter: bool,
    pace: float | None = None,
) -> FanOut:
    """What a bot without an outbox would do: `send_message` to every chat, CONCURRENCY at a
    time, with PTB's own AIORateLimiter (default: 30/s overall, no retries) or none; with
    `pace`, the loop many bots start with: one at a time, sleeping `pace` s after each send."""
    chats = await fake.create_users(recipients, "Mitglied")
    bot: ExtBot[int] = ExtBot(
        TOKEN,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=HTTPXRequest(connection_pool_size=32),  # as the bot's ApplicationBuilder
        rate_limiter=AIORateLimiter() if limiter else None,
    )
    errors: Counter[str] = Counter()
    slots = asyncio.Semaphore(1 if pace else CONCURRENCY)  # first come, first served

    async def send(chat: int) -> None:
        async with slots:
            try:
                await bot.send_message(
                    chat, payload.html, parse_mode="HTML", reply_markup=payload.markup
                )
            except TelegramError as error:
                errors[type(error).__name__] += 1
            if pace:
                await asyncio.sleep(pace)

    async with bot:
        await asyncio.sleep(0.5)
        cpu, fake_cpu = time.process_time(), fake.cpu_seconds()
        started = time.monotonic()
        await asyncio.gather(*(send(chat) for chat in chats))
        cpu, fake_cpu = time.process_time() - cpu, fake.cpu_seconds() - fake_cpu
    if pace:
        name = f"plain loop: send, sleep(1/{1 / pace:g})"
    else:
        name = "plain PTB loop" + (" + AIORateLimiter" if limiter else "")
    return FanOut.measured(
        (scenario, name, "–"),
        chats,
        started,
        await fake.calls("sendMessage"),
        await fake.stats(),
        (cpu, fake_cpu),
        errors=errors,
    )
