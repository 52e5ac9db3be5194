"""Benchmark: nothing is lost under a seeded fault profile of the Bot API.

Run: .venv/bin/python -m bench.faults [--recipients 500] [--voters 300] [--rate 0.2] [--seed 7]

A share of Telegram's answers (default 20 %) are faults, chosen reproducibly: 429 with
retry_after 1–5 s, 500, 502, read time-outs (the message arrives, the answer does not), and
dropped connections before and after processing. Meanwhile one urgent alert goes to
`--recipients` members and a poll to `--voters` members, who all answer with the button.
Printed: faults injected, time until every delivery was final, deliveries by final state,
recipients without the alert (must be 0), duplicates (only answers lost in transit), votes
counted against voters.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.app import CoraBot, build_application
from bot.config import Settings
from bot.keys import generate_encryption_key
from bot.polls import PollDraft
from localapi.people import SimUser
from localapi.server import LocalBotApi
from sandbox.story import seed_members
from storage import migrate
from storage.db import Database
from storage.models import Delivery, DeliveryStatus, PollVote

TOKEN = "123456789:AAEfakeTokenForTestsOnly_abcdefghijk"
ALERT_TEXT = "Großlage im Fall Pappel, bitte kurz zurückmelden"


@dataclass
class Outcome:
    faults: Counter[str]
    seconds: float
    deliveries: Counter[str]
    missing: int
    duplicates: int
    voters: int
    votes: int


async def _final(database: Database, timeout: float) -> Counter[str]:
    async with asyncio.timeout(timeout):
        while True:
            async with database.read_sessions() as session:
                states = Counter((await session.scalars(select(Delivery.status))).all())
            if not states[DeliveryStatus.PENDING] and not states[DeliveryStatus.SENDING]:
                return states
            await asyncio.sleep(0.2)


def _copies(user: SimUser, text: str) -> int:
    return sum(1 for m in user.messages if text in m.text)


async def run_scenario(
    api: LocalBotApi,
    cora: CoraBot,
    database_url: str,
    *,
    recipients: int,
    voters: int,
    rate: float = 0.2,
    seed: int = 7,
    timeout: float = 600,
) -> Outcome:
    """Alert and poll under the fault profile; waits until everything is final."""
    [coordinator] = await seed_members(
        database_url, api, 1, "coordination", "HRO", prefix="Koordination", role="coordinator"
    )
    police = await seed_members(database_url, api, recipients, "police", "HRO", prefix="Polizei")
    youth = await seed_members(database_url, api, voters, "youth_welfare", "HRO", prefix="Jugend")
    api.faults.timeout_delay = 6.0  # a little longer than PTB's read timeout of 5 s
    api.faults.profile(rate=rate, seed=seed)
    started = time.monotonic()
    services = cora.services
    await services.alerts.raise_alert(
        coordinator.member_id, ["police"], "HRO", "urgent", ALERT_TEXT
    )
    target = await services.channels.parse_target(coordinator.member_id, "youth_welfare@HRO")
    draft = PollDraft(title="Fallkonferenz im Fall Pappel?", kind="single", options=["Ja", "Nein"])
    poll, _ = await services.polls.create(
        coordinator.member_id, target, draft, services.clock.now() + timedelta(days=1)
    )
    states = await _final(cora.database, timeout)
    # Every voter answers with the button on the poll message they received.
    presses = []
    for person in youth:
        ballot = next(m for m in person.user.messages if m.callback_button(f"p:{poll.id}:c1"))
        presses.append(person.user.press(f"p:{poll.id}:c1", ballot))
    async with asyncio.timeout(timeout):
        while True:
            async with cora.database.read_sessions() as session:
                votes = len(
                    (
                        await session.scalars(
                            select(PollVote.member_id).where(PollVote.poll_id == poll.id)
                        )
                    ).all()
                )
            if votes >= voters or all(p.answered for p in presses):
                break
            await asyncio.sleep(0.2)
    states = await _final(cora.database, timeout)
    seconds = time.monotonic() - started
    api.faults.clear()
    copies = [_copies(p.user, "Fall Pappel, bitte") for p in police]
    return Outcome(
        faults=Counter(hit.fault.kind for hit in api.faults.hits),
        seconds=seconds,
        deliveries=states,
        missing=sum(1 for c in copies if c == 0),
        duplicates=sum(c - 1 for c in copies if c > 1),
        voters=voters,
        votes=votes,
    )


async def _main(args: argparse.Namespace) -> None:
    # python-telegram-bot logs every injected 502 page with a traceback; the figures are enough.
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("telegram", "handlers", "bot"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    directory = Path(tempfile.mkdtemp(prefix="cora-faults-"))
    url = f"sqlite+aiosqlite:///{directory / 'cora.db'}"
    database = Database(url)
    await migrate.upgrade(database)
    await database.dispose()
    try:
        async with LocalBotApi(token=TOKEN) as api:
            cora = build_application(
                Settings(
                    _env_file=None,  # type: ignore[call-arg]
                    telegram_bot_token=TOKEN,  # type: ignore[arg-type]
                    telegram_base_url=api.base_url,
                    database_url=url,
                    cora_data_dir=directory,
                    cora_encryption_key=generate_encryption_key(),  # type: ignore[arg-type]
                    telegram_max_rate=0,
                )
            )
            await cora.start()
            try:
                outcome = await run_scenario(
                    api,
                    cora,
                    url,
                    recipients=args.recipients,
                    voters=args.voters,
                    rate=args.rate,
                    seed=args.seed,
                )
            finally:
                await cora.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    faults = ", ".join(f"{kind} {count}" for kind, count in sorted(outcome.faults.items()))
    injected = sum(outcome.faults.values())
    print(f"fault profile {args.rate:.0%} (seed {args.seed}): {injected} faults ({faults})")
    print(
        f"alert to {args.recipients}, poll to {args.voters}: "
        f"all deliveries final after {outcome.seconds:.1f} s"
    )
    print(f"deliveries by final state: {dict(outcome.deliveries)}")
    print(
        f"recipients without the alert: {outcome.missing}; "
        f"duplicates (answers lost in transit): {outcome.duplicates}"
    )
    print(f"votes counted: {outcome.votes} of {outcome.voters} voters")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=500)
    parser.add_argument("--voters", type=int, default=300)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
