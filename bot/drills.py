"""Drills: exercise alerts a coordinator sends to test the network, and what they showed —
reach, time to each acknowledgement, and who did not answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.alerts import ALERT_KINDS, AlertService, AlertView, RaisedAlert
from bot.alerts.base import coordinates, deadlines, due_alerts
from bot.alerts.copies import copies_changed
from bot.delivery import Priority
from bot.errors import DomainError
from bot.membership import MemberView
from bot.network import Network
from storage.audit import SYSTEM
from storage.models import (
    Alert,
    AlertRecipient,
    AlertStatus,
    Delivery,
    DeliveryStatus,
    Member,
    MemberStatus,
    RecipientReason,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory

DRILL_RESULT_NOTICE = "drill_result"


@dataclass(frozen=True)
class AckTime:
    member: MemberView
    sector: str | None
    seconds: float  # after the drill was sent


@dataclass(frozen=True)
class SectorReach:
    sector: str
    members: int
    delivered: int
    acknowledged: int
    first_ack_seconds: float | None


@dataclass(frozen=True)
class DrillResult:
    """Reach is delivered / members: everyone the drill was meant for, including absent
    members nobody stood in for (they were not reached)."""

    alert: AlertView
    members: int
    delivered: int
    pending: int
    unreachable: int
    failed: int
    acks: tuple[AckTime, ...]  # in order
    not_answered: tuple[MemberView, ...]  # received it (or should have) and did not acknowledge
    away: tuple[MemberView, ...]  # absent, nobody stood in
    sectors: tuple[SectorReach, ...]

    @property
    def first_ack_seconds(self) -> float | None:
        return self.acks[0].seconds if self.acks else None


@dataclass(eq=False)
class DrillService:
    uow: UnitOfWorkFactory
    network: Network
    alerts: AlertService
    result_after: timedelta

    async def start(
        self, coordinator_id: int, sectors: Sequence[str], region: str, urgency: str
    ) -> RaisedAlert:
        return await self.alerts.raise_drill(
            coordinator_id, sectors, region, urgency, self.result_after
        )

    async def result(self, member_id: int, ref: str) -> DrillResult:
        """The result so far, for the coordinator who ran the drill or one responsible for
        its region."""
        async with self.uow(write=False) as uow:
            member = await uow.members.get(member_id)
            alert = await uow.by_ref(Alert, ref, Alert.drill.is_(True))
            if alert is None or member is None or not self._may_see(member, alert):
                raise DomainError("drill.unknown", ref=ref)
            return await self._result(uow, alert)

    async def result_of(self, alert_id: int) -> DrillResult:
        """The result as it is now (for the result message the outbox sends)."""
        async with self.uow(write=False) as uow:
            alert = await uow.session.get(Alert, alert_id)
            if alert is None or not alert.drill:
                raise DomainError("drill.unknown", ref=str(alert_id))
            return await self._result(uow, alert)

    async def finish_due(self) -> list[int]:
        """Drills whose result is due: close them (without notices to the recipients) and send
        the result to the coordinator who ran them. Returns their ids."""
        async with self.uow() as uow:
            now = uow.now()
            due = await due_alerts(uow, Alert.result_due_at, now, Alert.drill.is_(True))
            for alert in due:
                alert.result_due_at = None
                if alert.status == AlertStatus.OPEN:
                    alert.status, alert.closed_at, alert.escalate_at = AlertStatus.CLOSED, now, None
                uow.deliveries.enqueue(
                    kind=DRILL_RESULT_NOTICE,
                    # Drills are raised by coordinators, never by agency systems.
                    member_ids=[alert.sender_id] if alert.sender_id is not None else [],
                    priority=Priority.NORMAL,
                    now=now,
                    alert_id=alert.id,
                )
                uow.audit.record(SYSTEM, "drill.finished", f"alert:{alert.id}")
                copies_changed(uow, alert.id)  # the recipients' buttons go
            if due:
                await uow.commit()
            return [alert.id for alert in due]

    async def deadlines(self) -> list[tuple[int, datetime]]:
        """Pending drill results, to (re)schedule them."""
        return await deadlines(self.uow, Alert.result_due_at, Alert.drill.is_(True))

    async def _result(self, uow: UnitOfWork, alert: Alert) -> DrillResult:
        rows = await uow.all(
            select(AlertRecipient).where(
                AlertRecipient.alert_id == alert.id,
                AlertRecipient.reason.in_(
                    [RecipientReason.TARGET, RecipientReason.DEPUTY, RecipientReason.AWAY]
                ),
            )
        )
        counted = [r for r in rows if r.reason != RecipientReason.AWAY or r.deputy_id is None]
        statuses = {
            member_id: status
            for member_id, status in (
                await uow.session.execute(
                    select(Delivery.member_id, Delivery.status).where(
                        Delivery.alert_id == alert.id, Delivery.kind.in_(ALERT_KINDS)
                    )
                )
            ).all()
        }
        people = {m.id: m for m in await uow.members.by_ids({r.member_id for r in rows})}
        created = alert.created_at

        def view(member_id: int) -> MemberView:
            return MemberView.of(people[member_id])

        acked = sorted(
            (r for r in counted if r.acknowledged_at is not None),
            key=lambda r: (r.acknowledged_at, r.member_id),
        )
        acks = tuple(
            AckTime(
                view(r.member_id),
                _sector(r, people),
                (r.acknowledged_at - created).total_seconds() if r.acknowledged_at else 0.0,
            )
            for r in acked
        )
        receiving = [r for r in counted if r.reason != RecipientReason.AWAY]
        sectors = []
        for code in alert.sectors.split(","):
            mine = [r for r in counted if _sector(r, people) == code]
            first = min(
                (r.acknowledged_at for r in mine if r.acknowledged_at is not None), default=None
            )
            sectors.append(
                SectorReach(
                    sector=code,
                    members=len(mine),
                    delivered=sum(
                        1 for r in mine if statuses.get(r.member_id) == DeliveryStatus.SENT
                    ),
                    acknowledged=sum(1 for r in mine if r.acknowledged_at is not None),
                    first_ack_seconds=(first - created).total_seconds() if first else None,
                )
            )
        return DrillResult(
            alert=await self.alerts.view_in(uow, alert),
            members=len(counted),
            delivered=sum(1 for s in statuses.values() if s == DeliveryStatus.SENT),
            pending=sum(
                1
                for s in statuses.values()
                if s in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
            ),
            unreachable=sum(1 for s in statuses.values() if s == DeliveryStatus.UNREACHABLE),
            failed=sum(
                1
                for s in statuses.values()
                if s in (DeliveryStatus.FAILED, DeliveryStatus.CANCELLED)
            ),
            acks=acks,
            not_answered=tuple(
                view(r.member_id)
                for r in sorted(receiving, key=lambda r: r.member_id)
                if r.acknowledged_at is None
            ),
            away=tuple(
                view(r.member_id)
                for r in sorted(counted, key=lambda r: r.member_id)
                if r.reason == RecipientReason.AWAY
            ),
            sectors=tuple(sectors),
        )

    def _may_see(self, member: Member, alert: Alert) -> bool:
        if member.status != MemberStatus.ACTIVE:
            return False
        return member.id == alert.sender_id or coordinates(self.network, member, alert.region)


def _sector(row: AlertRecipient, people: dict[int, Member]) -> str | None:
    if row.sector is not None:
        return row.sector
    member = people.get(row.member_id)
    return member.sector if member else None
