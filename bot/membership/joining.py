"""Access requests: the questions someone answers while joining."""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import DomainError
from bot.i18n import client_language
from bot.membership.base import set_status, tell
from bot.membership.invites import Invitations
from bot.membership.records import (
    INSTITUTION_LIMITS,
    NAME_LIMITS,
    REQUEST_NOTICE,
    MemberView,
    Progress,
    Step,
    TelegramIdentity,
    clean_text,
    next_step,
)
from storage.models import Member, MemberStatus, Role


class Joining(Invitations):
    """Joining by invitation or by request: the steps until someone is a member or waits."""

    async def start_request(self, who: TelegramIdentity) -> Progress:
        async with self.uow() as uow:
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
            set_status(member, MemberStatus.APPLYING, now, by=None)
            uow.members.add(member)
            await uow.members.flush()
            uow.audit.record_own(member.id, "request.started")
            await uow.commit()
            view = MemberView.of(member)
        return Progress(view, next_step(view))

    async def choose_sector(self, member_id: int, sector: str) -> Progress:
        sector = self.network.sector(sector).code
        return await self._fill(member_id, Step.SECTOR, sector)

    async def choose_region(self, member_id: int, region: str) -> Progress:
        region = self.network.region(region).code
        return await self._fill(member_id, Step.REGION, region)

    async def give_text(self, member_id: int, raw: str) -> Progress:
        """Answer the current text question (name or institution) of someone joining."""
        async with self.uow(write=False) as uow:
            member = await uow.members.get(member_id)
            step = next_step(MemberView.of(member)) if member else Step.DONE
        if step == Step.NAME:
            return await self._fill(member_id, step, clean_text(raw, NAME_LIMITS, "name"))
        if step == Step.INSTITUTION:
            value = clean_text(raw, INSTITUTION_LIMITS, "institution")
            return await self._fill(member_id, step, value)
        raise DomainError("join.use_buttons")

    async def _fill(self, member_id: int, step: Step, value: str) -> Progress:
        async with self.uow() as uow:
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
                    set_status(member, MemberStatus.ACTIVE, now, by=member.status_changed_by)
                    uow.audit.record_own(member.id, "member.activated")
                    await self._tell_inviter(uow, member, now)
                else:
                    set_status(member, MemberStatus.PENDING, now, by=None)
                    uow.audit.record_own(
                        member.id,
                        "request.submitted",
                        sector=member.sector,
                        region=member.region,
                    )
                    assert member.region is not None
                    notify = await uow.members.coordinators_for(
                        member.region, self.network.statewide_region
                    )
                    # The applicant is the notice's subject too: once a notice is recorded as
                    # sent, the runtime can refresh it if a decision came while it was in flight.
                    tell(
                        uow,
                        REQUEST_NOTICE,
                        [c.id for c in notify],
                        now,
                        subject_id=member.id,
                        member=member.id,
                    )
            await uow.commit()
            view = MemberView.of(member)
            return Progress(view, next_step(view), tuple(MemberView.of(c) for c in notify))
