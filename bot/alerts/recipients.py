"""Who an alert goes to: the members of its sectors in its region, and deputies for those who
are away."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from bot.availability import current_absences, further_region_members
from bot.network import Network
from storage.models import AlertRecipient, Member, MemberStatus, RecipientReason
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class Resolution:
    """Who an alert goes to: the matching members who are present, and for those who are away
    their deputy, if the deputy can stand in (active, present, same sector, not the sender)."""

    targets: list[Member]
    deputies: list[Member]  # standing in, and not targets themselves
    standing_in: dict[int, list[int]]  # deputy id -> the absent members they stand in for
    away: list[tuple[Member, int | None]]  # absent members and their deputy (None: nobody)

    @property
    def receivers(self) -> int:
        return len(self.targets) + len(self.deputies)

    def rows(self, alert_id: int) -> list[AlertRecipient]:
        """The alert's recipient rows: targets, deputies, and the absent members."""

        def row(member: Member, reason: str, deputy_id: int | None = None) -> AlertRecipient:
            return AlertRecipient(
                alert_id=alert_id,
                member_id=member.id,
                reason=reason,
                sector=member.sector,
                deputy_id=deputy_id,
            )

        return [
            *(row(m, RecipientReason.TARGET) for m in self.targets),
            *(row(m, RecipientReason.DEPUTY) for m in self.deputies),
            *(row(m, RecipientReason.AWAY, deputy_id) for m, deputy_id in self.away),
        ]


async def resolve(
    uow: UnitOfWork,
    network: Network,
    sender_id: int | None,
    sectors: Sequence[str],
    region: str,
    now: datetime,
) -> Resolution:
    """Active members of the sectors in the region (their own, or a further one a coordinator
    confirmed); statewide members cover every region. Absent members are replaced by their
    deputy; there are no chains: a deputy who is away themselves stands in for nobody."""
    query = select(Member).where(
        Member.status == MemberStatus.ACTIVE,
        Member.sector.in_(list(sectors)),
    )
    if sender_id is not None:
        query = query.where(Member.id != sender_id)
    if region != network.statewide_region:
        regions = [region, network.statewide_region]
        query = query.where(
            or_(Member.region.in_(regions), Member.id.in_(further_region_members(regions)))
        )
    matched = (await uow.session.scalars(query.order_by(Member.id))).all()
    absences = await current_absences(uow, [m.id for m in matched], now)
    deputy_ids = {a.deputy_id for a in absences.values() if a.deputy_id is not None}
    deputies = {m.id: m for m in await uow.members.by_ids(deputy_ids)}
    deputies_away = await current_absences(uow, deputy_ids, now)
    targets = [m for m in matched if m.id not in absences]
    standing_in: dict[int, list[int]] = {}
    away: list[tuple[Member, int | None]] = []
    for member in matched:
        absence = absences.get(member.id)
        if absence is None:
            continue
        deputy = deputies.get(absence.deputy_id) if absence.deputy_id is not None else None
        usable = (
            deputy is not None
            and deputy.status == MemberStatus.ACTIVE
            and deputy.id != sender_id
            and deputy.sector == member.sector
            and deputy.id not in deputies_away
        )
        if deputy is not None and usable:
            standing_in.setdefault(deputy.id, []).append(member.id)
            away.append((member, deputy.id))
        else:
            away.append((member, None))
    target_ids = {m.id for m in targets}
    extra = [deputies[i] for i in sorted(standing_in) if i not in target_ids]
    return Resolution(targets, extra, standing_in, away)
