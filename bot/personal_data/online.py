"""E-mail addresses and social-media or messenger handles."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.personal_data._common import Candidate, Kind

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


def emails(text: str) -> Iterator[Candidate]:
    for match in _EMAIL.finditer(text):
        yield Candidate(match.start(), match.end(), Kind.EMAIL, True)


# --- Handles ------------------------------------------------------------------------------------

# "@dennis_b_hro", but not the "@" of an e-mail address or "Treffen @ 10".
_AT_HANDLE = re.compile(r"@(?<![\w@.+-]@)(?=[\w.]*[^\W\d_])\w[\w.]{0,28}\w(?![\w@]|\.\w)")
# A profile address: "instagram.com/lea.sophie2010", "t.me/kevin_n88", "tiktok.com/@x".
_PROFILE_URL = re.compile(
    r"""
    (?<![\w.-])(?:https?://)?(?:www\.|m\.|vm\.)?
    (?P<profile>
        (?:instagram\.com|instagr\.am|facebook\.com|fb\.com|tiktok\.com|t\.me|telegram\.me
          |youtube\.com|twitter\.com|x\.com|snapchat\.com|threads\.net|linkedin\.com
          |twitch\.tv|vk\.com|ok\.ru|reddit\.com|onlyfans\.com|discord\.gg|wa\.me)
        /[\w@.%~/-]{1,100}+
    )
    (?<![.])
    """,
    re.VERBOSE | re.IGNORECASE,
)
# "Snapchat-Name: jonas_f2007": a user name right after a platform's name, recognisable as one
# by an underscore, a dot or a digit inside it.
_NAMED_HANDLE = re.compile(
    r"""
    \b(?:instagram|insta|tiktok|snapchat|snap|telegram|discord|facebook|twitter|threads|youtube
       |signal|whatsapp|skype|twitch|x)
    (?:[ -]?(?:name|account|konto|profil|profile|handle|user(?:name)?|id|nick))?
    [ ]?:?[ ](?:(?:als|ist|is|as)[ ])?
    (?P<handle>(?=[\w.#]*[_.#0-9])[^\W\d_][\w.#]{2,30}+)(?<![.])
    """,
    re.VERBOSE | re.IGNORECASE,
)


_PLATFORMS = (
    "insta", "tiktok", "snap", "telegram", "discord", "facebook", "twitter", "threads",
    "youtube", "signal", "whatsapp", "skype", "twitch", "x ", "x-", "x:",
)  # fmt: skip


def handles(text: str) -> Iterator[Candidate]:
    # Cheap tests first: most texts have no "@", no "/" and name no platform.
    if "@" in text:
        for match in _AT_HANDLE.finditer(text):
            yield Candidate(match.start(), match.end(), Kind.HANDLE, True)
    if "/" in text:
        for match in _PROFILE_URL.finditer(text):
            yield Candidate(match.start("profile"), match.end(), Kind.HANDLE, True)
    lower = text.lower()
    if any(platform in lower for platform in _PLATFORMS):
        for match in _NAMED_HANDLE.finditer(text):
            yield Candidate(match.start("handle"), match.end(), Kind.HANDLE, True)
