"""Escalation: alerts nobody acknowledged or took over in time remind their recipients and
bring in the region's coordinators, one period later the state coordination office."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from bot.alerts.base import AlertBase, due_alerts, priority_of
from bot.alerts.model import Escalated, Notice
from storage.audit import SYSTEM
from storage.models import Alert, AlertRecipient, AlertStatus, Member, RecipientReason, Role
from storage.uow import UnitOfWork

_RECEIVING = (RecipientReason.TARGET, RecipientReason.DEPUTY)


class Escalation(AlertBase):
    async def escalate_due(self) -> list[Escalated]:
        """Escalate every open alert whose deadline has passed and that nobody acknowledged
        or took over: first the region's own coordinators (and a reminder to the recipients),
        one period later the state coordination office."""
        escalated: list[Escalated] = []
        async with self.uow() as uow:
            now = uow.now()
            for alert in await due_alerts(
                uow, Alert.escalate_at, now, Alert.status == AlertStatus.OPEN
            ):
                escalated.append(await self._escalate(uow, alert, now))
            await uow.commit()
        return escalated

    async def _escalate(self, uow: UnitOfWork, alert: Alert, now: datetime) -> Escalated:
        rows = await uow.all(select(AlertRecipient).where(AlertRecipient.alert_id == alert.id))
        if alert.taken_by is not None or any(r.acknowledged_at for r in rows):
            alert.escalate_at = None
            return Escalated(alert.id, alert.escalation_level, 0, None)
        if alert.drill:
            # An exercise reminds its own recipients once and never goes beyond them.
            count = await self._remind(uow, alert, rows, now)
            alert.escalation_level, alert.escalate_at = 1, None
            uow.audit.record(
                SYSTEM, "alert.escalated", f"alert:{alert.id}", level=1, notified=0, drill=True
            )
            return Escalated(alert.id, 1, count, None)
        level = alert.escalation_level + 1
        count = 0
        if level == 1:
            count += await self._remind(uow, alert, rows, now)
            coordinators = await uow.members.find(regions=[alert.region], role=Role.COORDINATOR)
            if not coordinators:
                level = 2  # no coordinator in the region: straight to the state level
        if level >= 2:
            coordinators = await self._state_coordinators(uow)
        brought_in = _bring_in(uow, alert, rows, coordinators)
        count += uow.deliveries.enqueue(
            kind=Notice.ESCALATION,
            member_ids=brought_in,
            priority=priority_of(alert.urgency),
            now=now,
            alert_id=alert.id,
            params={"level": level},
        )
        alert.escalation_level = level
        alert.escalate_at = now + self.periods.after(alert.urgency) if level < 2 else None
        uow.audit.record(
            SYSTEM, "alert.escalated", f"alert:{alert.id}", level=level, notified=len(brought_in)
        )
        return Escalated(alert.id, level, count, alert.escalate_at)

    async def _remind(
        self, uow: UnitOfWork, alert: Alert, rows: Sequence[AlertRecipient], now: datetime
    ) -> int:
        reminded = [r.member_id for r in rows if r.reason in _RECEIVING]
        return await self._notify(uow, alert, Notice.REMINDER, reminded, now)

    async def _state_coordinators(self, uow: UnitOfWork) -> Sequence[Member]:
        """The state coordination office: coordinators for the whole state and the
        coordination sector's statewide members."""
        statewide = await uow.members.find(regions=[self.network.statewide_region])
        return [m for m in statewide if m.role == Role.COORDINATOR or m.sector == "coordination"]


def _bring_in(
    uow: UnitOfWork, alert: Alert, rows: Sequence[AlertRecipient], coordinators: Sequence[Member]
) -> list[int]:
    """Add the coordinators the alert did not reach yet as its recipients. Escalation is the
    safety net: absent coordinators are brought in all the same."""
    absent = {r.member_id: r for r in rows if r.reason == RecipientReason.AWAY}
    known = {r.member_id for r in rows if r.reason != RecipientReason.AWAY}
    if alert.sender_id is not None:
        known.add(alert.sender_id)
    brought_in = [c.id for c in coordinators if c.id not in known]
    for member_id in brought_in:
        if member_id in absent:
            absent[member_id].reason = RecipientReason.ESCALATION
        else:
            uow.session.add(
                AlertRecipient(
                    alert_id=alert.id, member_id=member_id, reason=RecipientReason.ESCALATION
                )
            )
    return brought_in
