"""Raising alerts and drills: by a member, or by an agency system through the HTTP API; and
the limit of urgent alerts per sender and hour."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, insert, select, update

from bot.alerts.base import AlertBase, alert_changed, coordinates, next_ref, priority_of
from bot.alerts.model import (
    URGENT_WINDOW,
    Notice,
    Origin,
    RaisedAlert,
    StatusView,
    UrgentLimitReached,
    require_clean,
    target,
)
from bot.alerts.recipients import TARGETS, Resolution, resolve
from bot.channels.rules import active_member
from bot.delivery import Priority
from bot.errors import DomainError
from bot.keys import bound
from bot.membership import MEMBER_VIEW, MEMBERS, MemberView
from storage.audit import DetailValue
from storage.models import Alert, AlertStatus, ApiClient, Member, MemberStatus, Role, Urgency
from storage.repositories import fan_out, table_of
from storage.uow import UnitOfWork

# Built once, on the table's columns (plain Core statements): building and keying a
# statement cost more than running it, on every alert.
_ALERTS = table_of(Alert)


def _recent_urgent(sent_by: str) -> Select[datetime]:
    """A sender's urgent alerts since `since`, oldest first (`_within_urgent_limit`)."""
    alerts = _ALERTS.c
    return (
        select(alerts.created_at)
        .where(
            alerts[sent_by] == bindparam("sender"),
            alerts.created_at > bindparam("since"),
            alerts.urgency == Urgency.URGENT,
            alerts.drill.is_(False),
        )
        .order_by(alerts.created_at)
    )


_RECENT_URGENT_OF_MEMBER = _recent_urgent("sender_id")
_RECENT_URGENT_OF_CLIENT = _recent_urgent("api_client_id")


# What `_raise` inserts of a new alert (the rest is NULL until the text's UPDATE and later).
_INSERTED = (
    "ref",
    "sender_id",
    "api_client_id",
    "sectors",
    "region",
    "urgency",
    "status",
    "created_at",
    "escalation_level",
    "drill",
    "result_due_at",
)
_INSERT_ALERT = insert(_ALERTS).returning(_ALERTS.c.id)
_TEXT_AND_ESCALATION = (
    update(_ALERTS)
    .where(_ALERTS.c.id == bindparam("alert_id"))
    .values(text_cipher=bindparam("cipher"), escalate_at=bindparam("due"))
)
# The deliveries of an alert's fan-out, for each query of its targets (`Resolution.targets`).
_FAN_OUT = {targets: fan_out(targets) for targets in TARGETS}


# The sender as a MemberView, read by id without building a row object (a raise needs its
# view and its status only), and locked for an urgent alert's count.
_SENDER = MEMBER_VIEW.where(MEMBERS.c.id == bindparam("member_id"))
_SENDER_FOR_UPDATE = _SENDER.with_for_update()


async def _active_sender(uow: UnitOfWork, member_id: int, *, for_update: bool) -> MemberView:
    """The sending member, if active (as `active_member`, without a row object)."""
    query = _SENDER_FOR_UPDATE if for_update else _SENDER
    row = (await uow.session.execute(query, {"member_id": member_id})).first()
    if row is None or row.status != MemberStatus.ACTIVE:
        raise DomainError("access.not_active")
    return MemberView(**row._mapping)


