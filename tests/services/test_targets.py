"""Targets as people type them, on SQLite and PostgreSQL: sector and region labels in German and
English, short forms, any case and accents, the codes as before; a typo gets the closest name,
a word that fits several places gets the choices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.alerts.model import parse_sectors
from bot.channels import ChannelService, Target
from bot.clock import ManualClock
from bot.errors import DomainError
from bot.membership import ADMIN_ACTOR, MembershipService, TelegramIdentity
from bot.network import Names, NetworkFileError, load_network, parse_network
from storage.db import Database
from storage.uow import UnitOfWorkFactory

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@dataclass
class Env:
    membership: MembershipService
    channels: ChannelService
    serial: int = 0

    async def member(self, sector: str, region: str, role: str = "member") -> int:
        self.serial += 1
        invite = await self.membership.create_invite(ADMIN_ACTOR, sector, region, role=role)
        who = TelegramIdentity(7000 + self.serial, 7000 + self.serial)
        progress = await self.membership.redeem_invite(who, invite.token)
        await self.membership.give_text(progress.member.id, f"Person {self.serial}")
        done = await self.membership.give_text(progress.member.id, "Amt")
        return done.member.id

    async def target(self, actor: int, raw: str) -> Target:
        return await self.channels.parse_target(actor, raw)

    async def refusal(self, actor: int, raw: str) -> DomainError:
        with pytest.raises(DomainError) as refused:
            await self.channels.parse_target(actor, raw)
        return refused.value


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    uow = UnitOfWorkFactory(database, ManualClock(START))
    network = load_network()
    yield Env(MembershipService(uow, network, 90), ChannelService(uow, network))
    await database.dispose()


async def test_labels_in_both_languages_and_short_forms_name_the_same_target(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    codes = await env.target(coordinator, "police,youth_welfare@HRO")
    for typed in (
        "Polizei,Jugendamt@Rostock",  # German labels
        "Police, Youth welfare office @ Rostock",  # English labels, with spaces
        "POLIZEI,jugendamt@hro",  # any case
        "Pol,JA@HRO",  # short forms from the network file
        "Jugendamt,Polizei,Rostock",  # any order, region without @
        "police,Jugendamt@Hansestadt Rostock",  # codes and labels mixed
    ):
        assert await env.target(coordinator, typed) == codes, typed
    assert codes.groups[0].sectors == ("police", "youth_welfare")
    assert codes.groups[0].regions == ("HRO",)


async def test_accents_umlauts_and_words_of_a_label_are_understood(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")

    async def group(raw: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        [found] = (await env.target(coordinator, raw)).groups
        return found.sectors, found.regions

    for typed in ("Täterarbeit", "Taeterarbeit", "taterarbeit"):
        assert await group(typed) == (("perpetrator_work",), ()), typed
    assert await group("Rügen") == await group("rugen") == ((), ("VR",))
    assert await group("Rostock") == ((), ("HRO",))  # the exact label wins over a word of one
    assert await group("Landkreis Rostock") == ((), ("LRO",))
    assert await group("Greifswald") == ((), ("VG",))
    assert await group("landesweit") == await group("statewide") == ((), ())  # whole state
    for everyone in ("all", "alle", "Everyone", "Alle Mitglieder"):
        assert await group(everyone) == ((), ()), everyone


async def test_a_typo_gets_the_closest_name_in_the_readers_language(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    cases = {
        "Polzei": ("police", "Polizei", "Police"),
        "Jugendamd@Rostock": ("youth_welfare", "Jugendamt", "Youth welfare office"),
        "police@Rostok": ("HRO", "Rostock", "Rostock"),
        "Schwerinn": ("SN", "Schwerin", "Schwerin"),
    }
    for typed, (code, german, english) in cases.items():
        refusal = await env.refusal(coordinator, typed)
        assert refusal.message_key == "target.did_you_mean", typed
        suggestion = refusal.params["suggestion"]
        assert isinstance(suggestion, Names)
        assert [p.code for p in suggestion.places] == [code]
        assert (suggestion.shown("de"), suggestion.shown("en")) == (german, english)
        assert refusal.params["part"] in typed


async def test_a_word_that_fits_several_places_offers_the_choices(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    refusal = await env.refusal(coordinator, "Vorpommern")
    assert refusal.message_key == "target.ambiguous"
    choices = refusal.params["choices"]
    assert isinstance(choices, Names)
    assert [p.code for p in choices.places] == ["VG", "VR", "MV"]
    assert "Vorpommern-Rügen" in choices.shown("de")
    assert "Western Pomerania-Rügen" in choices.shown("en")
    welfare = await env.refusal(coordinator, "welfare")
    assert welfare.message_key == "target.ambiguous"
    assert isinstance(welfare.params["choices"], Names)
    assert [p.code for p in welfare.params["choices"].places] == ["youth_welfare", "social_welfare"]


async def test_nothing_alike_lists_the_places_by_label(env: Env) -> None:
    coordinator = await env.member("coordination", "MV", "coordinator")
    refusal = await env.refusal(coordinator, "xyzzy")
    assert refusal.message_key == "target.unknown"
    sectors = refusal.params["sectors"]
    assert isinstance(sectors, Names)
    assert sectors.shown("de").startswith("Polizei, Justiz")
    assert sectors.shown("en").startswith("Police, Justice")
    assert (await env.refusal(coordinator, "alle,Polizei")).message_key == "target.usage"


async def test_a_regional_coordinator_stays_in_their_region_whatever_the_spelling(
    env: Env,
) -> None:
    regional = await env.member("coordination", "HRO", "coordinator")
    refusal = await env.refusal(regional, "Polizei@Schwerin")
    assert refusal.message_key == "error.outside_scope"
    [group] = (await env.target(regional, "Polizei")).groups
    assert group.regions == ("HRO",)


def test_alert_sectors_and_invitations_accept_labels_too() -> None:
    network = load_network()
    assert parse_sectors(network, "Polizei,JA") == ("police", "youth_welfare")
    assert network.region("Rostock").code == "HRO"
    with pytest.raises(DomainError) as typo:
        network.sector("Justis")
    assert typo.value.message_key == "target.did_you_mean"
    with pytest.raises(DomainError) as unknown:
        network.region("xyzzy")
    assert unknown.value.message_key == "error.unknown_region"


def test_short_forms_in_the_network_file_must_be_a_list_of_names() -> None:
    text = """
statewide_region = "MV"
[sectors.police]
de = "Polizei"
aliases = "Pol"
[regions.MV]
de = "Land"
"""
    with pytest.raises(NetworkFileError, match=r"sectors\.police\.aliases"):
        parse_network(text)
    network = parse_network(text.replace('"Pol"', '["Pol", "Schupo"]'))
    assert network.sector("schupo").code == "police"
