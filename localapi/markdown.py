"""Telegram's MarkdownV2 and legacy Markdown parse modes, following the rules of tdlib's parsers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from localapi.errors import ApiError, cant_parse_entities
from localapi.utf16 import byte_offset, utf16_len

JsonDict = dict[str, Any]

_RESERVED_V2 = "_*[]()~`>#+-=|{}.!"
# Names tdlib uses in "Can't find end of ... entity" errors.
_TDLIB_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "custom_emoji": "CustomEmoji",
}


def _valid_url(url: str) -> str | None:
    """Links whose URL Telegram would reject are silently dropped, as tdlib does."""
    candidate = url if "://" in url else f"http://{url}"
    parts = urlsplit(candidate)
    if parts.scheme in ("http", "https") and "." in parts.netloc and " " not in candidate:
        return candidate
    if parts.scheme == "tg" and parts.netloc:
        return candidate
    return None


@dataclass
class _Open:
    kind: str
    offset: int
    byte: int
    begin: int
    language: str = ""


class _Source:
    """Index-safe access to the text being parsed."""

    def __init__(self, text: str) -> None:
        self.text = text

    def at(self, index: int) -> str:
        return self.text[index] if 0 <= index < len(self.text) else ""


def _pre_language(source: _Source, pos: int) -> tuple[str, int]:
    """After an opening ```: read an optional language and skip one leading line break."""
    text = source.text
    end = pos
    while end < len(text) and not text[end].isspace() and text[end] != "`":
        end += 1
    language = ""
    if end != pos and end < len(text) and text[end] != "`":
        language, pos = text[pos:end], end
    if source.at(pos) in ("\n", "\r"):
        pair = source.at(pos + 1) in ("\n", "\r") and source.at(pos + 1) != source.at(pos)
        pos += 2 if pair else 1
    return language, pos


class _MarkdownV2:
    def __init__(self, text: str) -> None:
        self.source = _Source(text)
        self.out: list[str] = []
        self.offset = 0
        self.stack: list[_Open] = []
        self.entities: list[JsonDict] = []
        self.quote: tuple[int, bool] | None = None

    def error(self, detail: str) -> ApiError:
        return cant_parse_entities(detail)

    def emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.offset += utf16_len(chunk)

    def add(self, kind: str, start: int, extra: JsonDict | None = None) -> None:
        if self.offset > start:
            entity: JsonDict = {"type": kind, "offset": start, "length": self.offset - start}
            self.entities.append(entity | (extra or {}))

    def reserved(self, char: str) -> ApiError:
        return self.error(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )

    def parse(self) -> tuple[str, list[JsonDict]]:
        text, at = self.source.text, self.source.at
        i = 0
        while i < len(text):
            if i == 0 or text[i - 1] == "\n":
                i = self.line_start(i)
                if i >= len(text):
                    break
            char = text[i]
            if char == "\\" and at(i + 1) and ord(at(i + 1)) <= 126:
                self.emit(at(i + 1))
                i += 2
                continue
            in_code = bool(self.stack) and self.stack[-1].kind in ("code", "pre", "pre_code")
            if char not in ("`" if in_code else _RESERVED_V2):
                self.emit(char)
                i += 1
                continue
            if self.closes_quote(i):
                i += 2
                continue
            closing = bool(self.stack) and self.ends_entity(char, i)
            i = self.close(i) if closing else self.open(char, i)
        if self.stack:
            top = self.stack[-1]
            raise self.error(
                f"Can't find end of {_TDLIB_NAMES[top.kind]} entity at byte offset {top.byte}"
            )
        if self.quote is not None:
            self.end_quote(self.offset)
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def line_start(self, i: int) -> int:
        """Blockquotes are lines starting with '>' ('**>' for an expandable one)."""
        text = self.source.text
        if self.stack and self.stack[-1].kind in ("code", "pre", "pre_code"):
            return i
        if text.startswith("**>", i) or text.startswith(">", i):
            expandable = text.startswith("**>", i)
            if self.quote is None:
                self.quote = (self.offset, expandable)
            return i + (3 if expandable else 1)
        if self.quote is not None:
            self.end_quote(self.offset - 1)  # the line break ending the quote stays outside
        return i

    def closes_quote(self, i: int) -> bool:
        text = self.source.text
        if self.quote is None or not self.quote[1] or not text.startswith("||", i):
            return False
        if i + 2 != len(text) and text[i + 2] != "\n":
            return False
        self.end_quote(self.offset)
        return True

    def end_quote(self, end: int) -> None:
        assert self.quote is not None
        start, expandable = self.quote
        self.quote = None
        if end > start:
            kind = "expandable_blockquote" if expandable else "blockquote"
            self.entities.append({"type": kind, "offset": start, "length": end - start})

    def ends_entity(self, char: str, i: int) -> bool:
        at = self.source.at
        kind = self.stack[-1].kind
        if kind == "bold":
            return char == "*"
        if kind == "italic":
            return char == "_" and at(i + 1) != "_"
        if kind == "code":
            return char == "`"
        if kind in ("pre", "pre_code"):
            return self.source.text.startswith("```", i)
        if kind in ("text_link", "custom_emoji"):
            return char == "]"
        if kind == "underline":
            return char == "_" and at(i + 1) == "_"
        if kind == "strikethrough":
            return char == "~"
        return char == "|" and at(i + 1) == "|"  # spoiler

    def open(self, char: str, i: int) -> int:
        at = self.source.at
        begin = i
        language = ""
        if char == "_":
            kind = "underline" if at(i + 1) == "_" else "italic"
            i += 2 if kind == "underline" else 1
        elif char in "*~[":
            kind = {"*": "bold", "~": "strikethrough", "[": "text_link"}[char]
            i += 1
        elif char == "|" and at(i + 1) == "|":
            kind, i = "spoiler", i + 2
        elif char == "!" and at(i + 1) == "[":
            kind, i = "custom_emoji", i + 2
        elif char == "`":
            if self.source.text.startswith("```", i):
                language, i = _pre_language(self.source, i + 3)
                kind = "pre_code" if language else "pre"
            else:
                kind, i = "code", i + 1
        else:
            raise self.reserved(char)
        byte = byte_offset(self.source.text, begin)
        self.stack.append(_Open(kind, self.offset, byte, len(self.out), language))
        return i

    def close(self, i: int) -> int:
        top = self.stack.pop()
        kind = top.kind
        if kind in ("bold", "italic", "code", "strikethrough"):
            self.add(kind, top.offset)
            return i + 1
        if kind in ("underline", "spoiler"):
            self.add(kind, top.offset)
            return i + 2
        if kind in ("pre", "pre_code"):
            self.add("pre", top.offset, {"language": top.language} if top.language else None)
            return i + 3
        entity_text = "".join(self.out[top.begin :])
        if self.source.at(i + 1) != "(":
            if kind == "custom_emoji":
                raise self.error("Custom emoji entity must contain a tg://emoji URL")
            url: str | None = entity_text
            after = i + 1
        else:
            url, after = self.read_url(i + 2, kind)
        if kind == "custom_emoji":
            assert url is not None
            emoji_id = url.removeprefix("tg://emoji?id=")
            if emoji_id == url or not emoji_id.isdigit():
                raise self.error("Custom emoji URL must have an emoji identifier")
            self.add("custom_emoji", top.offset, {"custom_emoji_id": emoji_id})
            return after
        valid = _valid_url(url or "")
        if valid is not None:
            self.add("text_link", top.offset, {"url": valid})
        return after

    def read_url(self, i: int, kind: str) -> tuple[str, int]:
        text, at = self.source.text, self.source.at
        begin = i
        url: list[str] = []
        while i < len(text) and text[i] != ")":
            if text[i] == "\\" and at(i + 1) and ord(at(i + 1)) <= 126:
                url.append(text[i + 1])
                i += 2
                continue
            url.append(text[i])
            i += 1
        if i >= len(text):
            what = "a custom emoji URL" if kind == "custom_emoji" else "a URL"
            raise self.error(f"Can't find end of {what} at byte offset {byte_offset(text, begin)}")
        return "".join(url), i + 1


