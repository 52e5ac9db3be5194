"""The unit of work: one transaction per action, the only place that commits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Protocol

from sqlalchemy.exc import DBAPIError

from storage.audit import AuditLog
from storage.db import Database
from storage.errors import DatabaseBusyError
from storage.repositories import (
    ChannelRepository,
    DeliveryRepository,
    InviteRepository,
    MemberRepository,
)

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class UnitOfWork:
    """`async with uow:` opens a transaction; `await uow.commit()` makes it and its audit
    events durable together. Leaving the block without commit rolls everything back."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        write: bool = True,
        on_chained: Callable[[int, str], None] | None = None,
    ) -> None:
        self._database = database
        self._clock = clock
        self._write = write
        self._locked = False
        self._on_chained = on_chained

    async def __aenter__(self) -> UnitOfWork:
        lock = self._database.write_lock if self._write else None
        if lock is not None:
            await lock.acquire()
            self._locked = True
        self.session = self._database.session(write=self._write)
        self.members = MemberRepository(self.session)
        self.invites = InviteRepository(self.session)
        self.deliveries = DeliveryRepository(self.session)
        self.channels = ChannelRepository(self.session)
        self.audit = AuditLog(self.session)
        return self

    @property
    def is_sqlite(self) -> bool:
        return self._database.is_sqlite

    def now(self) -> datetime:
        return self._clock.now()

    async def commit(self) -> None:
        if not self._write:
            raise RuntimeError("read-only unit of work cannot commit")
        await self.audit.chain_pending(self._clock.now())
        await self.session.commit()
        if self.audit.chained is not None and self._on_chained is not None:
            self._on_chained(*self.audit.chained)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
            await self.session.close()
        finally:
            if self._locked and self._database.write_lock is not None:
                self._database.write_lock.release()
                self._locked = False
        if isinstance(exc, DBAPIError):
            # Locked or full database, lost connection, a constraint a concurrent change broke:
            # nothing was written, and the user may simply try again.
            log.warning("database unavailable: %s", type(exc.orig).__name__)
            raise DatabaseBusyError() from exc


class UnitOfWorkFactory:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        # The newest audit event this process committed: whoever rewrites the chain behind the
        # process's back changes it, which the checkpoint signer notices.
        self.written_head: tuple[int, str] | None = None

    def __call__(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self.database, self.clock, write=write, on_chained=self._chained)

    def _chained(self, seq: int, digest: str) -> None:
        if self.written_head is None or seq > self.written_head[0]:
            self.written_head = (seq, digest)
