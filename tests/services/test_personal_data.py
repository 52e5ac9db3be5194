"""A member drafting an alert is told which parts look like personal data, and which of them
must be rephrased before the alert can go out."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from bot import personal_data
from bot.personal_data import Finding, Kind, Suggestion, find_personal_data

PHONE, EMAIL, IBAN = Kind.PHONE, Kind.EMAIL, Kind.IBAN
BIRTH, DATE, ADDRESS = Kind.BIRTH_DATE, Kind.DATE, Kind.STREET_ADDRESS
BLOCKING, CONFIRMABLE = True, False


def found(text: str) -> list[tuple[Kind, str, bool]]:
    return [(f.kind, f.excerpt, f.blocking) for f in find_personal_data(text)]


def assert_single(text: str, kind: Kind, excerpt: str, blocking: bool) -> None:
    assert found(text) == [(kind, excerpt, blocking)]


# --- Phone numbers ------------------------------------------------------------------------------

PHONES = [
    ("0381 123456", "0381 123456", BLOCKING),
    ("0381/123456", "0381/123456", BLOCKING),
    ("0381-12 34 56", "0381-12 34 56", BLOCKING),
    ("0381 - 123456", "0381 - 123456", BLOCKING),
    ("+49 381 123456", "+49 381 123456", BLOCKING),
    ("+49 (0)381 123456", "+49 (0)381 123456", BLOCKING),
    ("+49 (0) 381 / 12 34 56", "+49 (0) 381 / 12 34 56", BLOCKING),
    ("+4917112345678", "+4917112345678", BLOCKING),
    ("0049 171 1234567", "0049 171 1234567", BLOCKING),
    ("0171 1234567", "0171 1234567", BLOCKING),
    ("01711234567", "01711234567", BLOCKING),
    ("(0381) 12345", "(0381) 12345", BLOCKING),
    ("+44 20 7946 0958", "+44 20 7946 0958", BLOCKING),
    ("Bitte Rückruf unter 0381 4916-0.", "0381 4916-0", BLOCKING),
    ("Handy: 0171-1234567, abends", "0171-1234567", BLOCKING),
    # Without an area code, a phone keyword right before is needed.
    ("Tel. 45 67 89", "45 67 89", BLOCKING),
    ("Telefonnummer: 456789", "456789", BLOCKING),
    ("phone 7946 0958", "7946 0958", BLOCKING),
    # A short number libphonenumber knows as a valid Rostock number blocks ...
    ("0381 1234", "0381 1234", BLOCKING),
    # ... seven or eight digits it does not know may be something else: confirmable ...
    ("0171 123", "0171 123", CONFIRMABLE),
    # ... unless a phone keyword says what it is.
    ("Tel.: 0171 123", "0171 123", BLOCKING),
    # Shared-cost and premium numbers reach organisations, but may reveal a workplace.
    ("01805 123456", "01805 123456", CONFIRMABLE),
    ("0900 1234567", "0900 1234567", CONFIRMABLE),
]


@pytest.mark.parametrize(("text", "excerpt", "blocking"), PHONES)
def test_phone_numbers_are_found(text: str, excerpt: str, blocking: bool) -> None:
    assert_single(text, PHONE, excerpt, blocking)


NOT_PHONES = [
    "Fallnummer F-2026-0042",
    "Im Jahr 1985",
    "um 10:30 Uhr",
    "von 09:00 bis 17:30",
    "PLZ 18055",
    "01067",
    "Polizei 110, Feuerwehr 112",
    "Hilfetelefon Gewalt gegen Frauen 116 016",
    "Telefon 116 016",  # the 116 xxx helplines are not personal data even after a keyword
    "Telefon 110",
    "Nummer gegen Kummer: 116 111",
    # Freephone numbers (0800) are those of helplines and counselling services.
    "08000 116 016",
    "Hilfetelefon Sexueller Missbrauch: 0800 22 55 530",
    "Elterntelefon 0800 111 0 550",
    "+49 800 1110111",
    "Werte: 0 5 10 15 20 25",
    "Betrag 0,50 € und 1.250.000 €",
    "2 Kinder, 5 und 8 Jahre",
    "Einsatz 2026/1234",
    "Rechnung 20260312001",  # a long number without 0, + or phone keyword
    "Aktenzeichen 0381-123/26",
    "Kundennummer 0012345678",
    "0381",
    "Version 0.381.1234",
]


@pytest.mark.parametrize("text", NOT_PHONES)
def test_numbers_that_are_no_phone_numbers_are_not_found(text: str) -> None:
    assert found(text) == []


# --- E-mail -------------------------------------------------------------------------------------

EMAILS = [
    ("name@example.de", "name@example.de"),
    ("Mail an klientin@web.de.", "klientin@web.de"),
    ("(max.muster+alerts@mail.example.co.uk)", "max.muster+alerts@mail.example.co.uk"),
    ("Kontakt:jörg.müller@beispiel.de", "jörg.müller@beispiel.de"),
    ("name (at) example (dot) de", "name (at) example (dot) de"),
    ("name[at]example.de", "name[at]example.de"),
    ("NAME@EXAMPLE.DE", "NAME@EXAMPLE.DE"),
]


@pytest.mark.parametrize(("text", "excerpt"), EMAILS)
def test_email_addresses_are_found_and_blocking(text: str, excerpt: str) -> None:
    assert_single(text, EMAIL, excerpt, BLOCKING)


@pytest.mark.parametrize("text", ["a@b", "name@localhost", "Treffen @ 10 Uhr", "@ 10"])
def test_at_signs_without_an_address_are_not_found(text: str) -> None:
    assert found(text) == []


# --- IBAN ---------------------------------------------------------------------------------------

IBANS = [
    ("DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00", BLOCKING),
    ("IBAN: DE89370400440532013000", "DE89370400440532013000", BLOCKING),
    ("iban de89 3704 0044 0532 0130 00", "de89 3704 0044 0532 0130 00", BLOCKING),
    ("GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32", BLOCKING),
    ("NO93 8601 1117 947", "NO93 8601 1117 947", BLOCKING),
    # The match stops where the checksum says the IBAN ends.
    ("DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX", "DE89 3704 0044 0532 0130 00", BLOCKING),
    # Right country and length, wrong checksum: a typo is still worth a look.
    ("DE89 3704 0044 0532 0130 01", "DE89 3704 0044 0532 0130 01", CONFIRMABLE),
]


@pytest.mark.parametrize(("text", "excerpt", "blocking"), IBANS)
def test_ibans_are_found(text: str, excerpt: str, blocking: bool) -> None:
    assert_single(text, IBAN, excerpt, blocking)


@pytest.mark.parametrize(
    "text",
    [
        "DE89 3704 0044 0532 01",  # too short for a German IBAN; its digits are no phone number
        "XY89 3704 A044 0532 0130 00",  # no IBAN country
        "DE89 DE89 DE89 DE89 DE89 DE89",  # too many letters for a typo
        "AB12 CDEF GHIJ KLMN",
        "ISO 9001 zertifiziert",
    ],
)
def test_iban_lookalikes_are_not_found(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "blocking"),
    [("DE89 3704 0044 0532 0130 00", BLOCKING), ("DE89 3704 0044 0532 0130 01", CONFIRMABLE)],
)
def test_an_iban_is_one_finding_although_it_contains_a_phone_like_group(
    text: str, blocking: bool
) -> None:
    """ "0044 0532 0130 00" inside the IBAN alone would read as a British phone number."""
    assert found("0044 0532 0130 00") == [(PHONE, "0044 0532 0130 00", BLOCKING)]
    assert found(text) == [(IBAN, text, blocking)]


def test_a_false_iban_does_not_hide_a_valid_one_after_it() -> None:
    """ "KW12" (calendar week 12) looks like the start of a Kuwaiti IBAN."""
    text = "KW12 DE89 3704 0044 0532 0130 00"
    assert found(text) == [(IBAN, "DE89 3704 0044 0532 0130 00", BLOCKING)]


@pytest.mark.parametrize(
    ("text", "excerpt", "blocking"),
    [
        # A pattern found inside a weak one still blocks: overlapping findings are united.
        ("0800 123 0381 123456", "0800 123 0381 123456", BLOCKING),
        ("Tel. 12 0381 123456", "12 0381 123456", BLOCKING),
        # A number that is no phone number does not swallow the one after it.
        ("Werte 0 5 10 0381 123456", "0381 123456", BLOCKING),
        ("Fall 12 0381 123456", "0381 123456", BLOCKING),
    ],
)
def test_a_phone_number_next_to_other_numbers_is_still_found(
    text: str, excerpt: str, blocking: bool
) -> None:
    assert_single(text, PHONE, excerpt, blocking)


# --- Dates --------------------------------------------------------------------------------------

DATES = [
    ("12.03.1985", "12.03.1985"),
    ("12.3.85", "12.3.85"),
    ("am 1.3.2026", "1.3.2026"),
    ("12-03-1985", "12-03-1985"),
    ("1985-03-12", "1985-03-12"),
    ("12. März 1985", "12. März 1985"),
    ("12.März 1985", "12.März 1985"),
    ("3. Mai 2026", "3. Mai 2026"),
    ("12. Mär. 1985", "12. Mär. 1985"),
    ("March 12, 1985", "March 12, 1985"),
    ("12 March 1985", "12 March 1985"),
    ("12th of March 1985", "12th of March 1985"),
    ("12/31/1985", "12/31/1985"),
    ("Mutter, 12.03.1985", "12.03.1985"),
]


@pytest.mark.parametrize(("text", "excerpt"), DATES)
def test_plain_dates_are_confirmable(text: str, excerpt: str) -> None:
    assert_single(text, DATE, excerpt, CONFIRMABLE)


BIRTH_DATES = [
    ("geb. 12.03.1985", "12.03.1985"),
    ("geb.12.3.85", "12.3.85"),
    ("Geb. am 12.03.1985", "12.03.1985"),
    ("geboren am 12. März 1985", "12. März 1985"),
    ("Geburtsdatum: 1985-03-12", "1985-03-12"),
    ("Geb.-Datum: 12.3.85", "12.3.85"),
    ("Geburtstag 12.03.1985", "12.03.1985"),
    ("Mutter *12.3.85", "12.3.85"),
    ("Sohn (* 01.02.2015)", "01.02.2015"),
    ("born on March 12, 1985", "March 12, 1985"),
    ("born on the 12th of March 1985", "12th of March 1985"),
    ("DOB: 12/03/1985", "12/03/1985"),
    ("d.o.b. 12 March 1985", "12 March 1985"),
    ("Date of birth: 1985-03-12", "1985-03-12"),
]


@pytest.mark.parametrize(("text", "excerpt"), BIRTH_DATES)
def test_birth_dates_are_blocking(text: str, excerpt: str) -> None:
    assert_single(text, BIRTH, excerpt, BLOCKING)


@pytest.mark.parametrize(
    "text",
    [
        "34 Jahre",
        "Sie ist 34 Jahre alt, Jahrgang 1985.",
        "geboren 1985",  # a birth year is no more than an age
        "Treffen am 12.04. im Rathaus",  # no year: not identifying on its own
        "im März 1985",
        "um 10:30",
        "Version 2.3.1",
        "32.13.2020",
        "12.03.19851",
        "F-2026-0042",
        "gebe 12 Stück ab",
    ],
)
def test_things_that_are_no_dates_are_not_found(text: str) -> None:
    assert found(text) == []


def test_a_date_far_from_a_birth_keyword_is_a_plain_date() -> None:
    text = "Das Kind ist geboren und lebt mit der Mutter und dem Vater zusammen, Stand 01.03.2024"
    assert found(text) == [(DATE, "01.03.2024", CONFIRMABLE)]


@pytest.mark.parametrize(
    "text",
    [
        "Sitzung 2026-03-12T10:30",
        "Termin am Montag, 16. März 2026, 10:30 Uhr",
        "Fallkonferenz am 12.03.2026 um 10 Uhr",
        "Die Schutzanordnung gilt bis zum 30.06.2026.",
        "Vorfall am 14.03.2026 gegen 22:30 Uhr",
        "Hearing on 7 April 2026 at the family court.",
    ],
)
def test_dates_of_meetings_deadlines_and_incidents_are_no_findings(text: str) -> None:
    assert found(text) == []


def test_a_date_followed_by_born_is_a_birth_date() -> None:
    assert found("Die Tochter ist am 3. Mai 2012 geboren.") == [(BIRTH, "3. Mai 2012", BLOCKING)]


# --- Street addresses ---------------------------------------------------------------------------

ADDRESSES = [
    ("Musterstraße 12", "Musterstraße 12"),
    ("Musterstrasse 12", "Musterstrasse 12"),
    ("MUSTERSTRASSE 12", "MUSTERSTRASSE 12"),
    ("musterstraße 12", "musterstraße 12"),
    ("Musterstr. 12a", "Musterstr. 12a"),
    ("Musterstr.12", "Musterstr.12"),
    ("Musterstraße 12 a", "Musterstraße 12 a"),
    ("Musterstraße Nr. 12", "Musterstraße Nr. 12"),
    ("Am Markt 3", "Am Markt 3"),
    ("Lange Str. 5-7", "Lange Str. 5-7"),
    ("Hauptweg 4", "Hauptweg 4"),
    ("Rosenallee 17", "Rosenallee 17"),
    ("Kirchplatz 2", "Kirchplatz 2"),
    ("Burgwall 8", "Burgwall 8"),
    ("Ringstraße 1", "Ringstraße 1"),
    ("Mühlendamm 3", "Mühlendamm 3"),
    ("Zum Hafen 7", "Zum Hafen 7"),
    ("Am Strande 3", "Am Strande 3"),
    ("An der Kirche 5", "An der Kirche 5"),
    ("Unter den Linden 77", "Unter den Linden 77"),
    ("Am Rosenweg 3", "Am Rosenweg 3"),
    ("An der Alten Mühlenstraße 2", "An der Alten Mühlenstraße 2"),
    ("Karl-Marx-Straße 5", "Karl-Marx-Straße 5"),
    ("Große Wasserstraße 5", "Große Wasserstraße 5"),
    ("Neuer Markt 1", "Neuer Markt 1"),
    ("Rostocker Chaussee 12/14", "Rostocker Chaussee 12/14"),
    ("Straße des Friedens 12", "Straße des Friedens 12"),
    ("Platz der Einheit 1", "Platz der Einheit 1"),
    ("sie wohnt in der Musterstraße 12 in Rostock", "Musterstraße 12"),
    ("18055 Rostock", "18055 Rostock"),
    ("D-17489 Greifswald", "D-17489 Greifswald"),
    ("06108 Halle (Saale)", "06108 Halle (Saale)"),
    ("18119 Rostock-Warnemünde", "18119 Rostock-Warnemünde"),
    ("Dorfstraße 9, 18055 Rostock", "Dorfstraße 9, 18055 Rostock"),
    ("vorher Dorfstraße 9 in 18055 Rostock.", "Dorfstraße 9 in 18055 Rostock"),
    ("221B Baker Street", "221B Baker Street"),
    ("Übergriff im Haus Lange Straße 5.", "Lange Straße 5"),
    ("in der Wohnung Am Bahnhof 7, 3. OG links.", "Am Bahnhof 7, 3. OG links"),
    ("vor dem Haus Kastanienallee 23", "Kastanienallee 23"),
    ("Wohnung: Goethestraße 12a, Hinterhaus, 1. Etage", "Goethestraße 12a, Hinterhaus, 1. Etage"),
    ("im Haus Nr. 12 in der Fritz-Reuter-Straße", "Nr. 12 in der Fritz-Reuter-Straße"),
    ("lives at 12 Main St.", "12 Main St."),
]


@pytest.mark.parametrize(("text", "excerpt"), ADDRESSES)
def test_street_addresses_with_house_numbers_are_blocking(text: str, excerpt: str) -> None:
    assert_single(text, ADDRESS, excerpt, BLOCKING)


def test_two_streets_stay_two_findings_but_a_street_and_its_town_are_one() -> None:
    assert found("Musterstraße 12, Hauptweg 4, 18055 Rostock") == [
        (ADDRESS, "Musterstraße 12", BLOCKING),
        (ADDRESS, "Hauptweg 4, 18055 Rostock", BLOCKING),
    ]


NOT_ADDRESSES = [
    "Paragraph 12",
    "Fall 3",
    "Raum 12",
    "Seite 4",
    "§ 1631 BGB",
    "Kapitel 3",
    "Im Fall 3 von 12",
    "im Raum 12",
    "auf Seite 4",
    "In Woche 2 ist sie in Klasse 5 gewechselt.",
    "Sie landete auf Platz 2.",
    "Am Montag 12 Uhr",
    "am Bahnhof 2 Stunden gewartet",
    "Auf dem Spielplatz 3 Kinder",
    "Im Jahr 2020",
    "Sie wohnt in der Musterstraße.",  # no house number
    "12000 Euro",
    "18000 Menschen",
    "Hilfetelefon 116 016",
    "beim Hilfetelefon 116 016",
    "Weißer Ring 116 006",
    "Arbeitsplatz 2",
    "am Bahnsteig 3",
    "Sie hat 2 Kinder, 1 Hund, Gruppe 4, Zimmer 12.",
    "Der Käufer 2 bot mehr.",
    "Im Alter von 12 Jahren",
    "Im Notfall sofort 110 wählen, bei Verletzungen 112.",
    "Tat im 3. OG, Nachbarn haben nichts gehört.",
]


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_numbered_things_that_are_no_addresses_are_not_found(text: str) -> None:
    assert found(text) == []


# --- Names --------------------------------------------------------------------------------------

NAME, PLATE, HANDLE, ID = Kind.NAME, Kind.LICENCE_PLATE, Kind.HANDLE, Kind.ID_NUMBER


@pytest.mark.parametrize(
    ("text", "excerpt", "suggestion"),
    [
        ("Frau Sabine Müller wurde bedroht", "Sabine Müller", Suggestion("form", "Frau M.")),
        ("Hr. Wolff hat die Kinder", "Wolff", Suggestion("form", "Hr. W.")),
        ("Frau Dr. Weber meldet", "Weber", Suggestion("form", "Frau Dr. W.")),
        ("Frau Richterin Müller entscheidet", "Müller", Suggestion("form", "Frau Richterin M.")),
        ("Familie Nguyen braucht", "Nguyen", Suggestion("form", "Familie N.")),
        ("Frua Schneider ist weg", "Schneider", Suggestion("form", "Frua S.")),  # typo
        ("Tochter Lea (6) ist in Obhut", "Lea", Suggestion("form", "Tochter (6)")),
        ("Ex-Partner Dennis Hoffmann droht", "Dennis Hoffmann", Suggestion("form", "Ex-Partner")),
        ("tochter lea (6) ist bei der oma", "lea", Suggestion("form", "tochter (6)")),
        ("Kevin Neumann ist gewalttätig", "Kevin Neumann", Suggestion("form", "K. N.")),
        ("Lisa-Marie Krüger (16) fehlt", "Lisa-Marie Krüger", Suggestion("form", "L. K.")),
        ("Noah (7 J.) war nicht in der Schule", "Noah", Suggestion("child", "7")),
        ("Frau S., geb. Wagner, ist zurück", "Wagner", None),
        ("Laut Schule kommt Maximilian oft verletzt", "Maximilian", None),
        ("Mrs Sarah Thompson was threatened", "Sarah Thompson", Suggestion("form", "Mrs T.")),
    ],
)
def test_names_are_blocking_and_come_with_a_pseudonymous_form(
    text: str, excerpt: str, suggestion: Suggestion | None
) -> None:
    [finding] = find_personal_data(text)

    assert (finding.kind, finding.excerpt, finding.blocking) == (NAME, excerpt, BLOCKING)
    assert finding.suggestion == suggestion


@pytest.mark.parametrize(
    "text",
    [
        "Tochter Jolina (15) hat sich verletzt",  # not in the name list: a rare name or a word
        "Kevn Neumann ist zurück",  # an unknown word before a listed surname
    ],
)
def test_doubtful_names_are_shown_for_confirmation(text: str) -> None:
    [finding] = find_personal_data(text)

    assert (finding.kind, finding.blocking) == (NAME, CONFIRMABLE)


@pytest.mark.parametrize(
    "text",
    [
        "Fall Linde: Frau L. (34) wurde bedroht",
        "Familie Eiche und Frau Birke haben Termine",  # trees as case pseudonyms
        "Linde (34) ist im Frauenhaus",
        "Fall Jasmin: Frau J. ist sicher",  # whatever follows "Fall" is a pseudonym
        "Clara-Zetkin-Haus und Käthe-Kollwitz-Schule melden Plätze",
        "Treffen im Sophie Scholl Gymnasium",
        "Frauenhaus Rostock und Interventionsstelle Schwerin",
        "Die Familie ist von Ludwigslust-Parchim nach Güstrow gezogen",
        "Bekannt ist, dass die Mutter Angst hat und der Vater Drogen nimmt.",
        "Frau Staatsanwältin und Herr Kollege haben angerufen",
        "Ende Mai Fallkonferenz, Anfang Mai Supervision",
        "Tochter (6) und Sohn (9) sind in Obhut",
        "Case Willow: Ms A. (31) was threatened, daughter (6) safe",
    ],
)
def test_pseudonyms_institutions_places_and_nouns_are_no_names(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "MAX und CORA sind Abkürzungen, KEY auch.",  # capitals in a mixed text: abbreviations
        "Long poll: events after the last one.",  # English words that are names somewhere
        "Will you call her? Hope so.",
        "create a key bound to a sector and region",  # lower case: no family name follows
        "Run until the page is ready.",  # a name only in China: not alone
        "Andere Lage im Fall Ahorn.",
    ],
)
def test_words_that_are_given_names_somewhere_are_no_names_in_ordinary_sentences(
    text: str,
) -> None:
    assert found(text) == []


def test_an_abbreviation_after_a_name_is_not_part_of_it() -> None:
    assert [f.excerpt for f in find_personal_data("Frau Muster Tel. 0381 1234567")] == [
        "Muster",
        "0381 1234567",
    ]


def test_the_network_s_place_names_are_never_people() -> None:
    """The word lists know most places; the network's own region names are added."""
    assert found("Frau Nordwestmecklenburg") == [
        (NAME, "Nordwestmecklenburg", BLOCKING)
    ]  # unknown to the word lists
    assert find_personal_data("Frau Nordwestmecklenburg", places={"Nordwestmecklenburg"}) == []


