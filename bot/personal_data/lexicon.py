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
        ordered = sorted(array("q", (hash(word) for word in words)))
        self._hashes = array(
            "q", (h for i, h in enumerate(ordered) if i == 0 or h != ordered[i - 1])
        )

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
_FREQUENT = 3  # of 1 (rare) to 13 (extremely common)


def _given_names() -> Iterable[tuple[str, bool]]:
    """Every first name of nam_dict.txt, and whether it is frequent where people here come from."""
    path = resources.files("gender_guesser").joinpath("data/nam_dict.txt")
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line[:1] in ("#", "=", "") or len(line) < 3:
                continue
            name = line.split()[1]
            frequent = any(
                int(line[column], 16) >= _FREQUENT
                for column in _COMMON_COLUMNS
                if column < len(line) and line[column] not in " $\n"
            )
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
    with base.joinpath("index.txt").open(encoding="utf-8") as lines:
        common = _HashSet(
            form
            for form, *rows in (line.rstrip("\n").split("\t") for line in lines)
            if any(common_rows[int(i)] for i in rows if i)
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
