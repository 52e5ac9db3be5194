"""Members of the network: people, invitations, absences and further regions."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, IntPK, MemberRef, Region, Sector, TelegramId, enum_check


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


class Member(Base):
    """A person known to the bot: a verified professional or someone on the way there."""

    __tablename__ = "members"
    __table_args__ = (
        enum_check("role", "role", Role),
        enum_check("status", "status", MemberStatus),
        CheckConstraint(
            "(quiet_from IS NULL AND quiet_until IS NULL) OR "
            "(quiet_from BETWEEN 0 AND 1439 AND quiet_until BETWEEN 0 AND 1439 "
            "AND quiet_from <> quiet_until)",
            name="quiet_hours",
        ),
        Index("ix_members_status_sector_region", "status", "sector", "region"),
    )

    id: Mapped[IntPK]
    telegram_user_id: Mapped[TelegramId | None] = mapped_column(unique=True)
    chat_id: Mapped[TelegramId | None]
    display_name: Mapped[str | None] = mapped_column(String(100))
    institution: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[Sector | None]
    region: Mapped[Region | None]
    role: Mapped[str] = mapped_column(String(20), default=Role.MEMBER)
    status: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]
    status_changed_by: Mapped[MemberRef | None]
    # Set when Telegram refused a delivery (blocked bot, deleted account); cleared on success.
    unreachable_since: Mapped[datetime | None]
    # Quiet hours for non-urgent messages, minutes after midnight in the network's time zone;
    # the window may wrap around midnight (22:00-07:00).
    quiet_from: Mapped[int | None] = mapped_column(SmallInteger)
    quiet_until: Mapped[int | None] = mapped_column(SmallInteger)
    # The invitation this person joined with (its coordinator is told of every redemption).
    # (No foreign key: invites already refer to members, and the cycle is not worth it.)
    invite_id: Mapped[int | None]
    # When the coordinators were last told that this member hit ALERT_URGENT_PER_HOUR.
    urgent_limit_noticed_at: Mapped[datetime | None]


class Invite(Base):
    """An invitation bound to sector, region and role; only the token's hash is stored."""

    __tablename__ = "invites"
    __table_args__ = (
        enum_check("role", "role", Role),
        CheckConstraint("uses >= 0 AND uses <= max_uses", name="uses_within_limit"),
    )

    id: Mapped[IntPK]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sector: Mapped[Sector]
    region: Mapped[Region]
    role: Mapped[str] = mapped_column(String(20))
    max_uses: Mapped[int]
    uses: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    created_by: Mapped[MemberRef | None]
    withdrawn_at: Mapped[datetime | None]  # the coordinator withdrew the link (/invites)


class Absence(Base):
    """A planned absence: until the end of `until_day` (network time zone) the member's alerts go
    to their deputy, or they are counted as away."""

    __tablename__ = "absences"
    __table_args__ = (Index("ix_absences_member_id_ends_at", "member_id", "ends_at"),)

    id: Mapped[IntPK]
    member_id: Mapped[MemberRef]
    deputy_id: Mapped[MemberRef | None]
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
        enum_check("status", "status", RegionStatus),
        Index("ix_member_regions_region_status", "region", "status"),
    )

    id: Mapped[IntPK]
    member_id: Mapped[MemberRef]
    region: Mapped[Region]
    status: Mapped[str] = mapped_column(String(12))
    requested_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[MemberRef | None]
