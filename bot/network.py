"""The network's sectors and regions, and the words of its support system (kinds of offers,
topics, target groups, accessibility) and which regions neighbour which: data loaded from a TOML
file, not code."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bot.errors import DomainError

_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_REGION_CODE = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
LANGUAGES = ("de", "en")


class NetworkFileError(Exception):
    """The network file is malformed; the message says where."""


@dataclass(frozen=True)
class Place:
    """A sector or a region: a short code and a label per language."""

    code: str
    labels: dict[str, str]

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels["de"]


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
        place = self.sectors.get(code.strip().lower())
        if place is None:
            raise DomainError("error.unknown_sector", sector=code, valid=", ".join(self.sectors))
        return place

    def region(self, code: str) -> Place:
        place = self.regions.get(code.strip().upper())
        if place is None:
            raise DomainError("error.unknown_region", region=code, valid=", ".join(self.regions))
        return place

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
            code, {lang: str(labels[lang]) for lang in LANGUAGES if lang in labels}
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
        kinds[code] = OfferKind(code, place.labels, places)
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
