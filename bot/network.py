"""The network's sectors and regions, and the words of its support system (kinds of offers,
topics, target groups, accessibility) and which regions neighbour which: data loaded from a TOML
file, not code. Sectors and regions are found by code, by label in either language or by a
short form the file names, whatever the case and accents."""

from __future__ import annotations

import difflib
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

from bot.errors import DomainError

_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_REGION_CODE = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
LANGUAGES = ("de", "en")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_NOT_A_LETTER = re.compile(r"[\W_]+")
_SHORTEST_WORD = 4  # words of a label shorter than this ("und", "of") find nothing alone
_CLOSE_ENOUGH = 0.6  # difflib's ratio for "did you mean …?"
SECTOR, REGION = "sector", "region"


def fold(word: str) -> str:
    """A word as it is compared: case, accents, ß, hyphens and spacing do not matter
    ("Jugend-Amt" and "jugendamt " differ, "Rügen" and "rugen" do not)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_A_LETTER.sub(" ", bare).split())


def _spellings(name: str) -> set[str]:
    """A name folded, and with German umlauts written out ("Täterarbeit", "Taeterarbeit")."""
    return {fold(name), fold(name.casefold().translate(_UMLAUTS))}


class NetworkFileError(Exception):
    """The network file is malformed; the message says where."""


@dataclass(frozen=True)
class Place:
    """A sector or a region: a short code and a label per language."""

    code: str
    labels: dict[str, str]
    aliases: tuple[str, ...] = ()  # short forms: "JA" for the youth welfare office

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels["de"]

    @property
    def names(self) -> tuple[str, ...]:
        """Everything this place may be called by: code, labels, short forms."""
        return (self.code, *self.labels.values(), *self.aliases)


class Names(str):
    """Places named in a refusal: German labels as a string; an adapter that knows the
    reader's language shows them in it (`shown`)."""

    places: tuple[Place, ...]

    def __new__(cls, places: Iterable[Place]) -> Names:
        found = tuple(places)
        named = super().__new__(cls, ", ".join(p.label("de") for p in found))
        named.places = found
        return named

    def shown(self, language: str) -> str:
        return ", ".join(p.label(language) for p in self.places)


@dataclass(frozen=True)
class OfferKind(Place):
    """A kind of offer (women's shelter, counselling centre …); `places`: its offers report free
    places by default."""

    places: bool = False


@dataclass(frozen=True)
class Network:
    """Sectors and regions of one coordination network, and its support system's vocabulary."""

    name: str
    sectors: dict[str, Place]
    regions: dict[str, Place]
    statewide_region: str
    offer_kinds: dict[str, OfferKind] = field(default_factory=dict)
    topics: dict[str, Place] = field(default_factory=dict)
    target_groups: dict[str, Place] = field(default_factory=dict)
    accessibility: dict[str, Place] = field(default_factory=dict)
    neighbours: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def sector(self, code: str) -> Place:
        """A sector by code, label or short form."""
        return self._named(SECTOR, self.sectors, code.strip().lower(), code)

    def region(self, code: str) -> Place:
        """A region by code, label or short form."""
        return self._named(REGION, self.regions, code.strip().upper(), code)

    def _named(self, kind: str, places: dict[str, Place], key: str, word: str) -> Place:
        """The place of `kind` with the code `key`, else the one `word` names (see `place`)."""
        place = places.get(key)
        if place is not None:
            return place
        details = {kind: word, "valid": ", ".join(places)}
        return self.place(word, (kind,), DomainError(f"error.unknown_{kind}", **details))[1]

    def place(self, word: str, kinds: tuple[str, ...], unknown: DomainError) -> tuple[str, Place]:
        """The one sector or region `word` names, as (kind, place). Several: the choices are
        offered; none: the closest name is suggested, or `unknown` is raised."""
        found = self.matches(word, kinds)
        if len(found) == 1:
            return found[0]
        if found:
            raise DomainError("target.ambiguous", part=word, choices=Names(p for _, p in found))
        suggestion = self.closest(word, kinds)
        if suggestion is not None:
            raise DomainError("target.did_you_mean", part=word, suggestion=Names([suggestion]))
        raise unknown

    def matches(self, word: str, kinds: tuple[str, ...]) -> list[tuple[str, Place]]:
        """Places whose code, label or short form is `word`; failing that, those with a label
        that contains it as a whole word ("Greifswald", "landesweit")."""
        key = fold(word)
        for table in (self._names, self._words):
            found = [(kind, place) for kind, place in table.get(key, ()) if kind in kinds]
            if found:
                return found
        return []

    def closest(self, word: str, kinds: tuple[str, ...]) -> Place | None:
        """The place with the name most like `word` (difflib), if any is close enough."""
        names = {
            name: places
            for table in (self._names, self._words)
            for name, places in table.items()
            if any(kind in kinds for kind, _ in places)
        }
        for name in difflib.get_close_matches(fold(word), names, n=1, cutoff=_CLOSE_ENOUGH):
            return next(place for kind, place in names[name] if kind in kinds)
        return None

    @cached_property
    def _names(self) -> dict[str, list[tuple[str, Place]]]:
        table: dict[str, list[tuple[str, Place]]] = {}
        for kind, place in self._kinds():
            for name in place.names:
                for spelling in _spellings(name):
                    _add(table, spelling, kind, place)
        return table

    @cached_property
    def _words(self) -> dict[str, list[tuple[str, Place]]]:
        table: dict[str, list[tuple[str, Place]]] = {}
        for kind, place in self._kinds():
            for name in (*place.labels.values(), *place.aliases):
                for spelling in _spellings(name):
                    for word in spelling.split():
                        if len(word) >= _SHORTEST_WORD:
                            _add(table, word, kind, place)
        return table

    def _kinds(self) -> Iterable[tuple[str, Place]]:
        yield from ((SECTOR, p) for p in self.sectors.values())
        yield from ((REGION, p) for p in self.regions.values())

    @property
    def place_names(self) -> frozenset[str]:
        """Names of the regions in every language, and their parts ("Ludwigslust-Parchim",
        "Ludwigslust", "Parchim"): places, never people, for the personal-data check."""
        names: set[str] = set()
        for region in self.regions.values():
            for label in region.labels.values():
                for word in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", label):
                    names.update((word, *word.split("-")))
        return frozenset(names)

    def what(self, code: str) -> tuple[str, str]:
        """A kind of offer or a topic, as ("kind" | "topic", code)."""
        wanted = code.strip().lower()
        if wanted in self.offer_kinds:
            return "kind", wanted
        if wanted in self.topics:
            return "topic", wanted
        valid = ", ".join([*self.offer_kinds, *self.topics])
        raise DomainError("offers.unknown_what", what=code, valid=valid)

    def covers(self, member_region: str, target_region: str) -> bool:
        """Whether a member registered for `member_region` is responsible for `target_region`."""
        return member_region in (target_region, self.statewide_region)

    def distance(self, served: Iterable[str], region: str) -> int:
        """How far an offer serving `served` is from `region`: 0 when it serves the region (or
        the whole state, or the need is statewide), 1 when it serves a neighbour, 2 otherwise."""
        served = set(served)
        if region in served or self.statewide_region in served:
            return 0
        if region == self.statewide_region:
            return 0
        return 1 if served & set(self.neighbours.get(region, ())) else 2


