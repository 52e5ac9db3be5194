"""Quiet hours: a daily window in which a member's non-urgent messages arrive silently."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.errors import DomainError
from storage.models import Member

_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")
_OFF = frozenset({"off", "aus", "none", "-"})


@dataclass(frozen=True)
class QuietHours:
    """A daily window in the network's time zone, start inclusive, end exclusive; it wraps
    around midnight when it starts later than it ends (22:00-07:00)."""

    start: int  # minutes after midnight
    end: int

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def text(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_quiet_hours(raw: str) -> QuietHours | None:
    """`22:00-07:00` (also `22-7`, with an en dash); `off` clears them (None)."""
    text = raw.strip().lower()
    if text in _OFF:
        return None
    parts = re.split(r"\s*[-–]\s*", text)
    if len(parts) != 2:
        raise DomainError("quiet.usage")
    start, end = (_minutes(part) for part in parts)
    if start == end:
        raise DomainError("quiet.empty")
    return QuietHours(start, end)


def _minutes(raw: str) -> int:
    match = _CLOCK.match(raw)
    if not match:
        raise DomainError("quiet.usage")
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if hours > 23 or minutes > 59:
        raise DomainError("quiet.usage")
    return hours * 60 + minutes


def quiet_hours_of(member: Member) -> QuietHours | None:
    if member.quiet_from is None or member.quiet_until is None:
        return None
    return QuietHours(member.quiet_from, member.quiet_until)


def is_quiet(member: Member, moment: datetime, timezone: ZoneInfo) -> bool:
    """Whether `moment` lies in the member's quiet hours."""
    return quiet_between(member.quiet_from, member.quiet_until, moment, timezone)


def quiet_between(start: int | None, end: int | None, moment: datetime, timezone: ZoneInfo) -> bool:
    """Whether `moment` lies in the quiet hours from `start` to `end` (a member's
    `quiet_from` and `quiet_until`, read without loading the member)."""
    if start is None or end is None:
        return False
    local = moment.astimezone(timezone)
    return QuietHours(start, end).contains(local.hour * 60 + local.minute)
