"""A wake-up signal for coroutines that wait until some state satisfies a condition."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Changes:
    """Notified after every change; waiters re-check their condition instead of polling.

    Each notification sets the current event and replaces it, so synchronous code can
    notify without holding a lock, and waiters never miss a change between check and wait.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, check: Callable[[], T | None]) -> T:
        """Return the first non-None result of `check` (bound it with asyncio.timeout)."""
        while True:
            event = self._event
            result = check()
            if result is not None:
                return result
            await event.wait()
