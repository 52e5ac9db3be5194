"""Benchmark: nothing is lost under a seeded fault profile of the Bot API.

Run: .venv/bin/python -m bench.faults [--recipients 500] [--voters 300] [--rate 0.2] [--seed 7]
         [--limits bucket|strict]

A share of Telegram's answers (default 20 %) are faults, chosen reproducibly: 429 with
retry_after 1–5 s, 500, 502, read time-outs (the message arrives, the answer does not), and
dropped connections before and after processing. Meanwhile one urgent alert goes to
`--recipients` members and a poll to `--voters` members, who all answer with the button.
Printed: faults injected, time until every delivery was final, deliveries by final state,
recipients without the alert (must be 0), duplicates (only answers lost in transit), votes
counted against voters. With --limits the fake also enforces Telegram's flood limits (token
buckets, or strictly: at most 30 messages in any second, one per chat) and the bot paces at
30/s; without, neither limits.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bench.common import bot_settings, quiet_logging
from bench.databases import fresh_database
from bench.fake_telegram import TOKEN
from bot.app import CoraBot, build_application
from bot.polls import PollDraft
from localapi.limits import LIMIT_MODELS
from localapi.people import SimUser
from localapi.server import LocalBotApi
from sandbox.story import add_members
from storage.db import Database
from storage.models import Delivery, DeliveryStatus, PollVote

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
    flood_limited: int  # 429s from the fake's flood limits, besides the injected ones


async def _final(database: Database, timeout: float) -> Counter[str]:
    async with asyncio.timeout(timeout):
        while True:
            async with database.read_sessions() as session:
                states = Counter((await session.scalars(select(Delivery.status))).all())
            if not states[DeliveryStatus.PENDING] and not states[DeliveryStatus.SENDING]:
                return states
            await asyncio.sleep(0.2)


async def _people(
    api: LocalBotApi, url: str, count: int, sector: str, prefix: str, role: str = "member"
) -> list[tuple[SimUser, int]]:
    """Active members in HRO who have opened the chat with the bot, with their member ids."""
    users = [api.user(first_name=f"{prefix}{number}") for number in range(count)]
    for user in users:
        user.account.started = True
    ids = await add_members(url, [u.id for u in users], sector, "HRO", prefix=prefix, role=role)
    return list(zip(users, ids, strict=True))


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
    max_retry_after: int = 5,
    timeout: float = 600,
) -> Outcome:
    """Alert and poll under the fault profile; waits until everything is final. A 429's
    retry_after is 1 to `max_retry_after` seconds (at most 5)."""
    [(_, coordinator)] = await _people(
        api, database_url, 1, "coordination", "Koordination", role="coordinator"
    )
    police = [user for user, _ in await _people(api, database_url, recipients, "police", "Polizei")]
    youth = [
        user for user, _ in await _people(api, database_url, voters, "youth_welfare", "Jugend")
    ]
    # A little longer than the bot's read timeout (TELEGRAM_READ_TIMEOUT, 5 s by default).
    api.faults.timeout_delay = cora.settings.telegram_read_timeout + 1.0
    api.faults.profile(rate=rate, seed=seed, max_retry_after=max_retry_after)
    started = time.monotonic()
    services = cora.services
    await services.alerts.raise_alert(coordinator, ["police"], "HRO", "urgent", ALERT_TEXT)
    target = await services.channels.parse_target(coordinator, "youth_welfare@HRO")
    draft = PollDraft(title="Fallkonferenz im Fall Pappel?", kind="single", options=["Ja", "Nein"])
    poll, _ = await services.polls.create(
        coordinator, target, draft, services.clock.now() + timedelta(days=1)
    )
    states = await _final(cora.database, timeout)
    # Every voter answers with the button on the poll message they received.
    presses = []
    for person in youth:
        ballot = next(m for m in person.messages if m.callback_button(f"p:{poll.id}:c1"))
        presses.append(person.press(f"p:{poll.id}:c1", ballot))
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
    copies = [_copies(person, "Fall Pappel, bitte") for person in police]
    return Outcome(
        faults=Counter(hit.fault.kind for hit in api.faults.hits),
        seconds=seconds,
        deliveries=states,
        missing=sum(1 for c in copies if c == 0),
        duplicates=sum(c - 1 for c in copies if c > 1),
        voters=voters,
        votes=votes,
        flood_limited=len(api.rate_limited),
    )


async def _main(args: argparse.Namespace) -> None:
    # python-telegram-bot logs every injected 502 page with a traceback; the figures are enough.
    quiet_logging("telegram", "handlers", "bot")
    directory = Path(tempfile.mkdtemp(prefix="cora-faults-"))
    limits = args.limits
    try:
        async with (
            fresh_database("sqlite", directory) as url,
            LocalBotApi(TOKEN, enforce_limits=bool(limits), limit_model=limits or "bucket") as api,
        ):
            rate = 30 if limits else 0
            cora = build_application(bot_settings(api.base_url, url, directory, rate))
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
    print(
        f"fault profile {args.rate:.0%} (seed {args.seed}), flood limits "
        f"{args.limits or 'off'}: {injected} faults ({faults})"
    )
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
    print(f"429s from the flood limits (not injected): {outcome.flood_limited}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=500)
    parser.add_argument("--voters", type=int, default=300)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limits", choices=LIMIT_MODELS, help="flood limits of the fake")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
