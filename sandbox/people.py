"""The sandbox's invented network, and how its people join: through the bot's real joining
dialog, so that their chats show it and the audit log records it; and its invented offers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from importlib import resources

from bot import i18n
from bot.app import CoraBot
from bot.membership import ADMIN_ACTOR, Actor
from bot.offers.files import parse_offers_toml
from localapi.chats import SimMessage
from localapi.people import SimUser
from localapi.server import LocalBotApi
from localapi.text import parse
from storage.models import Role

# Fixed Telegram ids, so that a kept --data-dir finds its members again after a restart.
FIRST_PERSON_ID = 700_000_001
JOIN_TIMEOUT = 30.0


@dataclass(frozen=True)
class Persona:
    """An invented professional of the network (every name is made up)."""

    name: str
    sector: str
    region: str
    institution: str
    role: str = Role.MEMBER

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


# The coordinators come first: the state coordinator invites everyone else, as in real life.
NETWORK: tuple[Persona, ...] = (
    Persona("Dana Koordina", "coordination", "MV", "Landeskoordinierungsstelle", Role.COORDINATOR),
    Persona("Kim Polizei", "police", "HRO", "Polizeirevier Rostock-Lindenhof"),
    Persona("Jonas Jugendamt", "youth_welfare", "HRO", "Jugendamt Rostock, Sozialer Dienst"),
    Persona(
        "Rike Regional", "coordination", "HRO", "Regionale Koordinierung Rostock", Role.COORDINATOR
    ),
    Persona("Bea Beratung", "victim_support", "HRO", "Beratungsstelle Lindenhof"),
    Persona("Frida Frauenhaus", "victim_support", "LRO", "Frauenhaus am Lindensee"),
    Persona("Hanna Heiler", "health", "SN", "Klinik am Lindenpark, Kinderschutzgruppe"),
    Persona("Tom Täterarbeit", "perpetrator_work", "SN", "Männerberatung Lindenstraße"),
)
# Shown when the page opens: the coordinator and the two who get an alert for police/HRO or
# youth welfare/HRO.
FIRST_SHOWN = 3


@dataclass(frozen=True)
class SandboxPerson:
    persona: Persona
    user: SimUser


def _plain(language: str, key: str, **params: object) -> str:
    """The text a person sees for a catalogue key (its markup parsed like Telegram does)."""
    return parse(i18n.html_text(language, key, **params), "HTML", None)[0]


async def _answer(user: SimUser, text: str, after: SimMessage | None) -> SimMessage:
    return await user.wait_for(lambda m: m.text == text, JOIN_TIMEOUT, after=after)


async def _join(user: SimUser, persona: Persona, token: str, language: str) -> None:
    """Open the invitation link and answer the two questions, waiting for each question."""
    start = user.last
    user.send(f"/start {token}")
    asked = await _answer(user, _plain(language, "join.ask_name"), start)
    user.send(persona.name)
    asked = await _answer(user, _plain(language, "join.ask_institution"), asked)
    user.send(persona.institution)
    await _answer(user, _plain(language, "join.activated", name=persona.name), asked)


def add_people(api: LocalBotApi, language: str) -> list[SandboxPerson]:
    """The invented people as Telegram accounts (not yet members); accounts a kept data
    directory brought back are taken as they are."""
    known = {user.id: user for user in api.users}
    return [
        SandboxPerson(
            persona,
            known.get(FIRST_PERSON_ID + index)
            or api.user(
                FIRST_PERSON_ID + index,
                first_name=persona.first_name,
                last_name=persona.name.partition(" ")[2] or None,
                language_code=language,
            ),
        )
        for index, persona in enumerate(NETWORK)
    ]


async def seed_network(cora: CoraBot, people: list[SandboxPerson], language: str) -> bool:
    """Let everyone join who is not a member yet (all of them on a fresh database); False when
    the database already knew them all."""
    membership = cora.services.membership
    missing: list[SandboxPerson] = []
    for person in people:
        member = await membership.find_by_telegram(person.user.id)
        if member is None:
            missing.append(person)
        else:
            person.user.account.started = True  # they opened the chat in an earlier run
    if not missing:
        return False

    async def invite_and_join(person: SandboxPerson, inviter: Actor) -> None:
        persona = person.persona
        invite = await membership.create_invite(
            inviter, persona.sector, persona.region, role=persona.role
        )
        await _join(person.user, persona, invite.token, language)

    head, *rest = people
    if head in missing:
        await invite_and_join(head, ADMIN_ACTOR)  # the operator lets the first coordinator in
    coordinator = await membership.find_by_telegram(head.user.id)
    inviter: Actor = coordinator.id if coordinator is not None else ADMIN_ACTOR
    await asyncio.gather(*(invite_and_join(p, inviter) for p in rest if p in missing))
    return True


# The invented offers and who keeps them: (offer id in the example file, maintainer, free places).
OFFER_KEEPERS: tuple[tuple[str, str, int | None], ...] = (
    ("fh-lindensee", "Frida Frauenhaus", 2),
    ("fh-lindenberg", "Dana Koordina", 1),
    ("bs-lindenhof", "Bea Beratung", None),
    ("mb-lindenstrasse", "Tom Täterarbeit", None),
)


async def seed_offers(cora: CoraBot, people: list[SandboxPerson]) -> bool:
    """Import the invented offers file (`sandbox/offers_example.toml`), name their maintainers
    and report places; False when the database already had offers."""
    services = cora.services
    if await services.offers.all_offers():
        return False
    text = resources.files("sandbox").joinpath("offers_example.toml").read_text("utf-8")
    await services.offers.import_offers(ADMIN_ACTOR, parse_offers_toml(text, services.network))
    members = {
        p.persona.name: await services.membership.find_by_telegram(p.user.id) for p in people
    }
    coordinator = members[NETWORK[0].name]
    assert coordinator is not None
    for code, name, places in OFFER_KEEPERS:
        offer = await services.offers.by_code(code)
        keeper = members[name]
        assert keeper is not None
        if keeper.id != coordinator.id:
            await services.offers.add_maintainer(coordinator.id, offer.id, keeper.id)
        if places is not None:
            await services.offers.report_places(keeper.id, offer.id, places)
    return True