class Raising(AlertBase):
    async def count_recipients(self, sender_id: int, sectors: Sequence[str], region: str) -> int:
        async with self.uow(write=False) as uow:
            resolved = await resolve(uow, self.network, sender_id, sectors, region, uow.now())
            return await resolved.receivers(uow)

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
        try:
            async with self.uow() as uow:
                origin = Origin(member_id=sender_id)
                raised = await self.raise_in(uow, origin, sectors, region, urgency, text, confirmed)
                await uow.commit()
                return raised
        except UrgentLimitReached as refused:
            await self.report_urgent_limit(refused)
            raise

    async def raise_in(
        self,
        uow: UnitOfWork,
        origin: Origin,
        sectors: Sequence[str],
        region: str,
        urgency: str,
        text: str,
        confirmed: bool,
    ) -> RaisedAlert:
        """Raise an alert inside the caller's unit of work, which commits it (the HTTP API's
        also keeps the request's Idempotency-Key). A member raises alerts anywhere; an agency
        system's key reaches only its own region, a statewide key every region."""
        region, codes = target(self.network, sectors, region, urgency)
        clean = require_clean(text, confirmed, self.network.place_names)
        if origin.member_id is not None:
            # Locked for an urgent alert: one sender's urgent alerts are counted one at a time.
            counted = urgency == Urgency.URGENT and bool(self.urgent_per_hour)
            sender = await _active_sender(uow, origin.member_id, for_update=counted)
        else:
            sender = None
            await self._client_may_raise(uow, origin, region)
        if urgency == Urgency.URGENT:
            await self._within_urgent_limit(uow, origin)
        return await self._raise(uow, origin, codes, region, urgency, clean, None, sender)

    async def _client_may_raise(self, uow: UnitOfWork, origin: Origin, region: str) -> None:
        # Locked: concurrent requests of one key are counted one after the other.
        client = await uow.session.get(ApiClient, origin.client_id, with_for_update=True)
        if client is None or client.revoked_at is not None:
            raise DomainError("api.unknown_key", key=str(origin.client_id))
        if not self.network.covers(client.region, region):
            raise DomainError("error.outside_scope", region=region, allowed=client.region)

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
        region, codes = target(self.network, sectors, region, urgency)
        async with self.uow() as uow:
            coordinator = await active_member(uow, coordinator_id)
            if coordinator.role != Role.COORDINATOR:
                raise DomainError("error.coordinators_only")
            if not coordinates(self.network, coordinator, region):
                raise DomainError("error.outside_scope", region=region)
            origin = Origin(member_id=coordinator.id)
            raised = await self._raise(
                uow, origin, codes, region, urgency, None, result_after, MemberView.of(coordinator)
            )
            await uow.commit()
            return raised

    async def _within_urgent_limit(self, uow: UnitOfWork, origin: Origin) -> None:
        """Refuse a sender's urgent alert beyond ALERT_URGENT_PER_HOUR in the sliding hour, so
        that one member (or one agency system) cannot flood the urgent queue. Nothing is
        written here: the caller's transaction (with anything it holds, like an API request's
        Idempotency-Key) rolls back, and `report_urgent_limit` records the refusal afterwards.
        Drills never count: coordinators run them, and they are marked as exercises."""
        if not self.urgent_per_hour:
            return
        now = uow.now()
        # The sender's row is locked (`raise_in`, `_client_may_raise`): one count at a time.
        member = origin.member_id is not None
        query = _RECENT_URGENT_OF_MEMBER if member else _RECENT_URGENT_OF_CLIENT
        sender = origin.member_id if member else origin.client_id
        recent = (
            await uow.session.scalars(query, {"sender": sender, "since": now - URGENT_WINDOW})
        ).all()
        if len(recent) < self.urgent_per_hour:
            return
        # The oldest of the last `limit` urgent alerts leaves the window first.
        again_at = recent[len(recent) - self.urgent_per_hour] + URGENT_WINDOW
        wait = max(1, math.ceil((again_at - now).total_seconds()))
        raise UrgentLimitReached(self.urgent_per_hour, wait, origin)

    async def report_urgent_limit(self, refused: UrgentLimitReached) -> None:
        """Audit a refusal of the urgent limit; the coordinators of the sender's region hear of
        it once an hour."""
        origin = refused.origin
        async with self.uow() as uow:
            now = uow.now()
            subject: Member | ApiClient | None
            if origin.member_id is not None:
                subject = await uow.members.get(origin.member_id, for_update=True)
            else:
                subject = await uow.session.get(ApiClient, origin.client_id, with_for_update=True)
            if subject is None:
                return
            uow.audit.record(
                origin.actor, "alert.urgent_limited", origin.actor, limit=refused.limit
            )
            noticed = subject.urgent_limit_noticed_at
            if subject.region is not None and (noticed is None or noticed <= now - URGENT_WINDOW):
                subject.urgent_limit_noticed_at = now
                coordinators = await uow.members.coordinators_for(
                    subject.region, self.network.statewide_region
                )
                uow.deliveries.enqueue(
                    kind=Notice.URGENT_LIMIT,
                    member_ids=[c.id for c in coordinators if c.id != origin.member_id],
                    # Urgent: it must not wait behind the very alerts it is about.
                    priority=Priority.URGENT,
                    now=now,
                    params={"limit": refused.limit, **origin.param},
                )
            await uow.commit()

    async def _raise(
        self,
        uow: UnitOfWork,
        origin: Origin,
        sectors: tuple[str, ...],
        region: str,
        urgency: str,
        text: str | None,
        drill: timedelta | None,
        sender: MemberView | None,
    ) -> RaisedAlert:
        """Insert the alert (a drill if `drill`, the time until its result, is given), its
        recipients and their deliveries. `sender`: the sending member, loaded already."""
        now = uow.now()
        resolved = await resolve(uow, self.network, origin.member_id, sectors, region, now)
        # Stored with Core statements built once; the row object is never added to the
        # session (nothing is flushed for it), it only carries what the view and the effects
        # need.
        alert = Alert(
            ref=await next_ref(uow, now.year, drill=drill is not None),
            sender_id=origin.member_id,
            api_client_id=origin.client_id,
            sectors=",".join(sectors),
            region=region,
            urgency=urgency,
            status=AlertStatus.OPEN,
            created_at=now,
            escalation_level=0,
            drill=drill is not None,
            result_due_at=now + drill if drill is not None else None,
        )
        inserted = {column: getattr(alert, column) for column in _INSERTED}
        alert.id = int((await uow.session.execute(_INSERT_ALERT, inserted)).scalar_one())
        receivers = await resolved.store(uow, alert.id)
        if text is not None:
            # The ciphertext is bound to the row's id, known only now that the row is inserted;
            # the text goes in with an UPDATE in the same transaction, never visible without it.
            alert.text_cipher = self.cipher.encrypt(text, bound(Alert.text_cipher, alert.id))
        # Known once the recipients are stored; goes in with the text's UPDATE (one statement).
        if receivers:
            alert.escalate_at = now + self.periods.after(urgency)
        elif drill is None:
            # Nobody to send to: bring in the coordinators at once rather than lose it. A drill
            # nobody can receive shows a gap; it never brings in anyone outside it.
            alert.escalate_at = now
        if alert.text_cipher is not None or alert.escalate_at is not None:
            await uow.session.execute(
                _TEXT_AND_ESCALATION,
                {"alert_id": alert.id, "cipher": alert.text_cipher, "due": alert.escalate_at},
            )
        await _send(uow, alert, resolved, now)
        alert_changed(uow, alert)
        details: dict[str, DetailValue] = {
            "ref": alert.ref,
            "sectors": list(sectors),
            "region": region,
            "urgency": urgency,
            "recipients": receivers,
        }
        if resolved.away:
            details["away"] = len(resolved.away)
            details["deputies"] = len(resolved.standing_in)
        if drill is not None:
            details["drill"] = True
        uow.audit.record(origin.actor, "alert.raised", f"alert:{alert.id}", **details)
        view = await self.view_in(uow, alert, loaded=[sender] if sender else [])
        cancelled = 0
        if self.deliveries is not None:
            cancelled = await self.deliveries.claim_first(uow, alert.id)
            # What the first sends show, as this transaction knows it: nothing is read back.
            uow.effects.rendered[("alert", alert.id)] = view
            uow.effects.rendered[("alert_text", alert.id)] = text
        if not resolved.away:
            # The sender's status message as `status` would read it after the commit (every
            # delivery waiting, or cancelled for want of a chat; no answer; nobody away), so
            # that its first refresh reads nothing while the first sends go out. With absent
            # members it names them, whom the raise did not load: the refresh reads it.
            shown = StatusView(
                alert=view,
                recipients=receivers,
                delivered=0,
                pending=receivers - cancelled,
                unreachable=(),
                failed=0,
                cancelled=cancelled,
                acknowledged=(),
            )
            uow.effects.touch_with(("alert", alert.id), shown)
        return RaisedAlert(view, receivers)


async def _send(uow: UnitOfWork, alert: Alert, resolved: Resolution, now: datetime) -> None:
    """One pending delivery of the alert to each receiver; a deputy's copy names whom they
    stand in for. The present members' deliveries come from their recipient rows, in one
    statement: thousands of them are stored while SQLite's write lock is held."""
    priority = priority_of(alert.urgency)
    targets, parameters = resolved.targets(alert.id)
    await uow.deliveries.insert_fanned_out(
        _FAN_OUT[targets],
        parameters,
        kind=Notice.ALERT,
        priority=priority,
        now=now,
        alert_id=alert.id,
    )
    for deputy_id, absent in resolved.standing_in.items():
        uow.deliveries.enqueue(
            kind=Notice.ALERT,
            member_ids=[deputy_id],
            priority=priority,
            now=now,
            alert_id=alert.id,
            params={"deputy_for": ",".join(str(i) for i in absent)},
        )
