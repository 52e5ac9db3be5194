"""Dates as members write them, the German way (`14.01.2027 10:00`), in the network's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

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
# How a reader of each language writes a point in time.
_TIME_PATTERNS = {"de": "dd.MM.yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}


def local_text(moment: datetime, timezone: str, language: str) -> str:
    """A point in time in the network's time zone, written the way the reader expects
    (`08.12.2026 11:40`, `8 Dec 2026, 11:40`): every time a person reads, chat or command line."""
    pattern = _TIME_PATTERNS.get(language, _TIME_PATTERNS["de"])
    return str(format_datetime(moment, pattern, tzinfo=ZoneInfo(timezone), locale=language))


def trace_time(moment: datetime, timezone: str, language: str, *, day_of: datetime) -> str:
    """When a person did something about a message (`10:42`): the time alone on the day of
    the message `day_of`, with the date on a later day; in the network's time zone."""
    zone = ZoneInfo(timezone)
    if moment.astimezone(zone).date() != day_of.astimezone(zone).date():
        return local_text(moment, timezone, language)
    return str(format_datetime(moment, "HH:mm", tzinfo=zone, locale=language))


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