# --- Licence plates, handles, identity numbers --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "excerpt"),
    [
        ("Kennzeichen HRO-AB 123", "HRO-AB 123"),
        ("Er fährt HRO AB 1234.", "HRO AB 1234"),
        ("Kennz. DBR-XY 12E", "DBR-XY 12E"),
        ("ein Oldtimer, SN-OT 55H", "SN-OT 55H"),
        ("kennzeichen hro-mk 456", "hro-mk 456"),  # lower case only after "Kennzeichen"
        ("Auto: MÜR-X 44", "MÜR-X 44"),
    ],
)
def test_licence_plates_are_blocking(text: str, excerpt: str) -> None:
    assert_single(text, PLATE, excerpt, BLOCKING)


@pytest.mark.parametrize(
    "text", ["bis zu 5 Kinder", "nach § 27 SGB V 12 Wochen", "Konzeption M-V 2026", "um 10 Uhr"]
)
def test_what_only_looks_like_a_plate_is_not_found(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "excerpt"),
    [
        ("Er schreibt als @dennis_b_hro.", "@dennis_b_hro"),
        ("@polizei_mv", "@polizei_mv"),
        ("Profil: instagram.com/lea.sophie2010", "instagram.com/lea.sophie2010"),
        ("https://www.tiktok.com/@aylin.demir", "tiktok.com/@aylin.demir"),
        ("Fotos über t.me/kevin_n88 geschickt", "t.me/kevin_n88"),
        ("Snapchat-Name: jonas_f2007", "jonas_f2007"),
    ],
)
def test_handles_are_blocking(text: str, excerpt: str) -> None:
    assert_single(text, HANDLE, excerpt, BLOCKING)


