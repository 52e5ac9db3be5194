"""Benchmark: what one start and stop of the bot costs, as the test suite's `cora` fixture does
it hundreds of times in one process (a copy of a migrated SQLite database, the local Bot API).

Run: .venv/bin/python -m bench.start_stop [--starts 30]

Each round builds the bot, starts it (schema check, menus, the runtime's start-up sweeps, long
polling) and stops it; the first start of the process (imports, word lists) is left out. The
baseline, in the same run and against the same local Bot API: a bare python-telegram-bot
Application's initialize, start, polling, stop and shutdown (what any PTB bot pays).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from telegram.ext import ApplicationBuilder

from bot.app import build_application
from bot.config import Settings
from bot.keys import generate_encryption_key
from localapi.server import LocalBotApi
from storage import migrate
from storage.db import Database

TOKEN = "123456789:AAEbenchmarkTokenStartStop_abcdefgh"


async def _bare_ptb(base_url: str) -> tuple[float, float]:
    application = ApplicationBuilder().token(TOKEN).base_url(base_url).build()
    started = time.perf_counter()
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=10)
    stopping = time.perf_counter()
    await application.updater.stop()
    await application.stop()
    await application.shutdown()
    return stopping - started, time.perf_counter() - stopping


async def _cora(base_url: str, directory: Path, template: Path, n: int) -> tuple[float, float]:
    path = directory / f"cora-{n}.db"
    shutil.copy(template, path)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        telegram_base_url=base_url,
        database_url=f"sqlite+aiosqlite:///{path}",
        cora_data_dir=directory / f"data-{n}",
        cora_encryption_key=generate_encryption_key(),  # type: ignore[arg-type]
        telegram_max_rate=0,
    )
    started = time.perf_counter()
    bot = build_application(settings)
    await bot.start()
    stopping = time.perf_counter()
    await bot.stop()
    return stopping - started, time.perf_counter() - stopping


async def main(starts: int) -> None:
    directory = Path(tempfile.mkdtemp(prefix="cora-bench-start-"))
    try:
        template = directory / "template.db"
        database = Database(f"sqlite+aiosqlite:///{template}")
        await migrate.upgrade(database)
        await database.dispose()
        figures: dict[str, list[tuple[float, float]]] = {"cora-bot": [], "bare PTB": []}
        for n in range(starts + 1):  # the first of each is the process's first: left out
            async with LocalBotApi(token=TOKEN, bot_username="cora_bench_bot") as api:
                cora = await _cora(api.base_url, directory, template, n)
                bare = await _bare_ptb(api.base_url)
            if n:
                figures["cora-bot"].append(cora)
                figures["bare PTB"].append(bare)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    medians = {}
    print(f"{starts} starts and stops each (medians, ms)")
    for name, rounds in figures.items():
        start = statistics.median(r[0] for r in rounds) * 1000
        stop = statistics.median(r[1] for r in rounds) * 1000
        medians[name] = start + stop
        print(f"  {name:9s} start {start:6.1f}  stop {stop:5.1f}  together {start + stop:6.1f}")
    print(f"  cora-bot / bare PTB: {medians['cora-bot'] / medians['bare PTB']:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=30)
    asyncio.run(main(parser.parse_args().starts))
