"""Data protection: retention of texts (alerts, announcements, polls, needs) and deliveries, a
member's own data (GDPR art. 15) and erasure of a member's personal data (art. 17)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.sql import Executable

from bot.alerts import ALERT_KINDS
from bot.errors import DomainError
from bot.membership import Actor, Admin, MemberView
from bot.network import Network
from bot.timing.quiet import quiet_hours_of
from storage.audit import ADMIN, SYSTEM, member_actor
from storage.models import (
    Absence,
    Alert,
    AlertRecipient,
    AlertStatus,
    Announcement,
    AnnouncementRecipient,
    AuditEvent,
    Delivery,
    DeliveryStatus,
    FollowUp,
    Invite,
    Member,
    MemberRegion,
    MemberStatus,
    Need,
    NeedStatus,
    OfferMaintainer,
    Poll,
    PollOption,
    PollParticipant,
    PollStatus,
    PollVote,
    Role,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory

# People whose request never became a membership are erased once the retention period is over.
_STALE_REQUESTS = (MemberStatus.APPLYING, MemberStatus.REJECTED)


@dataclass(frozen=True)
class RetentionResult:
    alerts: int
    follow_ups: int
    deliveries: int
    requests: int
    announcements: int = 0
    polls: int = 0
    needs: int = 0


class DataProtectionService:
    def __init__(self, uow: UnitOfWorkFactory, network: Network, retention: timedelta) -> None:
        self._uow = uow
        self._network = network
        self._retention = retention

    # -- retention ---------------------------------------------------------------------------

    async def apply_retention(self) -> RetentionResult:
        """Delete texts of alerts closed longer ago than the retention period, reduce their
        deliveries to counts, drop old finished notices, and erase stale requests."""
        async with self._uow() as uow:
            now = uow.now()
            cutoff = now - self._retention
            due = await uow.all(
                select(Alert)
                .where(
                    Alert.status == AlertStatus.CLOSED,
                    Alert.closed_at < cutoff,
                    Alert.purged_at.is_(None),
                )
                .with_for_update(skip_locked=True)
            )
            follow_ups = deliveries = 0
            for alert in due:
                counts = await uow.deliveries.counts_for_alert(alert.id, ALERT_KINDS)
                alert.delivered_count = counts.get(DeliveryStatus.SENT, 0)
                alert.undelivered_count = sum(counts.values()) - alert.delivered_count
                alert.text_cipher = None
                alert.purged_at = now
                follow_ups += _rowcount(
                    await uow.session.execute(
                        update(FollowUp)
                        .where(FollowUp.alert_id == alert.id, FollowUp.text_cipher.is_not(None))
                        .values(text_cipher=None)
                    )
                )
                deliveries += _rowcount(
                    await uow.session.execute(delete(Delivery).where(Delivery.alert_id == alert.id))
                )
            deliveries += _rowcount(
                await uow.session.execute(
                    delete(Delivery).where(
                        Delivery.alert_id.is_(None),
                        Delivery.finished_at.is_not(None),
                        Delivery.finished_at < cutoff,
                    )
                )
            )
            announcements = _rowcount(
                await uow.session.execute(
                    update(Announcement)
                    .where(
                        Announcement.text_cipher.is_not(None),
                        or_(
                            Announcement.sent_at < cutoff,
                            Announcement.cancelled_at < cutoff,
                        ),
                    )
                    .values(text_cipher=None)
                )
            )
            old_polls = select(Poll.id).where(
                Poll.status != PollStatus.OPEN,
                Poll.closed_at < cutoff,
                Poll.title_cipher.is_not(None),
            )
            polls = list(await uow.all(old_polls))
            if polls:
                await uow.session.execute(
                    update(PollOption).where(PollOption.poll_id.in_(polls)).values(text_cipher=None)
                )
                await uow.session.execute(
                    update(Poll)
                    .where(Poll.id.in_(polls))
                    .values(title_cipher=None, voter_secret_cipher=None)
                )
            # Needs keep their counts (kind, region, outcome, times), not their texts.
            needs = _rowcount(
                await uow.session.execute(
                    update(Need)
                    .where(
                        Need.status != NeedStatus.OPEN,
                        Need.closed_at < cutoff,
                        Need.purged_at.is_(None),
                    )
                    .values(case_ref_cipher=None, note_cipher=None, purged_at=now)
                )
            )
            # Past absences are only needed while they last; their history is not kept.
            absences = _rowcount(
                await uow.session.execute(
                    delete(Absence).where(or_(Absence.ends_at < cutoff, Absence.ended_at < cutoff))
                )
            )
            stale = await uow.all(
                select(Member)
                .where(Member.status.in_(_STALE_REQUESTS), Member.status_changed_at < cutoff)
                .with_for_update(skip_locked=True)
            )
            for member in stale:
                await _erase(uow, member, now, by=None)
                uow.audit.record(SYSTEM, "member.erased", f"member:{member.id}", reason="retention")
            result = RetentionResult(
                len(due), follow_ups, deliveries, len(stale), announcements, len(polls), needs
            )
            uow.audit.record(
                SYSTEM,
                "retention.applied",
                "retention",
                **asdict(result),
                absences=absences,
                days=self._retention.days,
            )
            await uow.commit()
        if result.requests:
            await self._uow.database.purge_freed_pages()
        return result

    # -- a member's own data -----------------------------------------------------------------

    async def my_data(self, member_id: int) -> dict[str, Any]:
        """Everything stored about a member (GDPR art. 15), as JSON-ready data. The texts of
        case alerts are not included: they are about the people affected, not the member."""
        async with self._uow() as uow:
            member = await uow.members.get(member_id)
            if member is None or member.status == MemberStatus.LEFT:
                raise DomainError("error.unknown_member", member=member_id)
            data = await _collect(uow, member)
            uow.audit.record_own(member.id, "member.data_exported")
            await uow.commit()
        data["generated_at"] = _iso(uow.now())
        return data

    # -- erasure -----------------------------------------------------------------------------

    async def erasable(self, actor: Actor, member_id: int) -> MemberView:
        """The member as `actor` may see them before confirming an erasure. Outside the
        actor's scope a member is unknown, exactly like one that does not exist."""
        async with self._uow(write=False) as uow:
            return MemberView.of(await self._erasable(uow, actor, member_id))

    async def erase(self, actor: Actor, member_id: int) -> MemberView:
        """Remove a member's personal data and end the membership (GDPR art. 17). The member id
        stays as a pseudonym in historic records: alerts, deliveries, the audit log."""
        async with self._uow() as uow:
            now = uow.now()
            member = await self._erasable(uow, actor, member_id, for_update=True)
            await _erase(uow, member, now, by=None if isinstance(actor, Admin) else actor)
            uow.audit.record(
                ADMIN if isinstance(actor, Admin) else member_actor(actor),
                "member.erased",
                f"member:{member.id}",
                reason="own request" if actor == member.id else "coordinator",
            )
            await uow.commit()
            view = MemberView.of(member)
        # Overwrite what the database file may still hold of the old row versions.
        await self._uow.database.purge_freed_pages()
        return view

    async def _erasable(
        self, uow: UnitOfWork, actor: Actor, member_id: int, *, for_update: bool = False
    ) -> Member:
        """Themselves, or a member of a coordinator's region; whom the actor may not erase is
        unknown (the scope is known before the member is loaded)."""
        regions: tuple[str | None, ...] | None = None  # None: everyone
        if not isinstance(actor, Admin) and actor != member_id:
            coordinator = await uow.members.get(actor)
            if (
                coordinator is None
                or coordinator.status != MemberStatus.ACTIVE
                or coordinator.role != Role.COORDINATOR
            ):
                raise DomainError("error.unknown_member", member=member_id)
            if coordinator.region != self._network.statewide_region:
                regions = (coordinator.region,)
        member = await uow.members.get(member_id, for_update=for_update)
        if (
            member is None
            or member.status == MemberStatus.LEFT
            or (regions is not None and member.region not in regions)
        ):
            raise DomainError("error.unknown_member", member=member_id)
        return member


