"""APScheduler for deadlines. The database holds every deadline; jobs here only wake the
services at the right time and are rebuilt from the database at start-up."""

from __future__ import annotations

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

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
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
            job,
            trigger,
            id=key,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            **options,
        )

    def cancel(self, key: str) -> None:
        if self._scheduler.get_job(key) is not None:
            self._scheduler.remove_job(key)

    def has(self, key: str) -> bool:
        return self._scheduler.get_job(key) is not None

    def now(self) -> datetime:
        return datetime.now(UTC)
