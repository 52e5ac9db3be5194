"""The bot as `cora-bot run` starts it, in a child process of its own, for benchmarks that
measure the bot alone: its memory (`VmHWM`, `VmRSS`) and CPU are read from /proc, and its log
records (JSON lines) are counted from its output after it stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from bench.fake_telegram import TOKEN, FakeTelegram, process_cpu_seconds
from bot.keys import generate_encryption_key, generate_signing_key
from handlers.transport.request import HttpClient

# After SIGTERM `cora-bot run` stops within its own grace period (6 s); this is the benchmark's.
STOP_SECONDS = 30.0


def bot_environment(
    base_url: str,
    database_url: str,
    directory: Path,
    rate: float,
    http_client: HttpClient = "aiohttp",
) -> dict[str, str]:
    """The settings of `bench.common.bot_settings` as the environment `cora-bot run` reads,
    with JSON log lines (counted afterwards) at WARNING and above."""
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": base_url,
        "DATABASE_URL": database_url,
        "CORA_DATA_DIR": str(directory / "data"),
        "CORA_ENCRYPTION_KEY": generate_encryption_key(),
        "CORA_AUDIT_SIGNING_KEY": generate_signing_key(),
        "TELEGRAM_MAX_RATE": str(rate),
        "TELEGRAM_HTTP_CLIENT": http_client,
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
    }


def _status_kib(pid: int, field: str) -> int:
    """A `VmXxx:` line of /proc/<pid>/status in KiB (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class BotProcess:
    """`python -m bot.cli run` (what `cora-bot run` is) with `environment`, in `directory` (no
    `.env` there), pinned to `cpu` from its first instruction on so that every thread it starts
    stays there; `source`: another checkout's tree to run the bot from (for comparisons with
    older code; its `bot`, `handlers` and `storage` come first on the module path)."""

    def __init__(
        self,
        environment: Mapping[str, str],
        directory: Path,
        *,
        cpu: int | None = None,
        source: Path | None = None,
    ) -> None:
        self.environment = dict(os.environ) | dict(environment)
        if source is not None:
            self.environment["PYTHONPATH"] = str(source.resolve())
        self.directory = directory
        self.cpu = cpu
        self.output = directory / "bot-output.jsonl"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def __aenter__(self) -> BotProcess:
        cpu = self.cpu

        def pin() -> None:  # in the child, before it runs Python
            if cpu is not None and hasattr(os, "sched_setaffinity"):
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(0, {cpu})

        with self._new_output() as output:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=self.directory,
                env=self.environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=pin,
            )
        return self

    def _new_output(self) -> BinaryIO:
        self.directory.mkdir(parents=True, exist_ok=True)
        return open(self.output, "wb")

    async def started(self, fake: FakeTelegram, seconds: float = 120.0) -> None:
        """Wait until the bot polls for updates (its start-up work is done by then)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            assert self._process is not None
            if self._process.returncode is not None:
                raise RuntimeError(f"the bot stopped while starting: {self.tail()}")
            calls = (await fake.stats())["calls"]
            if calls.get("getUpdates"):
                return
            if loop.time() > deadline:
                raise RuntimeError(f"the bot did not start in {seconds:.0f} s: {self.tail()}")
            await asyncio.sleep(0.1)

    def rss_mb(self) -> float:
        return _status_kib(self.pid, "VmRSS") / 1024

    def peak_mb(self) -> float:
        """The high-water mark of the resident set since the start (`VmHWM`)."""
        return _status_kib(self.pid, "VmHWM") / 1024

    def cpu_seconds(self) -> float:
        """User and system CPU of the bot, all its threads, since it started."""
        return process_cpu_seconds(self.pid)

    async def __aexit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def log_records(self) -> tuple[Counter[str], list[str]]:
        """The bot's log records by level, and the first few (its output's JSON lines; any
        other line, e.g. a traceback printed without logging, counts as ERROR)."""
        counts: Counter[str] = Counter()
        first: list[str] = []
        with contextlib.suppress(FileNotFoundError), open(self.output) as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    level, text = str(record["level"]), f"{record['logger']}: {record['message']}"
                except (ValueError, KeyError, TypeError):
                    level, text = "ERROR", f"(not a log record) {line.strip()}"
                counts[level] += 1
                if len(first) < 8:
                    first.append(f"{level} {text[:160]}")
        return counts, first

    def tail(self) -> str:
        try:
            return self.output.read_text()[-2000:]
        except OSError:
            return "(no output)"
