"""Meeting and decision polls: date polls (yes / if need be / no per option), single- and
multiple-choice polls, named or anonymous, with reminders, a deadline and a final decision.

Votes are race-free: each voter's ballot has one row (the lock, by upsert) and at most one
answer per option (primary keys). Anonymous polls never store who answered what: the voter
appears only as keyed hashes, under a secret of the poll that is erased when the poll closes.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute

from bot.channels import ChannelService, Target, TargetView, active_member, coordinator
from bot.delivery import Priority
from bot.errors import DomainError, PersonalDataError
from bot.keys import TextCipher, bound
from bot.membership import MemberView
from bot.network import Network
from bot.personal_data import find_personal_data
from bot.timing.dates import Moment, parse_moment
from storage.audit import SYSTEM, member_actor
from storage.models import (
    AnonymousVote,
    AnonymousVoter,
    Answer,
    Member,
    Poll,
    PollBallot,
    PollKind,
    PollOption,
    PollParticipant,
    PollStatus,
    PollVote,
    Role,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory

MIN_OPTIONS, MAX_OPTIONS = 2, 20
TITLE_LIMITS = (3, 200)
OPTION_LIMITS = (1, 100)


def poll_changed(uow: UnitOfWork, poll: Poll) -> None:
    """After the commit: refresh the creator's overview, and (re)schedule the poll's next
    reminder or deadline (none once it is closed)."""
    due: datetime | None = None
    if poll.status == PollStatus.OPEN:
        due = min(poll.remind_at, poll.deadline) if poll.remind_at else poll.deadline
    uow.effects.schedule(f"poll:{poll.id}", due)
    uow.effects.touch(("poll", poll.id))


class PollNotice:
    """Delivery kinds of polls."""

    BALLOT = "poll"  # the poll with answer buttons
    REMINDER = "poll_reminder"  # not answered yet, the deadline is near
    CLOSED = "poll_closed"  # to the creator: voting ended, choose the result
    RESULT = "poll_result"  # the final option (with a calendar file for a date)


BALLOT_KINDS = (PollNotice.BALLOT, PollNotice.REMINDER)


@dataclass(frozen=True)
class OptionView:
    id: int
    position: int
    text: str | None  # free-text options
    starts_at: datetime | None  # date options
    ends_at: datetime | None
    all_day: bool


@dataclass(frozen=True)
class PollView:
    id: int
    creator: MemberView
    title: str
    kind: str
    anonymous: bool
    status: str
    deadline: datetime
    remind_at: datetime | None
    target: TargetView
    options: tuple[OptionView, ...]
    final_option_id: int | None
    closed_at: datetime | None
    closed_early: bool
    overview_chat_id: int | None
    overview_message_id: int | None

    @property
    def is_open(self) -> bool:
        return self.status == PollStatus.OPEN

    @property
    def due_at(self) -> datetime | None:
        """When the scheduler must look at the poll next: a reminder or the deadline."""
        if not self.is_open:
            return None
        return min(self.remind_at, self.deadline) if self.remind_at else self.deadline

    @property
    def final_option(self) -> OptionView | None:
        return next((o for o in self.options if o.id == self.final_option_id), None)

    def option_at(self, position: int) -> OptionView:
        found = next((o for o in self.options if o.position == position), None)
        if found is None:
            raise DomainError("poll.option_range", option=position, max=len(self.options))
        return found


@dataclass(frozen=True)
class Ballot:
    """One member's own answers (option id → answer); None when no longer knowable (an
    anonymous poll after it closed)."""

    poll: PollView
    answers: Mapping[int, str] | None
    may_vote: bool


@dataclass(frozen=True)
class Results:
    poll: PollView
    counts: Mapping[int, Mapping[str, int]]  # option id → answer → count
    answered: int
    participants: int
    # Named polls only: option id → answer → names; and who has not answered yet.
    names: Mapping[int, Mapping[str, tuple[str, ...]]] | None = None
    missing: tuple[str, ...] | None = None

    def score(self, option_id: int) -> tuple[int, int]:
        """For ranking: yes counts, then if-need-be."""
        counts = self.counts.get(option_id, {})
        return counts.get(Answer.YES, 0), counts.get(Answer.MAYBE, 0)


@dataclass(frozen=True)
class PollLine:
    """One row of /polls."""

    poll: PollView
    answers: Mapping[int, str] | None
    mine: bool


@dataclass(frozen=True)
class Due:
    """What the scheduler did to a poll, and when it is due next (None: nothing more)."""

    poll_id: int
    closed: bool
    reminded: int
    next_at: datetime | None


@dataclass
class PollDraft:
    """What a coordinator asks for; checked by `PollService.create`."""

    title: str
    kind: str
    options: list[str] = field(default_factory=list)
    anonymous: bool = False


def _hash(key: bytes, member_id: int) -> str:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(str(member_id).encode())
    return mac.finalize().hex()


def _derive(secret: bytes, poll_id: int, purpose: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=f"cora-bot poll {poll_id}".encode(),
        info=b"cora-bot " + purpose,
    ).derive(secret)


@dataclass(frozen=True)
class _Voter:
    """How a voter appears in the tables: a member id, or two unlinkable keyed hashes."""

    member_id: int
    voter_hash: str | None = None
    ballot_hash: str | None = None

    def votes(self) -> tuple[type[PollVote] | type[AnonymousVote], InstrumentedAttribute[Any], Any]:
        """Where this voter's answers are: the table, its voter column, and the voter's key."""
        if self.ballot_hash is None:
            return PollVote, PollVote.member_id, self.member_id
        return AnonymousVote, AnonymousVote.ballot_hash, self.ballot_hash


def clean_label(raw: str, limits: tuple[int, int], key: str) -> str:
    text = " ".join(raw.split())
    if not limits[0] <= len(text) <= limits[1]:
        raise DomainError(key, min=limits[0], max=limits[1], length=len(text))
    return text


class PollService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        network: Network,
        cipher: TextCipher,
        channels: ChannelService,
        *,
        timezone: str,
        reminders: Sequence[timedelta] = (timedelta(hours=24),),
    ) -> None:
        self._uow = uow
        self._network = network
        self._cipher = cipher
        self._channels = channels
        self._timezone = timezone
        self._reminders = sorted(reminders, reverse=True)

    # -- creating --------------------------------------------------------------------------

    def check_draft(self, draft: PollDraft, now: datetime) -> list[Moment | str]:
        """Validate title and options; date options become moments, sorted by time."""
        clean_label(draft.title, TITLE_LIMITS, "poll.title_length")
        if draft.kind not in (PollKind.DATE, PollKind.SINGLE, PollKind.MULTIPLE):
            raise DomainError("poll.unknown_kind")
        if not MIN_OPTIONS <= len(draft.options) <= MAX_OPTIONS:
            raise DomainError(
                "poll.option_count", min=MIN_OPTIONS, max=MAX_OPTIONS, count=len(draft.options)
            )
        texts = [draft.title]
        options: list[Moment | str] = []
        for raw in draft.options:
            if draft.kind == PollKind.DATE:
                options.append(parse_moment(raw, self._timezone, now=now, allow_end=True))
            else:
                text = clean_label(raw, OPTION_LIMITS, "poll.option_length")
                options.append(text)
                texts.append(text)
        findings = find_personal_data("\n".join(texts), self._network.place_names)
        if any(f.blocking for f in findings):
            raise PersonalDataError("poll.personal_data", [f for f in findings if f.blocking])
        keys = [(o.start, o.all_day) if isinstance(o, Moment) else o.casefold() for o in options]
        if len(set(keys)) != len(keys):
            raise DomainError("poll.duplicate_option")
        if draft.kind == PollKind.DATE:
            options.sort(key=lambda o: o.start if isinstance(o, Moment) else now)
        return options

    async def create(
        self, creator_id: int, target: Target, draft: PollDraft, deadline: datetime
    ) -> tuple[PollView, int]:
        """Store the poll and send it to everyone the target reaches; returns the poll and
        how many were asked."""
        async with self._uow() as uow:
            now = uow.now()
            creator = await coordinator(uow, creator_id)
            options = self.check_draft(draft, now)
            if deadline <= now:
                raise DomainError("date.in_past", value="")
            first = min((o.start for o in options if isinstance(o, Moment)), default=None)
            if first is not None and deadline > first:
                raise DomainError("poll.deadline_after_option")
            participants = await self._channels.resolve(uow, target)
            if not participants:
                raise DomainError("target.nobody")
            secret = base64.b64encode(os.urandom(32)).decode() if draft.anonymous else None
            poll = Poll(
                creator_id=creator.id,
                target=target.encode(),
                kind=draft.kind,
                anonymous=draft.anonymous,
                status=PollStatus.OPEN,
                deadline=deadline,
                remind_at=self._next_reminder(deadline, now),
                created_at=now,
            )
            uow.session.add(poll)
            await uow.session.flush()  # ids bind the ciphertexts to their rows
            poll.title_cipher = self._cipher.encrypt(
                " ".join(draft.title.split()), bound(Poll.title_cipher, poll.id)
            )
            if secret is not None:
                poll.voter_secret_cipher = self._cipher.encrypt(
                    secret, bound(Poll.voter_secret_cipher, poll.id)
                )
            texts: list[tuple[PollOption, str]] = []
            for position, option in enumerate(options, start=1):
                if isinstance(option, Moment):
                    row = PollOption(
                        poll_id=poll.id,
                        position=position,
                        starts_at=option.start,
                        ends_at=option.end,
                        all_day=option.all_day,
                    )
                else:
                    row = PollOption(poll_id=poll.id, position=position, all_day=False)
                    texts.append((row, option))
                uow.session.add(row)
            await uow.session.flush()
            for row, option in texts:
                row.text_cipher = self._cipher.encrypt(
                    option, bound(PollOption.text_cipher, row.id)
                )
            uow.session.add_all(
                PollParticipant(poll_id=poll.id, member_id=m.id) for m in participants
            )
            uow.deliveries.enqueue(
                kind=PollNotice.BALLOT,
                member_ids=[m.id for m in participants],
                priority=Priority.BULK,
                now=now,
                subject_id=poll.id,
            )
            uow.audit.record(
                member_actor(creator.id),
                "poll.created",
                f"poll:{poll.id}",
                kind=draft.kind,
                anonymous=draft.anonymous,
                options=len(options),
                participants=len(participants),
                channels=target.channel_ids,
            )
            await uow.commit()
            poll_changed(uow, poll)
            return await self._view(uow, poll), len(participants)

    def _next_reminder(self, deadline: datetime, now: datetime) -> datetime | None:
        times = [deadline - offset for offset in self._reminders]
        upcoming = [t for t in times if t > now]
        return min(upcoming) if upcoming else None

    # -- voting ----------------------------------------------------------------------------

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
        async with self._uow() as uow:
            member, poll = await self._voting(uow, member_id, poll_id)
            view = await self._view(uow, poll)
            by_option = self._answers_by_option(view, answers)
            voter = await self._voter(uow, poll, member.id)
            await self._lock_ballot(uow, poll, voter)
            if replace or poll.kind == PollKind.SINGLE:
                await self._clear(uow, poll, voter)
            for option_id, answer in by_option.items():
                await self._set(uow, poll, voter, option_id, answer)
            return await self._finish_vote(uow, poll, view, member, voter)

    async def toggle(self, member_id: int, poll_id: int, position: int) -> Ballot:
        """A choice button: single choice picks the option, multiple choice switches it."""
        async with self._uow() as uow:
            member, poll = await self._voting(uow, member_id, poll_id)
            view = await self._view(uow, poll)
            option = view.option_at(position)
            if poll.kind == PollKind.DATE:
                raise DomainError("button.invalid")
            voter = await self._voter(uow, poll, member.id)
            await self._lock_ballot(uow, poll, voter)
            current = await self._own_answers(uow, poll, voter)
            if poll.kind == PollKind.SINGLE:
                await self._clear(uow, poll, voter)
                await self._set(uow, poll, voter, option.id, Answer.YES)
            else:
                chosen = option.id in current
                await self._set(uow, poll, voter, option.id, None if chosen else Answer.YES)
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

    async def _voter(self, uow: UnitOfWork, poll: Poll, member_id: int) -> _Voter:
        if not poll.anonymous:
            return _Voter(member_id)
        secret = self._secret(poll)
        if secret is None:
            raise DomainError("poll.closed", poll=poll.id)
        return _Voter(
            member_id,
            _hash(_derive(secret, poll.id, b"voter"), member_id),
            _hash(_derive(secret, poll.id, b"ballot"), member_id),
        )

    def _secret(self, poll: Poll) -> bytes | None:
        if poll.voter_secret_cipher is None:
            return None
        return base64.b64decode(
            self._cipher.decrypt(poll.voter_secret_cipher, bound(Poll.voter_secret_cipher, poll.id))
        )

    def _insert(self, uow: UnitOfWork):  # type: ignore[no-untyped-def]
        return sqlite.insert if uow.is_sqlite else postgresql.insert

    async def _lock_ballot(self, uow: UnitOfWork, poll: Poll, voter: _Voter) -> None:
        """Create or touch the voter's ballot row. Its row lock makes a second, simultaneous
        answer of the same person wait until the first is committed, and then replace it."""
        insert = self._insert(uow)
        if voter.voter_hash is None:
            statement = (
                insert(PollBallot)
                .values(
                    poll_id=poll.id, member_id=voter.member_id, revision=1, updated_at=uow.now()
                )
                .on_conflict_do_update(
                    index_elements=["poll_id", "member_id"],
                    set_={"revision": PollBallot.revision + 1, "updated_at": uow.now()},
                )
            )
        else:
            statement = (
                insert(AnonymousVoter)
                .values(poll_id=poll.id, voter_hash=voter.voter_hash, revision=1)
                .on_conflict_do_update(
                    index_elements=["poll_id", "voter_hash"],
                    set_={"revision": AnonymousVoter.revision + 1},
                )
            )
        await uow.session.execute(statement)

    async def _clear(self, uow: UnitOfWork, poll: Poll, voter: _Voter) -> None:
        table, column, key = voter.votes()
        await uow.session.execute(delete(table).where(table.poll_id == poll.id, column == key))

    async def _set(
        self, uow: UnitOfWork, poll: Poll, voter: _Voter, option_id: int, answer: str | None
    ) -> None:
        """One answer per (poll, voter, option): an upsert, or a delete to clear it."""
        table, column, key = voter.votes()
        if answer is None:
            await uow.session.execute(
                delete(table).where(
                    table.poll_id == poll.id, column == key, table.option_id == option_id
                )
            )
            return
        await uow.session.execute(
            self._insert(uow)(table)
            .values({"poll_id": poll.id, column.key: key, "option_id": option_id, "answer": answer})
            .on_conflict_do_update(
                index_elements=["poll_id", column.key, "option_id"], set_={"answer": answer}
            )
        )

    async def _own_answers(self, uow: UnitOfWork, poll: Poll, voter: _Voter) -> dict[int, str]:
        table, column, key = voter.votes()
        rows = await uow.session.execute(
            select(table.option_id, table.answer).where(table.poll_id == poll.id, column == key)
        )
        return {option_id: answer for option_id, answer in rows.all()}

    async def _finish_vote(
        self, uow: UnitOfWork, poll: Poll, view: PollView, member: Member, voter: _Voter
    ) -> Ballot:
        answers = await self._own_answers(uow, poll, voter)
        if not answers:
            # An empty ballot is no ballot: "has voted" stays true only with an answer.
            if voter.voter_hash is None:
                await uow.session.execute(
                    delete(PollBallot).where(
                        PollBallot.poll_id == poll.id, PollBallot.member_id == member.id
                    )
                )
            else:
                await uow.session.execute(
                    delete(AnonymousVoter).where(
                        AnonymousVoter.poll_id == poll.id,
                        AnonymousVoter.voter_hash == voter.voter_hash,
                    )
                )
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

    # -- reading ---------------------------------------------------------------------------

    async def find(self, member_id: int, ref: str) -> int:
        """The id of poll `ref` (`7` or `#7`) if the member may see it."""
        raw = ref.strip().lstrip("#")
        if not raw.isdigit() or len(raw) > 9:
            raise DomainError("poll.unknown", poll=ref)
        async with self._uow(write=False) as uow:
            member = await active_member(uow, member_id)
            poll = await uow.session.get(Poll, int(raw))
            if poll is None or not await self._may_see(uow, poll, member):
                raise DomainError("poll.unknown", poll=ref)
            return poll.id

    async def view(self, poll_id: int) -> PollView:
        async with self._uow(write=False) as uow:
            poll = await uow.session.get(Poll, poll_id)
            if poll is None:
                raise DomainError("poll.unknown", poll=poll_id)
            return await self._view(uow, poll)

    async def ballot(self, member_id: int, poll_id: int) -> Ballot:
        """The member's own answers, if they may see the poll."""
        async with self._uow(write=False) as uow:
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
            answers = await self._own_answers(uow, poll, await self._voter(uow, poll, member.id))
            return Ballot(view, answers, may_vote=eligible and view.is_open)

    async def open_polls(self, member_id: int) -> list[PollLine]:
        """Open polls the member is asked in (with their answers), and polls they created that
        are not decided yet."""
        async with self._uow(write=False) as uow:
            member = await active_member(uow, member_id)
            asked = select(PollParticipant.poll_id).where(PollParticipant.member_id == member.id)
            polls = (
                await uow.session.scalars(
                    select(Poll)
                    .where(
                        (Poll.status == PollStatus.OPEN) & Poll.id.in_(asked)
                        | (Poll.creator_id == member.id) & (Poll.status != PollStatus.DECIDED)
                    )
                    .order_by(Poll.deadline)
                    .limit(30)
                )
            ).all()
            lines = []
            for poll in polls:
                mine = poll.creator_id == member.id
                if not mine and not await self._eligible(uow, poll, member.id):
                    continue
                answers = None
                if poll.status == PollStatus.OPEN and await self._eligible(uow, poll, member.id):
                    voter = await self._voter(uow, poll, member.id)
                    answers = await self._own_answers(uow, poll, voter)
                lines.append(PollLine(await self._view(uow, poll), answers, mine))
            return lines

    async def results(self, member_id: int, poll_id: int) -> Results:
        """The tally; names only for named polls, and who is missing only for the creator."""
        async with self._uow(write=False) as uow:
            member = await active_member(uow, member_id)
            poll = await uow.session.get(Poll, poll_id)
            if poll is None or not await self._may_see(uow, poll, member):
                raise DomainError("poll.unknown", poll=poll_id)
            return await self._results(uow, poll, for_manager=self._manages(member, poll))

    async def overview(self, poll_id: int) -> Results:
        """What the creator's live overview shows."""
        async with self._uow(write=False) as uow:
            poll = await uow.session.get(Poll, poll_id)
            if poll is None:
                raise DomainError("poll.unknown", poll=poll_id)
            return await self._results(uow, poll, for_manager=True)

    async def _results(self, uow: UnitOfWork, poll: Poll, *, for_manager: bool) -> Results:
        view = await self._view(uow, poll)
        participant_ids = list(
            await uow.session.scalars(
                select(PollParticipant.member_id).where(PollParticipant.poll_id == poll.id)
            )
        )
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
            return Results(view, counts, int(answered or 0), len(participant_ids))
        votes = (
            await uow.session.execute(
                select(PollVote.option_id, PollVote.answer, PollVote.member_id).where(
                    PollVote.poll_id == poll.id
                )
            )
        ).all()
        voters = {member_id for _, _, member_id in votes}
        people = {
            m.id: m.display_name or f"#{m.id}"
            for m in await uow.members.by_ids(voters | set(participant_ids))
        }
        names: dict[int, dict[str, list[str]]] = {}
        for option_id, answer, member_id in sorted(votes, key=lambda v: people[v[2]]):
            tally = counts.setdefault(option_id, {})
            tally[answer] = tally.get(answer, 0) + 1
            names.setdefault(option_id, {}).setdefault(answer, []).append(people[member_id])
        missing = None
        if for_manager:
            missing = tuple(sorted(people[m] for m in participant_ids if m not in voters))
        return Results(
            view,
            counts,
            len(voters),
            len(participant_ids),
            {o: {a: tuple(n) for a, n in by.items()} for o, by in names.items()},
            missing,
        )

    async def due_times(self) -> list[tuple[int, datetime]]:
        """The next reminder or deadline of every open poll, to (re)schedule them."""
        async with self._uow(write=False) as uow:
            rows = await uow.session.execute(
                select(Poll.id, Poll.remind_at, Poll.deadline).where(Poll.status == PollStatus.OPEN)
            )
            return [(i, min(r, d) if r else d) for i, r, d in rows.all()]

    async def undecided_ids(self) -> list[int]:
        async with self._uow(write=False) as uow:
            return list(
                await uow.session.scalars(select(Poll.id).where(Poll.status != PollStatus.DECIDED))
            )

    async def ballot_messages(self, member_id: int, poll_id: int) -> list[tuple[int, int]]:
        """(chat id, message id) of the member's poll messages with answer buttons."""
        async with self._uow(write=False) as uow:
            return await uow.deliveries.sent_messages(
                member_id=member_id, subject_id=poll_id, kinds=BALLOT_KINDS
            )

    async def set_overview_message(self, poll_id: int, chat_id: int, message_id: int) -> None:
        async with self._uow() as uow:
            await uow.session.execute(
                update(Poll)
                .where(Poll.id == poll_id)
                .values(overview_chat_id=chat_id, overview_message_id=message_id)
            )
            await uow.commit()

    # -- closing and deciding ---------------------------------------------------------------

    async def run_due(self) -> list[Due]:
        """Send due reminders and close polls whose deadline has passed (also what fell due
        while the bot was down); polls another instance is handling are skipped."""
        done: list[Due] = []
        async with self._uow() as uow:
            now = uow.now()
            due = (
                await uow.session.scalars(
                    select(Poll)
                    .where(
                        Poll.status == PollStatus.OPEN,
                        (Poll.deadline <= now) | (Poll.remind_at <= now),
                    )
                    .order_by(Poll.id)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for poll in due:
                if poll.deadline <= now:
                    self._close(uow, poll, now, by=None)
                    done.append(Due(poll.id, True, 0, None))
                    continue
                reminded = await self._remind(uow, poll, now)
                poll.remind_at = self._next_reminder(poll.deadline, now)
                done.append(
                    Due(
                        poll.id,
                        False,
                        reminded,
                        min(poll.remind_at or poll.deadline, poll.deadline),
                    )
                )
            if due:
                await uow.commit()
        return done

    async def _remind(self, uow: UnitOfWork, poll: Poll, now: datetime) -> int:
        participants = set(
            await uow.session.scalars(
                select(PollParticipant.member_id).where(PollParticipant.poll_id == poll.id)
            )
        )
        eligible = [
            m.id
            for m in await self._channels.resolve(uow, Target.decode(poll.target))
            if m.id in participants
        ]
        if poll.anonymous:
            secret = self._secret(poll)
            assert secret is not None
            key = _derive(secret, poll.id, b"voter")
            voted = set(
                await uow.session.scalars(
                    select(AnonymousVoter.voter_hash).where(AnonymousVoter.poll_id == poll.id)
                )
            )
            missing = [m for m in eligible if _hash(key, m) not in voted]
        else:
            voted_ids = set(
                await uow.session.scalars(
                    select(PollBallot.member_id).where(PollBallot.poll_id == poll.id)
                )
            )
            missing = [m for m in eligible if m not in voted_ids]
        count = uow.deliveries.enqueue(
            kind=PollNotice.REMINDER,
            member_ids=missing,
            priority=Priority.BULK,
            now=now,
            subject_id=poll.id,
        )
        uow.audit.record(SYSTEM, "poll.reminded", f"poll:{poll.id}", recipients=count)
        return count

    def _close(self, uow: UnitOfWork, poll: Poll, now: datetime, *, by: int | None) -> None:
        poll.status = PollStatus.CLOSED
        poll.closed_at, poll.closed_by, poll.remind_at = now, by, None
        # Without the secret nobody, not even with the database and the key, can link the
        # stored hashes to people any more; the answers can no longer change anyway.
        poll.voter_secret_cipher = None
        uow.deliveries.enqueue(
            kind=PollNotice.CLOSED,
            member_ids=[poll.creator_id],
            priority=Priority.NORMAL,
            now=now,
            subject_id=poll.id,
        )
        actor = member_actor(by) if by is not None else SYSTEM
        uow.audit.record(actor, "poll.closed", f"poll:{poll.id}", early=by is not None)

    async def close(self, actor_id: int, poll_id: int) -> PollView:
        """Close a poll before its deadline (its creator or a statewide coordinator)."""
        async with self._uow() as uow:
            actor = await active_member(uow, actor_id)
            poll = await self._managed(uow, actor, poll_id)
            if poll.status != PollStatus.OPEN:
                raise DomainError("poll.closed", poll=poll.id)
            self._close(uow, poll, uow.now(), by=actor.id)
            await uow.commit()
            poll_changed(uow, poll)
            return await self._view(uow, poll)

    async def decide(self, actor_id: int, poll_id: int, position: int | None) -> PollView:
        """Fix the final option (or none) and send the result to everyone asked."""
        async with self._uow() as uow:
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
            participants = set(
                await uow.session.scalars(
                    select(PollParticipant.member_id).where(PollParticipant.poll_id == poll.id)
                )
            )
            reached = [
                m.id
                for m in await self._channels.resolve(uow, Target.decode(poll.target))
                if m.id in participants
            ]
            recipients = sorted({*reached, poll.creator_id})
            uow.deliveries.enqueue(
                kind=PollNotice.RESULT,
                member_ids=recipients,
                priority=Priority.NORMAL,
                now=now,
                subject_id=poll.id,
            )
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

    # -- helpers ---------------------------------------------------------------------------

    async def _eligible(self, uow: UnitOfWork, poll: Poll, member_id: int) -> bool:
        """Asked when the poll was created, and still reached by its target now."""
        asked = await uow.session.get(PollParticipant, (poll.id, member_id))
        return asked is not None and await self._channels.admits(
            uow, Target.decode(poll.target), member_id
        )

    def _manages(self, member: Member, poll: Poll) -> bool:
        return poll.creator_id == member.id or (
            member.role == Role.COORDINATOR and member.region == self._network.statewide_region
        )

    async def _may_see(self, uow: UnitOfWork, poll: Poll, member: Member) -> bool:
        return self._manages(member, poll) or await self._eligible(uow, poll, member.id)

    async def _managed(self, uow: UnitOfWork, actor: Member, poll_id: int) -> Poll:
        poll = await uow.session.get(Poll, poll_id, with_for_update=True)
        if poll is None or not await self._may_see(uow, poll, actor):
            raise DomainError("poll.unknown", poll=poll_id)
        if not self._manages(actor, poll):
            raise DomainError("poll.not_yours", poll=poll.id)
        return poll

    async def _view(self, uow: UnitOfWork, poll: Poll) -> PollView:
        creator = await uow.members.get(poll.creator_id)
        assert creator is not None
        options = (
            await uow.session.scalars(
                select(PollOption)
                .where(PollOption.poll_id == poll.id)
                .order_by(PollOption.position)
            )
        ).all()
        return PollView(
            id=poll.id,
            creator=MemberView.of(creator),
            title=(
                self._cipher.decrypt(poll.title_cipher, bound(Poll.title_cipher, poll.id))
                if poll.title_cipher
                else "–"
            ),
            kind=poll.kind,
            anonymous=poll.anonymous,
            status=poll.status,
            deadline=poll.deadline,
            remind_at=poll.remind_at,
            target=await self._channels.view_target(uow, Target.decode(poll.target)),
            options=tuple(
                OptionView(
                    id=o.id,
                    position=o.position,
                    text=(
                        self._cipher.decrypt(o.text_cipher, bound(PollOption.text_cipher, o.id))
                        if o.text_cipher
                        else None
                    ),
                    starts_at=o.starts_at,
                    ends_at=o.ends_at,
                    all_day=o.all_day,
                )
                for o in options
            ),
            final_option_id=poll.final_option_id,
            closed_at=poll.closed_at,
            closed_early=poll.closed_by is not None,
            overview_chat_id=poll.overview_chat_id,
            overview_message_id=poll.overview_message_id,
        )
