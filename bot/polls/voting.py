"""Voting: answers by option position, or a choice button; votes that arrive together share one
transaction (group commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import cast

from sqlalchemy import bindparam, select

from bot.channels import active_member
from bot.errors import DomainError
from bot.membership import MEMBERS, MemberView
from bot.polls.ballots import (
    Voter,
    clear_answers,
    drop_ballot,
    lock_ballot,
    own_answers,
    set_answer,
)
from bot.polls.base import PollBase
from bot.polls.model import BALLOT_KINDS, Ballot, Message, PollRecord, PollView
from storage.audit import member_actor
from storage.models import (
    Answer,
    Delivery,
    DeliveryStatus,
    MemberStatus,
    Poll,
    PollKind,
    PollParticipant,
    PollStatus,
)
from storage.repositories import table_of
from storage.uow import UnitOfWork

# A vote checked, before it wrote anything: what writes it, in the same transaction.
_Write = Callable[[], Awaitable[Ballot]]
# A vote as the group runs it: its checks in a given transaction (DomainError: refused, and
# nothing written), returning its write.
_Vote = Callable[[UnitOfWork], Awaitable[_Write]]

# How many votes share one transaction at most: a group holds SQLite's write lock for all of
# them, and another writer (an alert) waits for no more than one group.
MAX_TOGETHER = 32


@dataclass
class _Waiting:
    vote: _Vote
    done: asyncio.Future[Ballot]


@dataclass
class Voting(PollBase):
    """Votes that arrive while others are being stored share one transaction (group commit:
    one `COMMIT`, one fsync and one append to the audit chain for all of them). Each is
    answered only once it is committed; a refused one refuses only itself; if anything fails
    after a vote began writing, the group is rolled back and each of its votes runs alone."""

    _waiting: list[_Waiting] = field(init=False, repr=False, default_factory=list)
    _storing: asyncio.Task[None] | None = field(init=False, repr=False, default=None)

    async def vote(
        self,
        member_id: int,
        poll_id: int,
        answers: Mapping[int, str | None],
        *,
        replace: bool = False,
        pressed: Message | None = None,
    ) -> Ballot:
        """Set answers by option position (None clears one); `replace` drops the others.
        Single-choice polls always replace. `pressed`: the message whose button this was."""

        async def checked(uow: UnitOfWork) -> _Write:
            member, poll, view = await self._voting(uow, member_id, poll_id)
            by_option = self._answers_by_option(view, answers)
            voter = await self._voter(uow, poll, member.id)

            async def write() -> Ballot:
                await lock_ballot(uow, poll, voter)
                if replace or poll.kind == PollKind.SINGLE:
                    await clear_answers(uow, poll, voter)
                    current: dict[int, str] = {}
                else:
                    current = await own_answers(uow, poll, voter)
                for option_id, answer in by_option.items():
                    await set_answer(uow, poll, voter, option_id, answer)
                    _apply(current, option_id, answer)
                return await self._finish_vote(uow, poll, view, member, voter, current, pressed)

            return write

        return await self._stored(checked)

    async def toggle(
        self, member_id: int, poll_id: int, position: int, *, pressed: Message | None = None
    ) -> Ballot:
        """A choice button: single choice picks the option, multiple choice switches it.
        `pressed`: the message whose button this was."""

        async def checked(uow: UnitOfWork) -> _Write:
            member, poll, view = await self._voting(uow, member_id, poll_id)
            option = view.option_at(position)
            if poll.kind == PollKind.DATE:
                raise DomainError("button.invalid")
            voter = await self._voter(uow, poll, member.id)

            async def write() -> Ballot:
                await lock_ballot(uow, poll, voter)
                if poll.kind == PollKind.SINGLE:
                    await clear_answers(uow, poll, voter)
                    current: dict[int, str] = {}
                    answer: str | None = Answer.YES
                else:
                    current = await own_answers(uow, poll, voter)
                    answer = None if option.id in current else Answer.YES
                await set_answer(uow, poll, voter, option.id, answer)
                _apply(current, option.id, answer)
                return await self._finish_vote(uow, poll, view, member, voter, current, pressed)

            return write

        return await self._stored(checked)

    async def _stored(self, vote: _Vote) -> Ballot:
        """The vote's ballot once it is committed, with the votes that wait beside it."""
        done: asyncio.Future[Ballot] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(vote, done))
        if self._storing is None:
            # Started in the loop's next round: the votes of this round wait beside it.
            self._storing = asyncio.create_task(self._store_waiting())
        return await done

    async def _store_waiting(self) -> None:
        group: list[_Waiting] = []
        try:
            while self._waiting:
                group = [w for w in self._waiting[:MAX_TOGETHER] if not w.done.done()]
                del self._waiting[:MAX_TOGETHER]
                if len(group) == 1:
                    await self._alone(group[0])
                elif group:
                    await self._together(group)
        finally:
            self._storing = None
            # Stopped half-way (the bot shuts down): whoever still waits is not left hanging.
            for waiting in group + self._waiting:
                waiting.done.cancel()
            self._waiting.clear()

    async def _together(self, group: list[_Waiting]) -> None:
        outcomes: list[Ballot | DomainError] = []
        try:
            async with self.uow() as uow:
                for waiting in group:
                    try:
                        write = await waiting.vote(uow)
                    except DomainError as refused:  # nothing of this vote was written
                        outcomes.append(refused)
                        continue
                    outcomes.append(await write())
                await uow.commit()
        except Exception:  # each vote alone says what is wrong with it
            for waiting in group:
                await self._alone(waiting)
            return
        for waiting, outcome in zip(group, outcomes, strict=True):
            if waiting.done.done():
                continue
            if isinstance(outcome, DomainError):
                waiting.done.set_exception(outcome)
            else:
                waiting.done.set_result(outcome)

    async def _alone(self, waiting: _Waiting) -> None:
        """The vote in a transaction of its own."""
        try:
            async with self.uow() as uow:
                ballot = await (await waiting.vote(uow))()
                await uow.commit()
        except Exception as error:  # it is the voter's answer
            if not waiting.done.done():
                waiting.done.set_exception(error)
            return
        if not waiting.done.done():
            waiting.done.set_result(ballot)

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

    async def _voting(
        self, uow: UnitOfWork, member_id: int, poll_id: int
    ) -> tuple[MemberView, PollRecord, PollView]:
        """The poll, the voter and the poll's creator in one indexed query (primary keys of
        polls, participants and members), as a plain row; the target is then checked on the
        voter."""
        row = (await uow.execute(_VOTING, {"poll_id": poll_id, "member_id": member_id})).first()
        if row is None:
            await active_member(uow, member_id)  # the right refusal for a former member
            raise DomainError("poll.unknown", poll=poll_id)
        poll = cast(PollRecord, row)
        member = MemberView(*row[_VOTER_AT])
        if member.status != MemberStatus.ACTIVE:
            raise DomainError("access.not_active")
        if not await self.channels.admits_member(uow, self._target(poll), member):
            raise DomainError("poll.unknown", poll=poll_id)
        if poll.status != PollStatus.OPEN or poll.deadline <= uow.now():
            raise DomainError("poll.closed", poll=poll.id)
        return member, poll, await self._view(uow, poll, MemberView(*row[_CREATOR_AT]))

    async def _finish_vote(
        self,
        uow: UnitOfWork,
        poll: PollRecord,
        view: PollView,
        member: MemberView,
        voter: Voter,
        answers: dict[int, str],
        pressed: Message | None,
    ) -> Ballot:
        """`answers`: the voter's answers as this transaction left them (read under the ballot's
        lock and changed here), so they need not be read back. The messages to show them are
        those recorded as sent, and the one pressed: a person can press a ballot's button
        before the outbox has recorded its sending (it records a batch once all its sends are
        answered), and no later change would refresh that ballot."""
        if not answers:
            await drop_ballot(uow, poll, voter)
        if poll.anonymous:
            # Who answered what must not be in the audit log of an anonymous poll.
            uow.audit.record("anonymous", "poll.answered", f"poll:{poll.id}")
        else:
            uow.audit.record(
                member_actor(member.id), "poll.answered", f"poll:{poll.id}", answers=len(answers)
            )
        # Read last: the outbox records a ballot as sent only after its whole batch; a press
        # that comes even sooner names the message pressed.
        messages: list[Message] = []
        if member.chat_id is not None:
            found = await uow.execute(_MESSAGES, {"member_id": member.id, "poll_id": poll.id})
            messages = [(member.chat_id, message_id) for (message_id,) in found]
        if pressed is not None and pressed[0] == member.chat_id and pressed not in messages:
            messages.append(pressed)  # only ever in the voter's own chat
        ballot = Ballot(view, answers, True, member, tuple(messages))
        # Once committed (by the caller, with the votes beside it): the member's own poll
        # messages show the new answer (as returned here, without reading it again); the
        # creator's overview counts it.
        uow.effects.touch_with(("ballot", poll.id, member.id), ballot)
        uow.effects.touch(("poll", poll.id))
        return ballot


