"""What a button dialog keeps about itself, written once: where its draft lives, and how its
cancel and target buttons are encoded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from telegram import CallbackQuery, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, ConversationHandler

from bot.personal_data import Finding
from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.dialogs import (
    StateHandlers,
    Step,
    cancel_row,
    current_draft,
    dialog,
    forget_draft,
    send_preview,
)

D = TypeVar("D")


@dataclass(frozen=True)
class Form(Generic[D]):
    """A dialog's draft (of type `draft_type`, kept under `key`) and its buttons: cancel is
    `<kind>:<name>:cancel`, a target button `form:<value>:<target_action>`."""

    key: str
    draft_type: type[D]
    name: str
    target_action: str = ""
    kind: Kind = Kind.FORM

    def draft(self, context: CoraContext) -> D:
        return current_draft(context, self.key, self.draft_type)

    def pressed(self, update: Update, context: CoraContext) -> tuple[CallbackQuery, D]:
        """A button step's query, and the draft it works on."""
        query = update.callback_query
        assert query is not None
        return query, self.draft(context)

    def forget(self, context: CoraContext) -> None:
        forget_draft(context, self.key)

    @property
    def cancel(self) -> str:
        return Button(self.kind, self.name, "cancel").encode()

    @property
    def send(self) -> str:
        return Button(self.kind, self.name, "send").encode()

    def cancel_row(self, context: CoraContext) -> list[tuple[str, str]]:
        return cancel_row(context, self.cancel)

    def target_data(self, value: str) -> str:
        return Button(Kind.FORM, value, self.target_action).encode()

    def on(self, step: Step, pattern: str) -> CallbackQueryHandler[CoraContext, Any]:
        """A button step: presses of this dialog's kind whose `<id>:<action>` match `pattern`."""
        return CallbackQueryHandler(step, pattern=f"^{self.kind}:{pattern}$")

    def dialog(
        self, command: str, entry: Step, states: StateHandlers, *, cancelled_key: str
    ) -> BaseHandler[Update, CoraContext, object]:
        """The conversation (see `dialogs.dialog`): its cancel button ends it, forgetting the
        draft."""
        return dialog(
            command,
            entry,
            states,
            draft_key=self.key,
            cancel_button=f"^{self.kind}:{self.name}:cancel$",
            cancelled_key=cancelled_key,
        )


class TextDraft(Protocol):
    text: str | None
    needs_confirmation: bool


T = TypeVar("T", bound=TextDraft)


@dataclass(frozen=True)
class TextStep(Generic[T]):
    """A checked text (not refused) goes on: sent at once when asked to and nothing doubtful was
    found; otherwise the preview, with the doubtful finds to confirm (state `previewing`)."""

    form: Form[T]
    send: Callable[[Update, CoraContext, T], Awaitable[object]]
    preview: Callable[[CoraContext, T], Awaitable[str]]
    previewing: int

    async def take(
        self,
        update: Update,
        context: CoraContext,
        draft: T,
        text: str,
        findings: Sequence[Finding],
        send_when_clean: bool,
    ) -> int:
        draft.text = text.strip()
        draft.needs_confirmation = bool(findings)
        if send_when_clean and not findings:
            await self.send(update, context, draft)
            return ConversationHandler.END
        shown = await self.preview(context, draft)
        form = self.form
        await send_preview(update, context, shown, findings, send=form.send, cancel=form.cancel)
        return self.previewing
