"""Case alerts, their recipients and follow-ups."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import (
    Base,
    IntPK,
    MemberLink,
    MemberRef,
    Region,
    Sector,
    TelegramId,
    YearCounter,
    enum_check,
)


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
        enum_check("urgency", "urgency", Urgency),
        enum_check("status", "status", AlertStatus),
        Index("ix_alerts_escalate_at", "escalate_at"),
        # ALERT_URGENT_PER_HOUR counts a sender's alerts of the last hour.
        Index("ix_alerts_sender_id_created_at", "sender_id", "created_at"),
        Index("ix_alerts_api_client_id_created_at", "api_client_id", "created_at"),
    )

    id: Mapped[IntPK]
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    # A member raised it in the chat, or an agency system through the HTTP API.
    sender_id: Mapped[MemberRef | None]
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    sectors: Mapped[str] = mapped_column(String(400))  # comma-separated sector codes
    region: Mapped[Region]
    urgency: Mapped[str] = mapped_column(String(10))
    text_cipher: Mapped[bytes | None]  # None once retention ran
    status: Mapped[str] = mapped_column(String(10), default=AlertStatus.OPEN)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[MemberRef | None]
    taken_by: Mapped[MemberRef | None]
    taken_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    escalate_at: Mapped[datetime | None]  # the next escalation deadline, None when none is due
    status_chat_id: Mapped[TelegramId | None]
    status_message_id: Mapped[TelegramId | None]
    # Filled by retention, when texts are deleted and deliveries are reduced to counts.
    purged_at: Mapped[datetime | None]
    delivered_count: Mapped[int | None]
    undelivered_count: Mapped[int | None]
    # An exercise: marked in every message, never escalated beyond its recipients, counted
    # apart from real alerts; its result goes to the coordinator who ran it at result_due_at.
    drill: Mapped[bool] = mapped_column(default=False, server_default=false())
    result_due_at: Mapped[datetime | None]


class RecipientReason(enum.StrEnum):
    TARGET = "target"  # matched the alert's sectors and region
    DEPUTY = "deputy"  # stands in for an absent member (see AlertRecipient.deputy_id)
    AWAY = "away"  # matched, but absent: nothing is sent to them
    ESCALATION = "escalation"  # a coordinator brought in by escalation


class AlertRecipient(MemberLink, Base):
    __tablename__ = "alert_recipients"
    link = "alert_id"
    checks = (enum_check("reason", "reason", RecipientReason),)

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    reason: Mapped[str] = mapped_column(String(12))
    acknowledged_at: Mapped[datetime | None]
    # The member's sector when the alert was raised, so that figures do not move when
    # somebody changes sector later (None on rows from before it was recorded).
    sector: Mapped[Sector | None]
    # On an AWAY row: who received the alert in the absent member's place (None: nobody).
    deputy_id: Mapped[MemberRef | None]


class FollowUp(Base):
    """A later message on an alert, encrypted like the alert itself."""

    __tablename__ = "follow_ups"

    id: Mapped[IntPK]
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    author_id: Mapped[MemberRef]
    text_cipher: Mapped[bytes | None]
    created_at: Mapped[datetime]


class CaseCounter(YearCounter, Base):
    """The running number of case references per year (F-2026-0042)."""

    __tablename__ = "case_counters"


class DrillCounter(YearCounter, Base):
    """The running number of drill references per year (U-2026-0003), apart from cases."""

    __tablename__ = "drill_counters"
