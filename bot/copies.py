"""The messages already in people's chats, as the outbox sent them: what a live refresh needs
to show a press's trace (✓ Gesehen 10:42) or a dead button's end on the person's own copy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.delivery import Job
from bot.membership.records import MemberView
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class Copy:
    """One sent message: the job it was rendered from (kind, params, language), its reader
    (as now, so that only active members' copies are edited) and where it is."""

    job: Job
    reader: MemberView
    chat_id: int
    message_id: int


async def sent_copies(
    uow: UnitOfWork,
    kinds: Sequence[str],
    *,
    alert_id: int | None = None,
    subject_id: int | None = None,
    member_id: int | None = None,
    params: dict[str, int | str | None] | None = None,
) -> list[Copy]:
    rows = await uow.deliveries.sent_copies(
        kinds, alert_id=alert_id, subject_id=subject_id, member_id=member_id, params=params
    )
    copies = []
    for delivery, member in rows:
        assert member.chat_id is not None and delivery.telegram_message_id is not None
        job = Job.of(delivery, member)
        copies.append(
            Copy(job, MemberView.of(member), member.chat_id, delivery.telegram_message_id)
        )
    return copies
