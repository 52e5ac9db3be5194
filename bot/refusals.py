"""Refused HTTP requests (webhook calls without the secret, API calls with a bad signature …):
counted per source and minute and audited as one event each, so that a flood cannot fill the
permanent audit log; and a token bucket per source, after which the source is answered 429."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiolimiter import AsyncLimiter

from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

# Distinct sources counted per endpoint and minute; beyond that (an attacker cycling through
# addresses or key ids) they share one event, so a minute never writes more than this + 1.
MAX_SOURCES_PER_MINUTE = 100
# Token buckets kept in memory; full ones are forgotten first, then the oldest.
MAX_BUCKETS = 10_000
OTHER = "other"


@dataclass(frozen=True)
class Source:
    """Where refused requests come from: the endpoint, the remote address, and for the API
    the key id the request named ("-" when it named none of the form we issue)."""

    endpoint: str  # webhook | api
    address: str
    key_id: str = "-"


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class RefusalLog:
    """Counts refusals in memory and writes them to the audit log with `flush`: one event per
    source and minute, once the minute is over (`everything=True` at shutdown writes the
    current minute too). A flush that fails keeps its counts for the next one."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        burst: int,
        per_minute: float,
        on_refused: Callable[[str, str], None] | None = None,
    ) -> None:
        self._uow = uow
        self._burst = burst
        self._period = burst * 60.0 / per_minute  # aiolimiter: `burst` per this many seconds
        self._on_refused = on_refused
        self._buckets: dict[Source, AsyncLimiter] = {}
        self._counts: dict[tuple[datetime, Source], Counter[str]] = {}
        self._sources: dict[tuple[datetime, str], set[Source]] = {}

    def retry_after(self, source: Source) -> int | None:
        """Seconds the source should wait when its budget of refusals is spent, else None."""
        bucket = self._buckets.get(source)
        if bucket is None or bucket.has_capacity():
            return None
        return max(1, math.ceil(self._period / self._burst))  # the time one token takes

    async def refused(self, source: Source, reason: str) -> None:
        """Count one refusal and take one token from the source's bucket."""
        if self._on_refused is not None:
            self._on_refused(source.endpoint, reason)
        minute = _minute(self._uow.clock.now())
        seen = self._sources.setdefault((minute, source.endpoint), set())
        counted = source
        if source not in seen:
            if len(seen) >= MAX_SOURCES_PER_MINUTE:
                counted = Source(source.endpoint, OTHER, OTHER)
            seen.add(counted)
        self._counts.setdefault((minute, counted), Counter())[reason] += 1
        bucket = self._bucket(source)
        if bucket.has_capacity():
            await bucket.acquire()  # returns at once: there is capacity

    def _bucket(self, source: Source) -> AsyncLimiter:
        bucket = self._buckets.pop(source, None)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                for key, old in list(self._buckets.items()):
                    if old.has_capacity(old.max_rate):
                        del self._buckets[key]
                while len(self._buckets) >= MAX_BUCKETS:
                    del self._buckets[next(iter(self._buckets))]
            bucket = AsyncLimiter(self._burst, self._period)
        self._buckets[source] = bucket  # most recently refused last
        return bucket

    @property
    def pending(self) -> int:
        """Refusals counted but not yet in the audit log."""
        return sum(sum(reasons.values()) for reasons in self._counts.values())

    async def flush(self, *, everything: bool = False) -> int:
        """Write one audit event per source and finished minute (every minute when
        `everything`); returns the number of events written."""
        current = _minute(self._uow.clock.now())
        due = {
            key: reasons for key, reasons in self._counts.items() if everything or key[0] < current
        }
        if not due:
            return 0
        for key in due:
            del self._counts[key]
        for minute, endpoint in [k for k in self._sources if everything or k[0] < current]:
            del self._sources[(minute, endpoint)]
        try:
            async with self._uow() as uow:
                for (minute, source), reasons in sorted(due.items(), key=_order):
                    uow.audit.record(
                        f"{source.endpoint}:unknown",
                        f"{source.endpoint}.refused",
                        source.address,
                        minute=minute.isoformat(timespec="minutes"),
                        count=sum(reasons.values()),
                        reasons=[f"{reason}={n}" for reason, n in sorted(reasons.items())],
                        **({"key": source.key_id} if source.endpoint == "api" else {}),
                    )
                await uow.commit()
        except Exception as error:  # the database is unreachable: try again at the next flush
            for key, reasons in due.items():
                self._counts.setdefault(key, Counter()).update(reasons)
            log.warning(
                "%d refusals not yet audited (%s); kept for the next flush",
                self.pending,
                type(error).__name__,
            )
            return 0
        for (minute, source), reasons in due.items():
            log.warning(
                "refused %d %s requests from %s in the minute from %s",
                sum(reasons.values()),
                source.endpoint,
                source.address,
                minute.isoformat(timespec="minutes"),
            )
        return len(due)


def _order(item: tuple[tuple[datetime, Source], Counter[str]]) -> tuple[datetime, str, str, str]:
    (minute, source), _ = item
    return minute, source.endpoint, source.address, source.key_id
