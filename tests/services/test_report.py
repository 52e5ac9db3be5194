"""The network report against a hand-built history with known times: every figure exact, the
same after retention has reduced the deliveries to counts, small cells masked in every output."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.errors import DomainError
from bot.network import load_network
from bot.report import (
    AlertKind,
    Figures,
    Gap,
    GapKind,
    Report,
    count_text,
    days_period,
    parse_period,
    percentile_90,
)
from handlers.report.views.picture import report_png
from handlers.report.views.table import CSV_COLUMNS, report_csv
from handlers.report.views.text import report_lines
from handlers.report.views.values import plain_lines
from localapi.images import image_size
from storage.db import Database
from tests.network_env import Env, berlin, build_env

BERLIN = ZoneInfo("Europe/Berlin")
OCTOBER = days_period(date(2026, 10, 1), date(2026, 10, 31), BERLIN)
SLOW_AFTER = timedelta(minutes=2)


@dataclass
class History:
    env: Env
    sender: int
    police: list[int]
    youth: list[int]
    counsellor: int  # police in LRO, confirmed for HRO too
    absent: int  # police in VG, away without a deputy
    coordinator: int
    state: int
    drills: list[str]


async def _alert(env: Env, sender: int, sectors: list[str], region: str, urgency: str) -> int:
    raised = await env.alerts.raise_alert(sender, sectors, region, urgency, "Rückruf erbeten")
    await env.deliver()
    return raised.alert.id


async def _ack(env: Env, alert_id: int, start: datetime, seconds: int, member: int) -> None:
    env.at(start + timedelta(seconds=seconds))
    await env.alerts.acknowledge(member, alert_id)


async def build_history(env: Env) -> History:
    """September: one alert before the period. October: four alerts to police in Rostock
    (one also to youth welfare), one to police in Vorpommern-Greifswald whose only member is
    away, three to justice in Rostock where there is nobody, and three drills. November: one
    alert after the period. P4 has blocked the bot."""
    sender = await env.member("victim_support", "HRO")
    police = [await env.member("police", "HRO") for _ in range(4)]
    youth = [await env.member("youth_welfare", "HRO") for _ in range(2)]
    counsellor = await env.member("police", "LRO")
    absent = await env.member("police", "VG")
    coordinator = await env.member("coordination", "HRO", role="coordinator")
    state = await env.member("coordination", "MV", role="coordinator")
    request = await env.availability.request_region(counsellor, "HRO")
    await env.availability.decide_region(coordinator, request.request.id, confirm=True)
    await env.availability.away(absent, date(2026, 12, 31), None)
    env.blocked.add(police[3])
    await env.deliver()
    p1, p2, p3, _ = police

    start = berlin(2026, 9, 20, 10)
    env.at(start)
    a0 = await _alert(env, sender, ["police"], "HRO", "normal")
    await _ack(env, a0, start, 10, p1)

    start = berlin(2026, 10, 5, 10)
    env.at(start)
    a1 = await _alert(env, sender, ["police"], "HRO", "urgent")
    await _ack(env, a1, start, 60, p1)
    await _ack(env, a1, start, 120, p2)

    start = berlin(2026, 10, 6, 10)
    env.at(start)
    a2 = await _alert(env, sender, ["police"], "HRO", "normal")
    await _ack(env, a2, start, 300, p2)

    start = berlin(2026, 10, 7, 10)
    env.at(start)
    a3 = await _alert(env, sender, ["police"], "HRO", "urgent")
    env.at(start + timedelta(minutes=15))
    assert [e.alert_id for e in await env.alerts.escalate_due()] == [a3]
    await env.deliver()
    await _ack(env, a3, start, 1200, p3)

    start = berlin(2026, 10, 8, 10)
    env.at(start)
    a4 = await _alert(env, sender, ["police", "youth_welfare"], "HRO", "urgent")
    await _ack(env, a4, start, 30, p1)
    await _ack(env, a4, start, 90, youth[0])

    env.at(berlin(2026, 10, 9, 10))
    a5 = await _alert(env, sender, ["police"], "VG", "urgent")
    assert [e.alert_id for e in await env.alerts.escalate_due()] == [a5]
    await env.deliver()

    for hour in (10, 11, 12):
        env.at(berlin(2026, 10, 10, hour))
        justice = await _alert(env, sender, ["justice"], "HRO", "normal")
        assert [e.alert_id for e in await env.alerts.escalate_due()] == [justice]
        await env.deliver()

    drills = []
    for day, member, seconds in ((20, p1, 45), (21, p2, 75), (22, p3, 100)):
        start = berlin(2026, 10, day, 10)
        env.at(start)
        drill = await env.drills.start(coordinator, ["police"], "HRO", "normal")
        await env.deliver()
        await _ack(env, drill.alert.id, start, seconds, member)
        drills.append(drill.alert.ref)

    env.at(berlin(2026, 11, 2, 10))
    await _alert(env, sender, ["police"], "HRO", "urgent")
    return History(env, sender, police, youth, counsellor, absent, coordinator, state, drills)


@pytest.fixture
async def history(database_url: str) -> AsyncIterator[History]:
    database = Database(database_url)
    env = build_env(database, berlin(2026, 9, 1, 9), SLOW_AFTER)
    yield await build_history(env)
    await database.dispose()


def test_the_90th_percentile_interpolates_between_the_closest_ranks() -> None:
    assert percentile_90([30, 60, 300, 1200]) == pytest.approx(930)
    assert percentile_90([45, 75, 100]) == pytest.approx(95)
    assert percentile_90([7]) == 7
    assert [count_text(n) for n in (0, 1, 2, 3, 10)] == ["0", "<3", "<3", "3", "10"]


async def test_the_reports_figures_match_the_hand_built_history_exactly(
    history: History,
) -> None:
    report = await history.env.reports.compute(*OCTOBER)
    assert report.alerts == {AlertKind.REAL: 8, AlertKind.DRILL: 3}
    assert report.members == (11, 9)  # the blocked member and the absent one are not reachable
    police = report.cell("HRO", "police")
    assert (police.active, police.reachable) == (5, 4)  # four in Rostock and the counsellor
    assert police.real == Figures(
        alerts=4, acknowledged=4, ack_seconds=(30, 60, 300, 1200), escalated=1, unreachable=4
    )
    assert (police.real.share, police.real.median, police.real.p90) == (1.0, 180, 930)
    assert police.drill == Figures(
        alerts=3, acknowledged=3, ack_seconds=(45, 75, 100), escalated=0, unreachable=3
    )
    assert (police.drill.median, police.drill.p90) == (75, 95)
    youth = report.cell("HRO", "youth_welfare")
    assert (youth.active, youth.reachable) == (2, 2)
    assert youth.real == Figures(alerts=1, acknowledged=1, ack_seconds=(90,))
    assert youth.drill == Figures()
    justice = report.cell("HRO", "justice")
    assert (justice.active, justice.real) == (0, Figures(alerts=3, escalated=3))
    assert justice.real.share == 0.0
    greifswald = report.cell("VG", "police")
    assert (greifswald.active, greifswald.reachable) == (1, 0)
    assert greifswald.real == Figures(alerts=1, escalated=1)
    assert (report.cell("LRO", "police").active, report.cell("LRO", "police").real) == (
        1,
        Figures(),
    )
    assert report.cell("MV", "coordination").active == 1
    assert report.cell("HRO", "coordination").active == 1
    busy = {key for key, cell in report.cells.items() if cell.real.alerts or cell.drill.alerts}
    assert busy == {
        ("HRO", "police"),
        ("HRO", "youth_welfare"),
        ("HRO", "justice"),
        ("VG", "police"),
    }

    answer_gaps = {g for g in report.gaps if g.kind != GapKind.NO_MEMBER}
    assert answer_gaps == {
        Gap("VG", "police", GapKind.UNREACHABLE),
        Gap("HRO", "police", GapKind.SLOW, AlertKind.REAL),  # median 3 min > 2 min
        Gap("HRO", "justice", GapKind.UNANSWERED, AlertKind.REAL),
    }
    empty = {(g.region, g.sector) for g in report.gaps if g.kind == GapKind.NO_MEMBER}
    staffed = {
        ("HRO", "police"),
        ("HRO", "youth_welfare"),
        ("HRO", "victim_support"),
        ("HRO", "coordination"),
        ("LRO", "police"),
        ("VG", "police"),
    }
    assert len(empty) == 8 * 10 - len(staffed)
    assert not empty & staffed and not any(region == "MV" for region, _ in empty)


async def test_the_figures_survive_retention_from_the_audit_log(history: History) -> None:
    env = history.env
    before = await env.reports.compute(*OCTOBER)
    for alert_id in await env.alerts.open_alert_ids():
        view = await env.alerts.view(alert_id)
        if not view.drill:
            await env.alerts.close(history.sender, alert_id)
    await env.drills.finish_due()  # closes the drills
    env.after(days=120)
    result = await env.data_protection.apply_retention()
    assert result.alerts == 10 + 3 and result.deliveries > 0
    after = await env.reports.compute(*OCTOBER)
    for key, cell in before.cells.items():
        assert (after.cells[key].real, after.cells[key].drill) == (cell.real, cell.drill), key


def _csv_rows(report: Report) -> dict[tuple[str, str, str], dict[str, str]]:
    text = report_csv(report, load_network(), "en")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert len(rows) == 2 * 9 * 10
    return {(r["kind"], r["region"], r["sector"]): r for r in rows}


async def test_the_csv_parses_and_masks_small_cells(history: History) -> None:
    rows = _csv_rows(await history.env.reports.compute(*OCTOBER))

    def values(kind: str, region: str, sector: str) -> list[str]:
        return [rows[(kind, region, sector)][c] for c in CSV_COLUMNS[5:]]

    assert rows[("real", "HRO", "police")]["sector_name"] == "Police"
    assert values("real", "HRO", "police") == [
        "5",
        "4",
        "4",
        "100",
        "180",
        "930",
        "<3",
        "4",
        "slow:real",
    ]
    assert values("drill", "HRO", "police") == [
        "5",
        "4",
        "3",
        "100",
        "75",
        "95",
        "0",
        "3",
        "slow:real",
    ]
    assert values("real", "HRO", "youth_welfare") == [
        "<3",
        "<3",
        "<3",
        "<3",
        "<3",
        "<3",
        "0",
        "0",
        "",
    ]
    assert values("real", "HRO", "justice") == [
        "0", "0", "3", "0", "–", "–", "3", "0", "no_member;unanswered:real",
    ]  # fmt: skip
    # One alert nobody answered: masked, not even "–", which would tell that nobody did.
    assert values("real", "VG", "police") == [
        "<3",
        "0",
        "<3",
        "<3",
        "<3",
        "<3",
        "<3",
        "0",
        "unreachable",
    ]
    assert values("drill", "SN", "health") == ["0", "0", "0", "–", "–", "–", "0", "0", "no_member"]
    every_value = [v for row in rows.values() for v in list(row.values())[5:13]]
    assert "1" not in every_value and "2" not in every_value


async def test_the_text_report_is_readable_and_masked(history: History) -> None:
    report = await history.env.reports.compute(*OCTOBER)
    text = plain_lines(report_lines(report, load_network(), "de", "02.11.2026 10:00"))
    assert "Netzwerkbericht 01.10.2026 – 31.10.2026" in text
    assert "Fallmeldungen: 8 · Übungen: 3 · Mitglieder: 11 aktiv, 9 erreichbar" in text
    assert "Polizei: 5 aktiv, 4 erreichbar" in text
    assert (
        "Fälle 4 · bestätigt 100 % · Median 3 min · P90 15 min 30 s · eskaliert <3 · "
        "nicht erreichbar 4" in text
    )
    assert "Übungen 3 · bestätigt 100 % · Median 1 min 15 s · P90 1 min 35 s" in text
    assert "Jugendamt: <3 aktiv, <3 erreichbar" in text
    assert (
        "Fälle <3 · bestätigt <3 · Median zu wenige Daten (< 3) · P90 zu wenige Daten (< 3)" in text
    )
    assert "Median <3" not in text and "P90 <3" not in text
    assert "Langsame Antworten auf Fallmeldungen (Median über 2 min):\n• Rostock: Polizei" in text
    assert (
        "Nur nicht erreichbare oder abwesende Mitglieder:\n• Vorpommern-Greifswald: Polizei" in text
    )
    assert "• Schwerin: alle Bereiche" in text
    english = plain_lines(report_lines(report, load_network(), "en", "2026-11-02 10:00"))
    assert "Network report 2026-10-01 – 2026-10-31" in english
    assert "Alerts 4 · acknowledged 100 % · median 3 min · p90 15 min 30 s" in english
    assert "median too few data (< 3) · p90 too few data (< 3)" in english
    # Pseudonymous: no member's name appears anywhere.
    assert "Person" not in text + english


async def test_the_heat_map_is_a_png_labelled_in_the_readers_language(
    history: History, tmp_path: Path
) -> None:
    report = await history.env.reports.compute(*OCTOBER)
    picture = report_png(report, load_network(), "de")
    size = image_size(picture)
    assert size is not None and size[0] >= 1200 and size[1] >= 900
    english = report_png(report, load_network(), "en")
    assert image_size(english) == size and english != picture
    keep = os.environ.get("CORA_KEEP_REPORT_PNG")
    if keep:  # for looking at it: CORA_KEEP_REPORT_PNG=/tmp pytest -k heat_map
        await asyncio.to_thread(Path(keep, "cora-report-de.png").write_bytes, picture)
        await asyncio.to_thread(Path(keep, "cora-report-en.png").write_bytes, english)


def test_periods_are_whole_days_in_the_networks_time_zone() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    since, until = parse_period(None, now, BERLIN)
    assert (since, until) == days_period(date(2026, 10, 27), date(2026, 11, 25), BERLIN)
    assert since == datetime(2026, 10, 26, 23, tzinfo=UTC)  # midnight in Berlin, after DST
    assert OCTOBER[0] == datetime(2026, 9, 30, 22, tzinfo=UTC)  # midnight in summer time
    assert parse_period("7d", now, BERLIN) == days_period(
        date(2026, 11, 19), date(2026, 11, 25), BERLIN
    )
    assert parse_period("2026-10", now, BERLIN) == OCTOBER
    assert parse_period("2026-12", now, BERLIN) == days_period(
        date(2026, 12, 1), date(2026, 12, 31), BERLIN
    )
    assert parse_period("2026-10-01..2026-10-31", now, BERLIN) == OCTOBER
    assert parse_period("01.10.2026-31.10.2026", now, BERLIN) == OCTOBER
    assert parse_period("2026", now, BERLIN)[1] == datetime(2026, 12, 31, 23, tzinfo=UTC)
    for wrong in ("gestern", "2026-13", "31.10.2026-01.10.2026", "0d", "99999d"):
        with pytest.raises(DomainError):
            parse_period(wrong, now, BERLIN)
