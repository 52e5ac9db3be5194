"""Urgent case alerts: raising, acknowledging, taking over, follow-ups, closing, escalation;
and drills, which are alerts marked as exercises."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.availability import current_absences, further_region_members
from bot.delivery import Priority
from bot.errors import DomainError, PersonalDataError
from bot.keys import TextCipher, bound
from bot.membership import MemberView
from bot.network import Network
from bot.personal_data import Finding, find_personal_data
from storage.audit import SYSTEM, DetailValue, member_actor
from storage.models import (
    Alert,
    AlertRecipient,
    AlertStatus,
    ApiClient,
    CaseCounter,
    DeliveryStatus,
    DrillCounter,
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
URGENT_WINDOW = timedelta(hours=1)


class Notice:
    """Delivery kinds of alerts: what a recipient is sent."""

    ALERT = "alert"
    REMINDER = "alert_reminder"  # re-sent to those who did not acknowledge in time
    ESCALATION = "escalation"  # coordinators brought in
    FOLLOW_UP = "followup"
    CLOSED = "closed"
    TAKEN = "taken"
    # To the coordinators: a sender reached ALERT_URGENT_PER_HOUR and was refused.
    URGENT_LIMIT = "urgent_limit"


# Deliveries that carry the alert itself and count for "delivered n/N".
ALERT_KINDS = (Notice.ALERT,)


class UrgentLimitReached(DomainError):
    """ALERT_URGENT_PER_HOUR reached: the polite refusal, and whose limit it was."""

    def __init__(
        self, limit: int, wait_seconds: int, *, member_id: int | None, client_id: int | None
    ) -> None:
        super().__init__(
            "alert.urgent_limit",
            limit=limit,
            count=math.ceil(wait_seconds / 60),  # minutes until the next urgent alert
            retry_after=wait_seconds,
        )
        self.limit = limit
        self.member_id = member_id
        self.client_id = client_id


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
    drill: bool = False
    result_due_at: datetime | None = None
    client: ClientName | None = None

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
    # (deputy, absent member): who received the alert in whose place.
    deputies: tuple[tuple[MemberView, MemberView], ...] = ()
    away: tuple[MemberView, ...] = ()  # absent, and nobody stands in


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
class Resolution:
    """Who an alert goes to: the matching members who are present, and for those who are away
    their deputy, if the deputy can stand in (active, present, same sector, not the sender)."""

    targets: list[Member]
    deputies: list[Member]  # standing in, and not targets themselves
    standing_in: dict[int, list[int]]  # deputy id -> the absent members they stand in for
    away: list[tuple[Member, int | None]]  # absent members and their deputy (None: nobody)

    @property
    def receivers(self) -> int:
        return len(self.targets) + len(self.deputies)


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


def check_text(text: str, places: Collection[str] = ()) -> list[Finding]:
    """Refuse empty or over-long texts; return what looks like personal data. `places` are the
    network's place names (`Network.place_names`)."""
    stripped = text.strip()
    if not stripped:
        raise DomainError("alert.text_empty")
    if len(stripped) > MAX_TEXT:
        raise DomainError("alert.text_too_long", max=MAX_TEXT, length=len(stripped))
    return find_personal_data(stripped, places)


def alert_changed(uow: UnitOfWork, alert: Alert) -> None:
    """After the commit: refresh the sender's status message and (re)schedule the alert's
    next escalation and, for a drill, its result."""
    uow.effects.touch(("alert", alert.id))
    uow.effects.schedule(f"escalate:{alert.id}", alert.escalate_at)
    if alert.drill:
        uow.effects.schedule(f"drill-result:{alert.id}", alert.result_due_at)


def _require_clean(text: str, confirmed: bool, places: Collection[str]) -> str:
    """Blocking findings always refuse; the others only until the sender confirmed them."""
    findings = check_text(text, places)
    if any(finding.blocking for finding in findings):
        raise PersonalDataError("alert.personal_data_blocking", findings)
    if findings and not confirmed:
        raise PersonalDataError("alert.personal_data_confirm", findings)
    return text.strip()


