"""Who an alert goes to: the members of its sectors in its region, and deputies for those who
are away.

An alert may go to thousands, and raising it holds SQLite's write lock: the members who are
present never travel through Python. They stay a query (`Resolution.present`), from which one
`INSERT … SELECT` stores their recipient rows and another their deliveries; only the few who
are away and their deputies are read."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
)

from bot.availability import absent_at, current_absences, further_region_members
from bot.network import Network
from storage.models import (
    Absence,
    AlertRecipient,
    Member,
    MemberStatus,
    RecipientReason,
)
from storage.repositories import table_of
from storage.uow import UnitOfWork


class Recipient(NamedTuple):
    id: int
    sector: str | None


@dataclass(frozen=True)
class _Statements:
    """The statements of one shape of resolution (with or without a sender to leave out, in
    one region or statewide, with or without absent members to leave out), built once: the
    sectors, the sender, the regions, the time, the absent members and the alert's id are
    bound parameters. Building and keying them cost more than running them, on every alert."""

    absent: Select[int, str | None, int | None]  # the matching members who are away
    present: Select[int, str | None]  # (id, sector) of the matching members present
    count: Select[int]  # how many `present` yields
    store: Insert  # their recipient rows (`alert_id`)
    among_present: Select[int]  # which of `deputies` are among `present`


# On the tables' columns: plain Core statements, which skip the ORM's execution path.
_MEMBERS, _ABSENCES, _RECIPIENTS = table_of(Member), table_of(Absence), table_of(AlertRecipient)


@functools.cache
def _statements(with_sender: bool, regional: bool, without_absent: bool) -> _Statements:
    member, absence = _MEMBERS.c, _ABSENCES.c
    matching: list[ColumnElement[bool]] = [
        member.status == MemberStatus.ACTIVE,
        member.sector.in_(bindparam("sectors", expanding=True)),
    ]
    if with_sender:
        matching.append(member.id != bindparam("sender"))
    if regional:
        further = further_region_members(bindparam("further_regions", expanding=True))
        matching.append(
            or_(member.region.in_(bindparam("regions", expanding=True)), member.id.in_(further))
        )
    absent = (
        select(absence.member_id, member.sector, absence.deputy_id)
        .join(_MEMBERS, member.id == absence.member_id)
        .where(*absent_at(bindparam("now", type_=absence.starts_at.type)), *matching)
        .order_by(absence.member_id, absence.id)
    )
    present = select(member.id, member.sector).where(*matching)
    if without_absent:
        present = present.where(member.id.not_in(bindparam("absent", expanding=True)))
    rows = present.with_only_columns(
        bindparam("alert_id", type_=_RECIPIENTS.c.alert_id.type),
        member.id,
        literal(RecipientReason.TARGET, _RECIPIENTS.c.reason.type),
        member.sector,
    )
    return _Statements(
        absent=absent,
        present=present.order_by(member.id),
        count=select(func.count()).select_from(present.subquery()),
        store=insert(_RECIPIENTS).from_select(["alert_id", "member_id", "reason", "sector"], rows),
        among_present=present.with_only_columns(member.id).where(
            member.id.in_(bindparam("deputies", expanding=True))
        ),
    )


_TARGETS = select(_RECIPIENTS.c.member_id).where(
    _RECIPIENTS.c.alert_id == bindparam("alert_id"),
    _RECIPIENTS.c.reason == RecipientReason.TARGET,
)
_TARGETS_BUT_DEPUTIES = _TARGETS.where(
    _RECIPIENTS.c.member_id.not_in(bindparam("deputies", expanding=True))
)
TARGETS = (_TARGETS, _TARGETS_BUT_DEPUTIES)  # what `Resolution.targets` may give


@dataclass(frozen=True)
class Resolution:
    """Who an alert goes to: the matching members who are present (a query), and for those
    who are away their deputy, if the deputy can stand in (active, present, same sector, not
    the sender)."""

    statements: _Statements  # `present` is the matching members present
    parameters: dict[str, Any]  # of the statements
    deputies: list[Recipient]  # standing in, and not present matching members themselves
    standing_in: dict[int, list[int]]  # deputy id -> the absent members they stand in for
    away: list[tuple[Recipient, int | None]]  # absent members and their deputy (None: nobody)

    @property
    def present(self) -> Select[int, str | None]:
        """(id, sector) of the matching members present, with `parameters` bound."""
        return self.statements.present.params(self.parameters)

    async def receivers(self, uow: UnitOfWork) -> int:
        """How many the alert would reach (for the preview before raising)."""
        present = await uow.session.scalar(self.statements.count, self.parameters)
        return int(present or 0) + len(self.deputies)

    async def store(self, uow: UnitOfWork, alert_id: int) -> int:
        """The alert's recipient rows: the present members in one `INSERT … SELECT`, then the
        few deputies and absent members. Returns how many receive the alert."""
        result = await uow.session.execute(
            self.statements.store, {**self.parameters, "alert_id": alert_id}
        )
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

    def targets(self, alert_id: int) -> tuple[Select[int], dict[str, Any]]:
        """The present matching members, as stored by `store`, who get the alert itself (a
        deputy who is a target too gets the deputy's copy only); and its parameters."""
        if self.standing_in:
            return _TARGETS_BUT_DEPUTIES, {"alert_id": alert_id, "deputies": [*self.standing_in]}
        return _TARGETS, {"alert_id": alert_id}


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
    parameters: dict[str, Any] = {"sectors": list(sectors), "now": now}
    if sender_id is not None:
        parameters["sender"] = sender_id
    regional = region != network.statewide_region
    if regional:
        regions = [region, network.statewide_region]
        parameters["regions"] = parameters["further_regions"] = regions
    shape = (sender_id is not None, regional)
    # The few matching members who are away, read from the absences' side.
    absent = (await uow.session.execute(_statements(*shape, False).absent, parameters)).all()
    absences = {member_id: (sector, deputy) for member_id, sector, deputy in absent}
    statements = _statements(*shape, bool(absences))
    if absences:
        parameters["absent"] = list(absences)
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
        among = {**parameters, "deputies": list(standing_in)}
        also_present = set((await uow.session.scalars(statements.among_present, among)).all())
    extra = [
        Recipient(deputies[i].id, deputies[i].sector)
        for i in sorted(standing_in)
        if i not in also_present
    ]
    return Resolution(statements, parameters, extra, standing_in, away)
