"""Find what looks like personal data (phone, e-mail, IBAN, dates, addresses) in an alert text."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

__all__ = ["Finding", "Kind", "find_personal_data"]


class Kind(StrEnum):
    """What a finding looks like."""

    PHONE = "phone"
    EMAIL = "email"
    BIRTH_DATE = "birth_date"
    DATE = "date"
    STREET_ADDRESS = "street_address"
    IBAN = "iban"


@dataclass(frozen=True)
class Finding:
    """A stretch of the text that looks like personal data.

    `start` and `end` index the original text (code points, not Telegram's UTF-16 units), so
    `text[start:end] == excerpt`. `blocking` means the sender must rephrase; otherwise the
    finding may be harmless and the sender may confirm it.
    """

    kind: Kind
    start: int
    end: int
    excerpt: str
    blocking: bool


def find_personal_data(text: str) -> list[Finding]:
    """All findings in `text`, sorted by start and not overlapping."""
    normal, origin = _normalise(text)
    candidates = [
        *_emails(normal),
        *_ibans(normal),
        *_phones(normal),
        *_dates(normal),
        *_streets(normal),
        *_postcode_towns(normal),
        *_english_streets(normal),
    ]
    findings = []
    for candidate in _join_addresses(normal, _resolve_overlaps(candidates)):
        start, end = candidate.start, candidate.end
        if origin is not None:
            # Invisible characters inside the match stay in the excerpt; those around it do not.
            start, end = origin[start], origin[end - 1] + 1
        findings.append(Finding(candidate.kind, start, end, text[start:end], candidate.blocking))
    return findings


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


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """The text to match against and, if characters were dropped, where each one came from."""
    mapped = text.translate(_LOOKALIKES)
    if mapped.isascii() or _INVISIBLE.isdisjoint(mapped):
        return mapped, None
    origin = [i for i, char in enumerate(mapped) if char not in _INVISIBLE]
    return "".join(mapped[i] for i in origin), origin


class _Candidate(NamedTuple):
    start: int
    end: int
    kind: Kind
    blocking: bool


# Where two patterns claim the same text, the more specific kind names the finding.
_PRIORITY = {
    Kind.EMAIL: 0,
    Kind.IBAN: 1,
    Kind.BIRTH_DATE: 2,
    Kind.PHONE: 3,
    Kind.STREET_ADDRESS: 4,
    Kind.DATE: 5,
}


def _resolve_overlaps(candidates: list[_Candidate]) -> list[_Candidate]:
    """Overlapping candidates become one finding over their union, blocking if any of them is:
    resolving an overlap must never hide or soften what another pattern found."""
    resolved: list[_Candidate] = []
    group: list[_Candidate] = []
    group_end = -1
    for candidate in sorted(candidates):
        if group and candidate.start >= group_end:
            resolved.append(_union(group))
            group = []
        group.append(candidate)
        group_end = max(group_end, candidate.end)
    if group:
        resolved.append(_union(group))
    return resolved


def _union(group: Sequence[_Candidate]) -> _Candidate:
    if len(group) == 1:
        return group[0]
    best = min(group, key=lambda c: (not c.blocking, _PRIORITY[c.kind]))  # blocking ones first
    return _Candidate(group[0].start, max(c.end for c in group), best.kind, best.blocking)


# "Dorfstraße 9, 18055 Rostock" is one address, not a street and a town.
_POSTCODE_START = re.compile(r"(?:D-[ ]?)?[0-9]")
_ADDRESS_GAP = re.compile(r"[ ,;]{0,3}\n?[ ]?(?:in[ ])?")


def _join_addresses(text: str, candidates: list[_Candidate]) -> list[_Candidate]:
    joined: list[_Candidate] = []
    for candidate in candidates:
        if (
            joined
            and candidate.kind is Kind.STREET_ADDRESS
            and joined[-1].kind is Kind.STREET_ADDRESS
            and _POSTCODE_START.match(text, candidate.start)
            and _ADDRESS_GAP.fullmatch(text, joined[-1].end, candidate.start)
        ):
            previous = joined.pop()
            candidate = _Candidate(previous.start, candidate.end, candidate.kind, True)
        joined.append(candidate)
    return joined


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- E-mail -------------------------------------------------------------------------------------

_AT = r"(?:@|[ ]?[\[(]at[\])][ ]?)"  # also "name (at) example (dot) de"
_DOT = r"(?:\.|[ ]?[\[(](?:dot|punkt)[\])][ ]?)"
# Possessive quantifiers and the lookbehind keep this linear on long runs without an "@".
_EMAIL = re.compile(
    rf"""
    (?<![\w.+-])
    [\w.+-]{{1,64}}+ {_AT}
    (?:[\w-]{{1,63}}+ {_DOT}){{1,8}}
    [^\W\d_]{{2,24}}+ (?![\w-])
    """,
    re.VERBOSE | re.IGNORECASE,
)


def _emails(text: str) -> Iterator[_Candidate]:
    for match in _EMAIL.finditer(text):
        yield _Candidate(match.start(), match.end(), Kind.EMAIL, True)


# --- IBAN ---------------------------------------------------------------------------------------

_IBAN = re.compile(
    r"(?<!\w)[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?(?!\w)",
    re.IGNORECASE,
)
# IBAN lengths of the ISO 13616 registry; only needed to recognise an IBAN with a typo.
_IBAN_LENGTHS = {
    **dict.fromkeys(("NO",), 15),
    **dict.fromkeys(("BE",), 16),
    **dict.fromkeys(("DK", "FI", "FK", "FO", "GL", "NL", "SD"), 18),
    **dict.fromkeys(("MK", "SI"), 19),
    **dict.fromkeys(("AT", "BA", "EE", "KZ", "LT", "LU", "MN", "XK"), 20),
    **dict.fromkeys(("CH", "HR", "LI", "LV"), 21),
    **dict.fromkeys(("BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA"), 22),
    **dict.fromkeys(("AE", "GI", "IL", "IQ", "OM", "SO", "TL"), 23),
    **dict.fromkeys(("AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"), 24),
    **dict.fromkeys(("LY", "PT", "ST"), 25),
    **dict.fromkeys(("IS", "TR"), 26),
    **dict.fromkeys(("BI", "DJ", "FR", "GR", "IT", "MC", "MR", "SM"), 27),
    **dict.fromkeys(("AL", "AZ", "BY", "CY", "DO", "GT", "HN", "HU", "LB", "NI", "PL", "SV"), 28),
    **dict.fromkeys(("BR", "EG", "PS", "QA", "UA"), 29),
    **dict.fromkeys(("JO", "KW", "MU", "YE"), 30),
    **dict.fromkeys(("MT", "SC"), 31),
    **dict.fromkeys(("LC",), 32),
    **dict.fromkeys(("RU",), 33),
}


def _ibans(text: str) -> Iterator[_Candidate]:
    position = 0
    while match := _IBAN.search(text, position):
        candidate = _iban_candidate(match)
        if candidate is not None:
            yield candidate
        # "KW12 DE89 3704 …": what is no valid IBAN may run on into one, so look inside it again.
        position = candidate.end if candidate and candidate.blocking else match.start() + 1


def _iban_candidate(match: re.Match[str]) -> _Candidate | None:
    raw = match.group()
    compact = raw.replace(" ", "").upper()
    expected = _IBAN_LENGTHS.get(compact[:2])
    # Under IGNORECASE, [A-Z] also matches "ſ" and the Kelvin sign.
    if expected is None or not compact.isascii() or not expected <= len(compact) <= 34:
        return None
    # The pattern may have run on into a following short word: try the full match first.
    # Right country and length but a wrong checksum is most likely a typo: still a finding.
    valid = [n for n in (len(compact), expected) if _iban_checksum_ok(compact[:n])]
    length = valid[0] if valid else expected
    if not valid and sum(char.isalpha() for char in compact[4:length]) > 4:
        return None  # no account number has that many letters
    end = match.start() + [i for i, char in enumerate(raw) if char != " "][length - 1] + 1
    return _Candidate(match.start(), end, Kind.IBAN, bool(valid))


def _iban_checksum_ok(iban: str) -> bool:
    """ISO 13616 / ISO 7064 mod 97-10."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# --- Phone --------------------------------------------------------------------------------------

# Digit groups after the first: separators are required between groups and every repeat is
# bounded, so a match attempt never backtracks far.
_DIGIT_GROUPS = r"""
    (?:
        (?:[ ]?[/-][ ]?|[ ]|\.|(?<=\)))     # no separator is needed after ")"
        (?:\([0-9]{1,5}\)|[0-9]{1,10})
    ){0,9}
    (?!\w)(?![.,/-]?[0-9])                  # not followed by more digits
"""
# "+49 (0)381 123456", "(0381) 12345", "0381/12 34 56": a number that starts like a phone number.
_PHONE = re.compile(
    r"""
    (?<![\w+])(?<![\w][/-])(?<![0-9][.,])   # not the tail of a word, a reference or a number
    (?:\+[0-9]{1,14}|\(\+[0-9]{1,4}\)|\(0[0-9]{2,5}\)|0[0-9]{2,13})
    """
    + _DIGIT_GROUPS,
    re.VERBOSE,
)
_PHONE_KEYWORD = r"""
    \b(?:tel(?:efon)?|telephone|phone|fon|handy|mobil|mobile|cell|fax|whats[ ]?app|signal
       |telefonnummer|handynummer|mobilnummer|rufnummer|phone[ ]number)
    \.?(?:[ -]?(?:nr|no|nummer|number)\.?)?[ ]?[:.]?[ ]*
"""
_PHONE_CONTEXT = re.compile(_PHONE_KEYWORD + r"\Z", re.VERBOSE | re.IGNORECASE)
# Right after a phone keyword, a number is a phone number even without an area code.
_KEYWORD_PHONE = re.compile(
    _PHONE_KEYWORD + r"(?P<number>[1-9][0-9]{0,9}" + _DIGIT_GROUPS + ")",
    re.VERBOSE | re.IGNORECASE,
)
# Right after one of these words, a number is a reference, not a phone number.
_REFERENCE_CONTEXT = re.compile(
    r"""
    \b(?:az|aktenzeichen|gz|geschäftszeichen|tgb|tagebuch|vorgang|ticket|ref|reference|case|file
       |(?:vorgangs|fall|kunden|rechnungs|tagebuch|einsatz|bearbeitungs|mitglieds|akten)(?:nummer|nr))
    \.?(?:[ -]?(?:nr|no|nummer|number)\.?)?[ ]?[:.]?[ ]*\Z
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Right after "DE89 3704 ", digits are the rest of something shaped like an IBAN.
_INSIDE_IBAN = re.compile(r"(?<!\w)[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4})+[ ]\Z", re.IGNORECASE)
_TIME_AFTER = re.compile(r"[ ]?(?:uhr|h)\b", re.IGNORECASE)  # "0800-1200 Uhr" are opening hours
# Service numbers reach organisations (freephone, shared-cost, premium), not a private line.
_SERVICE_PREFIXES = ("0800", "0180", "0900")


def _phones(text: str) -> Iterator[_Candidate]:
    position = 0
    while match := _PHONE.search(text, position):
        blocking = _phone_blocking(text, match)
        if blocking is not None:
            yield _Candidate(match.start(), match.end(), Kind.PHONE, blocking)
        # What is no phone number, or only weakly one, may run on into one: look inside it again.
        position = match.end() if blocking else match.start() + 1
    for match in _KEYWORD_PHONE.finditer(text):
        digits = _digits(match.group("number"))
        # The harmonised helplines 116 xxx ("Hilfetelefon Gewalt gegen Frauen" 116 016) are no
        # personal data, even after "Telefon".
        helpline = len(digits) == 6 and digits.startswith("116")
        if len(digits) >= 5 and not helpline and not _TIME_AFTER.match(text, match.end()):
            yield _Candidate(match.start("number"), match.end(), Kind.PHONE, True)


def _phone_blocking(text: str, match: re.Match[str]) -> bool | None:
    """True for a phone number, False for a weak or service number, None for no phone number."""
    raw = match.group().lstrip("(")
    digits = _digits(raw)
    if len(digits) < 7 or _TIME_AFTER.match(text, match.end()):
        return None
    window = (text, max(0, match.start() - 40), match.start())
    keyword = _PHONE_CONTEXT.search(*window) is not None
    if not keyword and (_REFERENCE_CONTEXT.search(*window) or _INSIDE_IBAN.search(*window)):
        return None
    if raw.startswith(("+", "00")):
        digits = _digits(raw.replace("(0)", "")).removeprefix("00")
        if len(digits) < 8 or digits.startswith("0"):
            return None
        return not ("0" + digits[2:]).startswith(_SERVICE_PREFIXES) if digits[:2] == "49" else True
    if digits.startswith(_SERVICE_PREFIXES):
        return False
    # Seven or eight digits may be a small town's number, or something else entirely.
    return len(digits) >= 9 or keyword


def _digits(text: str) -> str:
    return "".join(char for char in text if "0" <= char <= "9")


# --- Dates --------------------------------------------------------------------------------------

_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)[0-9]{2}"
_MONTH_NAMES = _words(
    """
    Januar Jänner Februar Feber März Maerz April Mai Juni Juli August September Oktober November
    Dezember Jan Feb Mär Mrz Apr Jun Jul Aug Sep Sept Okt Nov Dez
    January February March May June July October December Mar Oct Dec
    """
)
_MONTH_NAME = "(?:" + "|".join(sorted(_MONTH_NAMES, key=len, reverse=True)) + r")\b\.?"
_DATE = re.compile(
    rf"""
    (?<![\w,/-])(?<![0-9]\.)                # not the tail of a number; "geb.12.3.85" is fine
    (?:
        {_DAY}(?P<sep>[./-]){_MONTH}(?P=sep)(?:{_YEAR}|[0-9]{{2}})      # 12.03.1985, 12.3.85
      | {_MONTH}/{_DAY}/{_YEAR}                                        # 03/12/1985
      | {_YEAR}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])            # 1985-03-12
      | {_DAY}(?:\.|st|nd|rd|th)?[ ]?(?:of[ ])?{_MONTH_NAME},?[ ]?{_YEAR}  # 12. März 1985
      | {_MONTH_NAME}[ ]?{_DAY}(?:st|nd|rd|th)?,?[ ]{_YEAR}             # March 12, 1985
    )
    (?![0-9]|[.,/-][0-9])
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Words right before a date that make it a birth date.
_BIRTH_CONTEXT = re.compile(
    r"""
    (?:
        \bgeb(?:oren|\.|\b)
      | \bgeburts(?:datum|tag)\b
      | \bgeb\.?[ -]?dat(?:um\b|\.|\b)
      | \bborn\b | \bdob\b | \bd\.[ ]?o\.[ ]?b\. | \bdate[ ]of[ ]birth\b | \bbirth[ ]?(?:date|day)\b
      | \*
    )
    [ :,.]*(?:(?:am|on|den|the)[ ]+){0,2}\(?
    \Z
    """,
    re.VERBOSE | re.IGNORECASE,
)


