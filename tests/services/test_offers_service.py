"""Offers, free places and needs on a real database with a manual clock: imports are audited and
all-or-nothing, places go stale, /find ranks by region, needs widen, are taken once, and end
unmet with the right reason."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.errors import DomainError
from bot.membership import ADMIN_ACTOR
from bot.network import load_network
from bot.offers.asking import NeedNotice
from bot.offers.files import OfferFileError, load_offers, parse_offers_csv, parse_offers_toml
from bot.offers.offers import PLACES_REMINDER
from storage.audit import ADMIN
from storage.db import Database
from storage.models import AuditEvent, Delivery, Need, Offer, OfferMaintainer
from tests.network_env import Env, berlin, build_env
from tests.offers_story import SHELTERS, import_shelters, name_keepers

EXAMPLE = Path(__file__).resolve().parents[2] / "sandbox" / "offers_example.toml"
NETWORK = load_network()


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    yield build_env(database, berlin(2026, 10, 5, 9), timedelta(hours=1))
    await database.dispose()


async def _import(env: Env, text: str = SHELTERS) -> dict[str, int]:
    return await import_shelters(env.offers, text)


async def _events(env: Env, action: str) -> list[tuple[str, str, dict[str, object]]]:
    async with env.database.read_sessions() as session:
        rows = await session.execute(
            select(AuditEvent.actor, AuditEvent.subject, AuditEvent.details)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        )
        return [(actor, subject, json.loads(details)) for actor, subject, details in rows.all()]


async def _deliveries(env: Env, kind: str) -> list[tuple[int, dict[str, object]]]:
    async with env.database.read_sessions() as session:
        rows = await session.execute(
            select(Delivery.member_id, Delivery.params)
            .where(Delivery.kind == kind)
            .order_by(Delivery.id)
        )
        return [(member, json.loads(params)) for member, params in rows.all()]


async def test_the_shipped_example_imports_and_a_changed_file_updates_only_what_changed(
    env: Env,
) -> None:
    specs = load_offers(EXAMPLE, NETWORK)
    first = await env.offers.import_offers(ADMIN_ACTOR, specs)
    assert (first.created, first.updated, first.unchanged) == (6, 0, 0)
    changed = EXAMPLE.read_text("utf-8").replace(
        'languages = ["de", "ar", "en"]', 'languages = ["de", "ar", "en", "fa"]'
    )
    again = await env.offers.import_offers(ADMIN_ACTOR, parse_offers_toml(changed, NETWORK))
    assert (again.created, again.updated, again.unchanged) == (0, 1, 5)
    counselling = await env.offers.by_code("bs-lindenhof")
    assert counselling.languages == ("de", "ar", "en", "fa")
    assert len(await _events(env, "offer.created")) == 6
    updated = await _events(env, "offer.updated")
    assert updated == [(ADMIN, f"offer:{counselling.id}", {"fields": ["languages"], "via": "file"})]
    shelter = await env.offers.by_code("fh-lindensee")
    assert shelter.reports_places and not counselling.reports_places  # as the kinds say


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[offer]]\nid = "a"\nname = "A"\nkind = "castle"\nregions = ["HRO"]', "unknown kind"),
        ('[[offer]]\nid = "a"\nname = "A"\nkind = "shelter"\nregions = ["XX"]', "unknown regions"),
        (
            '[[offer]]\nid = "a"\nname = "A"\nkind = "shelter"\nregions = ["HRO"]\n'
            'languages = ["klingon"]',
            "unknown languages",
        ),
        ('[[offer]]\nid = "a"\nname = "A"\nkind = "shelter"', "at least one region"),
        (
            '[[offer]]\nid = "a"\nname = "A"\nkind = "shelter"\nregions = ["HRO"]\n'
            '[[offer]]\nid = "a"\nname = "B"\nkind = "shelter"\nregions = ["HRO"]',
            "used twice",
        ),
    ],
)
def test_a_bad_offers_file_is_refused_naming_the_offer(text: str, problem: str) -> None:
    with pytest.raises(OfferFileError, match=problem):
        parse_offers_toml(text, NETWORK)


def test_the_csv_form_reads_like_the_toml_form() -> None:
    text = (
        "id;name;kind;topics;languages;regions;places\n"
        "fh-nord;Frauenhaus Nord;shelter;domestic_violence stalking;de,ar;HRO LRO;ja\n"
    )
    [spec] = parse_offers_csv(text, NETWORK)
    assert (spec.code, spec.topics, spec.languages, spec.regions, spec.places) == (
        "fh-nord",
        ("domestic_violence", "stalking"),
        ("de", "ar"),
        ("HRO", "LRO"),
        True,
    )


async def test_places_show_their_age_go_stale_and_remind_the_maintainers_once(env: Env) -> None:
    ids = await _import(env)
    coordinator = await env.member("coordination", "HRO", role="coordinator")
    keeper = await env.member("victim_support", "HRO")
    stranger = await env.member("police", "HRO")
    assert await env.offers.add_maintainer(coordinator, ids["fh-nord"], keeper)
    with pytest.raises(DomainError) as refused:
        await env.offers.report_places(stranger, ids["fh-nord"], 3)
    assert refused.value.message_key == "offers.not_maintainer"
    with pytest.raises(DomainError) as no_places:
        await env.offers.report_places(coordinator, ids["bs-nord"], 3)
    assert no_places.value.message_key == "offers.no_places"

    view = await env.offers.report_places(keeper, ids["fh-nord"], 3)
    stale = env.offers.stale_after
    assert view.places_known(env.clock.now(), stale) == 3
    env.after(hours=23, minutes=59)
    assert view.places_known(env.clock.now(), stale) == 3
    assert await env.offers.remind_stale() == 0
    env.after(minutes=2)
    assert view.places_known(env.clock.now(), stale) is None  # unknown, never "3 free"
    assert await env.offers.remind_stale() == 1
    assert await env.offers.remind_stale() == 0  # once per period
    assert await _deliveries(env, PLACES_REMINDER) == [(keeper, {"offer": ids["fh-nord"]})]
    # +1 on an unknown number starts from zero.
    view = await env.offers.report_places(keeper, ids["fh-nord"], delta=1)
    assert view.places_free == 1
    view = await env.offers.report_places(keeper, ids["fh-nord"], delta=-1)
    view = await env.offers.report_places(keeper, ids["fh-nord"], delta=-1)
    assert view.places_free == 0
    frees = [d["free"] for _, _, d in await _events(env, "offer.places")]
    assert frees == [3, 1, 0, 0]


async def test_find_ranks_by_region_and_filters_by_language(env: Env) -> None:
    await _import(env)
    found = await env.offers.find(env.offers.search("shelter", "HRO"))
    assert [(f.offer.code, f.distance) for f in found] == [
        ("fh-nord", 0),
        ("fh-land", 1),
        ("fh-ost", 2),
    ]
    arabic = await env.offers.find(env.offers.search("domestic_violence", "HRO", "ar"))
    assert [f.offer.code for f in arabic] == ["fh-ost"]
    from_vg = await env.offers.find(env.offers.search("shelter", "VG"))
    assert [f.offer.code for f in from_vg] == ["fh-ost", "fh-land", "fh-nord"]
    with pytest.raises(DomainError) as unknown:
        env.offers.search("castle", "HRO")
    assert unknown.value.message_key == "offers.unknown_what"


async def _keepers(env: Env, ids: dict[str, int]) -> dict[str, int]:
    async def member(sector: str, region: str, role: str, name: str) -> int:
        return await env.member(sector, region, role=role, name=name)

    return await name_keepers(env.offers, ids, member)


async def test_a_need_reaches_the_region_widens_to_neighbours_and_is_taken_once(
    env: Env,
) -> None:
    ids = await _import(env)
    keepers = await _keepers(env, ids)
    kim = await env.member("police", "HRO", name="Kim")
    request = env.needs.request("shelter", "HRO", "Fall Linde", adults=1, children=2)
    raised = await env.needs.raise_need(kim, request)
    need = raised.need
    assert raised.offers == 1 and need.ref.startswith("B-2026-")
    assert await _deliveries(env, NeedNotice.NEED) == [
        (keepers["fh-nord"], {"offer": ids["fh-nord"]})
    ]
    assert [h.need_id for h in await env.needs.run_due()] == []

    env.after(minutes=30)
    handled = await env.needs.run_due()
    assert [h.need_id for h in handled] == [need.id]
    asked = [d for _, d in await _deliveries(env, NeedNotice.NEED)]
    assert asked == [{"offer": ids["fh-nord"]}, {"offer": ids["fh-land"]}]  # the neighbour only
    assert (await env.needs.view(need.id)).stage == 1

    no = await env.needs.answer(keepers["fh-nord"], need.id, ids["fh-nord"], yes=False)
    assert not no.taken and no.need.status == "open"
    yes = await env.needs.answer(keepers["fh-land"], need.id, ids["fh-land"], yes=True)
    assert yes.taken and yes.need.taken_offer is not None
    assert yes.need.taken_offer.code == "fh-land"
    late = await env.needs.answer(keepers["fh-nord"], need.id, ids["fh-nord"], yes=True)
    assert late.already and not late.taken
    assert await _deliveries(env, NeedNotice.TAKEN) == [(kim, {"offer": ids["fh-land"]})]
    assert await _deliveries(env, NeedNotice.GONE) == [
        (keepers["fh-nord"], {"offer": ids["fh-land"]})
    ]
    with pytest.raises(DomainError):  # an offer that was never asked cannot answer
        await env.needs.answer(keepers["fh-ost"], need.id, ids["fh-ost"], yes=True)
    assert [a for _, _, a in await _events(env, "need.taken")] == [{"offer": ids["fh-land"]}]
    env.after(hours=5)
    assert await env.needs.run_due() == []  # taken: nothing is due any more


async def test_untaken_needs_end_unmet_with_their_reason(env: Env) -> None:
    ids = await _import(env)
    keepers = await _keepers(env, ids)
    kim = await env.member("police", "HRO", name="Kim")
    nobody = await env.needs.raise_need(kim, env.needs.request("shelter", "HRO", "Fall Ahorn"))
    env.after(hours=1)
    await env.needs.run_due()  # widened to the state
    env.after(hours=3)
    await env.needs.run_due()
    assert (await env.needs.view(nobody.need.id)).unmet_reason == "nobody_answered"

    none = await env.needs.raise_need(kim, env.needs.request("trafficking", "VG", "Fall Birke"))
    assert none.offers == 0 and none.need.status == "unmet"
    assert none.need.unmet_reason == "no_offer"
    language = await env.needs.raise_need(
        kim, env.needs.request("forced_marriage", "HRO", "Fall Eibe", language="uk")
    )
    assert language.need.unmet_reason == "language"

    full = await env.needs.raise_need(kim, env.needs.request("counselling", "HRO", "Fall Esche"))
    await env.needs.answer(keepers["bs-nord"], full.need.id, ids["bs-nord"], yes=False)
    assert (await env.needs.view(full.need.id)).unmet_reason == "no_places"  # all said no

    closed = await env.needs.raise_need(kim, env.needs.request("shelter", "VG", "Fall Kiefer"))
    view = await env.needs.close_unmet(kim, closed.need.id, "accessibility")
    assert (view.status, view.unmet_reason) == ("unmet", "accessibility")
    reasons = [d["reason"] for _, _, d in await _events(env, "need.unmet")]
    assert reasons == ["nobody_answered", "no_offer", "language", "no_places", "accessibility"]
    told = await _deliveries(env, NeedNotice.UNMET)
    # Told by notice: not when the answer to the request said it, nor when Kim closed it herself.
    assert [member for member, _ in told] == [kim] * 2


async def test_urgent_needs_escalate_like_urgent_alerts(env: Env) -> None:
    ids = await _import(env)
    await _keepers(env, ids)
    regional = await env.member("coordination", "HRO", role="coordinator")
    kim = await env.member("police", "HRO", name="Kim")
    urgent = env.needs.request("shelter", "HRO", "Fall Ulme", urgency="urgent")
    raised = await env.needs.raise_need(kim, urgent)
    env.after(minutes=15)
    await env.needs.run_due()
    escalations = await _deliveries(env, NeedNotice.ESCALATION)
    assert escalations == [(regional, {"level": 1})]
    env.after(minutes=15)
    await env.needs.run_due()
    levels = [params["level"] for _, params in await _deliveries(env, NeedNotice.ESCALATION)]
    assert levels[0] == 1 and set(levels[1:]) == {2}
    assert (await env.needs.view(raised.need.id)).escalation_level == 2


async def test_personal_data_in_the_case_reference_is_refused_and_nothing_is_stored(
    env: Env,
) -> None:
    await _import(env)
    kim = await env.member("police", "HRO")
    request = env.needs.request("shelter", "HRO", "Anna Schmidt, geb. 03.04.1990")
    with pytest.raises(DomainError) as refused:
        await env.needs.raise_need(kim, request)
    assert refused.value.message_key == "alert.personal_data_blocking"
    async with env.database.read_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Need)) == 0
        assert await session.scalar(select(func.count()).select_from(Offer)) == 4


async def test_two_offers_saying_yes_at_once_take_the_need_once(env: Env) -> None:
    two = SHELTERS.replace('regions = ["LRO"]', 'regions = ["HRO"]')
    ids = await _import(env, two)
    keepers = await _keepers(env, ids)
    kim = await env.member("police", "HRO", name="Kim")
    raised = await env.needs.raise_need(kim, env.needs.request("shelter", "HRO", "Fall Linde"))
    answers = await asyncio.gather(
        env.needs.answer(keepers["fh-nord"], raised.need.id, ids["fh-nord"], yes=True),
        env.needs.answer(keepers["fh-land"], raised.need.id, ids["fh-land"], yes=True),
    )
    assert sorted(a.taken for a in answers) == [False, True]
    assert len(await _events(env, "need.taken")) == 1
    assert len(await _deliveries(env, NeedNotice.TAKEN)) == 1


async def test_at_the_same_distance_offers_with_free_places_come_first(env: Env) -> None:
    two = SHELTERS.replace('regions = ["LRO"]', 'regions = ["HRO"]')
    ids = await _import(env, two)
    keepers = await _keepers(env, ids)
    await env.offers.report_places(keepers["fh-nord"], ids["fh-nord"], 0)
    await env.offers.report_places(keepers["fh-land"], ids["fh-land"], 2)
    found = await env.offers.find(env.offers.search("shelter", "HRO"))
    assert [f.offer.code for f in found] == ["fh-land", "fh-nord", "fh-ost"]


async def test_an_erased_member_no_longer_maintains_offers(env: Env) -> None:
    ids = await _import(env)
    keepers = await _keepers(env, ids)

    async def maintained() -> list[int]:
        async with env.database.read_sessions() as session:
            rows = await session.scalars(
                select(OfferMaintainer.offer_id).where(
                    OfferMaintainer.member_id == keepers["fh-nord"]
                )
            )
            return list(rows)

    assert await maintained() == [ids["fh-nord"]]
    await env.data_protection.erase(ADMIN_ACTOR, keepers["fh-nord"])
    assert await maintained() == []
    assert len(await _events(env, "offer.maintainer_added")) == len(ids)
