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
        _enum_check("urgency", "urgency", Urgency),
        _enum_check("status", "status", AlertStatus),
        Index("ix_alerts_escalate_at", "escalate_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
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
        Index("ix_deliveries_due", "status", "priority", "next_attempt_at"),
        Index("ix_deliveries_alert_id", "alert_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    subject_id: Mapped[int | None] = mapped_column(Integer)  # e.g. a follow-up
    params: Mapped[str] = mapped_column(Text, default="{}")  # small JSON of ids, no free text
    priority: Mapped[int] = mapped_column(SmallInteger)
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
