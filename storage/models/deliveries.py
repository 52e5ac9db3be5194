"""The outbox: one row per message to one person."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, IntPK, MemberRef, TelegramId, enum_check


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
        enum_check("status", "status", DeliveryStatus),
        # The claim's order (see DeliveryRepository.due): read in index order, never sorted.
        Index("ix_deliveries_turn", "status", "priority", "turn", "next_attempt_at"),
        Index("ix_deliveries_alert_id", "alert_id"),
        # A person's messages about a subject (their poll messages, to show a new answer).
        Index("ix_deliveries_member_subject", "member_id", "subject_id"),
    )

    id: Mapped[IntPK]
    kind: Mapped[str] = mapped_column(String(24))
    member_id: Mapped[MemberRef]
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    subject_id: Mapped[int | None]  # e.g. a follow-up
    params: Mapped[str] = mapped_column(Text, default="{}")  # small JSON of ids, no free text
    priority: Mapped[int] = mapped_column(SmallInteger)
    # Its place in the round-robin within a priority: the n-th delivery of an alert (or of one
    # announcement, poll …) has turn n, so alerts take turns instead of queueing whole.
    turn: Mapped[int] = mapped_column(default=0, server_default="0")
    silent: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    claimed_until: Mapped[datetime | None]
    telegram_message_id: Mapped[TelegramId | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(80))


class Instance(Base):
    """A bot process on a database that several share (PostgreSQL), as of its last heartbeat:
    the running ones split Telegram's flood limit between them."""

    __tablename__ = "instances"

    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime]
