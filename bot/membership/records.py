"""What membership hands to handlers: snapshots of members and invites, results of steps."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select

from bot.errors import DomainError
from storage.models import Invite, Member, MemberStatus, Role
from storage.repositories import table_of

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from bot.copies import Copy

    Snapshot = TypeVar("Snapshot", bound=DataclassInstance)

# Delivery kinds of membership: a new request to coordinators, a decision to the person.
REQUEST_NOTICE = "request"
DECISION_NOTICE = "decision"
CHANGE_NOTICE = "profile_changed"
# To the inviting coordinator: someone joined with their invitation (with a revoke button).
REDEEMED_NOTICE = "invite_redeemed"

NAME_LIMITS = (2, 100)
INSTITUTION_LIMITS = (2, 200)


def snapshot(cls: type[Snapshot], row: object, **computed: Any) -> Snapshot:
    """A read-only copy of a database row: each field of `cls` from the row's attribute of
    the same name, except the `computed` ones."""
    copied = {f.name: getattr(row, f.name) for f in fields(cls) if f.name not in computed}
    return cls(**copied, **computed)


class Admin:
    """The server operator acting through the command line."""

    def __repr__(self) -> str:
        return "ADMIN"


ADMIN_ACTOR = Admin()
Actor = int | Admin  # a member id, or the operator


@dataclass(frozen=True)
class TelegramIdentity:
    user_id: int
    chat_id: int
    language_code: str | None = None


@dataclass(frozen=True)
class MemberView:
    """A read-only snapshot of a member for handlers and rendering."""

    id: int
    telegram_user_id: int | None
    chat_id: int | None
    display_name: str | None
    institution: str | None
    sector: str | None
    region: str | None
    role: str
    status: str
    language: str | None

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.ACTIVE

    @property
    def is_coordinator(self) -> bool:
        return self.is_active and self.role == Role.COORDINATOR

    @classmethod
    def of(cls, member: Member) -> MemberView:
        return snapshot(cls, member)


# The columns of a MemberView on the members table, read as a plain Core statement (no row
# object, and not the ORM's execution path): the access gate and the raise add their `where`.
MEMBERS = table_of(Member)
MEMBER_VIEW = select(*(MEMBERS.c[f.name] for f in fields(MemberView)))


class Step(StrEnum):
    """What the bot asks next while someone joins."""

    SECTOR = "sector"
    REGION = "region"
    INSTITUTION = "institution"
    NAME = "name"
    DONE = "done"


def next_step(member: MemberView) -> Step:
    """Invited people give name and institution; requests also choose sector and region."""
    if member.status == MemberStatus.APPLYING:
        if member.sector is None:
            return Step.SECTOR
        if member.region is None:
            return Step.REGION
        if member.institution is None:
            return Step.INSTITUTION
    if member.status in (MemberStatus.ONBOARDING, MemberStatus.APPLYING):
        if member.display_name is None:
            return Step.NAME
        if member.institution is None:
            return Step.INSTITUTION
    return Step.DONE


@dataclass(frozen=True)
class CreatedInvite:
    id: int
    token: str
    sector: str
    region: str
    role: str
    max_uses: int
    expires_at: datetime


@dataclass(frozen=True)
class InviteView:
    """An invitation link as its coordinator sees it in /invites (the link itself is not
    stored, only its hash)."""

    id: int
    sector: str
    region: str
    role: str
    max_uses: int
    uses: int
    created_at: datetime
    expires_at: datetime
    withdrawn: bool

    @property
    def uses_left(self) -> int:
        return 0 if self.withdrawn else self.max_uses - self.uses

    @classmethod
    def of(cls, invite: Invite) -> InviteView:
        return snapshot(cls, invite, withdrawn=invite.withdrawn_at is not None)


@dataclass(frozen=True)
class Progress:
    """Result of one joining step: the member now, and coordinators to tell about a request."""

    member: MemberView
    step: Step
    notify: tuple[MemberView, ...] = ()


@dataclass(frozen=True)
class Decision:
    """Result of approve/reject/revoke: the member now, and whether the person should be told."""

    member: MemberView
    previous_status: str


@dataclass(frozen=True)
class RegionScope:
    """What a regional coordinator manages: their regions; `statewide` is the code of the
    whole state (an alert or a target for it concerns every region)."""

    regions: frozenset[str]
    statewide: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def clean_text(raw: str, limits: tuple[int, int], field: str) -> str:
    """Collapse whitespace and drop control characters; refuse what is too short or long."""
    text = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C" or ch in " \n")
    text = " ".join(text.split())
    low, high = limits
    if not low <= len(text) <= high:
        raise DomainError(f"error.{field}_length", min=low, max=high)
    return text


@dataclass(frozen=True)
class DecidedRequest:
    """An access request someone decided, and the coordinators' notices of it in their chats:
    who decided how, and when."""

    applicant: MemberView
    decided_by: MemberView | None  # None: the operator on the command line
    decided_at: datetime
    copies: tuple[Copy, ...]
