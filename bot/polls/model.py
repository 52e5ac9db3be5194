"""What polls are made of, as the rest of the bot sees them: limits, delivery kinds, views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.channels import TargetView
from bot.errors import DomainError
from bot.membership import MemberView
from storage.models import Answer, Poll, PollStatus
from storage.uow import UnitOfWork

MIN_OPTIONS, MAX_OPTIONS = 2, 20
TITLE_LIMITS = (3, 200)
OPTION_LIMITS = (1, 100)


class PollRecord(Protocol):
    """A poll's columns: its row object, or a plain row of the table (a press reads the poll
    without building a row object)."""

    @property
    def id(self) -> int: ...
    @property
    def creator_id(self) -> int: ...
    @property
    def target(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def anonymous(self) -> bool: ...
    @property
    def title_cipher(self) -> bytes | None: ...
    @property
    def voter_secret_cipher(self) -> bytes | None: ...
    @property
    def status(self) -> str: ...
    @property
    def deadline(self) -> datetime: ...
    @property
    def remind_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def closed_by(self) -> int | None: ...
    @property
    def final_option_id(self) -> int | None: ...
    @property
    def overview_chat_id(self) -> int | None: ...
    @property
    def overview_message_id(self) -> int | None: ...


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
class OwnAnswers:
    """A poll and one member's own answers (option id → answer); None when no longer knowable
    (an anonymous poll after it closed)."""

    poll: PollView
    answers: Mapping[int, str] | None


# Where a message is: (chat id, message id).
Message = tuple[int, int]


@dataclass(frozen=True)
class Ballot(OwnAnswers):
    may_vote: bool
    member: MemberView | None = None
    messages: tuple[Message, ...] = ()  # with answer buttons


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
class PollLine(OwnAnswers):
    """One row of /polls: `mine`, the member created it."""

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


def clean_label(raw: str, limits: tuple[int, int], key: str) -> str:
    text = " ".join(raw.split())
    if not limits[0] <= len(text) <= limits[1]:
        raise DomainError(key, min=limits[0], max=limits[1], length=len(text))
    return text