@pytest.mark.parametrize(
    ("text", "excerpt"),
    [
        ("Steuer-ID 65929970489", "65929970489"),  # python-stdnum: de.idnr
        ("IdNr 26 954 371 827", "26 954 371 827"),
        ("Steuernummer 181/815/08155", "181/815/08155"),  # de.stnr, only after its name
        ("RVNR 65 170839 J 003", "65 170839 J 003"),  # pension insurance check digit
        ("KVNR A123456780", "A123456780"),  # health insurance check digit
        ("Reisepass C01X00T478", "C01X00T478"),  # ICAO 9303 check digit
        ("Ausweisnummer L01X00T47", "L01X00T47"),  # without check digit: only after its name
    ],
)
def test_identity_numbers_with_a_valid_check_digit_are_blocking(text: str, excerpt: str) -> None:
    assert_single(text, ID, excerpt, BLOCKING)


@pytest.mark.parametrize(
    "text",
    [
        "Steuer-ID 65929970488",  # wrong check digit
        "RVNR 65 170839 J 004",
        "KVNR A123456781",
        "Reisepass C01X00T479",
        "L01X00T47",  # no check digit and no name before it
    ],
)
def test_identity_numbers_with_a_wrong_check_digit_are_not_found(text: str) -> None:
    assert [f for f in find_personal_data(text) if f.kind is ID] == []


