"""The network report: per region and sector, how densely the network is staffed, how fast
alerts and drills are answered, and where the gaps are. Pseudonymous counts only: no names, no
case content, and small numbers are masked wherever they are shown."""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts import ALERT_KINDS
from bot.availability import confirmed_regions, current_absences
from bot.errors import DomainError
from bot.membership import Actor, Admin
from bot.network import Network
from bot.offers.figures import SupportFigures, support_figures
from storage.audit import ADMIN, format_time, member_actor
from storage.models import (
    Alert,
    AlertRecipient,
    AuditEvent,
    Delivery,
    DeliveryStatus,
    Member,
    MemberStatus,
    RecipientReason,
)
from storage.uow import UnitOfWorkFactory

SMALL = 3  # counts from 1 to SMALL - 1 are shown as MASK, and no figure is derived from them
MASK = "<3"
UNANSWERED_SHARE = 0.5  # fewer acknowledged alerts than this share is a gap
DEFAULT_DAYS = 30
MAX_DAYS = 3660
_DAYS = re.compile(r"^(\d{1,4})d$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\S+?)\s*(?:\.\.|–|\s-\s)\s*(\S+)$")
_GERMAN_RANGE = re.compile(r"^(\d{1,2}\.\d{1,2}\.\d{4})-(\d{1,2}\.\d{1,2}\.\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_GERMAN = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


class AlertKind(StrEnum):
    REAL = "real"
    DRILL = "drill"


class GapKind(StrEnum):
    NO_MEMBER = "no_member"  # no active member for the region and sector
    UNREACHABLE = "unreachable"  # active members, but none reachable (blocked bot, away)
    UNANSWERED = "unanswered"  # fewer than half of the alerts acknowledged
    SLOW = "slow"  # median time to acknowledgement above the threshold


def percentile_90(values: Sequence[float]) -> float:
    """The 90th percentile by linear interpolation between the closest ranks
    (`statistics.quantiles(method="inclusive")`, like numpy's default and Excel's
    PERCENTILE.INC); a single value is its own percentile."""
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=10, method="inclusive")[8]


@dataclass(frozen=True)
class Figures:
    """Alerts of one kind to one region and sector. An alert counts once for each of its
    sectors; it is acknowledged for a sector when one of that sector's recipients acknowledged
    it (or took it over), and its time to acknowledgement is the first such one."""

    alerts: int = 0
    acknowledged: int = 0
    ack_seconds: tuple[float, ...] = ()
    escalated: int = 0  # escalated at least once
    unreachable: int = 0  # deliveries of the alert that Telegram refused (blocked, deleted)

    @property
    def share(self) -> float | None:
        return self.acknowledged / self.alerts if self.alerts else None

    @property
    def median(self) -> float | None:
        return float(statistics.median(self.ack_seconds)) if self.ack_seconds else None

    @property
    def p90(self) -> float | None:
        return percentile_90(self.ack_seconds) if self.ack_seconds else None

    @property
    def share_shown(self) -> bool:
        return self.alerts >= SMALL

    @property
    def times_shown(self) -> bool:
        return self.acknowledged >= SMALL


@dataclass(frozen=True)
class Cell:
    region: str
    sector: str
    active: int  # active members registered for the region (own or confirmed further region)
    reachable: int  # of them: not refused by Telegram, not away now
    real: Figures
    drill: Figures

    def figures(self, kind: AlertKind) -> Figures:
        return self.real if kind == AlertKind.REAL else self.drill


@dataclass(frozen=True)
class Gap:
    region: str
    sector: str
    kind: GapKind
    alert_kind: AlertKind | None = None  # for answer gaps: real alerts or drills


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime  # exclusive
    generated_at: datetime
    timezone: str
    slow_after: timedelta
    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    cells: dict[tuple[str, str], Cell]
    gaps: tuple[Gap, ...]
    alerts: dict[AlertKind, int]  # alerts of the period, each once however many sectors
    members: tuple[int, int]  # active and reachable members of the whole network, each once
    support: SupportFigures | None = None  # offers, free places and needs

    def cell(self, region: str, sector: str) -> Cell:
        return self.cells[(region, sector)]

    @property
    def last_day(self) -> date:
        return (self.until - timedelta(microseconds=1)).astimezone(ZoneInfo(self.timezone)).date()

    @property
    def first_day(self) -> date:
        return self.since.astimezone(ZoneInfo(self.timezone)).date()


def count_text(value: int) -> str:
    """A count as shown anywhere: 1 and 2 become "<3"."""
    return MASK if 0 < value < SMALL else str(value)


# -- periods ----------------------------------------------------------------------------------


def day_start(day: date, timezone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone).astimezone(UTC)


