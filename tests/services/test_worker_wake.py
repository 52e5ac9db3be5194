"""The workers beside the handlers (outbox, live messages): a wake reaches them at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from handlers.transport.worker import Worker


@dataclass(eq=False)
class Counting(Worker):
    task_name = "counting"
    rounds: int = field(default=0, init=False)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self.rounds += 1
            await self._wait(60.0)


async def test_a_wake_runs_the_worker_in_the_event_loops_next_round() -> None:
    """A raise hands its first batch to the outbox and wakes it: the outbox's next round
    starts in the event loop's next round, not after two more rounds of whatever else is
    ready (as waiting in a task of its own, `asyncio.wait_for`, made it)."""
    worker = Counting()
    await worker.start()
    try:
        await asyncio.sleep(0)
        assert worker.rounds == 1  # waiting, with a deadline a minute away
        worker._wake.set()
        await asyncio.sleep(0)
        assert worker.rounds == 2
    finally:
        await worker.stop()
    assert worker.rounds == 2  # the stop's wake ended the loop


async def test_without_a_wake_the_deadline_ends_the_wait() -> None:
    worker = Counting()
    woken = asyncio.Event()

    async def once() -> None:
        await worker._wait(0.01)
        woken.set()

    await asyncio.wait_for(once(), 5)
    assert woken.is_set() and not worker._wake.is_set()