# --- A whole alert ------------------------------------------------------------------------------

ALERT = (
    "Fall F-2026-0042: Frau A. (34 Jahre, geb. 12.03.1985) wurde am 14.03.2026 gegen 22:30 Uhr "
    "in der Dorfstraße 9, 18055 Rostock bedroht. Rückfragen: 0381 123456 oder a.b@polizei.mv.de. "
    "Hilfetelefon 116 016 ist informiert. Spendenkonto DE89 3704 0044 0532 0130 00."
)


def test_an_alert_yields_each_finding_once_in_order_with_offsets_into_the_text() -> None:
    findings = find_personal_data(ALERT)

    assert [(f.kind, f.excerpt, f.blocking) for f in findings] == [
        (BIRTH, "12.03.1985", BLOCKING),
        (DATE, "14.03.2026", CONFIRMABLE),
        (ADDRESS, "Dorfstraße 9, 18055 Rostock", BLOCKING),
        (PHONE, "0381 123456", BLOCKING),
        (EMAIL, "a.b@polizei.mv.de", BLOCKING),
        (IBAN, "DE89 3704 0044 0532 0130 00", BLOCKING),
    ]
    assert all(ALERT[f.start : f.end] == f.excerpt for f in findings)
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))


def test_a_text_without_personal_data_has_no_findings() -> None:
    text = (
        "Nach § 1631 BGB und Paragraph 12 GewSchG: siehe Kapitel 3, Seite 4. Fallkonferenz am "
        "Montag um 10:30 Uhr in Raum 12; 2 Kinder (5 und 8 Jahre) im Haushalt. Polizei 110."
    )
    assert find_personal_data(text) == []
    assert find_personal_data("") == []


