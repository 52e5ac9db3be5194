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
from bot.report import MASK, AlertKind, Cell, Figures, Gap, GapKind, Report, count_text

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


def duration_text(figures: Figures, value: float | None) -> str:
    masked = _time_masked(figures, value)
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
    return lines


def _has_anything(cell: Cell) -> bool:
    return bool(cell.active or cell.real.alerts or cell.drill.alerts)


def _figures_line(language: str, kind: AlertKind, figures: Figures) -> str:
    return i18n.html_text(
        language,
        f"report.figures.{kind}",
        alerts=count_text(figures.alerts),
        share=share_text(figures),
        median=duration_text(figures, figures.median),
        p90=duration_text(figures, figures.p90),
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
