"""Dates the German way, in the network's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import DomainError
from bot.timing.dates import parse_deadline, parse_moment, split_leading_moment, trace_time

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ZONE = "Europe/Berlin"


@pytest.mark.parametrize(
    ("raw", "start", "end", "all_day"),
    [
        ("14.01.2027 10:00", datetime(2027, 1, 14, 9, 0, tzinfo=UTC), None, False),
        ("4.7.2027 9:30", datetime(2027, 7, 4, 7, 30, tzinfo=UTC), None, False),  # summer time
        ("14.01.2027, 10:00 Uhr", datetime(2027, 1, 14, 9, 0, tzinfo=UTC), None, False),
        ("14.01.2027 10:00:30", datetime(2027, 1, 14, 9, 0, 30, tzinfo=UTC), None, False),
        (
            "14.01.2027 10:00-12:30",
            datetime(2027, 1, 14, 9, 0, tzinfo=UTC),
            datetime(2027, 1, 14, 11, 30, tzinfo=UTC),
            False,
        ),
        ("14.01.2027", datetime(2027, 1, 13, 23, 0, tzinfo=UTC), None, True),
        ("04.01.2027", datetime(2027, 1, 3, 23, 0, tzinfo=UTC), None, True),  # today, whole day
    ],
)
def test_dates_are_read_in_the_networks_time_zone(
    raw: str, start: datetime, end: datetime | None, all_day: bool
) -> None:
    moment = parse_moment(raw, ZONE, now=NOW, allow_end=True)
    assert (moment.start, moment.end, moment.all_day) == (start, end, all_day)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("31.02.2027 10:00", "date.malformed"),
        ("14.13.2027", "date.malformed"),
        ("14.01.2027 25:00", "date.malformed"),
        ("2027-01-14 10:00", "date.malformed"),
        ("14.01.27 10:00", "date.malformed"),
        ("morgen", "date.malformed"),
        ("14.01.2027 10:00-09:00", "date.end_before_start"),
        ("04.01.2027 09:59", "date.in_past"),
        ("03.01.2027", "date.in_past"),
    ],
)
def test_malformed_and_past_dates_are_refused(raw: str, key: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_moment(raw, ZONE, now=NOW, allow_end=True)
    assert refused.value.message_key == key


def test_a_time_is_required_where_a_day_would_be_too_vague() -> None:
    with pytest.raises(DomainError, match=r"date\.time_missing"):
        parse_moment("14.01.2027", ZONE, now=NOW, need_time=True)
    with pytest.raises(DomainError, match=r"date\.malformed"):
        parse_moment("14.01.2027 10:00-12:00", ZONE, now=NOW)  # no end times for deadlines


def test_a_deadline_given_as_a_day_lasts_until_its_end() -> None:
    assert parse_deadline("14.01.2027", ZONE, now=NOW) == datetime(2027, 1, 14, 22, 59, tzinfo=UTC)
    assert parse_deadline("04.01.2027", ZONE, now=NOW) == datetime(2027, 1, 4, 22, 59, tzinfo=UTC)


def test_the_leading_date_is_split_from_the_rest() -> None:
    assert split_leading_moment("14.01.2027 10:00 Titel | A") == ("14.01.2027 10:00", "Titel | A")
    assert split_leading_moment("14.01.2027 Titel") == ("14.01.2027", "Titel")
    assert split_leading_moment("morgen Titel") == ("morgen", "Titel")


def test_a_trace_time_is_the_time_alone_on_the_messages_day_and_with_the_date_later() -> None:
    """✓ Gesehen 10:42 on the alert's day (Berlin time, also across UTC midnight); the date
    too when it was pressed on a later day."""
    raised = datetime(2026, 12, 8, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    assert trace_time(raised.replace(minute=42), "Europe/Berlin", "de", day_of=raised) == "23:42"
    assert trace_time(raised.replace(minute=42), "Europe/Berlin", "en", day_of=raised) == "23:42"
    next_day = datetime(2026, 12, 8, 23, 5, tzinfo=UTC)  # 00:05 on 9 December in Berlin
    assert trace_time(next_day, "Europe/Berlin", "de", day_of=raised) == "09.12.2026 00:05"
    assert trace_time(next_day, "Europe/Berlin", "en", day_of=raised) == "9 Dec 2026, 00:05"
