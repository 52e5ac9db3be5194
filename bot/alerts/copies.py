"""The recipients' own copies of an alert, with what each recipient did: a press leaves its
trace there (✓ Gesehen 10:42, ✓ Übernommen 10:43), and a closed alert's buttons go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.alerts.base import AlertBase, alert_changed
from bot.alerts.model import Notice
from bot.copies import Copy, sent_copies
from storage.models import Alert, AlertRecipient, AlertStatus
from storage.uow import UnitOfWork

# The deliveries that carry the alert with its buttons: the alert, its reminder, escalation.
COPY_KINDS = (Notice.ALERT, Notice.REMINDER, Notice.ESCALATION)


@dataclass(frozen=True)
class AlertCopy:
    """One recipient's copy, and what that recipient did: seen, or taken over, and when."""

    copy: Copy
    acknowledged_at: datetime | None
    taken_at: datetime | None  # only if this recipient took it over
    closed_at: datetime | None  # the alert's end, for everyone


def copy_changed(uow: UnitOfWork, alert: Alert, member_id: int) -> None:
    """After the commit: the member's own copies show what they did."""
    alert_changed(uow, alert)
    uow.effects.touch(("alert-copy", alert.id, member_id))


def copies_changed(uow: UnitOfWork, alert_id: int) -> None:
    """After the commit: every recipient's copies show the alert's end (a closed alert)."""
    uow.effects.touch(("alert-copies", alert_id))


class Copies(AlertBase):
    async def copies(self, alert_id: int, member_id: int | None = None) -> list[AlertCopy]:
        """The sent copies of an alert (of one member, or of everyone), each with its
        recipient's trace."""
        async with self.uow(write=False) as uow:
            alert = await uow.session.get(Alert, alert_id)
            if alert is None:
                return []
            found = await sent_copies(uow, COPY_KINDS, alert_id=alert_id, member_id=member_id)
            query = select(AlertRecipient.member_id, AlertRecipient.acknowledged_at).where(
                AlertRecipient.alert_id == alert_id
            )
            if member_id is not None:
                query = query.where(AlertRecipient.member_id == member_id)
            seen: dict[int, datetime | None] = {
                member: at for member, at in (await uow.session.execute(query)).all()
            }
            return [
                AlertCopy(
                    copy,
                    seen.get(copy.reader.id),
                    alert.taken_at if alert.taken_by == copy.reader.id else None,
                    alert.closed_at if alert.status == AlertStatus.CLOSED else None,
                )
                for copy in found
            ]
