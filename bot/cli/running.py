"""`cora-bot run`: check, start, and stop cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable
from typing import TypeVar

from bot.app import build_application
from bot.cli.checks import check_database, check_telegram
from bot.config import Settings
from bot.memory import settle_start_up

log = logging.getLogger("bot.cli")
T = TypeVar("T")


async def _until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """`work`'s result, or None when SIGTERM or Ctrl-C came first (the work is given up)."""
    working = asyncio.ensure_future(work)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if working.done():
        return working.result()  # a failure ends here, with its error
    working.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await working
    return None


async def _checks(settings: Settings) -> bool:
    await check_telegram(settings)
    await check_database(settings)
    return True


async def run(settings: Settings, args: argparse.Namespace) -> None:
    webhook: bool = args.webhook
    if webhook:
        settings.webhook()  # fail early, with the names of what is missing
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Before anything is written (keys, database): a wrong token or an unreachable Telegram
    # or database should cost nothing.
    if not await _until_stopped(_checks(settings), stop):
        log.warning("stopped before the start")
        return
    cora = build_application(settings)
    try:
        started = await _until_stopped(
            _started(cora.start(mode="webhook" if webhook else "polling")), stop
        )
        if started:
            log.debug("start-up settled: %d objects out of the collector's way", settle_start_up())
            await stop.wait()
        else:
            # SIGTERM while starting, e.g. while the Bot API does not answer: give up starting.
            log.warning("stopping before the start was complete")
    finally:
        try:
            # After SIGTERM the bot finishes the deliveries in flight; if the Bot API does not
            # answer, it stops anyway after STOP_GRACE_SECONDS.
            await asyncio.wait_for(cora.stop(), settings.stop_grace_seconds)
        except TimeoutError:
            log.warning(
                "not stopped cleanly within %g s; deliveries in flight are sent again at the "
                "next start",
                settings.stop_grace_seconds,
            )


async def _started(starting: Awaitable[None]) -> bool:
    await starting
    return True
