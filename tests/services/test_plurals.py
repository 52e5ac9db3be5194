"""Wherever a number meets a noun, the catalogue's plural forms agree with the number: every
plural message is rendered for 0, 1, 2 and 5 in German and English, no other message puts a
count before a noun, and the code passes the number that counts."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from bot import i18n
from localapi.text import parse

ROOT = Path(__file__).resolve().parents[2]
NUMBERS = (0, 1, 2, 5)

# Every plural message: the parameter that counts (`count`, or the one its catalogue entry
# names with `#. count: <parameter>`), and what a reader sees around the number ({n}) for one
# and for any other number.
PLURALS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "alert.urgent_limit": (
        "count",
        {
            "de": ("{n} Minute", "{n} Minuten"),
            "en": ("{n} minute", "{n} minutes"),
        },
    ),
    "alert.urgent_limit.coordinators": (
        "count",
        {
            "de": ("{n} dringende Fallmeldung", "{n} dringende Fallmeldungen"),
            "en": ("{n} urgent case alert", "{n} urgent case alerts"),
        },
    ),
    "alert.urgent_limit.coordinators_api": (
        "count",
        {
            "de": ("{n} dringende Fallmeldung", "{n} dringende Fallmeldungen"),
            "en": ("{n} urgent case alert", "{n} urgent case alerts"),
        },
    ),
    "digest.header": (
        "count",
        {
            "de": ("{n} offener Fall", "{n} offene Fälle"),
            "en": ("{n} open case", "{n} open cases"),
        },
    ),
    "find.header": (
        "count",
        {
            "de": ("{n} Angebot", "{n} Angebote"),
            "en": ("{n} offer", "{n} offers"),
        },
    ),
    "invite.redeemed": (
        "count",
        {
            "de": ("{n} Mal", "{n} Mal"),
            "en": ("{n} more time", "{n} more times"),
        },
    ),
    "invites.header": (
        "count",
        {
            "de": ("{n} aktiver Einladungslink", "{n} aktive Einladungslinks"),
            "en": ("{n} active invitation link", "{n} active invitation links"),
        },
    ),
    "invites.line": (
        "count",
        {
            "de": ("{n} Verwendung", "{n} Verwendungen"),
            "en": ("{n} use left", "{n} uses left"),
        },
    ),
    "need.adults": (
        "count",
        {
            "de": ("{n} erwachsene Person", "{n} erwachsene Personen"),
            "en": ("{n} adult", "{n} adults"),
        },
    ),
    "need.children": (
        "count",
        {
            "de": ("{n} Kind", "{n} Kinder"),
            "en": ("{n} child", "{n} children"),
        },
    ),
    "need.preview": (
        "count",
        {
            "de": ("{n} passendes Angebot", "{n} passende Angebote"),
            "en": ("{n} matching offer", "{n} matching offers"),
        },
    ),
    "need.raised": (
        "count",
        {
            "de": ("{n} passendes Angebot", "{n} passende Angebote"),
            "en": ("{n} matching offer", "{n} matching offers"),
        },
    ),
    "needs.header": (
        "count",
        {
            "de": ("{n} offener Bedarf", "{n} offene Bedarfe"),
            "en": ("{n} open need", "{n} open needs"),
        },
    ),
    "offer.places_free": (
        "count",
        {
            "de": ("{n} freier Platz", "{n} freie Plätze"),
            "en": ("{n} free place", "{n} free places"),
        },
    ),
    "offer.waiting": (
        "count",
        {
            "de": ("{n} Tag", "{n} Tagen"),
            "en": ("{n} day", "{n} days"),
        },
    ),
    "offers.header": (
        "count",
        {
            "de": ("{n} Angebot", "{n} Angebote"),
            "en": ("{n} offer", "{n} offers"),
        },
    ),
    "places.now": (
        "count",
        {
            "de": ("{n} freier Platz", "{n} freie Plätze"),
            "en": ("{n} free place", "{n} free places"),
        },
    ),
    "report.support.free_line": (
        "count",
        {
            "de": ("{n} Tag", "{n} Tagen"),
            "en": ("{n} day", "{n} days"),
        },
    ),
    "report.support.title": (
        "count",
        {
            "de": ("{n} Angebot", "{n} Angebote"),
            "en": ("{n} offer", "{n} offers"),
        },
    ),
    "members.header": (
        "count",
        {
            "de": ("{n} aktives Mitglied", "{n} aktive Mitglieder"),
            "en": ("{n} active member", "{n} active members"),
        },
    ),
    "pending.header": (
        "count",
        {
            "de": ("{n} offener Antrag", "{n} offene Anträge"),
            "en": ("{n} open request", "{n} open requests"),
        },
    ),
    "alerts.header": (
        "count",
        {
            "de": ("{n} offene Fallmeldung", "{n} offene Fallmeldungen"),
            "en": ("{n} open case alert", "{n} open case alerts"),
        },
    ),
    "alerts.drills": (
        "count",
        {
            "de": ("{n} laufende ÜBUNG", "{n} laufende ÜBUNGEN"),
            "en": ("{n} running EXERCISE", "{n} running EXERCISES"),
        },
    ),
    "scheduled.header": (
        "count",
        {
            "de": ("{n} geplante Ankündigung", "{n} geplante Ankündigungen"),
            "en": ("{n} scheduled announcement", "{n} scheduled announcements"),
        },
    ),
    "poll.results.votes": (
        "count",
        {"de": ("{n} Stimme", "{n} Stimmen"), "en": ("{n} vote", "{n} votes")},
    ),
    "poll.created": (
        "count",
        {"de": ("an {n} Person", "an {n} Personen"), "en": ("to {n} person", "to {n} people")},
    ),
    "polls.header": (
        "count",
        {"de": ("{n} Umfrage", "{n} Umfragen"), "en": ("{n} poll", "{n} polls")},
    ),
    "alert.preview": (
        "recipients",
        {
            "de": ("{n} Empfänger:in", "{n} Empfänger:innen"),
            "en": ("{n} recipient", "{n} recipients"),
        },
    ),
    "alert.raised": (
        "recipients",
        {
            "de": ("an {n} Empfänger:in", "an {n} Empfänger:innen"),
            "en": ("to {n} recipient", "to {n} recipients"),
        },
    ),
    "alert.follow_up_sent": (
        "recipients",
        {
            "de": ("an {n} beteiligte Person", "an {n} beteiligte Personen"),
            "en": ("to {n} person involved", "to {n} people involved"),
        },
    ),
    "channel.details": (
        "count",
        {"de": ("{n} Mitglied", "{n} Mitglieder"), "en": ("{n} member", "{n} members")},
    ),
    "channel.details.sector": (
        "count",
        {"de": ("{n} Mitglied", "{n} Mitglieder"), "en": ("{n} member", "{n} members")},
    ),
    "channel.details.region": (
        "count",
        {"de": ("{n} Mitglied", "{n} Mitglieder"), "en": ("{n} member", "{n} members")},
    ),
    "announce.preview": (
        "recipients",
        {
            "de": ("derzeit {n} Empfänger:in", "derzeit {n} Empfänger:innen"),
            "en": ("currently {n} recipient", "currently {n} recipients"),
        },
    ),
    "announce.scheduled": (
        "recipients",
        {
            "de": ("derzeit {n} Empfänger:in", "derzeit {n} Empfänger:innen"),
            "en": ("currently {n} recipient", "currently {n} recipients"),
        },
    ),
    "announce.sent": (
        "recipients",
        {
            "de": ("an {n} Empfänger:in", "an {n} Empfänger:innen"),
            "en": ("to {n} recipient", "to {n} recipients"),
        },
    ),
    "announcement.reminded": (
        "count",
        {
            "de": ("Erinnerung an {n} Person", "Erinnerung an {n} Personen"),
            "en": ("to {n} person", "to {n} people"),
        },
    ),
    "drill.started": (
        "recipients",
        {
            "de": ("an {n} Empfänger:in", "an {n} Empfänger:innen"),
            "en": ("to {n} recipient", "to {n} recipients"),
        },
    ),
    "poll.option_count": (
        "count",
        {"de": ("es ist {n}", "es sind {n}"), "en": ("there is {n}", "there are {n}")},
    ),
    "away.too_long": (
        "days",
        {"de": ("{n} Tag im", "{n} Tage im"), "en": ("{n} day ahead", "{n} days ahead")},
    ),
    "report.period_too_long": (
        "days",
        {"de": ("{n} Tag lang", "{n} Tage lang"), "en": ("{n} day long", "{n} days long")},
    ),
    "error.invite_days": (
        "max",
        {"de": ("{n} Tag gültig", "{n} Tage gültig"), "en": ("{n} day.", "{n} days.")},
    ),
    "error.invite_uses": (
        "max",
        {"de": ("{n} Mal", "{n} Mal"), "en": ("{n} time.", "{n} times.")},
    ),
}

# Parameters that hold a number of something.
_COUNTS = (
    "count|recipients|members|days|max|min|length|uses|n|answered|participants|delivered|read|"
    "unread|unreachable|failed|pending|removed|alerts|real|drills|active|reachable|"
    "acknowledged|escalated|events|limit|number|hours"
)
_NUMBER_THEN_WORD = re.compile(r"\{(" + _COUNTS + r")\}(?:</b>)?[ \u00a0]+([^\s{}<.,;:()·/]+)")
# Words after a number that do not change with it (adjectives, verbs of a fraction, "to").
_SAME_FOR_ANY_NUMBER = {
    "aktiv", "erreichbar", "bestätigt", "zugestellt", "weitere", "haben", "bis", "und",
    "active", "reachable", "acknowledged", "delivered", "more", "answered", "are", "to", "and",
    "%",
}  # fmt: skip
# Limits fixed in code, never 1 ("höchstens 3500 Zeichen"), and lengths above them.
_NEVER_ONE = {
    ("alert.ask_text", "max"), ("announce.ask_text", "max"), ("poll.ask_title", "max"),
    ("channel.name_length", "max"), ("error.name_length", "max"),
    ("error.institution_length", "max"), ("poll.title_length", "max"),
    ("poll.option_length", "max"), ("poll.ask_dates", "max"), ("poll.ask_options", "max"),
    ("alert.text_too_long", "length"), ("announcement.text_too_long", "length"),
    ("need.case_ref_too_long", "length"), ("need.case_ref_too_long", "max"),
    ("need.note_too_long", "length"), ("need.note_too_long", "max"),
    ("need.people_range", "max"), ("offers.places_range", "max"), ("offers.text_length", "max"),
}  # fmt: skip

_TEXT_FUNCTIONS = {"DomainError", "tr", "plain", "say", "text", "html_text"}


def _plural_keys(language: str) -> set[str]:
    return set(i18n._catalogue(language).plural_keys)


def _plain(html: str) -> str:
    return parse(html, "HTML", None)[0]


def test_every_plural_message_is_listed_here() -> None:
    assert _plural_keys("de") == set(PLURALS)
    assert _plural_keys("en") == set(PLURALS)


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("key", sorted(PLURALS))
def test_the_noun_agrees_with_the_number(key: str, language: str) -> None:
    counting, forms = PLURALS[key]
    for n in NUMBERS:
        template = i18n._template(language, key, n)
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        assert counting in fields, (key, language, template)
        values: dict[str, object] = {field: "x" for field in fields} | {counting: n}
        shown = _plain(i18n.html_text(language, key, **values))
        one, other = forms[language]
        expected = (one if n == 1 else other).format(n=n)
        # Followed by no further letter: "1 Empfänger:in" must not be "1 Empfänger:innen".
        assert re.search(re.escape(expected) + r"(?!\w|:\w)", shown), (n, shown)


@pytest.mark.parametrize("language", ["de", "en"])
def test_no_other_message_puts_a_count_before_a_noun(language: str) -> None:
    catalogue = i18n._catalogue(language)
    found = []
    for key in sorted(catalogue.keys - catalogue.plural_keys):
        template = i18n._template(language, key, None)
        for match in _NUMBER_THEN_WORD.finditer(template):
            parameter, word = match.groups()
            if word in _SAME_FOR_ANY_NUMBER or (key, parameter) in _NEVER_ONE:
                continue
            found.append(f"{key}: {match.group(0)}")
    assert found == []


def _calls_without_the_number() -> list[str]:
    """Text calls with a literal plural key that do not pass the parameter that counts."""
    plural = _plural_keys("de")
    missing = []
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in _TEXT_FUNCTIONS:
                continue
            for argument in node.args[:3]:
                if isinstance(argument, ast.Constant) and argument.value in plural:
                    counting = i18n.counting_parameter("de", argument.value)
                    if not any(k.arg in (counting, None) for k in node.keywords):
                        missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {argument.value}")
    return missing


def test_the_code_passes_the_number_that_counts() -> None:
    assert _calls_without_the_number() == []


def test_both_languages_count_by_the_same_parameter() -> None:
    for key in PLURALS:
        assert (
            i18n.counting_parameter("de", key)
            == i18n.counting_parameter("en", key)
            == (PLURALS[key][0])
        ), key


def test_the_catalogue_names_the_number_so_callers_pass_it_once() -> None:
    assert i18n.text("de", "announce.sent", id=4, recipients=1) == (
        "Ankündigung 4 wird an 1 Empfänger:in gesendet."
    )
    assert i18n.text("en", "announce.sent", id=4, recipients=3) == (
        "Announcement 4 is being sent to 3 recipients."
    )
    # Without the number (a template shown with gaps), the general form.
    assert i18n.template("de", "announce.sent", {}).endswith(
        "{recipients} Empfänger:innen gesendet."
    )
