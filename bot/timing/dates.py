"""Dates as members write them, the German way (`14.01.2027 10:00`), in the network's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import i18n
from bot.errors import DomainError

# D.M.YYYY, optionally HH:MM[:SS], optionally an end time -HH:MM (date poll options only).
_MOMENT = re.compile(
    r"^(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})"
    r"(?:[ ,]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"(?:\s*[-–]\s*(?P<end_hour>\d{1,2}):(?P<end_minute>\d{2}))?)?"
    r"(?:\s*Uhr)?$"
)
# A date with its time at the start of a longer text: "14.01.2027 10:00 rest …".
_LEADING = re.compile(r"^\s*(\d{1,2}\.\d{1,2}\.\d{4}(?:[ ,]+\d{1,2}:\d{2}(?::\d{2})?)?)(?:\s+|$)")
_END_OF_DAY = time(23, 59)

# Dates are written without Babel's date formatting: it loads the whole CLDR data of every
# locale it formats for (about 5 MB resident for German and English together) to name 7
# weekdays and 12 months. The names are in the catalogues (`date.weekday.*`, `date.month.*`),
# CLDR's abbreviated format names; tests/services/test_dates.py checks every pattern against
# Babel's own output.


def in_zone(moment: datetime, timezone: str) -> datetime:
    """`moment` in the network's time zone; a moment without a zone is UTC (as Babel read it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone))


def clock_text(moment: datetime, timezone: str) -> str:
    """The time of day in the network's time zone (`11:40`; CLDR's `HH:mm`)."""
    return f"{in_zone(moment, timezone):%H:%M}"


def local_text(moment: datetime, timezone: str, language: str) -> str:
    """A point in time in the network's time zone, written the way the reader expects
    (`08.12.2026 11:40`, `8 Dec 2026, 11:40`): every time a person reads, chat or command line."""
    local = in_zone(moment, timezone)
    if language == "en":  # d MMM yyyy, HH:mm
        return f"{local.day} {_month(language, local)} {local.year:04d}, {local:%H:%M}"
    return f"{local.day:02d}.{local.month:02d}.{local.year:04d} {local:%H:%M}"  # dd.MM.yyyy HH:mm


def weekday_date_text(moment: datetime, timezone: str, language: str) -> str:
    """The day with its weekday in the network's time zone (`Di., 08.12.2026`,
    `Tue, 8 Dec 2026`)."""
    local = in_zone(moment, timezone)
    weekday = i18n.text(language, f"date.weekday.{local.isoweekday()}")
    if language == "en":  # EEE, d MMM yyyy
        return f"{weekday}, {local.day} {_month(language, local)} {local.year:04d}"
    return f"{weekday}, {local.day:02d}.{local.month:02d}.{local.year:04d}"  # EEE, dd.MM.yyyy


def _month(language: str, local: datetime) -> str:
    return i18n.text(language, f"date.month.{local.month}")


def trace_time(moment: datetime, timezone: str, language: str, *, day_of: datetime) -> str:
    """When a person did something about a message (`10:42`): the time alone on the day of
    the message `day_of`, with the date on a later day; in the network's time zone."""
    if in_zone(moment, timezone).date() != in_zone(day_of, timezone).date():
        return local_text(moment, timezone, language)
    return clock_text(moment, timezone)


@dataclass(frozen=True)
class Moment:
    """A parsed point or stretch of time, in UTC; `all_day` when only a date was given."""

    start: datetime
    end: datetime | None
    all_day: bool


def parse_moment(
    raw: str,
    timezone: str,
    *,
    now: datetime,
    need_time: bool = False,
    allow_end: bool = False,
) -> Moment:
    """Parse `D.M.YYYY[ HH:MM[:SS][-HH:MM]]` in `timezone`; refuse malformed and past dates.
    Without a time, an all-day date (a past day is refused, today is fine)."""
    text = " ".join(raw.split())
    match = _MOMENT.match(text)
    if match is None or (match["end_hour"] is not None and not allow_end):
        raise DomainError("date.malformed", value=raw.strip()[:40])
    if need_time and match["hour"] is None:
        raise DomainError("date.time_missing", value=raw.strip()[:40])
    zone = ZoneInfo(timezone)
    try:
        day = date(int(match["year"]), int(match["month"]), int(match["day"]))
        if match["hour"] is None:
            start = datetime.combine(day, time(0, 0), zone)
            if day < now.astimezone(zone).date():
                raise DomainError("date.in_past", value=text)
            return Moment(start.astimezone(UTC), None, all_day=True)
        clock = time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
        start = datetime.combine(day, clock, zone)
        end = None
        if match["end_hour"] is not None:
            until = time(int(match["end_hour"]), int(match["end_minute"]))
            end = datetime.combine(day, until, zone)
            if end <= start:
                raise DomainError("date.end_before_start", value=text)
    except ValueError:
        raise DomainError("date.malformed", value=text[:40]) from None
    if start <= now:
        raise DomainError("date.in_past", value=text)
    return Moment(start.astimezone(UTC), end.astimezone(UTC) if end else None, all_day=False)


def parse_deadline(raw: str, timezone: str, *, now: datetime) -> datetime:
    """A deadline: a date alone means the end of that day."""
    moment = parse_moment(raw, timezone, now=now)
    if not moment.all_day:
        return moment.start
    local_day = moment.start.astimezone(ZoneInfo(timezone)).date()
    end = datetime.combine(local_day, _END_OF_DAY, ZoneInfo(timezone)).astimezone(UTC)
    if end <= now:
        raise DomainError("date.in_past", value=raw.strip()[:40])
    return end


def split_leading_moment(text: str) -> tuple[str | None, str]:
    """`14.01.2027 10:00 rest` → (`14.01.2027 10:00`, `rest`); without a leading date the
    first word is taken, so that a malformed date is reported instead of being read as text."""
    match = _LEADING.match(text)
    if match is not None:
        return match.group(1), text[match.end() :]
    first, _, rest = text.strip().partition(" ")
    return (first or None), rest


def day_bounds(moment: Moment, timezone: str) -> tuple[date, date]:
    """The local start day and the following day, for all-day calendar entries."""
    day = moment.start.astimezone(ZoneInfo(timezone)).date()
    return day, day + timedelta(days=1)
