"""SQLAlchemy models: the database is the bot's memory."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Role(enum.StrEnum):
    MEMBER = "member"
    COORDINATOR = "coordinator"


class MemberStatus(enum.StrEnum):
    ONBOARDING = "onboarding"  # redeemed an invite, still giving name and institution
    APPLYING = "applying"  # filling in an access request
    PENDING = "pending"  # request complete, waiting for a coordinator
    ACTIVE = "active"
    REJECTED = "rejected"
    REVOKED = "revoked"
    LEFT = "left"  # personal data erased (GDPR art. 17); only the id remains as a pseudonym


def _enum_check(name: str, column: str, values: type[enum.StrEnum]) -> CheckConstraint:
    allowed = ", ".join(f"'{value.value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


class Member(Base):
    """A person known to the bot: a verified professional or someone on the way there."""

    __tablename__ = "members"
    __table_args__ = (
        _enum_check("role", "role", Role),
        _enum_check("status", "status", MemberStatus),
        CheckConstraint(
            "(quiet_from IS NULL AND quiet_until IS NULL) OR "
            "(quiet_from BETWEEN 0 AND 1439 AND quiet_until BETWEEN 0 AND 1439 "
            "AND quiet_from <> quiet_until)",
            name="quiet_hours",
        ),
        Index("ix_members_status_sector_region", "status", "sector", "region"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    display_name: Mapped[str | None] = mapped_column(String(100))
    institution: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(40))
    region: Mapped[str | None] = mapped_column(String(10))
    role: Mapped[str] = mapped_column(String(20), default=Role.MEMBER)
    status: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]
    status_changed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # Set when Telegram refused a delivery (blocked bot, deleted account); cleared on success.
    unreachable_since: Mapped[datetime | None]
    # Quiet hours for non-urgent messages, minutes after midnight in the network's time zone;
    # the window may wrap around midnight (22:00-07:00).
    quiet_from: Mapped[int | None] = mapped_column(SmallInteger)
    quiet_until: Mapped[int | None] = mapped_column(SmallInteger)
    # The invitation this person joined with (its coordinator is told of every redemption).
    # (No foreign key: invites already refer to members, and the cycle is not worth it.)
    invite_id: Mapped[int | None] = mapped_column(Integer)
    # When the coordinators were last told that this member hit ALERT_URGENT_PER_HOUR.
    urgent_limit_noticed_at: Mapped[datetime | None]


class Invite(Base):
    """An invitation bound to sector, region and role; only the token's hash is stored."""

    __tablename__ = "invites"
    __table_args__ = (
        _enum_check("role", "role", Role),
        CheckConstraint("uses >= 0 AND uses <= max_uses", name="uses_within_limit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sector: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(10))
    role: Mapped[str] = mapped_column(String(20))
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    withdrawn_at: Mapped[datetime | None]  # the coordinator withdrew the link (/invites)


class AuditEvent(Base):
    """One link of the append-only, hash-chained audit log."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[str] = mapped_column(String(32))  # canonical ISO text, part of the hash
    actor: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, part of the hash
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Base):
    """A signed statement of the chain's head: later truncation or rewriting shows."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[str] = mapped_column(String(32))  # canonical ISO text, part of the signature
    key_id: Mapped[str] = mapped_column(String(16))  # which Ed25519 key signed it
    signature: Mapped[str] = mapped_column(String(128))  # hex


class AuditHead(Base):
    """The newest link of the chain; its row lock serialises appends across processes."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class Urgency(enum.StrEnum):
    URGENT = "urgent"
    NORMAL = "normal"


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Alert(Base):
    """A pseudonymised case alert; its text is stored encrypted only."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("(sender_id IS NULL) <> (api_client_id IS NULL)", name="one_sender"),
        _enum_check("urgency", "urgency", Urgency),
        _enum_check("status", "status", AlertStatus),
        Index("ix_alerts_escalate_at", "escalate_at"),
        # ALERT_URGENT_PER_HOUR counts a sender's alerts of the last hour.
        Index("ix_alerts_sender_id_created_at", "sender_id", "created_at"),
        Index("ix_alerts_api_client_id_created_at", "api_client_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    # A member raised it in the chat, or an agency system through the HTTP API.
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    sectors: Mapped[str] = mapped_column(String(400))  # comma-separated sector codes
    region: Mapped[str] = mapped_column(String(10))
    urgency: Mapped[str] = mapped_column(String(10))
    text_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once retention ran
    status: Mapped[str] = mapped_column(String(10), default=AlertStatus.OPEN)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    taken_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    taken_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    escalate_at: Mapped[datetime | None]  # the next escalation deadline, None when none is due
    status_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    status_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Filled by retention, when texts are deleted and deliveries are reduced to counts.
    purged_at: Mapped[datetime | None]
    delivered_count: Mapped[int | None] = mapped_column(Integer)
    undelivered_count: Mapped[int | None] = mapped_column(Integer)
    # An exercise: marked in every message, never escalated beyond its recipients, counted
    # apart from real alerts; its result goes to the coordinator who ran it at result_due_at.
    drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    result_due_at: Mapped[datetime | None]


class RecipientReason(enum.StrEnum):
    TARGET = "target"  # matched the alert's sectors and region
    DEPUTY = "deputy"  # stands in for an absent member (see AlertRecipient.deputy_id)
    AWAY = "away"  # matched, but absent: nothing is sent to them
    ESCALATION = "escalation"  # a coordinator brought in by escalation


class AlertRecipient(Base):
    __tablename__ = "alert_recipients"
    __table_args__ = (
        PrimaryKeyConstraint("alert_id", "member_id"),
        _enum_check("reason", "reason", RecipientReason),
        Index("ix_alert_recipients_member_id", "member_id"),
    )

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    reason: Mapped[str] = mapped_column(String(12))
    acknowledged_at: Mapped[datetime | None]
    # The member's sector when the alert was raised, so that figures do not move when
    # somebody changes sector later (None on rows from before it was recorded).
    sector: Mapped[str | None] = mapped_column(String(40))
    # On an AWAY row: who received the alert in the absent member's place (None: nobody).
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class FollowUp(Base):
    """A later message on an alert, encrypted like the alert itself."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    text_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class CaseCounter(Base):
    """The running number of case references per year (F-2026-0042)."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(Integer)


class DrillCounter(Base):
    """The running number of drill references per year (U-2026-0003), apart from cases."""

    __tablename__ = "drill_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(Integer)


class Absence(Base):
    """A planned absence: until the end of `until_day` (network time zone) the member's alerts go
    to their deputy, or they are counted as away."""

    __tablename__ = "absences"
    __table_args__ = (Index("ix_absences_member_id_ends_at", "member_id", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    starts_at: Mapped[datetime]
    until_day: Mapped[date]
    ends_at: Mapped[datetime]  # midnight after until_day in the network's time zone, in UTC
    ended_at: Mapped[datetime | None]  # ended early (/back, erasure)
    created_at: Mapped[datetime]


class RegionStatus(enum.StrEnum):
    PENDING = "pending"  # asked for, waiting for a coordinator of that region
    CONFIRMED = "confirmed"


class MemberRegion(Base):
    """A further region a member is reachable for, once a coordinator of it confirmed."""

    __tablename__ = "member_regions"
    __table_args__ = (
        UniqueConstraint("member_id", "region"),
        _enum_check("status", "status", RegionStatus),
        Index("ix_member_regions_region_status", "region", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    region: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))
    requested_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # gave up after retries, or Telegram refused the message itself
    UNREACHABLE = "unreachable"  # blocked bot or deleted account (403)
    CANCELLED = "cancelled"  # the recipient was no longer an active member

    @property
    def is_final(self) -> bool:
        return self not in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


class Delivery(Base):
    """The outbox: one row per message to one person, committed before anything is sent."""

    __tablename__ = "deliveries"
    __table_args__ = (
        _enum_check("status", "status", DeliveryStatus),
        # The claim's order (see DeliveryRepository.due): read in index order, never sorted.
        Index("ix_deliveries_turn", "status", "priority", "turn", "next_attempt_at"),
        Index("ix_deliveries_alert_id", "alert_id"),
        # A person's messages about a subject (their poll messages, to show a new answer).
        Index("ix_deliveries_member_subject", "member_id", "subject_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    subject_id: Mapped[int | None] = mapped_column(Integer)  # e.g. a follow-up
    params: Mapped[str] = mapped_column(Text, default="{}")  # small JSON of ids, no free text
    priority: Mapped[int] = mapped_column(SmallInteger)
    # Its place in the round-robin within a priority: the n-th delivery of an alert (or of one
    # announcement, poll …) has turn n, so alerts take turns instead of queueing whole.
    turn: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    claimed_until: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(80))


class ApiClient(Base):
    """An agency system allowed to raise alerts through the HTTP API, bound to a sector and a
    region. Its API key is never stored: only its SHA-256 hash, itself encrypted at rest."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    sector: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(10))
    key_hash_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # When the coordinators were last told that this key hit ALERT_URGENT_PER_HOUR.
    urgent_limit_noticed_at: Mapped[datetime | None]


class ApiIdempotency(Base):
    """The answer to a request with an Idempotency-Key, so a retry gets it again."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("client_id", "key", name="uq_api_idempotency_client_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"))
    key: Mapped[str] = mapped_column(String(100))
    body_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[str] = mapped_column(Text)  # JSON of ids and states, no free text
    created_at: Mapped[datetime]


class ApiSignature(Base):
    """Signatures seen recently: the same signed request is accepted only once."""

    __tablename__ = "api_signatures"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class HandledUpdate(Base):
    """A Telegram update taken in by the webhook: a resent copy (Telegram resends when our
    answer came late) is not handled again, also by another instance or after a restart.
    Kept for a day, longer than Telegram keeps an update."""

    __tablename__ = "handled_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(index=True)


# -- channels, announcements and polls ------------------------------------------------------


class ChannelMembership(enum.StrEnum):
    OPT_IN = "opt_in"  # members the rule admits may join and leave
    AUTOMATIC = "automatic"  # everyone the rule admits is in it


class ChannelStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Channel(Base):
    """A topical channel ("AG Kinderschutz"); the sector and region channels are implied by the
    members' profiles and never stored. Empty sectors or regions mean "all"."""

    __tablename__ = "channels"
    __table_args__ = (
        _enum_check("membership", "membership", ChannelMembership),
        _enum_check("status", "status", ChannelStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    sectors: Mapped[str] = mapped_column(String(400), default="")  # comma-separated codes
    regions: Mapped[str] = mapped_column(String(200), default="")  # comma-separated codes
    membership: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10), default=ChannelStatus.ACTIVE)
    created_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]
    archived_at: Mapped[datetime | None]


class ChannelMember(Base):
    """Who joined an opt-in channel; only valid while the channel's rule admits the member."""

    __tablename__ = "channel_members"
    __table_args__ = (
        PrimaryKeyConstraint("channel_id", "member_id"),
        Index("ix_channel_members_member_id", "member_id"),
    )

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    joined_at: Mapped[datetime]


class AnnouncementStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    CANCELLED = "cancelled"


class Announcement(Base):
    """A coordinator's message to a target; its text is stored encrypted only."""

    __tablename__ = "announcements"
    __table_args__ = (
        _enum_check("status", "status", AnnouncementStatus),
        Index("ix_announcements_status_send_at", "status", "send_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    target: Mapped[str] = mapped_column(Text)  # JSON of codes and channel ids, no free text
    text_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    read_confirmation: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10))
    send_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    status_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    status_message_id: Mapped[int | None] = mapped_column(BigInteger)


class AnnouncementRecipient(Base):
    __tablename__ = "announcement_recipients"
    __table_args__ = (
        PrimaryKeyConstraint("announcement_id", "member_id"),
        Index("ix_announcement_recipients_member_id", "member_id"),
    )

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    read_at: Mapped[datetime | None]


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
        _enum_check("kind", "kind", PollKind),
        _enum_check("status", "status", PollStatus),
        Index("ix_polls_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    target: Mapped[str] = mapped_column(Text)  # JSON of codes and channel ids, no free text
    kind: Mapped[str] = mapped_column(String(10))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    title_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Anonymous polls: the per-poll secret behind the voters' keyed hashes (encrypted); erased
    # when the poll closes, so that afterwards nobody can link a hash to a person.
    voter_secret_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(10))
    deadline: Mapped[datetime]
    remind_at: Mapped[datetime | None]  # the next reminder, None when none is due
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))  # None: deadline
    final_option_id: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[datetime | None]
    overview_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    overview_message_id: Mapped[int | None] = mapped_column(BigInteger)


class PollOption(Base):
    """One option; a date poll's options are points in time, the others free text."""

    __tablename__ = "poll_options"
    __table_args__ = (
        UniqueConstraint("poll_id", "position"),
        CheckConstraint("position BETWEEN 1 AND 20", name="position_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    position: Mapped[int] = mapped_column(SmallInteger)
    text_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)


class PollParticipant(Base):
    """Who was asked (resolved when the poll was created); says nothing about answers."""

    __tablename__ = "poll_participants"
    __table_args__ = (
        PrimaryKeyConstraint("poll_id", "member_id"),
        Index("ix_poll_participants_member_id", "member_id"),
    )

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))


class PollBallot(Base):
    """One named voter's ballot; its row is the lock that serialises their answers."""

    __tablename__ = "poll_ballots"
    __table_args__ = (PrimaryKeyConstraint("poll_id", "member_id"),)

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]


class PollVote(Base):
    """A named voter's answer to one option: at most one per (poll, voter, option)."""

    __tablename__ = "poll_votes"
    __table_args__ = (
        PrimaryKeyConstraint("poll_id", "member_id", "option_id"),
        _enum_check("answer", "answer", Answer),
    )

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id"))
    answer: Mapped[str] = mapped_column(String(5))


class AnonymousVoter(Base):
    """ "Has voted" in an anonymous poll: a keyed hash of the person, nothing else (no time).
    The row is also the lock that serialises one person's answers."""

    __tablename__ = "poll_anonymous_voters"
    __table_args__ = (PrimaryKeyConstraint("poll_id", "voter_hash"),)

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    voter_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)


