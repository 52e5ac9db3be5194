"""The report's heat maps: what each cell shows is worked out here as plain data (grey shade,
hatching, text), and one drawing routine turns it into a PNG. Grey shades and numbers in every
cell, hatching for gaps: readable in black and white. matplotlib is imported only to draw."""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from typing import Any

from bot import i18n
from bot.network import Network
from bot.offers.figures import SupportFigures
from bot.report import MASK, SMALL, AlertKind, Figures, GapKind, Report, count_text
from handlers.report.views.values import (
    NONE,
    day,
    duration,
    region_label,
    sector_label,
    share_text,
    what_label,
)

_COVERAGE_SHADES = ("#ffffff", "#e6e6e6", "#b3b3b3", "#7a7a7a", "#404040")  # 0, <3, 3-4, 5-9, 10+
# ≤5, ≤15, ≤60, ≤240 min, more
_TIME_SHADES = ("#f2f2f2", "#cccccc", "#999999", "#666666", "#333333")
_TIME_LIMITS = (5 * 60, 15 * 60, 60 * 60, 240 * 60)
_DARK = (*_COVERAGE_SHADES[3:], *_TIME_SHADES[3:])  # white text on these
_HATCH_NO_MEMBER = "xx"
_HATCH_UNREACHABLE = "///"
_HATCH_MASKED = ".."
_HATCH_UNANSWERED = "\\\\\\"
_WHITE = "#ffffff"


@dataclass(frozen=True)
class Box:
    """One cell of a heat map."""

    x: int
    y: int
    shade: str
    hatch: str | None
    text: str


@dataclass(frozen=True)
class Key:
    """One entry of a panel's legend."""

    label: str
    shade: str = "white"
    hatch: str | None = None
    edge: str = "black"


@dataclass(frozen=True)
class Panel:
    title: str
    boxes: list[Box]
    legend: list[Key]


@dataclass(frozen=True)
class HeatMap:
    title: str
    rows: list[str]  # labels, top to bottom
    columns: list[str]  # labels, left to right
    panels: list[Panel]
    size: tuple[float, float]  # inches
    footer: str
    column_font: int = 8
    divider: float | None = None  # a thick line between two groups of columns
    text_on_white: bool = True  # a white box behind the text of a light, hatched cell


def _coverage_shade(count: int) -> str:
    index = 0 if count == 0 else 1 if count < 3 else 2 if count < 5 else 3 if count < 10 else 4
    return _COVERAGE_SHADES[index]


def _time_shade(seconds: float) -> str:
    return _TIME_SHADES[next((i for i, limit in enumerate(_TIME_LIMITS) if seconds <= limit), 4)]


def _wrapped(label: str, width: int) -> str:
    return "\n".join(textwrap.wrap(label, width, break_long_words=False))


# -- the network report -------------------------------------------------------------------------


def report_png(report: Report, network: Network, language: str) -> bytes:
    """A region × sector heat map: coverage, and the median time to the first
    acknowledgement for real alerts (and drills, if there were any). Labels in `language`."""
    kinds = [AlertKind.REAL] + ([AlertKind.DRILL] if report.alerts[AlertKind.DRILL] else [])
    panels = [_coverage_panel(report, network, language)]
    panels += [_time_panel(report, kind, language) for kind in kinds]
    rows = len(report.regions)
    first, last = day(report, "first", language), day(report, "last", language)
    return draw(
        HeatMap(
            title=i18n.text(language, "report.png.title", first=first, last=last),
            rows=[region_label(network, r, language) for r in report.regions],
            columns=[_wrapped(sector_label(network, s, language), 16) for s in report.sectors],
            panels=panels,
            size=(17, 0.5 * rows * len(panels) + 1.6 * len(panels) + 0.8),
            footer=i18n.text(language, "report.png.footer"),
        )
    )


