"""Turning results into the person's language: texts, labels, times and sending helpers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Sized
from datetime import date, datetime

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode

from bot import i18n
from bot.i18n import Markup
from bot.membership import MemberView
from bot.network import Network
from bot.personal_data import Finding
from bot.timing.dates import local_text
from handlers.common.context import CoraContext

MESSAGE_LIMIT = 4096
# Every text the bot writes is Telegram HTML with escaped parameters (see bot.i18n); it is
# passed explicitly, because PTB's Defaults would add parse_mode to methods that have none.
HTML = ParseMode.HTML
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def tr(context: CoraContext, key: str, **params: object) -> str:
    """HTML text in the person's language; parameters are escaped."""
    return i18n.html_text(context.language, key, **params)


def plain(context: CoraContext, key: str, **params: object) -> str:
    """Text without markup, e.g. for callback answers."""
    return i18n.text(context.language, key, **params)


# -- labels that need only the network and a language (also used for deliveries) ----------


def sector_name(network: Network, code: str | None, language: str) -> str:
    place = network.sectors.get(code or "")
    return place.label(language) if place else (code or "–")


def region_name(network: Network, code: str | None, language: str) -> str:
    place = network.regions.get(code or "")
    return place.label(language) if place else (code or "–")


def sectors_text(network: Network, codes: Iterable[str], language: str) -> str:
    codes = list(codes)
    if len(codes) == len(network.sectors) and set(codes) == set(network.sectors):
        return i18n.text(language, "sectors.all")
    return ", ".join(sector_name(network, code, language) for code in codes)


def member_text(network: Network, member: MemberView, language: str) -> Markup:
    """`#12 Name (Institution) – Sector, Region` for lists and notifications; someone who left
    appears only under their number."""
    former = member.status == "left"
    return Markup(
        i18n.html_text(
            language,
            "member.line",
            id=member.id,
            name=i18n.text(language, "member.former") if former else member.display_name or "–",
            institution=member.institution or "–",
            sector=sector_name(network, member.sector, language),
            region=member.region or "–",
        )
    )


def local_time(moment: datetime, timezone: str, language: str) -> str:
    """A point in time in the network's time zone, written the way the reader expects."""
    return local_text(moment, timezone, language)


# -- the same, in the language of the person behind an update ------------------------------


def sector_label(context: CoraContext, code: str | None, language: str | None = None) -> str:
    return sector_name(context.services.network, code, language or context.language)


def region_label(context: CoraContext, code: str | None, language: str | None = None) -> str:
    return region_name(context.services.network, code, language or context.language)


def member_line(context: CoraContext, member: MemberView, language: str | None = None) -> Markup:
    return member_text(context.services.network, member, language or context.language)


def day_text(day: date, language: str) -> str:
    """A calendar day the way the reader writes it: 10.12.2026 or 2026-12-10."""
    return day.strftime("%d.%m.%Y") if language == "de" else day.isoformat()


def when(context: CoraContext, moment: datetime) -> str:
    return local_time(moment, context.services.settings.cora_timezone, context.language)


# -- keyboards and sending -------------------------------------------------------------------


def keyboard(rows: Iterable[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Inline keyboard from rows of (label, callback data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def rows_of(buttons: Sequence[tuple[str, str]], width: int) -> list[list[tuple[str, str]]]:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


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


async def say_count(update: Update, context: CoraContext, topic: str, items: Sized) -> bool:
    """A list's heading: `<topic>.header` with the count, or `<topic>.none` when it is empty
    (then False: nothing to list)."""
    if not items:
        await say(update, context, f"{topic}.none")
        return False
    await say(update, context, f"{topic}.header", count=len(items))
    return True


async def send_html(
    update: Update, html: str, *, markup: InlineKeyboardMarkup | None = None
) -> Message:
    chat = update.effective_chat
    assert chat is not None
    return await chat.send_message(
        html, parse_mode=HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
    )


async def edit_html(
    query: CallbackQuery, html: str, *, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the text of the message a button was pressed on."""
    await query.edit_message_text(
        html, parse_mode=HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
    )


# -- personal-data findings ------------------------------------------------------------------


def findings_text(language: str, findings: Sequence[Finding]) -> Markup:
    """One line per finding: its kind, the excerpt, and a pseudonymous form to use instead."""
    lines = [
        i18n.html_text(
            language,
            "personal_data.finding",
            kind=i18n.text(language, f"personal_data.{f.kind}"),
            excerpt=f.excerpt,
            instead=_instead(language, f),
        )
        for f in findings
    ]
    return Markup("\n".join(lines))


def _instead(language: str, finding: Finding) -> str:
    suggestion = finding.suggestion
    if suggestion is None:
        return i18n.text(language, f"personal_data.advice.{finding.kind}")
    if suggestion.key == "child":
        return i18n.text(language, "personal_data.instead_child", age=suggestion.value)
    return i18n.text(language, "personal_data.instead", form=suggestion.value)
