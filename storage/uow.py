"""The unit of work: one transaction per action, the only place that commits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import Select, event
from sqlalchemy import update as sql_update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session

from storage.audit import AuditLog
from storage.db import Database, dialect_insert
from storage.errors import DatabaseBusyError
from storage.models import Delivery
from storage.models.base import Base, YearCounter
from storage.repositories import (
    ChannelRepository,
    DeliveryRepository,
    InviteRepository,
    MemberRepository,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


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


@dataclass(eq=False)
class UnitOfWork:
    """`async with uow:` opens a transaction; `await uow.commit()` makes it and its audit
    events durable together. Leaving the block without commit rolls everything back."""

    database: Database
    clock: Clock
    _: KW_ONLY
    write: bool = True
    on_chained: Callable[[int, str], None] | None = None
    on_commit: Callable[[Effects], None] | None = None
    effects: Effects = field(default_factory=Effects, init=False)
    _locked: bool = field(default=False, init=False)
    _committed: bool = field(default=False, init=False)

    async def __aenter__(self) -> UnitOfWork:
        lock = self.database.write_lock if self.write else None
        if lock is not None:
            await lock.acquire()
            self._locked = True
        self.session = self.database.session(write=self.write)
        self.members = MemberRepository(self.session)
        self.invites = InviteRepository(self.session)
        self.deliveries = DeliveryRepository(self.session)
        self.channels = ChannelRepository(self.session)
        self.audit = AuditLog(self.session)
        if self.write:
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
        return self.database.is_sqlite

    def now(self) -> datetime:
        return self.clock.now()

    async def all(self, statement: Select[T]) -> Sequence[T]:
        """Every row the one-entity `statement` selects."""
        return (await self.session.scalars(statement)).all()

    async def next_number(self, counter: type[YearCounter], year: int) -> int:
        """The year's next running number in `counter` (1 for the first), allocated atomically on
        both databases."""
        insert = dialect_insert(self.is_sqlite)
        statement = (
            insert(counter)
            .values(year=year, value=1)
            .on_conflict_do_update(index_elements=["year"], set_={"value": counter.value + 1})
            .returning(counter.value)
        )
        number: int = (await self.session.execute(statement)).scalar_one()
        return number

    async def commit(self) -> None:
        if not self.write:
            raise RuntimeError("read-only unit of work cannot commit")
        await self.audit.chain_pending(self.clock.now())
        await self.session.commit()
        self._committed = True
        if self.audit.chained is not None and self.on_chained is not None:
            self.on_chained(*self.audit.chained)

    async def __aexit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        try:
            await self.session.rollback()
            await self.session.close()
        finally:
            if self._locked and self.database.write_lock is not None:
                self.database.write_lock.release()
                self._locked = False
        # Once the lock is released: what the committed work asks of the outbox, the live
        # messages and the scheduler (what was recorded after the commit, inside the block,
        # counts too).
        if self._committed and self.on_commit is not None and self.effects:
            self.on_commit(self.effects)
        if isinstance(exc, DBAPIError):
            # Locked or full database, lost connection, a constraint a concurrent change broke:
            # nothing was written, and the user may simply try again.
            log.warning("database unavailable: %s", type(exc.orig).__name__)
            raise DatabaseBusyError() from exc


@dataclass(eq=False)
class UnitOfWorkFactory:
    database: Database
    clock: Clock
    # Set by the composition root: acts on the effects of every committed unit of work.
    on_commit: Callable[[Effects], None] | None = field(default=None, init=False)
    # The newest audit event this process committed: whoever rewrites the chain behind the
    # process's back changes it, which the checkpoint signer notices.
    written_head: tuple[int, str] | None = field(default=None, init=False)

    def __call__(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(
            self.database,
            self.clock,
            write=write,
            on_chained=self._chained,
            on_commit=self.on_commit,
        )

    async def update(self, model: type[Base], row_id: int, **values: object) -> None:
        """Set some columns of one row (by its `id`), in a transaction of its own."""
        async with self() as uow:
            await uow.session.execute(
                sql_update(model).where(model.id == row_id).values(**values)  # type: ignore[attr-defined]
            )
            await uow.commit()

    def _chained(self, seq: int, digest: str) -> None:
        if self.written_head is None or seq > self.written_head[0]:
            self.written_head = (seq, digest)
