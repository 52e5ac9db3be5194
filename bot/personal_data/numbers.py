"""Numbers that identify someone: IBANs, phone numbers, dates of birth, identity numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers
from phonenumbers import PhoneNumberType
from stdnum.de import idnr, stnr

from bot.personal_data._common import Candidate, Kind, words

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


def ibans(text: str) -> Iterator[Candidate]:
    position = 0
    while match := _IBAN.search(text, position):
        candidate = _iban_candidate(match)
        if candidate is not None:
            yield candidate
        # "KW12 DE89 3704 …": what is no valid IBAN may run on into one, so look inside it again.
        position = candidate.end if candidate and candidate.blocking else match.start() + 1


def _iban_candidate(match: re.Match[str]) -> Candidate | None:
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
    return Candidate(match.start(), end, Kind.IBAN, bool(valid))


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
# Parts of every phone keyword: a text without any of them needs no keyword search.
_PHONE_WORDS = ("tel", "phone", "fon", "handy", "mobil", "cell", "fax", "whats", "signal")
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
# Numbers of organisations rather than private lines, as libphonenumber classifies them.
_SERVICE_TYPES = frozenset(
    {PhoneNumberType.SHARED_COST, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.UAN}
)


def phones(text: str) -> Iterator[Candidate]:
    position = 0
    while match := _PHONE.search(text, position):
        blocking = _phone_blocking(text, match)
        if blocking is not None:
            yield Candidate(match.start(), match.end(), Kind.PHONE, blocking)
        # What is no phone number, or only weakly one, may run on into one: look inside it again.
        position = match.end() if blocking else match.start() + 1
    lower = text.lower()
    if not any(word in lower for word in _PHONE_WORDS):
        return
    for match in _KEYWORD_PHONE.finditer(text):
        digits = _digits(match.group("number"))
        # The harmonised helplines 116 xxx ("Hilfetelefon Gewalt gegen Frauen" 116 016) are no
        # personal data, even after "Telefon".
        helpline = len(digits) == 6 and digits.startswith("116")
        if len(digits) >= 5 and not helpline and not _TIME_AFTER.match(text, match.end()):
            yield Candidate(match.start("number"), match.end(), Kind.PHONE, True)


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
    international = raw.startswith(("+", "00"))
    if international:
        digits = _digits(raw.replace("(0)", "")).removeprefix("00")
        if len(digits) < 8 or digits.startswith("0"):
            return None
    known, verdict = _libphonenumber_verdict(raw)
    if known:
        return verdict
    # Not a number libphonenumber knows (a typo, a reserved range): judge by its shape. Seven
    # or eight digits may be a small town's number, or something else entirely.
    return international or len(digits) >= 9 or keyword


def _libphonenumber_verdict(raw: str) -> tuple[bool, bool | None]:
    """Whether libphonenumber knows the number as valid, and if so: None for a freephone number
    (0800: helplines, counselling services, businesses), False for a shared-cost or premium
    number, True for any other."""
    try:
        number = phonenumbers.parse(raw, "DE")
    except phonenumbers.NumberParseException:
        return False, None
    kind = phonenumbers.number_type(number)  # UNKNOWN unless the number is valid
    if kind == PhoneNumberType.UNKNOWN:
        return False, None
    if kind == PhoneNumberType.TOLL_FREE:
        return True, None
    return True, kind not in _SERVICE_TYPES


def _digits(text: str) -> str:
    return "".join(char for char in text if "0" <= char <= "9")


# --- Dates --------------------------------------------------------------------------------------

_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)[0-9]{2}"
_MONTH_NAMES = words(
    """
    Januar Jänner Februar Feber März Maerz April Mai Juni Juli August September Oktober November
    Dezember Jan Feb Mär Mrz Apr Jun Jul Aug Sep Sept Okt Nov Dez
    January February March May June July October December Mar Oct Dec
    """
)
_MONTH_NAME = "(?:" + "|".join(sorted(_MONTH_NAMES, key=len, reverse=True)) + r")\b\.?"
_DATE = re.compile(
    rf"""
    (?=[0-9JFMASONDjfmasond])               # fails fast where no date can start
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


# Words right after a date that make it a birth date: "am 3. Mai 2012 geboren".
_BIRTH_AFTER = re.compile(r"[ ,]{0,2}(?:geboren|born)\b", re.IGNORECASE)
# A date after one of these words, in the same sentence, is the date of a meeting, a hearing,
# a deadline or the incident itself: that belongs in an alert and is no finding.
_EVENT_CONTEXT = re.compile(
    r"""
    \b(?:
        \w*(?:termin|treffen|sitzung|konferenz|besprechung|gespräch|verhandlung|anhörung|frist
            |schulung|fortbildung|vorfall|einsatz|übergriff|tat|anzeige|beschluss|anordnung)\w*
      | seit | bis | ab | vom | zum | meeting | conference | hearing | deadline | incident
      | since | until | from
    )\b
    [^.!?\n]{0,40}\Z
    """,
    re.VERBOSE | re.IGNORECASE,
)


def dates(text: str) -> Iterator[Candidate]:
    for match in _DATE.finditer(text):
        start = match.start()
        if _BIRTH_CONTEXT.search(text, max(0, start - 40), start) or _BIRTH_AFTER.match(
            text, match.end()
        ):
            yield Candidate(start, match.end(), Kind.BIRTH_DATE, True)
        elif not _EVENT_CONTEXT.search(text, max(0, start - 60), start):
            yield Candidate(start, match.end(), Kind.DATE, False)


