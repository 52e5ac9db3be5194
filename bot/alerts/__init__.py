"""Urgent case alerts: raising, acknowledging, taking over, follow-ups, closing, escalation;
and drills, which are alerts marked as exercises."""

from __future__ import annotations

from bot.alerts.copies import AlertCopy, Copies
from bot.alerts.escalation import Escalation
from bot.alerts.model import (
    ALERT_KINDS,
    Acknowledgement,
    AlertLine,
    AlertView,
    ClientName,
    Escalated,
    EscalationPeriods,
    Notice,
    Origin,
    RaisedAlert,
    StatusView,
    TakeOver,
    UrgentLimitReached,
    check_text,
    parse_sectors,
)
from bot.alerts.queries import Queries
from bot.alerts.raising import Raising
from bot.alerts.responses import Responses
from bot.texts import MAX_TEXT

__all__ = [
    "ALERT_KINDS",
    "MAX_TEXT",
    "Acknowledgement",
    "AlertCopy",
    "AlertLine",
    "AlertService",
    "AlertView",
    "ClientName",
    "Escalated",
    "EscalationPeriods",
    "Notice",
    "Origin",
    "RaisedAlert",
    "StatusView",
    "TakeOver",
    "UrgentLimitReached",
    "check_text",
    "parse_sectors",
]


class AlertService(Raising, Responses, Escalation, Queries, Copies):
    """The alert service: one set of dependencies (`AlertBase`), its parts by responsibility."""