class AlertService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        network: Network,
        cipher: TextCipher,
        periods: EscalationPeriods,
        *,
        urgent_per_hour: int = 6,
    ) -> None:
        self._uow = uow
        self._network = network
        self._cipher = cipher
        self._periods = periods
        self._urgent_per_hour = urgent_per_hour  # 0: no limit

    # -- raising ---------------------------------------------------------------------------

    async def count_recipients(self, sender_id: int, sectors: Sequence[str], region: str) -> int:
        async with self._uow(write=False) as uow:
            return (await self._resolve(uow, sender_id, sectors, region, uow.now())).receivers

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
        """Store the alert, its recipients and one pending delivery each, in one transaction."""
        region, sectors = self._target(sectors, region, urgency)
        clean = _require_clean(text, confirmed, self._network.place_names)
        try:
            async with self._uow() as uow:
                sender = await _active(uow, sender_id)
                if urgency == Urgency.URGENT:
                    await self._within_urgent_limit(uow, sender=sender)
                raised = await self._raise(uow, sender, sectors, region, urgency, clean, drill=None)
                await uow.commit()
                return raised
        except UrgentLimitReached as refused:
            await self.report_urgent_limit(refused)
            raise

    async def raise_alert_for_client(
        self,
        uow: UnitOfWork,
        client_id: int,
        sectors: Sequence[str],
        region: str,
        urgency: str,
        text: str,
        *,
        confirmed: bool = False,
    ) -> RaisedAlert:
        """An agency system raises an alert through the HTTP API, inside the caller's unit of
        work (which also keeps the request's Idempotency-Key). A key reaches only its own
        region; a statewide key reaches every region."""
        region, sectors = self._target(sectors, region, urgency)
        clean = _require_clean(text, confirmed, self._network.place_names)
        # Locked: concurrent requests of one key are counted one after the other.
        client = await uow.session.get(ApiClient, client_id, with_for_update=True)
        if client is None or client.revoked_at is not None:
            raise DomainError("api.unknown_key", key=str(client_id))
        if not self._network.covers(client.region, region):
            raise DomainError("error.outside_scope", region=region, allowed=client.region)
        if urgency == Urgency.URGENT:
            await self._within_urgent_limit(uow, client=client)
        return await self._raise(
            uow,
            None,
            sectors,
            region,
            urgency,
            clean,
            drill=None,
            client_id=client.id,
        )

    async def raise_drill(
        self,
        coordinator_id: int,
        sectors: Sequence[str],
        region: str,
        urgency: str,
        result_after: timedelta,
    ) -> RaisedAlert:
        """An exercise alert from a coordinator of the region (or a statewide one): recipients
        are resolved and acknowledge as for a real alert; the result is due after
        `result_after`."""
        region, sectors = self._target(sectors, region, urgency)
        async with self._uow() as uow:
            coordinator = await _active(uow, coordinator_id)
            if coordinator.role != Role.COORDINATOR:
                raise DomainError("error.coordinators_only")
            if not self._coordinates(coordinator, region):
                raise DomainError("error.outside_scope", region=region)
            raised = await self._raise(
                uow, coordinator, sectors, region, urgency, None, drill=result_after
            )
            await uow.commit()
            return raised

    async def client_name(self, client_id: int) -> ClientName | None:
        async with self._uow(write=False) as uow:
            row = await uow.session.get(ApiClient, client_id)
            return ClientName(row.name, row.sector, row.region) if row else None

    async def _within_urgent_limit(
        self, uow: UnitOfWork, *, sender: Member | None = None, client: ApiClient | None = None
    ) -> None:
        """Refuse a sender's urgent alert beyond ALERT_URGENT_PER_HOUR in the sliding hour, so
        that one member (or one agency system) cannot flood the urgent queue. Nothing is
        written here: the caller's transaction (with anything it holds, like an API request's
        Idempotency-Key) rolls back, and `report_urgent_limit` records the refusal afterwards.
        Drills never count: coordinators run them, and they are marked as exercises."""
        if not self._urgent_per_hour:
            return
        now = uow.now()
        column = Alert.sender_id if sender is not None else Alert.api_client_id
        subject = sender if sender is not None else client
        assert subject is not None
        if sender is not None:
            await uow.members.get(sender.id, for_update=True)  # one count at a time per sender
        recent = (
            await uow.session.scalars(
                select(Alert.created_at)
                .where(
                    column == subject.id,
                    Alert.created_at > now - URGENT_WINDOW,
                    Alert.urgency == Urgency.URGENT,
                    Alert.drill.is_(False),
                )
                .order_by(Alert.created_at)
            )
        ).all()
        if len(recent) < self._urgent_per_hour:
            return
        # The oldest of the last `limit` urgent alerts leaves the window first.
        again_at = recent[len(recent) - self._urgent_per_hour] + URGENT_WINDOW
        wait = max(1, math.ceil((again_at - now).total_seconds()))
        raise UrgentLimitReached(
            self._urgent_per_hour,
            wait,
            member_id=sender.id if sender is not None else None,
            client_id=client.id if client is not None else None,
        )

    async def report_urgent_limit(self, refused: UrgentLimitReached) -> None:
        """Audit a refusal of the urgent limit; the coordinators of the sender's region hear of
        it once an hour."""
        async with self._uow() as uow:
            now = uow.now()
            subject: Member | ApiClient | None
            if refused.member_id is not None:
                subject = await uow.members.get(refused.member_id, for_update=True)
                actor = member_actor(refused.member_id)
            else:
                subject = await uow.session.get(ApiClient, refused.client_id, with_for_update=True)
                actor = f"api:{refused.client_id}"
            if subject is None:
                return
            uow.audit.record(actor, "alert.urgent_limited", actor, limit=refused.limit)
            noticed = subject.urgent_limit_noticed_at
            if subject.region is not None and (noticed is None or noticed <= now - URGENT_WINDOW):
                subject.urgent_limit_noticed_at = now
                coordinators = await uow.members.coordinators_for(
                    subject.region, self._network.statewide_region
                )
                params: dict[str, int | str | None] = {"limit": refused.limit}
                if refused.member_id is not None:
                    params["member"] = refused.member_id
                else:
                    params["client"] = refused.client_id
                uow.deliveries.enqueue(
                    kind=Notice.URGENT_LIMIT,
                    member_ids=[c.id for c in coordinators if c.id != refused.member_id],
                    # Urgent: it must not wait behind the very alerts it is about.
                    priority=Priority.URGENT,
                    now=now,
                    params=params,
                )
            await uow.commit()

    def _target(
        self, sectors: Sequence[str], region: str, urgency: str
    ) -> tuple[str, tuple[str, ...]]:
        region = self._network.region(region).code
        codes = tuple(self._network.sector(code).code for code in sectors)
        if not codes:
            raise DomainError(
                "error.unknown_sector", sector="", valid=", ".join(self._network.sectors)
            )
        if urgency not in (Urgency.URGENT, Urgency.NORMAL):
            raise DomainError("alert.unknown_urgency")
        return region, codes

    async def _raise(
        self,
        uow: UnitOfWork,
        sender: Member | None,
        sectors: tuple[str, ...],
        region: str,
        urgency: str,
        text: str | None,
        *,
        drill: timedelta | None,
        client_id: int | None = None,
    ) -> RaisedAlert:
        """The sender is a member, or (`client_id`) an agency system of the HTTP API."""
        now = uow.now()
        sender_id = sender.id if sender is not None else None
        resolved = await self._resolve(uow, sender_id, sectors, region, now)
        if drill is not None:
            # A drill nobody can receive shows a gap; it never brings in anyone outside it.
            escalate_at = now + self._periods.after(urgency) if resolved.receivers else None
        else:
            # Nobody to send to: bring in the coordinators at once rather than lose it.
            escalate_at = now + self._periods.after(urgency) if resolved.receivers else now
        alert = Alert(
            ref=await _next_ref(uow, now.year, drill=drill is not None),
            sender_id=sender_id,
            api_client_id=client_id,
            sectors=",".join(sectors),
            region=region,
            urgency=urgency,
            status=AlertStatus.OPEN,
            created_at=now,
            escalation_level=0,
            escalate_at=escalate_at,
            drill=drill is not None,
            result_due_at=now + drill if drill is not None else None,
        )
        uow.session.add(alert)
        await uow.session.flush()
        alert_changed(uow, alert)
        if text is not None:
            # The ciphertext is bound to the row's id, known only now that the row is inserted;
            # the text goes in with an UPDATE in the same transaction, never visible without it.
            alert.text_cipher = self._cipher.encrypt(text, bound(Alert.text_cipher, alert.id))
        rows = [
            AlertRecipient(
                alert_id=alert.id, member_id=m.id, reason=RecipientReason.TARGET, sector=m.sector
            )
            for m in resolved.targets
        ]
        rows += [
            AlertRecipient(
                alert_id=alert.id, member_id=m.id, reason=RecipientReason.DEPUTY, sector=m.sector
            )
            for m in resolved.deputies
        ]
        rows += [
            AlertRecipient(
                alert_id=alert.id,
                member_id=m.id,
                reason=RecipientReason.AWAY,
                sector=m.sector,
                deputy_id=deputy_id,
            )
            for m, deputy_id in resolved.away
        ]
        uow.session.add_all(rows)
        priority = _priority(urgency)
        uow.deliveries.enqueue(
            kind=Notice.ALERT,
            member_ids=[m.id for m in resolved.targets if m.id not in resolved.standing_in],
            priority=priority,
            now=now,
            alert_id=alert.id,
        )
        for deputy_id, absent in resolved.standing_in.items():
            # The deputy's copy names whom they stand in for.
            uow.deliveries.enqueue(
                kind=Notice.ALERT,
                member_ids=[deputy_id],
                priority=priority,
                now=now,
                alert_id=alert.id,
                params={"deputy_for": ",".join(str(i) for i in absent)},
            )
        details: dict[str, DetailValue] = {
            "ref": alert.ref,
            "sectors": list(sectors),
            "region": region,
            "urgency": urgency,
            "recipients": resolved.receivers,
        }
        if resolved.away:
            details["away"] = len(resolved.away)
            details["deputies"] = len(resolved.standing_in)
        if drill is not None:
            details["drill"] = True
        actor = member_actor(sender.id) if sender is not None else f"api:{client_id}"
        uow.audit.record(actor, "alert.raised", f"alert:{alert.id}", **details)
        return RaisedAlert(await self._view(uow, alert), resolved.receivers)

    async def _resolve(
        self,
        uow: UnitOfWork,
        sender_id: int | None,
        sectors: Sequence[str],
        region: str,
        now: datetime,
    ) -> Resolution:
        """Active members of the sectors in the region (their own, or a further one a coordinator
        confirmed); statewide members cover every region. Absent members are replaced by their
        deputy; there are no chains: a deputy who is away themselves stands in for nobody."""
        query = select(Member).where(
            Member.status == MemberStatus.ACTIVE,
            Member.sector.in_(list(sectors)),
        )
        if sender_id is not None:
            query = query.where(Member.id != sender_id)
        if region != self._network.statewide_region:
            regions = [region, self._network.statewide_region]
            query = query.where(
                or_(Member.region.in_(regions), Member.id.in_(further_region_members(regions)))
            )
        matched = (await uow.session.scalars(query.order_by(Member.id))).all()
        absences = await current_absences(uow, [m.id for m in matched], now)
        deputy_ids = {a.deputy_id for a in absences.values() if a.deputy_id is not None}
        deputies = {m.id: m for m in await uow.members.by_ids(deputy_ids)}
        deputies_away = await current_absences(uow, deputy_ids, now)
        targets = [m for m in matched if m.id not in absences]
        standing_in: dict[int, list[int]] = {}
        away: list[tuple[Member, int | None]] = []
        for member in matched:
            absence = absences.get(member.id)
            if absence is None:
                continue
            deputy = deputies.get(absence.deputy_id) if absence.deputy_id is not None else None
            usable = (
                deputy is not None
                and deputy.status == MemberStatus.ACTIVE
                and deputy.id != sender_id
                and deputy.sector == member.sector
                and deputy.id not in deputies_away
            )
            if deputy is not None and usable:
                standing_in.setdefault(deputy.id, []).append(member.id)
                away.append((member, deputy.id))
            else:
                away.append((member, None))
        target_ids = {m.id for m in targets}
        extra = [deputies[i] for i in sorted(standing_in) if i not in target_ids]
        return Resolution(targets, extra, standing_in, away)

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
        return self._cipher.decrypt(cipher, bound(Alert.text_cipher, alert_id)) if cipher else None

    async def follow_up_text(self, follow_up_id: int) -> str | None:
        async with self._uow(write=False) as uow:
            cipher = await uow.session.scalar(
                select(FollowUp.text_cipher).where(FollowUp.id == follow_up_id)
            )
        if not cipher:
            return None
        return self._cipher.decrypt(cipher, bound(FollowUp.text_cipher, follow_up_id))

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
            absent = (
                await uow.session.execute(
                    select(AlertRecipient.member_id, AlertRecipient.deputy_id)
                    .where(
                        AlertRecipient.alert_id == alert_id,
                        AlertRecipient.reason == RecipientReason.AWAY,
                    )
                    .order_by(AlertRecipient.member_id)
                )
            ).all()
            people = {
                m.id: MemberView.of(m)
                for m in await uow.members.by_ids(
                    [
                        *unreachable_ids,
                        *acknowledged_ids,
                        *(member_id for member_id, _ in absent),
                        *(deputy_id for _, deputy_id in absent if deputy_id is not None),
                    ]
                )
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
                deputies=tuple(
                    (people[deputy_id], people[member_id])
                    for member_id, deputy_id in absent
                    if deputy_id is not None
                ),
                away=tuple(
                    people[member_id] for member_id, deputy_id in absent if deputy_id is None
                ),
            )

    async def open_alerts(self, member_id: int) -> list[AlertLine]:
        """Open alerts the member sent or received, newest first."""
        async with self._uow(write=False) as uow:
            member = await _active(uow, member_id)
            received = select(AlertRecipient.alert_id).where(
                AlertRecipient.member_id == member.id,
                AlertRecipient.reason != RecipientReason.AWAY,
            )
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
                        select(AlertRecipient).where(
                            AlertRecipient.alert_id == alert.id,
                            AlertRecipient.reason != RecipientReason.AWAY,
                        )
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
        if len(ref) > 64 or not ref.isprintable():  # no reference looks like that (nor NUL)
            raise DomainError("alert.unknown", ref=ref[:64])
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
                alert_changed(uow, alert)
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
                first_turn=await uow.deliveries.next_turn(alert.id),
            )
            uow.audit.record(member_actor(member.id), "alert.taken_over", f"alert:{alert.id}")
            await uow.commit()
            alert_changed(uow, alert)
            return TakeOver(await self._view(uow, alert), taken=True)

    async def follow_up(
        self, author_id: int, alert_id: int, text: str, *, confirmed: bool = False
    ) -> int:
        """Send a follow-up to everyone involved in the alert; returns how many get it."""
        clean = _require_clean(text, confirmed, self._network.place_names)
        async with self._uow() as uow:
            now = uow.now()
            author = await _active(uow, author_id)
            alert = await self._open_alert(uow, alert_id)
            if not await self._may_speak(uow, author, alert):
                raise DomainError("alert.not_yours", ref=alert.ref)
            entry = FollowUp(alert_id=alert.id, author_id=author.id, created_at=now)
            uow.session.add(entry)
            await uow.session.flush()  # the id binds the ciphertext (see _raise)
            entry.text_cipher = self._cipher.encrypt(clean, bound(FollowUp.text_cipher, entry.id))
            audience = await self._audience(uow, alert, exclude=author.id)
            uow.deliveries.enqueue(
                kind=Notice.FOLLOW_UP,
                member_ids=audience,
                priority=_priority(alert.urgency),
                now=now,
                alert_id=alert.id,
                subject_id=entry.id,
                params={"member": author.id},
                first_turn=await uow.deliveries.next_turn(alert.id),
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
            alert = await uow.session.get(Alert, alert_id, with_for_update=True)
            # Whoever may not see the alert learns nothing of it, not even its reference.
            if alert is None or not await self._may_see(uow, member, alert):
                raise DomainError("alert.unknown", ref=str(alert_id))
            if alert.sender_id != member.id and not self._coordinates(member, alert.region):
                raise DomainError("alert.close_not_allowed", ref=alert.ref)
            if alert.status != AlertStatus.OPEN:
                raise DomainError("alert.closed", ref=alert.ref)
            alert.status = AlertStatus.CLOSED
            alert.closed_at, alert.closed_by, alert.escalate_at = now, member.id, None
            uow.deliveries.enqueue(
                kind=Notice.CLOSED,
                member_ids=await self._audience(uow, alert, exclude=member.id),
                priority=Priority.NORMAL,
                now=now,
                alert_id=alert.id,
                params={"member": member.id},
                first_turn=await uow.deliveries.next_turn(alert.id),
            )
            uow.audit.record(member_actor(member.id), "alert.closed", f"alert:{alert.id}")
            await uow.commit()
            alert_changed(uow, alert)
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
        receiving = (RecipientReason.TARGET, RecipientReason.DEPUTY)
        if alert.drill:
            # An exercise reminds its own recipients once and never goes beyond them.
            count = uow.deliveries.enqueue(
                kind=Notice.REMINDER,
                member_ids=[r.member_id for r in rows if r.reason in receiving],
                priority=_priority(alert.urgency),
                now=now,
                alert_id=alert.id,
                first_turn=await uow.deliveries.next_turn(alert.id),
            )
            alert.escalation_level, alert.escalate_at = 1, None
            uow.audit.record(
                SYSTEM, "alert.escalated", f"alert:{alert.id}", level=1, notified=0, drill=True
            )
            return Escalated(alert.id, 1, count, None)
        level = alert.escalation_level + 1
        count = 0
        if level == 1:
            reminded = [r.member_id for r in rows if r.reason in receiving]
            count += uow.deliveries.enqueue(
                kind=Notice.REMINDER,
                member_ids=reminded,
                priority=_priority(alert.urgency),
                now=now,
                alert_id=alert.id,
                first_turn=await uow.deliveries.next_turn(alert.id),
            )
            coordinators = await uow.members.find(regions=[alert.region], role=Role.COORDINATOR)
            if not coordinators:
                level = 2  # no coordinator in the region: straight to the state level
        if level >= 2:
            coordinators = await self._state_coordinators(uow)
        # Escalation is the safety net: absent coordinators are brought in all the same.
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

    async def view_in(self, uow: UnitOfWork, alert: Alert) -> AlertView:
        """The view of an alert loaded in another service's unit of work."""
        return await self._view(uow, alert)

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
            drill=alert.drill,
            result_due_at=alert.result_due_at,
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

    async def _may_see(self, uow: UnitOfWork, member: Member, alert: Alert) -> bool:
        if alert.sender_id == member.id or self._coordinates(member, alert.region):
            return True
        row = await uow.session.get(AlertRecipient, (alert.id, member.id))
        return row is not None and row.reason != RecipientReason.AWAY

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


async def _next_ref(uow: UnitOfWork, year: int, *, drill: bool = False) -> str:
    """The next case reference of the year (F-2026-0042), or of drills (U-2026-0003: Übung),
    allocated atomically on both databases."""
    insert = sqlite.insert if uow.is_sqlite else postgresql.insert
    counter = DrillCounter if drill else CaseCounter
    statement = (
        insert(counter)
        .values(year=year, value=1)
        .on_conflict_do_update(index_elements=["year"], set_={"value": counter.value + 1})
        .returning(counter.value)
    )
    value = (await uow.session.execute(statement)).scalar_one()
    return f"{'U' if drill else 'F'}-{year}-{value:04d}"


def _priority(urgency: str) -> int:
    return Priority.URGENT if urgency == Urgency.URGENT else Priority.NORMAL