def test_findings_are_immutable_values() -> None:
    finding = find_personal_data("0381 123456")[0]

    assert finding == Finding(Kind.PHONE, 0, 11, "0381 123456", True)
    assert [kind.value for kind in Kind] == [
        "phone", "email", "birth_date", "date", "street_address", "iban",
        "name", "licence_plate", "handle", "id_number",
    ]  # fmt: skip
    with pytest.raises(AttributeError):
        finding.blocking = False  # type: ignore[misc]


# --- Unicode ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "excerpt"),
    [
        ("0381\u200b123456", PHONE, "0381\u200b123456"),  # zero-width space
        ("0381\u2060123\u200d456", PHONE, "0381\u2060123\u200d456"),  # word joiner, ZWJ
        ("0381\u00a0123456", PHONE, "0381\u00a0123456"),  # no-break space
        ("0171\u20131234567", PHONE, "0171\u20131234567"),  # en dash
        ("\uff10\uff13\uff18\uff11 123456", PHONE, "\uff10\uff13\uff18\uff11 123456"),  # fullwidth
        ("Musterstra\u00adße 12", ADDRESS, "Musterstra\u00adße 12"),  # soft hyphen
        ("geb.\u200b12.03.1985", BIRTH, "12.03.1985"),
        ("name\u200b@example.de", EMAIL, "name\u200b@example.de"),
    ],
)
def test_invisible_and_lookalike_characters_do_not_hide_anything(
    text: str, kind: Kind, excerpt: str
) -> None:
    [finding] = find_personal_data(text)

    assert (finding.kind, finding.excerpt) == (kind, excerpt)
    assert text[finding.start : finding.end] == excerpt


