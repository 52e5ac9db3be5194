"""The support system through the real bot: offers imported with `cora-bot offers import` and
edited in the chat (audited), places with their age and "unknown" when stale, /find ranked by
region and filtered by language, and needs that reach exactly the matching offers, widen to the
neighbours, are taken by the first "Wir können", or end unmet with their reason."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import CoraBot, build_application
from bot.clock import Clock, ManualClock
from bot.config import Settings
from bot.offers.asking import NeedNotice
from localapi.server import LocalBotApi
from storage.models import AuditEvent, Delivery, Need
from tests.offers_story import SHELTERS
from tests.services.support_history import berlin as history_berlin
from tests.services.support_history import build_support_history
from tests.story import expect, join, reply_to, run_cli, said, shows

EXAMPLE = Path(__file__).resolve().parents[2] / "sandbox" / "offers_example.toml"


async def import_offers(
    monkeypatch: pytest.MonkeyPatch, cora: CoraBot, path: Path, capsys: pytest.CaptureFixture[str]
) -> str:
    """The operator imports an offers file with the command line."""
    monkeypatch.setenv("DATABASE_URL", cora.settings.database_url)
    assert await asyncio.to_thread(run_cli, "offers", "import", str(path)) == 0
    return capsys.readouterr().out


async def audit(cora: CoraBot, action: str) -> list[tuple[str, dict[str, Any]]]:
    async with cora.database.read_sessions() as session:
        rows = await session.execute(
            select(AuditEvent.actor, AuditEvent.details)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        )
        return [(actor, json.loads(details)) for actor, details in rows.all()]


async def need_deliveries(cora: CoraBot, kind: str = NeedNotice.NEED) -> list[tuple[int, int]]:
    """(member, offer) of every need delivery: where a wrong send would land."""
    async with cora.database.read_sessions() as session:
        rows = await session.execute(
            select(Delivery.member_id, Delivery.params)
            .where(Delivery.kind == kind)
            .order_by(Delivery.id)
        )
        return [(m, int(json.loads(p).get("offer") or 0)) for m, p in rows.all()]


def shows_text(text: str | None, key: str, **params: Any) -> bool:
    """Whether a callback answer's text is the text of `key`."""
    return all(piece in (text or "") for piece in said(key, **params))


