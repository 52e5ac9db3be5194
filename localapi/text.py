"""Message texts as Telegram sees them: parse modes, explicit entities, trimming, length limits."""

from __future__ import annotations

import re
from typing import Any

from localapi.errors import bad_request, cant_parse_entities
from localapi.html import parse_html
from localapi.markdown import parse_markdown, parse_markdown_v2
from localapi.utf16 import utf16_len

JsonDict = dict[str, Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024

_ENTITY_TYPES = {
    "mention",
    "hashtag",
    "cashtag",
    "bot_command",
    "url",
    "email",
    "phone_number",
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "blockquote",
    "expandable_blockquote",
    "code",
    "pre",
    "text_link",
    "text_mention",
    "custom_emoji",
    "date_time",
}
_REQUIRED_EXTRA = {"text_link": "url", "text_mention": "user", "custom_emoji": "custom_emoji_id"}
_BOT_COMMAND = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@/])")


def check_entities(text: str, entities: list[JsonDict]) -> list[JsonDict]:
    """Explicit entities must name a known type and lie inside the text."""
    length = utf16_len(text)
    for index, entity in enumerate(entities):
        kind = entity["type"]
        if kind not in _ENTITY_TYPES:
            raise cant_parse_entities(f'entity {index} has unsupported type "{kind}"')
        offset, size = entity["offset"], entity["length"]
        if offset < 0 or size < 1 or offset + size > length:
            raise cant_parse_entities(f"entity {index} lies outside the text")
        extra = _REQUIRED_EXTRA.get(kind)
        if extra is not None and extra not in entity:
            raise cant_parse_entities(f'entity {index} of type "{kind}" needs "{extra}"')
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def parse(
    text: str, parse_mode: str | None, entities: list[JsonDict] | None
) -> tuple[str, list[JsonDict]]:
    """Apply explicit entities or a parse mode; explicit entities win, as in Telegram."""
    if entities is not None:
        return text, check_entities(text, entities)
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise bad_request("unsupported parse_mode")


def trim(text: str, entities: list[JsonDict]) -> tuple[str, list[JsonDict]]:
    """Telegram strips leading and trailing whitespace and clips the entities with it."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    length = utf16_len(stripped)
    clipped = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(length, entity["offset"] + entity["length"] - shift)
        if end > start:
            clipped.append(entity | {"offset": start, "length": end - start})
    return stripped, clipped


def message_text(
    text: str, parse_mode: str | None, entities: list[JsonDict] | None
) -> tuple[str, list[JsonDict]]:
    """A message text: 1-4096 UTF-16 code units after entity parsing."""
    plain, found = trim(*parse(text, parse_mode, entities))
    if not plain:
        raise bad_request("message text is empty")
    if utf16_len(plain) > MAX_TEXT:
        raise bad_request("message is too long")
    return plain, found


def caption_text(
    caption: str | None, parse_mode: str | None, entities: list[JsonDict] | None
) -> tuple[str, list[JsonDict]]:
    """A media caption: 0-1024 UTF-16 code units after entity parsing."""
    if caption is None:
        return "", []
    plain, found = trim(*parse(caption, parse_mode, entities))
    if utf16_len(plain) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return plain, found


def bot_commands(text: str) -> list[JsonDict]:
    """The bot_command entities Telegram adds to messages people send."""
    found = []
    for match in _BOT_COMMAND.finditer(text):
        offset = utf16_len(text[: match.start()])
        found.append({"type": "bot_command", "offset": offset, "length": utf16_len(match.group(0))})
    return found