def _dates(text: str) -> Iterator[_Candidate]:
    for match in _DATE.finditer(text):
        start = match.start()
        if _BIRTH_CONTEXT.search(text, max(0, start - 40), start):
            yield _Candidate(start, match.end(), Kind.BIRTH_DATE, True)
        else:
            yield _Candidate(start, match.end(), Kind.DATE, False)


# --- Street addresses ---------------------------------------------------------------------------

_LETTER = r"[^\W\d_]"
_WORD = rf"{_LETTER}(?:{_LETTER}|['’-])*+\.?"
# Up to six words and the house number after them; which of the words belong to the street
# name is decided in Python (_street_start), where the rules are easier to read than in a regex.
_STREET_CANDIDATE = re.compile(
    rf"""
    (?<![\w.'’-])
    (?P<words>(?:{_WORD}[ ]){{0,5}}{_WORD})
    [ ]?
    [1-9][0-9]{{0,2}}(?:[ ]?[a-z](?!\w))?                            # 12, 12a, 12 a
    (?:[ ]?[-/][ ]?[1-9][0-9]{{0,2}}(?:[a-z](?!\w))?)?               # 5-7, 12/14
    (?!\w)(?![.,/:-]?[0-9])
    (?![ ][0-9]{{2,4}}(?![0-9]))                                    # "116 016" is no house
    """,
    re.VERBOSE | re.IGNORECASE,
)
_TOKEN = re.compile(r"\S+")
# A number followed by a unit or a counted noun is a quantity, not a house number.
_UNIT_AFTER = re.compile(
    r"[ -]?(?:%|€|\$|prozent|euro|eur|uhr|h|std|min|sek|km|m|cm|mm|kg|g|x|mal|j"
    r"|jahre?n?|jährig\w*|monate?n?|wochen?|tage?n?|stunden?|minuten?|sekunden?)(?![^\W\d_])",
    re.IGNORECASE,
)
_NEXT_WORD = re.compile(rf"[ ]({_LETTER}+)")
_COUNTED = _words(
    """
    personen kinder kindern frauen männer mädchen jungen jugendliche jugendlichen erwachsene
    menschen leute fälle fällen euro eur jahre jahren monate monaten wochen tage tagen stunden
    minuten meter kilometer anrufe termine plätze wohnungen geschwister täter opfer betroffene
    einwohner einwohnern mitglieder teilnehmer teilnehmende besucher beratungen meldungen
    anzeigen straftaten delikte familien haushalte exemplare stück seiten punkte nachrichten
    kontakte fachkräfte mitarbeitende schüler schülerinnen klienten klientinnen einsätze
    people children women men years months weeks days hours minutes times cases
    """
)
_STREET_SUFFIXES = (
    "straße", "strasse", "str", "weg", "allee", "platz", "gasse", "ring", "damm", "ufer",
    "chaussee", "steig", "pfad", "markt", "wall", "hof", "berg", "weide", "graben", "kamp",
    "twiete", "koppel", "redder", "deich", "brink", "promenade", "siedlung", "blick", "hain",
    "werder", "wiese",
)  # fmt: skip
_STREET_WORDS = frozenset(_STREET_SUFFIXES)
_NOT_STREET_ENDINGS = ("aufer", "äufer")  # Läufer, Käufer, not Ufer
# Nouns often followed by a number that are not street names ("Im Raum 12", "auf Seite 4"),
# among them compounds with a street suffix.
_NOT_STREETS = _words(
    """
    arbeitsplatz parkplatz stellplatz sitzplatz spielplatz schlafplatz kitaplatz krippenplatz
    therapieplatz studienplatz ausbildungsplatz listenplatz wohnplatz bahnsteig firewall
    überblick rückblick ausblick einblick augenblick anblick umweg ausweg rückweg heimweg
    schulweg arbeitsweg rechtsweg dienstweg hinweg vorweg durchweg gering
    paragraph paragraf fall raum seite kapitel artikel absatz abs abschnitt nummer nr ziffer
    punkt anlage anhang zimmer etage stock stockwerk geschoss klasse stufe woche tag jahr monat
    stunde minute sekunde teil band folie frage antwort gruppe termin runde gleis linie bus zug
    tabelle abbildung abb version akte haus ende anfang beginn schluss mitte alter zeile spalte
    schritt modul level phase team bereich kurs lektion zeitpunkt uhr jahrgang kategorie
    position rang station zelle trakt bett saal halle gebäude wohnung staffel folge episode
    heft ausgabe höhe morgen abend nachmittag vormittag mittag nacht wochenende schuljahr
    montag dienstag mittwoch donnerstag freitag samstag sonntag
    januar februar märz april mai juni juli august september oktober november dezember
    """
)
_PREPOSITIONS = _words(
    "am an auf im in zum zur zu hinter hinterm unter unterm vor vorm beim bei über überm achter ob"
)
_ARTICLES = _words("der den dem die das des de")
_GENITIVE_ARTICLES = _words("der des dem zum zur am vom")
_FUNCTION_WORDS = (
    _words(
        """
        der die das den dem des ein eine einen einem einer eines kein keine keinen keinem
        mein meine meinen dein deine sein seine seinen ihr ihre ihren unser unsere euer eure
        dieser diese dieses diesen diesem jeder jede jedes jeden jedem alle beide viele einige
        und oder aber sowie bis von vom mit nach seit aus für gegen ohne um durch zwischen
        neben ab ca etwa nur noch schon wieder immer auch hier dort wer wo wie was nicht
        sie er es wir ich du man
        the a of at on to and or
        """
    )
    | _PREPOSITIONS
)
_NOT_NAMES = _FUNCTION_WORDS | _NOT_STREETS


