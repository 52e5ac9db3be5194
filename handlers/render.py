"""Turning results into the person's language: texts, labels and sending helpers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot import i18n
from bot.i18n import Markup
from bot.membership import MemberView
from handlers.context import CoraContext

MESSAGE_LIMIT = 4096


def tr(context: CoraContext, key: str, **params: object) -> str:
    """HTML text in the person's language; parameters are escaped."""
    return i18n.html_text(context.language, key, **params)


def plain(context: CoraContext, key: str, **params: object) -> str:
    """Text without markup, e.g. for callback answers."""
    return i18n.text(context.language, key, **params)


def sector_label(context: CoraContext, code: str | None, language: str | None = None) -> str:
    place = context.services.network.sectors.get(code or "")
    return place.label(language or context.language) if place else (code or "–")


def region_label(context: CoraContext, code: str | None, language: str | None = None) -> str:
    place = context.services.network.regions.get(code or "")
    return place.label(language or context.language) if place else (code or "–")


def member_line(context: CoraContext, member: MemberView, language: str | None = None) -> Markup:
    """`#12 Name (Institution) – Sector, Region` for lists and notifications."""
    language = language or context.language
    return Markup(
        i18n.html_text(
            language,
            "member.line",
            id=member.id,
            name=member.display_name or "–",
            institution=member.institution or "–",
            sector=sector_label(context, member.sector, language),
            region=member.region or "–",
        )
    )


def keyboard(rows: Iterable[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Inline keyboard from rows of (label, callback data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def chunk_lines(lines: Sequence[str], header: str = "") -> list[str]:
    """Join lines into as few messages as Telegram's length limit allows."""
    messages: list[str] = []
    current = header
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MESSAGE_LIMIT and current:
            messages.append(current)
            current = line
        else:
            current = candidate
    if current:
        messages.append(current)
    return messages


async def say(
    update: Update,
    context: CoraContext,
    key: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **params: object,
) -> Message:
    """Send a translated text into the chat of the update."""
    return await send_html(update, tr(context, key, **params), markup=markup)


async def send_html(
    update: Update, html: str, *, markup: InlineKeyboardMarkup | None = None
) -> Message:
    chat = update.effective_chat
    assert chat is not None
    return await chat.send_message(html, reply_markup=markup)