class AnonymousVote(Base):
    """An anonymous answer, keyed by a second hash that cannot be joined with the voter table
    without the poll's secret; so it can be replaced while the poll is open."""

    __tablename__ = "poll_anonymous_votes"
    __table_args__ = (
        PrimaryKeyConstraint("poll_id", "ballot_hash", "option_id"),
        _enum_check("answer", "answer", Answer),
    )

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    ballot_hash: Mapped[str] = mapped_column(String(64))
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id"))
    answer: Mapped[str] = mapped_column(String(5))


# -- the support system: offers, free places, needs -------------------------------------------


class Offer(Base):
    """An institution's offer (a shelter, a counselling centre …): institutional data only, no
    data of people affected and no private data of staff. Codes are comma-separated."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("places_free IS NULL OR places_free >= 0", name="places_free"),
        CheckConstraint("waiting_days IS NULL OR waiting_days >= 0", name="waiting_days"),
        Index("ix_offers_kind_active", "kind", "active"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # the id in the offers file
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    topics: Mapped[str] = mapped_column(String(400), default="")
    target_groups: Mapped[str] = mapped_column(String(200), default="")
    languages: Mapped[str] = mapped_column(String(200), default="")
    accessibility: Mapped[str] = mapped_column(String(200), default="")
    regions: Mapped[str] = mapped_column(String(200))  # regions served
    contact: Mapped[str] = mapped_column(String(300), default="")
    hours: Mapped[str] = mapped_column(String(200), default="")
    reports_places: Mapped[bool] = mapped_column(Boolean, default=False)
    places_free: Mapped[int | None] = mapped_column(Integer)
    places_reported_at: Mapped[datetime | None]
    places_reminded_at: Mapped[datetime | None]  # last reminder to report (stale places)
    waiting_days: Mapped[int | None] = mapped_column(SmallInteger)
    waiting_reported_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OfferMaintainer(Base):
    """A member a coordinator named to keep an offer up to date and to answer its needs."""

    __tablename__ = "offer_maintainers"
    __table_args__ = (
        PrimaryKeyConstraint("offer_id", "member_id"),
        Index("ix_offer_maintainers_member_id", "member_id"),
    )

    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    added_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))  # None: operator
    added_at: Mapped[datetime]


class PlaceReport(Base):
    """One report of free places, kept as a count (for the report's share of days with a free
    place)."""

    __tablename__ = "place_reports"
    __table_args__ = (
        CheckConstraint("free >= 0", name="free"),
        Index("ix_place_reports_offer_id_reported_at", "offer_id", "reported_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    free: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[datetime]
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class NeedStatus(enum.StrEnum):
    OPEN = "open"
    TAKEN = "taken"  # an offer said "we can"
    UNMET = "unmet"  # nobody took it in time, or it was closed as unmet (see unmet_reason)


class UnmetReason(enum.StrEnum):
    NO_OFFER = "no_offer"  # no offer of this kind or topic
    NO_PLACES = "no_places"  # offers exist, but no free place (or all said "we cannot")
    LANGUAGE = "language"  # none in the language asked for
    ACCESSIBILITY = "accessibility"  # none accessible as asked for
    NOBODY_ANSWERED = "nobody_answered"


class Need(Base):
    """A request for help from a professional or an agency system: what, where, for how many; its
    case reference and note are stored encrypted only. Deadlines live here, so that widening,
    escalation and "unmet" survive a restart."""

    __tablename__ = "needs"
    __table_args__ = (
        CheckConstraint("(requester_id IS NULL) <> (api_client_id IS NULL)", name="one_requester"),
        CheckConstraint("(kind IS NULL) <> (topic IS NULL)", name="kind_or_topic"),
        CheckConstraint("adults >= 0 AND children >= 0", name="people"),
        _enum_check("status", "status", NeedStatus),
        _enum_check("urgency", "urgency", Urgency),
        CheckConstraint(
            "unmet_reason IS NULL OR unmet_reason IN "
            f"({', '.join(repr(r.value) for r in UnmetReason)})",
            name="unmet_reason",
        ),
        Index("ix_needs_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    kind: Mapped[str | None] = mapped_column(String(40))
    topic: Mapped[str | None] = mapped_column(String(40))
    adults: Mapped[int] = mapped_column(SmallInteger, default=0)
    children: Mapped[int] = mapped_column(SmallInteger, default=0)
    region: Mapped[str] = mapped_column(String(10))
    language: Mapped[str | None] = mapped_column(String(10))
    accessibility: Mapped[str | None] = mapped_column(String(40))
    urgency: Mapped[str] = mapped_column(String(10))
    case_ref_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once retention ran
    note_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(10), default=NeedStatus.OPEN)
    stage: Mapped[int] = mapped_column(SmallInteger, default=0)  # 0 region, 1 neighbours, 2 state
    widen_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    escalate_at: Mapped[datetime | None]
    unmet_at: Mapped[datetime | None]  # the deadline after which nobody took it
    created_at: Mapped[datetime]
    taken_offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))
    taken_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    taken_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))  # None: deadline
    unmet_reason: Mapped[str | None] = mapped_column(String(20))
    purged_at: Mapped[datetime | None]


class NeedOffer(Base):
    """An offer a need was sent to, at which stage, and its answer."""

    __tablename__ = "need_offers"
    __table_args__ = (
        PrimaryKeyConstraint("need_id", "offer_id"),
        CheckConstraint("answer IS NULL OR answer IN ('yes', 'no')", name="answer"),
        Index("ix_need_offers_offer_id", "offer_id"),
    )

    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    stage: Mapped[int] = mapped_column(SmallInteger)
    asked_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(String(3))
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    answered_at: Mapped[datetime | None]


class NeedCounter(Base):
    """The running number of need references per year (B-2026-0007: Bedarf)."""

    __tablename__ = "need_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(Integer)
