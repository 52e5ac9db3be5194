"""Acting on an alert: acknowledging, taking over, following up, closing."""

from __future__ import annotations

from sqlalchemy import update

from bot.alerts.base import AlertBase, alert_changed, coordinates
from bot.alerts.copies import copies_changed, copy_changed
from bot.alerts.model import Acknowledgement, AlertView, Notice, TakeOver, require_clean
from bot.channels.rules import active_member
from bot.delivery import Priority
from bot.errors import DomainError
from bot.keys import bound
from storage.audit import member_actor
from storage.models import Alert, AlertStatus, FollowUp, Member
from storage.uow import UnitOfWork


class Responses(AlertBase):
    async def acknowledge(self, member_id: int, alert_id: int) -> Acknowledgement:
        async with self.uow() as uow:
            now = uow.now()
            member = await active_member(uow, member_id)
            alert, recipient = await self._as_recipient(uow, member, alert_id)
            already = recipient.acknowledged_at is not None
            if not already:
                recipient.acknowledged_at = now
                alert.escalate_at = None  # somebody has seen it: no more escalation
                uow.audit.record(member_actor(member.id), "alert.acknowledged", f"alert:{alert.id}")
                await uow.commit()
                copy_changed(uow, alert, member.id)
            return Acknowledgement(await self.view_in(uow, alert), already)

    async def take_over(self, member_id: int, alert_id: int) -> TakeOver:
        """The first member to take over wins; everyone else is told who it is."""
        async with self.uow() as uow:
            now = uow.now()
            member = await active_member(uow, member_id)
            alert, recipient = await self._as_recipient(uow, member, alert_id)
            result = await uow.session.execute(
                update(Alert)
                .where(Alert.id == alert.id, Alert.taken_by.is_(None))
                .values(taken_by=member.id, taken_at=now, escalate_at=None)
                .execution_options(synchronize_session=False)
            )
            await uow.session.refresh(alert)
            if not result.rowcount:  # type: ignore[attr-defined]
                return TakeOver(await self.view_in(uow, alert), taken=False)
            if recipient.acknowledged_at is None:
                recipient.acknowledged_at = now
            others = await self._audience(uow, alert, exclude=member.id)
            await self._notify(uow, alert, Notice.TAKEN, others, now, params={"member": member.id})
            uow.audit.record(member_actor(member.id), "alert.taken_over", f"alert:{alert.id}")
            await uow.commit()
            copy_changed(uow, alert, member.id)
            return TakeOver(await self.view_in(uow, alert), taken=True)

    async def follow_up(
        self, author_id: int, alert_id: int, text: str, *, confirmed: bool = False
    ) -> int:
        """Send a follow-up to everyone involved in the alert; returns how many get it."""
        clean = require_clean(text, confirmed, self.network.place_names)
        async with self.uow() as uow:
            now = uow.now()
            author = await active_member(uow, author_id)
            alert = await self._open_alert(uow, alert_id)
            if not self._may_speak(author, alert):
                raise DomainError("alert.not_yours", ref=alert.ref)
            entry = FollowUp(alert_id=alert.id, author_id=author.id, created_at=now)
            uow.session.add(entry)
            await uow.session.flush()  # the id binds the ciphertext (see Raising._raise)
            entry.text_cipher = self.cipher.encrypt(clean, bound(FollowUp.text_cipher, entry.id))
            audience = await self._audience(uow, alert, exclude=author.id)
            await self._notify(
                uow,
                alert,
                Notice.FOLLOW_UP,
                audience,
                now,
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
        async with self.uow() as uow:
            now = uow.now()
            member = await active_member(uow, member_id)
            alert = await self._closable(uow, member, alert_id)
            alert.status = AlertStatus.CLOSED
            alert.closed_at, alert.closed_by, alert.escalate_at = now, member.id, None
            await self._notify(
                uow,
                alert,
                Notice.CLOSED,
                await self._audience(uow, alert, exclude=member.id),
                now,
                priority=Priority.NORMAL,
                params={"member": member.id},
            )
            uow.audit.record(member_actor(member.id), "alert.closed", f"alert:{alert.id}")
            await uow.commit()
            alert_changed(uow, alert)
            copies_changed(uow, alert.id)
            return await self.view_in(uow, alert)

    async def _closable(self, uow: UnitOfWork, member: Member, alert_id: int) -> Alert:
        alert = await uow.session.get(Alert, alert_id, with_for_update=True)
        # Whoever may not see the alert learns nothing of it, not even its reference.
        if alert is None or not await self._may_see(uow, member, alert):
            raise DomainError("alert.unknown", ref=str(alert_id))
        if alert.sender_id != member.id and not coordinates(self.network, member, alert.region):
            raise DomainError("alert.close_not_allowed", ref=alert.ref)
        if alert.status != AlertStatus.OPEN:
            raise DomainError("alert.closed", ref=alert.ref)
        return alert

    def _may_speak(self, member: Member, alert: Alert) -> bool:
        return member.id in (alert.sender_id, alert.taken_by) or coordinates(
            self.network, member, alert.region
        )
