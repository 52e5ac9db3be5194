"""Meeting and decision polls: date polls (yes / if need be / no per option), single- and
multiple-choice polls, named or anonymous, with reminders, a deadline and a final decision.

Votes are race-free: each voter's ballot has one row (the lock, by upsert) and at most one
answer per option (primary keys). Anonymous polls never store who answered what: the voter
appears only as keyed hashes, under a secret of the poll that is erased when the poll closes.
"""

from bot.polls.model import (
    BALLOT_KINDS,
    MAX_OPTIONS,
    MIN_OPTIONS,
    OPTION_LIMITS,
    TITLE_LIMITS,
    Ballot,
    Due,
    OptionView,
    PollDraft,
    PollLine,
    PollNotice,
    PollView,
    Results,
    clean_label,
    poll_changed,
)
from bot.polls.service import PollService

__all__ = [
    "BALLOT_KINDS",
    "MAX_OPTIONS",
    "MIN_OPTIONS",
    "OPTION_LIMITS",
    "TITLE_LIMITS",
    "Ballot",
    "Due",
    "OptionView",
    "PollDraft",
    "PollLine",
    "PollNotice",
    "PollService",
    "PollView",
    "Results",
    "clean_label",
    "poll_changed",
]
