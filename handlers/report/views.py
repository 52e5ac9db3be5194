"""The network report as the reader gets it: text lines (Telegram HTML), a CSV table and a heat
map picture, in the reader's language, with small numbers masked everywhere."""

from __future__ import annotations

import csv
import html
import io
import re
import textwrap
from collections import defaultdict
from typing import Any

from bot import i18n
from bot.network import Network
from bot.offers.figures import NeedFigures
from bot.report import MASK, SMALL, AlertKind, Cell, Figures, Gap, GapKind, Report, count_text
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
NONE = "–"
_TAG = re.compile(r"<[^>]+>")


# -- values as shown -------------------------------------------------------------------------


def _number(value: float) -> str:
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def share_text(figures: Figures, *, percent_sign: bool = True) -> str:
    share = figures.share
    if share is None:
        return NONE
    if not figures.share_shown:
        return MASK
    return _number(share * 100) + (" %" if percent_sign else "")


def _time_masked(figures: Figures, value: float | None) -> str | None:
    """What stands for a time that may not be shown: with fewer than three alerts not even
    whether anybody answered, with fewer than three acknowledgements no time."""
    if not figures.alerts:
        return NONE
    if not figures.share_shown:
        return MASK
    if value is None:
        return NONE  # nobody answered, which the share (0 %) shows anyway
    return None if figures.times_shown else MASK


def seconds_text(figures: Figures, value: float | None) -> str:
    """Seconds, for the CSV."""
    masked = _time_masked(figures, value)
    if masked is not None or value is None:
        return masked or NONE
    return _number(value)


def duration_text(figures: Figures, value: float | None, language: str) -> str:
    """A time as read in the chat: a masked one says that there are too few data, since "<3"
    next to a time reads like "under 3 minutes"."""
    masked = _time_masked(figures, value)
    if masked == MASK:
        return i18n.text(language, "report.too_few", limit=SMALL)
    if masked is not None or value is None:
        return masked or NONE
    return duration(value)


def duration(seconds: float) -> str:
    """`45 s`, `4 min 10 s`, `2 h 5 min`."""
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(total, 3600)
    minutes = rest // 60
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _day(report: Report, which: str, language: str) -> str:
    day = report.first_day if which == "first" else report.last_day
    return day.strftime("%d.%m.%Y") if language == "de" else day.isoformat()


# -- text ------------------------------------------------------------------------------------


