"""The unit of work: one transaction per action, the only place that commits."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    ColumnElement,
    Executable,
    Insert,
    Result,
    Select,
    Table,
    bindparam,
    event,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.dml import UpdateBase

from storage.audit import AuditLog
from storage.db import Database, dialect_insert
from storage.errors import DatabaseBusyError
from storage.models import Delivery, Member
from storage.models.base import Base, YearCounter
from storage.repositories import (
    ChannelRepository,
    DeliveryRepository,
    InviteRepository,
    MemberRepository,
)

log = logging.getLogger(__name__)

_DELIVERIES, _MEMBERS = Delivery.__tablename__, Member.__tablename__

T = TypeVar("T")
R = TypeVar("R", bound=Base)  # a mapped row


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
    # A row of `members` was written: whatever a process keeps about members is stale. Acted
    # on at the commit itself (`UnitOfWorkFactory.member_listeners`), before anything else.
    members: bool = False
    # Deliveries the transaction claimed for this process's outbox (an alert's first batch),
    # handed to it directly instead of claimed again; and what the transaction knows they
    # show (an alert's view and text, keyed as the outbox's render cache), so that they are
    # sent without reading it back. `commit` is the process's commit number of this
    # transaction: whatever another unit of work commits later may have changed both.
    claimed: list[object] = field(default_factory=list)
    rendered: dict[Hashable, object] = field(default_factory=dict)
    commit: int = 0

    def touch(self, *keys: Hashable) -> None:
        self.live.update(keys)

    def touch_with(self, key: Hashable, shown: object) -> None:
        self.live.add(key)
        self.known[key] = shown

    def schedule(self, key: str, when: datetime | None) -> None:
        self.due[key] = when

    def __bool__(self) -> bool:
        return (
            self.deliveries
            or bool(self.live)
            or bool(self.due)
            or self.members
            or bool(self.claimed)
        )


@functools.cache
def _next_number(table: Table, is_sqlite: bool) -> Any:
    """`next_number`'s upsert on a counter's table, built once per counter and dialect (a
    Core statement: building and keying it cost more than running it, on every alert)."""
    return (
        dialect_insert(is_sqlite)(table)
        .values(year=bindparam("year"), value=1)
        .on_conflict_do_update(index_elements=["year"], set_={"value": table.c.value + 1})
        .returning(table.c.value)
    )


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
    on_members_changed: Callable[[], None] | None = None
    on_committed: Callable[[], int] | None = None
    # The newest audit event this process committed, if known: the commit chains behind it
    # without reading the head first (`AuditLog.chain_pending` checks that it still is).
    audit_head: Callable[[], tuple[int, str] | None] = lambda: None
    effects: Effects = field(default_factory=Effects, init=False)
    _locked: bool = field(default=False, init=False)
    _committed: bool = field(default=False, init=False)
    _connection: AsyncConnection | None = field(default=None, init=False)

    async def __aenter__(self) -> UnitOfWork:
        lock = self.database.write_lock if self.write else None
        if lock is not None:
            await lock.acquire()
            self._locked = True
        self.session = self.database.session(write=self.write)
        self.members = MemberRepository(self.session)
        self.invites = InviteRepository(self.session)
        self.deliveries = DeliveryRepository(self.session, added=self._deliveries_added)
        self.channels = ChannelRepository(self.session)
        self.audit = AuditLog(self.session, self.audit_head, self.execute)
        if self.write:
            event.listen(self.session.sync_session, "before_flush", self._notice_flush)
            event.listen(self.session.sync_session, "do_orm_execute", self._notice_statement)
        return self

    def _notice_flush(self, session: Session, *_: object) -> None:
        if not self.effects.deliveries:
            self.effects.deliveries = any(isinstance(row, Delivery) for row in session.new)
        if not self.effects.members:
            self.effects.members = any(
                isinstance(row, Member)
                for rows in (session.new, session.dirty, session.deleted)
                for row in rows
            )

    def _deliveries_added(self) -> None:
        self.effects.deliveries = True

    async def execute(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> Result[Any]:
        """A Core statement on the tables (not on ORM entities), run on the transaction's
        connection without the session's ORM execution path (its events, autoflush and the
        connection's lookup on every statement cost more than a small statement itself).
        Nothing pending in the session is flushed first; an `INSERT` into `deliveries` or a
        write of `members` is noticed as through the session."""
        if self._connection is None:
            self._connection = await self.session.connection()
        if isinstance(statement, UpdateBase):
            self._notice_write(statement, is_insert=isinstance(statement, Insert))
        return await self._connection.execute(statement, parameters)

    def _notice_statement(self, state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            self._notice_write(state.statement, is_insert=state.is_insert)

    def _notice_write(self, statement: Executable, *, is_insert: bool) -> None:
        """New deliveries wake the outbox; a changed member drops the kept reads of members."""
        # The target table, or an annotated copy of it for an ORM entity's statement.
        target = getattr(getattr(statement, "table", None), "name", None)
        if target == _DELIVERIES and is_insert:
            self.effects.deliveries = True
        elif target == _MEMBERS:
            self.effects.members = True

    @property
    def is_sqlite(self) -> bool:
        return self.database.is_sqlite

    def now(self) -> datetime:
        return self.clock.now()

    async def all(self, statement: Select[T]) -> Sequence[T]:
        """Every row the one-entity `statement` selects."""
        return (await self.session.scalars(statement)).all()

    async def existing(
        self, model: type[R], row_id: int, missing: Exception, *, for_update: bool = False
    ) -> R:
        """The row `row_id` of `model`, or `missing` raised (the caller's "unknown" error)."""
        row = await self.session.get(model, row_id, with_for_update=for_update)
        if row is None:
            raise missing
        return row

    async def by_ref(self, model: type[R], ref: str, *where: ColumnElement[bool]) -> R | None:
        """The row of `model` with the reference `ref` as a person typed it (case and spaces do
        not matter) that also meets `where`; None when there is none, or `ref` cannot be one."""
        if len(ref) > 64 or not ref.isprintable():  # no reference looks like that (nor NUL)
            return None
        reference = model.__table__.c.ref
        return await self.session.scalar(
            select(model).where(reference == ref.strip().upper(), *where)
        )

    async def next_number(self, counter: type[YearCounter], year: int) -> int:
        """The year's next running number in `counter` (1 for the first), allocated atomically on
        both databases."""
        statement = _next_number(counter.__table__, self.is_sqlite)  # type: ignore[attr-defined]
        number: int = (await self.session.execute(statement, {"year": year})).scalar_one()
        return number

    async def commit(self) -> None:
        if not self.write:
            raise RuntimeError("read-only unit of work cannot commit")
        await self.audit.chain_pending(self.clock.now())
        await self.session.commit()
        self._connection = None  # the session begins anew with its next statement
        self._committed = True
        if self.effects.members and self.on_members_changed is not None:
            self.on_members_changed()  # at once: no stale view of a member outlives the commit
        if self.on_committed is not None:
            self.effects.commit = self.on_committed()
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
    # Called right after each commit that wrote a row of `members` (e.g. the access gate's
    # cache of members forgets them).
    member_listeners: list[Callable[[], None]] = field(default_factory=list, init=False)
    # How many write transactions this process has committed: what a transaction handed to
    # the outbox is still true while no other one has committed since (`unchanged_since`).
    commits: int = field(default=0, init=False)

    def __call__(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(
            self.database,
            self.clock,
            write=write,
            on_chained=self._chained,
            on_commit=self.on_commit,
            on_members_changed=self._members_changed,
            on_committed=self._counted,
            audit_head=self._written_head,
        )

    def _written_head(self) -> tuple[int, str] | None:
        return self.written_head

    def unchanged_since(self, commit: int) -> bool:
        """No other write transaction of this process has committed after commit number
        `commit` (other processes are not seen: see the outbox's hand-over)."""
        return self.commits == commit

    def _counted(self) -> int:
        self.commits += 1
        return self.commits

    async def update(self, model: type[Base], row_id: int, **values: object) -> None:
        """Set some columns of one row (by its `id`), in a transaction of its own."""
        async with self() as uow:
            await uow.session.execute(
                sql_update(model).where(model.id == row_id).values(**values)  # type: ignore[attr-defined]
            )
            await uow.commit()

    def _members_changed(self) -> None:
        for listener in self.member_listeners:
            listener()

    def _chained(self, seq: int, digest: str) -> None:
        if self.written_head is None or seq > self.written_head[0]:
            self.written_head = (seq, digest)