def _streets(text: str) -> Iterator[_Candidate]:
    for match in _STREET_CANDIDATE.finditer(text):
        end = match.end()
        if _UNIT_AFTER.match(text, end) or _counted_after(text, end):
            continue
        offset = match.start("words")
        tokens = [(t.group(), offset + t.start()) for t in _TOKEN.finditer(match.group("words"))]
        first = _street_start([word for word, _ in tokens])
        if first is not None:
            yield _Candidate(tokens[first][1], end, Kind.STREET_ADDRESS, True)


def _counted_after(text: str, end: int) -> bool:
    word = _NEXT_WORD.match(text, end)
    return word is not None and word.group(1).lower() in _COUNTED


def _street_start(words: list[str]) -> int | None:
    """Index of the word the street name starts with, or None if the number is no house number."""
    for i in range(len(words) - 2, -1, -1):
        if words[i].endswith(".") and len(words[i]) > 4:  # "Haushalt." ends a sentence, "St." not
            start = _street_start(words[i + 1 :])
            return None if start is None else i + 1 + start
    last = len(words) - 1
    while last >= 0 and _bare(words[last]) in ("nr", "no", "hausnr", "hausnummer"):
        last -= 1  # "Musterstraße Nr. 12"
    if last < 0:
        return None
    key = _bare(words[last])
    if key in _NOT_STREETS:
        return None
    if _is_street_compound(key):  # Musterstraße 12, Alte Dorfstraße 3, musterstr. 12
        first = last
        while first > 0 and last - first < 2 and _is_adjective(words[first - 1]):
            first -= 1
        before = first - 2 if first > 1 and _bare(words[first - 1]) in _ARTICLES else first - 1
        if before >= 0 and _bare(words[before]) in _PREPOSITIONS and _capitalised(words[before]):
            return before  # "Am Rosenweg 3", "An der Alten Mühlenstraße 2"
        return first
    for i in range(last - 2, max(-1, last - 5), -1):  # Straße des Friedens 12
        if (
            _bare(words[i]) in _STREET_WORDS
            and _capitalised(words[i])
            and _bare(words[i + 1]) in _GENITIVE_ARTICLES
            and all(_capitalised(word) for word in words[i + 2 : last + 1])
        ):
            return i
    for i in range(last - 1, max(-1, last - 5), -1):  # Am Markt 3, An der Kirche 5
        if _bare(words[i]) in _PREPOSITIONS:
            names = words[i + 1 : last + 1]
            if names and _bare(names[0]) in _ARTICLES:
                names = names[1:]
            if not 1 <= len(names) <= 3 or [_bare(n) for n in names] == ["platz"]:
                return None  # "auf Platz 2" is a ranking
            if all(_capitalised(name) and _bare(name) not in _NOT_STREETS for name in names):
                return i
            return None
    if key in _STREET_WORDS and _capitalised(words[last]):  # Lange Str. 5-7, Neuer Markt 3
        first = last
        while first > 0 and last - first < 2 and _is_name(words[first - 1]):
            first -= 1
        if first < last:
            return first
    return None