def parse_markdown_v2(text: str) -> tuple[str, list[JsonDict]]:
    """Parse like Telegram's parse_mode=MarkdownV2; raise 400 "can't parse entities" on errors."""
    return _MarkdownV2(text).parse()


def parse_markdown(text: str) -> tuple[str, list[JsonDict]]:
    """Parse like Telegram's legacy parse_mode=Markdown (no nesting, escapes only outside)."""
    source = _Source(text)
    at = source.at
    out: list[str] = []
    offset = 0
    entities: list[JsonDict] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and at(i + 1) in ("_", "*", "`", "["):
            out.append(at(i + 1))
            offset += 1
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            offset += utf16_len(char)
            i += 1
            continue
        begin = i
        end_char = "]" if char == "[" else char
        i += 1
        is_pre = False
        language = ""
        if char == "`" and text.startswith("``", i):
            is_pre = True
            language, i = _pre_language(source, i + 2)
        start = offset
        while i < len(text) and (
            text[i] != end_char or (is_pre and not text.startswith("``", i + 1))
        ):
            out.append(text[i])
            offset += utf16_len(text[i])
            i += 1
        if i >= len(text):
            raise cant_parse_entities(
                f"Can't find end of the entity starting at byte offset {byte_offset(text, begin)}"
            )
        entity: JsonDict | None = None
        if char == "[":
            if at(i + 1) == "(":
                close = text.find(")", i + 2)
                url = text[i + 2 :] if close == -1 else text[i + 2 : close]
                i = len(text) - 1 if close == -1 else close
            else:
                url = text[begin + 1 : i]
            valid = _valid_url(url)
            entity = {"type": "text_link", "url": valid} if valid else None
        elif char == "`":
            entity = {"type": "pre" if is_pre else "code"}
            if language:
                entity["language"] = language
        else:
            entity = {"type": "italic" if char == "_" else "bold"}
        if entity is not None and offset > start:
            entities.append(
                {"type": entity["type"], "offset": start, "length": offset - start} | entity
            )
        i += 3 if is_pre else 1
    return "".join(out), entities