def report_lines(report: Report, network: Network, language: str, generated: str) -> list[str]:
    """The report as Telegram HTML lines (to be chunked to Telegram's length limit)."""
    active, reachable = report.members
    lines = [
        i18n.html_text(
            language,
            "report.title",
            first=_day(report, "first", language),
            last=_day(report, "last", language),
        ),
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
    for region in report.regions:
        cells = [
            report.cell(region, sector)
            for sector in report.sectors
            if _has_anything(report.cell(region, sector))
        ]
        if not cells:
            continue
        lines.append("")
        lines.append(
            i18n.html_text(language, "report.region", region=_label(network, region, language))
        )
        for cell in cells:
            lines.append(
                i18n.html_text(
                    language,
                    "report.cell",
                    sector=_sector_label(network, cell.sector, language),
                    active=count_text(cell.active),
                    reachable=count_text(cell.reachable),
                )
            )
            for kind in AlertKind:
                figures = cell.figures(kind)
                if figures.alerts:
                    lines.append(_figures_line(language, kind, figures))
    lines.append("")
    lines.append(i18n.html_text(language, "report.gaps"))
    lines.extend(
        gap_lines(report, network, language) or [i18n.html_text(language, "report.no_gaps")]
    )
    lines.extend(support_lines(report, network, language))
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


def gap_lines(report: Report, network: Network, language: str) -> list[str]:
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for gap in report.gaps:
        grouped[_gap_key(gap)][gap.region].append(gap.sector)
    lines = []
    order = [
        "report.gap.no_member",
        "report.gap.unreachable",
        *(
            f"report.gap.{kind}.{alert_kind}"
            for alert_kind in AlertKind
            for kind in ("unanswered", "slow")
        ),
    ]
    for key in order:
        if key not in grouped:
            continue
        lines.append(
            i18n.html_text(language, key, limit=duration(report.slow_after.total_seconds()))
        )
        for region in report.regions:
            sectors = grouped[key].get(region)
            if sectors:
                lines.append(
                    i18n.html_text(
                        language,
                        "report.gap.line",
                        region=_label(network, region, language),
                        sectors=_sectors_text(network, sectors, language),
                    )
                )
    return lines


def _sectors_text(network: Network, sectors: list[str], language: str) -> str:
    if set(sectors) == set(network.sectors):
        return i18n.text(language, "sectors.all")
    return ", ".join(_sector_label(network, s, language) for s in sectors)


def _gap_key(gap: Gap) -> str:
    if gap.kind in (GapKind.NO_MEMBER, GapKind.UNREACHABLE):
        return f"report.gap.{gap.kind}"
    return f"report.gap.{gap.kind}.{gap.alert_kind}"


def plain_lines(lines: list[str]) -> str:
    """HTML lines as plain text (for the command line)."""
    return "\n".join(html.unescape(_TAG.sub("", line)) for line in lines) + "\n"


def _label(network: Network, region: str, language: str) -> str:
    place = network.regions.get(region)
    return place.label(language) if place else region


def _sector_label(network: Network, sector: str, language: str) -> str:
    place = network.sectors.get(sector)
    return place.label(language) if place else sector


# -- CSV ---------------------------------------------------------------------------------------


def report_csv(report: Report, network: Network, language: str) -> str:
    """One row per kind (real, drill), region and sector; column names are fixed English
    identifiers, names are in the reader's language; masked values read "<3", missing "–"."""
    gaps: dict[tuple[str, str], list[str]] = defaultdict(list)
    for gap in report.gaps:
        code = gap.kind if gap.alert_kind is None else f"{gap.kind}:{gap.alert_kind}"
        gaps[(gap.region, gap.sector)].append(code)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for kind in AlertKind:
        for region in report.regions:
            for sector in report.sectors:
                cell = report.cell(region, sector)
                figures = cell.figures(kind)
                writer.writerow(
                    [
                        kind,
                        region,
                        _label(network, region, language),
                        sector,
                        _sector_label(network, sector, language),
                        count_text(cell.active),
                        count_text(cell.reachable),
                        count_text(figures.alerts),
                        share_text(figures, percent_sign=False),
                        seconds_text(figures, figures.median),
                        seconds_text(figures, figures.p90),
                        count_text(figures.escalated),
                        count_text(figures.unreachable),
                        ";".join(gaps.get((region, sector), [])),
                    ]
                )
    return out.getvalue()


# -- heat map ----------------------------------------------------------------------------------

_COVERAGE_SHADES = ("#ffffff", "#e6e6e6", "#b3b3b3", "#7a7a7a", "#404040")  # 0, <3, 3-4, 5-9, 10+
_TIME_SHADES = (
    "#f2f2f2",
    "#cccccc",
    "#999999",
    "#666666",
    "#333333",
)  # ≤5, ≤15, ≤60, ≤240 min, more
_TIME_LIMITS = (5 * 60, 15 * 60, 60 * 60, 240 * 60)
_HATCH_NO_MEMBER = "xx"
_HATCH_UNREACHABLE = "///"
_HATCH_MASKED = ".."
_HATCH_UNANSWERED = "\\\\\\"


def _coverage_shade(reachable: int) -> int:
    if reachable == 0:
        return 0
    if reachable < 3:
        return 1
    if reachable < 5:
        return 2
    return 3 if reachable < 10 else 4


def _time_shade(seconds: float) -> int:
    return next((i for i, limit in enumerate(_TIME_LIMITS) if seconds <= limit), 4)


def report_png(report: Report, network: Network, language: str) -> bytes:
    """A region × sector heat map: coverage, and the median time to the first
    acknowledgement for real alerts (and drills, if there were any). Grey shades and numbers in
    every cell, hatching for gaps: readable in black and white. Labels in `language`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    def t(key: str, **params: object) -> str:
        return i18n.text(language, key, **params)

    kinds = [AlertKind.REAL] + ([AlertKind.DRILL] if report.alerts[AlertKind.DRILL] else [])
    panels = 1 + len(kinds)
    rows, columns = len(report.regions), len(report.sectors)
    figure = Figure(figsize=(17, 0.5 * rows * panels + 1.6 * panels + 0.8), dpi=100)
    FigureCanvasAgg(figure)
    figure.suptitle(
        t(
            "report.png.title",
            first=_day(report, "first", language),
            last=_day(report, "last", language),
        ),
        fontsize=14,
        fontweight="bold",
    )
    axes = figure.subplots(panels, 1, squeeze=False)[:, 0]
    region_labels = [_label(network, r, language) for r in report.regions]
    sector_labels = [
        "\n".join(textwrap.wrap(_sector_label(network, s, language), 16, break_long_words=False))
        for s in report.sectors
    ]
    gaps = {(g.region, g.sector, g.kind, g.alert_kind) for g in report.gaps}

    def cell_patch(ax: Any, x: int, y: int, shade: str, hatch: str | None, text: str) -> None:
        ax.add_patch(
            Rectangle(
                (x - 0.5, y - 0.5), 1, 1, facecolor=shade, hatch=hatch, edgecolor="black", lw=0.6
            )
        )
        dark = shade in (_COVERAGE_SHADES[3], _COVERAGE_SHADES[4], *_TIME_SHADES[3:])
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=9,
            color="white" if dark else "black",
            fontweight="bold",
            bbox=None
            if dark or hatch is None
            else {"facecolor": "white", "edgecolor": "none", "pad": 1},
        )

    def frame(ax: Any, title: str, legend: list[Any]) -> None:
        ax.set_xlim(-0.5, columns - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_xticks(range(columns), sector_labels, fontsize=8)
        ax.set_yticks(range(rows), region_labels, fontsize=9)
        ax.tick_params(length=0)
        ax.set_title(title, fontsize=11, loc="left")
        ax.legend(
            handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
        )

    coverage = axes[0]
    statewide = network.statewide_region
    for y, region in enumerate(report.regions):
        for x, sector in enumerate(report.sectors):
            cell = report.cell(region, sector)
            hatch = None
            if (region, sector, GapKind.NO_MEMBER, None) in gaps:
                hatch = _HATCH_NO_MEMBER
            elif (region, sector, GapKind.UNREACHABLE, None) in gaps:
                hatch = _HATCH_UNREACHABLE
            text = count_text(cell.active)
            if cell.reachable != cell.active:
                text += f"/{count_text(cell.reachable)}"
            if region == statewide and cell.active == 0:
                text = ""
            cell_patch(
                coverage, x, y, _COVERAGE_SHADES[_coverage_shade(cell.reachable)], hatch, text
            )
    frame(
        coverage,
        t("report.png.coverage"),
        [
            Patch(
                facecolor="white",
                edgecolor="black",
                hatch=_HATCH_NO_MEMBER,
                label=t("report.png.no_member"),
            ),
            Patch(
                facecolor="white",
                edgecolor="black",
                hatch=_HATCH_UNREACHABLE,
                label=t("report.png.unreachable"),
            ),
            *(
                Patch(facecolor=shade, edgecolor="black", label=t(f"report.png.reachable.{i}"))
                for i, shade in enumerate(_COVERAGE_SHADES)
                if i
            ),
            Patch(facecolor="white", edgecolor="white", label=t("report.png.coverage_numbers")),
        ],
    )

    for ax, kind in zip(axes[1:], kinds, strict=True):
        for y, region in enumerate(report.regions):
            for x, sector in enumerate(report.sectors):
                figures = report.cell(region, sector).figures(kind)
                median = figures.median
                if not figures.alerts:
                    cell_patch(ax, x, y, "#ffffff", None, NONE)
                    continue
                hatch = (
                    _HATCH_UNANSWERED
                    if (region, sector, GapKind.UNANSWERED, kind) in gaps
                    else None
                )
                if median is None or not figures.times_shown:
                    # Too few to show a time; with too few alerts not even whether anybody
                    # answered.
                    text = MASK
                    if figures.share_shown and not figures.acknowledged:
                        text = t("report.png.no_ack")
                    cell_patch(ax, x, y, "#ffffff", hatch or _HATCH_MASKED, text)
                    continue
                text = duration(median)
                if figures.share_shown:
                    text += f"\n{share_text(figures)}"
                cell_patch(ax, x, y, _TIME_SHADES[_time_shade(median)], hatch, text)
        frame(
            ax,
            t(f"report.png.times.{kind}"),
            [
                *(
                    Patch(facecolor=shade, edgecolor="black", label=t(f"report.png.time.{i}"))
                    for i, shade in enumerate(_TIME_SHADES)
                ),
                Patch(
                    facecolor="white",
                    edgecolor="black",
                    hatch=_HATCH_MASKED,
                    label=t("report.png.masked"),
                ),
                Patch(
                    facecolor="white",
                    edgecolor="black",
                    hatch=_HATCH_UNANSWERED,
                    label=t("report.png.unanswered"),
                ),
                Patch(facecolor="white", edgecolor="black", label=t("report.png.no_alerts")),
            ],
        )
    figure.text(0.01, 0.005, t("report.png.footer"), fontsize=8, ha="left", va="bottom")
    figure.tight_layout(rect=(0, 0.02, 1, 0.97))
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


# -- the support system: offers, free places, needs ---------------------------------------------

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


def _need_times(
    figures: NeedFigures, value: float | None, *, seconds: bool, language: str | None = None
) -> str:
    """Times until a need was taken: shown from three met needs on, like answer times. In the
    chat (`language` given) a masked time says that there are too few data; the CSV keeps "<3"."""
    if not figures.met or value is None:
        return NONE
    if figures.met < SMALL:
        return MASK if language is None else i18n.text(language, "report.too_few", limit=SMALL)
    return _number(value) if seconds else duration(value)


def _what_label(network: Network, code: str, language: str) -> str:
    place = network.offer_kinds.get(code) or network.topics.get(code)
    return place.label(language) if place else code


def _regions_text(network: Network, regions: list[str], language: str) -> str:
    everywhere = [r for r in network.regions if r != network.statewide_region]
    if sorted(regions) == sorted(everywhere):
        return i18n.text(language, "report.support.everywhere")
    return ", ".join(_label(network, r, language) for r in regions)


def support_lines(report: Report, network: Network, language: str) -> list[str]:
    """The support system's section of the report text."""
    support = report.support
    if support is None:
        return []
    lines = ["", i18n.html_text(language, "report.support.title", count=support.offers)]
    for key, gaps, labels in (
        ("report.support.topic_gaps", support.topic_gaps(), support.topics),
        ("report.support.kind_gaps", support.kind_gaps(), support.kinds),
    ):
        if not gaps:
            continue
        lines.append(i18n.html_text(language, key))
        for code in labels:
            regions = [r for r, c in gaps if c == code]
            if regions:
                lines.append(
                    i18n.html_text(
                        language,
                        "report.gap.line",
                        region=_what_label(network, code, language),
                        sectors=_regions_text(network, regions, language),
                    )
                )
    if not support.topic_gaps() and not support.kind_gaps():
        lines.append(i18n.html_text(language, "report.support.no_gaps"))
    lines.append(i18n.html_text(language, "report.support.free_days"))
    for region in support.regions:
        free = support.free_days[region]
        name = _label(network, region, language)
        if free is None:
            if region != support.statewide_region:
                lines.append(i18n.html_text(language, "report.support.free_none", region=name))
            continue
        share = free.share
        lines.append(
            i18n.html_text(
                language,
                "report.support.free_line",
                region=name,
                days=free.with_free,
                count=free.days,
                share=NONE if share is None else _number(share * 100) + " %",
            )
        )
    total = support.total_needs
    lines.append(
        i18n.html_text(
            language,
            "report.support.needs",
            raised=count_text(total.raised),
            met=count_text(total.met),
            unmet=count_text(total.unmet_total),
            open=count_text(total.open),
        )
    )
    if not support.needs:
        lines.append(i18n.html_text(language, "report.support.no_needs"))
    for region in support.regions:
        for code in (*support.kinds, *support.topics):
            figures = support.needs.get((region, code))
            if figures is None:
                continue
            reasons = ", ".join(
                f"{i18n.text(language, f'need.reason.{reason}')} {count_text(count)}"
                for reason in UnmetReason
                if (count := figures.unmet.get(reason, 0))
            )
            lines.append(
                i18n.html_text(
                    language,
                    "report.support.needs_line",
                    region=_label(network, region, language),
                    what=_what_label(network, code, language),
                    raised=count_text(figures.raised),
                    met=count_text(figures.met),
                    unmet=count_text(figures.unmet_total),
                    reasons=f" ({reasons})" if reasons else "",
                    median=_need_times(figures, figures.median, seconds=False, language=language),
                    p90=_need_times(figures, figures.p90, seconds=False, language=language),
                )
            )
    return lines


def support_csv(report: Report, network: Network, language: str) -> str:
    """The support system as a table: one row per region and topic, per region and kind (offers,
    gap, needs), and per region for free places. Need counts below three read "<3"."""
    support = report.support
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SUPPORT_CSV_COLUMNS)
    if support is None:
        return out.getvalue()
    empty_needs = NeedFigures()
    statewide = support.statewide_region
    for dimension, codes, counts in (
        ("topic", support.topics, support.by_topic),
        ("kind", support.kinds, support.by_kind),
    ):
        for region in support.regions:
            for code in codes:
                offers = counts[(region, code)]
                figures = support.needs.get((region, code), empty_needs)
                writer.writerow(
                    [
                        dimension,
                        region,
                        _label(network, region, language),
                        code,
                        _what_label(network, code, language),
                        offers,
                        "gap" if offers == 0 and region != statewide else "",
                        count_text(figures.raised),
                        count_text(figures.met),
                        count_text(figures.open),
                        *(count_text(figures.unmet.get(reason, 0)) for reason in UnmetReason),
                        _need_times(figures, figures.median, seconds=True),
                        _need_times(figures, figures.p90, seconds=True),
                        "",
                        "",
                    ]
                )
    for region in support.regions:
        free = support.free_days[region]
        writer.writerow(
            [
                "places",
                region,
                _label(network, region, language),
                "",
                "",
                *([""] * (len(SUPPORT_CSV_COLUMNS) - 7)),
                free.with_free if free else NONE,
                free.days if free else NONE,
            ]
        )
    return out.getvalue()