def _coverage_panel(report: Report, network: Network, language: str) -> Panel:
    gaps = {(g.region, g.sector, g.kind) for g in report.gaps if g.alert_kind is None}
    boxes = []
    for y, region in enumerate(report.regions):
        for x, sector in enumerate(report.sectors):
            cell = report.cell(region, sector)
            hatch = None
            if (region, sector, GapKind.NO_MEMBER) in gaps:
                hatch = _HATCH_NO_MEMBER
            elif (region, sector, GapKind.UNREACHABLE) in gaps:
                hatch = _HATCH_UNREACHABLE
            text = count_text(cell.active)
            if cell.reachable != cell.active:
                text += f"/{count_text(cell.reachable)}"
            if region == network.statewide_region and cell.active == 0:
                text = ""
            boxes.append(Box(x, y, _coverage_shade(cell.reachable), hatch, text))

    def t(key: str) -> str:
        return i18n.text(language, key)

    legend = [
        Key(t("report.png.no_member"), hatch=_HATCH_NO_MEMBER),
        Key(t("report.png.unreachable"), hatch=_HATCH_UNREACHABLE),
        *(Key(t(f"report.png.reachable.{i}"), s) for i, s in enumerate(_COVERAGE_SHADES) if i),
        Key(t("report.png.coverage_numbers"), edge="white"),
    ]
    return Panel(t("report.png.coverage"), boxes, legend)


def _time_panel(report: Report, kind: AlertKind, language: str) -> Panel:
    unanswered = {
        (g.region, g.sector)
        for g in report.gaps
        if g.kind == GapKind.UNANSWERED and g.alert_kind == kind
    }
    boxes = [
        _time_box(
            x,
            y,
            report.cell(region, sector).figures(kind),
            (region, sector) in unanswered,
            language,
        )
        for y, region in enumerate(report.regions)
        for x, sector in enumerate(report.sectors)
    ]

    def t(key: str) -> str:
        return i18n.text(language, key)

    legend = [
        *(Key(t(f"report.png.time.{i}"), shade) for i, shade in enumerate(_TIME_SHADES)),
        Key(t("report.png.masked"), hatch=_HATCH_MASKED),
        Key(t("report.png.unanswered"), hatch=_HATCH_UNANSWERED),
        Key(t("report.png.no_alerts")),
    ]
    return Panel(t(f"report.png.times.{kind}"), boxes, legend)


def _time_box(x: int, y: int, figures: Figures, unanswered: bool, language: str) -> Box:
    if not figures.alerts:
        return Box(x, y, _WHITE, None, NONE)
    hatch = _HATCH_UNANSWERED if unanswered else None
    median = figures.median
    if median is None or not figures.times_shown:
        # Too few to show a time; with too few alerts not even whether anybody answered.
        text = MASK
        if figures.share_shown and not figures.acknowledged:
            text = i18n.text(language, "report.png.no_ack")
        return Box(x, y, _WHITE, hatch or _HATCH_MASKED, text)
    text = duration(median)
    if figures.share_shown:
        text += f"\n{share_text(figures)}"
    return Box(x, y, _time_shade(median), hatch, text)


# -- the support system -------------------------------------------------------------------------


def support_png(report: Report, network: Network, language: str) -> bytes:
    """A region × topic heat map of offers (gaps hatched) and of unmet needs (masked below
    three), readable in black and white."""
    support = report.support
    assert support is not None
    columns = [*support.topics, *support.kinds]
    first, last = day(report, "first", language), day(report, "last", language)
    return draw(
        HeatMap(
            title=i18n.text(language, "report.support.png.title", first=first, last=last),
            rows=[region_label(network, r, language) for r in support.regions],
            columns=[_wrapped(what_label(network, c, language), 14) for c in columns],
            panels=[
                _offer_panel(support, columns, language),
                _need_panel(support, columns, language),
            ],
            size=(19, 0.5 * len(support.regions) * 2 + 4.5),
            footer=i18n.text(language, "report.png.footer"),
            column_font=7,
            divider=len(support.topics) - 0.5,
            text_on_white=False,
        )
    )


def _offer_panel(support: SupportFigures, columns: list[str], language: str) -> Panel:
    legend = [
        Key(i18n.text(language, "report.support.png.gap"), hatch=_HATCH_NO_MEMBER),
        Key(i18n.text(language, "report.support.png.columns"), edge="white"),
    ]
    title = i18n.text(language, "report.support.png.offers")
    return Panel(title, _offer_boxes(support, columns), legend)