def _add(table: dict[str, list[tuple[str, Place]]], key: str, kind: str, place: Place) -> None:
    entries = table.setdefault(key, [])
    if (kind, place) not in entries:
        entries.append((kind, place))


def _aliases(raw: object, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(a, str) and a.strip() for a in raw):
        raise NetworkFileError(f'{where}.aliases must be a list of names, e.g. ["JA"]')
    return tuple(a.strip() for a in raw)


def _places(raw: object, kind: str, pattern: re.Pattern[str]) -> dict[str, Place]:
    if not isinstance(raw, dict) or not raw:
        raise NetworkFileError(f"[{kind}] must list at least one entry")
    places: dict[str, Place] = {}
    for code, labels in raw.items():
        if not pattern.match(code):
            raise NetworkFileError(f"{kind}.{code}: code does not match {pattern.pattern}")
        if not isinstance(labels, dict) or not isinstance(labels.get("de"), str):
            raise NetworkFileError(f'{kind}.{code}: needs at least a German label `de = "…"`')
        places[code] = Place(
            code,
            {lang: str(labels[lang]) for lang in LANGUAGES if lang in labels},
            _aliases(labels.get("aliases"), f"{kind}.{code}"),
        )
    return places


def _optional(raw: object, kind: str) -> dict[str, Place]:
    return {} if raw is None else _places(raw, kind, _SLUG)


def _offer_kinds(raw: object) -> dict[str, OfferKind]:
    kinds = {}
    for code, place in _optional(raw, "offer_kinds").items():
        places = raw[code].get("places", False) if isinstance(raw, dict) else False
        if not isinstance(places, bool):
            raise NetworkFileError(f"offer_kinds.{code}.places must be true or false")
        kinds[code] = OfferKind(code, place.labels, place.aliases, places)
    return kinds


def _neighbours(raw: object, regions: dict[str, Place]) -> dict[str, tuple[str, ...]]:
    """Each region's neighbours; the relation is made symmetric."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise NetworkFileError("[neighbours] must map region codes to lists of region codes")
    pairs: dict[str, set[str]] = {code: set() for code in regions}
    for code, others in raw.items():
        if code not in regions or not isinstance(others, list):
            raise NetworkFileError(f"neighbours.{code}: must be a region with a list of regions")
        for other in others:
            if other not in regions or other == code:
                raise NetworkFileError(f"neighbours.{code}: {other!r} is not another region")
            pairs[code].add(other)
            pairs[other].add(code)
    return {code: tuple(r for r in regions if r in found) for code, found in pairs.items()}


def parse_network(text: str) -> Network:
    data = tomllib.loads(text)
    sectors = _places(data.get("sectors"), "sectors", _SLUG)
    regions = _places(data.get("regions"), "regions", _REGION_CODE)
    statewide = str(data.get("statewide_region", ""))
    if statewide not in regions:
        raise NetworkFileError("statewide_region must name one of the regions")
    return Network(
        str(data.get("name", "")),
        sectors,
        regions,
        statewide,
        offer_kinds=_offer_kinds(data.get("offer_kinds")),
        topics=_optional(data.get("topics"), "topics"),
        target_groups=_optional(data.get("target_groups"), "target_groups"),
        accessibility=_optional(data.get("accessibility"), "accessibility"),
        neighbours=_neighbours(data.get("neighbours"), regions),
    )


def load_network(path: Path | None = None) -> Network:
    """Load `path`, or the shipped network of Mecklenburg-Vorpommern."""
    if path is None:
        text = resources.files("bot").joinpath("network_mv.toml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    try:
        return parse_network(text)
    except tomllib.TOMLDecodeError as error:
        raise NetworkFileError(f"{path}: {error}") from None
