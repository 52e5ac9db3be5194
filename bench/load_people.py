"""What the members of `bench.load` do: the network they form, the polls they are asked in, the
alerts they raise in the chat and the burst of button presses that answers the polls."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bench.common import PSEUDONYMS, until
from bench.fake_telegram import FakeTelegram
from bot.config import Settings
from bot.network import Network
from handlers.common.callbacks import Button, Kind
from sandbox.story import add_members, said
from storage.db import Database
from storage.models import (
    AnonymousVoter,
    Delivery,
    DeliveryStatus,
    Member,
    Poll,
    PollBallot,
    PollKind,
    PollParticipant,
)

STATEWIDE_EVERY = 25  # one member in 25 is registered for the whole state
POLL_TITLES = ("Netzwerktreffen", "Fallkonferenz Nord", "Fortbildung", "Arbeitsgruppe")
CHOICES = ["Präsenz in Rostock", "Online", "Verschieben"]

log = logging.getLogger("bench.load")


# The simulated people and their presses live in the benchmark's driver, not in the bot's
# process; slots keep them small all the same (20,000 presses and 10,000 people: 5.0 instead
# of 6.2 MB).
@dataclass(frozen=True, slots=True)
class Person:
    telegram_id: int
    member_id: int
    sector: str
    region: str


@dataclass(frozen=True, slots=True)
class Pressed:
    poll_id: int
    callback_query_id: str
    update_id: int
    posted: float  # this process's clock, just before the POST


# --- the network ----------------------------------------------------------------------------


async def seed_network(
    fake: FakeTelegram, url: str, network: Network, count: int
) -> tuple[list[Person], list[Person]]:
    """Members spread over sectors and regions, and coordinators; each has opened the chat."""
    statewide = network.statewide_region
    regions = [code for code in network.regions if code != statewide]
    sectors = list(network.sectors)
    groups: dict[tuple[str, str, str], int] = Counter()
    for region in [*regions, statewide, statewide]:
        groups["coordination", region, "coordinator"] += 1
    for number in range(count - sum(groups.values())):
        sector = sectors[number % len(sectors)]
        if number % STATEWIDE_EVERY == STATEWIDE_EVERY - 1:
            region = statewide
        else:
            region = regions[(number // len(sectors)) % len(regions)]
        groups[sector, region, "member"] += 1
    members: list[Person] = []
    coordinators: list[Person] = []
    for (sector, region, role), size in sorted(groups.items()):
        prefix = f"{network.sectors[sector].label('de')} {region}"
        if role == "coordinator":
            prefix = f"Koordination {region}"
        chats = await fake.create_users(size, prefix)
        ids = await add_members(url, chats, sector, region, prefix=prefix, role=role)
        people = [Person(t, m, sector, region) for t, m in zip(chats, ids, strict=True)]
        (coordinators if role == "coordinator" else members).extend(people)
    return members, coordinators


# --- polls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollPlan:
    poll_id: int
    kind: str
    options: int
    voters: list[int]  # Telegram ids of the first `--voters` people asked


async def create_polls(
    fake: FakeTelegram,
    database: Database,
    creator: Person,
    network: Network,
    count: int,
    voters: int,
    members: int,
    rng: random.Random,
) -> list[PollPlan]:
    """Polls to enough sectors (statewide) to reach about `voters` people each, each created
    by the creator's one-line `/poll <sectors> <deadline> [anonym] <title> | <option> | …` in
    the chat, one after the other."""
    sectors = list(network.sectors)
    per_poll = min(len(sectors), max(1, round(voters * len(sectors) / members)))
    combinations = list(itertools.combinations(sectors, per_poll))
    rng.shuffle(combinations)
    zone = ZoneInfo(Settings.model_fields["cora_timezone"].default)
    today = datetime.now(zone).replace(hour=10, minute=0, second=0, microsecond=0)
    deadline = (datetime.now(zone) + timedelta(days=7)).strftime("%d.%m.%Y %H:%M")
    created: list[tuple[str, int]] = []
    for number in range(count):
        target = ",".join(combinations[number % len(combinations)])
        title = f"{POLL_TITLES[number % len(POLL_TITLES)]} {number + 1}"
        if number % 2 == 0:
            days = [today + timedelta(days=14 + number + step) for step in range(3)]
            kind, options = PollKind.DATE, [d.strftime("%d.%m.%Y %H:%M") for d in days]
        else:
            kind, options = PollKind.SINGLE, list(CHOICES)
        flags = "anonym " if number % 4 == 3 else ""
        await fake.send(
            creator.telegram_id, f"/poll {target} {deadline} {flags}{title} | {' | '.join(options)}"
        )
        if not await until(lambda n=number + 1: _polls_at_least(database, n), 60.0, 0.02):
            said_last = (await fake.messages(creator.telegram_id))[-1]["text"]
            raise RuntimeError(f"poll {number + 1} was not created; the bot said: {said_last}")
        created.append((kind, len(options)))
    async with database.read_sessions() as session:
        ids = list((await session.scalars(select(Poll.id).order_by(Poll.id))).all())
    asked = await _asked(database, ids)
    return [
        PollPlan(poll_id, kind, options, asked[poll_id][:voters])
        for poll_id, (kind, options) in zip(ids, created, strict=True)
    ]


async def _polls_at_least(database: Database, count: int) -> bool:
    async with database.read_sessions() as session:
        return (await session.scalar(select(func.count()).select_from(Poll)) or 0) >= count


async def _asked(database: Database, poll_ids: Sequence[int]) -> dict[int, list[int]]:
    async with database.read_sessions() as session:
        rows = await session.execute(
            select(PollParticipant.poll_id, Member.telegram_user_id)
            .join(Member, Member.id == PollParticipant.member_id)
            .where(PollParticipant.poll_id.in_(list(poll_ids)))
            .order_by(PollParticipant.poll_id, Member.id)
        )
        asked: dict[int, list[int]] = defaultdict(list)
        for poll_id, telegram_id in rows.all():
            if telegram_id is not None:
                asked[poll_id].append(telegram_id)
        return asked


def answer_button(plan: PollPlan, rng: random.Random) -> str:
    option = rng.randint(1, plan.options)
    if plan.kind == PollKind.DATE:
        return Button(Kind.POLL, str(plan.poll_id), f"{option}{rng.choice('ymn')}").encode()
    return Button(Kind.POLL, str(plan.poll_id), f"c{option}").encode()


# --- alerts ---------------------------------------------------------------------------------


async def raise_alerts(
    fake: FakeTelegram,
    senders: Sequence[Person],
    network: Network,
    window: float,
    rng: random.Random,
) -> list[float]:
    """Each sender writes one one-line /alert, evenly spread over `window` seconds; returns when
    each was posted. One POST at a time, so the fake numbers the updates in this order."""
    regions = [code for code in network.regions if code != network.statewide_region]
    sectors = [code for code in network.sectors if code != "coordination"]
    started = time.monotonic()
    posted = []
    for number, sender in enumerate(senders):
        await asyncio.sleep(max(0.0, started + number * window / len(senders) - time.monotonic()))
        chosen = ",".join(rng.sample(sectors, rng.randint(1, 3)))
        urgent = "! " if number % 3 == 0 else ""
        text = f"Lage im Fall {PSEUDONYMS[number % len(PSEUDONYMS)]}: bitte kurz zurückmelden"
        posted.append(time.monotonic())
        await fake.send(sender.telegram_id, f"/alert {chosen} {rng.choice(regions)} {urgent}{text}")
    return posted


def _confirms(text: str, pieces: Sequence[str]) -> bool:
    position = 0
    for piece in pieces:
        found = text.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


async def confirmation_ids(fake: FakeTelegram, senders: Sequence[Person]) -> list[int | None]:
    """The message id of the bot's confirmation of each sender's alert."""
    keys = [said("alert.raised"), said("alert.raised_to_coordinators")]
    found: list[int | None] = []
    for sender in senders:
        messages = await fake.messages(sender.telegram_id)
        found.append(
            next(
                (
                    m["message_id"]
                    for m in messages
                    if m["from_bot"] and any(_confirms(m["text"], k) for k in keys)
                ),
                None,
            )
        )
    return found


async def delivery_states(database: Database) -> Counter[tuple[str, str]]:
    async with database.read_sessions() as session:
        rows = await session.execute(
            select(Delivery.kind, Delivery.status, func.count()).group_by(
                Delivery.kind, Delivery.status
            )
        )
        return Counter({(kind, status): n for kind, status, n in rows.all()})


async def all_final(database: Database) -> bool:
    states = await delivery_states(database)
    open_states = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    return not any(n for (_, status), n in states.items() if status in open_states)


# --- presses and votes ----------------------------------------------------------------------


async def press_burst(
    fake: FakeTelegram, plans: Sequence[PollPlan], concurrency: int, rng: random.Random
) -> tuple[list[Pressed], int]:
    """Every planned voter presses an answer on their ballot, all polls mixed."""
    jobs = [(plan, voter) for plan in plans for voter in plan.voters]
    rng.shuffle(jobs)
    pending = iter(jobs)
    pressed: list[Pressed] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for plan, voter in pending:
            button = answer_button(plan, rng)
            posted = time.monotonic()
            try:
                answer = await fake.press(voter, button)
            except RuntimeError as error:
                failures += 1
                log.warning("press refused by the fake: %s", error)
                continue
            pressed.append(
                Pressed(plan.poll_id, answer["callback_query_id"], answer["update_id"], posted)
            )

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return pressed, failures


async def count_votes(database: Database, plans: Sequence[PollPlan]) -> dict[int, int]:
    """People with an answer, per poll (named: ballots; anonymous: voter hashes)."""
    ids = [plan.poll_id for plan in plans]
    async with database.read_sessions() as session:
        named = await session.execute(
            select(PollBallot.poll_id, func.count())
            .where(PollBallot.poll_id.in_(ids))
            .group_by(PollBallot.poll_id)
        )
        anonymous = await session.execute(
            select(AnonymousVoter.poll_id, func.count())
            .where(AnonymousVoter.poll_id.in_(ids))
            .group_by(AnonymousVoter.poll_id)
        )
        return dict(named.all()) | dict(anonymous.all())
