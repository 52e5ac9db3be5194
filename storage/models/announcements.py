"""Topical channels and coordinators' announcements."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, IntPK, MemberLink, MemberRef, TelegramId, enum_check


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
        enum_check("membership", "membership", ChannelMembership),
        enum_check("status", "status", ChannelStatus),
    )

    id: Mapped[IntPK]
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    sectors: Mapped[str] = mapped_column(String(400), default="")  # comma-separated codes
    regions: Mapped[str] = mapped_column(String(200), default="")  # comma-separated codes
    membership: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10), default=ChannelStatus.ACTIVE)
    created_by: Mapped[MemberRef]
    created_at: Mapped[datetime]
    archived_at: Mapped[datetime | None]


class ChannelMember(MemberLink, Base):
    """Who joined an opt-in channel; only valid while the channel's rule admits the member."""

    __tablename__ = "channel_members"
    link = "channel_id"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    joined_at: Mapped[datetime]


class AnnouncementStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    CANCELLED = "cancelled"


class Announcement(Base):
    """A coordinator's message to a target; its text is stored encrypted only."""

    __tablename__ = "announcements"
    __table_args__ = (
        enum_check("status", "status", AnnouncementStatus),
        Index("ix_announcements_status_send_at", "status", "send_at"),
    )

    id: Mapped[IntPK]
    sender_id: Mapped[MemberRef]
    target: Mapped[str] = mapped_column(Text)  # JSON of codes and channel ids, no free text
    text_cipher: Mapped[bytes | None]
    read_confirmation: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10))
    send_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[MemberRef | None]
    status_chat_id: Mapped[TelegramId | None]
    status_message_id: Mapped[TelegramId | None]


class AnnouncementRecipient(MemberLink, Base):
    __tablename__ = "announcement_recipients"
    link = "announcement_id"

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id"))
    read_at: Mapped[datetime | None]