def test_offsets_count_emoji_and_direction_marks_of_the_original_text() -> None:
    text = "📞\u200f 0381\u200b123456\u200f 👍 \u202bname@example.de\u202c 🏠 Am Markt 3"

    findings = find_personal_data(text)

    assert [(f.kind, f.excerpt) for f in findings] == [
        (PHONE, "0381\u200b123456"),
        (EMAIL, "name@example.de"),
        (ADDRESS, "Am Markt 3"),
    ]
    assert [f.start for f in findings] == [3, 19, 38]
    assert all(text[f.start : f.end] == f.excerpt for f in findings)


def test_arabic_text_and_digits_around_a_number() -> None:
    text = "\u0627\u062a\u0635\u0644 \u0660\u0663\u0668\u0661 \u0661\u0662\u0663\u0664\u0665\u0666"

    assert found(text) == [(PHONE, text[5:], BLOCKING)]


# --- Hygiene ------------------------------------------------------------------------------------


def test_the_check_imports_no_telegram_no_logging_and_never_prints() -> None:
    package = Path(personal_data.__file__).parent
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text("utf-8"))
        imported = {
            name.split(".")[0]
            for node in ast.walk(tree)
            for name in (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom)
                else []
            )
        }  # fmt: skip
        called = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }

        assert imported <= {
            "__future__", "re", "collections", "dataclasses", "enum", "typing", "array",
            "bisect", "csv", "functools", "importlib", "operator", "phonenumbers", "stdnum",
            "gender_guesser",
            "bot",
        }, module.name  # fmt: skip
        assert "print" not in called
        assert "logging" not in imported
