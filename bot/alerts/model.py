"""What the alert service hands out and takes in: notices, views, results, refusals, and the
checks of a target and a text that need no database."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import DomainError, PersonalDataError
from bot.membership import MemberView
from bot.network import Network
from bot.personal_data import Finding
from bot.texts import check_message
from storage.audit import member_actor
from storage.models import Urgency

ALL_SECTORS = "all"
URGENT_WINDOW = timedelta(hours=1)


class Notice:
    """Delivery kinds of alerts: what a recipient is sent."""

    ALERT = "alert"
    REMINDER = "alert_reminder"  # re-sent to those who did not acknowledge in time
    ESCALATION = "escalation"  # coordinators brought in
    FOLLOW_UP = "followup"
    CLOSED = "closed"
    TAKEN = "taken"
    # To the coordinators: a sender reached ALERT_URGENT_PER_HOUR and was refused.
    URGENT_LIMIT = "urgent_limit"


# Deliveries that carry the alert itself and count for "delivered n/N".
ALERT_KINDS = (Notice.ALERT,)


@dataclass(frozen=True)
class Origin:
    """Who raises an alert: a member (`member_id`), or an agency system of the HTTP API
    (`client_id`)."""

    member_id: int | None = None
    client_id: int | None = None

    @property
    def actor(self) -> str:
        """The audit actor."""
        return (
            member_actor(self.member_id) if self.member_id is not None else f"api:{self.client_id}"
        )

    @property
    def param(self) -> dict[str, int | str | None]:
        """How a notice names the sender."""
        if self.member_id is not None:
            return {"member": self.member_id}
        return {"client": self.client_id}


class UrgentLimitReached(DomainError):
    """ALERT_URGENT_PER_HOUR reached: the polite refusal, and whose limit it was."""

    def __init__(self, limit: int, wait_seconds: int, origin: Origin) -> None:
        super().__init__(
            "alert.urgent_limit",
            limit=limit,
            count=math.ceil(wait_seconds / 60),  # minutes until the next urgent alert
            retry_after=wait_seconds,
        )
        self.limit, self.origin = limit, origin


@dataclass(frozen=True)
class EscalationPeriods:
    urgent: timedelta
    normal: timedelta

    def after(self, urgency: str) -> timedelta:
        return self.urgent if urgency == Urgency.URGENT else self.normal


@dataclass(frozen=True)
class ClientName:
    """An agency system as recipients see it: its name, sector and region."""

    name: str
    sector: str
    region: str


@dataclass(frozen=True)
class AlertView:
    """What recipients and senders are shown about an alert (without its text)."""

    id: int
    ref: str
    sender: MemberView | None  # None when an agency system raised it
    sectors: tuple[str, ...]
    region: str
    urgency: str
    status: str
    created_at: datetime
    taken_by: MemberView | None
    taken_at: datetime | None
    escalation_level: int
    escalate_at: datetime | None
    status_chat_id: int | None
    status_message_id: int | None
    drill: bool = False
    result_due_at: datetime | None = None
    client: ClientName | None = None

    @property
    def is_urgent(self) -> bool:
        return self.urgency == Urgency.URGENT


@dataclass(frozen=True)
class RaisedAlert:
    alert: AlertView
    recipients: int


@dataclass(frozen=True)
class StatusView:
    """The live status the sender sees: delivery counts and who did what."""

    alert: AlertView
    recipients: int
    delivered: int
    pending: int
    unreachable: tuple[MemberView, ...]
    failed: int
    cancelled: int
    acknowledged: tuple[MemberView, ...]
    # (deputy, absent member): who received the alert in whose place.
    deputies: tuple[tuple[MemberView, MemberView], ...] = ()
    away: tuple[MemberView, ...] = ()  # absent, and nobody stands in


@dataclass(frozen=True)
class Acknowledgement:
    alert: AlertView
    already: bool


@dataclass(frozen=True)
class TakeOver:
    alert: AlertView
    taken: bool  # False: somebody else was first, see alert.taken_by


@dataclass(frozen=True)
class AlertLine:
    """One row of /alerts."""

    alert: AlertView
    mine: bool
    acknowledged_by_me: bool
    acknowledged: int
    recipients: int


@dataclass(frozen=True)
class Escalated:
    alert_id: int
    level: int
    new_deliveries: int
    next_at: datetime | None


def parse_sectors(network: Network, raw: str) -> tuple[str, ...]:
    """`police,youth_welfare` or `all` → sector codes, in the network's order."""
    wanted = {part.strip().lower() for part in raw.split(",") if part.strip()}
    if not wanted:
        raise DomainError("error.unknown_sector", sector=raw, valid=", ".join(network.sectors))
    if ALL_SECTORS in wanted:
        return tuple(network.sectors)
    codes = {network.sector(code).code for code in wanted}
    return tuple(code for code in network.sectors if code in codes)


def check_text(text: str, places: Collection[str] = ()) -> list[Finding]:
    """See `check_message`."""
    return check_message("alert", text, places)


def require_clean(text: str, confirmed: bool, places: Collection[str]) -> str:
    """Blocking findings always refuse; the others only until the sender confirmed them."""
    findings = check_text(text, places)
    if any(finding.blocking for finding in findings):
        raise PersonalDataError("alert.personal_data_blocking", findings)
    if findings and not confirmed:
        raise PersonalDataError("alert.personal_data_confirm", findings)
    return text.strip()


def target(
    network: Network, sectors: Sequence[str], region: str, urgency: str
) -> tuple[str, tuple[str, ...]]:
    """The region's and sectors' codes of an alert; refuses an unknown urgency."""
    region = network.region(region).code
    codes = tuple(network.sector(code).code for code in sectors)
    if not codes:
        raise DomainError("error.unknown_sector", sector="", valid=", ".join(network.sectors))
    if urgency not in (Urgency.URGENT, Urgency.NORMAL):
        raise DomainError("alert.unknown_urgency")
    return region, codes
