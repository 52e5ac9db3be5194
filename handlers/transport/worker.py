"""What the workers beside the handlers share: one task, woken by an event, stopped cleanly."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(eq=False)
class Worker:
    """A loop run as one task: `start` runs `_run` until `stop` asks it to finish and waits
    for the round in flight. `_wake` cuts a wait short."""

    task_name: ClassVar[str]
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _stopping: bool = field(default=False, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    async def _run(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    def wind_down(self) -> None:
        """Start no new round from now on; `stop` then waits for the one in flight."""
        self._stopping = True
        self._wake.set()

    async def stop(self) -> None:
        """Finish the round in flight, then stop."""
        self.wind_down()
        if self._task is not None:
            await self._task
            self._task = None

    async def _wait(self, seconds: float | None) -> None:
        """Sleep until woken or until the timeout (None: until woken). The worker's own task
        waits for the event, under a deadline (`asyncio.timeout`), and runs in the event
        loop's next round after a wake; `asyncio.wait_for` would wait in a task of its own
        and take two rounds more (a raise's first batch would wait for whatever else is
        ready in each)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
