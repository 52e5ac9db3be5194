"""`cora-bot run` as a process of its own that a test kills and starts again, started from a fork
server that has imported the bot once.

A crash loop starts the bot six times; a fresh interpreter would import python-telegram-bot,
SQLAlchemy and the bot each time (1.5 s on a quiet two-core machine, 5 s on a busy one) before
it does anything the test is about. Here a fork server (multiprocessing's "forkserver"
context, one per pytest worker) imports `bot.cli.main` once, and each start forks it and runs
`main(["run", ...])` with the test's environment: the same command, the same start-up (checks,
migration check, word lists, menus, resuming what was in flight), in a process that SIGKILL
ends as abruptly as any other. Tests about the command line itself (test_process.py,
test_config_and_cli.py) still start `python -m bot.cli` from scratch.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess

_context: ForkServerContext | None = None


def _fork_server() -> ForkServerContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        # Imported once in the server; every start is a fork of it.
        context.set_forkserver_preload(["bot.cli.main", __name__, "tests.bot_process_warm"])
        _context = context
    return _context


def _main(environment: dict[str, str], arguments: list[str]) -> None:
    """In the forked process: the test's environment, no output, then the command."""
    os.environ.clear()
    os.environ.update(environment)
    devnull = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(devnull, descriptor)
    from bot.cli.main import main

    sys.exit(main(arguments))


class BotProcess:
    """A started `cora-bot` command; the asyncio.subprocess.Process methods a test uses."""

    def __init__(self, process: BaseProcess) -> None:
        self._process = process
        assert process.pid is not None
        self.pid: int = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        """The exit code (negative: the signal that ended it), once the process has ended."""
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        sentinel = self._process.sentinel
        loop.add_reader(sentinel, lambda: ended.done() or ended.set_result(None))
        try:
            if self._process.exitcode is None:
                await ended
        finally:
            loop.remove_reader(sentinel)
        self._process.join()
        assert self._process.exitcode is not None
        return self._process.exitcode


async def start_bot(environment: Mapping[str, str], arguments: Sequence[str]) -> BotProcess:
    """`cora-bot <arguments>` with exactly `environment`, its output discarded."""
    process = _fork_server().Process(
        target=_main, args=(dict(environment), list(arguments)), daemon=True
    )
    # Starting connects to the fork server (and starts it the first time): not on the loop.
    await asyncio.to_thread(process.start)
    return BotProcess(process)