def days_period(first: date, last: date, timezone: ZoneInfo) -> tuple[datetime, datetime]:
    """Whole days in the network's time zone, both inclusive, as a UTC half-open interval."""
    if last < first:
        raise DomainError("report.bad_period", period=f"{first}..{last}")
    if (last - first).days >= MAX_DAYS:
        raise DomainError("report.period_too_long", days=MAX_DAYS)
    return day_start(first, timezone), day_start(last + timedelta(days=1), timezone)


def parse_period(raw: str | None, now: datetime, timezone: ZoneInfo) -> tuple[datetime, datetime]:
    """`30d` (the last 30 days, today included; the default), `2026-10` (a month), `2026`
    (a year), or `2026-10-01..2026-10-31` / `01.10.2026-31.10.2026` (days, inclusive)."""
    text = (raw or "").strip()
    today = now.astimezone(timezone).date()
    if not text:
        return days_period(today - timedelta(days=DEFAULT_DAYS - 1), today, timezone)
    if match := _DAYS.match(text):
        days = int(match.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise DomainError("report.period_too_long", days=MAX_DAYS)
        return days_period(today - timedelta(days=days - 1), today, timezone)
    if match := _MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise DomainError("report.bad_period", period=text)
        following = date(year + month // 12, month % 12 + 1, 1)
        return days_period(date(year, month, 1), following - timedelta(days=1), timezone)
    if match := _YEAR.match(text):
        year = int(match.group(1))
        return days_period(date(year, 1, 1), date(year, 12, 31), timezone)
    if match := _RANGE.match(text) or _GERMAN_RANGE.match(text):
        return days_period(_day(match.group(1)), _day(match.group(2)), timezone)
    raise DomainError("report.bad_period", period=text)


def _day(text: str) -> date:
    try:
        if match := _ISO.match(text):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if match := _GERMAN.match(text):
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError:
        pass
    raise DomainError("report.bad_period", period=text)


# -- computing --------------------------------------------------------------------------------


@dataclass
class _Tally:
    alerts: int = 0
    acknowledged: int = 0
    ack_seconds: list[float] = field(default_factory=list)
    escalated: int = 0
    unreachable: int = 0

    def freeze(self) -> Figures:
        return Figures(
            self.alerts,
            self.acknowledged,
            tuple(sorted(self.ack_seconds)),
            self.escalated,
            self.unreachable,
        )


class ReportService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        network: Network,
        timezone: str,
        slow_after: timedelta,
        places_stale_after: timedelta = timedelta(hours=24),
    ) -> None:
        self._uow = uow
        self._places_stale_after = places_stale_after
        self._network = network
        self.timezone = ZoneInfo(timezone)
        self._timezone_name = timezone
        self.slow_after = slow_after

    async def report(self, actor: Actor, since: datetime, until: datetime, form: str) -> Report:
        """Compute the report (read-only, so that alerts are never kept waiting behind it) and
        record in the audit log that it was made."""
        report = await self.compute(since, until)
        async with self._uow() as uow:
            uow.audit.record(
                ADMIN if isinstance(actor, Admin) else member_actor(actor),
                "report.generated",
                "report",
                since=format_time(since),
                until=format_time(until),
                format=form,
            )
            await uow.commit()
        return report

    async def compute(self, since: datetime, until: datetime) -> Report:
        regions = tuple(self._network.regions)
        sectors = tuple(self._network.sectors)
        async with self._uow(write=False) as uow:
            now = uow.now()
            session = uow.session
            members = (
                await session.execute(
                    select(Member.id, Member.sector, Member.region, Member.unreachable_since).where(
                        Member.status == MemberStatus.ACTIVE
                    )
                )
            ).all()
            further = await confirmed_regions(uow)
            away = await current_absences(uow, [m.id for m in members], now)
            active: dict[tuple[str, str], int] = defaultdict(int)
            reachable: dict[tuple[str, str], int] = defaultdict(int)
            total_reachable = 0
            for member_id, sector, region, unreachable_since in members:
                if sector is None or region is None:
                    continue
                is_reachable = unreachable_since is None and member_id not in away
                total_reachable += is_reachable
                for covered in {region, *further.get(member_id, ())}:
                    active[(covered, sector)] += 1
                    reachable[(covered, sector)] += is_reachable

            in_period = (Alert.created_at >= since, Alert.created_at < until)
            alerts = (
                await session.execute(
                    select(
                        Alert.id,
                        Alert.region,
                        Alert.sectors,
                        Alert.drill,
                        Alert.created_at,
                        Alert.escalation_level,
                        Alert.purged_at,
                    )
                    .where(*in_period)
                    .order_by(Alert.id)
                )
            ).all()
            recipients = (
                await session.execute(
                    select(
                        AlertRecipient.alert_id,
                        AlertRecipient.member_id,
                        func.coalesce(AlertRecipient.sector, Member.sector),
                        AlertRecipient.acknowledged_at,
                    )
                    .join(Alert, Alert.id == AlertRecipient.alert_id)
                    .join(Member, Member.id == AlertRecipient.member_id)
                    .where(
                        *in_period,
                        AlertRecipient.reason.in_([RecipientReason.TARGET, RecipientReason.DEPUTY]),
                    )
                )
            ).all()
            refused = {
                (alert_id, member_id)
                for alert_id, member_id in (
                    await session.execute(
                        select(Delivery.alert_id, Delivery.member_id)
                        .join(Alert, Alert.id == Delivery.alert_id)
                        .where(
                            *in_period,
                            Delivery.kind.in_(ALERT_KINDS),
                            Delivery.status == DeliveryStatus.UNREACHABLE,
                        )
                    )
                ).all()
                if alert_id is not None
            }
            purged = [a for a in alerts if a.purged_at is not None]
            if purged:
                # Retention reduced these alerts' deliveries to counts; the audit log still
                # has every final state, with the member's number.
                refused |= await self._refused_from_audit(
                    uow.session, {a.id for a in purged}, min(a.created_at for a in purged)
                )
            support = await support_figures(
                uow, self._network, since, until, self.timezone, self._places_stale_after
            )

        by_alert: dict[int, list[tuple[int, str | None, datetime | None]]] = defaultdict(list)
        for alert_id, member_id, sector, acknowledged_at in recipients:
            by_alert[alert_id].append((member_id, sector, acknowledged_at))
        tallies = {kind: {(r, s): _Tally() for r in regions for s in sectors} for kind in AlertKind}
        totals = dict.fromkeys(AlertKind, 0)
        for alert in alerts:
            kind = AlertKind.DRILL if alert.drill else AlertKind.REAL
            totals[kind] += 1
            for sector in alert.sectors.split(","):
                tally = tallies[kind].get((alert.region, sector))
                if tally is None:
                    continue  # a region or sector the network file no longer has
                mine = [row for row in by_alert[alert.id] if row[1] == sector]
                tally.alerts += 1
                first = min((at for _, _, at in mine if at is not None), default=None)
                if first is not None:
                    tally.acknowledged += 1
                    tally.ack_seconds.append((first - alert.created_at).total_seconds())
                if alert.escalation_level >= 1:
                    tally.escalated += 1
                tally.unreachable += sum(
                    1 for member_id, _, _ in mine if (alert.id, member_id) in refused
                )

        cells = {
            (r, s): Cell(
                r,
                s,
                active[(r, s)],
                reachable[(r, s)],
                tallies[AlertKind.REAL][(r, s)].freeze(),
                tallies[AlertKind.DRILL][(r, s)].freeze(),
            )
            for r in regions
            for s in sectors
        }
        return Report(
            since=since,
            until=until,
            generated_at=now,
            timezone=self._timezone_name,
            slow_after=self.slow_after,
            regions=regions,
            sectors=sectors,
            cells=cells,
            gaps=tuple(self._gaps(cells.values())),
            alerts=totals,
            members=(len(members), total_reachable),
            support=support,
        )

    async def _refused_from_audit(
        self, session: AsyncSession, alert_ids: set[int], since: datetime
    ) -> set[tuple[int, int]]:
        details = await session.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == f"delivery.{DeliveryStatus.UNREACHABLE}",
                AuditEvent.occurred_at >= format_time(since),
            )
        )
        found = set()
        for raw in details:
            data = json.loads(raw)
            if data.get("kind") in ALERT_KINDS and data.get("alert") in alert_ids:
                found.add((int(data["alert"]), int(data["member"])))
        return found

    def _gaps(self, cells: Iterable[Cell]) -> list[Gap]:
        """Staffing gaps in every region but the statewide one (statewide members are optional
        there); answer gaps wherever there were enough alerts to show figures."""
        gaps = []
        statewide = self._network.statewide_region
        for cell in cells:
            if cell.region != statewide:
                if cell.active == 0:
                    gaps.append(Gap(cell.region, cell.sector, GapKind.NO_MEMBER))
                elif cell.reachable == 0:
                    gaps.append(Gap(cell.region, cell.sector, GapKind.UNREACHABLE))
            for kind in AlertKind:
                figures = cell.figures(kind)
                share = figures.share
                median = figures.median
                if not figures.share_shown or share is None:
                    continue
                if share < UNANSWERED_SHARE:
                    gaps.append(Gap(cell.region, cell.sector, GapKind.UNANSWERED, kind))
                elif (
                    figures.times_shown
                    and median is not None
                    and median > self.slow_after.total_seconds()
                ):
                    gaps.append(Gap(cell.region, cell.sector, GapKind.SLOW, kind))
        return gaps
