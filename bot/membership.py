"""Verified membership: invites, access requests, approval, revocation and profiles."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, select

from bot.delivery import FOR_EVERYONE, Priority
from bot.errors import DomainError
from bot.i18n import client_language
from bot.network import Network
from storage.audit import ADMIN, SYSTEM, member_actor
from storage.models import Invite, Member, MemberStatus, Role
from storage.uow import UnitOfWork, UnitOfWorkFactory

# Delivery kinds of membership: a new request to coordinators, a decision to the person.
REQUEST_NOTICE = "request"
DECISION_NOTICE = "decision"
CHANGE_NOTICE = "profile_changed"
# To the inviting coordinator: someone joined with their invitation (with a revoke button).
REDEEMED_NOTICE = "invite_redeemed"

_TOKEN_FORMAT = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NAME_LIMITS = (2, 100)
INSTITUTION_LIMITS = (2, 200)
_VERBS = {"member.approved": "approve", "member.rejected": "reject", "member.revoked": "revoke"}
_UNVERIFIED = (MemberStatus.ONBOARDING, MemberStatus.APPLYING, MemberStatus.PENDING)


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
        return cls(
            id=member.id,
            telegram_user_id=member.telegram_user_id,
            chat_id=member.chat_id,
            display_name=member.display_name,
            institution=member.institution,
            sector=member.sector,
            region=member.region,
            role=member.role,
            status=member.status,
            language=member.language,
        )


# The columns of a MemberView; built once (the access gate reads it per update).
_VIEW_BY_TELEGRAM_ID = select(
    Member.id,
    Member.telegram_user_id,
    Member.chat_id,
    Member.display_name,
    Member.institution,
    Member.sector,
    Member.region,
    Member.role,
    Member.status,
    Member.language,
).where(Member.telegram_user_id == bindparam("telegram_user_id"))


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
        return cls(
            id=invite.id,
            sector=invite.sector,
            region=invite.region,
            role=invite.role,
            max_uses=invite.max_uses,
            uses=invite.uses,
            created_at=invite.created_at,
            expires_at=invite.expires_at,
            withdrawn=invite.withdrawn_at is not None,
        )


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


class MembershipService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        network: Network,
        invite_max_days: int,
        *,
        invite_max_uses: int = 50,
    ) -> None:
        self._uow = uow
        self._network = network
        self._invite_max_days = invite_max_days
        self._invite_max_uses = invite_max_uses

    # -- reading ---------------------------------------------------------------------------

    async def find_by_telegram(self, telegram_user_id: int) -> MemberView | None:
        """Read on every update by the access gate: the view's columns by a prebuilt query,
        without building an ORM object."""
        async with self._uow(write=False) as uow:
            row = (
                await uow.session.execute(
                    _VIEW_BY_TELEGRAM_ID, {"telegram_user_id": telegram_user_id}
                )
            ).first()
            return MemberView(**row._mapping) if row else None

    async def get(self, member_id: int) -> MemberView | None:
        async with self._uow(write=False) as uow:
            member = await uow.members.get(member_id)
            return MemberView.of(member) if member else None

    async def list_pending(self, actor: Actor) -> list[MemberView]:
        async with self._uow(write=False) as uow:
            regions = await self._scope(uow, actor)
            pending = await uow.members.find(statuses=[MemberStatus.PENDING], regions=regions)
            return [MemberView.of(member) for member in pending]

    async def list_members(
        self, actor: Actor, sector: str | None = None, region: str | None = None
    ) -> list[MemberView]:
        sector = self._network.sector(sector).code if sector else None
        async with self._uow(write=False) as uow:
            regions = await self._scope(uow, actor)
            if region:
                region = self._network.region(region).code
                if regions is not None and region not in regions:
                    raise DomainError("error.outside_scope", region=region)
                regions = [region]
            members = await uow.members.find(sector=sector, regions=regions)
            return [MemberView.of(member) for member in members]

    async def scope(self, actor: Actor) -> RegionScope | None:
        """The regions a coordinator manages; None for the whole state (statewide coordinators
        and the operator)."""
        async with self._uow(write=False) as uow:
            regions = await self._scope(uow, actor)
        if regions is None:
            return None
        return RegionScope(frozenset(regions), self._network.statewide_region)

    async def count_by_status(self) -> dict[str, int]:
        async with self._uow(write=False) as uow:
            return await uow.members.count_by_status()

    async def active_coordinators(self) -> list[MemberView]:
        async with self._uow(write=False) as uow:
            found = await uow.members.find(role=Role.COORDINATOR)
            return [MemberView.of(member) for member in found]

    # -- invites ---------------------------------------------------------------------------

    async def create_invite(
        self,
        actor: Actor,
        sector: str,
        region: str,
        *,
        role: str = Role.MEMBER,
        uses: int = 1,
        days: int = 7,
    ) -> CreatedInvite:
        sector = self._network.sector(sector).code
        region = self._network.region(region).code
        if role not in (Role.MEMBER, Role.COORDINATOR):
            raise DomainError("error.unknown_role", role=role)
        if role == Role.COORDINATOR and uses != 1:
            # Whoever holds a coordinator's link can admit and revoke others: one person only.
            raise DomainError("invite.coordinator_single_use")
        if not 1 <= uses <= self._invite_max_uses:
            raise DomainError("error.invite_uses", max=self._invite_max_uses)
        if not 1 <= days <= self._invite_max_days:
            raise DomainError("error.invite_days", max=self._invite_max_days)
        token = secrets.token_urlsafe(24)
        async with self._uow() as uow:
            scope = await self._scope(uow, actor)
            if scope is not None and region not in scope:
                raise DomainError("error.outside_scope", region=region)
            now = uow.now()
            invite = Invite(
                token_hash=hash_token(token),
                sector=sector,
                region=region,
                role=role,
                max_uses=uses,
                uses=0,
                created_at=now,
                expires_at=now + timedelta(days=days),
                created_by=None if isinstance(actor, Admin) else actor,
            )
            uow.invites.add(invite)
            await uow.invites.flush()
            uow.audit.record(
                _actor(actor),
                "invite.created",
                f"invite:{invite.id}",
                sector=sector,
                region=region,
                role=role,
                uses=uses,
                days=days,
            )
            await uow.commit()
        return CreatedInvite(invite.id, token, sector, region, role, uses, invite.expires_at)

    async def redeem_invite(self, who: TelegramIdentity, token: str) -> Progress:
        if not _TOKEN_FORMAT.match(token):
            raise DomainError("invite.invalid")
        async with self._uow() as uow:
            now = uow.now()
            invite = await uow.invites.by_token_hash(hash_token(token))
            if invite is None:
                raise DomainError("invite.invalid")
            if invite.withdrawn_at is not None:
                raise DomainError("invite.withdrawn")
            if invite.expires_at <= now:
                raise DomainError("invite.expired")
            member = await uow.members.by_telegram_id(who.user_id, for_update=True)
            if member is not None:
                if member.status in (MemberStatus.ACTIVE, MemberStatus.ONBOARDING):
                    raise DomainError("invite.already_member")
                # An invite made before someone was revoked or rejected must not let them back.
                if member.status in (MemberStatus.REVOKED, MemberStatus.REJECTED) and (
                    invite.created_at <= member.status_changed_at
                ):
                    raise DomainError("invite.invalid")
            if not await uow.invites.use(invite.id, now):
                raise DomainError("invite.used_up")
            if member is None:
                member = Member(telegram_user_id=who.user_id, created_at=now)
                uow.members.add(member)
            member.chat_id = who.chat_id
            member.language = member.language or client_language(who.language_code)
            member.sector, member.region, member.role = invite.sector, invite.region, invite.role
            member.invite_id = invite.id
            member.display_name = member.institution = None
            _set_status(member, MemberStatus.ONBOARDING, now, by=invite.created_by)
            await uow.members.flush()
            await self._leave_inadmissible_channels(uow, member)
            uow.audit.record(
                member_actor(member.id),
                "invite.redeemed",
                f"invite:{invite.id}",
                member=member.id,
                sector=invite.sector,
                region=invite.region,
                role=invite.role,
            )
            await uow.commit()
            view = MemberView.of(member)
        return Progress(view, next_step(view))

    async def list_invites(self, actor: int) -> list[InviteView]:
        """The coordinator's own links that can still admit someone."""
        async with self._uow(write=False) as uow:
            await self._scope(uow, actor)  # coordinators only
            invites = await uow.invites.active_of(actor, uow.now())
            return [InviteView.of(invite) for invite in invites]

    async def get_invite(self, invite_id: int) -> InviteView | None:
        async with self._uow(write=False) as uow:
            invite = await uow.invites.get(invite_id)
            return InviteView.of(invite) if invite else None

    async def withdraw_invite(self, actor: int, invite_id: int) -> InviteView:
        """Withdraw one of the coordinator's own links: nobody can join with it any more.
        Someone else's link is refused as if it did not exist."""
        async with self._uow() as uow:
            await self._scope(uow, actor)  # coordinators only
            invite = await uow.invites.get(invite_id, for_update=True)
            if invite is None or invite.created_by != actor:
                raise DomainError("invite.unknown")
            if invite.withdrawn_at is None:
                invite.withdrawn_at = uow.now()
                uow.audit.record(
                    member_actor(actor),
                    "invite.withdrawn",
                    f"invite:{invite.id}",
                    uses=invite.uses,
                    max_uses=invite.max_uses,
                )
                await uow.commit()
            return InviteView.of(invite)

    async def _tell_inviter(self, uow: UnitOfWork, member: Member, now: datetime) -> None:
        """Every redemption reaches the coordinator whose link it was (links made on the
        command line have nobody to tell)."""
        if member.invite_id is None:
            return
        invite = await uow.invites.get(member.invite_id)
        if invite is None or invite.created_by is None or invite.created_by == member.id:
            return
        uow.deliveries.enqueue(
            kind=REDEEMED_NOTICE,
            member_ids=[invite.created_by],
            priority=Priority.NORMAL,
            now=now,
            params={"member": member.id, "invite": invite.id},
        )

    # -- access requests -------------------------------------------------------------------

    async def start_request(self, who: TelegramIdentity) -> Progress:
        async with self._uow() as uow:
            now = uow.now()
            member = await uow.members.by_telegram_id(who.user_id, for_update=True)
            if member is not None:
                if member.status in (MemberStatus.REVOKED, MemberStatus.REJECTED):
                    raise DomainError(f"access.{member.status}")
                view = MemberView.of(member)
                return Progress(view, next_step(view))
            member = Member(
                telegram_user_id=who.user_id,
                chat_id=who.chat_id,
                role=Role.MEMBER,
                created_at=now,
                language=client_language(who.language_code),
            )
            _set_status(member, MemberStatus.APPLYING, now, by=None)
            uow.members.add(member)
            await uow.members.flush()
            uow.audit.record(member_actor(member.id), "request.started", f"member:{member.id}")
            await uow.commit()
            view = MemberView.of(member)
        return Progress(view, next_step(view))

    async def choose_sector(self, member_id: int, sector: str) -> Progress:
        sector = self._network.sector(sector).code
        return await self._fill(member_id, Step.SECTOR, sector)

    async def choose_region(self, member_id: int, region: str) -> Progress:
        region = self._network.region(region).code
        return await self._fill(member_id, Step.REGION, region)

    async def give_text(self, member_id: int, raw: str) -> Progress:
        """Answer the current text question (name or institution) of someone joining."""
        async with self._uow(write=False) as uow:
            member = await uow.members.get(member_id)
            step = next_step(MemberView.of(member)) if member else Step.DONE
        if step == Step.NAME:
            return await self._fill(member_id, step, clean_text(raw, NAME_LIMITS, "name"))
        if step == Step.INSTITUTION:
            value = clean_text(raw, INSTITUTION_LIMITS, "institution")
            return await self._fill(member_id, step, value)
        raise DomainError("join.use_buttons")

    async def _fill(self, member_id: int, step: Step, value: str) -> Progress:
        async with self._uow() as uow:
            now = uow.now()
            member = await uow.members.get(member_id, for_update=True)
            if member is None or next_step(MemberView.of(member)) != step:
                raise DomainError("join.step_outdated")
            if step == Step.SECTOR:
                member.sector = value
            elif step == Step.REGION:
                member.region = value
            elif step == Step.INSTITUTION:
                member.institution = value
            else:
                member.display_name = value
            notify: Sequence[Member] = ()
            if next_step(MemberView.of(member)) == Step.DONE:
                if member.status == MemberStatus.ONBOARDING:
                    _set_status(member, MemberStatus.ACTIVE, now, by=member.status_changed_by)
                    uow.audit.record(
                        member_actor(member.id), "member.activated", f"member:{member.id}"
                    )
                    await self._tell_inviter(uow, member, now)
                else:
                    _set_status(member, MemberStatus.PENDING, now, by=None)
                    uow.audit.record(
                        member_actor(member.id),
                        "request.submitted",
                        f"member:{member.id}",
                        sector=member.sector,
                        region=member.region,
                    )
                    assert member.region is not None
                    notify = await uow.members.coordinators_for(
                        member.region, self._network.statewide_region
                    )
                    uow.deliveries.enqueue(
                        kind=REQUEST_NOTICE,
                        member_ids=[c.id for c in notify],
                        priority=Priority.NORMAL,
                        now=now,
                        params={"member": member.id},
                    )
            await uow.commit()
            view = MemberView.of(member)
            return Progress(view, next_step(view), tuple(MemberView.of(c) for c in notify))

    # -- coordinators' decisions -----------------------------------------------------------

    async def approve(self, actor: Actor, member_id: int) -> Decision:
        return await self._decide(actor, member_id, "member.approved", MemberStatus.ACTIVE)

    async def reject(self, actor: Actor, member_id: int) -> Decision:
        return await self._decide(actor, member_id, "member.rejected", MemberStatus.REJECTED)

    async def revoke(self, actor: Actor, member_id: int) -> Decision:
        if actor == member_id:
            raise DomainError("error.not_yourself")
        return await self._decide(actor, member_id, "member.revoked", MemberStatus.REVOKED)

    async def _decide(self, actor: Actor, member_id: int, action: str, new: str) -> Decision:
        allowed_from = {
            MemberStatus.ACTIVE: (MemberStatus.PENDING,),
            MemberStatus.REJECTED: (MemberStatus.PENDING,),
            MemberStatus.REVOKED: (*_UNVERIFIED, MemberStatus.ACTIVE),
        }[MemberStatus(new)]
        async with self._uow() as uow:
            scope = await self._scope(uow, actor)
            member = await uow.members.get(member_id, for_update=True)
            if member is None or (scope is not None and member.region not in scope):
                raise DomainError("error.unknown_member", member=member_id)
            if member.status not in allowed_from:
                raise DomainError(f"decision.state.{member.status}", member=member_id)
            previous = member.status
            now = uow.now()
            _set_status(member, new, now, by=_member_id(actor))
            uow.audit.record(_actor(actor), action, f"member:{member.id}", previous=previous)
            if new != MemberStatus.ACTIVE:
                # Nothing more reaches someone who is not a member, only the news of it.
                await uow.deliveries.cancel_waiting_for(member.id, now, keep=FOR_EVERYONE)
            uow.deliveries.enqueue(
                kind=DECISION_NOTICE,
                member_ids=[member.id],
                priority=Priority.NORMAL,
                now=now,
                params={"decision": _VERBS[action]},
            )
            await uow.commit()
            return Decision(MemberView.of(member), previous)

    async def change(
        self,
        actor: Actor,
        member_id: int,
        *,
        sector: str | None = None,
        region: str | None = None,
        role: str | None = None,
    ) -> MemberView:
        """Move a member to another sector or region, or change their role; the coordinator
        must be responsible for the old and the new region."""
        sector = self._network.sector(sector).code if sector else None
        region = self._network.region(region).code if region else None
        if role is not None and role not in (Role.MEMBER, Role.COORDINATOR):
            raise DomainError("error.unknown_role", role=role)
        async with self._uow() as uow:
            scope = await self._scope(uow, actor)
            member = await uow.members.get(member_id, for_update=True)
            if member is None or (scope is not None and member.region not in scope):
                raise DomainError("error.unknown_member", member=member_id)
            if member.status != MemberStatus.ACTIVE:
                raise DomainError(f"decision.state.{member.status}", member=member_id)
            if scope is not None and region is not None and region not in scope:
                raise DomainError("error.outside_scope", region=region)
            before = (member.sector, member.region, member.role)
            member.sector = sector or member.sector
            member.region = region or member.region
            member.role = role or member.role
            after = (member.sector, member.region, member.role)
            if after != before:
                now = uow.now()
                uow.audit.record(
                    _actor(actor),
                    "member.changed",
                    f"member:{member.id}",
                    before=[str(part) for part in before],
                    after=[str(part) for part in after],
                )
                await self._leave_inadmissible_channels(uow, member)
                uow.deliveries.enqueue(
                    kind=CHANGE_NOTICE,
                    member_ids=[member.id],
                    priority=Priority.NORMAL,
                    now=now,
                )
                await uow.commit()
            return MemberView.of(member)

    # -- preferences -----------------------------------------------------------------------

    async def set_language(self, member_id: int, language: str) -> MemberView:
        async with self._uow() as uow:
            member = await uow.members.get(member_id, for_update=True)
            if member is None:
                raise DomainError("error.unknown_member", member=member_id)
            if member.language != language:
                member.language = language
                uow.audit.record(
                    member_actor(member.id),
                    "member.language_changed",
                    f"member:{member.id}",
                    language=language,
                )
                await uow.commit()
            return MemberView.of(member)

    # -- helpers ---------------------------------------------------------------------------

    async def _leave_inadmissible_channels(self, uow: UnitOfWork, member: Member) -> None:
        """A new sector or region: leave channels whose rule no longer admits the person."""
        for channel_id in await uow.channels.drop_inadmissible(
            member_id=member.id,
            sector=member.sector,
            region=member.region,
            statewide_region=self._network.statewide_region,
        ):
            uow.audit.record(
                SYSTEM, "channel.member_removed", f"channel:{channel_id}", member=member.id
            )

    async def _scope(self, uow: UnitOfWork, actor: Actor) -> list[str] | None:
        """Regions the actor may manage: None means all (operator, statewide coordinators)."""
        if isinstance(actor, Admin):
            return None
        member = await uow.members.get(actor)
        if member is None or member.status != MemberStatus.ACTIVE:
            raise DomainError("access.not_active")
        if member.role != Role.COORDINATOR:
            raise DomainError("error.coordinators_only")
        if member.region == self._network.statewide_region:
            return None
        return [member.region] if member.region else []


def _actor(actor: Actor) -> str:
    return ADMIN if isinstance(actor, Admin) else member_actor(actor)


def _member_id(actor: Actor) -> int | None:
    return None if isinstance(actor, Admin) else actor


def _set_status(member: Member, status: str, now: datetime, *, by: int | None) -> None:
    member.status = status
    member.status_changed_at = now
    member.status_changed_by = by