async def _erase(uow: UnitOfWork, member: Member, now: datetime, *, by: int | None) -> None:
    member.telegram_user_id = member.chat_id = None
    member.display_name = member.institution = member.language = None
    member.unreachable_since = None
    member.quiet_from = member.quiet_until = None
    member.invite_id = member.urgent_limit_noticed_at = None
    await uow.session.execute(
        update(Absence)
        .where(Absence.member_id == member.id, Absence.ended_at.is_(None), Absence.ends_at > now)
        .values(ended_at=now)
    )
    await uow.session.execute(delete(MemberRegion).where(MemberRegion.member_id == member.id))
    await uow.session.execute(delete(OfferMaintainer).where(OfferMaintainer.member_id == member.id))
    member.status = MemberStatus.LEFT
    member.status_changed_at, member.status_changed_by = now, by
    # Where the person's chat was remembered to edit status messages in it.
    forget = {"status_chat_id": None, "status_message_id": None}
    for statement in (
        update(Alert).where(Alert.sender_id == member.id).values(forget),
        update(Announcement).where(Announcement.sender_id == member.id).values(forget),
        update(Poll)
        .where(Poll.creator_id == member.id)
        .values(overview_chat_id=None, overview_message_id=None),
    ):
        await uow.session.execute(statement)
    await uow.session.execute(
        update(Delivery)
        .where(
            Delivery.member_id == member.id,
            Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
        )
        .values(status=DeliveryStatus.CANCELLED, finished_at=now, claimed_by=None)
    )


