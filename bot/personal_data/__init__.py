"""Find what looks like personal data in a text meant for the network: names, addresses,
licence plates, handles, identity numbers, phone numbers, e-mail addresses, IBANs and dates.

The check is a pure function: no I/O after the word lists are loaded, no logging, and the text
is never stored. See docs/personal-data-check.md for the method and its measured limits.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.personal_data._common import Candidate, Kind, Suggestion, normalise
from bot.personal_data.addresses import english_streets, plates, postcode_towns, streets
from bot.personal_data.lexicon import lexicon
from bot.personal_data.names import names
from bot.personal_data.numbers import dates, ibans, id_numbers, phones
from bot.personal_data.online import emails, handles

__all__ = ["Finding", "Kind", "Suggestion", "find_personal_data", "warm_up"]


@dataclass(frozen=True)
class Finding:
    """A stretch of the text that looks like personal data.

    `start` and `end` index the original text (code points, not Telegram's UTF-16 units), so
    `text[start:end] == excerpt`. `blocking` means the sender must rephrase; otherwise the
    finding may be harmless and the sender may confirm it. `suggestion`, where there is one, is
    a pseudonymous form built from the text's own words ("Frau M.", "Tochter (6)").
    """

    kind: Kind
    start: int
    end: int
    excerpt: str
    blocking: bool
    suggestion: Suggestion | None = None


def find_personal_data(text: str, places: Collection[str] = ()) -> list[Finding]:
    """All findings in `text`, sorted by start and not overlapping.

    `places` are names of places that are never people (the network's regions), in addition to
    the place names of the word lists.
    """
    normal, origin = normalise(text)
    candidates = [
        *emails(normal),
        *handles(normal),
        *ibans(normal),
        *id_numbers(normal),
        *phones(normal),
        *dates(normal),
        *streets(normal),
        *postcode_towns(normal),
        *english_streets(normal),
        *plates(normal),
        *names(normal, places),
    ]
    findings = []
    for candidate in _join_addresses(normal, _resolve_overlaps(candidates)):
        start, end = candidate.start, candidate.end
        if origin is not None:
            # Invisible characters inside the match stay in the excerpt; those around it do not.
            start, end = origin[start], origin[end - 1] + 1
        findings.append(
            Finding(
                candidate.kind,
                start,
                end,
                text[start:end],
                candidate.blocking,
                candidate.suggestion,
            )
        )
    return findings


def warm_up() -> None:
    """Load the word lists now (about a second) rather than on the first check."""
    lexicon()


# Where two patterns claim the same text, the more specific kind names the finding.
_PRIORITY = {
    Kind.EMAIL: 0,
    Kind.HANDLE: 1,
    Kind.IBAN: 2,
    Kind.ID_NUMBER: 3,
    Kind.BIRTH_DATE: 4,
    Kind.PHONE: 5,
    Kind.LICENCE_PLATE: 6,
    Kind.STREET_ADDRESS: 7,
    Kind.NAME: 8,
    Kind.DATE: 9,
}


def _resolve_overlaps(candidates: list[Candidate]) -> list[Candidate]:
    """Overlapping candidates become one finding over their union, blocking if any of them is:
    resolving an overlap must never hide or soften what another pattern found."""
    resolved: list[Candidate] = []
    group: list[Candidate] = []
    group_end = -1
    for candidate in sorted(candidates, key=lambda c: (c.start, c.end)):
        if group and candidate.start >= group_end:
            resolved.append(_union(group))
            group = []
        group.append(candidate)
        group_end = max(group_end, candidate.end)
    if group:
        resolved.append(_union(group))
    return resolved


def _union(group: Sequence[Candidate]) -> Candidate:
    if len(group) == 1:
        return group[0]
    best = min(group, key=lambda c: (not c.blocking, _PRIORITY[c.kind]))  # blocking ones first
    suggestion = next((c.suggestion for c in group if c.suggestion and c.kind is best.kind), None)
    end = max(c.end for c in group)
    return Candidate(group[0].start, end, best.kind, best.blocking, suggestion)


# "Dorfstraße 9, 18055 Rostock" is one address, not a street and a town.
_POSTCODE_START = re.compile(r"(?:D-[ ]?)?[0-9]")
_ADDRESS_GAP = re.compile(r"[ ,;]{0,3}\n?[ ]?(?:in[ ])?")


def _join_addresses(text: str, candidates: list[Candidate]) -> list[Candidate]:
    joined: list[Candidate] = []
    for candidate in candidates:
        if (
            joined
            and candidate.kind is Kind.STREET_ADDRESS
            and joined[-1].kind is Kind.STREET_ADDRESS
            and _POSTCODE_START.match(text, candidate.start)
            and _ADDRESS_GAP.fullmatch(text, joined[-1].end, candidate.start)
        ):
            previous = joined.pop()
            candidate = Candidate(previous.start, candidate.end, candidate.kind, True)
        joined.append(candidate)
    return joined
