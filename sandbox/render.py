"""The sandbox page as server-rendered HTML: every value is escaped, and the bot's messages are
rebuilt from their entities with a short list of allowed tags, never from their HTML."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from bot import i18n
from localapi.chats import SimMessage
from localapi.html import render_entities
from localapi.people import SimUser
from localapi.utf16 import utf16_len, utf16_slice

JsonDict = dict[str, Any]

_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_PLAIN_TAGS = {
    "bold": ("<strong>", "</strong>"),
    "italic": ("<em>", "</em>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote>", "</blockquote>"),
}


class Html(str):
    """A string that is already safe HTML."""

    __slots__ = ()


def h(template: str, /, **values: object) -> Html:
    """Fill a template; values are escaped unless they are `Html` already."""
    return Html(
        template.format(
            **{
                name: value if isinstance(value, Html) else escape(str(value), quote=True)
                for name, value in values.items()
            }
        )
    )


def join(parts: Iterable[Html], separator: str = "") -> Html:
    return Html(separator.join(parts))


def safe_url(url: str) -> bool:
    """Only plain web links are followed from the page (no javascript:, data:, tg:)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and url.isprintable()


def start_token(url: str, bot_username: str) -> str | None:
    """The token of an invitation link to the sandbox's own bot (t.me/<bot>?start=<token>)."""
    parts = urlsplit(url)
    if parts.netloc != "t.me" or parts.path.strip("/").lower() != bot_username.lower():
        return None
    tokens = parse_qs(parts.query).get("start")
    return tokens[0] if tokens and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tokens[0]) else None


def _links(text: str, entities: Sequence[JsonDict]) -> list[JsonDict]:
    """Telegram clients make plain URLs clickable; so does the page (outside other links)."""
    taken = [(e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] == "text_link"]
    found = []
    for match in _URL.finditer(text):
        offset = utf16_len(text[: match.start()])
        length = utf16_len(match.group(0))
        if not any(start < offset + length and offset < end for start, end in taken):
            found.append({"type": "url", "offset": offset, "length": length})
    return found


def _tags(text: str, entity: JsonDict) -> tuple[str, str] | None:
    kind = entity["type"]
    if kind in _PLAIN_TAGS:
        return _PLAIN_TAGS[kind]
    if kind in ("url", "text_link"):
        url = entity.get("url") or utf16_slice(text, entity["offset"], entity["length"])
        if safe_url(url):
            opening = h('<a href="{url}" rel="noopener noreferrer" target="_blank">', url=url)
            return opening, "</a>"
    return None


def message_text(text: str, entities: Sequence[JsonDict]) -> Html:
    """A message's text as HTML from its entities; characters are always escaped, and entities
    that cross each other are closed and reopened so that the tags nest."""
    all_entities = [*entities, *_links(text, entities)]
    return Html(render_entities(text, all_entities, lambda e: _tags(text, e), quote=True))


@dataclass(frozen=True)
class View:
    """What every fragment of the page needs to know."""

    language: str
    timezone: ZoneInfo
    bot_username: str

    def t(self, key: str, /, **params: object) -> str:
        return i18n.text(self.language, key, **params)


@dataclass(frozen=True)
class Profile:
    """A person as the page introduces them."""

    user_id: int
    name: str
    details: str  # sector, region and role, or that they are not a member (yet)


def _size(size: int | None) -> str:
    if size is None:
        return ""
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} B"


def _attachments(view: View, message: SimMessage) -> Html:
    parts: list[Html] = []
    if message.photo_file is not None:
        # Telegram opens a picture full size on a click; so does the page (a new tab).
        parts.append(
            h(
                '<a class="photo-link" href="/sandbox/files/{id}" target="_blank"'
                ' rel="noopener noreferrer" title="{larger}">'
                '<img class="photo" src="/sandbox/files/{id}" alt="{alt}"></a>',
                id=message.photo_file.file_unique_id,
                alt=view.t("sandbox.photo"),
                larger=view.t("sandbox.photo_larger"),
            )
        )
    if message.document is not None:
        document = message.document
        parts.append(
            h(
                '<p class="file">📎 <a href="/sandbox/files/{id}" download="{name}">{name}</a>'
                " <span>{size}</span></p>",
                id=document.file_unique_id,
                name=document.file_name or "file",
                size=_size(document.size),
            )
        )
    if message.poll is not None:
        options = join(h("<li>{option}</li>", option=o) for o in message.poll.options)
        parts.append(
            h(
                '<div class="poll"><p>📊 {question}</p><ul>{options}</ul></div>',
                question=message.poll.question,
                options=options,
            )
        )
    return join(parts)


def _invitations(view: View, message: SimMessage) -> Html:
    """A button next to each invitation link to this bot: open it as a new person."""
    tokens = {
        token
        for match in _URL.finditer(message.text)
        if (token := start_token(match.group(0), view.bot_username)) is not None
    }
    return join(
        h(
            '<form class="invitation" method="post" action="/sandbox/people">'
            '<input type="hidden" name="start" value="{token}">'
            '<button type="submit">{label}</button></form>',
            token=token,
            label=view.t("sandbox.open_invitation"),
        )
        for token in sorted(tokens)
    )


