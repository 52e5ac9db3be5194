"""Coordinators' announcements: sent at once or at a set time (also after a restart), with an
optional read confirmation that the coordinator can follow and remind about."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select

from bot.channels import ChannelService, Target, TargetView, active_member, coordinator
from bot.copies import Copy, sent_copies
from bot.delivery import Priority, queue_notice
from bot.errors import DomainError, PersonalDataError
from bot.keys import TextCipher, bound
from bot.membership import MemberView
from bot.network import Network
from bot.personal_data import Finding
from bot.snapshots import snapshot
from bot.texts import check_message
from bot.timing.sweep import sweep_due
from storage.audit import SYSTEM, member_actor
from storage.models import (
    Announcement,
    AnnouncementRecipient,
    AnnouncementStatus,
    Delivery,
    DeliveryStatus,
    Member,
    MemberStatus,
    Role,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory


class AnnouncementNotice:
    """Delivery kinds of announcements."""

    ANNOUNCEMENT = "announcement"
    REMINDER = "announcement_reminder"  # please confirm that you have read it


@dataclass(frozen=True)
class AnnouncementView:
    id: int
    sender: MemberView
    target: TargetView
    read_confirmation: bool
    status: str
    send_at: datetime
    sent_at: datetime | None
    status_chat_id: int | None
    status_message_id: int | None

    @property
    def is_scheduled(self) -> bool:
        return self.status == AnnouncementStatus.SCHEDULED


@dataclass(frozen=True)
class Announced:
    announcement: AnnouncementView
    recipients: int  # reached now; for a scheduled one, who it would reach now


@dataclass(frozen=True)
class ReadStatus:
    """What the sender's live status message shows."""

    announcement: AnnouncementView
    recipients: int
    delivered: int
    failed: int
    read: tuple[MemberView, ...]
    unread: tuple[MemberView, ...]


@dataclass(frozen=True)
class Sent:
    announcement_id: int
    recipients: int


def check_text(text: str, places: Collection[str] = ()) -> list[Finding]:
    """See `check_message`."""
    return check_message("announcement", text, places)


def _due(now: datetime) -> Select[Announcement]:
    return (
        select(Announcement)
        .where(
            Announcement.status == AnnouncementStatus.SCHEDULED,
            Announcement.send_at <= now,
        )
        .order_by(Announcement.send_at)
    )


