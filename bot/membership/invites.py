"""Invitation links: create, redeem, list and withdraw them."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from bot.errors import DomainError
from bot.i18n import client_language
from bot.membership.base import MembershipBase, actor_name, set_status, tell
from bot.membership.records import (
    REDEEMED_NOTICE,
    Actor,
    Admin,
    CreatedInvite,
    InviteView,
    MemberView,
    Progress,
    TelegramIdentity,
    hash_token,
    next_step,
)
from storage.audit import member_actor
from storage.models import Invite, Member, MemberStatus, Role
from storage.uow import UnitOfWork

_TOKEN_FORMAT = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class Invitations(MembershipBase):
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
        sector = self.network.sector(sector).code
        region = self.network.region(region).code
        if role not in (Role.MEMBER, Role.COORDINATOR):
            raise DomainError("error.unknown_role", role=role)
        if role == Role.COORDINATOR and uses != 1:
            # Whoever holds a coordinator's link can admit and revoke others: one person only.
            raise DomainError("invite.coordinator_single_use")
        if not 1 <= uses <= self.invite_max_uses:
            raise DomainError("error.invite_uses", max=self.invite_max_uses)
        if not 1 <= days <= self.invite_max_days:
            raise DomainError("error.invite_days", max=self.invite_max_days)
        token = secrets.token_urlsafe(24)
        async with self.uow() as uow:
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
                actor_name(actor),
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
        async with self.uow() as uow:
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
            set_status(member, MemberStatus.ONBOARDING, now, by=invite.created_by)
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
        async with self.uow(write=False) as uow:
            await self._scope(uow, actor)  # coordinators only
            invites = await uow.invites.active_of(actor, uow.now())
            return [InviteView.of(invite) for invite in invites]

    async def get_invite(self, invite_id: int) -> InviteView | None:
        async with self.uow(write=False) as uow:
            invite = await uow.invites.get(invite_id)
            return InviteView.of(invite) if invite else None

    async def withdraw_invite(self, actor: int, invite_id: int) -> InviteView:
        """Withdraw one of the coordinator's own links: nobody can join with it any more.
        Someone else's link is refused as if it did not exist."""
        async with self.uow() as uow:
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
        tell(uow, REDEEMED_NOTICE, [invite.created_by], now, member=member.id, invite=invite.id)