def _keyboard(view: View, user_id: int, message: SimMessage) -> Html:
    """Inline buttons as real buttons of a form; URL buttons as links."""
    markup = message.reply_markup or {}
    rows: list[Html] = []
    for row in markup.get("inline_keyboard", []):
        buttons: list[Html] = []
        for button in row:
            data, url = button.get("callback_data"), button.get("url")
            if data is not None:
                template = '<button type="submit" name="button" value="{data}">{text}</button>'
            elif url is not None and safe_url(url):
                template = (
                    '<a class="button" href="{url}" rel="noopener noreferrer" target="_blank">'
                    "{text}</a>"
                )
            else:  # kinds the sandbox cannot act out (web apps, inline queries, games)
                template = '<button type="button" disabled>{text}</button>'
            buttons.append(h(template, data=data or "", url=url or "", text=button["text"]))
        rows.append(h('<div class="row">{buttons}</div>', buttons=join(buttons)))
    if not rows:
        return Html("")
    return h(
        '<form class="keyboard" method="post" action="/sandbox/users/{user_id}/press"'
        ' aria-label="{label}"><input type="hidden" name="message_id" value="{message_id}">'
        "{rows}</form>",
        user_id=user_id,
        message_id=message.message_id,
        label=view.t("sandbox.buttons"),
        rows=join(rows),
    )


def message_item(view: View, profile: Profile, message: SimMessage) -> Html:
    """One message of a chat as a list item (deleted messages are left out, as in Telegram)."""
    if message.deleted:
        return Html("")
    sent = datetime.fromtimestamp(message.date, view.timezone)
    marks = []
    if message.edits:
        marks.append(h('<span class="edited">{edited}</span>', edited=view.t("sandbox.edited")))
    if message.from_bot and message.disable_notification:
        marks.append(h('<span class="silent">🔕 {silent}</span>', silent=view.t("sandbox.silent")))
    kind = "from-bot" if message.from_bot else "from-person"
    return h(
        '<li class="message {kind}" id="m-{chat}-{id}" data-id="{id}" data-version="{version}">'
        '<div class="bubble"><p class="sender">{sender}</p>'
        '<div class="text">{text}</div>{attachments}{invitations}'
        '<p class="meta"><time datetime="{iso}">{time}</time>{marks}</p></div>'
        "{keyboard}</li>",
        kind=kind,
        chat=message.chat_id,
        id=message.message_id,
        version=message.edits,
        sender=view.t("sandbox.bot") if message.from_bot else profile.name,
        text=message_text(message.text, message.entities),
        attachments=_attachments(view, message),
        invitations=_invitations(view, message) if message.from_bot else "",
        iso=sent.isoformat(timespec="seconds"),
        time=sent.strftime("%H:%M"),
        marks=join(marks),
        keyboard=_keyboard(view, profile.user_id, message) if message.from_bot else "",
    )


def _reply_keyboard(view: View, user: SimUser) -> Html:
    rows = user.reply_keyboard or []
    if not rows:
        return Html("")
    rendered = join(
        h(
            '<div class="row">{buttons}</div>',
            buttons=join(
                h('<button type="submit" name="text" value="{text}">{text}</button>', text=text)
                for text in row
            ),
        )
        for row in rows
    )
    return h(
        '<form class="reply-keyboard" method="post" action="/sandbox/users/{id}/send"'
        ' aria-label="{label}">{rows}</form>',
        id=user.id,
        label=view.t("sandbox.reply_keyboard"),
        rows=rendered,
    )


def commands_list(view: View, commands: Sequence[JsonDict], user_id: int) -> Html:
    """The command menu, as Telegram's clients show it beside the message field: a command
    chosen there is sent (without script) or put into the field to add arguments (with it)."""
    buttons = join(
        h(
            '<li><button type="submit" name="text" value="/{command}">'
            '<span class="command">/{command}</span> <span class="description">{description}'
            "</span></button></li>",
            command=command["command"],
            description=command["description"],
        )
        for command in commands
    )
    return h(
        '<form class="commands" id="commands-{id}" method="post"'
        ' action="/sandbox/users/{id}/send" aria-label="{label}"><ul>{buttons}</ul></form>',
        id=user_id,
        label=view.t("sandbox.menu"),
        buttons=buttons,
    )