def support_png(report: Report, network: Network, language: str) -> bytes:
    """A region × topic heat map of offers (gaps hatched) and of unmet needs (masked below
    three), readable in black and white."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    support = report.support
    assert support is not None

    def t(key: str, **params: object) -> str:
        return i18n.text(language, key, **params)

    columns = [*support.topics, *support.kinds]
    rows = list(support.regions)
    figure = Figure(figsize=(19, 0.5 * len(rows) * 2 + 4.5), dpi=100)
    FigureCanvasAgg(figure)
    figure.suptitle(
        t(
            "report.support.png.title",
            first=_day(report, "first", language),
            last=_day(report, "last", language),
        ),
        fontsize=14,
        fontweight="bold",
    )
    axes = figure.subplots(2, 1, squeeze=False)[:, 0]
    labels = [
        "\n".join(textwrap.wrap(_what_label(network, c, language), 14, break_long_words=False))
        for c in columns
    ]

    def frame(ax: Any, title: str, legend: list[Any]) -> None:
        ax.set_xlim(-0.5, len(columns) - 0.5)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xticks(range(len(columns)), labels, fontsize=7)
        ax.set_yticks(range(len(rows)), [_label(network, r, language) for r in rows], fontsize=9)
        ax.tick_params(length=0)
        ax.axvline(len(support.topics) - 0.5, color="black", lw=2)
        ax.set_title(title, fontsize=11, loc="left")
        ax.legend(
            handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
        )

    def cell(ax: Any, x: int, y: int, shade: str, hatch: str | None, text: str) -> None:
        ax.add_patch(
            Rectangle(
                (x - 0.5, y - 0.5), 1, 1, facecolor=shade, hatch=hatch, edgecolor="black", lw=0.6
            )
        )
        dark = shade in (_COVERAGE_SHADES[3], _COVERAGE_SHADES[4])
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            color="white" if dark else "black",
        )

    offers_ax, needs_ax = axes
    for y, region in enumerate(rows):
        for x, code in enumerate(columns):
            count = (
                support.by_topic[(region, code)]
                if code in support.topics
                else support.by_kind[(region, code)]
            )
            gap = count == 0 and region != support.statewide_region
            shade = _COVERAGE_SHADES[_coverage_shade(count)]
            cell(offers_ax, x, y, shade, _HATCH_NO_MEMBER if gap else None, str(count))
            figures = support.needs.get((region, code))
            if figures is None or not figures.raised:
                cell(needs_ax, x, y, "#ffffff", None, NONE)
                continue
            unmet = figures.unmet_total
            masked = figures.raised < SMALL
            text = f"{count_text(unmet)}/{count_text(figures.raised)}"
            shade = _COVERAGE_SHADES[0 if not unmet else (2 if masked else 4)]
            cell(needs_ax, x, y, shade, _HATCH_MASKED if masked else None, text)
    frame(
        offers_ax,
        t("report.support.png.offers"),
        [
            Patch(
                facecolor="white",
                edgecolor="black",
                hatch=_HATCH_NO_MEMBER,
                label=t("report.support.png.gap"),
            ),
            Patch(facecolor="white", edgecolor="white", label=t("report.support.png.columns")),
        ],
    )
    frame(
        needs_ax,
        t("report.support.png.needs"),
        [
            Patch(
                facecolor=_COVERAGE_SHADES[4],
                edgecolor="black",
                label=t("report.support.png.unmet"),
            ),
            Patch(
                facecolor="white",
                edgecolor="black",
                hatch=_HATCH_MASKED,
                label=t("report.png.masked"),
            ),
        ],
    )
    figure.text(0.01, 0.005, t("report.png.footer"), fontsize=8, ha="left", va="bottom")
    figure.tight_layout(rect=(0, 0.02, 1, 0.97))
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
