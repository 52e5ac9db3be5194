"""Urgent case alerts: raising, acknowledging, taking over, follow-ups, closing, escalation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.delivery import Priority
from bot.errors import DomainError
from bot.keys import TextCipher
from bot.membership import MemberView
from bot.network import Network
from bot.personal_data import Finding, find_personal_data
from storage.audit import SYSTEM, member_actor
from storage.models import (
    Alert,
    AlertRecipient,
    AlertStatus,
    ApiClient,
    CaseCounter,
    DeliveryStatus,
    FollowUp,
    Member,
    MemberStatus,
    RecipientReason,
    Role,
    Urgency,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory

MAX_TEXT = 3500  # leaves room for the header within Telegram's 4096 characters
ALL_SECTORS = "all"


class Notice:
    """Delivery kinds of alerts: what a recipient is sent."""

    ALERT = "alert"
    REMINDER = "alert_reminder"  # re-sent to those who did not acknowledge in time
    ESCALATION = "escalation"  # coordinators brought in
    FOLLOW_UP = "followup"
    CLOSED = "closed"
    TAKEN = "taken"


# Deliveries that carry the alert itself and count for "delivered n/N".
ALERT_KINDS = (Notice.ALERT,)


@dataclass(frozen=True)
class EscalationPeriods:
    urgent: timedelta
    normal: timedelta

    def after(self, urgency: str) -> timedelta:
        return self.urgent if urgency == Urgency.URGENT else self.normal


@dataclass(frozen=True)
class ClientName:
    """An agency system as recipients see it: its name, sector and region."""

    name: str
    sector: str
    region: str


@dataclass(frozen=True)
class AlertView:
    """What recipients and senders are shown about an alert (without its text)."""

    id: int
    ref: str
    sender: MemberView | None  # None when an agency system raised it
    client: ClientName | None
    sectors: tuple[str, ...]
    region: str
    urgency: str
    status: str
    created_at: datetime
    taken_by: MemberView | None
    taken_at: datetime | None
    escalation_level: int
    escalate_at: datetime | None
    status_chat_id: int | None
    status_message_id: int | None

    @property
    def is_urgent(self) -> bool:
        return self.urgency == Urgency.URGENT


@dataclass(frozen=True)
class RaisedAlert:
    alert: AlertView
    recipients: int


@dataclass(frozen=True)
class StatusView:
    """The live status the sender sees: delivery counts and who did what."""

    alert: AlertView
    recipients: int
    delivered: int
    pending: int
    unreachable: tuple[MemberView, ...]
    failed: int
    cancelled: int
    acknowledged: tuple[MemberView, ...]


@dataclass(frozen=True)
class Acknowledgement:
    alert: AlertView
    already: bool


@dataclass(frozen=True)
class TakeOver:
    alert: AlertView
    taken: bool  # False: somebody else was first, see alert.taken_by


@dataclass(frozen=True)
class AlertLine:
    """One row of /alerts."""

    alert: AlertView
    mine: bool
    acknowledged_by_me: bool
    acknowledged: int
    recipients: int


@dataclass(frozen=True)
class Escalated:
    alert_id: int
    level: int
    new_deliveries: int
    next_at: datetime | None


def parse_sectors(network: Network, raw: str) -> tuple[str, ...]:
    """`police,youth_welfare` or `all` → sector codes, in the network's order."""
    wanted = {part.strip().lower() for part in raw.split(",") if part.strip()}
    if not wanted:
        raise DomainError("error.unknown_sector", sector=raw, valid=", ".join(network.sectors))
    if ALL_SECTORS in wanted:
        return tuple(network.sectors)
    codes = {network.sector(code).code for code in wanted}
    return tuple(code for code in network.sectors if code in codes)


def check_text(text: str) -> list[Finding]:
    """Refuse empty or over-long texts; return what looks like personal data."""
    stripped = text.strip()
    if not stripped:
        raise DomainError("alert.text_empty")
    if len(stripped) > MAX_TEXT:
        raise DomainError("alert.text_too_long", max=MAX_TEXT, length=len(stripped))
    return find_personal_data(stripped)


