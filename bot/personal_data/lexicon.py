"""Word lists the name check needs, read from two maintained packages at first use.

- Given names: the first-name dictionary `nam_dict.txt` by Jörg Michael (GNU FDL 1.2), shipped
  with `gender-guesser` (GPLv3): about 45,000 names with their frequency in 54 countries,
  German, Turkish, Arabic, Polish, Russian, Ukrainian and Vietnamese among them.
- German nouns, surnames, given names and place names: the Wiktionary extract of
  `german-nouns` (CC BY-SA 4.0), with every inflected form.

Neither list is copied into this repository. The large sets are kept as sorted arrays of string
hashes (a few MB instead of tens): a lookup is a binary search.
"""

from __future__ import annotations

import csv
import functools
import operator
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from gender_guesser.detector import Detector

__all__ = ["Lexicon", "lexicon"]


class _HashSet:
    """A set of strings that stores only their (per-process) hashes."""

    def __init__(self, words: Iterable[str]) -> None:
        self._hashes = array("q", sorted(set(map(hash, words))))

    def __contains__(self, word: str) -> bool:
        value = hash(word)
        i = bisect_left(self._hashes, value)
        return i < len(self._hashes) and self._hashes[i] == value

    def __len__(self) -> int:
        return len(self._hashes)


@dataclass(frozen=True)
class Lexicon:
    given_names: _HashSet  # lower case
    frequent_given_names: _HashSet  # frequent in the countries most people here come from
    common_nouns: _HashSet  # lower case, every inflected form of a German common noun
    surnames: frozenset[str]  # lower case
    places: frozenset[str]  # lower case

    def is_given_name(self, word: str) -> bool:
        low = word.lower()
        if low in self.given_names:
            return True
        parts = low.split("-")  # "Lisa-Marie"
        return len(parts) > 1 and all(len(p) > 1 and p in self.given_names for p in parts)


_NON_COMMON = {"Vorname", "Nachname", "Eigenname", "Toponym"}


# Columns of nam_dict.txt (from column 30 on, one per country) where most people living in
# Germany have their names from: the British Isles and the USA, Southern and Western Europe
# (not the Benelux and Nordic countries), Germany, Austria, Switzerland, Eastern and
# South-Eastern Europe, the Caucasus and Central Asia, Turkey, the Arab countries and Iran,
# Israel and Vietnam.
_COUNTRIES: list[str] = Detector.COUNTRIES  # the order of the columns
_COMMON_HERE = {
    *("great_britain", "ireland", "usa", "italy", "portugal", "spain", "france"),
    *("east_frisia", "germany", "austria", "swiss", "poland", "czech_republic", "slovakia"),
    *("hungary", "romania", "bulgaria", "bosniaand", "croatia", "kosovo", "macedonia"),
    *("montenegro", "serbia", "slovenia", "albania", "greece", "russia", "belarus", "moldova"),
    *("ukraine", "armenia", "azerbaijan", "georgia", "the_stans", "turkey", "arabia", "israel"),
    "vietnam",
}
_COMMON_COLUMNS = [30 + i for i, country in enumerate(_COUNTRIES) if country in _COMMON_HERE]
# A name's frequency in a country is one hexadecimal digit, 1 (rare) to D (extremely common);
# frequent here is 3 or more.
_FREQUENT_DIGITS = frozenset("3456789ABCDEFabcdef")
_common_columns = operator.itemgetter(*_COMMON_COLUMNS)
_WIDTH = max(_COMMON_COLUMNS) + 1


def _given_names() -> Iterable[tuple[str, bool]]:
    """Every first name of nam_dict.txt, and whether it is frequent where people here come from."""
    path = resources.files("gender_guesser").joinpath("data/nam_dict.txt")
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line[:1] in ("#", "=", "") or len(line) < 3:
                continue
            name = line.split()[1]
            frequent = not _FREQUENT_DIGITS.isdisjoint(_common_columns(line.ljust(_WIDTH)))
            if "+" in name:  # "Ali+Reza" stands for "Ali-Reza", "Ali Reza" and "Alireza"
                yield name.replace("+", "-").lower(), frequent
                yield name.replace("+", "").lower(), frequent
            else:
                yield name.lower(), frequent


def _lemma_and_tags(line: str) -> tuple[str, set[str]]:
    """The first two fields of a line of nouns.csv; the csv module is five times slower."""
    if line.startswith('"'):
        row = next(csv.reader([line]))
        return row[0].lower(), set(row[1].split(","))
    lemma, rest = line.split(",", 1)
    tags = rest[1 : rest.index('"', 1)] if rest.startswith('"') else rest.split(",", 1)[0]
    return lemma.lower(), set(tags.split(","))


def _load() -> Lexicon:
    # Both files are read line by line: reading them whole would grow the process by a
    # hundred MB that the allocator keeps.
    base = resources.files("german_nouns")
    common_rows = bytearray()  # per row of nouns.csv: 1 for a common noun
    surnames: set[str] = set()
    places: set[str] = set()
    given: list[str] = []
    with base.joinpath("nouns.csv").open(encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            if line == "\n":
                continue
            lemma, tags = _lemma_and_tags(line.rstrip("\n"))
            common_rows.append(not tags & _NON_COMMON)
            if "Nachname" in tags:
                surnames.add(lemma)
            if "Toponym" in tags:
                places.add(lemma)
            if "Vorname" in tags:
                given.append(lemma)
    # index.txt: an inflected form, then the rows of nouns.csv it is a form of.
    common_row_numbers = frozenset(str(row) for row, common in enumerate(common_rows) if common)
    with base.joinpath("index.txt").open(encoding="utf-8") as lines:
        common = _HashSet(
            form
            for form, *rows in (line.rstrip("\n").split("\t") for line in lines)
            if not common_row_numbers.isdisjoint(rows)
        )
    names = list(_given_names())
    return Lexicon(
        given_names=_HashSet([*(name for name, _ in names), *given]),
        frequent_given_names=_HashSet(name for name, frequent in names if frequent),
        common_nouns=common,
        surnames=frozenset(surnames),
        places=frozenset(places),
    )


@functools.cache
def lexicon() -> Lexicon:
    """The word lists, loaded once per process (about a second)."""
    return _load()
