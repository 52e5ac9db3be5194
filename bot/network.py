"""The network's sectors and regions: data loaded from a TOML file, not code."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
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
class Network:
    """Sectors and regions of one coordination network."""

    name: str
    sectors: dict[str, Place]
    regions: dict[str, Place]
    statewide_region: str

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

    def covers(self, member_region: str, target_region: str) -> bool:
        """Whether a member registered for `member_region` is responsible for `target_region`."""
        return member_region in (target_region, self.statewide_region)


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


def parse_network(text: str) -> Network:
    data = tomllib.loads(text)
    sectors = _places(data.get("sectors"), "sectors", _SLUG)
    regions = _places(data.get("regions"), "regions", _REGION_CODE)
    statewide = str(data.get("statewide_region", ""))
    if statewide not in regions:
        raise NetworkFileError("statewide_region must name one of the regions")
    return Network(str(data.get("name", "")), sectors, regions, statewide)


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
