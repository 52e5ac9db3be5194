"""The check every text written for the network passes (alerts, announcements): not empty, not
too long for one Telegram message, and what looks like personal data found."""

from __future__ import annotations

from collections.abc import Collection

from bot.errors import DomainError
from bot.personal_data import Finding, find_personal_data

MAX_TEXT = 3500  # leaves room for the header within Telegram's 4096 characters


def check_message(topic: str, text: str, places: Collection[str] = ()) -> list[Finding]:
    """Refuse empty or over-long texts (`<topic>.text_empty`, `<topic>.text_too_long`); return
    what looks like personal data. `places` are the network's place names
    (`Network.place_names`)."""
    stripped = text.strip()
    if not stripped:
        raise DomainError(f"{topic}.text_empty")
    if len(stripped) > MAX_TEXT:
        raise DomainError(f"{topic}.text_too_long", max=MAX_TEXT, length=len(stripped))
    return find_personal_data(stripped, places)
