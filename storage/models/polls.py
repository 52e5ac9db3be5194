"""Meeting and decision polls, named and anonymous."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, IntPK, MemberLink, MemberRef, TelegramId, enum_check


class PollKind(enum.StrEnum):
    DATE = "date"  # per option yes / if need be / no
    SINGLE = "single"
    MULTIPLE = "multiple"


class PollStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # voting ended, the final option is not chosen yet
    DECIDED = "decided"  # result announced


class Answer(enum.StrEnum):
    YES = "yes"
    MAYBE = "maybe"
    NO = "no"


class Poll(Base):
    """A meeting or decision poll. Title and options are stored encrypted only."""

    __tablename__ = "polls"
    __table_args__ = (
        enum_check("kind", "kind", PollKind),
        enum_check("status", "status", PollStatus),
        Index("ix_polls_status_deadline", "status", "deadline"),
    )

    id: Mapped[IntPK]
    creator_id: Mapped[MemberRef]
    target: Mapped[str] = mapped_column(Text)  # JSON of codes and channel ids, no free text
    kind: Mapped[str] = mapped_column(String(10))
    anonymous: Mapped[bool] = mapped_column(default=False)
    title_cipher: Mapped[bytes | None]
    # Anonymous polls: the per-poll secret behind the voters' keyed hashes (encrypted); erased
    # when the poll closes, so that afterwards nobody can link a hash to a person.
    voter_secret_cipher: Mapped[bytes | None]
    status: Mapped[str] = mapped_column(String(10))
    deadline: Mapped[datetime]
    remind_at: Mapped[datetime | None]  # the next reminder, None when none is due
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[MemberRef | None]  # None: deadline
    final_option_id: Mapped[int | None]
    decided_at: Mapped[datetime | None]
    overview_chat_id: Mapped[TelegramId | None]
    overview_message_id: Mapped[TelegramId | None]


class PollOption(Base):
    """One option; a date poll's options are points in time, the others free text."""

    __tablename__ = "poll_options"
    __table_args__ = (
        UniqueConstraint("poll_id", "position"),
        CheckConstraint("position BETWEEN 1 AND 20", name="position_range"),
    )

    id: Mapped[IntPK]
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    position: Mapped[int] = mapped_column(SmallInteger)
    text_cipher: Mapped[bytes | None]
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    all_day: Mapped[bool] = mapped_column(default=False)


class PollParticipant(MemberLink, Base):
    """Who was asked (resolved when the poll was created); says nothing about answers."""

    __tablename__ = "poll_participants"
    link = "poll_id"

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))


class PollBallot(Base):
    """One named voter's ballot; its row is the lock that serialises their answers."""

    __tablename__ = "poll_ballots"
    __table_args__ = (PrimaryKeyConstraint("poll_id", "member_id"),)

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    member_id: Mapped[MemberRef]
    revision: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime]


class PollVote(Base):
    """A named voter's answer to one option: at most one per (poll, voter, option)."""

    __tablename__ = "poll_votes"
    __table_args__ = (
        PrimaryKeyConstraint("poll_id", "member_id", "option_id"),
        enum_check("answer", "answer", Answer),
    )

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    member_id: Mapped[MemberRef]
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id"))
    answer: Mapped[str] = mapped_column(String(5))


class AnonymousVoter(Base):
    """ "Has voted" in an anonymous poll: a keyed hash of the person, nothing else (no time).
    The row is also the lock that serialises one person's answers."""

    __tablename__ = "poll_anonymous_voters"
    __table_args__ = (PrimaryKeyConstraint("poll_id", "voter_hash"),)

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    voter_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(default=1)


class AnonymousVote(Base):
    """An anonymous answer, keyed by a second hash that cannot be joined with the voter table
    without the poll's secret; so it can be replaced while the poll is open."""

    __tablename__ = "poll_anonymous_votes"
    __table_args__ = (
        PrimaryKeyConstraint("poll_id", "ballot_hash", "option_id"),
        enum_check("answer", "answer", Answer),
    )

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    ballot_hash: Mapped[str] = mapped_column(String(64))
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id"))
    answer: Mapped[str] = mapped_column(String(5))
