"""Helpers that let end-to-end tests read like the user story: people, invitations, replies."""

from __future__ import annotations

import asyncio
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot import i18n
from bot.app import CoraBot
from bot.local_api.chats import SimMessage
from bot.local_api.people import SimUser
from bot.local_api.server import LocalBotApi
from bot.local_api.text import parse
from bot.membership import ADMIN_ACTOR

_GAP = "\x00"


def said(key: str, language: str = "de", **params: Any) -> list[str]:
    """The plain-text pieces a person sees for `key`; placeholders not given are gaps."""
    template = i18n._template(language, key, params.get("count"))
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    values = {f: params.get(f, _GAP) for f in fields}
    html = i18n.html_text(language, key, **values)
    plain, _ = parse(html, "HTML", None)
    return [piece for piece in plain.split(_GAP) if piece]


def shows(message: SimMessage, key: str, language: str = "de", **params: Any) -> bool:
    """Whether the message is the text of `key` (pieces in order; gaps may hold anything)."""
    position = 0
    pieces = said(key, language, **params)
    if not pieces:
        raise ValueError(f"{key} has no constant text to look for")
    for piece in pieces:
        found = message.text.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


async def expect(
    user: SimUser,
    key: str,
    language: str = "de",
    *,
    after: SimMessage | None = None,
    timeout: float = 5.0,
    **params: Any,
) -> SimMessage:
    """Wait until the person sees the text of `key`."""
    return await user.wait_for(lambda m: shows(m, key, language, **params), timeout, after=after)


@dataclass
class Person:
    user: SimUser
    member_id: int
    name: str

    @property
    def id(self) -> int:
        return self.user.id


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


async def seed_members(
    database_url: str,
    api: LocalBotApi,
    count: int,
    sector: str,
    region: str,
    *,
    prefix: str = "Mitglied",
    role: str = "member",
) -> list[Person]:
    """Many active members at once, stored directly (for fan-out stories); each has opened
    the chat with the bot before, as Telegram requires for the bot to write to them."""
    from bot.clock import SystemClock
    from storage.db import Database
    from storage.models import Member, MemberStatus
    from storage.uow import UnitOfWork

    users = [api.user(first_name=f"{prefix}{i}") for i in range(count)]
    for user in users:
        user.account.started = True
    database = Database(database_url)
    try:
        async with UnitOfWork(database, SystemClock()) as uow:
            now = uow.now()
            rows = [
                Member(
                    telegram_user_id=user.id,
                    chat_id=user.id,
                    display_name=f"{prefix} {i}",
                    institution="Testeinrichtung",
                    sector=sector,
                    region=region,
                    role=role,
                    status=MemberStatus.ACTIVE,
                    created_at=now,
                    status_changed_at=now,
                )
                for i, user in enumerate(users)
            ]
            uow.session.add_all(rows)
            await uow.session.flush()
            ids = [row.id for row in rows]
            await uow.commit()
    finally:
        await database.dispose()
    return [
        Person(user, member_id, f"{prefix} {i}")
        for i, (user, member_id) in enumerate(zip(users, ids, strict=True))
    ]


def alert_messages(user: SimUser, ref: str | None = None) -> list[SimMessage]:
    """The alert deliveries a person received (not notices about them)."""
    found = [m for m in user.messages if shows(m, "alert.body") or shows(m, "alert.body", "en")]
    return [m for m in found if ref is None or ref in m.text]


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
