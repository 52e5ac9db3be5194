"""Further regions a member is reachable for: request, decision by the region's coordination,
removal."""

from __future__ import annotations

from sqlalchemy import delete, select

from bot.availability.model import (
    REGION_DECISION_NOTICE,
    REGION_REQUEST_NOTICE,
    AvailabilityBase,
    RegionDecision,
    RegionRequest,
    RegionView,
    _region_view,
)
from bot.channels.rules import active_member
from bot.errors import DomainError
from bot.membership import MemberView
from bot.membership.base import tell
from storage.audit import member_actor
from storage.models import (
    MemberRegion,
    RegionStatus,
    Role,
)


class FurtherRegions(AvailabilityBase):
    async def request_region(self, member_id: int, region: str) -> RegionRequest:
        """Ask the coordinators of `region` (and the statewide ones) to confirm that the member
        is reachable for it too."""
        region = self._network.region(region).code
        async with self._uow() as uow:
            now = uow.now()
            member = await active_member(uow, member_id, for_update=True)
            if member.region in (region, self._network.statewide_region):
                raise DomainError("regions.already_covered", region=region)
            existing = await uow.session.scalar(
                select(MemberRegion).where(
                    MemberRegion.member_id == member.id, MemberRegion.region == region
                )
            )
            if existing is not None:
                raise DomainError(f"regions.already_{existing.status}", region=region)
            request = MemberRegion(
                member_id=member.id,
                region=region,
                status=RegionStatus.PENDING,
                requested_at=now,
            )
            uow.session.add(request)
            await uow.session.flush()
            coordinators = [
                c.id
                for c in await uow.members.coordinators_for(region, self._network.statewide_region)
                if c.id != member.id
            ]
            tell(
                uow,
                REGION_REQUEST_NOTICE,
                coordinators,
                now,
                subject_id=request.id,
                member=member.id,
                region=region,
            )
            uow.audit.record_own(
                member.id,
                "member.region_requested",
                region=region,
                request=request.id,
            )
            await uow.commit()
            return RegionRequest(_region_view(request), len(coordinators))

    async def decide_region(
        self, coordinator_id: int, request_id: int, *, confirm: bool
    ) -> RegionDecision:
        """A coordinator of the region (or a statewide one) confirms or declines a request."""
        async with self._uow() as uow:
            now = uow.now()
            coordinator = await active_member(uow, coordinator_id)
            request = await uow.session.get(MemberRegion, request_id, with_for_update=True)
            if request is None:
                raise DomainError("regions.request_gone")
            if coordinator.role != Role.COORDINATOR or coordinator.region not in (
                request.region,
                self._network.statewide_region,
            ):
                raise DomainError("error.outside_scope", region=request.region)
            if coordinator.id == request.member_id:
                raise DomainError("error.not_yourself")
            if request.status != RegionStatus.PENDING:
                raise DomainError("regions.request_decided", region=request.region)
            member = await uow.members.get(request.member_id)
            assert member is not None
            view = _region_view(request)
            if confirm:
                request.status = RegionStatus.CONFIRMED
                request.decided_at, request.decided_by = now, coordinator.id
                view = _region_view(request)
            else:
                await uow.session.delete(request)
            uow.audit.record(
                member_actor(coordinator.id),
                "member.region_confirmed" if confirm else "member.region_declined",
                f"member:{member.id}",
                region=view.region,
                request=view.id,
            )
            tell(
                uow,
                REGION_DECISION_NOTICE,
                [member.id],
                now,
                region=view.region,
                decision="confirmed" if confirm else "declined",
            )
            await uow.commit()
            return RegionDecision(view, MemberView.of(member), confirm)

    async def remove_region(self, member_id: int, region: str) -> None:
        region = self._network.region(region).code
        async with self._uow() as uow:
            member = await active_member(uow, member_id)
            result = await uow.session.execute(
                delete(MemberRegion).where(
                    MemberRegion.member_id == member.id, MemberRegion.region == region
                )
            )
            if not getattr(result, "rowcount", 0):
                raise DomainError("regions.not_listed", region=region)
            uow.audit.record_own(
                member.id,
                "member.region_removed",
                region=region,
            )
            await uow.commit()

    async def region_request(self, request_id: int) -> RegionView | None:
        async with self._uow(write=False) as uow:
            request = await uow.session.get(MemberRegion, request_id)
            return _region_view(request) if request else None
