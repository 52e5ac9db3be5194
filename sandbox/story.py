"""People in stories, shared by the tests, the benchmarks and the sandbox: what a person sees
for a catalogue text, waiting for it, and many members at once."""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot import i18n
from bot.clock import SystemClock
from localapi.chats import SimMessage
from localapi.people import SimUser
from localapi.server import LocalBotApi
from localapi.text import parse
from storage.db import Database
from storage.models import Member, MemberStatus
from storage.uow import UnitOfWork

_GAP = "\x00"


def said(key: str, language: str = "de", **params: Any) -> list[str]:
    """The plain-text pieces a person sees for `key`; placeholders not given are gaps."""
    template = i18n.template(language, key, params)
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
    timeout: float = 5.0,  # noqa: ASYNC109 (the wait belongs to the story step)
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


async def add_members(
    url: str,
    telegram_ids: Sequence[int],
    sector: str,
    region: str,
    *,
    prefix: str,
    role: str = "member",
    institution: str = "Beispieleinrichtung",
    first_number: int = 1,
) -> list[int]:
    """Active members with invented names ("<prefix> <number>"), each chatting under their
    Telegram id, stored directly: the one factory for many members at once."""
    database = Database(url)
    try:
        async with UnitOfWork(database, SystemClock()) as uow:
            now = uow.now()
            rows = [
                Member(
                    telegram_user_id=telegram_id,
                    chat_id=telegram_id,
                    display_name=f"{prefix} {number}",
                    institution=institution,
                    sector=sector,
                    region=region,
                    role=role,
                    status=MemberStatus.ACTIVE,
                    created_at=now,
                    status_changed_at=now,
                )
                for number, telegram_id in enumerate(telegram_ids, start=first_number)
            ]
            uow.session.add_all(rows)
            await uow.session.flush()
            ids = [row.id for row in rows]
            await uow.commit()
    finally:
        await database.dispose()
    return ids


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
    """Many active members at once (for fan-out stories); each has opened the chat with the bot
    before, as Telegram requires for the bot to write to them."""
    users = [api.user(first_name=f"{prefix}{i}") for i in range(count)]
    for user in users:
        user.account.started = True
    ids = await add_members(
        database_url,
        [user.id for user in users],
        sector,
        region,
        prefix=prefix,
        role=role,
        institution="Testeinrichtung",
        first_number=0,
    )
    return [
        Person(user, member_id, f"{prefix} {i}")
        for i, (user, member_id) in enumerate(zip(users, ids, strict=True))
    ]
