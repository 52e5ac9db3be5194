"""What every dialog and free text outside dialogs share: a hint instead of silence."""

from __future__ import annotations

from telegram import Update

from handlers.context import CoraContext
from handlers.render import say


async def use_buttons(update: Update, context: CoraContext) -> None:
    """Text where a dialog waits for a button press: say so, and stay at the same step."""
    await say(update, context, "dialog.use_buttons")


async def unexpected_text(update: Update, context: CoraContext) -> None:
    """A member writes outside any dialog: point to /help rather than stay silent."""
    await say(update, context, "text.unexpected")