async def _collect(uow: UnitOfWork, member: Member) -> dict[str, Any]:
    session = uow.session

    async def rows(query: Executable) -> Sequence[Any]:
        return (await session.execute(query)).all()

    async def objects(query: Executable) -> Sequence[Any]:
        return (await session.scalars(query)).all()

    mine = member.id
    invites = await objects(select(Invite).where(Invite.created_by == mine))
    sent = await objects(select(Alert).where(Alert.sender_id == mine))
    received = await rows(
        select(Alert.ref, AlertRecipient.reason, AlertRecipient.acknowledged_at, Alert.taken_by)
        .join(Alert, Alert.id == AlertRecipient.alert_id)
        .where(AlertRecipient.member_id == mine)
    )
    follow_ups = await rows(
        select(Alert.ref, FollowUp.created_at)
        .join(Alert, Alert.id == FollowUp.alert_id)
        .where(FollowUp.author_id == mine)
    )
    deliveries = await rows(
        select(Delivery.kind, Delivery.status, func.count())
        .where(Delivery.member_id == mine)
        .group_by(Delivery.kind, Delivery.status)
    )
    announcements = await rows(
        select(Announcement.id, Announcement.status, Announcement.send_at).where(
            Announcement.sender_id == mine
        )
    )
    announcements_received = await rows(
        select(AnnouncementRecipient.announcement_id, AnnouncementRecipient.read_at).where(
            AnnouncementRecipient.member_id == mine
        )
    )
    polls_created = await objects(select(Poll.id).where(Poll.creator_id == mine))
    polls_asked = await objects(
        select(PollParticipant.poll_id).where(PollParticipant.member_id == mine)
    )
    named_answers = await rows(
        select(PollVote.poll_id, PollVote.option_id, PollVote.answer).where(
            PollVote.member_id == mine
        )
    )
    absences = await objects(select(Absence).where(Absence.member_id == mine).order_by(Absence.id))
    standing_in = await objects(
        select(Absence).where(Absence.deputy_id == mine).order_by(Absence.id)
    )
    regions = await objects(
        select(MemberRegion).where(MemberRegion.member_id == mine).order_by(MemberRegion.id)
    )
    me = member_actor(mine)
    events = await objects(
        select(AuditEvent)
        .where(or_(AuditEvent.actor == me, AuditEvent.subject == f"member:{mine}"))
        .order_by(AuditEvent.seq)
    )
    return {
        "member": {
            "id": member.id,
            "telegram_user_id": member.telegram_user_id,
            "display_name": member.display_name,
            "institution": member.institution,
            "sector": member.sector,
            "region": member.region,
            "role": member.role,
            "status": member.status,
            "language": member.language,
            "created_at": _iso(member.created_at),
            "status_changed_at": _iso(member.status_changed_at),
            "unreachable_since": _iso(member.unreachable_since),
            "quiet_hours": quiet.text() if (quiet := quiet_hours_of(member)) else None,
            "joined_with_invitation": member.invite_id,
            "urgent_limit_reported_at": _iso(member.urgent_limit_noticed_at),
        },
        "absences": [_absence(a) for a in absences],
        "deputy_for": [_absence(a) for a in standing_in],
        "further_regions": [
            {
                "region": r.region,
                "status": r.status,
                "requested_at": _iso(r.requested_at),
                "decided_at": _iso(r.decided_at),
            }
            for r in regions
        ],
        "invitations_created": [
            {
                "id": i.id,
                "sector": i.sector,
                "region": i.region,
                "role": i.role,
                "uses": i.uses,
                "max_uses": i.max_uses,
                "created_at": _iso(i.created_at),
                "expires_at": _iso(i.expires_at),
            }
            for i in invites
        ],
        "alerts_sent": [
            {
                "ref": a.ref,
                "sectors": a.sectors.split(","),
                "region": a.region,
                "urgency": a.urgency,
                "status": a.status,
                "created_at": _iso(a.created_at),
                "closed_at": _iso(a.closed_at),
            }
            for a in sent
        ],
        "alerts_received": [
            {
                "ref": ref,
                "reason": reason,
                "acknowledged_at": _iso(acknowledged),
                "taken_over_by_you": taken_by == member.id,
            }
            for ref, reason, acknowledged, taken_by in received
        ],
        "follow_ups_written": [{"ref": ref, "created_at": _iso(at)} for ref, at in follow_ups],
        "announcements_sent": [
            {"id": i, "status": status, "send_at": _iso(at)} for i, status, at in announcements
        ],
        "announcements_received": [
            {"id": i, "read_at": _iso(read)} for i, read in announcements_received
        ],
        "polls_created": list(polls_created),
        "polls_you_were_asked": list(polls_asked),
        # Answers to anonymous polls are stored so that they cannot be linked to you.
        "named_poll_answers": [
            {"poll": poll, "option": option, "answer": answer}
            for poll, option, answer in named_answers
        ],
        "messages_to_you": [
            {"kind": kind, "status": status, "count": count} for kind, status, count in deliveries
        ],
        "audit_events": [
            {
                "seq": e.seq,
                "occurred_at": e.occurred_at,
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "details": json.loads(e.details),
            }
            for e in events
        ],
    }


def _absence(absence: Absence) -> dict[str, Any]:
    return {
        "member": absence.member_id,
        "deputy": absence.deputy_id,
        "starts_at": _iso(absence.starts_at),
        "until_day": absence.until_day.isoformat(),
        "ended_at": _iso(absence.ended_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
