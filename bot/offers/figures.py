"""The support system's figures for the network report: offers per region × topic and kind (none:
a gap), days with a free place per region, and needs raised, met and unmet by reason with the
time until one was taken. Counts only; texts are never read."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.network import Network
from storage.models import Need, NeedStatus, Offer, PlaceReport, UnmetReason
from storage.repositories import split_codes
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class NeedFigures:
    """Needs for one kind or topic in one region, raised in the period."""

    raised: int = 0
    met: int = 0
    open: int = 0
    unmet: dict[str, int] = field(default_factory=dict)  # reason -> count
    take_seconds: tuple[float, ...] = ()

    @property
    def unmet_total(self) -> int:
        return sum(self.unmet.values())

    @property
    def median(self) -> float | None:
        return float(statistics.median(self.take_seconds)) if self.take_seconds else None

    @property
    def p90(self) -> float | None:
        if not self.take_seconds:
            return None
        if len(self.take_seconds) == 1:
            return self.take_seconds[0]
        return statistics.quantiles(self.take_seconds, n=10, method="inclusive")[8]


@dataclass(frozen=True)
class FreeDays:
    """Days of the period (up to today) on which at least one offer with places serving the
    region had a current report of a free place."""

    with_free: int
    days: int

    @property
    def share(self) -> float | None:
        return self.with_free / self.days if self.days else None


@dataclass(frozen=True)
class SupportFigures:
    regions: tuple[str, ...]
    topics: tuple[str, ...]
    kinds: tuple[str, ...]
    by_topic: dict[tuple[str, str], int]  # (region, topic) -> active offers serving it
    by_kind: dict[tuple[str, str], int]
    free_days: dict[str, FreeDays | None]  # None: no offer with places serves the region
    needs: dict[tuple[str, str], NeedFigures]  # (region, kind or topic code) -> figures
    offers: int
    statewide_region: str

    def topic_gaps(self) -> list[tuple[str, str]]:
        """(region, topic) without any offer, the statewide region aside."""
        return self._gaps(self.topics, self.by_topic)

    def kind_gaps(self) -> list[tuple[str, str]]:
        return self._gaps(self.kinds, self.by_kind)

    def _gaps(
        self, codes: tuple[str, ...], counts: dict[tuple[str, str], int]
    ) -> list[tuple[str, str]]:
        return [
            (r, c)
            for c in codes
            for r in self.regions
            if r != self.statewide_region and not counts[(r, c)]
        ]

    @property
    def total_needs(self) -> NeedFigures:
        raised = sum(f.raised for f in self.needs.values())
        met = sum(f.met for f in self.needs.values())
        unmet: dict[str, int] = defaultdict(int)
        for figures in self.needs.values():
            for reason, count in figures.unmet.items():
                unmet[reason] += count
        seconds = tuple(sorted(s for f in self.needs.values() for s in f.take_seconds))
        return NeedFigures(
            raised, met, sum(f.open for f in self.needs.values()), dict(unmet), seconds
        )


@dataclass
class _Tally:
    raised: int = 0
    met: int = 0
    open: int = 0
    unmet: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: list[float] = field(default_factory=list)


def _serves(regions: tuple[str, ...], region: str, statewide: str) -> bool:
    return region in regions or statewide in regions


async def support_figures(
    uow: UnitOfWork,
    network: Network,
    since: datetime,
    until: datetime,
    timezone: ZoneInfo,
    stale_after: timedelta,
) -> SupportFigures:
    regions, topics, kinds = (
        tuple(network.regions),
        tuple(network.topics),
        tuple(network.offer_kinds),
    )
    now = uow.now()
    statewide = network.statewide_region
    offers = await uow.all(select(Offer).where(Offer.active))
    by_topic = {(r, t): 0 for r in regions for t in topics}
    by_kind = {(r, k): 0 for r in regions for k in kinds}
    for offer in offers:
        for region in regions:
            if _serves(split_codes(offer.regions), region, statewide):
                _count_offer(offer, region, by_topic, by_kind)
    place_offers = [o for o in offers if o.reports_places]
    spans = await _free_spans(uow, place_offers, since, until, stale_after)
    last = min((until - timedelta(microseconds=1)), now)
    days = _days(since, last, timezone)
    free_days: dict[str, FreeDays | None] = {}
    for region in regions:
        serving = [o for o in place_offers if _serves(split_codes(o.regions), region, statewide)]
        in_region = [span for o in serving for span in spans[o.id]]
        count = sum(1 for day in days if _overlaps(in_region, day, timezone))
        free_days[region] = FreeDays(count, len(days)) if serving else None
    return SupportFigures(
        regions=regions,
        topics=topics,
        kinds=kinds,
        by_topic=by_topic,
        by_kind=by_kind,
        free_days=free_days,
        needs=await _need_figures(uow, since, until),
        offers=len(offers),
        statewide_region=statewide,
    )


Span = tuple[datetime, datetime]


def _count_offer(
    offer: Offer,
    region: str,
    by_topic: dict[tuple[str, str], int],
    by_kind: dict[tuple[str, str], int],
) -> None:
    """Count an offer serving `region` for each of its topics and for its kind."""
    for topic in split_codes(offer.topics):
        if (region, topic) in by_topic:
            by_topic[(region, topic)] += 1
    if (region, offer.kind) in by_kind:
        by_kind[(region, offer.kind)] += 1


async def _free_spans(
    uow: UnitOfWork,
    place_offers: list[Offer],
    since: datetime,
    until: datetime,
    stale_after: timedelta,
) -> dict[int, list[Span]]:
    """When each offer had a free place: a report holds until the next one, or until it goes
    stale."""
    reports = (
        await uow.session.execute(
            select(PlaceReport.offer_id, PlaceReport.reported_at, PlaceReport.free)
            .where(PlaceReport.reported_at < until)
            .order_by(PlaceReport.offer_id, PlaceReport.reported_at)
        )
    ).all()
    per_offer: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for offer_id, at, free in reports:
        per_offer[offer_id].append((at, free))
    free_spans: dict[int, list[Span]] = {}
    for offer in place_offers:
        history = per_offer.get(offer.id, [])
        spans = []
        for i, (at, free) in enumerate(history):
            end = at + stale_after
            if i + 1 < len(history):
                end = min(end, history[i + 1][0])
            if free > 0 and end > since:
                spans.append((max(at, since), min(end, until)))
        free_spans[offer.id] = spans
    return free_spans


def _days(since: datetime, last: datetime, timezone: ZoneInfo) -> list[date]:
    first, end = since.astimezone(timezone).date(), last.astimezone(timezone).date()
    return [first + timedelta(days=n) for n in range((end - first).days + 1)]


async def _need_figures(
    uow: UnitOfWork, since: datetime, until: datetime
) -> dict[tuple[str, str], NeedFigures]:
    """Needs raised in the period per region and kind or topic: met, unmet by reason, open."""
    need_rows = (
        await uow.session.execute(
            select(
                Need.region,
                Need.kind,
                Need.topic,
                Need.status,
                Need.unmet_reason,
                Need.created_at,
                Need.taken_at,
            ).where(Need.created_at >= since, Need.created_at < until)
        )
    ).all()
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for where, need_kind, need_topic, status, reason, created_at, taken_at in need_rows:
        tally = tallies[(where, need_kind or need_topic or "")]
        tally.raised += 1
        if status == NeedStatus.TAKEN and taken_at is not None:
            tally.met += 1
            tally.seconds.append((taken_at - created_at).total_seconds())
        elif status == NeedStatus.UNMET:
            tally.unmet[reason or UnmetReason.NOBODY_ANSWERED] += 1
        else:
            tally.open += 1
    return {
        key: NeedFigures(t.raised, t.met, t.open, dict(t.unmet), tuple(sorted(t.seconds)))
        for key, t in tallies.items()
    }


def _overlaps(spans: list[tuple[datetime, datetime]], day: date, timezone: ZoneInfo) -> bool:
    start = datetime.combine(day, time(0), tzinfo=timezone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=timezone).astimezone(UTC)
    return any(a < end and b > start for a, b in spans)
