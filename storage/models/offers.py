"""The support system: offers, free places, needs."""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.alerts import Urgency
from storage.models.base import Base, IntPK, MemberLink, MemberRef, Region, YearCounter, enum_check


class Offer(Base):
    """An institution's offer (a shelter, a counselling centre …): institutional data only, no
    data of people affected and no private data of staff. Codes are comma-separated."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("places_free IS NULL OR places_free >= 0", name="places_free"),
        CheckConstraint("waiting_days IS NULL OR waiting_days >= 0", name="waiting_days"),
        Index("ix_offers_kind_active", "kind", "active"),
    )

    id: Mapped[IntPK]
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
    reports_places: Mapped[bool] = mapped_column(default=False)
    places_free: Mapped[int | None]
    places_reported_at: Mapped[datetime | None]
    places_reminded_at: Mapped[datetime | None]  # last reminder to report (stale places)
    waiting_days: Mapped[int | None] = mapped_column(SmallInteger)
    waiting_reported_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OfferMaintainer(MemberLink, Base):
    """A member a coordinator named to keep an offer up to date and to answer its needs."""

    __tablename__ = "offer_maintainers"
    link = "offer_id"

    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    added_by: Mapped[MemberRef | None]  # None: operator
    added_at: Mapped[datetime]


class PlaceReport(Base):
    """One report of free places, kept as a count (for the report's share of days with a free
    place)."""

    __tablename__ = "place_reports"
    __table_args__ = (
        CheckConstraint("free >= 0", name="free"),
        Index("ix_place_reports_offer_id_reported_at", "offer_id", "reported_at"),
    )

    id: Mapped[IntPK]
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    free: Mapped[int]
    reported_at: Mapped[datetime]
    member_id: Mapped[MemberRef | None]


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
        enum_check("status", "status", NeedStatus),
        enum_check("urgency", "urgency", Urgency),
        CheckConstraint(
            "unmet_reason IS NULL OR unmet_reason IN "
            f"({', '.join(repr(r.value) for r in UnmetReason)})",
            name="unmet_reason",
        ),
        Index("ix_needs_status_created_at", "status", "created_at"),
    )

    id: Mapped[IntPK]
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    requester_id: Mapped[MemberRef | None]
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    kind: Mapped[str | None] = mapped_column(String(40))
    topic: Mapped[str | None] = mapped_column(String(40))
    adults: Mapped[int] = mapped_column(SmallInteger, default=0)
    children: Mapped[int] = mapped_column(SmallInteger, default=0)
    region: Mapped[Region]
    language: Mapped[str | None] = mapped_column(String(10))
    accessibility: Mapped[str | None] = mapped_column(String(40))
    urgency: Mapped[str] = mapped_column(String(10))
    case_ref_cipher: Mapped[bytes | None]  # None once retention ran
    note_cipher: Mapped[bytes | None]
    status: Mapped[str] = mapped_column(String(10), default=NeedStatus.OPEN)
    stage: Mapped[int] = mapped_column(SmallInteger, default=0)  # 0 region, 1 neighbours, 2 state
    widen_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    escalate_at: Mapped[datetime | None]
    unmet_at: Mapped[datetime | None]  # the deadline after which nobody took it
    created_at: Mapped[datetime]
    taken_offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))
    taken_by: Mapped[MemberRef | None]
    taken_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[MemberRef | None]  # None: deadline
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
    answered_by: Mapped[MemberRef | None]
    answered_at: Mapped[datetime | None]


class NeedCounter(YearCounter, Base):
    """The running number of need references per year (B-2026-0007: Bedarf)."""

    __tablename__ = "need_counters"
