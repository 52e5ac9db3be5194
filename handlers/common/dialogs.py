"""What every dialog shares: one builder, one cancel, the draft, a hint instead of silence, and
the steps several dialogs take: a target, a region, an urgency, a checked text and its preview."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.channels import Target
from bot.errors import DomainError
from bot.network import Network, Place
from bot.personal_data import Finding
from handlers.channels.views import target_text
from handlers.common.callbacks import Button, decode
from handlers.common.context import CoraContext
from handlers.common.render import (
    findings_text,
    keyboard,
    plain,
    rows_of,
    say,
    send_html,
    tr,
)
from storage.models import Urgency

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


def _keys(draft_key: str | tuple[str, ...]) -> tuple[str, ...]:
    return (draft_key,) if isinstance(draft_key, str) else draft_key


def cancel(draft_key: str | tuple[str, ...], cancelled_key: str) -> Step:
    """`/cancel` or the dialog's cancel button: the draft is dropped, nothing was stored."""
    keys = _keys(draft_key)

    async def cancel_dialog(update: Update, context: CoraContext) -> int:
        for key in keys:
            forget_draft(context, key)
        if update.callback_query:
            await settle(update.callback_query)
        await say(update, context, cancelled_key)
        return ConversationHandler.END

    return cancel_dialog


# The draft keys of every dialog by its command, to end one when another starts.
_DRAFTS: dict[str, tuple[str, ...]] = {}


async def end_other_dialogs(update: Update, context: CoraContext, starting: str) -> None:
    """A dialog starts: the person's other open dialog ends, its draft is dropped (nothing of
    it was stored), and a short note says so. Two dialogs never wait for the same text."""
    for group in context.application.handlers.values():
        for handler in group:
            if not isinstance(handler, ConversationHandler) or handler.name == starting:
                continue
            drafts = _DRAFTS.get(handler.name or "")
            if drafts is None:
                continue
            # PTB ends a conversation by deleting its key, and offers no call to do so from
            # outside the conversation; this is the same step.
            if handler._conversations.pop(handler._get_key(update), None) is None:
                continue
            for key in drafts:
                forget_draft(context, key)
            name = plain(context, f"dialog.name.{handler.name}")
            await say(update, context, "dialog.ended_by_other", dialog=name)


def dialog(
    command: str,
    entry: Step,
    states: StateHandlers,
    *,
    draft_key: str | tuple[str, ...],
    cancel_button: str,
    cancelled_key: str,
) -> BaseHandler[Update, CoraContext, object]:
    """A conversation started by `/command`: `/cancel` or the button whose callback data
    matches `cancel_button` ends it; text where a button is expected gets a hint. Starting it
    ends any other dialog the person has open (see `end_other_dialogs`)."""
    stop = cancel(draft_key, cancelled_key)
    _DRAFTS[command] = _keys(draft_key)

    async def start(update: Update, context: CoraContext) -> object:
        await end_other_dialogs(update, context, command)
        return await entry(update, context)

    start.__doc__ = entry.__doc__
    # Dialogs mix buttons and typed text, so they are tracked per chat, not per message; PTB
    # warns about exactly that combination.
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    return ConversationHandler(
        entry_points=[CommandHandler(command, start)],
        states={state: list(handlers) for state, handlers in states.items()},
        fallbacks=[
            CommandHandler("cancel", stop),
            CallbackQueryHandler(stop, pattern=cancel_button),
            MessageHandler(TYPED, use_buttons),
        ],
        allow_reentry=True,
        name=command,
    )


# -- steps several dialogs take ----------------------------------------------------------------


async def settle(query: CallbackQuery) -> None:
    """A dialog button was pressed: acknowledge it and take the buttons away."""
    await query.answer()
    await query.edit_message_reply_markup(None)


def cancel_row(context: CoraContext, data: str) -> list[tuple[str, str]]:
    return [(plain(context, "button.cancel"), data)]


def choice_rows(
    context: CoraContext, choices: Mapping[str, Any], data: Callable[[str], str], width: int = 2
) -> list[list[tuple[str, str]]]:
    """Buttons for places, kinds or topics of the network (anything with a `label`)."""
    return rows_of([(c.label(context.language), data(code)) for code, c in choices.items()], width)


def urgency_row(context: CoraContext, data: Callable[[str], str]) -> list[tuple[str, str]]:
    return [
        (plain(context, f"urgency.{urgency}.button"), data(urgency))
        for urgency in (Urgency.URGENT, Urgency.NORMAL)
    ]


def chosen_urgency(raw: str) -> str:
    if raw not in (Urgency.URGENT, Urgency.NORMAL):
        raise DomainError("button.invalid")
    return raw


