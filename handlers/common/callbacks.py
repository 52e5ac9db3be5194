"""The one callback-data scheme, `<kind>:<id>:<action>`, and its router."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from telegram import CallbackQuery, Update

from bot.errors import DomainError
from handlers.common.context import CoraContext
from handlers.common.render import plain

log = logging.getLogger(__name__)

_PART = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
MAX_BYTES = 64


class Kind(StrEnum):
    """Who handles a button. One letter keeps callback data short."""

    JOIN = "j"  # sector/region choice while requesting access
    LANGUAGE = "l"
    MEMBER = "m"  # a coordinator's decision on a member
    DRAFT = "d"  # steps of a dialog (alert, follow-up confirmation)
    ALERT = "a"  # acknowledge, take over or close an alert
    ERASE = "x"  # confirm erasing personal data (/leave, /erase)
    CHANNEL = "c"  # join or leave a topical channel
    ANNOUNCEMENT = "n"  # read confirmation, reminders, cancelling a scheduled one
    POLL = "p"  # answers, closing and the final decision of a poll
    FORM = "f"  # steps of the announcement and poll dialogs
    REGION = "r"  # a coordinator confirms or declines a member's further region
    INVITE = "i"  # a coordinator withdraws one of their invitation links
    OFFER = "o"  # a maintainer's +1 / −1 for an offer's free places
    NEED = "b"  # "Wir können" / "Wir können nicht" on a need (Bedarf), closing one as unmet
    SEEK = "s"  # steps of the /need and /find dialogs


# Kinds a person may press before being verified; everything else needs an active member.
UNVERIFIED_KINDS = frozenset({Kind.JOIN, Kind.LANGUAGE})
# Rights over one's own data, open to everyone the bot knows (the service checks who acts).
SELF_SERVICE_KINDS = frozenset({Kind.ERASE})


@dataclass(frozen=True)
class Button:
    kind: Kind
    id: str
    action: str

    def encode(self) -> str:
        data = f"{self.kind}:{self.id}:{self.action}"
        if len(data.encode()) > MAX_BYTES or not (
            _PART.match(self.id) and _PART.match(self.action)
        ):
            raise ValueError(f"callback data out of scheme: {data!r}")
        return data

    def number(self, *actions: str) -> int:
        """The id of a button that names a record by number, for one of these actions; any
        other button gets the polite refusal."""
        if self.action not in actions or not self.id.isdecimal() or len(self.id) > 12:
            raise DomainError("button.invalid")
        return int(self.id)


def pressed(update: Update) -> CallbackQuery:
    """The callback query of a button press."""
    query = update.callback_query
    assert query is not None
    return query


def decode(data: str | None) -> Button | None:
    """Parse callback data; anything outside the scheme (forged, stale, garbage) gives None."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) != 3 or not (_PART.match(parts[1]) and _PART.match(parts[2])):
        return None
    try:
        kind = Kind(parts[0])
    except ValueError:
        return None
    return Button(kind, parts[1], parts[2])


ButtonHandler = Callable[[Update, CoraContext, Button], Awaitable[None]]


class ButtonRouter:
    """Maps a button kind to the feature handler that owns it."""

    def __init__(self) -> None:
        self._routes: dict[Kind, ButtonHandler] = {}

    def add(self, kind: Kind, handler: ButtonHandler) -> None:
        if kind in self._routes:
            raise ValueError(f"button kind {kind} routed twice")
        self._routes[kind] = handler

    async def route(self, update: Update, context: CoraContext) -> None:
        """Dispatch a callback query to its feature; unknown data only gets an explanation."""
        query = pressed(update)
        button = decode(query.data)
        handler = self._routes.get(button.kind) if button else None
        if button is None or handler is None:
            log.info("refused callback outside the scheme")
            await query.answer(plain(context, "button.invalid"), show_alert=True)
            return
        await handler(update, context, button)
