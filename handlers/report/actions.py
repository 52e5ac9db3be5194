"""Telegram adapter for the network report: /report sends it as text, a CSV file and a heat map."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Chat, InputFile, Update
from telegram.constants import ChatAction

from bot.errors import DomainError
from bot.network import Network
from bot.report import Report, parse_period
from handlers.common.context import CoraContext
from handlers.common.render import HTML, chunk_lines, plain, send_html, tr, when
from handlers.report.views.picture import report_png, support_png
from handlers.report.views.table import report_csv, support_csv
from handlers.report.views.text import report_lines


@dataclass(frozen=True)
class _Part:
    """One part of the report sent as files: a CSV table and a heat map."""

    stem: str  # msgid of the files' name
    table: Callable[[Report, Network, str], str]
    table_caption: str
    picture: Callable[[Report, Network, str], bytes]
    picture_caption: str


_PARTS = (
    _Part("report.file_stem", report_csv, "report.csv_caption", report_png, "report.png_caption"),
    # The support system (offers, free places, needs) as a table and a heat map of its own.
    _Part(
        "report.support.file_stem",
        support_csv,
        "report.support.csv_caption",
        support_png,
        "report.support.png_caption",
    ),
)


async def report(update: Update, context: CoraContext) -> None:
    """`/report [period]`: `30d` (the default), `2026-10` or `2026-10-01..2026-10-31`."""
    args = context.args or []
    if len(args) > 1:
        raise DomainError("report.usage")
    services = context.services
    reports = services.reports
    since, until = parse_period(args[0] if args else None, services.clock.now(), reports.timezone)
    result = await reports.report(context.active_member.id, since, until, "telegram")
    generated = when(context, result.generated_at)
    for text in chunk_lines(report_lines(result, services.network, context.language, generated)):
        await send_html(update, text)
    chat = update.effective_chat
    assert chat is not None
    for part in _PARTS:
        await _send_part(chat, context, result, part)


async def _send_part(chat: Chat, context: CoraContext, result: Report, part: _Part) -> None:
    network, language = context.services.network, context.language
    stem = f"{plain(context, part.stem)}-{result.first_day}-{result.last_day}"
    # With a byte order mark, spreadsheet programs read the umlauts of the names correctly.
    table = ("\ufeff" + part.table(result, network, language)).encode("utf-8")
    await chat.send_document(
        InputFile(table, filename=f"{stem}.csv"),
        caption=tr(context, part.table_caption),
        parse_mode=HTML,
    )
    await chat.send_action(ChatAction.UPLOAD_PHOTO)
    # Drawing takes a moment; it must not hold up alerts on the event loop.
    picture = await asyncio.to_thread(part.picture, result, network, language)
    await _send_picture(chat, context, picture, f"{stem}.png", part.picture_caption)


async def _send_picture(
    chat: Chat, context: CoraContext, picture: bytes, filename: str, caption: str
) -> None:
    """A heat map as a photo to look at in the chat, then the same PNG as a file: Telegram
    recompresses photos, which blurs the small figures in the cells."""
    await chat.send_photo(
        InputFile(picture, filename=filename), caption=tr(context, caption), parse_mode=HTML
    )
    await chat.send_document(
        InputFile(picture, filename=filename),
        caption=tr(context, "report.png_file_caption"),
        parse_mode=HTML,
        disable_content_type_detection=True,
    )
