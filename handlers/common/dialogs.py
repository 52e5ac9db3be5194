"""What every dialog shares: one builder, one cancel, the draft, a hint instead of silence."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

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


Step = Callable[[Update, CoraContext], Coroutine[Any, Any, Any]]
StateHandlers = Mapping[int, Sequence[BaseHandler[Update, CoraContext, Any]]]
TYPED = filters.TEXT & ~filters.COMMAND


def cancel(draft_key: str, cancelled_key: str) -> Step:
    """`/cancel` or the dialog's cancel button: the draft is dropped, nothing was stored."""

    async def cancel_dialog(update: Update, context: CoraContext) -> int:
        forget_draft(context, draft_key)
        if update.callback_query:
            await update.callback_query.answer()
            await update.callback_query.edit_message_reply_markup(None)
        await say(update, context, cancelled_key)
        return ConversationHandler.END

    return cancel_dialog


def dialog(
    command: str,
    entry: Step,
    states: StateHandlers,
    *,
    draft_key: str,
    cancel_button: str,
    cancelled_key: str,
) -> BaseHandler[Update, CoraContext, object]:
    """A conversation started by `/command`: `/cancel` or the button whose callback data
    matches `cancel_button` ends it; text where a button is expected gets a hint."""
    stop = cancel(draft_key, cancelled_key)
    # Dialogs mix buttons and typed text, so they are tracked per chat, not per message; PTB
    # warns about exactly that combination.
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    return ConversationHandler(
        entry_points=[CommandHandler(command, entry)],
        states={state: list(handlers) for state, handlers in states.items()},
        fallbacks=[
            CommandHandler("cancel", stop),
            CallbackQueryHandler(stop, pattern=cancel_button),
            MessageHandler(TYPED, use_buttons),
        ],
        allow_reentry=True,
        name=command,
    )
