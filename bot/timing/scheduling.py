"""APScheduler for deadlines. The database holds every deadline; jobs here only wake the
services at the right time and are rebuilt from the database at start-up."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

Task = Callable[[], Awaitable[None]]


class Scheduler:
    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._running: set[asyncio.Task[object]] = set()  # the jobs' tasks while they run

    def start(self) -> None:
        self._scheduler.start()

    async def shutdown(self) -> None:
        """Start no job more and let the running ones finish, then stop. APScheduler's own
        shutdown cancels running jobs without waiting for them: a job cut off in the middle of
        a transaction (an escalation) then unwound while the database was closed under it, and
        the stop never ended."""
        if not self._scheduler.running:
            return
        self._scheduler.pause()
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        self._scheduler.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def at(self, key: str, when: datetime, job: Task) -> None:
        """Run `job` at `when`; a time in the past (missed while the bot was down) runs now."""
        self._add(key, DateTrigger(run_date=when), job)

    def every(self, key: str, seconds: float, job: Task) -> None:
        self._add(key, IntervalTrigger(seconds=seconds), job, max_instances=1)

    def _add(self, key: str, trigger: BaseTrigger, job: Task, **options: int) -> None:
        """One job per key (a new one replaces it); missed runs run once, however late."""
        self._scheduler.add_job(
            self._tracked(job),
            trigger,
            id=key,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            **options,
        )

    def _tracked(self, job: Task) -> Task:
        """`job`, its task known while it runs (`shutdown` waits for it)."""

        @functools.wraps(job)
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job()
            finally:
                self._running.discard(task)

        return run

    def cancel(self, key: str) -> None:
        if self._scheduler.get_job(key) is not None:
            self._scheduler.remove_job(key)

    def has(self, key: str) -> bool:
        return self._scheduler.get_job(key) is not None

    def now(self) -> datetime:
        return datetime.now(UTC)
