"""The network report as text lines (Telegram HTML) in the reader's language: staffing and answer
times per region and sector, the gaps, and the support system's section."""

from __future__ import annotations

from collections import defaultdict

from bot import i18n
from bot.network import Network
from bot.offers.figures import NeedFigures, SupportFigures
from bot.report import AlertKind, Cell, Figures, Gap, GapKind, Report, count_text
from handlers.report.views.values import (
    NONE,
    day,
    duration,
    duration_text,
    need_times,
    number,
    region_label,
    sector_label,
    share_text,
    what_label,
)
from storage.models import UnmetReason

_GAP_ORDER = (
    "report.gap.no_member",
    "report.gap.unreachable",
    *(
        f"report.gap.{kind}.{alert_kind}"
        for alert_kind in AlertKind
        for kind in ("unanswered", "slow")
    ),
)


def report_lines(report: Report, network: Network, language: str, generated: str) -> list[str]:
    """The report as Telegram HTML lines (to be chunked to Telegram's length limit)."""
    return [
        *_head_lines(report, language, generated),
        *_cell_lines(report, network, language),
        "",
        i18n.html_text(language, "report.gaps"),
        *(gap_lines(report, network, language) or [i18n.html_text(language, "report.no_gaps")]),
        *support_lines(report, network, language),
    ]


def _head_lines(report: Report, language: str, generated: str) -> list[str]:
    active, reachable = report.members
    first, last = day(report, "first", language), day(report, "last", language)
    return [
        i18n.html_text(language, "report.title", first=first, last=last),
        i18n.html_text(
            language,
            "report.summary",
            time=generated,
            real=report.alerts[AlertKind.REAL],
            drills=report.alerts[AlertKind.DRILL],
            active=count_text(active),
            reachable=count_text(reachable),
        ),
        i18n.html_text(language, "report.masking"),
    ]


def _cell_lines(report: Report, network: Network, language: str) -> list[str]:
    """Per region, its sectors with members or alerts, and their figures."""
    lines = []
    for region in report.regions:
        cells = [report.cell(region, s) for s in report.sectors]
        cells = [cell for cell in cells if _has_anything(cell)]
        if cells:
            name = region_label(network, region, language)
            lines += ["", i18n.html_text(language, "report.region", region=name)]
        for cell in cells:
            lines.append(
                i18n.html_text(
                    language,
                    "report.cell",
                    sector=sector_label(network, cell.sector, language),
                    active=count_text(cell.active),
                    reachable=count_text(cell.reachable),
                )
            )
            lines += [
                _figures_line(language, kind, cell.figures(kind))
                for kind in AlertKind
                if cell.figures(kind).alerts
            ]
    return lines


def _has_anything(cell: Cell) -> bool:
    return bool(cell.active or cell.real.alerts or cell.drill.alerts)


def _figures_line(language: str, kind: AlertKind, figures: Figures) -> str:
    return i18n.html_text(
        language,
        f"report.figures.{kind}",
        alerts=count_text(figures.alerts),
        share=share_text(figures),
        median=duration_text(figures, figures.median, language),
        p90=duration_text(figures, figures.p90, language),
        escalated=count_text(figures.escalated),
        unreachable=count_text(figures.unreachable),
    )


def _listing(language: str, heading: str, rows: list[tuple[str, str]]) -> list[str]:
    """A heading and a "where: which" line per row; nothing without rows. Gaps of the network
    (region: sectors) and of the support system (kind or topic: regions) read alike."""
    if not rows:
        return []
    line = "report.gap.line"
    return [heading, *(i18n.html_text(language, line, region=a, sectors=b) for a, b in rows)]


def gap_lines(report: Report, network: Network, language: str) -> list[str]:
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for gap in report.gaps:
        grouped[_gap_key(gap)][gap.region].append(gap.sector)
    limit = duration(report.slow_after.total_seconds())
    lines = []
    for key in _GAP_ORDER:
        sectors = grouped.get(key, {})
        rows = [
            (region_label(network, r, language), _sectors_text(network, sectors[r], language))
            for r in report.regions
            if sectors.get(r)
        ]
        lines += _listing(language, i18n.html_text(language, key, limit=limit), rows)
    return lines


