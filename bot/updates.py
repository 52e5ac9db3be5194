"""Telegram updates the webhook has taken in: Telegram resends an update when our answer came
late, and a resent copy must not be handled twice — also not by another instance or after a
restart."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from storage.models import HandledUpdate
from storage.uow import UnitOfWorkFactory

# Telegram keeps an undelivered update for 24 hours; a resent copy cannot come later.
KEEP_FOR = timedelta(hours=25)


class HandledUpdates:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def first_time(self, update_id: int) -> bool:
        """Claim an update for this process; False when it was taken in before (by any
        instance). The unique update_id decides a race between instances."""
        async with self._uow() as uow:
            seen = await uow.session.scalar(
                select(HandledUpdate.update_id).where(HandledUpdate.update_id == update_id)
            )
            if seen is not None:
                return False
            uow.session.add(HandledUpdate(update_id=update_id, received_at=uow.now()))
            try:
                await uow.commit()
            except IntegrityError:  # another instance claimed it at the same moment
                return False
            return True

    async def prune(self) -> int:
        """Forget update ids older than Telegram keeps an update."""
        async with self._uow() as uow:
            result = await uow.session.execute(
                delete(HandledUpdate).where(HandledUpdate.received_at < uow.now() - KEEP_FOR)
            )
            await uow.commit()
            return int(getattr(result, "rowcount", 0) or 0)
