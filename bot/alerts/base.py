"""What every part of the alert service shares: its dependencies, how an alert is loaded and
shown, who may act on it, and the deadlines of alerts (escalation, drill results)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute

from bot.alerts.model import AlertView, ClientName, EscalationPeriods
from bot.availability import current_absences
from bot.delivery import DeliveryService, Priority
from bot.errors import DomainError
from bot.keys import TextCipher
from bot.membership import MemberView
from bot.network import Network
from bot.snapshots import snapshot
from storage.models import (
    Alert,
    AlertRecipient,
    AlertStatus,
    ApiClient,
    CaseCounter,
    DrillCounter,
    Member,
    RecipientReason,
    Role,
    Urgency,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory

Deadline = InstrumentedAttribute[datetime | None]


@dataclass(eq=False)
class AlertBase:
    uow: UnitOfWorkFactory
    network: Network
    cipher: TextCipher
    periods: EscalationPeriods
    urgent_per_hour: int = field(default=6, kw_only=True)  # 0: no limit
    # The outbox's side of raising: a raise claims its first deliveries for it.
    deliveries: DeliveryService | None = field(default=None, kw_only=True)

    async def view_in(
        self, uow: UnitOfWork, alert: Alert, *, loaded: Iterable[Member | MemberView] = ()
    ) -> AlertView:
        """The view of an alert loaded in this or another service's unit of work; the people
        it names are read unless they are among the members `loaded` in this transaction (as
        rows or as views)."""
        ids = {i for i in (alert.sender_id, alert.taken_by) if i is not None}
        known = [m for m in loaded if m.id in ids]
        missing = ids - {m.id for m in known}
        found = [*known, *(await uow.members.by_ids(missing) if missing else ())]
        people = {m.id: m if isinstance(m, MemberView) else MemberView.of(m) for m in found}
        client = None
        if alert.api_client_id is not None:
            row = await uow.session.get(ApiClient, alert.api_client_id)
            client = ClientName(row.name, row.sector, row.region) if row else None
        return snapshot(
            AlertView,
            alert,
            sender=people.get(alert.sender_id) if alert.sender_id else None,
            client=client,
            sectors=tuple(alert.sectors.split(",")),
            taken_by=people.get(alert.taken_by) if alert.taken_by else None,
        )

    async def _open_alert(self, uow: UnitOfWork, alert_id: int) -> Alert:
        unknown = DomainError("alert.unknown", ref=str(alert_id))
        alert = await uow.existing(Alert, alert_id, unknown, for_update=True)
        if alert.status != AlertStatus.OPEN:
            raise DomainError("alert.closed", ref=alert.ref)
        return alert

    async def _as_recipient(
        self, uow: UnitOfWork, member: Member, alert_id: int
    ) -> tuple[Alert, AlertRecipient]:
        """Only people the alert was sent to may acknowledge it or take it over."""
        recipient = await uow.session.get(AlertRecipient, (alert_id, member.id))
        alert = await uow.session.get(Alert, alert_id)
        if (
            alert is not None
            and not alert.drill
            and recipient is not None
            and await _back_from_absence(uow, member, recipient)
        ):
            # The alert went to their deputy while they were away; back, they answer it in
            # their own name (the digest on their return offers it), and hear what follows.
            recipient.reason = RecipientReason.TARGET
        if alert is None or recipient is None or recipient.reason == RecipientReason.AWAY:
            raise DomainError("alert.not_recipient")
        if alert.status != AlertStatus.OPEN:
            raise DomainError("alert.closed", ref=alert.ref)
        return alert, recipient

    async def _audience(self, uow: UnitOfWork, alert: Alert, *, exclude: int) -> list[int]:
        """Sender and recipients of an alert, who are told about its later course."""
        ids = await uow.session.scalars(
            select(AlertRecipient.member_id).where(
                AlertRecipient.alert_id == alert.id,
                AlertRecipient.reason != RecipientReason.AWAY,
            )
        )
        involved = {*ids} | ({alert.sender_id} if alert.sender_id is not None else set())
        return sorted(involved - {exclude})

    async def _notify(
        self,
        uow: UnitOfWork,
        alert: Alert,
        kind: str,
        member_ids: Iterable[int],
        now: datetime,
        *,
        priority: int | None = None,
        subject_id: int | None = None,
        params: dict[str, int | str | None] | None = None,
    ) -> int:
        """Deliveries that follow an alert (by default as urgent as the alert): they never
        overtake the alert itself."""
        return uow.deliveries.enqueue(
            kind=kind,
            member_ids=member_ids,
            priority=priority_of(alert.urgency) if priority is None else priority,
            now=now,
            alert_id=alert.id,
            subject_id=subject_id,
            params=params,
            first_turn=await uow.deliveries.next_turn(alert.id),
        )

    async def _may_see(self, uow: UnitOfWork, member: Member, alert: Alert) -> bool:
        if alert.sender_id == member.id or coordinates(self.network, member, alert.region):
            return True
        row = await uow.session.get(AlertRecipient, (alert.id, member.id))
        return row is not None and row.reason != RecipientReason.AWAY


def coordinates(network: Network, member: Member, region: str) -> bool:
    """A coordinator of the region, or a statewide one."""
    return member.role == Role.COORDINATOR and member.region in (
        region,
        network.statewide_region,
    )


def alert_changed(uow: UnitOfWork, alert: Alert) -> None:
    """After the commit: refresh the sender's status message and (re)schedule the alert's
    next escalation and, for a drill, its result."""
    uow.effects.touch(("alert", alert.id))
    uow.effects.schedule(f"escalate:{alert.id}", alert.escalate_at)
    if alert.drill:
        uow.effects.schedule(f"drill-result:{alert.id}", alert.result_due_at)


async def next_ref(uow: UnitOfWork, year: int, *, drill: bool = False) -> str:
    """The next case reference of the year (F-2026-0042), or of drills (U-2026-0003: Übung),
    allocated atomically on both databases."""
    value = await uow.next_number(DrillCounter if drill else CaseCounter, year)
    return f"{'U' if drill else 'F'}-{year}-{value:04d}"


def priority_of(urgency: str) -> int:
    return Priority.URGENT if urgency == Urgency.URGENT else Priority.NORMAL


async def due_alerts(
    uow: UnitOfWork, deadline: Deadline, now: datetime, *where: ColumnElement[bool]
) -> Sequence[Alert]:
    """The alerts whose `deadline` has passed, oldest first, locked for this transaction;
    rows another instance holds are skipped rather than waited for."""
    query = (
        select(Alert)
        .where(*where, deadline.is_not(None), deadline <= now)
        .order_by(deadline)
        .with_for_update(skip_locked=True)
    )
    return await uow.all(query)


async def deadlines(
    factory: UnitOfWorkFactory, deadline: Deadline, *where: ColumnElement[bool]
) -> list[tuple[int, datetime]]:
    """The pending deadlines of alerts, to (re)schedule them."""
    async with factory(write=False) as uow:
        rows = await uow.session.execute(
            select(Alert.id, deadline).where(*where, deadline.is_not(None))
        )
        return [(alert_id, at) for alert_id, at in rows.all() if at is not None]


async def _back_from_absence(uow: UnitOfWork, member: Member, recipient: AlertRecipient) -> bool:
    """The alert reached this member's deputy in their place, and they are present again."""
    if recipient.reason != RecipientReason.AWAY or recipient.deputy_id is None:
        return False
    return not await current_absences(uow, [member.id], uow.now())
