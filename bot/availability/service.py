"""Planned absences with a deputy (and the digest on return) and quiet hours."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import false, select

from bot.availability.model import (
    ABSENCE_DIGEST_NOTICE,
    DEPUTY_ENDED_NOTICE,
    DEPUTY_NOTICE,
    DIGEST_AT_MOST_AFTER,
    MAX_ABSENCE_DAYS,
    AbsenceView,
    Availability,
    Digest,
    MissedAlert,
    _absence_view,
    _due_key,
    _ending,
    _region_view,
    current_absences,
    end_of_day,
)
from bot.availability.regions import FurtherRegions
from bot.channels.rules import active_member
from bot.errors import DomainError
from bot.membership import MemberView
from bot.membership.base import tell
from bot.timing.quiet import QuietHours, quiet_hours_of
from bot.timing.sweep import sweep_due
from storage.audit import SYSTEM
from storage.models import (
    Absence,
    Alert,
    AlertRecipient,
    AlertStatus,
    Member,
    MemberRegion,
    MemberStatus,
    RecipientReason,
    Urgency,
)
from storage.uow import UnitOfWork


class AvailabilityService(FurtherRegions):
    async def away(self, member_id: int, until: date, deputy_id: int | None) -> AbsenceView:
        """Be away until the end of `until`; the deputy (same sector) gets the member's alerts
        meanwhile. A new absence replaces a current one."""
        async with self._uow() as uow:
            now = uow.now()
            today = now.astimezone(self._timezone).date()
            if until < today:
                raise DomainError("away.in_the_past", date=until)  # written in the reader's way
            if until > today + timedelta(days=MAX_ABSENCE_DAYS):
                raise DomainError("away.too_long", days=MAX_ABSENCE_DAYS)
            member = await active_member(uow, member_id, for_update=True)
            deputy = None
            if deputy_id is not None:
                deputy = await self._valid_deputy(uow, member, deputy_id, now)
            current = (await current_absences(uow, [member.id], now)).get(member.id)
            if current is not None:
                current.ended_at = now
                uow.effects.schedule(_due_key(current.id), None)
                replaced = current.deputy_id
                if replaced is not None and replaced != (deputy.id if deputy else None):
                    tell(uow, DEPUTY_ENDED_NOTICE, [replaced], now, member=member.id)
            absence = Absence(
                member_id=member.id,
                deputy_id=deputy.id if deputy else None,
                starts_at=now,
                until_day=until,
                ends_at=end_of_day(until, self._timezone),
                created_at=now,
            )
            uow.session.add(absence)
            await uow.session.flush()
            uow.audit.record_own(
                member.id,
                "member.away",
                absence=absence.id,
                until=until.isoformat(),
                deputy=deputy.id if deputy else None,
            )
            if deputy is not None:
                tell(
                    uow, DEPUTY_NOTICE, [deputy.id], now, member=member.id, until=until.isoformat()
                )
            uow.effects.schedule(_due_key(absence.id), absence.ends_at)
            await uow.commit()
            return _absence_view(absence, deputy)

    async def back(self, member_id: int) -> AbsenceView | None:
        """End the current absence early; None if the member was not away."""
        async with self._uow() as uow:
            now = uow.now()
            member = await active_member(uow, member_id, for_update=True)
            absence = (await current_absences(uow, [member.id], now)).get(member.id)
            if absence is None:
                return None
            absence.ended_at = now
            uow.effects.schedule(_due_key(absence.id), None)
            uow.audit.record_own(member.id, "member.back", absence=absence.id)
            deputy = await uow.members.get(absence.deputy_id) if absence.deputy_id else None
            if deputy is not None:
                tell(uow, DEPUTY_ENDED_NOTICE, [deputy.id], now, member=member.id)
            await uow.commit()
            return _absence_view(absence, deputy)

    async def digest(self, absence_id: int) -> Digest | None:
        """The open alerts raised during this absence that reached the deputy instead of the
        member, oldest first (drills are left out); None once the absence is gone."""
        async with self._uow(write=False) as uow:
            absence = await uow.session.get(Absence, absence_id)
            if absence is None:
                return None
            until = min(absence.ends_at, absence.ended_at or absence.ends_at)
            alerts = (
                await uow.session.scalars(
                    select(Alert)
                    .join(AlertRecipient, AlertRecipient.alert_id == Alert.id)
                    .where(
                        AlertRecipient.member_id == absence.member_id,
                        AlertRecipient.reason == RecipientReason.AWAY,
                        AlertRecipient.deputy_id.is_not(None),
                        Alert.status == AlertStatus.OPEN,
                        Alert.drill == false(),
                        Alert.created_at >= absence.starts_at,
                        Alert.created_at < until,
                    )
                    .order_by(Alert.created_at, Alert.id)
                )
            ).all()
            takers = {
                m.id: MemberView.of(m)
                for m in await uow.members.by_ids({a.taken_by for a in alerts if a.taken_by})
            }
            return Digest(
                absence.member_id,
                tuple(
                    MissedAlert(
                        a.id,
                        a.ref,
                        tuple(a.sectors.split(",")),
                        a.region,
                        a.urgency == Urgency.URGENT,
                        a.created_at,
                        takers.get(a.taken_by) if a.taken_by else None,
                    )
                    for a in alerts
                ),
            )

    async def end_due(self) -> list[int]:
        """End the absences that have run out (also while the bot was down): the member gets
        the digest through the outbox, the deputy hears that the stand-in is over. Returns the
        members who are back."""
        return await sweep_due(self._uow, _ending, self._end)

    async def _end(self, uow: UnitOfWork, absence: Absence, now: datetime) -> int:
        absence.ended_at = absence.ends_at
        uow.audit.record(
            SYSTEM, "member.absence_ended", f"member:{absence.member_id}", absence=absence.id
        )
        member = await uow.members.get(absence.member_id)
        if member is not None and member.status == MemberStatus.ACTIVE:
            if now - absence.ends_at <= DIGEST_AT_MOST_AFTER:
                tell(uow, ABSENCE_DIGEST_NOTICE, [member.id], now, subject_id=absence.id)
            if absence.deputy_id is not None:
                tell(uow, DEPUTY_ENDED_NOTICE, [absence.deputy_id], now, member=member.id)
        return absence.member_id

    async def due_times(self) -> list[tuple[int, datetime]]:
        """Absences still to run out, to schedule their end at start-up."""
        async with self._uow(write=False) as uow:
            rows = await uow.session.execute(
                select(Absence.id, Absence.ends_at).where(Absence.ended_at.is_(None))
            )
            return [(row[0], row[1]) for row in rows.all()]

    async def _valid_deputy(
        self, uow: UnitOfWork, member: Member, deputy_id: int, now: datetime
    ) -> Member:
        if deputy_id == member.id:
            raise DomainError("away.deputy_self")
        deputy = await uow.members.get(deputy_id)
        if deputy is None or deputy.status != MemberStatus.ACTIVE:
            raise DomainError("error.unknown_member", member=deputy_id)
        if deputy.sector != member.sector:
            raise DomainError("away.deputy_other_sector", member=deputy_id)
        away = (await current_absences(uow, [deputy.id], now)).get(deputy.id)
        if away is not None:
            raise DomainError("away.deputy_away", member=deputy_id, date=away.until_day)
        return deputy

    async def absences(self, member_ids: Iterable[int]) -> dict[int, AbsenceView]:
        """Current absences of these members (for the coordinators' /members)."""
        async with self._uow(write=False) as uow:
            found = await current_absences(uow, member_ids, uow.now())
            deputies = {
                m.id: MemberView.of(m)
                for m in await uow.members.by_ids(
                    {a.deputy_id for a in found.values() if a.deputy_id}
                )
            }
            return {
                member_id: _absence_view(
                    absence, deputies.get(absence.deputy_id) if absence.deputy_id else None
                )
                for member_id, absence in found.items()
            }

    # -- quiet hours ------------------------------------------------------------------------

    async def set_quiet_hours(self, member_id: int, quiet: QuietHours | None) -> QuietHours | None:
        async with self._uow() as uow:
            member = await active_member(uow, member_id, for_update=True)
            before = quiet_hours_of(member)
            if before != quiet:
                member.quiet_from = quiet.start if quiet else None
                member.quiet_until = quiet.end if quiet else None
                uow.audit.record_own(
                    member.id,
                    "member.quiet_hours",
                    quiet=quiet.text() if quiet else None,
                )
                await uow.commit()
            return quiet

    # -- overview ---------------------------------------------------------------------------

    async def availability(self, member_id: int) -> Availability:
        async with self._uow(write=False) as uow:
            member = await active_member(uow, member_id)
            absence = (await current_absences(uow, [member.id], uow.now())).get(member.id)
            deputy = None
            if absence is not None and absence.deputy_id is not None:
                found = await uow.members.get(absence.deputy_id)
                deputy = MemberView.of(found) if found else None
            regions = (
                await uow.session.scalars(
                    select(MemberRegion)
                    .where(MemberRegion.member_id == member.id)
                    .order_by(MemberRegion.region)
                )
            ).all()
            return Availability(
                MemberView.of(member),
                _absence_view(absence, deputy) if absence else None,
                quiet_hours_of(member),
                tuple(_region_view(row) for row in regions),
            )

    # -- further regions --------------------------------------------------------------------