def phone(view: View, profile: Profile, user: SimUser, commands: Sequence[JsonDict]) -> Html:
    """One person's column: their chat with the bot and what they can type and press. The
    message field takes several lines: Enter sends, Shift+Enter starts a new line."""
    items = join(message_item(view, profile, m) for m in user.history)
    uid = user.id
    return h(
        '<section class="phone" id="phone-{id}" data-user="{id}" aria-labelledby="name-{id}">'
        '<header><h2 id="name-{id}">{name}</h2><p class="details">{details}</p>'
        '<button type="button" class="hide" data-hide="{id}" aria-label="{hide_label}"'
        ' title="{hide_label}">×</button></header>'
        '<ol class="chat" role="log" aria-label="{chat_label}" tabindex="0"'
        ' data-empty="{empty}">{items}</ol>'
        '<p class="toast" role="status" aria-live="polite"></p>'
        "{reply_keyboard}"
        '<div class="composer"><details class="menu" data-user="{id}">'
        '<summary title="{menu_label}" aria-label="{menu_label}">/</summary>{commands}</details>'
        '<form class="compose" method="post" action="/sandbox/users/{id}/send">'
        '<label for="text-{id}">{input_label}</label>'
        '<div class="line"><textarea id="text-{id}" name="text" rows="1" autocomplete="off"'
        ' required maxlength="4096" placeholder="{placeholder}"'
        ' aria-describedby="keys-{id}"></textarea>'
        '<button type="submit">{send}</button></div>'
        '<p class="keys" id="keys-{id}">{keys}</p></form></div></section>',
        id=uid,
        name=profile.name,
        details=profile.details,
        hide_label=view.t("sandbox.hide", name=profile.name),
        chat_label=view.t("sandbox.chat_label", name=profile.name),
        empty=view.t("sandbox.empty"),
        items=items,
        reply_keyboard=_reply_keyboard(view, user),
        menu_label=view.t("sandbox.menu"),
        commands=commands_list(view, commands, uid),
        input_label=view.t("sandbox.message_label", name=profile.name),
        placeholder=view.t("sandbox.placeholder"),
        keys=view.t("sandbox.keys"),
        send=view.t("sandbox.send"),
    )


# The page's texts, by their placeholder and sandbox.<key> in the catalogues.
_PAGE_TEXTS = (
    "title",
    "offline",
    "failed",
    "skip",
    "language",
    "about",
    "intro",
    "warning_head",
    "warning",
    "story_title",
    "story_need",
    "people",
    "show",
    "new_person",
    "add",
)


def _query(shown: Sequence[int], language: str) -> str:
    return f"?lang={language}&show={','.join(str(i) for i in shown)}"


def page(
    view: View,
    people: Sequence[Profile],
    shown: Sequence[int],
    phones: Sequence[Html],
    events_seen: int,
    seen_button: str,
) -> Html:
    """The whole page: title and warning, the explanation (foldable), the person picker and
    the shown people's phones. It fits a 1366×768 screen with four phones and works on a
    phone's screen (see sandbox.css)."""
    languages = join(
        h(
            '<a href="/{query}" hreflang="{code}" lang="{code}"{current}>{label}</a>',
            query=_query(shown, code),
            code=code,
            current=Html(' aria-current="true"' if code == view.language else ""),
            label=label,
        )
        for code, label in (("de", "Deutsch"), ("en", "English"))
    )
    picker = join(
        h(
            '<label data-user="{id}" title="{details}"><input type="checkbox" name="show"'
            ' value="{id}"{checked}> <span class="name">{name}</span>'
            '<span class="details"> – {details}</span></label>',
            id=person.user_id,
            checked=Html(" checked" if person.user_id in shown else ""),
            name=person.name,
            details=person.details,
        )
        for person in people
    )
    return h(
        "<!DOCTYPE html>\n"
        '<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title}</title>"
        '<link rel="icon" href="/favicon.ico" type="image/svg+xml">'
        '<link rel="stylesheet" href="/sandbox/static/sandbox.css"></head>'
        '<body data-events="{events}" data-lang="{lang}" data-offline="{offline}"'
        ' data-failed="{failed}">'
        '<a class="skip" href="#phones">{skip}</a>'
        '<header class="top"><h1>{title}</h1>'
        '<nav aria-label="{language}">{languages}</nav>'
        '<details class="about" open><summary>{about}</summary>'
        '<p class="intro">{intro}</p><p class="hint">{hint}</p>'
        '<details class="story"><summary>{story_title}</summary>'
        '<p class="hint">{story_need}</p></details></details>'
        '<p class="warning" role="note"><strong>{warning_head}</strong> {warning}</p></header>'
        '<div class="toolbar">'
        '<form class="people" method="get" action="/"><fieldset><legend>{people}</legend>'
        '<input type="hidden" name="lang" value="{lang}">{picker}'
        '<button type="submit" class="apply">{show}</button></fieldset></form>'
        '<form class="new-person" method="post" action="/sandbox/people">'
        '<label for="new-person-name">{new_person}</label>'
        '<input id="new-person-name" name="first_name" required maxlength="64" autocomplete="off">'
        '<button type="submit">{add}</button></form></div>'
        '<p class="live" role="status" aria-live="polite"></p>'
        '<main id="phones" class="phones" tabindex="-1">{phones}</main>'
        '<script src="/sandbox/static/sandbox.js" defer></script></body></html>',
        lang=view.language,
        events=events_seen,
        languages=languages,
        hint=view.t("sandbox.hint", seen=seen_button),
        picker=picker,
        **{key: view.t(f"sandbox.{key}") for key in _PAGE_TEXTS},
        phones=join(phones),
    )
