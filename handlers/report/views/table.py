"""The network report and the support system as CSV tables: column names are fixed English
identifiers, names are in the reader's language; masked values read "<3", missing ones "–"."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping

from bot.network import Network
from bot.offers.figures import NeedFigures, SupportFigures
from bot.report import AlertKind, Report, count_text
from handlers.report.views.values import (
    NONE,
    need_times,
    region_label,
    seconds_text,
    sector_label,
    share_text,
    what_label,
)
from storage.models import UnmetReason

CSV_COLUMNS = (
    "kind",
    "region",
    "region_name",
    "sector",
    "sector_name",
    "active_members",
    "reachable_members",
    "alerts",
    "acknowledged_percent",
    "median_seconds",
    "p90_seconds",
    "escalated",
    "unreachable_deliveries",
    "gaps",
)
SUPPORT_CSV_COLUMNS = (
    "dimension",
    "region",
    "region_name",
    "code",
    "name",
    "offers",
    "gap",
    "needs_raised",
    "needs_met",
    "needs_open",
    *(f"unmet_{reason}" for reason in UnmetReason),
    "median_seconds_to_taken",
    "p90_seconds_to_taken",
    "days_with_free_place",
    "days",
)
Row = Mapping[str, object]


def table(columns: tuple[str, ...], rows: Iterable[Row]) -> str:
    """A header and one line per row; a column a row does not name stays empty."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([row.get(column, "") for column in columns] for row in rows)
    return out.getvalue()


def report_csv(report: Report, network: Network, language: str) -> str:
    """One row per kind (real, drill), region and sector."""
    gaps: dict[tuple[str, str], list[str]] = defaultdict(list)
    for gap in report.gaps:
        code = gap.kind if gap.alert_kind is None else f"{gap.kind}:{gap.alert_kind}"
        gaps[(gap.region, gap.sector)].append(code)
    rows = (
        {
            "kind": kind,
            **_where(network, language, region, sector),
            **_cell_values(report, kind, region, sector),
            "gaps": ";".join(gaps.get((region, sector), [])),
        }
        for kind in AlertKind
        for region in report.regions
        for sector in report.sectors
    )
    return table(CSV_COLUMNS, rows)


def _where(network: Network, language: str, region: str, sector: str) -> Row:
    return {
        "region": region,
        "region_name": region_label(network, region, language),
        "sector": sector,
        "sector_name": sector_label(network, sector, language),
    }


def _cell_values(report: Report, kind: AlertKind, region: str, sector: str) -> Row:
    cell = report.cell(region, sector)
    figures = cell.figures(kind)
    return {
        "active_members": count_text(cell.active),
        "reachable_members": count_text(cell.reachable),
        "alerts": count_text(figures.alerts),
        "acknowledged_percent": share_text(figures, percent_sign=False),
        "median_seconds": seconds_text(figures, figures.median),
        "p90_seconds": seconds_text(figures, figures.p90),
        "escalated": count_text(figures.escalated),
        "unreachable_deliveries": count_text(figures.unreachable),
    }


def support_csv(report: Report, network: Network, language: str) -> str:
    """One row per region and topic, per region and kind (offers, gap, needs), and per region
    for free places. Need counts below three read "<3"."""
    support = report.support
    if support is None:
        return table(SUPPORT_CSV_COLUMNS, [])
    return table(
        SUPPORT_CSV_COLUMNS,
        [*_offer_rows(support, network, language), *_place_rows(support, network, language)],
    )


def _offer_rows(support: SupportFigures, network: Network, language: str) -> Iterable[Row]:
    for dimension, codes, counts in (
        ("topic", support.topics, support.by_topic),
        ("kind", support.kinds, support.by_kind),
    ):
        for region in support.regions:
            for code in codes:
                offers = counts[(region, code)]
                yield {
                    "dimension": dimension,
                    "region": region,
                    "region_name": region_label(network, region, language),
                    "code": code,
                    "name": what_label(network, code, language),
                    "offers": offers,
                    "gap": "gap" if offers == 0 and region != support.statewide_region else "",
                    **_need_values(support.needs.get((region, code), NeedFigures())),
                }


def _need_values(figures: NeedFigures) -> Row:
    return {
        "needs_raised": count_text(figures.raised),
        "needs_met": count_text(figures.met),
        "needs_open": count_text(figures.open),
        **{f"unmet_{r}": count_text(figures.unmet.get(r, 0)) for r in UnmetReason},
        "median_seconds_to_taken": need_times(figures, figures.median, seconds=True),
        "p90_seconds_to_taken": need_times(figures, figures.p90, seconds=True),
    }


def _place_rows(support: SupportFigures, network: Network, language: str) -> Iterable[Row]:
    for region in support.regions:
        free = support.free_days[region]
        yield {
            "dimension": "places",
            "region": region,
            "region_name": region_label(network, region, language),
            "days_with_free_place": free.with_free if free else NONE,
            "days": free.days if free else NONE,
        }