@dataclass
class AnnouncementService:
    uow: UnitOfWorkFactory
    network: Network
    cipher: TextCipher
    channels: ChannelService

    # -- writing ---------------------------------------------------------------------------

    async def count_recipients(self, sender_id: int, target: Target) -> int:
        async with self.uow(write=False) as uow:
            return len(await self._recipients(uow, sender_id, target))

    async def announce(
        self,
        sender_id: int,
        target: Target,
        text: str,
        *,
        send_at: datetime | None = None,
        read_confirmation: bool = False,
        confirmed: bool = False,
    ) -> Announced:
        """Send now (one delivery per recipient, in this transaction) or store it for later."""
        findings = check_text(text, self.network.place_names)
        if any(finding.blocking for finding in findings):
            raise PersonalDataError("alert.personal_data_blocking", findings)
        if findings and not confirmed:
            raise PersonalDataError("alert.personal_data_confirm", findings)
        async with self.uow() as uow:
            now = uow.now()
            sender = await coordinator(uow, sender_id)
            if send_at is not None and send_at <= now:
                raise DomainError("date.in_past", value="")
            recipients = await self._recipients(uow, sender.id, target)
            if send_at is None and not recipients:
                raise DomainError("target.nobody")
            announcement = Announcement(
                sender_id=sender.id,
                target=target.encode(),
                read_confirmation=read_confirmation,
                status=AnnouncementStatus.SCHEDULED,
                send_at=send_at or now,
                created_at=now,
            )
            uow.session.add(announcement)
            await uow.session.flush()  # the id binds the ciphertext
            announcement.text_cipher = self.cipher.encrypt(
                text.strip(), bound(Announcement.text_cipher, announcement.id)
            )
            uow.audit.record(
                member_actor(sender.id),
                "announcement.created",
                f"announcement:{announcement.id}",
                channels=target.channel_ids,
                scheduled=send_at is not None,
                read_confirmation=read_confirmation,
            )
            if send_at is None:
                self._send(uow, announcement, recipients, now)
            else:
                uow.effects.schedule(f"announce:{announcement.id}", send_at)
            await uow.commit()
            return Announced(await self._view(uow, announcement), len(recipients))

    async def send_due(self) -> list[Sent]:
        """Send every scheduled announcement whose time has come, also those that fell due
        while the bot was down. Rows another instance is sending are skipped, not waited for."""
        return await sweep_due(self.uow, _due, self._send_due)

    async def _send_due(
        self, uow: UnitOfWork, announcement: Announcement, now: datetime
    ) -> Sent | None:
        sender = await uow.members.get(announcement.sender_id)
        if sender is None or not (
            sender.status == MemberStatus.ACTIVE and sender.role == Role.COORDINATOR
        ):
            # Whoever scheduled it may no longer speak for the network.
            announcement.status = AnnouncementStatus.CANCELLED
            announcement.cancelled_at = now
            uow.audit.record(
                SYSTEM,
                "announcement.cancelled",
                f"announcement:{announcement.id}",
                reason="sender_inactive",
            )
            return None
        recipients = await self._recipients(
            uow, announcement.sender_id, Target.decode(announcement.target)
        )
        self._send(uow, announcement, recipients, now)
        return Sent(announcement.id, len(recipients))

    def _send(
        self, uow: UnitOfWork, announcement: Announcement, recipients: list[Member], now: datetime
    ) -> None:
        announcement.status = AnnouncementStatus.SENT
        announcement.sent_at = now
        uow.effects.touch(("announcement", announcement.id))  # the sender's read status
        uow.session.add_all(
            AnnouncementRecipient(announcement_id=announcement.id, member_id=m.id)
            for m in recipients
        )
        queue_notice(
            uow,
            AnnouncementNotice.ANNOUNCEMENT,
            [m.id for m in recipients],
            announcement.id,
            now,
            Priority.BULK,
        )
        uow.audit.record(
            SYSTEM,
            "announcement.sent",
            f"announcement:{announcement.id}",
            recipients=len(recipients),
        )

    async def cancel(self, actor_id: int, announcement_id: int) -> AnnouncementView:
        async with self.uow() as uow:
            actor = await coordinator(uow, actor_id)
            announcement = await self._managed(uow, actor, announcement_id, for_update=True)
            if announcement.status != AnnouncementStatus.SCHEDULED:
                raise DomainError("announcement.not_scheduled", id=announcement.id)
            announcement.status = AnnouncementStatus.CANCELLED
            announcement.cancelled_at, announcement.cancelled_by = uow.now(), actor.id
            uow.audit.record(
                member_actor(actor.id), "announcement.cancelled", f"announcement:{announcement.id}"
            )
            await uow.commit()
            uow.effects.schedule(f"announce:{announcement.id}", None)
            uow.effects.touch(("announcement", announcement.id))
            return await self._view(uow, announcement)

    async def confirm_read(self, member_id: int, announcement_id: int) -> tuple[int, bool]:
        """Returns the announcement id and whether it had been confirmed before."""
        async with self.uow() as uow:
            member = await active_member(uow, member_id)
            recipient = await uow.session.get(
                AnnouncementRecipient, (announcement_id, member.id), with_for_update=True
            )
            announcement = await uow.session.get(Announcement, announcement_id)
            if recipient is None or announcement is None or not announcement.read_confirmation:
                raise DomainError("announcement.unknown", id=announcement_id)
            if recipient.read_at is not None:
                return announcement.id, True
            recipient.read_at = uow.now()
            uow.audit.record(
                member_actor(member.id), "announcement.read", f"announcement:{announcement.id}"
            )
            await uow.commit()
            # The sender's read status, and the reader's own copies (✓ Gelesen 10:44).
            uow.effects.touch(
                ("announcement", announcement.id),
                ("announcement-copy", announcement.id, member.id),
            )
            return announcement.id, False

    async def remind_unread(self, actor_id: int, announcement_id: int) -> int:
        """Remind those who have not confirmed yet; returns how many."""
        async with self.uow() as uow:
            actor = await coordinator(uow, actor_id)
            announcement = await self._managed(uow, actor, announcement_id, for_update=True)
            if announcement.status != AnnouncementStatus.SENT or not announcement.read_confirmation:
                raise DomainError("announcement.no_confirmation", id=announcement.id)
            unread = list(
                await uow.session.scalars(
                    select(AnnouncementRecipient.member_id).where(
                        AnnouncementRecipient.announcement_id == announcement.id,
                        AnnouncementRecipient.read_at.is_(None),
                    )
                )
            )
            count = queue_notice(
                uow, AnnouncementNotice.REMINDER, unread, announcement.id, uow.now(), Priority.BULK
            )
            uow.audit.record(
                member_actor(actor.id),
                "announcement.reminded",
                f"announcement:{announcement.id}",
                recipients=count,
            )
            await uow.commit()
            return count

    async def set_status_message(self, announcement_id: int, chat_id: int, message_id: int) -> None:
        values = {"status_chat_id": chat_id, "status_message_id": message_id}
        await self.uow.update(Announcement, announcement_id, **values)

    # -- reading ---------------------------------------------------------------------------

    async def view(self, announcement_id: int) -> AnnouncementView:
        async with self.uow(write=False) as uow:
            unknown = DomainError("announcement.unknown", id=announcement_id)
            return await self._view(uow, await uow.existing(Announcement, announcement_id, unknown))

    async def text(self, announcement_id: int) -> str | None:
        async with self.uow(write=False) as uow:
            cipher = await uow.session.scalar(
                select(Announcement.text_cipher).where(Announcement.id == announcement_id)
            )
        if not cipher:
            return None
        return self.cipher.decrypt(cipher, bound(Announcement.text_cipher, announcement_id))

    async def scheduled(self, actor_id: int) -> list[tuple[AnnouncementView, str | None]]:
        """Scheduled announcements the coordinator may cancel, soonest first, with texts."""
        async with self.uow(write=False) as uow:
            actor = await coordinator(uow, actor_id)
            query = select(Announcement).where(Announcement.status == AnnouncementStatus.SCHEDULED)
            if actor.region != self.network.statewide_region:
                query = query.where(Announcement.sender_id == actor.id)
            rows = await uow.all(query.order_by(Announcement.send_at))
            return [
                (
                    await self._view(uow, a),
                    self.cipher.decrypt(a.text_cipher, bound(Announcement.text_cipher, a.id))
                    if a.text_cipher
                    else None,
                )
                for a in rows
            ]

    async def due_times(self) -> list[tuple[int, datetime]]:
        """Scheduled announcements and their times, to (re)schedule them at start-up."""
        async with self.uow(write=False) as uow:
            rows = await uow.session.execute(
                select(Announcement.id, Announcement.send_at).where(
                    Announcement.status == AnnouncementStatus.SCHEDULED
                )
            )
            return [(row[0], row[1]) for row in rows.all()]

    async def sent_ids(self) -> list[int]:
        """Announcements with a read confirmation whose status may need a refresh."""
        async with self.uow(write=False) as uow:
            return list(
                await uow.session.scalars(
                    select(Announcement.id).where(
                        Announcement.status == AnnouncementStatus.SENT,
                        Announcement.status_message_id.is_(None),
                    )
                )
            )

    async def read_status(self, announcement_id: int) -> ReadStatus:
        async with self.uow(write=False) as uow:
            unknown = DomainError("announcement.unknown", id=announcement_id)
            announcement = await uow.existing(Announcement, announcement_id, unknown)
            rows = (
                await uow.session.execute(
                    select(AnnouncementRecipient.member_id, AnnouncementRecipient.read_at)
                    .where(AnnouncementRecipient.announcement_id == announcement.id)
                    .order_by(AnnouncementRecipient.read_at, AnnouncementRecipient.member_id)
                )
            ).all()
            counts = dict(
                (
                    await uow.session.execute(
                        select(Delivery.status, func.count())
                        .where(
                            Delivery.subject_id == announcement.id,
                            Delivery.kind == AnnouncementNotice.ANNOUNCEMENT,
                        )
                        .group_by(Delivery.status)
                    )
                ).all()
            )
            people = {
                m.id: MemberView.of(m) for m in await uow.members.by_ids([r[0] for r in rows])
            }
            return ReadStatus(
                announcement=await self._view(uow, announcement),
                recipients=len(rows),
                delivered=counts.get(DeliveryStatus.SENT, 0),
                failed=sum(
                    counts.get(s, 0) for s in (DeliveryStatus.FAILED, DeliveryStatus.UNREACHABLE)
                ),
                read=tuple(people[m] for m, at in rows if at is not None),
                unread=tuple(people[m] for m, at in rows if at is None),
            )

    async def copies(
        self, announcement_id: int, member_id: int
    ) -> tuple[list[Copy], datetime | None]:
        """A member's sent copies of an announcement (and its reminders), and when they
        confirmed reading it."""
        async with self.uow(write=False) as uow:
            found = await sent_copies(
                uow,
                (AnnouncementNotice.ANNOUNCEMENT, AnnouncementNotice.REMINDER),
                subject_id=announcement_id,
                member_id=member_id,
            )
            recipient = await uow.session.get(AnnouncementRecipient, (announcement_id, member_id))
            return found, recipient.read_at if recipient is not None else None

    # -- helpers ---------------------------------------------------------------------------

    async def _recipients(self, uow: UnitOfWork, sender_id: int, target: Target) -> list[Member]:
        """Whom the target reaches now, the sender left out."""
        return [m for m in await self.channels.resolve(uow, target) if m.id != sender_id]

    async def _managed(
        self, uow: UnitOfWork, actor: Member, announcement_id: int, *, for_update: bool = False
    ) -> Announcement:
        """The sender and the statewide coordinators manage an announcement."""
        announcement = await uow.session.get(
            Announcement, announcement_id, with_for_update=for_update
        )
        statewide = actor.region == self.network.statewide_region
        if announcement is None or not (statewide or announcement.sender_id == actor.id):
            raise DomainError("announcement.unknown", id=announcement_id)
        return announcement

    async def _view(self, uow: UnitOfWork, announcement: Announcement) -> AnnouncementView:
        sender = await uow.members.get(announcement.sender_id)
        assert sender is not None
        return snapshot(
            AnnouncementView,
            announcement,
            sender=MemberView.of(sender),
            target=await self.channels.view_target(uow, Target.decode(announcement.target)),
        )
