"""Reading polls: finding one, a member's own ballot, /polls, the results and what the
scheduler and the live messages need."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from bot.channels import active_member
from bot.errors import DomainError
from bot.polls.ballots import own_answers
from bot.polls.base import PollBase
from bot.polls.model import BALLOT_KINDS, Ballot, PollLine, PollView, Results
from storage.models import AnonymousVote, Member, Poll, PollParticipant, PollStatus, PollVote
from storage.uow import UnitOfWork


class Reading(PollBase):
    async def find(self, member_id: int, ref: str) -> int:
        """The id of poll `ref` (`7` or `#7`) if the member may see it."""
        raw = ref.strip().lstrip("#")
        if not raw.isdecimal() or len(raw) > 9:
            raise DomainError("poll.unknown", poll=ref)
        async with self.uow(write=False) as uow:
            member = await active_member(uow, member_id)
            poll = await uow.session.get(Poll, int(raw))
            if poll is None or not await self._may_see(uow, poll, member):
                raise DomainError("poll.unknown", poll=ref)
            return poll.id

    async def view(self, poll_id: int) -> PollView:
        async with self.uow(write=False) as uow:
            unknown = DomainError("poll.unknown", poll=poll_id)
            return await self._view(uow, await uow.existing(Poll, poll_id, unknown))

    async def ballot(self, member_id: int, poll_id: int) -> Ballot:
        """The member's own answers, if they may see the poll."""
        async with self.uow(write=False) as uow:
            poll = await uow.session.get(Poll, poll_id)
            member = await uow.members.get(member_id)
            if poll is None or member is None:
                raise DomainError("poll.unknown", poll=poll_id)
            eligible = await self._eligible(uow, poll, member.id)
            if not (eligible or self._manages(member, poll)):
                raise DomainError("poll.unknown", poll=poll_id)
            view = await self._view(uow, poll)
            if poll.anonymous and poll.voter_secret_cipher is None:
                return Ballot(view, None, may_vote=False)
            answers = await own_answers(uow, poll, await self._voter(uow, poll, member.id))
            return Ballot(view, answers, may_vote=eligible and view.is_open)

    async def open_polls(self, member_id: int) -> list[PollLine]:
        """Open polls the member is asked in (with their answers), and polls they created that
        are not decided yet."""
        async with self.uow(write=False) as uow:
            member = await active_member(uow, member_id)
            asked = select(PollParticipant.poll_id).where(PollParticipant.member_id == member.id)
            polls = await uow.all(
                select(Poll)
                .where(
                    (Poll.status == PollStatus.OPEN) & Poll.id.in_(asked)
                    | (Poll.creator_id == member.id) & (Poll.status != PollStatus.DECIDED)
                )
                .order_by(Poll.deadline)
                .limit(30)
            )
            lines = []
            for poll in polls:
                mine = poll.creator_id == member.id
                if not mine and not await self._eligible(uow, poll, member.id):
                    continue
                answers = None
                if poll.status == PollStatus.OPEN and await self._eligible(uow, poll, member.id):
                    voter = await self._voter(uow, poll, member.id)
                    answers = await own_answers(uow, poll, voter)
                lines.append(PollLine(await self._view(uow, poll), answers, mine))
            return lines

    async def results(self, member_id: int, poll_id: int) -> Results:
        """The tally; names only for named polls, and who is missing only for the creator."""
        async with self.uow(write=False) as uow:
            member = await active_member(uow, member_id)
            poll = await uow.session.get(Poll, poll_id)
            if poll is None or not await self._may_see(uow, poll, member):
                raise DomainError("poll.unknown", poll=poll_id)
            return await self._results(uow, poll, for_manager=self._manages(member, poll))

    async def overview(self, poll_id: int) -> Results:
        """What the creator's live overview shows."""
        async with self.uow(write=False) as uow:
            poll = await uow.existing(Poll, poll_id, DomainError("poll.unknown", poll=poll_id))
            return await self._results(uow, poll, for_manager=True)

    async def _results(self, uow: UnitOfWork, poll: Poll, *, for_manager: bool) -> Results:
        """The tally in a few aggregate queries: names are read as (id, name) pairs of the
        people asked, not as a thousand members."""
        view = await self._view(uow, poll)
        counts: dict[int, dict[str, int]] = {}
        if poll.anonymous:
            rows = await uow.session.execute(
                select(AnonymousVote.option_id, AnonymousVote.answer, func.count())
                .where(AnonymousVote.poll_id == poll.id)
                .group_by(AnonymousVote.option_id, AnonymousVote.answer)
            )
            for option_id, answer, count in rows.all():
                counts.setdefault(option_id, {})[answer] = count
            answered = await uow.session.scalar(
                select(func.count(func.distinct(AnonymousVote.ballot_hash))).where(
                    AnonymousVote.poll_id == poll.id
                )
            )
            participants = await uow.session.scalar(
                select(func.count()).where(PollParticipant.poll_id == poll.id)
            )
            return Results(view, counts, int(answered or 0), int(participants or 0))
        votes = (
            await uow.session.execute(
                select(PollVote.option_id, PollVote.answer, PollVote.member_id).where(
                    PollVote.poll_id == poll.id
                )
            )
        ).all()
        asked = (
            await uow.session.execute(
                select(Member.id, Member.display_name)
                .join(PollParticipant, PollParticipant.member_id == Member.id)
                .where(PollParticipant.poll_id == poll.id)
            )
        ).all()
        people = {member_id: name or f"#{member_id}" for member_id, name in asked}
        voters = {member_id for _, _, member_id in votes}
        others = voters - people.keys()  # not asked (should not happen): still named
        if others:
            named = await uow.session.execute(
                select(Member.id, Member.display_name).where(Member.id.in_(sorted(others)))
            )
            people.update({i: name or f"#{i}" for i, name in named.all()})
        names: dict[int, dict[str, list[str]]] = {}
        for option_id, answer, member_id in sorted(votes, key=lambda v: people[v[2]]):
            tally = counts.setdefault(option_id, {})
            tally[answer] = tally.get(answer, 0) + 1
            names.setdefault(option_id, {}).setdefault(answer, []).append(people[member_id])
        missing = None
        if for_manager:
            missing = tuple(sorted(people[m] for m, _ in asked if m not in voters))
        return Results(
            view,
            counts,
            len(voters),
            len(asked),
            {o: {a: tuple(n) for a, n in by.items()} for o, by in names.items()},
            missing,
        )

    async def due_times(self) -> list[tuple[int, datetime]]:
        """The next reminder or deadline of every open poll, to (re)schedule them."""
        async with self.uow(write=False) as uow:
            rows = await uow.session.execute(
                select(Poll.id, Poll.remind_at, Poll.deadline).where(Poll.status == PollStatus.OPEN)
            )
            return [(i, min(r, d) if r else d) for i, r, d in rows.all()]

    async def undecided_ids(self) -> list[int]:
        async with self.uow(write=False) as uow:
            return list(
                await uow.session.scalars(select(Poll.id).where(Poll.status != PollStatus.DECIDED))
            )

    async def ballot_messages(self, member_id: int, poll_id: int) -> list[tuple[int, int]]:
        """(chat id, message id) of the member's poll messages with answer buttons."""
        async with self.uow(write=False) as uow:
            return await uow.deliveries.sent_messages(
                member_id=member_id, subject_id=poll_id, kinds=BALLOT_KINDS
            )

    async def set_overview_message(self, poll_id: int, chat_id: int, message_id: int) -> None:
        values = {"overview_chat_id": chat_id, "overview_message_id": message_id}
        await self.uow.update(Poll, poll_id, **values)
