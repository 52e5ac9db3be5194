"""Who an alert goes to: the members of its sectors in its region, and deputies for those who
are away."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import or_, select

from bot.availability import current_absences, further_region_members
from bot.network import Network
from storage.models import AlertRecipient, Member, MemberStatus, RecipientReason
from storage.repositories import insert_for_members
from storage.uow import UnitOfWork


class Recipient(NamedTuple):
    """What raising needs of a recipient: thousands of them are read, not whole members."""

    id: int
    sector: str | None


@dataclass(frozen=True)
class Resolution:
    """Who an alert goes to: the matching members who are present, and for those who are away
    their deputy, if the deputy can stand in (active, present, same sector, not the sender)."""

    targets: list[Recipient]
    deputies: list[Recipient]  # standing in, and not targets themselves
    standing_in: dict[int, list[int]]  # deputy id -> the absent members they stand in for
    away: list[tuple[Recipient, int | None]]  # absent members and their deputy (None: nobody)

    @property
    def receivers(self) -> int:
        return len(self.targets) + len(self.deputies)

    async def store(self, uow: UnitOfWork, alert_id: int) -> None:
        """The alert's recipient rows (targets, deputies, the absent members): one statement
        per group of rows that differ only in the member, for thousands of them."""
        groups: dict[tuple[str, str | None, int | None], list[int]] = {}
        for m in self.targets:
            groups.setdefault((RecipientReason.TARGET, m.sector, None), []).append(m.id)
        for m in self.deputies:
            groups.setdefault((RecipientReason.DEPUTY, m.sector, None), []).append(m.id)
        for m, deputy_id in self.away:
            groups.setdefault((RecipientReason.AWAY, m.sector, deputy_id), []).append(m.id)
        for (reason, sector, deputy_id), member_ids in groups.items():
            values = {"alert_id": alert_id, "reason": reason, "sector": sector}
            await insert_for_members(
                uow.session, AlertRecipient, member_ids, {**values, "deputy_id": deputy_id}
            )


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
    query = select(Member.id, Member.sector).where(
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
    rows = (await uow.session.execute(query.order_by(Member.id))).all()
    matched = [Recipient(member_id, sector) for member_id, sector in rows]
    # The same query as a subquery: SQL matches thousands of ids, not a list of parameters.
    absences = await current_absences(uow, query.with_only_columns(Member.id), now)
    deputy_ids = {a.deputy_id for a in absences.values() if a.deputy_id is not None}
    deputies = {m.id: m for m in await uow.members.by_ids(deputy_ids)}
    deputies_away = await current_absences(uow, deputy_ids, now)
    targets = [m for m in matched if m.id not in absences]
    standing_in: dict[int, list[int]] = {}
    away: list[tuple[Recipient, int | None]] = []
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
    extra = [
        Recipient(deputies[i].id, deputies[i].sector)
        for i in sorted(standing_in)
        if i not in target_ids
    ]
    return Resolution(targets, extra, standing_in, away)