def _need_panel(support: SupportFigures, columns: list[str], language: str) -> Panel:
    legend = [
        Key(i18n.text(language, "report.support.png.unmet"), _COVERAGE_SHADES[4]),
        Key(i18n.text(language, "report.png.masked"), hatch=_HATCH_MASKED),
    ]
    title = i18n.text(language, "report.support.png.needs")
    return Panel(title, _need_boxes(support, columns), legend)


def _offer_boxes(support: SupportFigures, columns: list[str]) -> list[Box]:
    boxes = []
    for y, region in enumerate(support.regions):
        for x, code in enumerate(columns):
            counts = support.by_topic if code in support.topics else support.by_kind
            count = counts[(region, code)]
            gap = count == 0 and region != support.statewide_region
            boxes.append(
                Box(x, y, _coverage_shade(count), _HATCH_NO_MEMBER if gap else None, str(count))
            )
    return boxes


def _need_boxes(support: SupportFigures, columns: list[str]) -> list[Box]:
    boxes = []
    for y, region in enumerate(support.regions):
        for x, code in enumerate(columns):
            figures = support.needs.get((region, code))
            if figures is None or not figures.raised:
                boxes.append(Box(x, y, _WHITE, None, NONE))
                continue
            unmet, masked = figures.unmet_total, figures.raised < SMALL
            shade = _COVERAGE_SHADES[0 if not unmet else (2 if masked else 4)]
            text = f"{count_text(unmet)}/{count_text(figures.raised)}"
            boxes.append(Box(x, y, shade, _HATCH_MASKED if masked else None, text))
    return boxes


# -- drawing -------------------------------------------------------------------------------------


def draw(heat: HeatMap) -> bytes:
    """The heat map as a PNG, one panel under the other."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=heat.size, dpi=100)
    FigureCanvasAgg(figure)
    figure.suptitle(heat.title, fontsize=14, fontweight="bold")
    axes = figure.subplots(len(heat.panels), 1, squeeze=False)[:, 0]
    for ax, panel in zip(axes, heat.panels, strict=True):
        for box in panel.boxes:
            _draw_box(ax, box, heat.text_on_white)
        _frame(ax, heat, panel)
    figure.text(0.01, 0.005, heat.footer, fontsize=8, ha="left", va="bottom")
    figure.tight_layout(rect=(0, 0.02, 1, 0.97))
    # Laid out once: with the layout engine left in place, savefig would lay out (and so
    # measure every text) a second time before it draws.
    figure.set_layout_engine(None)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _draw_box(ax: Any, box: Box, text_on_white: bool) -> None:
    """A cell: inside the axes, whose limits `_frame` sets, so the layout need not measure it
    (`in_layout`) nor the axes widen their limits for it (`add_artist`, not `add_patch`). Its
    text is a short figure ("12/34", "<3") that fits the cell; a wider one would not make the
    layout leave room for it."""
    from matplotlib.patches import Rectangle

    ax.add_artist(
        Rectangle(
            (box.x - 0.5, box.y - 0.5),
            1,
            1,
            facecolor=box.shade,
            hatch=box.hatch,
            edgecolor="black",
            lw=0.6,
            in_layout=False,
        )
    )
    dark = box.shade in _DARK
    white_box = text_on_white and not dark and box.hatch is not None
    ax.text(
        box.x,
        box.y,
        box.text,
        ha="center",
        va="center",
        fontsize=9,
        color="white" if dark else "black",
        fontweight="bold",
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1} if white_box else None,
        in_layout=False,
    )


def _frame(ax: Any, heat: HeatMap, panel: Panel) -> None:
    from matplotlib.patches import Patch

    ax.set_xlim(-0.5, len(heat.columns) - 0.5)
    ax.set_ylim(len(heat.rows) - 0.5, -0.5)
    ax.set_xticks(range(len(heat.columns)), heat.columns, fontsize=heat.column_font)
    ax.set_yticks(range(len(heat.rows)), heat.rows, fontsize=9)
    ax.tick_params(length=0)
    if heat.divider is not None:
        ax.axvline(heat.divider, color="black", lw=2)
    ax.set_title(panel.title, fontsize=11, loc="left")
    legend = [
        Patch(facecolor=key.shade, edgecolor=key.edge, hatch=key.hatch, label=key.label)
        for key in panel.legend
    ]
    ax.legend(
        handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
    )
