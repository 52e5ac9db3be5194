"""Updates of different people run concurrently; one person's updates run in order; and only
so many are taken from Telegram at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class PerPersonUpdateProcessor(BaseUpdateProcessor):
    """Two button presses of the same person never race; presses of different people never wait
    for each other (up to `max_concurrent_updates`)."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            await coroutine
            return
        key = user.id
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


class UpdateQueue(asyncio.Queue[object]):
    """python-telegram-bot's update queue, with back-pressure.

    PTB starts a task for every update as soon as it is in the queue, so a burst (thousands
    of button presses within seconds) would otherwise be fetched from Telegram, acknowledged,
    and held in memory at once; a crash then would lose every update not yet handled. Here
    the application takes an update only while fewer than `max_in_flight` are being handled
    (`task_done` ends one), and the queue holds `max_in_flight` more: when it is full, long
    polling waits before it confirms the next batch, and a webhook request waits before it is
    answered. The rest stays with Telegram until there is room.
    """

    def __init__(self, max_in_flight: int) -> None:
        super().__init__(maxsize=max_in_flight)
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self._room = asyncio.Event()
        self._room.set()

    async def get(self) -> object:
        while self.in_flight >= self.max_in_flight:
            self._room.clear()
            await self._room.wait()
        update = await super().get()
        self.in_flight += 1
        return update

    def task_done(self) -> None:
        super().task_done()
        # PTB also calls task_done for updates it drops at shutdown (taken with get_nowait).
        self.in_flight = max(0, self.in_flight - 1)
        if self.in_flight < self.max_in_flight:
            self._room.set()
