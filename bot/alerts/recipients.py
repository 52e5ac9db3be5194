"""Who an alert goes to: the members of its sectors in its region, and deputies for those who
are away.

An alert may go to thousands, and raising it holds SQLite's write lock: the members who are
present never travel through Python. They stay a query (`Resolution.present`), from which one
`INSERT … SELECT` stores their recipient rows and another their deliveries; only the few who
are away and their deputies are read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, func, insert, literal, or_, select

from bot.availability import absent_at, current_absences, further_region_members
from bot.network import Network
from storage.models import Absence, AlertRecipient, Member, MemberStatus, RecipientReason
from storage.uow import UnitOfWork


class Recipient(NamedTuple):
    id: int
    sector: str | None


@dataclass(frozen=True)
class Resolution:
    """Who an alert goes to: the matching members who are present (a query), and for those
    who are away their deputy, if the deputy can stand in (active, present, same sector, not
    the sender)."""

    present: Select[int, str | None]  # (id, sector) of the matching members present
    deputies: list[Recipient]  # standing in, and not present matching members themselves
    standing_in: dict[int, list[int]]  # deputy id -> the absent members they stand in for
    away: list[tuple[Recipient, int | None]]  # absent members and their deputy (None: nobody)

    async def receivers(self, uow: UnitOfWork) -> int:
        """How many the alert would reach (for the preview before raising)."""
        present = await uow.session.scalar(
            select(func.count()).select_from(self.present.order_by(None).subquery())
        )
        return int(present or 0) + len(self.deputies)

    async def store(self, uow: UnitOfWork, alert_id: int) -> int:
        """The alert's recipient rows: the present members in one `INSERT … SELECT`, then the
        few deputies and absent members. Returns how many receive the alert."""
        present = self.present.order_by(None).with_only_columns(
            literal(alert_id, AlertRecipient.alert_id.type),
            Member.id,
            literal(RecipientReason.TARGET, AlertRecipient.reason.type),
            Member.sector,
        )
        columns = ["alert_id", "member_id", "reason", "sector"]
        result = await uow.session.execute(insert(AlertRecipient).from_select(columns, present))
        stored = int(result.rowcount)  # type: ignore[attr-defined]
        uow.session.add_all(
            [
                *(
                    AlertRecipient(
                        alert_id=alert_id,
                        member_id=m.id,
                        reason=RecipientReason.DEPUTY,
                        sector=m.sector,
                    )
                    for m in self.deputies
                ),
                *(
                    AlertRecipient(
                        alert_id=alert_id,
                        member_id=m.id,
                        reason=RecipientReason.AWAY,
                        sector=m.sector,
                        deputy_id=deputy_id,
                    )
                    for m, deputy_id in self.away
                ),
            ]
        )
        return stored + len(self.deputies)

    @staticmethod
    def targets(alert_id: int) -> Select[int]:
        """The present matching members, as stored by `store`: who get the alert itself."""
        return select(AlertRecipient.member_id).where(
            AlertRecipient.alert_id == alert_id,
            AlertRecipient.reason == RecipientReason.TARGET,
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
    matching = [Member.status == MemberStatus.ACTIVE, Member.sector.in_(list(sectors))]
    if sender_id is not None:
        matching.append(Member.id != sender_id)
    if region != network.statewide_region:
        regions = [region, network.statewide_region]
        matching.append(
            or_(Member.region.in_(regions), Member.id.in_(further_region_members(regions)))
        )
    # The few matching members who are away, read from the absences' side.
    absent = (
        await uow.session.execute(
            select(Absence.member_id, Member.sector, Absence.deputy_id)
            .join(Member, Member.id == Absence.member_id)
            .where(*absent_at(now), *matching)
            .order_by(Absence.member_id, Absence.id)
        )
    ).all()
    absences = {member_id: (sector, deputy) for member_id, sector, deputy in absent}
    present = select(Member.id, Member.sector).where(*matching).order_by(Member.id)
    if absences:
        present = present.where(Member.id.not_in(list(absences)))
    deputy_ids = {d for _, d in absences.values() if d is not None}
    deputies = {m.id: m for m in await uow.members.by_ids(deputy_ids)} if deputy_ids else {}
    deputies_away = await current_absences(uow, deputy_ids, now)
    standing_in: dict[int, list[int]] = {}
    away: list[tuple[Recipient, int | None]] = []
    for member_id, (sector, deputy_id) in absences.items():
        deputy = deputies.get(deputy_id) if deputy_id is not None else None
        usable = (
            deputy is not None
            and deputy.status == MemberStatus.ACTIVE
            and deputy.id != sender_id
            and deputy.sector == sector
            and deputy.id not in deputies_away
        )
        if deputy is not None and usable:
            standing_in.setdefault(deputy.id, []).append(member_id)
            away.append((Recipient(member_id, sector), deputy.id))
        else:
            away.append((Recipient(member_id, sector), None))
    # Deputies who match the alert themselves are among the present members already.
    also_present: set[int] = set()
    if standing_in:
        also_present = set(
            (
                await uow.session.scalars(
                    present.with_only_columns(Member.id).where(Member.id.in_(list(standing_in)))
                )
            ).all()
        )
    extra = [
        Recipient(deputies[i].id, deputies[i].sector)
        for i in sorted(standing_in)
        if i not in also_present
    ]
    return Resolution(present, extra, standing_in, away)
