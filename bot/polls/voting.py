"""Voting: answers by option position, or a choice button; each vote in one transaction."""

from __future__ import annotations

from collections.abc import Mapping

from bot.channels import active_member
from bot.errors import DomainError
from bot.polls.ballots import (
    Voter,
    clear_answers,
    drop_ballot,
    lock_ballot,
    own_answers,
    set_answer,
)
from bot.polls.base import PollBase
from bot.polls.model import Ballot, PollView
from storage.audit import member_actor
from storage.models import Answer, Member, Poll, PollKind, PollStatus
from storage.uow import UnitOfWork


class Voting(PollBase):
    async def vote(
        self,
        member_id: int,
        poll_id: int,
        answers: Mapping[int, str | None],
        *,
        replace: bool = False,
    ) -> Ballot:
        """Set answers by option position (None clears one); `replace` drops the others.
        Single-choice polls always replace."""
        async with self.uow() as uow:
            member, poll = await self._voting(uow, member_id, poll_id)
            view = await self._view(uow, poll)
            by_option = self._answers_by_option(view, answers)
            voter = await self._voter(uow, poll, member.id)
            await lock_ballot(uow, poll, voter)
            if replace or poll.kind == PollKind.SINGLE:
                await clear_answers(uow, poll, voter)
            for option_id, answer in by_option.items():
                await set_answer(uow, poll, voter, option_id, answer)
            return await self._finish_vote(uow, poll, view, member, voter)

    async def toggle(self, member_id: int, poll_id: int, position: int) -> Ballot:
        """A choice button: single choice picks the option, multiple choice switches it."""
        async with self.uow() as uow:
            member, poll = await self._voting(uow, member_id, poll_id)
            view = await self._view(uow, poll)
            option = view.option_at(position)
            if poll.kind == PollKind.DATE:
                raise DomainError("button.invalid")
            voter = await self._voter(uow, poll, member.id)
            await lock_ballot(uow, poll, voter)
            current = await own_answers(uow, poll, voter)
            if poll.kind == PollKind.SINGLE:
                await clear_answers(uow, poll, voter)
                await set_answer(uow, poll, voter, option.id, Answer.YES)
            else:
                chosen = option.id in current
                await set_answer(uow, poll, voter, option.id, None if chosen else Answer.YES)
            return await self._finish_vote(uow, poll, view, member, voter)

    def _answers_by_option(
        self, view: PollView, answers: Mapping[int, str | None]
    ) -> dict[int, str | None]:
        if not answers:
            raise DomainError("vote.usage")
        result: dict[int, str | None] = {}
        for position, answer in answers.items():
            option = view.option_at(position)
            if answer is not None and answer not in Answer.__members__.values():
                raise DomainError("vote.unknown_answer", answer=answer)
            if view.kind != PollKind.DATE and answer not in (Answer.YES, None):
                raise DomainError("vote.usage")
            result[option.id] = answer
        if view.kind == PollKind.SINGLE and len([a for a in result.values() if a]) > 1:
            raise DomainError("vote.single_choice")
        return result

    async def _voting(self, uow: UnitOfWork, member_id: int, poll_id: int) -> tuple[Member, Poll]:
        member = await active_member(uow, member_id)
        poll = await uow.session.get(Poll, poll_id)
        if poll is None or not await self._eligible(uow, poll, member.id):
            raise DomainError("poll.unknown", poll=poll_id)
        if poll.status != PollStatus.OPEN or poll.deadline <= uow.now():
            raise DomainError("poll.closed", poll=poll.id)
        return member, poll

    async def _finish_vote(
        self, uow: UnitOfWork, poll: Poll, view: PollView, member: Member, voter: Voter
    ) -> Ballot:
        answers = await own_answers(uow, poll, voter)
        if not answers:
            await drop_ballot(uow, poll, voter)
        if poll.anonymous:
            # Who answered what must not be in the audit log of an anonymous poll.
            uow.audit.record("anonymous", "poll.answered", f"poll:{poll.id}")
        else:
            uow.audit.record(
                member_actor(member.id), "poll.answered", f"poll:{poll.id}", answers=len(answers)
            )
        await uow.commit()
        # The member's own poll messages show the new answer; the creator's overview counts it.
        uow.effects.touch(("ballot", poll.id, member.id), ("poll", poll.id))
        return Ballot(view, answers, may_vote=True)
