"""Values of the report as they are shown in text, table and picture alike: shares, times and
names in the reader's language, with small numbers masked."""

from __future__ import annotations

import html
import re

from bot import i18n
from bot.network import Network
from bot.offers.figures import NeedFigures
from bot.report import MASK, SMALL, Figures, Report

NONE = "–"
_TAG = re.compile(r"<[^>]+>")


def number(value: float) -> str:
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def share_text(figures: Figures, *, percent_sign: bool = True) -> str:
    share = figures.share
    if share is None:
        return NONE
    if not figures.share_shown:
        return MASK
    return number(share * 100) + (" %" if percent_sign else "")


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
    return number(value)


def duration_text(figures: Figures, value: float | None, language: str) -> str:
    """A time as read in the chat: a masked one says that there are too few data, since "<3"
    next to a time reads like "under 3 minutes"."""
    masked = _time_masked(figures, value)
    if masked == MASK:
        return i18n.text(language, "report.too_few", limit=SMALL)
    if masked is not None or value is None:
        return masked or NONE
    return duration(value)


def need_times(
    figures: NeedFigures, value: float | None, *, seconds: bool, language: str | None = None
) -> str:
    """Times until a need was taken: shown from three met needs on, like answer times. In the
    chat (`language` given) a masked time says that there are too few data; the CSV keeps "<3"."""
    if not figures.met or value is None:
        return NONE
    if figures.met < SMALL:
        return MASK if language is None else i18n.text(language, "report.too_few", limit=SMALL)
    return number(value) if seconds else duration(value)


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


def day(report: Report, which: str, language: str) -> str:
    moment = report.first_day if which == "first" else report.last_day
    return moment.strftime("%d.%m.%Y") if language == "de" else moment.isoformat()


def region_label(network: Network, region: str, language: str) -> str:
    place = network.regions.get(region)
    return place.label(language) if place else region


def sector_label(network: Network, sector: str, language: str) -> str:
    place = network.sectors.get(sector)
    return place.label(language) if place else sector


def what_label(network: Network, code: str, language: str) -> str:
    """The name of an offer kind or a topic."""
    place = network.offer_kinds.get(code) or network.topics.get(code)
    return place.label(language) if place else code


def plain_lines(lines: list[str]) -> str:
    """HTML lines as plain text (for the command line)."""
    return "\n".join(html.unescape(_TAG.sub("", line)) for line in lines) + "\n"