def _require_clean(text: str, confirmed: bool) -> str:
    """Blocking findings always refuse; the others only until the sender confirmed them."""
    findings = check_text(text)
    if any(finding.blocking for finding in findings):
        raise DomainError("alert.personal_data_blocking")
    if findings and not confirmed:
        raise DomainError("alert.personal_data_confirm")
    return text.strip()


class AlertService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        network: Network,
        cipher: TextCipher,
        periods: EscalationPeriods,
    ) -> None:
        self._uow = uow
        self._network = network
        self._cipher = cipher
        self._periods = periods

    # -- raising ---------------------------------------------------------------------------

    async def count_recipients(self, sender_id: int, sectors: Sequence[str], region: str) -> int:
        async with self._uow(write=False) as uow:
            return len(await self._recipients(uow, sender_id, sectors, region))

    async def raise_alert(
        self,
        sender_id: int,
        sectors: Sequence[str],
        region: str,
        urgency: str,
        text: str,
        *,
        confirmed: bool = False,
    ) -> RaisedAlert:
        """A member raises an alert in the chat."""
        return await self._raise(sender_id, None, sectors, region, urgency, text, confirmed)

    async def raise_alert_for_client(
        self,
        client_id: int,
        sectors: Sequence[str],
        region: str,
        urgency: str,
        text: str,
        *,
        confirmed: bool = False,
    ) -> RaisedAlert:
        """An agency system raises an alert through the HTTP API."""
        return await self._raise(None, client_id, sectors, region, urgency, text, confirmed)

    async def _raise(
        self,
        sender_id: int | None,
        client_id: int | None,
        sectors: Sequence[str],
        region: str,
        urgency: str,
        text: str,
        confirmed: bool,
    ) -> RaisedAlert:
        """Store the alert, its recipients and one pending delivery each, in one transaction."""
        region = self._network.region(region).code
        sectors = tuple(self._network.sector(code).code for code in sectors)
        if not sectors:
            raise DomainError(
                "error.unknown_sector", sector="", valid=", ".join(self._network.sectors)
            )
        if urgency not in (Urgency.URGENT, Urgency.NORMAL):
            raise DomainError("alert.unknown_urgency")
        clean = _require_clean(text, confirmed)
        async with self._uow() as uow:
            now = uow.now()
            if sender_id is not None:
                actor = member_actor((await _active(uow, sender_id)).id)
            else:
                client = await uow.session.get(ApiClient, client_id)
                if client is None or client.revoked_at is not None:
                    raise DomainError("api.unknown_key", key=str(client_id))
                actor = f"api:{client.id}"
            recipients = await self._recipients(uow, sender_id, sectors, region)
            alert = Alert(
                ref=await _next_ref(uow, now.year),
                sender_id=sender_id,
                api_client_id=client_id,
                sectors=",".join(sectors),
                region=region,
                urgency=urgency,
                text_cipher=self._cipher.encrypt(clean),
                status=AlertStatus.OPEN,
                created_at=now,
                escalation_level=0,
                # Nobody to send to: bring in the coordinators at once rather than lose it.
                escalate_at=now + self._periods.after(urgency) if recipients else now,
            )
            uow.session.add(alert)
            await uow.session.flush()
            uow.session.add_all(
                AlertRecipient(alert_id=alert.id, member_id=m.id, reason=RecipientReason.TARGET)
                for m in recipients
            )
            uow.deliveries.enqueue(
                kind=Notice.ALERT,
                member_ids=[m.id for m in recipients],
                priority=_priority(urgency),
                now=now,
                alert_id=alert.id,
            )
            uow.audit.record(
                actor,
                "alert.raised",
                f"alert:{alert.id}",
                ref=alert.ref,
                sectors=list(sectors),
                region=region,
                urgency=urgency,
                recipients=len(recipients),
            )
            await uow.commit()
            return RaisedAlert(await self._view(uow, alert), len(recipients))

    async def _recipients(
        self, uow: UnitOfWork, sender_id: int | None, sectors: Sequence[str], region: str
    ) -> Sequence[Member]:
        """Active members of the sectors in the region; statewide members cover every region."""
        regions = (
            None
            if region == self._network.statewide_region
            else [
                region,
                self._network.statewide_region,
            ]
        )
        query = select(Member).where(
            Member.status == MemberStatus.ACTIVE,
            Member.sector.in_(list(sectors)),
        )
        if sender_id is not None:
            query = query.where(Member.id != sender_id)
        if regions is not None:
            query = query.where(Member.region.in_(regions))
        return (await uow.session.scalars(query.order_by(Member.id))).all()

    async def set_status_message(self, alert_id: int, chat_id: int, message_id: int) -> None:
        async with self._uow() as uow:
            await uow.session.execute(
                update(Alert)
                .where(Alert.id == alert_id)
                .values(status_chat_id=chat_id, status_message_id=message_id)
            )
            await uow.commit()

    # -- reading ---------------------------------------------------------------------------

    async def view(self, alert_id: int) -> AlertView:
        async with self._uow(write=False) as uow:
            alert = await uow.session.get(Alert, alert_id)
            if alert is None:
                raise DomainError("alert.unknown", ref=str(alert_id))
            return await self._view(uow, alert)

    async def text(self, alert_id: int) -> str | None:
        """The decrypted alert text; None once retention has removed it."""
        async with self._uow(write=False) as uow:
            cipher = await uow.session.scalar(select(Alert.text_cipher).where(Alert.id == alert_id))
        return self._cipher.decrypt(cipher) if cipher else None

    async def follow_up_text(self, follow_up_id: int) -> str | None:
        async with self._uow(write=False) as uow:
            cipher = await uow.session.scalar(
                select(FollowUp.text_cipher).where(FollowUp.id == follow_up_id)
            )
        return self._cipher.decrypt(cipher) if cipher else None

    async def find(self, member_id: int, ref: str) -> int:
        """The id of the alert `ref`, if this member may see it (sender, recipient, coordinator)."""
        async with self._uow(write=False) as uow:
            member = await _active(uow, member_id)
            alert = await uow.session.scalar(select(Alert).where(Alert.ref == ref.strip().upper()))
            if alert is None or not await self._may_see(uow, member, alert):
                raise DomainError("alert.unknown", ref=ref)
            return alert.id

    async def status(self, alert_id: int) -> StatusView:
        async with self._uow(write=False) as uow:
            alert = await uow.session.get(Alert, alert_id)
            if alert is None:
                raise DomainError("alert.unknown", ref=str(alert_id))
            counts = await uow.deliveries.counts_for_alert(alert_id, ALERT_KINDS)
            unreachable_ids = await uow.deliveries.member_ids_with_status(
                alert_id, ALERT_KINDS, DeliveryStatus.UNREACHABLE
            )
            acknowledged_ids = (
                await uow.session.scalars(
                    select(AlertRecipient.member_id)
                    .where(
                        AlertRecipient.alert_id == alert_id,
                        AlertRecipient.acknowledged_at.is_not(None),
                    )
                    .order_by(AlertRecipient.acknowledged_at)
                )
            ).all()
            people = {
                m.id: MemberView.of(m)
                for m in await uow.members.by_ids([*unreachable_ids, *acknowledged_ids])
            }
            return StatusView(
                alert=await self._view(uow, alert),
                recipients=sum(counts.values()),
                delivered=counts.get(DeliveryStatus.SENT, 0),
                pending=counts.get(DeliveryStatus.PENDING, 0)
                + counts.get(DeliveryStatus.SENDING, 0),
                unreachable=tuple(people[i] for i in unreachable_ids),
                failed=counts.get(DeliveryStatus.FAILED, 0),
                cancelled=counts.get(DeliveryStatus.CANCELLED, 0),
                acknowledged=tuple(people[i] for i in acknowledged_ids),
            )

    async def open_alerts(self, member_id: int) -> list[AlertLine]:
        """Open alerts the member sent or received, newest first."""
        async with self._uow(write=False) as uow:
            member = await _active(uow, member_id)
            received = select(AlertRecipient.alert_id).where(AlertRecipient.member_id == member.id)
            alerts = (
                await uow.session.scalars(
                    select(Alert)
                    .where(
                        Alert.status == AlertStatus.OPEN,
                        or_(Alert.sender_id == member.id, Alert.id.in_(received)),
                    )
                    .order_by(Alert.created_at.desc())
                    .limit(50)
                )
            ).all()
            lines = []
            for alert in alerts:
                rows = (
                    await uow.session.scalars(
                        select(AlertRecipient).where(AlertRecipient.alert_id == alert.id)
                    )
                ).all()
                mine = next((r for r in rows if r.member_id == member.id), None)
                lines.append(
                    AlertLine(
                        alert=await self._view(uow, alert),
                        mine=alert.sender_id == member.id,
                        acknowledged_by_me=bool(mine and mine.acknowledged_at),
                        acknowledged=sum(1 for r in rows if r.acknowledged_at),
                        recipients=len(rows),
                    )
                )
            return lines

    async def status_for_client(self, client_id: int, ref: str) -> StatusView:
        """The status of an alert an agency system raised; other alerts do not exist for it."""
        async with self._uow(write=False) as uow:
            alert_id = await uow.session.scalar(
                select(Alert.id).where(
                    Alert.ref == ref.strip().upper(), Alert.api_client_id == client_id
                )
            )
        if alert_id is None:
            raise DomainError("alert.unknown", ref=ref)
        return await self.status(alert_id)

    async def open_alert_ids(self) -> list[int]:
        async with self._uow(write=False) as uow:
            return list(
                await uow.session.scalars(select(Alert.id).where(Alert.status == AlertStatus.OPEN))
            )

    async def deadlines(self) -> list[tuple[int, datetime]]:
        """Open escalation deadlines, to (re)schedule them."""
        async with self._uow(write=False) as uow:
            rows = await uow.session.execute(
                select(Alert.id, Alert.escalate_at).where(
                    Alert.status == AlertStatus.OPEN, Alert.escalate_at.is_not(None)
                )
            )
            return [(alert_id, at) for alert_id, at in rows.all() if at is not None]

    # -- acting on an alert ----------------------------------------------------------------

    async def acknowledge(self, member_id: int, alert_id: int) -> Acknowledgement:
        async with self._uow() as uow:
            now = uow.now()
            member = await _active(uow, member_id)
            alert, recipient = await self._as_recipient(uow, member, alert_id)
            already = recipient.acknowledged_at is not None
            if not already:
                recipient.acknowledged_at = now
                alert.escalate_at = None  # somebody has seen it: no more escalation
                uow.audit.record(member_actor(member.id), "alert.acknowledged", f"alert:{alert.id}")
                await uow.commit()
            return Acknowledgement(await self._view(uow, alert), already)

    async def take_over(self, member_id: int, alert_id: int) -> TakeOver:
        """The first member to take over wins; everyone else is told who it is."""
        async with self._uow() as uow:
            now = uow.now()
            member = await _active(uow, member_id)
            alert, recipient = await self._as_recipient(uow, member, alert_id)
            result = await uow.session.execute(
                update(Alert)
                .where(Alert.id == alert.id, Alert.taken_by.is_(None))
                .values(taken_by=member.id, taken_at=now, escalate_at=None)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                await uow.session.refresh(alert)
                return TakeOver(await self._view(uow, alert), taken=False)
            await uow.session.refresh(alert)
            if recipient.acknowledged_at is None:
                recipient.acknowledged_at = now
            others = await self._audience(uow, alert, exclude=member.id)
            uow.deliveries.enqueue(
                kind=Notice.TAKEN,
                member_ids=others,
                priority=_priority(alert.urgency),
                now=now,
                alert_id=alert.id,
                params={"member": member.id},
            )
            uow.audit.record(member_actor(member.id), "alert.taken_over", f"alert:{alert.id}")
            await uow.commit()
            return TakeOver(await self._view(uow, alert), taken=True)

    async def follow_up(
        self, author_id: int, alert_id: int, text: str, *, confirmed: bool = False
    ) -> int:
        """Send a follow-up to everyone involved in the alert; returns how many get it."""
        clean = _require_clean(text, confirmed)
        async with self._uow() as uow:
            now = uow.now()
            author = await _active(uow, author_id)
            alert = await self._open_alert(uow, alert_id)
            if not await self._may_speak(uow, author, alert):
                raise DomainError("alert.not_yours", ref=alert.ref)
            entry = FollowUp(
                alert_id=alert.id,
                author_id=author.id,
                text_cipher=self._cipher.encrypt(clean),
                created_at=now,
            )
            uow.session.add(entry)
            await uow.session.flush()
            audience = await self._audience(uow, alert, exclude=author.id)
            uow.deliveries.enqueue(
                kind=Notice.FOLLOW_UP,
                member_ids=audience,
                priority=_priority(alert.urgency),
                now=now,
                alert_id=alert.id,
                subject_id=entry.id,
                params={"member": author.id},
            )
            uow.audit.record(
                member_actor(author.id),
                "alert.followed_up",
                f"alert:{alert.id}",
                follow_up=entry.id,
                recipients=len(audience),
            )
            await uow.commit()
            return len(audience)

    async def close(self, member_id: int, alert_id: int) -> AlertView:
        """Close an alert (its sender or a responsible coordinator) and tell everyone involved."""
        async with self._uow() as uow:
            now = uow.now()
            member = await _active(uow, member_id)
            alert = await self._open_alert(uow, alert_id)
            if alert.sender_id != member.id and not self._coordinates(member, alert.region):
                raise DomainError("alert.close_not_allowed", ref=alert.ref)
            alert.status = AlertStatus.CLOSED
            alert.closed_at, alert.closed_by, alert.escalate_at = now, member.id, None
            uow.deliveries.enqueue(
                kind=Notice.CLOSED,
                member_ids=await self._audience(uow, alert, exclude=member.id),
                priority=Priority.NORMAL,
                now=now,
                alert_id=alert.id,
                params={"member": member.id},
            )
            uow.audit.record(member_actor(member.id), "alert.closed", f"alert:{alert.id}")
            await uow.commit()
            return await self._view(uow, alert)

    # -- escalation ------------------------------------------------------------------------

    async def escalate_due(self) -> list[Escalated]:
        """Escalate every open alert whose deadline has passed and that nobody acknowledged
        or took over: first the region's own coordinators (and a reminder to the recipients),
        one period later the state coordination office."""
        escalated: list[Escalated] = []
        async with self._uow() as uow:
            now = uow.now()
            due = (
                await uow.session.scalars(
                    select(Alert)
                    .where(
                        Alert.status == AlertStatus.OPEN,
                        Alert.escalate_at.is_not(None),
                        Alert.escalate_at <= now,
                    )
                    .order_by(Alert.escalate_at)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for alert in due:
                escalated.append(await self._escalate(uow, alert, now))
            await uow.commit()
        return escalated

    async def _escalate(self, uow: UnitOfWork, alert: Alert, now: datetime) -> Escalated:
        rows = (
            await uow.session.scalars(
                select(AlertRecipient).where(AlertRecipient.alert_id == alert.id)
            )
        ).all()
        if alert.taken_by is not None or any(r.acknowledged_at for r in rows):
            alert.escalate_at = None
            return Escalated(alert.id, alert.escalation_level, 0, None)
        level = alert.escalation_level + 1
        count = 0
        if level == 1:
            reminded = [r.member_id for r in rows if r.reason == RecipientReason.TARGET]
            count += uow.deliveries.enqueue(
                kind=Notice.REMINDER,
                member_ids=reminded,
                priority=_priority(alert.urgency),
                now=now,
                alert_id=alert.id,
            )
            coordinators = await uow.members.find(regions=[alert.region], role=Role.COORDINATOR)
            if not coordinators:
                level = 2  # no coordinator in the region: straight to the state level
        if level >= 2:
            coordinators = await self._state_coordinators(uow)
        known = {r.member_id for r in rows} | {alert.sender_id or 0}
        brought_in = [c.id for c in coordinators if c.id not in known]
        uow.session.add_all(
            AlertRecipient(alert_id=alert.id, member_id=m, reason=RecipientReason.ESCALATION)
            for m in brought_in
        )
        count += uow.deliveries.enqueue(
            kind=Notice.ESCALATION,
            member_ids=brought_in,
            priority=_priority(alert.urgency),
            now=now,
            alert_id=alert.id,
            params={"level": level},
        )
        alert.escalation_level = level
        alert.escalate_at = now + self._periods.after(alert.urgency) if level < 2 else None
        uow.audit.record(
            SYSTEM, "alert.escalated", f"alert:{alert.id}", level=level, notified=len(brought_in)
        )
        return Escalated(alert.id, level, count, alert.escalate_at)

    async def _state_coordinators(self, uow: UnitOfWork) -> Sequence[Member]:
        """The state coordination office: coordinators for the whole state and the
        coordination sector's statewide members."""
        statewide = await uow.members.find(regions=[self._network.statewide_region])
        return [m for m in statewide if m.role == Role.COORDINATOR or m.sector == "coordination"]

    # -- helpers ---------------------------------------------------------------------------

    async def _view(self, uow: UnitOfWork, alert: Alert) -> AlertView:
        ids = {i for i in (alert.sender_id, alert.taken_by) if i is not None}
        people = {m.id: MemberView.of(m) for m in await uow.members.by_ids(ids)}
        client = None
        if alert.api_client_id is not None:
            row = await uow.session.get(ApiClient, alert.api_client_id)
            client = ClientName(row.name, row.sector, row.region) if row else None
        return AlertView(
            id=alert.id,
            ref=alert.ref,
            sender=people.get(alert.sender_id) if alert.sender_id else None,
            client=client,
            sectors=tuple(alert.sectors.split(",")),
            region=alert.region,
            urgency=alert.urgency,
            status=alert.status,
            created_at=alert.created_at,
            taken_by=people.get(alert.taken_by) if alert.taken_by else None,
            taken_at=alert.taken_at,
            escalation_level=alert.escalation_level,
            escalate_at=alert.escalate_at,
            status_chat_id=alert.status_chat_id,
            status_message_id=alert.status_message_id,
        )

    async def _open_alert(self, uow: UnitOfWork, alert_id: int) -> Alert:
        alert = await uow.session.get(Alert, alert_id, with_for_update=True)
        if alert is None:
            raise DomainError("alert.unknown", ref=str(alert_id))
        if alert.status != AlertStatus.OPEN:
            raise DomainError("alert.closed", ref=alert.ref)
        return alert

    async def _as_recipient(
        self, uow: UnitOfWork, member: Member, alert_id: int
    ) -> tuple[Alert, AlertRecipient]:
        """Only people the alert was sent to may acknowledge it or take it over."""
        recipient = await uow.session.get(AlertRecipient, (alert_id, member.id))
        alert = await uow.session.get(Alert, alert_id)
        if alert is None or recipient is None:
            raise DomainError("alert.not_recipient")
        if alert.status != AlertStatus.OPEN:
            raise DomainError("alert.closed", ref=alert.ref)
        return alert, recipient

    async def _audience(self, uow: UnitOfWork, alert: Alert, *, exclude: int) -> list[int]:
        """Sender and recipients of an alert, who are told about its later course."""
        ids = await uow.session.scalars(
            select(AlertRecipient.member_id).where(AlertRecipient.alert_id == alert.id)
        )
        involved = {*ids} | ({alert.sender_id} if alert.sender_id is not None else set())
        return sorted(involved - {exclude})

    async def _may_see(self, uow: UnitOfWork, member: Member, alert: Alert) -> bool:
        if alert.sender_id == member.id or self._coordinates(member, alert.region):
            return True
        return await uow.session.get(AlertRecipient, (alert.id, member.id)) is not None

    async def _may_speak(self, uow: UnitOfWork, member: Member, alert: Alert) -> bool:
        return member.id in (alert.sender_id, alert.taken_by) or self._coordinates(
            member, alert.region
        )

    def _coordinates(self, member: Member, region: str) -> bool:
        return member.role == Role.COORDINATOR and member.region in (
            region,
            self._network.statewide_region,
        )


async def _active(uow: UnitOfWork, member_id: int) -> Member:
    member = await uow.members.get(member_id)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise DomainError("access.not_active")
    return member


async def _next_ref(uow: UnitOfWork, year: int) -> str:
    """The next case reference of the year, allocated atomically on both databases."""
    insert = sqlite.insert if uow.is_sqlite else postgresql.insert
    statement = (
        insert(CaseCounter)
        .values(year=year, value=1)
        .on_conflict_do_update(index_elements=["year"], set_={"value": CaseCounter.value + 1})
        .returning(CaseCounter.value)
    )
    value = (await uow.session.execute(statement)).scalar_one()
    return f"F-{year}-{value:04d}"


def _priority(urgency: str) -> int:
    return Priority.URGENT if urgency == Urgency.URGENT else Priority.NORMAL
