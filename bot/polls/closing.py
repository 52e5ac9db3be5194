"""Closing polls: reminders and the deadline (the scheduler's sweep), closing early, and the
creator's final decision sent to everyone asked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from bot.channels import active_member
from bot.delivery import Priority, queue_notice
from bot.errors import DomainError
from bot.polls.ballots import derive, keyed_hash
from bot.polls.base import PollBase
from bot.polls.model import BALLOT_KINDS, Due, PollNotice, PollView, poll_changed
from bot.timing.sweep import sweep_due
from storage.audit import SYSTEM, member_actor
from storage.models import AnonymousVoter, DeliveryStatus, Poll, PollBallot, PollStatus
from storage.uow import UnitOfWork


def _due(now: datetime) -> Select[Poll]:
    return (
        select(Poll)
        .where(Poll.status == PollStatus.OPEN, (Poll.deadline <= now) | (Poll.remind_at <= now))
        .order_by(Poll.id)
    )


class Closing(PollBase):
    async def run_due(self) -> list[Due]:
        """Send due reminders and close polls whose deadline has passed (also what fell due
        while the bot was down); polls another instance is handling are skipped."""
        return await sweep_due(self.uow, _due, self._handle_due)

    async def _handle_due(self, uow: UnitOfWork, poll: Poll, now: datetime) -> Due:
        if poll.deadline <= now:
            await self._close(uow, poll, now, by=None)
            return Due(poll.id, True, 0, None)
        reminded = await self._remind(uow, poll, now)
        poll.remind_at = self._next_reminder(poll.deadline, now)
        return Due(poll.id, False, reminded, min(poll.remind_at or poll.deadline, poll.deadline))

    async def _remind(self, uow: UnitOfWork, poll: Poll, now: datetime) -> int:
        eligible = await self._reached(uow, poll)
        if poll.anonymous:
            secret = self._secret(poll)
            assert secret is not None
            key = derive(secret, poll.id, b"voter")
            voted = set(
                await uow.session.scalars(
                    select(AnonymousVoter.voter_hash).where(AnonymousVoter.poll_id == poll.id)
                )
            )
            missing = [m for m in eligible if keyed_hash(key, m) not in voted]
        else:
            voted_ids = set(
                await uow.session.scalars(
                    select(PollBallot.member_id).where(PollBallot.poll_id == poll.id)
                )
            )
            missing = [m for m in eligible if m not in voted_ids]
        count = queue_notice(uow, PollNotice.REMINDER, missing, poll.id, now, Priority.BULK)
        uow.audit.record(SYSTEM, "poll.reminded", f"poll:{poll.id}", recipients=count)
        return count

    async def _close(self, uow: UnitOfWork, poll: Poll, now: datetime, *, by: int | None) -> None:
        poll.status = PollStatus.CLOSED
        poll.closed_at, poll.closed_by, poll.remind_at = now, by, None
        # Without the secret nobody, not even with the database and the key, can link the
        # stored hashes to people any more; the answers can no longer change anyway.
        poll.voter_secret_cipher = None
        queue_notice(uow, PollNotice.CLOSED, [poll.creator_id], poll.id, now)
        actor = member_actor(by) if by is not None else SYSTEM
        uow.audit.record(actor, "poll.closed", f"poll:{poll.id}", early=by is not None)
        # After the commit every ballot in people's chats loses its buttons and says closed:
        # also those being sent now, whose refresh follows once they are recorded as sent.
        readers = await uow.deliveries.member_ids_with_status(
            BALLOT_KINDS, (DeliveryStatus.SENT, DeliveryStatus.SENDING), subject_id=poll.id
        )
        uow.effects.touch(*{("ballot", poll.id, reader) for reader in readers})

    async def close(self, actor_id: int, poll_id: int) -> PollView:
        """Close a poll before its deadline (its creator or a statewide coordinator)."""
        async with self.uow() as uow:
            actor = await active_member(uow, actor_id)
            poll = await self._managed(uow, actor, poll_id)
            if poll.status != PollStatus.OPEN:
                raise DomainError("poll.closed", poll=poll.id)
            await self._close(uow, poll, uow.now(), by=actor.id)
            await uow.commit()
            poll_changed(uow, poll)
            return await self._view(uow, poll)

    async def decide(self, actor_id: int, poll_id: int, position: int | None) -> PollView:
        """Fix the final option (or none) and send the result to everyone asked."""
        async with self.uow() as uow:
            now = uow.now()
            actor = await active_member(uow, actor_id)
            poll = await self._managed(uow, actor, poll_id)
            if poll.status == PollStatus.OPEN:
                raise DomainError("poll.still_open", poll=poll.id)
            if poll.status == PollStatus.DECIDED:
                raise DomainError("poll.decided", poll=poll.id)
            view = await self._view(uow, poll)
            option = view.option_at(position) if position is not None else None
            poll.status = PollStatus.DECIDED
            poll.final_option_id = option.id if option else None
            poll.decided_at = now
            recipients = sorted({*await self._reached(uow, poll), poll.creator_id})
            queue_notice(uow, PollNotice.RESULT, recipients, poll.id, now)
            uow.audit.record(
                member_actor(actor.id),
                "poll.decided",
                f"poll:{poll.id}",
                option=position,
                recipients=len(recipients),
            )
            await uow.commit()
            poll_changed(uow, poll)
            return await self._view(uow, poll)
