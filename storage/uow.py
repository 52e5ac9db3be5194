"""The unit of work: one transaction per action, the only place that commits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session

from storage.audit import AuditLog
from storage.db import Database
from storage.errors import DatabaseBusyError
from storage.models import Delivery
from storage.repositories import (
    ChannelRepository,
    DeliveryRepository,
    InviteRepository,
    MemberRepository,
)

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass
class Effects:
    """What a committed transaction asks of the workers beside the handlers. Services record
    it on the unit of work; one place after the commit acts on it (`UnitOfWorkFactory.on_commit`),
    for chat handlers, the HTTP API and scheduled jobs alike."""

    deliveries: bool = False  # new deliveries: wake the outbox (noticed by itself)
    live: set[Hashable] = field(default_factory=set)  # live messages to refresh
    due: dict[str, datetime | None] = field(default_factory=dict)  # deadlines; None: cancelled
    # What a touched live message is to show, as the transaction knows it (e.g. a vote's
    # ballot): the refresh takes it instead of reading it back.
    known: dict[Hashable, object] = field(default_factory=dict)

    def touch(self, *keys: Hashable) -> None:
        self.live.update(keys)

    def touch_with(self, key: Hashable, shown: object) -> None:
        self.live.add(key)
        self.known[key] = shown

    def schedule(self, key: str, when: datetime | None) -> None:
        self.due[key] = when

    def __bool__(self) -> bool:
        return self.deliveries or bool(self.live) or bool(self.due)


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
        on_commit: Callable[[Effects], None] | None = None,
    ) -> None:
        self._database = database
        self._clock = clock
        self._write = write
        self._locked = False
        self._on_chained = on_chained
        self._on_commit = on_commit
        self._committed = False
        self.effects = Effects()

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
        if self._write:
            event.listen(self.session.sync_session, "before_flush", self._notice_deliveries)
            event.listen(self.session.sync_session, "do_orm_execute", self._notice_inserts)
        return self

    def _notice_deliveries(self, session: Session, *_: object) -> None:
        if not self.effects.deliveries:
            self.effects.deliveries = any(isinstance(row, Delivery) for row in session.new)

    def _notice_inserts(self, state: ORMExecuteState) -> None:
        mapper = state.bind_mapper
        if state.is_insert and mapper is not None and mapper.class_ is Delivery:
            self.effects.deliveries = True

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
        self._committed = True
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
        # Once the lock is released: what the committed work asks of the outbox, the live
        # messages and the scheduler (what was recorded after the commit, inside the block,
        # counts too).
        if self._committed and self._on_commit is not None and self.effects:
            self._on_commit(self.effects)
        if isinstance(exc, DBAPIError):
            # Locked or full database, lost connection, a constraint a concurrent change broke:
            # nothing was written, and the user may simply try again.
            log.warning("database unavailable: %s", type(exc.orig).__name__)
            raise DatabaseBusyError() from exc


class UnitOfWorkFactory:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        # Set by the composition root: acts on the effects of every committed unit of work.
        self.on_commit: Callable[[Effects], None] | None = None
        # The newest audit event this process committed: whoever rewrites the chain behind the
        # process's back changes it, which the checkpoint signer notices.
        self.written_head: tuple[int, str] | None = None

    def __call__(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(
            self.database,
            self.clock,
            write=write,
            on_chained=self._chained,
            on_commit=self.on_commit,
        )

    def _chained(self, seq: int, digest: str) -> None:
        if self.written_head is None or seq > self.written_head[0]:
            self.written_head = (seq, digest)