def _apply(answers: dict[int, str], option_id: int, answer: str | None) -> None:
    if answer is None:
        answers.pop(option_id, None)
    else:
        answers[option_id] = answer


# Built once, on the tables (plain Core statements: no row objects, not the ORM's execution
# path): the poll's columns under their own names, then the voter's and the creator's as
# MemberViews; and the voter's poll messages (the index of a person's deliveries about a subject).
_POLLS, _PARTICIPANTS, _DELIVERIES = table_of(Poll), table_of(PollParticipant), table_of(Delivery)
_VOTER, _CREATOR = MEMBERS.alias("voter"), MEMBERS.alias("creator")
_VIEW = [f.name for f in fields(MemberView)]
_VOTER_AT = slice(len(_POLLS.c), len(_POLLS.c) + len(_VIEW))
_CREATOR_AT = slice(_VOTER_AT.stop, _VOTER_AT.stop + len(_VIEW))
_VOTING = (
    select(
        *_POLLS.c,
        *(_VOTER.c[name].label(f"voter_{name}") for name in _VIEW),
        *(_CREATOR.c[name].label(f"creator_{name}") for name in _VIEW),
    )
    .select_from(
        _POLLS.join(_PARTICIPANTS, _PARTICIPANTS.c.poll_id == _POLLS.c.id)
        .join(_VOTER, _VOTER.c.id == _PARTICIPANTS.c.member_id)
        .join(_CREATOR, _CREATOR.c.id == _POLLS.c.creator_id)
    )
    .where(
        _POLLS.c.id == bindparam("poll_id"),
        _PARTICIPANTS.c.member_id == bindparam("member_id"),
    )
)
_MESSAGES = (
    select(_DELIVERIES.c.telegram_message_id)
    .where(
        _DELIVERIES.c.member_id == bindparam("member_id"),
        _DELIVERIES.c.subject_id == bindparam("poll_id"),
        _DELIVERIES.c.kind.in_(BALLOT_KINDS),
        _DELIVERIES.c.status == DeliveryStatus.SENT,
        _DELIVERIES.c.telegram_message_id.is_not(None),
    )
    .order_by(_DELIVERIES.c.id)
)
