"""The offers file (TOML or CSV) that `cora-bot offers import` reads: parsed and checked against
the network's codes before anything is written."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel import Locale

from bot.network import Network

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_LIST_SEPARATORS = re.compile(r"[\s,;|]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FIELDS = (
    "id",
    "name",
    "kind",
    "topics",
    "target_groups",
    "languages",
    "accessibility",
    "regions",
    "contact",
    "hours",
    "places",
)
LIMITS = {"name": 200, "contact": 300, "hours": 200}


class OfferFileError(Exception):
    """The offers file is malformed; the message says where (meant for the operator)."""


LIST_FIELDS = ("topics", "target_groups", "languages", "accessibility", "regions")


@dataclass(frozen=True, kw_only=True)
class OfferFields:
    """What describes an offer, in the file and in the database alike."""

    code: str
    name: str
    kind: str
    topics: tuple[str, ...]
    target_groups: tuple[str, ...]
    languages: tuple[str, ...]
    accessibility: tuple[str, ...]
    regions: tuple[str, ...]
    contact: str = ""
    hours: str = ""


@dataclass(frozen=True, kw_only=True)
class OfferSpec(OfferFields):
    """One offer as the file describes it; `places` None: as its kind says."""

    places: bool | None = None


@cache
def known_languages() -> frozenset[str]:
    """ISO 639 codes Babel has a name for (de, en, ar, uk …)."""
    names = Locale("en").languages
    return frozenset(str(c) for c in names if re.fullmatch(r"[a-z]{2,3}", str(c)))


def language_code(raw: str) -> str | None:
    code = raw.strip().lower()
    return code if code in known_languages() else None


def load_offers(path: Path, network: Network) -> list[OfferSpec]:
    """Read a `.toml` or `.csv` offers file; every problem is named with the offer's id."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise OfferFileError(f"{path}: cannot be read ({error})") from None
    if path.suffix.lower() == ".csv":
        return parse_offers_csv(text, network)
    try:
        return parse_offers_toml(text, network)
    except tomllib.TOMLDecodeError as error:
        raise OfferFileError(f"{path}: {error}") from None


def parse_offers_toml(text: str, network: Network) -> list[OfferSpec]:
    data = tomllib.loads(text)
    entries = data.get("offer")
    if not isinstance(entries, list) or not entries:
        raise OfferFileError("the file must list offers as [[offer]] tables")
    unknown = set(data) - {"offer"}
    if unknown:
        raise OfferFileError(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    return _checked([_entry(raw, f"offer {n}") for n, raw in enumerate(entries, 1)], network)


def parse_offers_csv(text: str, network: Network) -> list[OfferSpec]:
    """A header row with the field names (any order; lists separated by spaces, commas,
    semicolons or |); comma- or semicolon-separated."""
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.DictReader(io.StringIO(text), dialect=dialect))
    if not rows:
        raise OfferFileError("the file has no offers (a header row and one row per offer)")
    unknown = set(rows[0]) - set(FIELDS)
    if unknown:
        raise OfferFileError(f"unknown columns: {', '.join(sorted(str(u) for u in unknown))}")
    entries = []
    for number, row in enumerate(rows, 2):
        raw: dict[str, object] = {k: v for k, v in row.items() if v not in (None, "")}
        if "places" in raw:
            raw["places"] = str(raw["places"]).strip().lower() in ("1", "true", "yes", "ja")
        entries.append(_entry(raw, f"line {number}"))
    return _checked(entries, network)


def _entry(raw: object, where: str) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise OfferFileError(f"{where}: must be a table of fields")
    unknown = set(raw) - set(FIELDS)
    if unknown:
        raise OfferFileError(f"{where}: unknown fields {', '.join(sorted(unknown))}")
    return {"_where": where, **raw}


def _list(value: object, where: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items = [item for item in _LIST_SEPARATORS.split(value) if item]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = [item.strip() for item in value if item.strip()]
    else:
        raise OfferFileError(f"{where}: {name} must be a list of codes")
    return tuple(dict.fromkeys(items))


def _text(value: object, where: str, name: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise OfferFileError(f"{where}: {name} must be a text")
    text = " ".join(value.split())
    if _CONTROL.search(text) or len(text) > LIMITS.get(name, 200):
        raise OfferFileError(f"{where}: {name} is longer than {LIMITS.get(name, 200)} characters")
    return text


def _codes(values: tuple[str, ...], valid: object, where: str, name: str) -> tuple[str, ...]:
    allowed = list(valid)  # type: ignore[call-overload]
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise OfferFileError(
            f"{where}: unknown {name} {', '.join(wrong)} (valid: {', '.join(allowed)})"
        )
    return values


def _checked(entries: list[dict[str, object]], network: Network) -> list[OfferSpec]:
    specs: list[OfferSpec] = []
    seen: set[str] = set()
    for entry in entries:
        where = str(entry["_where"])
        code = entry.get("id")
        if not isinstance(code, str) or not _CODE.match(code.strip()):
            raise OfferFileError(f"{where}: id must be a short code (a-z, 0-9, _ and -)")
        code = code.strip()
        where = f"{where} ({code})"
        if code in seen:
            raise OfferFileError(f"{where}: the id is used twice")
        seen.add(code)
        kind = entry.get("kind")
        if not isinstance(kind, str) or kind not in network.offer_kinds:
            valid = ", ".join(network.offer_kinds)
            raise OfferFileError(f"{where}: unknown kind {kind!r} (valid: {valid})")
        regions = _codes(
            tuple(r.upper() for r in _list(entry.get("regions"), where, "regions")),
            network.regions,
            where,
            "regions",
        )
        if not regions:
            raise OfferFileError(f"{where}: regions must name at least one region served")
        languages = tuple(
            code.lower() for code in _list(entry.get("languages"), where, "languages")
        )
        wrong = [language for language in languages if language_code(language) is None]
        if wrong:
            raise OfferFileError(
                f"{where}: unknown languages {', '.join(wrong)} (ISO 639 codes: de, en, ar …)"
            )
        places = entry.get("places")
        if places is not None and not isinstance(places, bool):
            raise OfferFileError(f"{where}: places must be true or false")
        specs.append(
            OfferSpec(
                code=code,
                name=_text(entry.get("name"), where, "name", required=True),
                kind=kind,
                topics=_codes(
                    _list(entry.get("topics"), where, "topics"), network.topics, where, "topics"
                ),
                target_groups=_codes(
                    _list(entry.get("target_groups"), where, "target_groups"),
                    network.target_groups,
                    where,
                    "target groups",
                ),
                languages=languages or ("de",),
                accessibility=_codes(
                    _list(entry.get("accessibility"), where, "accessibility"),
                    network.accessibility,
                    where,
                    "accessibility",
                ),
                regions=regions,
                contact=_text(entry.get("contact"), where, "contact"),
                hours=_text(entry.get("hours"), where, "hours"),
                places=places,
            )
        )
    return specs
