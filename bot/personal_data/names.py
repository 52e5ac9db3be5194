"""Names of people: after a title or form of address, after a relation, a given name with a
family name or an age, a birth name, and given names on their own.

Which words are given names, surnames, common nouns and places comes from maintained word lists
(`lexicon`); what is written here is how case talk puts names into sentences.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator

from bot.personal_data._common import Candidate, Kind, Suggestion, words
from bot.personal_data.lexicon import Lexicon, lexicon

__all__ = ["names"]

# Forms of address and titles; a name follows them.
_TITLES = words(
    """
    frau herr herrn fr. hr. hrn. familie fam. dr. prof. mrs mrs. mr mr. ms ms. miss mx mx.
    madame monsieur pani pan bay bayan
    """
)
_MORE_TITLES = words("dr. prof. med. dipl. ing. jur. phil. rer. nat. von van de")
_FORMAL_TITLES = ("frau", "herr")  # "Frua" and "Hrer" are typed often enough to be caught
# Relations, roles in a case and verbs of naming: a name may follow them.
_RELATIONS = words(
    """
    tochter sohn kind kinder baby säugling mutter vater mama papa eltern kindsvater kindesvater
    kindsmutter kindesmutter ehemann ehefrau ehemaliger ex ex-partner ex-partnerin ex-mann
    ex-frau ex-freund ex-freundin partner partnerin freund freundin lebensgefährte
    lebensgefährtin stiefvater stiefmutter stiefsohn stieftochter pflegevater pflegemutter
    pflegesohn pflegetochter pflegekind oma opa großmutter großvater enkel enkelin enkelsohn
    enkeltochter bruder schwester halbbruder halbschwester onkel tante cousin cousine neffe
    nichte schwager schwägerin schwiegermutter schwiegervater nachbar nachbarin vermieter
    vermieterin täter täterin gefährder gefährderin betroffene betroffener klientin klient
    mitbewohner mitbewohnerin zwilling zwillinge
    heißt heisst namens genannt
    daughter son child baby mother father mum mom dad parent husband wife ex-husband ex-wife
    boyfriend girlfriend ex-boyfriend ex-girlfriend stepfather stepmother stepson stepdaughter
    grandmother grandfather grandson granddaughter brother sister uncle aunt cousin nephew niece
    neighbour neighbor landlord perpetrator victim client named called
    """
)
# A case pseudonym follows these words, whatever it is ("Fall Jasmin", "Case Willow").
_PSEUDONYM_MARKERS = words("fall falls case pseudonym codename deckname")
# Words used as case pseudonyms (trees and flowers): never a name after a title or on their
# own, but a name when a family name follows ("Rose Müller").
_PSEUDONYMS = words(
    """
    linde birke eiche ahorn buche erle esche kastanie weide tanne kiefer pappel ulme eibe lärche
    fichte espe zeder platane akazie holunder hasel wacholder magnolie rose lilie tulpe nelke
    aster dahlie iris jasmin lavendel mohn veilchen narzisse orchidee sonnenblume kamille malve
    efeu flieder erika heide mimose
    willow oak birch linden maple ash elm beech alder pine cedar rowan hazel holly lily daisy
    ivy heather poppy violet
    """
)
# Words that are never a person's name here, whatever the word lists say: function words of
# German and English (several are also given names in some country: "The", "Son", "Will"),
# months, weekdays, and nouns of roles that follow a title ("Frau Kollegin").
_NOT_NAMES = words(
    """
    der die das den dem des ein eine einen einem einer eines kein keine und oder aber sowie
    mit von vom zu zum zur im in am an auf aus bei beim für gegen ohne um nach seit bis über
    unter vor hinter neben zwischen durch als wie wenn weil dass ob ist sind war waren wird
    wurde wurden hat haben hatte hatten kann soll will muss darf sich sie er es wir ihr ihm ihn
    ihre ihren seine seinen sein mein meine nicht auch noch schon wieder sehr nur hier dort
    heute gestern morgen jetzt bitte laut ca etwa alle andere anderen anderer anderes neue
    neuen alte alten weitere weiteren
    the a an and or but of to in on at by for with from as is are was were has have had will
    would can could should may might must not no yes this that these those he she it they we
    you his her their our my your him them who what when where why how all any some one two
    please today yesterday tomorrow now also again still only
    januar februar märz april mai juni juli august september oktober november dezember
    january february march may june july october december
    montag dienstag mittwoch donnerstag freitag samstag sonntag mo di mi do sa so
    monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun
    polizei jugendamt
    """
)
# Roles that follow a title without being a name ("Frau Kollegin", "Herr Doktor"), unless the
# word lists know them as a surname too ("Frau Richter").
_ROLES = words(
    """
    kollege kollegin doktor doktorin professor professorin pfarrer pfarrerin pastor pastorin
    anwalt anwältin rechtsanwalt rechtsanwältin richter richterin staatsanwalt staatsanwältin
    ministerin minister bürgermeister bürgermeisterin präsident präsidentin direktor
    direktorin vorsitzende vorsitzender leiterin leiter pseudonym
    """
)
# English words that are also frequent given names: alone and capitalised, they usually start a
# sentence ("Hope you are well").
_ENGLISH_WORDS = words(
    """
    hope grace faith joy will may june april august summer autumn dawn eve bill pat art guy rob
    sue don ray drew chase hunter mason carter jack page sunny honey amber crystal destiny
    harmony ruby pearl ivy holly hazel iris daisy lily rose jade sky star rain storm river
    brook dale glen miles lane cliff rich frank earl duke king prince major long short
    """
)
# After a given name and a family name, these make it an institution ("Clara Zetkin Haus").
_INSTITUTIONS = words(
    """
    haus heim schule grundschule gymnasium oberschule gesamtschule kita kindergarten klinik
    klinikum krankenhaus stiftung verein zentrum center universität hochschule institut
    straße str. strasse weg allee platz ring damm gasse park brücke
    house school centre center street road
    """
)
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*\.?")
_AGE = re.compile(
    r"[ ]?(?:\([ ]?|,[ ])(?P<age>[0-9]{1,2})(?:[ ]?(?:J\.|Jahre|J|y|yrs|years))?[ ]?[),]"
)
_ORDINAL = re.compile(r"[0-9]\.[ ]?\Z")  # "3. OG": an abbreviation after a number
_BIRTH_NAME = words("geb. geb geborene geborener geborenen née nee")
_LOWER_STARTS = _TITLES | _RELATIONS | _BIRTH_NAME | _PSEUDONYM_MARKERS


class _Word:
    """A word of the text, with the forms the rules compare."""

    __slots__ = ("bare", "end", "gap", "key", "low", "start", "text")

    def __init__(self, text: str, start: int, end: int, gap: str) -> None:
        self.text = text  # as written, with a trailing dot if there is one
        self.start = start
        self.end = end
        self.gap = gap  # the characters between the previous word and this one
        self.bare = text.rstrip(".")
        self.low = text.lower()
        self.key = self.bare.lower()


class _Reader:
    """The words of one text, with what the word lists say about them."""

    def __init__(self, text: str, places: Collection[str]) -> None:
        self.text = text
        self.matches = list(_WORD.finditer(text))
        self.count = len(self.matches)
        self._words: list[_Word | None] = [None] * self.count  # made when a rule looks
        # All capitals or no capitals: then capitalisation tells nothing.
        self.caseless = text == text.lower() or text == text.upper()
        self.lexicon: Lexicon = lexicon()
        self.places = {place.lower() for place in places}

    def word(self, i: int) -> _Word:
        word = self._words[i]
        if word is None:
            match = self.matches[i]
            gap_start = self.matches[i - 1].end() if i else 0
            word = _Word(
                match.group(), match.start(), match.end(), self.text[gap_start : match.start()]
            )
            self._words[i] = word
        return word

    def capitalised(self, word: _Word) -> bool:
        return self.caseless or word.text[0].isupper()

    def given(self, word: _Word) -> bool:
        return self.lexicon.is_given_name(word.key)

    def surname(self, word: _Word) -> bool:
        return word.key in self.lexicon.surnames

    def common(self, word: _Word) -> bool:
        """A common German noun (or one of its forms): "Angst", "Drogen", "Kliniken"."""
        key = word.key
        if key in self.lexicon.common_nouns:
            return True
        last = key.rsplit("-", 1)[-1]  # "Anti-Gewalt-Training"
        return last != key and last in self.lexicon.common_nouns and not self.given(word)

    def place(self, word: _Word) -> bool:
        parts = word.key.split("-")
        return any(part in self.lexicon.places or part in self.places for part in parts)

    def name_like(self, word: _Word) -> bool:
        """Could be (part of) a name: capitalised, not an initial, no function word."""
        return (
            self.capitalised(word)
            and len(word.bare) > 1
            and word.key not in _NOT_NAMES
            and word.low not in _TITLES
            and word.key not in _RELATIONS
        )

    def family_name(self, word: _Word) -> bool:
        """Could be a family name after a given name: "Wolf" is one, "Rostock" is not."""
        if not self.name_like(word) or word.key in _PSEUDONYMS or word.key in _INSTITUTIONS:
            return False
        if word.text.endswith(".") and len(word.bare) <= 3:
            return False  # an abbreviation: "Frau Muster Tel. 0381 …"
        if self.surname(word):
            return True
        return not self.place(word) and (self.given(word) or not self.common(word))

    def after(self, i: int) -> _Word | None:
        """The word after word i if only a space separates them."""
        if i + 1 < self.count and self.word(i + 1).gap in (" ", "\u00a0"):
            return self.word(i + 1)
        return None


def names(text: str, places: Collection[str] = ()) -> Iterator[Candidate]:
    reader = _Reader(text, places)
    taken = -1  # words up to this index already belong to a finding or a pseudonym
    caseless = reader.caseless
    for i, match in enumerate(reader.matches):
        if i <= taken:
            continue
        first = match.group()
        if not caseless and first[0].islower() and first.lower() not in _LOWER_STARTS:
            continue  # every rule starts with a capitalised word or one of these
        key = first.rstrip(".").lower()
        if key in _NOT_NAMES:
            continue  # "Die", "Am", "Montag": no rule starts with these
        if key in _PSEUDONYM_MARKERS:
            found = _pseudonym(reader, i)
        elif key in _RELATIONS:
            found = _after_relation(reader, i)
        elif first.lower() in _BIRTH_NAME:
            found = _birth_name(reader, i)
        else:
            found = _after_title(reader, i)
        found = found or _given_name(reader, i) or _unknown_with_surname(reader, i)
        if found is None:
            continue
        last, candidate = found
        taken = last
        if candidate is not None:
            yield candidate


_Found = tuple[int, Candidate | None]  # index of the last word taken, and the finding if any


def _pseudonym(reader: _Reader, i: int) -> _Found | None:
    """ "Fall Jasmin": the word after "Fall" is a case pseudonym."""
    following = reader.after(i)
    if reader.word(i).key in _PSEUDONYM_MARKERS and following is not None:
        return i + 1, None
    return None


def _is_title(reader: _Reader, word: _Word) -> bool:
    low = word.low
    if low in _TITLES:
        return True
    return (
        len(low) == 4
        and reader.capitalised(word)
        and any(low != title and _one_swap(low, title) for title in _FORMAL_TITLES)
    )


def _one_swap(typed: str, meant: str) -> bool:
    """Two neighbouring letters swapped: "Frua" for "Frau"."""
    differ = [k for k, (a, b) in enumerate(zip(typed, meant, strict=True)) if a != b]
    k = differ[0] if len(differ) == 2 and differ[1] == differ[0] + 1 else -1
    return k >= 0 and typed[k] == meant[k + 1] and typed[k + 1] == meant[k]


def _after_title(reader: _Reader, i: int) -> _Found | None:
    """ "Frau Sabine Müller", "Hr. Wolff", "Familie Nguyen", "Frau Dr. Weber"."""
    title = reader.word(i)
    if not _is_title(reader, title):
        return None
    j = i
    while (nxt := reader.after(j)) is not None and (
        (nxt.low in _MORE_TITLES and nxt.low != "de") or _is_role(reader, nxt)
    ):
        j += 1  # "Frau Dr. Weber", "Frau Richterin Müller"
    first = reader.after(j)
    if first is None or not reader.name_like(first) or first.key in _PSEUDONYMS:
        return None
    if reader.place(first) and not reader.surname(first):
        return None
    last = _extend(reader, j + 1, limit=3)
    end_word = reader.word(last)
    initial = end_word.bare[0].upper()
    form = f"{reader.text[title.start : reader.word(j).end]} {initial}."
    candidate = Candidate(title.start, end_word.end, Kind.NAME, True, Suggestion("form", form))
    return last, _narrow(reader, i, j + 1, last, candidate)


def _is_role(reader: _Reader, word: _Word) -> bool:
    """ "Kollegin", "Doktor", "Staatsanwältin": a role after a title, not a name (unless the
    word lists know it as a surname too: "Frau Richter")."""
    if reader.surname(word):
        return False
    if word.key in _ROLES:
        return True
    # A woman's role, known by its plural: "Staatsanwältin", "Staatsanwältinnen".
    return word.key.endswith("in") and word.key + "nen" in reader.lexicon.common_nouns


def _narrow(reader: _Reader, title: int, first: int, last: int, candidate: Candidate) -> Candidate:
    """The finding covers the name only, not the title before it."""
    del title
    start = reader.word(first).start
    end = reader.word(last).end
    if reader.text[end - 1] == "." and reader.word(last).bare != reader.word(last).text:
        end -= 1  # "Hr. Wolff." ends the sentence
    return candidate._replace(start=start, end=end)


def _extend(reader: _Reader, first: int, limit: int) -> int:
    """Index of the last word of a name that starts at word `first`."""
    last = first
    while last - first < limit - 1:
        nxt = reader.after(last)
        if nxt is None or not reader.family_name(nxt) or reader.word(last).text.endswith("."):
            break
        last += 1
    return last


def _birth_name(reader: _Reader, i: int) -> _Found | None:
    """ "geb. Wagner", "geborene Hoffmann"."""
    if reader.word(i).low not in _BIRTH_NAME:
        return None
    name = reader.after(i)
    if name is None and i + 1 < reader.count and reader.word(i + 1).gap in (": ", ":"):
        name = reader.word(i + 1)
    if name is None or not reader.name_like(name):
        return None
    last = _extend(reader, i + 1, limit=2)
    candidate = Candidate(name.start, reader.word(last).end, Kind.NAME, True)
    return last, _narrow(reader, i, i + 1, last, candidate)


def _after_relation(reader: _Reader, i: int) -> _Found | None:
    """ "Tochter Lea (6)", "Ex-Partner Dennis Hoffmann", "Oma Gisela", "heißt Melanie"."""
    relation = reader.word(i)
    if relation.key not in _RELATIONS:
        return None
    name = reader.after(i)
    if name is None and i + 1 < reader.count and reader.word(i + 1).gap == ": ":
        name = reader.word(i + 1)
    if name is None or not reader.name_like(name) or reader.place(name):
        return None
    last = _extend(reader, i + 1, limit=3)
    if name.key in _PSEUDONYMS and last == i + 1:
        return None  # "Klientin Linde"; but "Klientin Jasmin Wolf" is a name
    age = _AGE.match(reader.text, reader.word(last).end)
    form = relation.bare + (f" ({age.group('age')})" if age else "")
    if form[0].islower() and not reader.caseless:
        form = form[0].upper() + form[1:]
    suggestion = Suggestion("form", form)
    if reader.given(name) and not (reader.common(name) and last == i + 1 and age is None):
        blocking = True  # a given name: "Tochter Lea", "Vater Ahmad Al-Hassan"
    elif reader.common(name):
        return None  # a noun: "dass die Mutter Angst hat", "weil die Mutter Deutsch spricht"
    elif not reader.capitalised(name):
        return None
    else:
        blocking = False  # not in the name list: maybe a rare name, maybe a word. Ask.
    candidate = Candidate(name.start, reader.word(last).end, Kind.NAME, blocking, suggestion)
    return last, _narrow(reader, i, i + 1, last, candidate)


def _given_name(reader: _Reader, i: int) -> _Found | None:
    """ "Anna Schmidt", "Lisa-Marie Krüger", "Lea (6)", "Jamal, 16," and given names alone."""
    word = reader.word(i)
    if not reader.name_like(word) or not reader.given(word) or reader.place(word):
        return None
    if _ORDINAL.search(reader.text, 0, word.start):
        return None
    nxt = reader.after(i)
    ambiguous = reader.common(word) or word.key in _PSEUDONYMS  # "Mai", "Rose", "Linde"
    # In lower case any word could follow, and in capitals "MAX" is an abbreviation: there
    # the family name must be one the word lists know, or be written in capitals too.
    acronym = word.bare.isupper() and not reader.caseless
    strict = ambiguous or reader.caseless or acronym
    if (
        nxt is not None
        and reader.family_name(nxt)
        and (not strict or reader.surname(nxt) or (acronym and nxt.bare.isupper()))
    ):
        last = _extend(reader, i + 1, limit=2)
        after_last = reader.after(last)
        if after_last is not None and after_last.key in _INSTITUTIONS:
            return last + 1, None  # "Clara Zetkin Haus"
        initials = f"{word.bare[0].upper()}. {reader.word(last).bare[0].upper()}."
        return last, Candidate(
            word.start, reader.word(last).end, Kind.NAME, True, Suggestion("form", initials)
        )
    age = _AGE.match(reader.text, word.end)
    if age is not None and word.key not in _PSEUDONYMS:  # "Noah (7 J.)", but not "Linde (34)"
        return i, Candidate(
            word.start, word.end, Kind.NAME, True, Suggestion("child", age.group("age"))
        )
    if ambiguous or acronym or reader.caseless or not _alone_a_name(reader, word):
        return None  # "Mai", "MAX", "lea", "Run", "Will": too often something else
    return i, Candidate(word.start, word.end, Kind.NAME, True)


def _alone_a_name(reader: _Reader, word: _Word) -> bool:
    """A given name standing alone must be frequent among people living here, and no English
    word that starts sentences ("Will", "Hope")."""
    return (
        len(word.bare) >= 3
        and word.key in reader.lexicon.frequent_given_names
        and word.key not in _ENGLISH_WORDS
    )


def _unknown_with_surname(reader: _Reader, i: int) -> _Found | None:
    """ "Kevn Neumann": an unknown capitalised word before a listed surname, shown to confirm."""
    nxt = reader.after(i)
    if nxt is None or reader.caseless or not reader.surname(nxt):
        return None
    word = reader.word(i)
    if (
        not reader.name_like(word)
        or reader.place(word)
        or reader.common(word)
        or word.key in _PSEUDONYMS
        or reader.common(nxt)
        or not reader.name_like(nxt)
    ):
        return None
    return i + 1, Candidate(word.start, nxt.end, Kind.NAME, False)
