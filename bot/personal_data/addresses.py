"""Street addresses, postal codes with towns, and licence plates."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.personal_data._common import Candidate, Kind, words

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
_COUNTED = words(
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
_NOT_STREETS = words(
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
_PREPOSITIONS = words(
    "am an auf im in zum zur zu hinter hinterm unter unterm vor vorm beim bei über überm achter ob"
)
_ARTICLES = words("der den dem die das des de")
_GENITIVE_ARTICLES = words("der des dem zum zur am vom")
_FUNCTION_WORDS = (
    words(
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


def streets(text: str) -> Iterator[Candidate]:
    for match in _STREET_CANDIDATE.finditer(text):
        end = match.end()
        if _UNIT_AFTER.match(text, end) or _counted_after(text, end):
            continue
        offset = match.start("words")
        tokens = [(t.group(), offset + t.start()) for t in _TOKEN.finditer(match.group("words"))]
        number = text[match.end("words") : end].strip()
        first = _street_start([word for word, _ in tokens], number in ("110", "112"))
        if first is not None:
            yield Candidate(tokens[first][1], _floor_end(text, end), Kind.STREET_ADDRESS, True)
    for match in _NUMBER_FIRST.finditer(text):  # "Haus Nr. 12 in der Fritz-Reuter-Straße"
        if _is_street_compound(_bare(match.group("street"))):
            yield Candidate(match.start(), match.end(), Kind.STREET_ADDRESS, True)


_NUMBER_FIRST = re.compile(
    rf"""
    \b(?:nr\.?|nummer|hausnummer)[ ]?[1-9][0-9]{{0,2}}[a-z]?,?[ ]
    (?:in[ ]der|in[ ]dem|im|am|an[ ]der|auf[ ]der)[ ](?P<street>{_WORD})
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Floor and flat after an address: "3. OG links", "EG", "Whg. 3", "Hinterhaus".
_FLOOR = re.compile(
    r"""
    [ ]?[,/]?[ ]?
    (?:[0-9]{1,2}\.?[ ]?(?:og|obergeschoss|etage|stock|stockwerk|floor)
      |eg|dg|erdgeschoss|dachgeschoss|souterrain|hinterhaus|vorderhaus|seitenflügel
      |(?:whg|wohnung|apt|flat)\.?[ ]?[0-9]{1,3}[a-z]?
    )\b
    (?:[ ,]{1,2}(?:links|rechts|mitte|(?:li|re)\b\.?)(?!\w))?
    """,
    re.VERBOSE | re.IGNORECASE,
)


def _floor_end(text: str, end: int) -> int:
    for _ in range(3):
        match = _FLOOR.match(text, end)
        if match is None:
            break
        end = match.end()
    return end


def _counted_after(text: str, end: int) -> bool:
    word = _NEXT_WORD.match(text, end)
    return word is not None and word.group(1).lower() in _COUNTED


def _street_start(words: list[str], emergency: bool = False) -> int | None:
    """Index of the word the street name starts with, or None if the number is no house number.

    `emergency`: the number is 110 or 112, after a preposition the emergency number ("bei
    Verletzungen 112"), not a house number."""
    for i in range(len(words) - 2, -1, -1):
        if words[i].endswith(".") and len(words[i]) > 4:  # "Haushalt." ends a sentence, "St." not
            start = _street_start(words[i + 1 :], emergency)
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
        if _bare(words[i]) in _PREPOSITIONS and not emergency:
            names = words[i + 1 : last + 1]
            if names and _bare(names[0]) in _ARTICLES:
                names = names[1:]
            if not 1 <= len(names) <= 3 or [_bare(n) for n in names] == ["platz"]:
                return None  # "auf Platz 2" is a ranking
            if all(_capitalised(name) and _bare(name) not in _NOT_STREETS for name in names):
                return i
            break  # "im Haus Lange Straße 5": the street may still start after the preposition
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


def postcode_towns(text: str) -> Iterator[Candidate]:
    for match in _POSTCODE_TOWN.finditer(text):
        if match.group("town").lower() not in _COUNTED:  # "12000 Euro", "18000 Menschen"
            yield Candidate(match.start(), match.end(), Kind.STREET_ADDRESS, True)


# English addresses put the number first: "221B Baker Street", "12 Main St."
_ENGLISH_STREET = re.compile(
    r"""
    [1-9](?<![\w.,/-].)
    [0-9]{0,4}[A-Za-z]?,?[ ]
    (?:[A-Z][a-z'’-]+[ ]){1,3}
    (?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Way|Close|Court|Place|Square|Crescent
       |Terrace|Boulevard|Blvd|Gardens|Grove|Row|Mews|Parade)\b\.?
    """,
    re.VERBOSE,
)


def english_streets(text: str) -> Iterator[Candidate]:
    for match in _ENGLISH_STREET.finditer(text):
        yield Candidate(match.start(), match.end(), Kind.STREET_ADDRESS, True)


# --- Licence plates -----------------------------------------------------------------------------

# German plates: district code (1-3 letters), 1-2 letters, 1-4 digits, "E" (electric) or "H"
# (historic) at the end. Written in capitals they are found anywhere; in any other case only
# after a word that announces them ("Kennzeichen hro-mk 456").
_PLATE = r"[A-ZÄÖÜ]{1,3}(?:-[ ]?|[ ])[A-Z]{1,2}[ -]?[1-9][0-9]{0,3}[EH]?"
# The first capital before the lookbehind, so that re scans for it in C.
_CAPITAL_PLATE = re.compile(
    r"(?P<plate>[A-ZÄÖÜ](?<![\w§-].)[A-ZÄÖÜ]{0,2}(?:-[ ]?|[ ])[A-Z]{1,2}[ -]?[1-9][0-9]{0,3}[EH]?)"
    r"(?![\w-])"
)
_PLATE_WORDS = ("kennz", "nummernschild", "kfz", "registration", "plate")
_ANNOUNCED_PLATE = re.compile(
    rf"""
    \b(?:kennzeichen|kennz|kfz-kennzeichen|amtliches[ ]kennzeichen|nummernschild|kfz
       |registration|number[ ]plate|licen[cs]e[ ]plate|plate)
    \.?[ ]?:?[ ]?(?P<plate>{_PLATE})(?![\w-])
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Capitals that look like a plate but are abbreviations: "SGB V 12", "M-V 2026".
_NOT_DISTRICTS = words("SGB SOG GG BGB STGB ISO DIN EU UN ABS NR ART KW AZ")
_NOT_PLATES = words("M-V MV")


def plates(text: str) -> Iterator[Candidate]:
    lower = text.lower()
    announced = any(word in lower for word in _PLATE_WORDS)
    for pattern in (_CAPITAL_PLATE, _ANNOUNCED_PLATE) if announced else (_CAPITAL_PLATE,):
        for match in pattern.finditer(text):
            plate = match.group("plate")
            district, _, rest = plate.replace("-", " ").partition(" ")
            letters = rest.strip().split(" ")[0].rstrip("0123456789EH")
            if pattern is _CAPITAL_PLATE and (
                district.upper() in _NOT_DISTRICTS or f"{district}-{letters}".upper() in _NOT_PLATES
            ):
                continue
            yield Candidate(match.start("plate"), match.end("plate"), Kind.LICENCE_PLATE, True)
