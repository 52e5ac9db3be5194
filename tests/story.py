"""Helpers that let end-to-end tests read like the user story: people, invitations, replies
(what a person sees, and many members at once, come from `sandbox.story`)."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg

from bot.app import CoraBot
from bot.config import Settings
from bot.membership import ADMIN_ACTOR
from localapi.chats import SimMessage
from localapi.people import SimUser
from localapi.server import LocalBotApi
from sandbox.story import Person, expect, shows

# What a person sees, and many members at once, live with the sandbox (benchmarks use them too).
from sandbox.story import said as said
from sandbox.story import seed_members as seed_members


async def invite_token(
    cora: CoraBot, sector: str, region: str, role: str = "member", uses: int = 1, days: int = 7
) -> str:
    created = await cora.services.membership.create_invite(
        ADMIN_ACTOR, sector, region, role=role, uses=uses, days=days
    )
    return created.token


async def join(
    api: LocalBotApi,
    cora: CoraBot,
    name: str,
    sector: str,
    region: str,
    *,
    role: str = "member",
    institution: str = "Fachberatungsstelle Nord",
    language: str = "de",
    token: str | None = None,
) -> Person:
    """A professional opens an invitation link and answers the two questions."""
    token = token or await invite_token(cora, sector, region, role)
    user = api.user(first_name=name.split()[0], language_code=language)
    user.send(f"/start {token}")
    await expect(user, "join.ask_name", language)
    user.send(name)
    await expect(user, "join.ask_institution", language)
    user.send(institution)
    await expect(user, "join.activated", language, name=name)
    member = await cora.services.membership.find_by_telegram(user.id)
    assert member is not None and member.is_active
    return Person(user, member.id, name)


async def reply_to(user: SimUser, text: str, timeout: float = 5.0) -> SimMessage:
    """Send a text and wait for the bot's next message in this chat."""
    before = user.last
    user.send(text)
    return await user.wait_for(lambda m: True, timeout, after=before)


def alert_messages(user: SimUser, ref: str | None = None) -> list[SimMessage]:
    """The alert deliveries a person received (not notices about them)."""
    found = [m for m in user.messages if shows(m, "alert.body") or shows(m, "alert.body", "en")]
    return [m for m in found if ref is None or ref in m.text]


async def settled(cora: CoraBot) -> None:
    """Every queued delivery is final (sent and its message id recorded) and every touched
    live message refreshed."""
    cora.runtime.outbox.wake()
    async with asyncio.timeout(15):
        while (await cora.services.deliveries.backlog())[0]:
            await asyncio.sleep(0.05)
        await cora.runtime.live.settled()


async def until(api: LocalBotApi, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until something about the simulated people becomes true (checked on every change)."""
    async with asyncio.timeout(timeout):
        await api.world.changes.wait_until(lambda: True if predicate() else None)


def run_cli(*args: str) -> int:
    """`cora-bot …` in this process; the logging it configures is undone afterwards."""
    import logging

    from bot.cli import main

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return main(list(args))
    finally:
        root.handlers[:], root.level = handlers, level


REF = re.compile(r"F-\d{4}-\d{4}")


def ref_in(text: str) -> str:
    """The case reference in a message."""
    match = REF.search(text)
    assert match, text
    return match.group(0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def database_locked(settings: Settings) -> AsyncIterator[None]:
    """Another process holds the write lock of the deliveries while the block runs."""
    if settings.database_url.startswith("sqlite"):
        path = settings.database_url.split("///", 1)[1]
        locked, release = threading.Event(), threading.Event()

        def hold() -> None:
            connection = sqlite3.connect(path, isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(30)
            connection.execute("ROLLBACK")
            connection.close()

        holder = threading.Thread(target=hold)
        holder.start()
        await asyncio.to_thread(locked.wait, 5)
        try:
            yield
        finally:
            release.set()
            await asyncio.to_thread(holder.join)
    else:
        other = await asyncpg.connect(
            settings.database_url.replace("postgresql+asyncpg", "postgresql")
        )
        transaction = other.transaction()
        await transaction.start()
        await other.execute("LOCK TABLE deliveries IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            await transaction.rollback()
            await other.close()
