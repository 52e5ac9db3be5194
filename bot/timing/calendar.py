"""Calendar files (iCalendar, RFC 5545) for the date a poll settled on.

`icalendar` (about 80 modules) is imported when a file is made, not with the bot."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PRODUCT_ID = "-//cora-bot//Meeting poll//DE"


def meeting_ics(
    *,
    uid: str,
    title: str,
    start: datetime,
    end: datetime | None,
    all_day: bool,
    timezone: str,
    stamp: datetime,
    duration: timedelta = timedelta(hours=1),
) -> bytes:
    """One event in the network's time zone, with that zone's VTIMEZONE, ready to import."""
    from icalendar import Calendar, Event

    zone = ZoneInfo(timezone)
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("summary", title)
    if all_day:
        day = start.astimezone(zone).date()
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
    else:
        event.add("dtstart", start.astimezone(zone))
        event.add("dtend", (end or start + duration).astimezone(zone))
    calendar.add_component(event)
    # The zone's rules around the event are enough, and keep the file small.
    around = start.astimezone(zone).date()
    calendar.add_missing_timezones(around - timedelta(days=366), around + timedelta(days=366))
    return bytes(calendar.to_ical())
