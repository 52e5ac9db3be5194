"""How announcements look: the delivery and the sender's live read status."""

from __future__ import annotations

from functools import partial

from telegram import InlineKeyboardMarkup

from bot import i18n
from bot.announcements import AnnouncementNotice, ReadStatus
from bot.delivery import Job
from bot.i18n import Markup
from bot.keys import UnreadableText
from bot.membership import MemberView
from bot.network import Network
from bot.timing.dates import trace_time
from handlers.channels.views import target_text
from handlers.common.callbacks import Button, Kind
from handlers.common.context import Services
from handlers.common.render import (
    keyboard,
    local_time,
    member_text,
)
from handlers.transport.live import LiveMessage, owned_message
from handlers.transport.outbox import RenderCache, Rendered
from storage.models import AnnouncementStatus

EXCERPT = 300


def _names(people: tuple[MemberView, ...]) -> str:
    return ", ".join(m.display_name or f"#{m.id}" for m in people)


def readers_line(language: str, status: ReadStatus) -> str:
    return i18n.html_text(
        language,
        "announcement.readers",
        id=status.announcement.id,
        read=_names(status.read) or "–",
        unread=_names(status.unread) or "–",
    )


async def render_announcement(job: Job, cache: RenderCache) -> Rendered:
    """The announcement, or a reminder to confirm it."""
    assert job.subject_id is not None
    language = cache.language(job)
    announcement = await cache.announcement(job.subject_id)
    try:
        text = await cache.announcement_text(job.subject_id)
    except UnreadableText:
        text = i18n.text(language, "text.unreadable")
    services = cache.services
    header = "announcement.header"
    if job.kind == AnnouncementNotice.REMINDER:
        header = "announcement.header.reminder"
    body = i18n.html_text(
        language,
        "announcement.body",
        header=Markup(i18n.html_text(language, header, id=announcement.id)),
        sender=member_text(services.network, announcement.sender, language),
        target=target_text(services.network, announcement.target, language),
        time=local_time(
            announcement.sent_at or announcement.send_at, services.settings.cora_timezone, language
        ),
        text=text if text is not None else i18n.text(language, "alert.text_removed"),
    )
    markup = None
    if announcement.read_confirmation:
        read = Button(Kind.ANNOUNCEMENT, str(announcement.id), "read").encode()
        markup = keyboard([[(i18n.text(language, "button.read"), read)]])
    return Rendered(body, markup)


def render_read_status(
    status: ReadStatus, language: str, network: Network, timezone: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The sender's live status of a sent announcement."""
    announcement = status.announcement
    lines = [
        i18n.html_text(
            language,
            "announcement.status.head",
            id=announcement.id,
            target=target_text(network, announcement.target, language),
            time=local_time(announcement.sent_at or announcement.send_at, timezone, language),
        ),
        i18n.html_text(
            language, "status.delivered", delivered=status.delivered, recipients=status.recipients
        ),
    ]
    if status.failed:
        lines.append(i18n.html_text(language, "status.failed", count=status.failed))
    if not announcement.read_confirmation:
        return "\n".join(lines), None
    read = i18n.html_text(
        language, "announcement.status.read", read=len(status.read), recipients=status.recipients
    )
    return "\n".join([*lines, read]), _read_buttons(status, language)


def _read_buttons(status: ReadStatus, language: str) -> InlineKeyboardMarkup:
    """Who has read it, and while some have not, a reminder to them."""
    announcement_id = str(status.announcement.id)
    who = Button(Kind.ANNOUNCEMENT, announcement_id, "who").encode()
    row = [(i18n.text(language, "button.who_read"), who)]
    if status.unread:
        remind = Button(Kind.ANNOUNCEMENT, announcement_id, "remind").encode()
        row.append((i18n.text(language, "button.remind", count=len(status.unread)), remind))
    return keyboard([row])


async def live_status(services: Services, announcement_id: int) -> list[LiveMessage]:
    """The sender's status message of a sent announcement, for the live board."""
    status = await services.announcements.read_status(announcement_id)
    announcement = status.announcement
    if announcement.status != AnnouncementStatus.SENT:
        return []
    network, timezone = services.network, services.settings.cora_timezone
    return owned_message(
        announcement.sender,
        (announcement.status_chat_id, announcement.status_message_id),
        lambda language: render_read_status(status, language, network, timezone),
        partial(services.announcements.set_status_message, announcement_id),
        default_language=services.settings.cora_default_language,
    )


async def live_copies(
    services: Services, announcement_id: int, member_id: int
) -> list[LiveMessage]:
    """A member's own copies of an announcement: once they confirmed reading it, with
    "✓ Gelesen 10:44" instead of the button."""
    copies, read_at = await services.announcements.copies(announcement_id, member_id)
    if read_at is None or not copies:
        return []
    cache = RenderCache(services)
    announcement = await cache.announcement(announcement_id)
    messages = []
    for copy in copies:
        language = cache.language(copy.job)
        rendered = await render_announcement(copy.job, cache)
        at = trace_time(
            read_at,
            services.settings.cora_timezone,
            language,
            day_of=announcement.sent_at or announcement.send_at,
        )
        text = f"{rendered.text}\n\n{i18n.html_text(language, 'trace.read', time=at)}"
        messages.append(LiveMessage(copy.reader, copy.chat_id, copy.message_id, text))
    return messages
