"""The report's support-system section against a hand-built October: gaps, days with a free
place, needs met and unmet by reason with exact figures, masked below three, in German and
English, as text, CSV and picture; retention keeps the counts and removes the texts."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.network import load_network
from bot.report import Report, days_period
from handlers.report.views.picture import support_png
from handlers.report.views.table import SUPPORT_CSV_COLUMNS, support_csv
from handlers.report.views.text import report_lines
from handlers.report.views.values import plain_lines
from localapi.images import image_size
from storage.db import Database
from storage.models import Need
from tests.network_env import Env, build_env
from tests.services.support_history import SupportHistory, berlin, build_support_history

NETWORK = load_network()
OCTOBER = days_period(date(2026, 10, 1), date(2026, 10, 31), ZoneInfo("Europe/Berlin"))


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    yield build_env(database, berlin(9, 1, 9), timedelta(hours=1))
    await database.dispose()


async def history(env: Env) -> SupportHistory:
    async def member(sector: str, region: str, role: str, name: str) -> int:
        return await env.member(sector, region, role=role, name=name)

    return await build_support_history(env.offers, env.needs, env.clock, member)


async def october(env: Env) -> Report:
    return await env.reports.compute(*OCTOBER)


async def test_the_support_figures_are_exact(env: Env) -> None:
    await history(env)
    support = (await october(env)).support
    assert support is not None
    assert support.offers == 4
    assert support.by_topic[("HRO", "forced_marriage")] == 1
    assert support.by_topic[("VG", "forced_marriage")] == 0
    assert ("VG", "forced_marriage") in support.topic_gaps()
    assert ("HRO", "forced_marriage") not in support.topic_gaps()
    assert ("MV", "forced_marriage") not in support.topic_gaps()  # the state is no region
    free = support.free_days
    assert free["HRO"] is not None and (free["HRO"].with_free, free["HRO"].days) == (4, 31)
    assert free["VG"] is not None and free["VG"].with_free == 0
    assert free["LRO"] is not None and free["LRO"].with_free == 0
    assert free["SN"] is None  # no offer with places serves Schwerin
    shelter_hro = support.needs[("HRO", "shelter")]
    assert (shelter_hro.raised, shelter_hro.met, shelter_hro.unmet) == (
        4,
        3,
        {"nobody_answered": 1},
    )
    assert shelter_hro.take_seconds == (600.0, 1200.0, 1800.0)
    assert shelter_hro.median == 1200.0 and shelter_hro.p90 == 1680.0
    assert support.needs[("VG", "shelter")].unmet == {"no_places": 7}
    assert support.needs[("VG", "trafficking")].unmet == {"no_offer": 1}
    assert support.needs[("HRO", "forced_marriage")].unmet == {"language": 2}
    total = support.total_needs
    assert (total.raised, total.met, total.unmet_total, total.open) == (14, 3, 11, 0)


async def test_the_section_in_german_and_english_text(env: Env) -> None:
    await history(env)
    report = await october(env)
    german = plain_lines(report_lines(report, NETWORK, "de", "02.11.2026 09:00"))
    assert "Hilfesystem: 4 Angebote" in german
    assert "Lücken – kein Angebot zum Thema:" in german
    assert (
        "• Zwangsverheiratung: Schwerin, Landkreis Rostock, Ludwigslust-Parchim, "
        "Mecklenburgische Seenplatte, Nordwestmecklenburg, Vorpommern-Greifswald, "
        "Vorpommern-Rügen" in german
    )
    assert "• Menschenhandel: alle Regionen" in german
    assert "• Rostock: an 4 von 31 Tagen (12.9 %)" in german
    assert "• Vorpommern-Greifswald: an 0 von 31 Tagen (0 %)" in german
    assert "• Schwerin: kein Angebot mit Plätzen" in german
    assert "Bedarfe: 14 gemeldet · 3 gedeckt · 11 ungedeckt · 0 offen" in german
    assert (
        "• Rostock · Frauenhaus: 4 gemeldet · 3 gedeckt · <3 ungedeckt "
        "(niemand hat geantwortet <3) · bis zur Zusage Median 20 min · P90 28 min" in german
    )
    assert (
        "• Vorpommern-Greifswald · Frauenhaus: 7 gemeldet · 0 gedeckt · 7 ungedeckt "
        "(kein freier Platz 7) · bis zur Zusage Median – · P90 –" in german
    )
    assert "• Vorpommern-Greifswald · Menschenhandel: <3 gemeldet" in german
    assert "(keines in der gewünschten Sprache <3)" in german
    assert "Fall Ahorn" not in german and "Fall Ost" not in german  # no case references
    english = plain_lines(report_lines(report, NETWORK, "en", "2026-11-02 09:00"))
    assert "Support system: 4 offers" in english
    assert "• Rostock: on 4 of 31 days (12.9 %)" in english
    assert "Needs: 14 raised · 3 met · 11 unmet · 0 open" in english
    assert (
        "• Western Pomerania-Greifswald · Women's shelter: 7 raised · 0 met · 7 unmet "
        "(no free place 7)" in english
    )


async def test_the_section_as_csv_and_picture(env: Env) -> None:
    await history(env)
    report = await october(env)
    rows = list(csv.DictReader(io.StringIO(support_csv(report, NETWORK, "de"))))
    assert list(rows[0]) == list(SUPPORT_CSV_COLUMNS)
    regions, topics, kinds = len(NETWORK.regions), len(NETWORK.topics), len(NETWORK.offer_kinds)
    assert len(rows) == regions * (topics + kinds) + regions

    def row(dimension: str, region: str, code: str) -> dict[str, str]:
        return next(
            r for r in rows if (r["dimension"], r["region"], r["code"]) == (dimension, region, code)
        )

    vg = row("kind", "VG", "shelter")
    assert (vg["offers"], vg["gap"], vg["needs_raised"], vg["unmet_no_places"]) == (
        "1",
        "",
        "7",
        "7",
    )
    hro = row("kind", "HRO", "shelter")
    assert (hro["needs_met"], hro["median_seconds_to_taken"], hro["p90_seconds_to_taken"]) == (
        "3",
        "1200",
        "1680",
    )
    assert hro["unmet_nobody_answered"] == "<3"
    gap = row("topic", "VG", "forced_marriage")
    assert (gap["offers"], gap["gap"], gap["name"]) == ("0", "gap", "Zwangsverheiratung")
    assert row("topic", "MV", "forced_marriage")["gap"] == ""
    places = row("places", "HRO", "")
    assert (places["days_with_free_place"], places["days"]) == ("4", "31")
    english = list(csv.DictReader(io.StringIO(support_csv(report, NETWORK, "en"))))
    assert next(r for r in english if r["code"] == "shelter")["name"] == "Women's shelter"
    for language in ("de", "en"):
        picture = support_png(report, NETWORK, language)
        size = image_size(picture)
        assert picture.startswith(b"\x89PNG") and size is not None and size[0] >= 1500


async def test_retention_keeps_the_counts_and_removes_the_texts(env: Env) -> None:
    await history(env)
    before = (await october(env)).support
    env.after(days=91)
    result = await env.data_protection.apply_retention()
    assert result.needs == 14
    async with env.database.read_sessions() as session:
        needs = (await session.scalars(select(Need))).all()
    assert all(n.case_ref_cipher is None and n.purged_at is not None for n in needs)
    after = (await october(env)).support
    assert after is not None and before is not None
    assert after.needs == before.needs and after.free_days == before.free_days
