"""The buttons the /find and /need dialogs offer: kinds and topics, regions, languages,
accessibility needs, numbers of people; each pressed button names its dialog step."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from handlers.common.callbacks import Button, Kind
from handlers.common.context import CoraContext
from handlers.common.dialogs import cancel_row, choice_rows
from handlers.common.render import keyboard, plain, rows_of
from handlers.offers.views import language_name

ANY = "any"
NONE = "none"


def seek(value: str, step: str) -> str:
    return Button(Kind.SEEK, value, step).encode()


def seek_cancel_row(context: CoraContext) -> list[tuple[str, str]]:
    return cancel_row(context, seek("draft", "cancel"))


def what_keyboard(context: CoraContext, step: str) -> InlineKeyboardMarkup:
    network = context.services.network
    kinds = [
        (k.label(context.language), seek(code, step)) for code, k in network.offer_kinds.items()
    ]
    topics = [(t.label(context.language), seek(code, step)) for code, t in network.topics.items()]
    return keyboard([*rows_of(kinds, 2), *rows_of(topics, 2), seek_cancel_row(context)])


def region_keyboard(context: CoraContext, step: str) -> InlineKeyboardMarkup:
    rows = choice_rows(context, context.services.network.regions, lambda code: seek(code, step))
    return keyboard([*rows, seek_cancel_row(context)])


async def language_keyboard(context: CoraContext, step: str) -> InlineKeyboardMarkup:
    """ "Any", then the languages the network's offers are given in."""
    codes = sorted({c for o in await context.services.offers.all_offers() for c in o.languages})
    buttons = [(language_name(c, context.language), seek(c, step)) for c in codes]
    first = [(plain(context, "button.any_language"), seek(ANY, step))]
    return keyboard([first, *rows_of(buttons, 3), seek_cancel_row(context)])


def access_keyboard(context: CoraContext) -> InlineKeyboardMarkup:
    """ "No need", then the network's accessibility needs."""
    rows = choice_rows(context, context.services.network.accessibility, lambda c: seek(c, "access"))
    first = [(plain(context, "button.no_need"), seek(NONE, "access"))]
    return keyboard([first, *rows, seek_cancel_row(context)])


def count_keyboard(context: CoraContext, up_to: int, step: str) -> InlineKeyboardMarkup:
    numbers = [(str(n), seek(str(n), step)) for n in range(0, up_to + 1)]
    return keyboard([numbers, seek_cancel_row(context)])
