"""Availability: planned absences with a deputy, quiet hours for non-urgent messages, and further
regions a member is reachable for."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, delete, select

from bot.delivery import Priority
from bot.errors import DomainError
from bot.membership import MemberView
from bot.network import Network
from bot.timing.quiet import QuietHours, quiet_hours_of
from storage.audit import member_actor
from storage.models import Absence, Member, MemberRegion, MemberStatus, RegionStatus, Role
from storage.uow import UnitOfWork, UnitOfWorkFactory

# Delivery kinds: the deputy hears that they stand in (and when that ends), coordinators get
# a request for a further region, the member hears the decision.
DEPUTY_NOTICE = "deputy"
DEPUTY_ENDED_NOTICE = "deputy_ended"
REGION_REQUEST_NOTICE = "region_request"
REGION_DECISION_NOTICE = "region_decision"

MAX_ABSENCE_DAYS = 366
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


def absent_at(now: datetime) -> list[ColumnElement[bool]]:
    """The conditions of an absence that holds at `now`."""
    return [Absence.starts_at <= now, Absence.ends_at > now, Absence.ended_at.is_(None)]


def further_region_members(regions: Sequence[str]) -> Select[int]:
    """A subquery of the members confirmed for one of `regions` besides their own."""
    return select(MemberRegion.member_id).where(
        MemberRegion.region.in_(list(regions)), MemberRegion.status == RegionStatus.CONFIRMED
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


class AvailabilityService:
    def __init__(self, uow: UnitOfWorkFactory, network: Network, timezone: str) -> None:
        self._uow = uow
        self._network = network
        self._timezone = ZoneInfo(timezone)

    # -- absences ---------------------------------------------------------------------------

    async def away(self, member_id: int, until: date, deputy_id: int | None) -> AbsenceView:
        """Be away until the end of `until`; the deputy (same sector) gets the member's alerts
        meanwhile. A new absence replaces a current one."""
        async with self._uow() as uow:
            now = uow.now()
            today = now.astimezone(self._timezone).date()
            if until < today:
                raise DomainError("away.in_the_past", date=until)  # written in the reader's way
            if until > today + timedelta(days=MAX_ABSENCE_DAYS):
                raise DomainError("away.too_long", days=MAX_ABSENCE_DAYS)
            member = await _active(uow, member_id, for_update=True)
            deputy = None
            if deputy_id is not None:
                deputy = await self._valid_deputy(uow, member, deputy_id, now)
            current = (await current_absences(uow, [member.id], now)).get(member.id)
            if current is not None:
                current.ended_at = now
                replaced = current.deputy_id
                if replaced is not None and replaced != (deputy.id if deputy else None):
                    uow.deliveries.enqueue(
                        kind=DEPUTY_ENDED_NOTICE,
                        member_ids=[replaced],
                        priority=Priority.NORMAL,
                        now=now,
                        params={"member": member.id},
                    )
            absence = Absence(
                member_id=member.id,
                deputy_id=deputy.id if deputy else None,
                starts_at=now,
                until_day=until,
                ends_at=end_of_day(until, self._timezone),
                created_at=now,
            )
            uow.session.add(absence)
            await uow.session.flush()
            uow.audit.record(
                member_actor(member.id),
                "member.away",
                f"member:{member.id}",
                absence=absence.id,
                until=until.isoformat(),
                deputy=deputy.id if deputy else None,
            )
            if deputy is not None:
                uow.deliveries.enqueue(
                    kind=DEPUTY_NOTICE,
                    member_ids=[deputy.id],
                    priority=Priority.NORMAL,
                    now=now,
                    params={"member": member.id, "until": until.isoformat()},
                )
            await uow.commit()
            return _absence_view(absence, deputy)

    async def back(self, member_id: int) -> AbsenceView | None:
        """End the current absence early; None if the member was not away."""
        async with self._uow() as uow:
            now = uow.now()
            member = await _active(uow, member_id, for_update=True)
            absence = (await current_absences(uow, [member.id], now)).get(member.id)
            if absence is None:
                return None
            absence.ended_at = now
            uow.audit.record(
                member_actor(member.id), "member.back", f"member:{member.id}", absence=absence.id
            )
            deputy = await uow.members.get(absence.deputy_id) if absence.deputy_id else None
            if deputy is not None:
                uow.deliveries.enqueue(
                    kind=DEPUTY_ENDED_NOTICE,
                    member_ids=[deputy.id],
                    priority=Priority.NORMAL,
                    now=now,
                    params={"member": member.id},
                )
            await uow.commit()
            return _absence_view(absence, deputy)

    async def _valid_deputy(
        self, uow: UnitOfWork, member: Member, deputy_id: int, now: datetime
    ) -> Member:
        if deputy_id == member.id:
            raise DomainError("away.deputy_self")
        deputy = await uow.members.get(deputy_id)
        if deputy is None or deputy.status != MemberStatus.ACTIVE:
            raise DomainError("error.unknown_member", member=deputy_id)
        if deputy.sector != member.sector:
            raise DomainError("away.deputy_other_sector", member=deputy_id)
        away = (await current_absences(uow, [deputy.id], now)).get(deputy.id)
        if away is not None:
            raise DomainError("away.deputy_away", member=deputy_id, date=away.until_day)
        return deputy

    async def absences(self, member_ids: Iterable[int]) -> dict[int, AbsenceView]:
        """Current absences of these members (for the coordinators' /members)."""
        async with self._uow(write=False) as uow:
            found = await current_absences(uow, member_ids, uow.now())
            deputies = {
                m.id: MemberView.of(m)
                for m in await uow.members.by_ids(
                    {a.deputy_id for a in found.values() if a.deputy_id}
                )
            }
            return {
                member_id: _absence_view(
                    absence, deputies.get(absence.deputy_id) if absence.deputy_id else None
                )
                for member_id, absence in found.items()
            }

    # -- quiet hours ------------------------------------------------------------------------

    async def set_quiet_hours(self, member_id: int, quiet: QuietHours | None) -> QuietHours | None:
        async with self._uow() as uow:
            member = await _active(uow, member_id, for_update=True)
            before = quiet_hours_of(member)
            if before != quiet:
                member.quiet_from = quiet.start if quiet else None
                member.quiet_until = quiet.end if quiet else None
                uow.audit.record(
                    member_actor(member.id),
                    "member.quiet_hours",
                    f"member:{member.id}",
                    quiet=quiet.text() if quiet else None,
                )
                await uow.commit()
            return quiet

    # -- overview ---------------------------------------------------------------------------

    async def availability(self, member_id: int) -> Availability:
        async with self._uow(write=False) as uow:
            member = await _active(uow, member_id)
            absence = (await current_absences(uow, [member.id], uow.now())).get(member.id)
            deputy = None
            if absence is not None and absence.deputy_id is not None:
                found = await uow.members.get(absence.deputy_id)
                deputy = MemberView.of(found) if found else None
            regions = (
                await uow.session.scalars(
                    select(MemberRegion)
                    .where(MemberRegion.member_id == member.id)
                    .order_by(MemberRegion.region)
                )
            ).all()
            return Availability(
                MemberView.of(member),
                _absence_view(absence, deputy) if absence else None,
                quiet_hours_of(member),
                tuple(_region_view(row) for row in regions),
            )

    # -- further regions --------------------------------------------------------------------

    async def request_region(self, member_id: int, region: str) -> RegionRequest:
        """Ask the coordinators of `region` (and the statewide ones) to confirm that the member
        is reachable for it too."""
        region = self._network.region(region).code
        async with self._uow() as uow:
            now = uow.now()
            member = await _active(uow, member_id, for_update=True)
            if member.region in (region, self._network.statewide_region):
                raise DomainError("regions.already_covered", region=region)
            existing = await uow.session.scalar(
                select(MemberRegion).where(
                    MemberRegion.member_id == member.id, MemberRegion.region == region
                )
            )
            if existing is not None:
                raise DomainError(f"regions.already_{existing.status}", region=region)
            request = MemberRegion(
                member_id=member.id,
                region=region,
                status=RegionStatus.PENDING,
                requested_at=now,
            )
            uow.session.add(request)
            await uow.session.flush()
            coordinators = [
                c.id
                for c in await uow.members.coordinators_for(region, self._network.statewide_region)
                if c.id != member.id
            ]
            uow.deliveries.enqueue(
                kind=REGION_REQUEST_NOTICE,
                member_ids=coordinators,
                priority=Priority.NORMAL,
                now=now,
                subject_id=request.id,
                params={"member": member.id, "region": region},
            )
            uow.audit.record(
                member_actor(member.id),
                "member.region_requested",
                f"member:{member.id}",
                region=region,
                request=request.id,
            )
            await uow.commit()
            return RegionRequest(_region_view(request), len(coordinators))

    async def decide_region(
        self, coordinator_id: int, request_id: int, *, confirm: bool
    ) -> RegionDecision:
        """A coordinator of the region (or a statewide one) confirms or declines a request."""
        async with self._uow() as uow:
            now = uow.now()
            coordinator = await _active(uow, coordinator_id)
            request = await uow.session.get(MemberRegion, request_id, with_for_update=True)
            if request is None:
                raise DomainError("regions.request_gone")
            if coordinator.role != Role.COORDINATOR or coordinator.region not in (
                request.region,
                self._network.statewide_region,
            ):
                raise DomainError("error.outside_scope", region=request.region)
            if coordinator.id == request.member_id:
                raise DomainError("error.not_yourself")
            if request.status != RegionStatus.PENDING:
                raise DomainError("regions.request_decided", region=request.region)
            member = await uow.members.get(request.member_id)
            assert member is not None
            view = _region_view(request)
            if confirm:
                request.status = RegionStatus.CONFIRMED
                request.decided_at, request.decided_by = now, coordinator.id
                view = _region_view(request)
            else:
                await uow.session.delete(request)
            uow.audit.record(
                member_actor(coordinator.id),
                "member.region_confirmed" if confirm else "member.region_declined",
                f"member:{member.id}",
                region=view.region,
                request=view.id,
            )
            uow.deliveries.enqueue(
                kind=REGION_DECISION_NOTICE,
                member_ids=[member.id],
                priority=Priority.NORMAL,
                now=now,
                params={"region": view.region, "decision": "confirmed" if confirm else "declined"},
            )
            await uow.commit()
            return RegionDecision(view, MemberView.of(member), confirm)

    async def remove_region(self, member_id: int, region: str) -> None:
        region = self._network.region(region).code
        async with self._uow() as uow:
            member = await _active(uow, member_id)
            result = await uow.session.execute(
                delete(MemberRegion).where(
                    MemberRegion.member_id == member.id, MemberRegion.region == region
                )
            )
            if not getattr(result, "rowcount", 0):
                raise DomainError("regions.not_listed", region=region)
            uow.audit.record(
                member_actor(member.id),
                "member.region_removed",
                f"member:{member.id}",
                region=region,
            )
            await uow.commit()

    async def region_request(self, request_id: int) -> RegionView | None:
        async with self._uow(write=False) as uow:
            request = await uow.session.get(MemberRegion, request_id)
            return _region_view(request) if request else None


async def _active(uow: UnitOfWork, member_id: int, *, for_update: bool = False) -> Member:
    member = await uow.members.get(member_id, for_update=for_update)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise DomainError("access.not_active")
    return member


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
