"""Dates the German way, in the network's time zone."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import DomainError
from bot.timing.dates import (
    clock_text,
    local_text,
    parse_deadline,
    parse_moment,
    split_leading_moment,
    trace_time,
    weekday_date_text,
)

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


# --- written without Babel's locale data (issue 18, memory) ----------------------------------

_ZONES = ("Europe/Berlin", "America/New_York", "UTC")


def _moments() -> list[datetime]:
    """Every day of two years (every weekday and month, both clock changes of each year) at
    a varying hour and minute, and a few times without a zone."""
    start = datetime(2026, 1, 1, 0, 7, tzinfo=UTC)
    moments = [
        start + timedelta(days=day, hours=day * 7 % 24, minutes=day % 60) for day in range(731)
    ]
    return [*moments, datetime(2026, 3, 29, 1, 30), datetime(2027, 12, 31, 23, 59)]


@pytest.mark.parametrize("language", ["de", "en"])
def test_dates_read_as_babel_wrote_them(language: str) -> None:
    """The patterns the bot used with Babel's `format_datetime`, against Babel itself."""
    from babel.dates import format_datetime

    patterns = {"de": "dd.MM.yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}
    days = {"de": "EEE, dd.MM.yyyy", "en": "EEE, d MMM yyyy"}
    for zone in _ZONES:
        for moment in _moments():

            def babel(pattern: str, moment: datetime = moment, zone: str = zone) -> str:
                return str(format_datetime(moment, pattern, tzinfo=ZoneInfo(zone), locale=language))

            assert local_text(moment, zone, language) == babel(patterns[language])
            assert weekday_date_text(moment, zone, language) == babel(days[language])
            assert clock_text(moment, zone) == babel("HH:mm")
            next_day = moment + timedelta(days=1)
            assert trace_time(moment, zone, language, day_of=moment) == babel("HH:mm")
            assert trace_time(next_day, zone, language, day_of=moment) == babel(
                patterns[language], next_day
            )


_RENDER = """
import json, sys, tracemalloc
from datetime import UTC, datetime, timedelta
import bot.app
from bot import i18n
from bot.polls import OptionView
from bot.timing.dates import local_text, trace_time
from handlers.polls.views import option_label

for language in ("de", "en"):
    i18n.text(language, "date.weekday.1")  # the catalogues themselves are not counted
tracemalloc.start()
start = datetime(2026, 12, 8, 10, 40, tzinfo=UTC)
texts = []
for language in ("de", "en"):
    for day in range(40):
        moment = start + timedelta(days=day)
        option = OptionView(day, day + 1, None, moment, moment + timedelta(hours=2), False)
        texts.append(option_label(option, "Europe/Berlin", language))
        texts.append(local_text(moment, "Europe/Berlin", language))
        texts.append(trace_time(moment, "Europe/Berlin", language, day_of=start))
print(json.dumps({"texts": texts[:3], "kib": tracemalloc.get_traced_memory()[1] // 1024}))
"""


def test_writing_dates_loads_no_locale_data() -> None:
    """Babel loaded the whole CLDR data of German and English (about 5 MB resident, 4.7 MB of
    Python objects) on the first date a poll, an alert or a trace showed."""
    result = subprocess.run(
        [sys.executable, "-c", _RENDER], capture_output=True, text=True, check=True, timeout=120
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["texts"] == ["Di., 08.12.2026, 11:40–13:40", "08.12.2026 11:40", "11:40"]
    assert found["kib"] < 512, found