# --- Identity numbers ---------------------------------------------------------------------------

# Steuerliche Identifikationsnummer: eleven digits, also in groups ("26 954 371 827").
_TAX_ID = re.compile(r"[1-9](?<![\w/.,-].)(?:[ ]?[0-9]){10}(?![\w/]|[.,-][0-9])")
# Versicherungsnummer of the pension insurance: area, date of birth, initial, serial, check digit.
_PENSION_NUMBER = re.compile(
    r"[0-9](?<![\w/.-].)[0-9][ ]?[0-9]{6}[ ]?[A-Za-z][ ]?[0-9]{2}[ ]?[0-9](?![\w/]|[.,-][0-9])"
)
# Krankenversichertennummer (lifelong part): a letter and nine digits, the last a check digit.
_HEALTH_NUMBER = re.compile(r"[A-Z](?<![\w/.-].)[0-9]{9}(?![\w/]|[.,-][0-9])")
# Serial number of an identity card or passport with its check digit (ICAO 9303): nine letters
# and digits from the alphabet the German documents use, then the check digit.
_DOCUMENT_NUMBER = re.compile(
    r"[CFGHJKLMNPRTVWXYZ](?<![\w/.-].)(?=[0-9CFGHJKLMNPRTVWXYZ]{0,8}[0-9])"
    r"[0-9CFGHJKLMNPRTVWXYZ]{8}"
    r"(?P<check>[0-9])?(?![\w/]|[.,-][0-9])"
)
_DOCUMENT_CONTEXT = re.compile(
    r"\b(?:personalausweis|ausweis|reisepass|pass|passport|id[ -]?card|dokument)\w*"
    r"[ .:-]{0,3}(?:nr|nummer|no|number)?[ .:]{0,3}\Z",
    re.IGNORECASE,
)
# Steuernummer: its format differs by state and has no check digit everyone can compute, so it
# counts only right after its name.
_TAX_NUMBER = re.compile(
    r"\b(?:steuernummer|steuer-nr|st\.?-?nr)\.?[ :]{0,3}"
    r"(?P<number>[0-9]{2,5}(?:[ /][0-9]{3,5}){1,3})",
    re.IGNORECASE,
)


def id_numbers(text: str) -> Iterator[Candidate]:
    for match in _TAX_ID.finditer(text):
        if idnr.is_valid(match.group().replace(" ", "")):
            yield Candidate(match.start(), match.end(), Kind.ID_NUMBER, True)
    for match in _PENSION_NUMBER.finditer(text):
        if _pension_number_ok(match.group().replace(" ", "").upper()):
            yield Candidate(match.start(), match.end(), Kind.ID_NUMBER, True)
    for match in _HEALTH_NUMBER.finditer(text):
        if _health_number_ok(match.group()):
            yield Candidate(match.start(), match.end(), Kind.ID_NUMBER, True)
    for match in _DOCUMENT_NUMBER.finditer(text):
        number = match.group()
        if match.group("check") is not None:
            valid = _icao_check_digit(number[:9]) == number[9]
        else:  # printed without its check digit: only right after "Ausweis-Nr." and the like
            window = (text, max(0, match.start() - 40), match.start())
            valid = _DOCUMENT_CONTEXT.search(*window) is not None
        if valid:
            yield Candidate(match.start(), match.end(), Kind.ID_NUMBER, True)
    lower = text.lower()
    if "steuer" not in lower and "st" not in lower.replace(".", "").replace("-", ""):
        return
    for match in _TAX_NUMBER.finditer(text):
        if stnr.is_valid(match.group("number")):
            yield Candidate(match.start("number"), match.end(), Kind.ID_NUMBER, True)


# python-stdnum has the tax id (de.idnr) and the tax number (de.stnr) but none of the following
# three, so their documented check digits are computed here.


def _pension_number_ok(number: str) -> bool:
    """Deutsche Rentenversicherung: the initial becomes its two-digit position in the alphabet;
    the twelve digits are weighted 2,1,2,5,7,1,2,1,2,1,2,1, the digit sums of the products
    added up, and the sum modulo 10 is the check digit."""
    day, month = int(number[2:4]), int(number[4:6])
    if not 1 <= day <= 31 or not 1 <= month <= 12:
        return False
    digits = number[:8] + f"{ord(number[8]) - ord('A') + 1:02d}" + number[9:11]
    weights = (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1)
    total = sum(sum(divmod(int(d) * w, 10)) for d, w in zip(digits, weights, strict=True))
    return total % 10 == int(number[11])


def _health_number_ok(number: str) -> bool:
    """GKV-Spitzenverband (§ 290 SGB V): the letter becomes its two-digit position in the
    alphabet; the ten digits are weighted 1,2,1,2,…, the digit sums of the products added up,
    and the sum modulo 10 is the check digit."""
    digits = f"{ord(number[0]) - ord('A') + 1:02d}" + number[1:9]
    total = sum(sum(divmod(int(d) * (1 + i % 2), 10)) for i, d in enumerate(digits))
    return total % 10 == int(number[9])


def _icao_check_digit(serial: str) -> str:
    """ICAO Doc 9303: values 0-9 and A=10 … Z=35, weighted 7,3,1, summed modulo 10."""
    return str(sum(int(char, 36) * (7, 3, 1)[i % 3] for i, char in enumerate(serial)) % 10)
