"""Telegram's HTML formatting subset, parsed strictly into text and entities and rendered back."""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from localapi.errors import ApiError, cant_parse_entities
from localapi.utf16 import byte_offset, utf16_len

JsonDict = dict[str, Any]

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_TAGS = {*_SIMPLE_TAGS, "a", "span", "tg-emoji", "blockquote"}
_CHARACTER_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTRIBUTE_NAME = re.compile(r"[a-zA-Z0-9_-]+")


@dataclass
class _OpenTag:
    name: str
    entity: JsonDict | None
    start: int
    order: int


class _HtmlParser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.text: list[str] = []
        self.offset = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[tuple[int, JsonDict]] = []
        self.opened = 0  # entities that start together keep the order their tags opened in

    def error(self, detail: str) -> ApiError:
        return cant_parse_entities(detail)

    def at_byte(self, index: int) -> str:
        return f"at byte offset {byte_offset(self.source, index)}"

    def emit(self, chunk: str) -> None:
        self.text.append(chunk)
        self.offset += utf16_len(chunk)

    def parse(self) -> tuple[str, list[JsonDict]]:
        source = self.source
        while self.pos < len(source):
            char = source[self.pos]
            if char == "&":
                self.emit(self.character_entity())
            elif char == "<":
                if source.startswith("</", self.pos):
                    self.end_tag()
                else:
                    self.start_tag()
            else:
                end = self.pos + 1
                while end < len(source) and source[end] not in "<&":
                    end += 1
                self.emit(source[self.pos : end])
                self.pos = end
        if self.stack:
            raise self.error(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        ordered = sorted(self.entities, key=lambda e: (e[1]["offset"], -e[1]["length"], e[0]))
        return "".join(self.text), [entity for _, entity in ordered]

    def character_entity(self) -> str:
        match = _CHARACTER_ENTITY.match(self.source, self.pos)
        if match is None:
            raise self.error(f'unescaped "&" {self.at_byte(self.pos)}; write it as &amp;')
        decimal, hexadecimal, named = match.groups()
        if named:
            char = _NAMED[named]
        else:
            code = int(decimal) if decimal else int(hexadecimal, 16)
            if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise self.error(f"invalid character entity {self.at_byte(self.pos)}")
            char = chr(code)
        self.pos = match.end()
        return char

    def start_tag(self) -> None:
        source, begin = self.source, self.pos
        end = begin + 1
        while end < len(source) and not source[end].isspace() and source[end] not in "/>":
            end += 1
        if end >= len(source):
            raise self.error(f"Unclosed start tag {self.at_byte(begin)}")
        name = source[begin + 1 : end].lower()
        if name not in _TAGS:
            raise self.error(f'Unsupported start tag "{name}" {self.at_byte(begin)}')
        attributes = self.attributes(end, begin, name)
        entity = self.entity_for(name, attributes, begin)
        self.opened += 1
        self.stack.append(_OpenTag(name, entity, self.offset, self.opened))

    def attributes(self, pos: int, begin: int, tag: str) -> dict[str, str]:
        source = self.source
        found: dict[str, str] = {}
        while True:
            while pos < len(source) and source[pos].isspace():
                pos += 1
            if pos >= len(source):
                raise self.error(f"Unclosed start tag {self.at_byte(begin)}")
            if source[pos] == ">":
                self.pos = pos + 1
                return found
            match = _ATTRIBUTE_NAME.match(source, pos)
            if match is None:
                raise self.error(f'Unexpected character in tag "{tag}" {self.at_byte(pos)}')
            key, pos = match.group(0).lower(), match.end()
            if pos < len(source) and source[pos] == "=":
                value, pos = self.attribute_value(pos + 1, begin)
                found[key] = value
            else:
                found[key] = ""

    def attribute_value(self, pos: int, begin: int) -> tuple[str, int]:
        source = self.source
        if pos >= len(source):
            raise self.error(f"Unclosed start tag {self.at_byte(begin)}")
        quote = source[pos]
        if quote in "\"'":
            end = source.find(quote, pos + 1)
            if end == -1:
                raise self.error(f"Unclosed start tag {self.at_byte(begin)}")
            raw, after = source[pos + 1 : end], end + 1
        else:
            end = pos
            while end < len(source) and not source[end].isspace() and source[end] != ">":
                end += 1
            raw, after = source[pos:end], end
        return _decode_attribute(raw), after

    def entity_for(self, name: str, attributes: dict[str, str], begin: int) -> JsonDict | None:
        if name == "span":
            if attributes.get("class") != "tg-spoiler":
                raise self.error(f'Tag "span" must have class "tg-spoiler" {self.at_byte(begin)}')
            return {"type": "spoiler"}
        if name == "a":
            href = attributes.get("href")
            return {"type": "text_link", "url": href} if href else None
        if name == "tg-emoji":
            emoji_id = attributes.get("emoji-id")
            if not emoji_id:
                raise self.error(
                    f'Tag "tg-emoji" must have attribute "emoji-id" {self.at_byte(begin)}'
                )
            return {"type": "custom_emoji", "custom_emoji_id": emoji_id}
        if name == "blockquote":
            expandable = "expandable" in attributes
            return {"type": "expandable_blockquote" if expandable else "blockquote"}
        if name == "code" and self.stack and self.stack[-1].name == "pre":
            language = attributes.get("class", "")
            pre = self.stack[-1].entity
            # <pre><code class="language-x"> is one pre entity carrying the language.
            if language.startswith("language-") and pre is not None and "language" not in pre:
                pre["language"] = language.removeprefix("language-")
                return None
        return {"type": _SIMPLE_TAGS[name]}

    def end_tag(self) -> None:
        source, begin = self.source, self.pos
        end = source.find(">", begin)
        if end == -1:
            raise self.error(f"Unclosed end tag {self.at_byte(begin)}")
        name = source[begin + 2 : end].strip().lower()
        if not self.stack:
            raise self.error(f"Unexpected end tag {self.at_byte(begin)}")
        open_tag = self.stack.pop()
        if name != open_tag.name:
            raise self.error(
                f'Unmatched end tag {self.at_byte(begin)}, expected "</{open_tag.name}>", '
                f'found "</{name}>"'
            )
        self.pos = end + 1
        entity = open_tag.entity
        # Telegram drops entities that cover no text.
        if entity is not None and self.offset > open_tag.start:
            placed = {"type": entity["type"], "offset": open_tag.start}
            placed["length"] = self.offset - open_tag.start
            self.entities.append((open_tag.order, placed | entity))


def _decode_attribute(raw: str) -> str:
    def replace(match: re.Match[str]) -> str:
        decimal, hexadecimal, named = match.groups()
        if named:
            return _NAMED[named]
        return chr(int(decimal) if decimal else int(hexadecimal, 16))

    return _CHARACTER_ENTITY.sub(replace, raw)


def parse_html(source: str) -> tuple[str, list[JsonDict]]:
    """Parse like Telegram's parse_mode=HTML; raise 400 "can't parse entities" on anything else."""
    return _HtmlParser(source).parse()


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    return escape(value).replace('"', "&quot;")


def _open_tag(entity: JsonDict) -> tuple[str, str] | None:
    kind = entity["type"]
    simple = {
        "bold": "b",
        "italic": "i",
        "underline": "u",
        "strikethrough": "s",
        "spoiler": "tg-spoiler",
        "code": "code",
        "blockquote": "blockquote",
    }
    if kind in simple:
        return f"<{simple[kind]}>", f"</{simple[kind]}>"
    if kind == "expandable_blockquote":
        return "<blockquote expandable>", "</blockquote>"
    if kind == "pre":
        language = entity.get("language")
        if language:
            return f'<pre><code class="language-{_attribute(language)}">', "</code></pre>"
        return "<pre>", "</pre>"
    if kind == "text_link":
        return f'<a href="{_attribute(entity["url"])}">', "</a>"
    if kind == "text_mention":
        return f'<a href="tg://user?id={entity["user"]["id"]}">', "</a>"
    if kind == "custom_emoji":
        return f'<tg-emoji emoji-id="{_attribute(entity["custom_emoji_id"])}">', "</tg-emoji>"
    return None


def entities_to_html(text: str, entities: list[JsonDict]) -> str:
    """Render plain text and entities as Telegram HTML (the inverse of parse_html)."""
    return render_entities(text, entities, _open_tag)


def render_entities(
    text: str,
    entities: Sequence[JsonDict],
    tags_of: Callable[[JsonDict], tuple[str, str] | None],
    *,
    quote: bool = False,
) -> str:
    """Text with each entity's opening and closing tags (from `tags_of`, None to leave it out)
    around it; characters are escaped, and entities that cross each other are closed and
    reopened so that the tags nest.

    Tags go where a character starts (a UTF-16 offset inside a surrogate pair is never one:
    an entity starting there is left out, one ending there closes after the character), and
    the text between two such places is escaped in one piece."""
    escape_text = html.escape if quote else escape
    tagged = [(e, tags) for e in entities if (tags := tags_of(e)) is not None]
    if not tagged:
        return escape_text(text)
    starting_at: dict[int, list[tuple[JsonDict, tuple[str, str]]]] = {}
    for item in tagged:
        starting_at.setdefault(item[0]["offset"], []).append(item)
    for starting in starting_at.values():
        starting.sort(key=lambda item: -int(item[0]["length"]))
    offsets = sorted(starting_at)
    # The UTF-16 offset at which each character starts (its index unless a character before
    # it lies outside the Basic Multilingual Plane), and the text's end.
    starts: Sequence[int]
    if utf16_len(text) == len(text):
        starts, end = range(len(text)), len(text)
    else:
        bounds = list(accumulate((2 if c > "\uffff" else 1 for c in text), initial=0))
        starts, end = bounds[:-1], bounds[-1]
    out: list[str] = []
    open_now: list[tuple[JsonDict, tuple[str, str]]] = []
    index, upcoming = 0, 0
    while True:
        position = starts[index] if index < len(text) else end
        # Close entities ending here; reopen inner ones that would otherwise misnest.
        ending = [item for item in open_now if item[0]["offset"] + item[0]["length"] <= position]
        if ending:
            deepest = min(open_now.index(item) for item in ending)
            for _, tags in reversed(open_now[deepest:]):
                out.append(tags[1])
            reopened = [item for item in open_now[deepest:] if item not in ending]
            open_now = open_now[:deepest]
            for item in reopened:
                out.append(item[1][0])
                open_now.append(item)
        for item in starting_at.get(position, ()):
            out.append(item[1][0])
            open_now.append(item)
        if index == len(text):
            return "".join(out)
        # Nothing happens before the next entity's start or an open entity's end.
        while upcoming < len(offsets) and offsets[upcoming] <= position:
            upcoming += 1
        following = [item[0]["offset"] + item[0]["length"] for item in open_now]
        if upcoming < len(offsets):
            following.append(offsets[upcoming])
        after = bisect_left(starts, min(following), index + 1) if following else len(text)
        out.append(escape_text(text[index:after]))
        index = after