def _bare(word: str) -> str:
    return word.rstrip(".").lower()


def _capitalised(word: str) -> bool:
    return word[0].isupper()


def _is_street_compound(key: str) -> bool:
    return any(
        key.endswith(suffix) and len(key) >= len(suffix) + 2 for suffix in _STREET_SUFFIXES
    ) and not key.endswith(_NOT_STREET_ENDINGS)


def _is_name(word: str) -> bool:
    return _capitalised(word) and _bare(word) not in _NOT_NAMES


def _is_adjective(word: str) -> bool:
    return _is_name(word) and _bare(word).endswith(("e", "er", "es", "en"))


# German postal code and town: "18055 Rostock", "D-17489 Greifswald", "06108 Halle (Saale)".
_POSTCODE_TOWN = re.compile(
    rf"""
    (?<![\w.,/-])(?:D-[ ]?)?
    (?:0[1-9]|[1-9][0-9])[0-9]{{3}}
    [ ]
    (?P<town>[A-ZÄÖÜ]{_LETTER}{{1,40}}+(?:-{_LETTER}{{2,40}}+){{0,3}})
    (?:[ ]\({_LETTER}{{2,30}}+\))?
    (?!\w)
    """,
    re.VERBOSE,
)


def _postcode_towns(text: str) -> Iterator[_Candidate]:
    for match in _POSTCODE_TOWN.finditer(text):
        if match.group("town").lower() not in _COUNTED:  # "12000 Euro", "18000 Menschen"
            yield _Candidate(match.start(), match.end(), Kind.STREET_ADDRESS, True)


# English addresses put the number first: "221B Baker Street", "12 Main St."
_ENGLISH_STREET = re.compile(
    r"""
    (?<![\w.,/-])
    [1-9][0-9]{0,4}[A-Za-z]?,?[ ]
    (?:[A-Z][a-z'’-]+[ ]){1,3}
    (?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Way|Close|Court|Place|Square|Crescent
       |Terrace|Boulevard|Blvd|Gardens|Grove|Row|Mews|Parade)\b\.?
    """,
    re.VERBOSE,
)


def _english_streets(text: str) -> Iterator[_Candidate]:
    for match in _ENGLISH_STREET.finditer(text):
        yield _Candidate(match.start(), match.end(), Kind.STREET_ADDRESS, True)
