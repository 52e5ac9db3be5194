"""Every text the bot can say exists in German and English, with the same placeholders."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from bot import i18n

ROOT = Path(__file__).resolve().parents[2]
_TEXT_FUNCTIONS = {"DomainError", "tr", "plain", "say", "text", "html_text", "expect"}


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def _keys_used_in_code() -> tuple[set[str], set[str]]:
    """Literal keys, and the constant prefixes of keys built with f-strings."""
    literal, prefixes = set(), set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")]:
        if "local_api" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in _TEXT_FUNCTIONS:
                continue
            for argument in node.args[:3]:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    if "." in argument.value and " " not in argument.value:
                        literal.add(argument.value)
                elif isinstance(argument, ast.JoinedStr) and argument.values:
                    first = argument.values[0]
                    if isinstance(first, ast.Constant) and "." in str(first.value):
                        prefixes.add(str(first.value))
    return literal, prefixes


def test_german_and_english_have_the_same_keys() -> None:
    assert i18n.message_keys("de") == i18n.message_keys("en")


@pytest.mark.parametrize("key", sorted(i18n.message_keys("de")))
def test_translations_use_the_same_placeholders(key: str) -> None:
    de = i18n._template("de", key, None)
    en = i18n._template("en", key, None)
    assert _placeholders(de) == _placeholders(en), key


def test_every_key_used_in_code_is_translated() -> None:
    literal, prefixes = _keys_used_in_code()
    keys = i18n.message_keys("de")
    assert literal, "the scan found no keys at all"
    assert sorted(literal - keys) == []
    assert sorted(p for p in prefixes if not any(k.startswith(p) for k in keys)) == []


def test_parameters_are_escaped_but_template_markup_is_kept() -> None:
    html = i18n.html_text("en", "join.chosen", choice="<b>&x</b>")
    assert html == "Selected: <b>&lt;b&gt;&amp;x&lt;/b&gt;</b>"


def test_english_clients_get_english_and_a_stored_choice_wins() -> None:
    assert i18n.pick_language(None, "en-GB", "de") == "en"
    assert i18n.pick_language(None, "fr", "de") == "de"
    assert i18n.pick_language("de", "en", "de") == "de"
