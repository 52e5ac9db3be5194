"""What every dialog and free text outside dialogs share: a hint instead of silence."""

from __future__ import annotations

from typing import TypeVar

from telegram import Update

from bot.errors import DomainError
from handlers.common.callbacks import Button, decode
from handlers.common.context import CoraContext
from handlers.common.render import say

T = TypeVar("T")


async def use_buttons(update: Update, context: CoraContext) -> None:
    """Text where a dialog waits for a button press: say so, and stay at the same step."""
    await say(update, context, "dialog.use_buttons")


async def unexpected_text(update: Update, context: CoraContext) -> None:
    """A member writes outside any dialog: point to /help rather than stay silent."""
    await say(update, context, "text.unexpected")


def current_draft(context: CoraContext, key: str, kind: type[T]) -> T:
    """The dialog's draft, kept in the person's `user_data` under `key`; gone (the bot was
    restarted, or the dialog ended) means the dialog expired."""
    found = context.user_data.get(key) if context.user_data is not None else None
    if not isinstance(found, kind):
        raise DomainError("dialog.expired")
    return found


def forget_draft(context: CoraContext, key: str) -> None:
    if context.user_data is not None:
        context.user_data.pop(key, None)


def pressed(data: str | None) -> Button:
    """A dialog step's button; anything else is refused as an invalid button."""
    button = decode(data)
    if button is None:
        raise DomainError("button.invalid")
    return button
