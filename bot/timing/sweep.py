"""The sweep every due time shares: lock what has fallen due, handle it, commit once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select

from storage.uow import UnitOfWork, UnitOfWorkFactory

Row = TypeVar("Row")
Done = TypeVar("Done")


async def sweep_due(
    uow_factory: UnitOfWorkFactory,
    due: Callable[[datetime], Select[Row]],
    handle: Callable[[UnitOfWork, Row, datetime], Awaitable[Done | None]],
) -> list[Done]:
    """Handle every row `due(now)` selects, also what fell due while the bot was down. Rows
    another instance is handling are skipped, not waited for; `handle` returning None leaves
    the row out of the result."""
    done: list[Done] = []
    async with uow_factory() as uow:
        now = uow.now()
        rows = await uow.all(due(now).with_for_update(skip_locked=True))
        for row in rows:
            result = await handle(uow, row, now)
            if result is not None:
                done.append(result)
        if rows:
            await uow.commit()
    return done
