"""aiosqlite with one trip to its thread per statement.

SQLAlchemy's aiosqlite adapter creates a cursor, executes, fetches and closes it as four
separate calls into aiosqlite's thread; each is a queue hand-over, a wake-up of the event loop
and a GIL hand-over, which on one core costs more than most statements themselves. Here the
whole statement runs in one call: the thread executes, fetches every row and closes the
cursor, and hands back the rows with the cursor's description, row count and last row id.
Everything else (connections, transactions, errors) is SQLAlchemy's adapter unchanged, except
that a rollback right after a COMMIT or a ROLLBACK (the pool's reset when the connection is
returned) is not sent to the thread: there is no transaction left to roll back; and that a
write transaction's `BEGIN IMMEDIATE` can go in the same trip as its first statement
(`begin_with_next_statement`).
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_


class _Ran:
    """What SQLAlchemy reads from a cursor after a statement, taken in the thread."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, description: Any = None, rowcount: int = -1, lastrowid: Any = None):
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1


def _execute(
    connection: sqlite3.Connection, operation: str, parameters: Any, begin: str | None = None
) -> tuple[_Ran, list[Any]]:
    if begin is not None:
        connection.execute(begin).close()
    cursor = connection.cursor()
    try:
        cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Ran(cursor.description, cursor.rowcount, cursor.lastrowid), rows
    finally:
        cursor.close()


def _executemany(
    connection: sqlite3.Connection,
    operation: str,
    parameters: Sequence[Any],
    begin: str | None = None,
) -> _Ran:
    if begin is not None:
        connection.execute(begin).close()
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, parameters)
        return _Ran(cursor.description, cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statements each take one trip to aiosqlite's thread."""

    __slots__ = ()
    _awaitable_cursor_close = False  # nothing stays open in the thread

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Ran()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        adapted._ended = False
        async with adapted._execute_mutex:
            begin, adapted._begin = adapted._begin, None
            ran, rows = await connection._execute(  # type: ignore[no-untyped-call]
                _execute, connection._conn, operation, parameters, begin
            )
        self._cursor = ran
        self._rows = collections.deque(rows)
        return ran

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        adapted._ended = False
        async with adapted._execute_mutex:
            begin, adapted._begin = adapted._begin, None
            ran = await connection._execute(  # type: ignore[no-untyped-call]
                _executemany, connection._conn, operation, seq_of_parameters, begin
            )
        self._cursor = ran
        self._rows.clear()
        return ran

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """`_ended`: the last thing sent through this connection was a COMMIT or ROLLBACK that
    succeeded, so it holds no transaction and nothing of it is running in the thread.
    SQLAlchemy's pool rolls back every connection it gets back, also right after a commit or
    a rollback of the session's transaction: one more trip to the thread and back per
    transaction, for a write on the way from its commit to whatever waits for it (an alert's
    first sends)."""

    __slots__ = ("_begin", "_ended")
    _cursor_cls = OneTripCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._ended = False
        self._begin: str | None = None

    def begin_with_next_statement(self, begin: str) -> None:
        """Send `begin` in the same trip as the next statement (a transaction that ends
        before any statement sends nothing). For connections used through SQLAlchemy only:
        a server-side cursor still sends it first, but the driver connection itself knows
        nothing of it."""
        self._begin = begin

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and self._begin is not None:
            begin, self._begin = self._begin, None
            self._ended = False
            await_(await_(self._connection.execute(begin)).close())
        return super().cursor(server_side)

    def commit(self) -> None:
        if self._begin is not None:  # nothing was sent: nothing to commit
            self._begin = None
            return
        self._ended = False
        super().commit()
        self._ended = True

    def rollback(self) -> None:
        # Also asked of the driver itself, in case something used it directly since.
        if self._begin is not None or (self._ended and not self._connection.in_transaction):
            self._begin = None
            return
        self._ended = False
        super().rollback()
        self._ended = True


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI shim, handing out connections with `OneTripCursor`s; for
    `create_async_engine(url, module=OneTripDBAPI())`."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        creator = kw.pop("async_creator_fn", None)
        connection = creator(*arg, **kw) if creator else aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's adapter does
        return OneTripConnection(self, await_(connection))
