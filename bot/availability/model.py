"""Availability: planned absences with a deputy (and, on return, a digest of the open alerts that
went to the deputy), quiet hours for non-urgent messages, and further regions a member is
reachable for."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, ColumnElement, Select, select

from bot.errors import DomainError
from bot.membership import MemberView
from bot.network import Network
from bot.timing.quiet import QuietHours
from storage.models import (
    Absence,
    Member,
    MemberRegion,
    RegionStatus,
)
from storage.repositories import table_of
from storage.uow import UnitOfWork, UnitOfWorkFactory

# Delivery kinds: the deputy hears that they stand in (and when that ends), coordinators get
# a request for a further region, the member hears the decision.
DEPUTY_NOTICE = "deputy"
DEPUTY_ENDED_NOTICE = "deputy_ended"
REGION_REQUEST_NOTICE = "region_request"
REGION_DECISION_NOTICE = "region_decision"
# The member hears, when an absence has run out, which alerts of that time are still open.
ABSENCE_DIGEST_NOTICE = "absence_digest"

MAX_ABSENCE_DAYS = 366
# An absence that ran out longer ago than this (the bot was down) ends without a digest: its
# alerts have long been handled or listed in /alerts.
DIGEST_AT_MOST_AFTER = timedelta(days=7)
_DAY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_day(raw: str) -> date:
    """`10.12.2026` (the German way) or `2026-12-10`."""
    text = raw.strip()
    match = _DAY.match(text)
    try:
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        match = _ISO_DAY.match(text)
        if match:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        pass
    raise DomainError("away.bad_date", date=raw)


def end_of_day(day: date, timezone: ZoneInfo) -> datetime:
    """The UTC instant at which `day` is over in the network's time zone."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=timezone).astimezone(UTC)


@dataclass(frozen=True)
class AbsenceView:
    id: int
    member_id: int
    deputy: MemberView | None
    until_day: date
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class RegionView:
    id: int
    member_id: int
    region: str
    status: str

    @property
    def confirmed(self) -> bool:
        return self.status == RegionStatus.CONFIRMED


@dataclass(frozen=True)
class Availability:
    """What /away, /quiet and /regions show a member about themselves."""

    member: MemberView
    absence: AbsenceView | None
    quiet: QuietHours | None
    regions: tuple[RegionView, ...]


@dataclass(frozen=True)
class MissedAlert:
    """An open alert raised during an absence that went to the deputy instead."""

    id: int
    ref: str
    sectors: tuple[str, ...]
    region: str
    urgent: bool
    raised_at: datetime
    taken_by: MemberView | None


@dataclass(frozen=True)
class Digest:
    """What a member back from an absence should know: the open alerts of that time."""

    member_id: int
    alerts: tuple[MissedAlert, ...]


@dataclass(frozen=True)
class RegionRequest:
    request: RegionView
    coordinators: int  # how many were asked


@dataclass(frozen=True)
class RegionDecision:
    request: RegionView
    member: MemberView
    confirmed: bool


async def current_absences(
    uow: UnitOfWork, member_ids: Iterable[int], now: datetime
) -> dict[int, Absence]:
    """The absence each of these members is on at `now` (members who are present are missing)."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    rows = await uow.session.scalars(
        select(Absence).where(Absence.member_id.in_(ids), *absent_at(now)).order_by(Absence.id)
    )
    return {row.member_id: row for row in rows}


# The tables' columns: conditions on them serve ORM queries and plain Core statements alike.
_ABSENCES, _FURTHER = table_of(Absence).c, table_of(MemberRegion).c


def absent_at(now: datetime | BindParameter[datetime]) -> list[ColumnElement[bool]]:
    """The conditions of an absence that holds at `now` (a time, or a bound parameter of a
    statement built once)."""
    return [_ABSENCES.starts_at <= now, _ABSENCES.ends_at > now, _ABSENCES.ended_at.is_(None)]


def further_region_members(regions: Sequence[str] | BindParameter[list[str]]) -> Select[int]:
    """A subquery of the members confirmed for one of `regions` besides their own (a list,
    or an expanding bound parameter of a statement built once)."""
    listed = regions if isinstance(regions, BindParameter) else list(regions)
    return select(_FURTHER.member_id).where(
        _FURTHER.region.in_(listed), _FURTHER.status == RegionStatus.CONFIRMED
    )


async def confirmed_regions(uow: UnitOfWork) -> dict[int, set[str]]:
    rows = await uow.session.execute(
        select(MemberRegion.member_id, MemberRegion.region).where(
            MemberRegion.status == RegionStatus.CONFIRMED
        )
    )
    found: dict[int, set[str]] = {}
    for member_id, region in rows.all():
        found.setdefault(member_id, set()).add(region)
    return found


class AvailabilityBase:
    """What the parts of the availability service share."""

    def __init__(self, uow: UnitOfWorkFactory, network: Network, timezone: str) -> None:
        self._uow = uow
        self._network = network
        self._timezone = ZoneInfo(timezone)

    # -- absences ---------------------------------------------------------------------------


def _due_key(absence_id: int) -> str:
    return f"absence:{absence_id}"


def _ending(now: datetime) -> Select[Absence]:
    return select(Absence).where(Absence.ended_at.is_(None), Absence.ends_at <= now)


def _absence_view(absence: Absence, deputy: Member | MemberView | None) -> AbsenceView:
    if isinstance(deputy, Member):
        deputy = MemberView.of(deputy)
    return AbsenceView(
        absence.id,
        absence.member_id,
        deputy,
        absence.until_day,
        absence.starts_at,
        absence.ends_at,
    )


def _region_view(row: MemberRegion) -> RegionView:
    return RegionView(row.id, row.member_id, row.region, row.status)