_TICKED = "target_choice"


@dataclass
class TargetChoice:
    """Sectors and regions ticked on a target keyboard, until "Fertig" is pressed."""

    sectors: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)

    def typed(self, network: Network) -> str:
        """The choice as it would be typed: `police,youth_welfare@HRO`."""
        sectors = ",".join(c for c in network.sectors if c in self.sectors)
        regions = ",".join(c for c in network.regions if c in self.regions)
        return "@".join(part for part in (sectors, regions) if part)


async def target_keyboard(
    context: CoraContext, data: Callable[[str], str], cancel: str
) -> InlineKeyboardMarkup:
    """Everyone, a topical channel the member may address, or sectors and regions to tick
    (several, then "Fertig")."""
    choice = TargetChoice()
    if context.user_data is not None:
        context.user_data[_TICKED] = choice
    return await _target_markup(context, data, cancel, choice)


async def _target_markup(
    context: CoraContext, data: Callable[[str], str], cancel: str, choice: TargetChoice
) -> InlineKeyboardMarkup:
    network = context.services.network
    channels = await context.services.channels.list_for(context.active_member.id)
    buttons = [(plain(context, "announce.everyone"), data("all"))]
    buttons += [(f"#{c.name}", data(f"c{c.id}")) for c in channels.topical]

    def ticks(places: Mapping[str, Place], chosen: set[str], prefix: str) -> list[Any]:
        return rows_of(
            [
                (_ticked(context, place, place.code in chosen), data(f"{prefix}{index}"))
                for index, place in enumerate(places.values())
            ],
            2,
        )

    return keyboard(
        [
            *rows_of(buttons, 2),
            *ticks(network.sectors, choice.sectors, "s"),
            *ticks(network.regions, choice.regions, "r"),
            [(plain(context, "target.button.done"), data("done"))],
            cancel_row(context, cancel),
        ]
    )


def _ticked(context: CoraContext, place: Place, ticked: bool) -> str:
    label = place.label(context.language)
    return plain(context, "target.button.ticked", label=label) if ticked else label


async def target_pressed(
    update: Update, context: CoraContext, data: Callable[[str], str], cancel: str
) -> str | None:
    """A target button, as it would be typed: everyone or a channel at once; a sector or a
    region is ticked or unticked (None: the keyboard shows it, the step waits); "Fertig"
    takes what is ticked."""
    query = update.callback_query
    assert query is not None
    button = pressed(query.data)
    if button.id == "all" or button.id[:1] == "c":
        return "all" if button.id == "all" else f"#{button.id[1:]}"
    choice = current_draft(context, _TICKED, TargetChoice)
    network = context.services.network
    if button.id == "done":
        if not (choice.sectors or choice.regions):
            raise DomainError("target.nothing_chosen")
        forget_draft(context, _TICKED)
        return choice.typed(network)
    places, chosen = {
        "s": (network.sectors, choice.sectors),
        "r": (network.regions, choice.regions),
    }.get(button.id[:1], ({}, set()))
    index = button.id[1:]
    if not index.isdecimal() or int(index) >= len(places):
        raise DomainError("button.invalid")
    chosen ^= {list(places)[int(index)]}
    await query.answer()
    await query.edit_message_reply_markup(await _target_markup(context, data, cancel, choice))
    return None


async def take_target(update: Update, context: CoraContext, raw: str) -> Target:
    """The target as typed or pressed, within what the member may address; said back."""
    if update.callback_query:
        await settle(update.callback_query)
    services = context.services
    target = await services.channels.parse_target(context.active_member.id, raw)
    view = await services.channels.describe(target)
    shown = target_text(services.network, view, context.language)
    await say(update, context, "announce.chosen_target", target=shown)
    return target


async def refused(update: Update, context: CoraContext, findings: Sequence[Finding]) -> bool:
    """Identifying data in a text: say what was found and refuse it."""
    if not any(finding.blocking for finding in findings):
        return False
    shown = findings_text(context.language, findings)
    await say(update, context, "alert.findings_blocking", findings=shown)
    return True


async def send_preview(
    update: Update,
    context: CoraContext,
    preview: str,
    findings: Sequence[Finding],
    *,
    send: str,
    cancel: str,
) -> None:
    """The preview, with the doubtful finds to confirm, and "send (anyway)" and "cancel"."""
    if findings:
        shown = findings_text(context.language, findings)
        preview += "\n\n" + tr(context, "alert.findings_confirm", findings=shown)
    label = plain(context, "button.send_anyway" if findings else "button.send")
    buttons = [[(label, send), *cancel_row(context, cancel)]]
    await send_html(update, preview, markup=keyboard(buttons))