class TestOffersAndPlaces:
    @pytest.fixture
    def clock(self) -> Clock:
        return ManualClock()

    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {"schedule_check_seconds": 0.2}

    async def test_offers_are_imported_edited_and_places_show_their_age_and_go_stale(
        self,
        api: LocalBotApi,
        cora: CoraBot,
        clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        out = await import_offers(monkeypatch, cora, EXAMPLE, capsys)
        assert "6 offers read: 6 created, 0 updated, 0 unchanged." in out
        dana = await join(api, cora, "Dana Koordina", "coordination", "HRO", role="coordinator")
        frida = await join(api, cora, "Frida Frauenhaus", "victim_support", "LRO")
        kim = await join(api, cora, "Kim Polizei", "police", "HRO")

        named = await reply_to(dana.user, f"/maintainer fh-lindensee add {frida.member_id}")
        assert shows(
            named, "maintainer.added", member=frida.member_id, offer="Frauenhaus am Lindensee"
        )
        refused = await reply_to(kim.user, "/places 2")
        assert shows(refused, "places.none_maintained")
        foreign = await reply_to(kim.user, "/offer fh-lindensee hours immer")
        assert shows(foreign, "offers.not_maintainer", offer="Frauenhaus am Lindensee")

        reported = await reply_to(frida.user, "/places 3")
        assert "3 freie Plätze" in reported.text and "gemeldet gerade eben" in reported.text
        more = await frida.user.press("➕ 1 Platz", reported).answer()
        assert more.text == "Frauenhaus am Lindensee: jetzt 4 freie Plätze"
        edited = await reply_to(frida.user, "/offer fh-lindensee hours Tag und Nacht erreichbar")
        assert shows(edited, "offer.updated", offer="Frauenhaus am Lindensee")

        waiting = await reply_to(dana.user, "/waiting bs-lindenhof 3")
        assert shows(waiting, "waiting.reported", offer="Beratungsstelle Lindenhof")
        assert "Erstgespräch innerhalb von 3 Tagen · gemeldet gerade eben" in waiting.text

        clock.advance(timedelta(hours=2))
        card = await reply_to(kim.user, "/find shelter")
        assert "4 freie Plätze" in card.text and "gemeldet vor 2 Stunden" in card.text
        assert "Tag und Nacht erreichbar" in card.text

        clock.advance(timedelta(hours=23))  # 25 hours after the last report
        stale = await reply_to(kim.user, "/find shelter")
        assert "freie Plätze" not in stale.text.split("Frauenhaus Lindenberg")[0]
        assert "Plätze: unbekannt (letzte Meldung vor 1 Tag)" in stale.text
        reminder = await expect(
            frida.user, "places.reminder", offer="Frauenhaus am Lindensee", timeout=10
        )
        assert "unbekannt" in reminder.text
        english = await join(api, cora, "Eve English", "police", "HRO", language="en")
        card = await reply_to(english.user, "/find shelter")
        assert (
            "Women's shelter" in card.text
            and "Places: unknown (last report 1 day ago)" in card.text
        )

        # A changed file updates what differs from it (the file is the source: the hours edited
        # in the chat go back to the file's), and every change is audited.
        changed = tmp_path / "offers.toml"
        changed.write_text(
            EXAMPLE.read_text("utf-8").replace('["de", "ar", "en"]', '["de", "ar", "en", "fa"]')
        )
        out = await import_offers(monkeypatch, cora, changed, capsys)
        assert "0 created, 2 updated, 4 unchanged" in out
        updates = await audit(cora, "offer.updated")
        assert [(actor, d["fields"], d["via"]) for actor, d in updates] == [
            (f"member:{frida.member_id}", ["hours"], "chat"),
            ("admin", ["hours"], "file"),
            ("admin", ["languages"], "file"),
        ]
        assert len(await audit(cora, "offer.created")) == 6
        places = await audit(cora, "offer.places")
        frida_actor = f"member:{frida.member_id}"
        assert [(a, d["free"]) for a, d in places] == [(frida_actor, 3), (frida_actor, 4)]
        added = await audit(cora, "offer.maintainer_added")
        assert added == [(f"member:{dana.member_id}", {"member": frida.member_id})]


async def test_find_ranks_by_region_and_filters_by_language(
    api: LocalBotApi,
    cora: CoraBot,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await import_offers(monkeypatch, cora, EXAMPLE, capsys)
    kim = await join(api, cora, "Kim Polizei", "police", "HRO")
    found = await reply_to(kim.user, "/find domestic_violence")
    assert shows(found, "find.header", count=6, what="Häusliche Gewalt", region="Rostock")
    order = [
        found.text.index(name)
        for name in (
            "Beratungsstelle Lindenhof",
            "Frauenhaus am Lindensee",
            "Frauenhaus Lindenberg",
        )
    ]
    assert order == sorted(order)  # in the region first, further away last
    assert "Frauenhaus Lindenberg</b>" not in found.text  # entities, not HTML, reach Telegram
    far = found.text.split("Frauenhaus Lindenberg", 1)[1].split("\n", 1)[0]
    assert "weiter entfernt" in far

    arabic = await reply_to(kim.user, "/find domestic_violence HRO ar")
    assert shows(arabic, "find.header", count=1, what="Häusliche Gewalt", region="Rostock")
    assert "Beratungsstelle Lindenhof" in arabic.text and "Frauenhaus" not in arabic.text
    assert "Sprache: Arabisch" in arabic.text

    from_vg = await reply_to(kim.user, "/find intervention VG")
    assert "Interventionsstelle Lindenufer" in from_vg.text and "Nachbarregion" in from_vg.text
    none = await reply_to(kim.user, "/find trafficking VG")
    assert shows(none, "find.none", what="Menschenhandel", region="Vorpommern-Greifswald")
    bad = await reply_to(kim.user, "/find castle")
    assert shows(bad, "offers.unknown_what", what="castle")

    # The same with buttons.
    asked = await reply_to(kim.user, "/find")
    await kim.user.press("Beratungsstelle", asked).answer()
    region = await expect(kim.user, "find.ask_region")
    await kim.user.press("Rostock", region).answer()
    language = await expect(kim.user, "find.ask_language")
    await kim.user.press("Arabisch", language).answer()
    result = await expect(
        kim.user, "find.header", count=1, what="Beratungsstelle", region="Rostock"
    )
    assert "Beratungsstelle Lindenhof" in result.text


class TestNeedsWiden:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {"need_widen_after": 1.0, "need_unmet_after": 600, "schedule_check_seconds": 0.2}

    async def test_a_need_reaches_exactly_the_matching_offers_widens_and_the_first_takes_it(
        self,
        api: LocalBotApi,
        cora: CoraBot,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        offers = tmp_path / "offers.toml"
        offers.write_text(SHELTERS)
        await import_offers(monkeypatch, cora, offers, capsys)
        dana = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
        keepers = {}
        for code, name in (
            ("fh-nord", "Nora Nord"),
            ("fh-land", "Lara Land"),
            ("fh-ost", "Olga Ost"),
            ("bs-nord", "Bea Beratung"),
        ):
            keepers[code] = await join(api, cora, name, "victim_support", "HRO")
            await reply_to(dana.user, f"/maintainer {code} add {keepers[code].member_id}")
        ids = {o.code: o.id for o in await cora.services.offers.all_offers()}
        kim = await join(api, cora, "Kim Polizei", "police", "HRO")

        kim.user.send("/need shelter HRO 1+2 ! Fall Linde: Ankunft gegen 20 Uhr")
        raised = await expect(kim.user, "need.raised", count=1)
        ref = raised.text.split("Bedarf ", 1)[1].split(" ", 1)[0]
        first = await keepers["fh-nord"].user.wait_for(lambda m: ref in m.text)
        assert "Fall Linde" in first.text and "Ankunft gegen 20 Uhr" in first.text
        assert "1 erwachsene Person, 2 Kinder" in first.text
        assert await need_deliveries(cora) == [(keepers["fh-nord"].member_id, ids["fh-nord"])]

        declined = await keepers["fh-nord"].user.press("❌ Wir können nicht", first).answer()
        assert "kann den Bedarf" in (declined.text or "")
        # Everybody asked said no: the neighbours are asked at once.
        widened = await keepers["fh-land"].user.wait_for(lambda m: ref in m.text, 10)
        assert shows(widened, "need.widened.1")
        accepted = await keepers["fh-land"].user.press("✅ Wir können", widened).answer()
        assert "übernimmt" in (accepted.text or "")
        taken = await expect(kim.user, "need.notice.taken", ref=ref, offer="Frauenhaus Land")
        assert "Notruf 0000 200" in taken.text and "Lara Land" in taken.text
        await expect(keepers["fh-nord"].user, "need.notice.gone", ref=ref, offer="Frauenhaus Land")
        assert await need_deliveries(cora) == [
            (keepers["fh-nord"].member_id, ids["fh-nord"]),
            (keepers["fh-land"].member_id, ids["fh-land"]),
        ]  # never the shelter in Vorpommern-Greifswald, never the counselling centre

        # A second need nobody in the region answers widens after NEED_WIDEN_AFTER by itself.
        kim.user.send("/need shelter HRO Fall Ahorn")
        second = await expect(kim.user, "need.raised", count=1, after=taken)
        ref2 = second.text.split("Bedarf ", 1)[1].split(" ", 1)[0]
        await keepers["fh-nord"].user.wait_for(lambda m: ref2 in m.text)
        assert not any(ref2 in m.text for m in keepers["fh-land"].user.messages)
        late = await keepers["fh-land"].user.wait_for(lambda m: ref2 in m.text, 10)
        assert shows(late, "need.widened.1")
        first_yes = await keepers["fh-land"].user.press("✅ Wir können", late).answer()
        assert not first_yes.show_alert
        nord = next(
            m for m in keepers["fh-nord"].user.messages if ref2 in m.text and m.reply_markup
        )
        too_late = await keepers["fh-nord"].user.press("✅ Wir können", nord).answer()
        assert too_late.show_alert and shows_text(too_late.text, "need.already", ref=ref2)
        taken_events = await audit(cora, "need.taken")
        assert [d["offer"] for _, d in taken_events] == [ids["fh-land"], ids["fh-land"]]

        await expect(kim.user, "need.notice.taken", ref=ref2, offer="Frauenhaus Land")

        # Closed as unmet by the requester, with a reason chosen from buttons.
        open_one = await reply_to(kim.user, "/need forced_marriage HRO Fall Eiche")
        ref = open_one.text.split("Bedarf ", 1)[1].split(" ", 1)[0]
        listed = await reply_to(kim.user, "/needs")
        line = await kim.user.wait_for(
            lambda m: ref in m.text and m.reply_markup is not None, after=listed
        )
        await kim.user.press("Als ungedeckt schließen", line).answer()
        reasons_asked = await expect(kim.user, "needs.ask_reason", ref=ref)
        await kim.user.press("kein freier Platz", reasons_asked).answer()
        await kim.user.wait_for(
            lambda m: shows(m, "needs.closed", ref=ref, reason="kein freier Platz")
        )
        assert [d["reason"] for _, d in await audit(cora, "need.unmet")][-1] == "no_places"

    async def test_the_need_dialog_asks_step_by_step_and_previews(
        self,
        api: LocalBotApi,
        cora: CoraBot,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        offers = tmp_path / "offers.toml"
        offers.write_text(SHELTERS)
        await import_offers(monkeypatch, cora, offers, capsys)
        dana = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
        bea = await join(api, cora, "Bea Beratung", "victim_support", "HRO")
        await reply_to(dana.user, f"/maintainer bs-nord add {bea.member_id}")
        kim = await join(api, cora, "Kim Polizei", "police", "HRO")

        asked = await reply_to(kim.user, "/need")
        assert shows(asked, "need.ask_what")
        await kim.user.press("Beratungsstelle", asked).answer()
        region = await expect(kim.user, "need.ask_region")
        await kim.user.press("Rostock", region).answer()
        language = await expect(kim.user, "need.ask_language")  # no places: no head count
        await kim.user.press("Arabisch", language).answer()
        access = await expect(kim.user, "need.ask_access")
        await kim.user.press("nicht nötig", access).answer()
        urgency = await expect(kim.user, "need.ask_urgency")
        await kim.user.press("📣 Normal", urgency).answer()
        await expect(kim.user, "need.ask_case_ref")
        refused = await reply_to(kim.user, "Anna Schmidt, geb. 03.04.1990")
        assert shows(refused, "alert.findings_blocking")  # nothing stored; asked again
        preview = await reply_to(kim.user, "Fall Espe: Termin diese Woche")
        assert shows(preview, "need.preview", count=1, what="Beratungsstelle", region="Rostock")
        await kim.user.press("📨 Senden", preview).answer()
        raised = await expect(kim.user, "need.raised", count=1)
        ref = raised.text.split("Bedarf ", 1)[1].split(" ", 1)[0]
        message = await bea.user.wait_for(lambda m: ref in m.text)
        assert "Sprache: Arabisch" in message.text and "Termin diese Woche" in message.text
        async with cora.database.read_sessions() as session:
            stored = (await session.scalars(select(Need.case_ref_cipher))).all()
        assert len(stored) == 1 and b"Espe" not in (stored[0] or b"")  # encrypted

    async def test_a_due_widening_runs_after_a_restart(
        self,
        api: LocalBotApi,
        cora: CoraBot,
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        offers = tmp_path / "offers.toml"
        offers.write_text(SHELTERS)
        await import_offers(monkeypatch, cora, offers, capsys)
        dana = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
        nora = await join(api, cora, "Nora Nord", "victim_support", "HRO")
        lara = await join(api, cora, "Lara Land", "victim_support", "LRO")
        await reply_to(dana.user, f"/maintainer fh-nord add {nora.member_id}")
        await reply_to(dana.user, f"/maintainer fh-land add {lara.member_id}")
        kim = await join(api, cora, "Kim Polizei", "police", "HRO")
        raised = await reply_to(kim.user, "/need shelter HRO Fall Ulme")
        # Raised before the reply came: the widening is due NEED_WIDEN_AFTER (1 s) after it.
        due = time.monotonic() + 1.0
        ref = raised.text.split("Bedarf ", 1)[1].split(" ", 1)[0]
        await nora.user.wait_for(lambda m: ref in m.text)
        await cora.stop()
        await asyncio.sleep(due - time.monotonic() + 0.3)  # it falls due while the bot is down
        restarted = build_application(settings)
        await restarted.start()
        try:
            widened = await lara.user.wait_for(lambda m: ref in m.text, 10)
            assert shows(widened, "need.widened.1")
        finally:
            await restarted.stop()
            await cora.start()  # the fixture stops it once more


class TestNeedsUnmet:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, Any]:
        return {"need_widen_after": 600, "need_unmet_after": 1.5, "schedule_check_seconds": 0.2}

    async def test_needs_nobody_can_take_end_unmet_with_their_reason(
        self,
        api: LocalBotApi,
        cora: CoraBot,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        offers = tmp_path / "offers.toml"
        offers.write_text(SHELTERS)
        await import_offers(monkeypatch, cora, offers, capsys)
        dana = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
        bea = await join(api, cora, "Bea Beratung", "victim_support", "HRO")
        await reply_to(dana.user, f"/maintainer bs-nord add {bea.member_id}")
        kim = await join(api, cora, "Kim Polizei", "police", "HRO", language="en")

        none = await reply_to(kim.user, "/need trafficking VG Case Birch")
        assert shows(none, "need.raised_unmet", "en", reason="no matching offer")
        language = await reply_to(kim.user, "/need forced_marriage HRO uk Case Yew")
        assert shows(
            language, "need.raised_unmet", "en", reason="none in the language asked for"
        ), language.text

        asked = await reply_to(kim.user, "/need forced_marriage HRO ar Case Elm")
        assert shows(asked, "need.raised", "en", count=1)
        ref = asked.text.split("Need ", 1)[1].split(" ", 1)[0]
        await bea.user.wait_for(lambda m: ref in m.text)
        unmet = await expect(kim.user, "need.notice.unmet", "en", ref=ref, timeout=10)
        assert shows(unmet, "need.notice.unmet", "en", reason="nobody answered")
        reasons = [d["reason"] for _, d in await audit(cora, "need.unmet")]
        assert reasons == ["no_offer", "language", "nobody_answered"]


class TestSupportReport:
    @pytest.fixture
    def clock(self) -> Clock:
        return ManualClock(history_berlin(9, 1, 9))

    async def test_the_report_shows_gaps_and_unmet_needs_with_exact_figures(
        self, api: LocalBotApi, cora: CoraBot, clock: ManualClock
    ) -> None:
        people: dict[int, Any] = {}

        async def member(sector: str, region: str, role: str, name: str) -> int:
            person = await join(api, cora, name, sector, region, role=role)
            people[person.member_id] = person
            return person.member_id

        services = cora.services
        await build_support_history(services.offers, services.needs, clock, member)
        dana = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
        eve = await join(
            api, cora, "Eve Eastwood", "coordination", "MV", role="coordinator", language="en"
        )

        dana.user.send("/report 2026-10")
        section = await expect(dana.user, "report.support.title", count=4, timeout=15)
        assert "• Rostock: an 4 von 31 Tagen (12.9 %)" in section.text
        assert "Bedarfe: 14 gemeldet · 3 gedeckt · 11 ungedeckt · 0 offen" in section.text
        assert (
            "• Vorpommern-Greifswald · Frauenhaus: 7 gemeldet · 0 gedeckt · 7 ungedeckt "
            "(kein freier Platz 7)" in section.text
        )
        assert "• Zwangsverheiratung: Schwerin, Landkreis Rostock" in section.text
        table = await dana.user.wait_for(
            lambda m: (
                m.document is not None
                and (m.document.file_name or "").startswith(
                    "cora-hilfesystem-2026-10-01-2026-10-31"
                )
            ),
            15,
        )
        assert table.document is not None and table.document.data is not None
        rows = list(csv.DictReader(io.StringIO(table.document.data.decode("utf-8-sig"))))
        vg = next(
            r for r in rows if (r["dimension"], r["region"], r["code"]) == ("kind", "VG", "shelter")
        )
        assert (vg["needs_raised"], vg["unmet_no_places"]) == ("7", "7")
        picture = await dana.user.wait_for(lambda m: m.photo is not None, 15, after=table)
        assert picture.photo is not None and picture.photo.startswith(b"\x89PNG")

        eve.user.send("/report 2026-10")
        english = await expect(eve.user, "report.support.title", "en", count=4, timeout=15)
        assert "Needs: 14 raised · 3 met · 11 unmet · 0 open" in english.text
        assert (
            "• Rostock · Women's shelter: 4 raised · 3 met · <3 unmet (nobody answered <3) · "
            "until taken median 20 min · P90 28 min" in english.text
        )
        table = await eve.user.wait_for(
            lambda m: (
                m.document is not None
                and (m.document.file_name or "").startswith("cora-support-system-")
            ),
            15,
        )
        assert table.document is not None and table.document.data is not None
        assert "Women's shelter" in table.document.data.decode("utf-8-sig")
        await eve.user.wait_for(lambda m: m.photo is not None, 15, after=table)


def test_the_command_line_imports_offers_and_writes_the_support_table_and_picture(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cora.db'}")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[offer]]\nid = "x"\nname = "X"\nkind = "castle"\nregions = ["HRO"]\n')
    assert run_cli("offers", "import", str(bad)) == 2
    assert "unknown kind 'castle'" in capsys.readouterr().err
    assert run_cli("offers", "import", str(EXAMPLE)) == 0
    assert "6 created" in capsys.readouterr().out
    table = tmp_path / "support.csv"
    args = ["report", "--support", "--format", "csv", "--output", str(table), "--language", "en"]
    assert run_cli(*args) == 0
    rows = list(csv.DictReader(io.StringIO(table.read_text("utf-8"))))
    gap = next(
        r
        for r in rows
        if (r["dimension"], r["region"], r["code"]) == ("topic", "VG", "forced_marriage")
    )
    assert (gap["offers"], gap["gap"], gap["name"]) == ("0", "gap", "Forced marriage")
    picture = tmp_path / "support.png"
    assert run_cli("report", "--support", "--format", "png", "--output", str(picture)) == 0
    assert picture.read_bytes().startswith(b"\x89PNG")
    assert run_cli("report") == 0
    assert "Hilfesystem: 6 Angebote" in capsys.readouterr().out
