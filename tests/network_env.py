"""A service-level network for stories that need exact times: every service of the bot on a real
database and a ManualClock, members made through invitations, deliveries recorded by hand."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.alerts import AlertService, EscalationPeriods
from bot.availability import AvailabilityService
from bot.clock import ManualClock
from bot.data_protection import DataProtectionService
from bot.delivery import DeliveryService, Job, Outcome, Result
from bot.drills import DrillService
from bot.keys import TextCipher, generate_encryption_key
from bot.membership import ADMIN_ACTOR, MembershipService, TelegramIdentity
from bot.network import load_network
from bot.offers.needs import NeedPeriods, NeedService
from bot.offers.offers import OfferService
from bot.report import ReportService
from storage.db import Database
from storage.models import AlertRecipient, Delivery
from storage.uow import UnitOfWorkFactory

TIMEZONE = "Europe/Berlin"
URGENT_AFTER = timedelta(minutes=15)
NORMAL_AFTER = timedelta(hours=4)
DRILL_WINDOW = timedelta(hours=1)
PLACES_STALE = timedelta(hours=24)
NEED_PERIODS = NeedPeriods(
    widen_after=timedelta(minutes=30),
    unmet_after=timedelta(hours=4),
    urgent_escalation=URGENT_AFTER,
)


@dataclass
class Env:
    database: Database
    clock: ManualClock
    membership: MembershipService
    alerts: AlertService
    outbox: DeliveryService
    availability: AvailabilityService
    drills: DrillService
    reports: ReportService
    data_protection: DataProtectionService
    offers: OfferService
    needs: NeedService
    blocked: set[int] = field(default_factory=set)
    _people: int = 0

    async def member(
        self, sector: str, region: str, *, role: str = "member", name: str | None = None
    ) -> int:
        """A member who joined through an invitation."""
        self._people += 1
        n = self._people
        invite = await self.membership.create_invite(ADMIN_ACTOR, sector, region, role=role)
        progress = await self.membership.redeem_invite(
            TelegramIdentity(5000 + n, 5000 + n), invite.token
        )
        await self.membership.give_text(progress.member.id, name or f"Person {n}")
        done = await self.membership.give_text(progress.member.id, "Amt")
        return done.member.id

    async def deliver(self) -> list[Job]:
        """Send everything that is due: Telegram refuses members in `blocked` (403), the rest
        get their message."""
        sent: list[Job] = []
        while jobs := await self.outbox.claim(100):
            await self.outbox.record(
                [
                    Result(job.id, Outcome.UNREACHABLE, error="403")
                    if job.member_id in self.blocked
                    else Result(job.id, Outcome.SENT, message_id=job.id)
                    for job in jobs
                ]
            )
            sent.extend(jobs)
        return sent

    def at(self, moment: datetime) -> None:
        assert moment >= self.clock.now(), "time only moves forward"
        self.clock.advance(moment - self.clock.now())

    def after(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))

    async def recipients(self, alert_id: int) -> dict[int, AlertRecipient]:
        async with self.database.read_sessions() as session:
            rows = await session.scalars(
                select(AlertRecipient).where(AlertRecipient.alert_id == alert_id)
            )
            return {row.member_id: row for row in rows}

    async def deliveries(self, alert_id: int, kinds: Iterable[str] = ("alert",)) -> list[Delivery]:
        async with self.database.read_sessions() as session:
            rows = await session.scalars(
                select(Delivery)
                .where(Delivery.alert_id == alert_id, Delivery.kind.in_(list(kinds)))
                .order_by(Delivery.id)
            )
            return list(rows)


def build_env(database: Database, start: datetime, slow_after: timedelta) -> Env:
    clock = ManualClock(start)
    uow = UnitOfWorkFactory(database, clock)
    network = load_network()
    periods = EscalationPeriods(URGENT_AFTER, NORMAL_AFTER)
    cipher = TextCipher([generate_encryption_key()])
    alerts = AlertService(uow, network, cipher, periods)
    return Env(
        database=database,
        clock=clock,
        membership=MembershipService(uow, network, 90),
        alerts=alerts,
        outbox=DeliveryService(uow, network, instance_id="test", timezone=TIMEZONE),
        availability=AvailabilityService(uow, network, TIMEZONE),
        drills=DrillService(uow, network, alerts, DRILL_WINDOW),
        reports=ReportService(uow, network, TIMEZONE, slow_after),
        data_protection=DataProtectionService(uow, network, timedelta(days=90)),
        offers=OfferService(uow, network, PLACES_STALE),
        needs=NeedService(uow, network, cipher, NEED_PERIODS, PLACES_STALE),
    )


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in the network's time zone, as UTC."""
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(TIMEZONE)).astimezone(UTC)