def _sectors_text(network: Network, sectors: list[str], language: str) -> str:
    if set(sectors) == set(network.sectors):
        return i18n.text(language, "sectors.all")
    return ", ".join(sector_label(network, s, language) for s in sectors)


def _gap_key(gap: Gap) -> str:
    if gap.kind in (GapKind.NO_MEMBER, GapKind.UNREACHABLE):
        return f"report.gap.{gap.kind}"
    return f"report.gap.{gap.kind}.{gap.alert_kind}"


# -- the support system: offers, free places, needs ---------------------------------------------


def support_lines(report: Report, network: Network, language: str) -> list[str]:
    """The support system's section of the report text."""
    support = report.support
    if support is None:
        return []
    return [
        "",
        i18n.html_text(language, "report.support.title", count=support.offers),
        *_offer_gap_lines(support, network, language),
        i18n.html_text(language, "report.support.free_days"),
        *_free_day_lines(support, network, language),
        *_need_lines(support, network, language),
    ]


def _offer_gap_lines(support: SupportFigures, network: Network, language: str) -> list[str]:
    lines = []
    for key, gaps, codes in (
        ("report.support.topic_gaps", support.topic_gaps(), support.topics),
        ("report.support.kind_gaps", support.kind_gaps(), support.kinds),
    ):
        rows = [
            (what_label(network, code, language), _regions_text(network, regions, language))
            for code in codes
            if (regions := [r for r, c in gaps if c == code])
        ]
        lines += _listing(language, i18n.html_text(language, key), rows)
    return lines or [i18n.html_text(language, "report.support.no_gaps")]


def _regions_text(network: Network, regions: list[str], language: str) -> str:
    everywhere = [r for r in network.regions if r != network.statewide_region]
    if sorted(regions) == sorted(everywhere):
        return i18n.text(language, "report.support.everywhere")
    return ", ".join(region_label(network, r, language) for r in regions)


def _free_day_lines(support: SupportFigures, network: Network, language: str) -> list[str]:
    lines = []
    for region in support.regions:
        free = support.free_days[region]
        name = region_label(network, region, language)
        if free is None:
            if region != support.statewide_region:
                lines.append(i18n.html_text(language, "report.support.free_none", region=name))
            continue
        lines.append(
            i18n.html_text(
                language,
                "report.support.free_line",
                region=name,
                days=free.with_free,
                count=free.days,
                share=NONE if free.share is None else number(free.share * 100) + " %",
            )
        )
    return lines


def _need_lines(support: SupportFigures, network: Network, language: str) -> list[str]:
    total = support.total_needs
    lines = [
        i18n.html_text(
            language,
            "report.support.needs",
            raised=count_text(total.raised),
            met=count_text(total.met),
            unmet=count_text(total.unmet_total),
            open=count_text(total.open),
        )
    ]
    if not support.needs:
        lines.append(i18n.html_text(language, "report.support.no_needs"))
    for region in support.regions:
        for code in (*support.kinds, *support.topics):
            figures = support.needs.get((region, code))
            if figures is not None:
                lines.append(_need_line(network, language, region, code, figures))
    return lines


def _need_line(
    network: Network, language: str, region: str, code: str, figures: NeedFigures
) -> str:
    reasons = ", ".join(
        f"{i18n.text(language, f'need.reason.{reason}')} {count_text(count)}"
        for reason in UnmetReason
        if (count := figures.unmet.get(reason, 0))
    )
    return i18n.html_text(
        language,
        "report.support.needs_line",
        region=region_label(network, region, language),
        what=what_label(network, code, language),
        raised=count_text(figures.raised),
        met=count_text(figures.met),
        unmet=count_text(figures.unmet_total),
        reasons=f" ({reasons})" if reasons else "",
        median=need_times(figures, figures.median, seconds=False, language=language),
        p90=need_times(figures, figures.p90, seconds=False, language=language),
    )
