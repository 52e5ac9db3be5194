"""What the parts of the membership service share: dependencies, scope, status changes."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from datetime import datetime

from bot.delivery import Priority
from bot.errors import DomainError
from bot.membership.records import Actor, Admin
from bot.network import Network
from storage.audit import ADMIN, SYSTEM, member_actor
from storage.models import Member, MemberStatus, Role
from storage.uow import UnitOfWork, UnitOfWorkFactory


@dataclass(eq=False)
class MembershipBase:
    uow: UnitOfWorkFactory
    network: Network
    invite_max_days: int
    _: KW_ONLY
    invite_max_uses: int = 50

    def __post_init__(self) -> None:
        """What a part of the service keeps beside the database is set up here."""

    async def _leave_inadmissible_channels(self, uow: UnitOfWork, member: Member) -> None:
        """A new sector or region: leave channels whose rule no longer admits the person."""
        for channel_id in await uow.channels.drop_inadmissible(
            member_id=member.id,
            sector=member.sector,
            region=member.region,
            statewide_region=self.network.statewide_region,
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
        if member.region == self.network.statewide_region:
            return None
        return [member.region] if member.region else []


def actor_name(actor: Actor) -> str:
    """The actor as the audit chain names it."""
    return ADMIN if isinstance(actor, Admin) else member_actor(actor)


def member_id_of(actor: Actor) -> int | None:
    return None if isinstance(actor, Admin) else actor


def set_status(member: Member, status: str, now: datetime, *, by: int | None) -> None:
    member.status = status
    member.status_changed_at = now
    member.status_changed_by = by


def tell(
    uow: UnitOfWork,
    kind: str,
    member_ids: list[int],
    now: datetime,
    *,
    subject_id: int | None = None,
    **params: int | str | None,
) -> None:
    """Queue a notice of normal priority for these members."""
    uow.deliveries.enqueue(
        kind=kind,
        member_ids=member_ids,
        priority=Priority.NORMAL,
        now=now,
        subject_id=subject_id,
        params=params or None,
    )
