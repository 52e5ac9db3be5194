"""Gettext catalogues (Babel) for the bot's texts: German by default, English on request."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from io import BytesIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
DOMAIN = "cora"

log = logging.getLogger(__name__)
_COUNTED_BY = re.compile(r"count:\s*(\w+)")
# A number whose plural form is the general one in both catalogues (German and English).
_GENERAL = 2


class Markup(str):
    """A string that is already valid Telegram HTML and must not be escaped again."""

    __slots__ = ()


def client_language(telegram_code: str | None) -> str | None:
    """English for English Telegram clients; None means the network's default language."""
    return "en" if telegram_code and telegram_code.lower().startswith("en") else None


def pick_language(stored: str | None, telegram_code: str | None, default: str) -> str:
    """The member's own choice wins; otherwise an English client gets English."""
    if stored in LANGUAGES:
        return stored
    return client_language(telegram_code) or default


@dataclass(frozen=True)
class _Catalogue:
    translations: Translations
    keys: frozenset[str]
    plural_keys: frozenset[str]
    # A plural message picks its form by `count`, or by the parameter its entry names in an
    # extracted comment (`#. count: recipients`), so that callers pass the number once.
    counted_by: dict[str, str]


@cache
def _catalogue(language: str) -> _Catalogue:
    # Compiled in memory from the .po file: no build step, no binary files in the repository.
    po = resources.files("bot").joinpath(f"locales/{language}/LC_MESSAGES/{DOMAIN}.po")
    with po.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    keys = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    plurals = {m.id[0] for m in catalog if m.id and m.pluralizable}
    counted_by = {
        m.id[0]: match.group(1)
        for m in catalog
        if m.id and m.pluralizable
        for comment in m.auto_comments
        if (match := _COUNTED_BY.fullmatch(comment.strip()))
    }
    return _Catalogue(
        Translations(buffer, domain=DOMAIN), frozenset(keys), frozenset(plurals), counted_by
    )


def counting_parameter(language: str, key: str) -> str:
    """The parameter whose number picks the plural form of `key` (`count` unless named)."""
    catalogue = _catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    return catalogue.counted_by.get(key, "count")


def template(language: str, key: str, params: dict[str, object]) -> str:
    """The template of `key` in the form the parameters' number asks for."""
    return _template(language, key, params.get(counting_parameter(language, key)))


def message_keys(language: str) -> frozenset[str]:
    """All message keys of a catalogue (for completeness checks)."""
    return _catalogue(language).keys


def _template(language: str, key: str, count: object) -> str:
    catalogue = _catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    if key not in catalogue.keys:
        log.warning("missing translation %s for %s", key, language)
        return key
    if key in catalogue.plural_keys:
        # The caller's `count` picks the form; without one, the general form ("5 Personen").
        number = count if isinstance(count, int) else _GENERAL
        return str(catalogue.translations.ngettext(key, key + ".plural", number))
    return str(catalogue.translations.gettext(key))


def text(language: str, key: str, /, **params: object) -> str:
    """Plain text (for callback answers, file names and other places without markup).
    Where a number meets a noun, the number (`count`, or the parameter the catalogue names)
    picks the plural form."""
    return template(language, key, params).format(**params)


def html_text(language: str, key: str, /, **params: object) -> str:
    """Telegram HTML: the template's markup is kept, every parameter is escaped."""
    escaped = {
        name: value if isinstance(value, Markup) else html.escape(str(value), quote=False)
        for name, value in params.items()
    }
    return template(language, key, params).format(**escaped)


_TAG = re.compile(r"<[^>]+>")


def plain_text(language: str, key: str, /, **params: object) -> str:
    """Text without the template's markup, for the command line: every "<" of `html_text` is
    the template's (parameters are escaped there), so tags go and entities are undone."""
    return html.unescape(_TAG.sub("", html_text(language, key, **params)))
