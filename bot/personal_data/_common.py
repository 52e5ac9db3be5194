"""What the detectors share: the kinds of finding, candidates and text normalisation."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple


class Kind(StrEnum):
    """What a finding looks like."""

    PHONE = "phone"
    EMAIL = "email"
    BIRTH_DATE = "birth_date"
    DATE = "date"
    STREET_ADDRESS = "street_address"
    IBAN = "iban"
    NAME = "name"
    LICENCE_PLATE = "licence_plate"
    HANDLE = "handle"
    ID_NUMBER = "id_number"


# --- Normalisation ------------------------------------------------------------------------------

# Invisible characters (zero-width, direction marks, soft hyphen, variation selectors, the keycap
# mark of "3️⃣") can sit inside a number without being seen: they are dropped before matching.
_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u180e\u20e3\ufeff"
    + "".join(
        chr(code)
        for first, last in ((0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2069), (0xFE00, 0xFE0F))
        for code in range(first, last + 1)
    )
)
# Look-alikes are mapped one to one, so offsets do not move.
_LOOKALIKES = str.maketrans(
    {
        **{
            chr(c): " "
            for c in (0x09, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)
        },
        **{chr(c): "-" for c in (*range(0x2010, 0x2016), 0x2212, 0xFE63, 0xFF0D)},
        **{chr(base + d): str(d) for base in (0xFF10, 0x0660, 0x06F0) for d in range(10)},
        "\uff0b": "+",
        "\uff20": "@",
        "\uff0f": "/",
        "\uff08": "(",
        "\uff09": ")",
    }
)


_HAS_LOOKALIKE = re.compile("[" + re.escape("".join(chr(c) for c in _LOOKALIKES)) + "]")
_HAS_INVISIBLE = re.compile("[" + re.escape("".join(sorted(_INVISIBLE))) + "]")


def normalise(text: str) -> tuple[str, list[int] | None]:
    """The text to match against and, if characters were dropped, where each one came from."""
    if text.isascii():
        return text, None
    # Searching for the characters first is ten times faster than translating every text.
    mapped = text.translate(_LOOKALIKES) if _HAS_LOOKALIKE.search(text) else text
    if not _HAS_INVISIBLE.search(mapped):
        return mapped, None
    origin = [i for i, char in enumerate(mapped) if char not in _INVISIBLE]
    return "".join(mapped[i] for i in origin), origin


class Candidate(NamedTuple):
    start: int
    end: int
    kind: Kind
    blocking: bool
    suggestion: Suggestion | None = None


class Suggestion(NamedTuple):
    """A pseudonymous form for a finding.

    `key` "form" means `value` can stand in the text as it is ("Frau M.", "Tochter (6)");
    "child" means a child of the age `value`, to be worded in the reader's language.
    """

    key: str
    value: str


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


LETTER = r"[^\W\d_]"
