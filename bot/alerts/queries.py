"""Reading alerts: a view, its text, the sender's live status, /alerts, and what an agency
system may read of its own alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import InstrumentedAttribute

from bot.alerts.base import AlertBase, deadlines
from bot.alerts.model import ALERT_KINDS, AlertLine, AlertView, ClientName, StatusView
from bot.channels.rules import active_member, visible
from bot.errors import DomainError
from bot.keys import bound
from bot.membership import MemberView
from storage.models import (
    Alert,
    AlertRecipient,
    AlertStatus,
    ApiClient,
    DeliveryStatus,
    FollowUp,
    RecipientReason,
)
from storage.uow import UnitOfWork


class Queries(AlertBase):
    async def view(self, alert_id: int) -> AlertView:
        async with self.uow(write=False) as uow:
            return await self.view_in(uow, await _alert(uow, alert_id))

    async def text(self, alert_id: int) -> str | None:
        """The decrypted alert text; None once retention has removed it."""
        return await self._decrypted(Alert.text_cipher, Alert.id, alert_id)

    async def follow_up_text(self, follow_up_id: int) -> str | None:
        return await self._decrypted(FollowUp.text_cipher, FollowUp.id, follow_up_id)

    async def _decrypted(
        self,
        column: InstrumentedAttribute[bytes | None],
        id_column: InstrumentedAttribute[int],
        row_id: int,
    ) -> str | None:
        async with self.uow(write=False) as uow:
            cipher = await uow.session.scalar(select(column).where(id_column == row_id))
        return self.cipher.decrypt(cipher, bound(column, row_id)) if cipher else None

    async def client_name(self, client_id: int) -> ClientName | None:
        async with self.uow(write=False) as uow:
            row = await uow.session.get(ApiClient, client_id)
            return ClientName(row.name, row.sector, row.region) if row else None

    async def find(self, member_id: int, ref: str) -> int:
        """The id of the alert `ref`, if this member may see it (sender, recipient, coordinator)."""
        async with self.uow(write=False) as uow:
            found = await visible(uow, member_id, Alert, ref, self._may_see, "alert.unknown")
            return found.id

    async def status(self, alert_id: int) -> StatusView:
        async with self.uow(write=False) as uow:
            alert = await _alert(uow, alert_id)
            counts = await uow.deliveries.counts_for_alert(alert_id, ALERT_KINDS)
            unreachable_ids = await uow.deliveries.member_ids_with_status(
                ALERT_KINDS, (DeliveryStatus.UNREACHABLE,), alert_id=alert_id
            )
            acknowledged_ids = await uow.all(
                select(AlertRecipient.member_id)
                .where(
                    AlertRecipient.alert_id == alert_id,
                    AlertRecipient.acknowledged_at.is_not(None),
                )
                .order_by(AlertRecipient.acknowledged_at)
            )
            absent = await _absent(uow, alert_id)
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
                alert=await self.view_in(uow, alert),
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
        async with self.uow(write=False) as uow:
            member = await active_member(uow, member_id)
            received = select(AlertRecipient.alert_id).where(
                AlertRecipient.member_id == member.id,
                AlertRecipient.reason != RecipientReason.AWAY,
            )
            alerts = await uow.all(
                select(Alert)
                .where(
                    Alert.status == AlertStatus.OPEN,
                    or_(Alert.sender_id == member.id, Alert.id.in_(received)),
                )
                .order_by(Alert.created_at.desc())
                .limit(50)
            )
            return [await self._line(uow, alert, member.id) for alert in alerts]

    async def _line(self, uow: UnitOfWork, alert: Alert, member_id: int) -> AlertLine:
        rows = await uow.all(
            select(AlertRecipient).where(
                AlertRecipient.alert_id == alert.id,
                AlertRecipient.reason != RecipientReason.AWAY,
            )
        )
        mine = next((r for r in rows if r.member_id == member_id), None)
        return AlertLine(
            alert=await self.view_in(uow, alert),
            mine=alert.sender_id == member_id,
            acknowledged_by_me=bool(mine and mine.acknowledged_at),
            acknowledged=sum(1 for r in rows if r.acknowledged_at),
            recipients=len(rows),
        )

    async def status_for_client(self, client_id: int, ref: str) -> StatusView:
        """The status of an alert an agency system raised; other alerts do not exist for it."""
        async with self.uow(write=False) as uow:
            alert = await uow.by_ref(Alert, ref, Alert.api_client_id == client_id)
            if alert is None:
                raise DomainError("alert.unknown", ref=ref[:64])
            alert_id = alert.id
        return await self.status(alert_id)

    async def open_alert_ids(self) -> list[int]:
        async with self.uow(write=False) as uow:
            return list(
                await uow.session.scalars(select(Alert.id).where(Alert.status == AlertStatus.OPEN))
            )

    async def deadlines(self) -> list[tuple[int, datetime]]:
        """Open escalation deadlines, to (re)schedule them."""
        return await deadlines(self.uow, Alert.escalate_at, Alert.status == AlertStatus.OPEN)

    async def set_status_message(self, alert_id: int, chat_id: int, message_id: int) -> None:
        values = {"status_chat_id": chat_id, "status_message_id": message_id}
        await self.uow.update(Alert, alert_id, **values)


async def _alert(uow: UnitOfWork, alert_id: int) -> Alert:
    return await uow.existing(Alert, alert_id, DomainError("alert.unknown", ref=str(alert_id)))


async def _absent(uow: UnitOfWork, alert_id: int) -> list[tuple[int, int | None]]:
    """The alert's absent members and their deputies (None: nobody stood in)."""
    rows = await uow.session.execute(
        select(AlertRecipient.member_id, AlertRecipient.deputy_id)
        .where(
            AlertRecipient.alert_id == alert_id,
            AlertRecipient.reason == RecipientReason.AWAY,
        )
        .order_by(AlertRecipient.member_id)
    )
    return [(member_id, deputy_id) for member_id, deputy_id in rows.all()]
