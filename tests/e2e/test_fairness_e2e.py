"""One member cannot starve urgent alerts: deliveries of equal priority take turns across
alerts, and a member may raise only ALERT_URGENT_PER_HOUR urgent alerts in any hour."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import CoraBot
from bot.clock import Clock, ManualClock
from bot.errors import DomainError
from localapi.server import LocalBotApi
from storage.models import Alert, AuditEvent, Delivery, DeliveryStatus, MemberStatus
from tests.story import alert_messages, expect, join, seed_members, shows


async def sent_seq(cora: CoraBot, deliveries: list[Delivery]) -> dict[int, int]:
    """Where each delivery stands in the order in which the outbox recorded them as sent: the
    sequence number of its `delivery.sent` audit event, by delivery id."""
    assert deliveries and all(d.status == DeliveryStatus.SENT for d in deliveries)
    async with cora.database.read_sessions() as session:
        rows = (
            await session.execute(
                select(AuditEvent.subject, AuditEvent.seq).where(
                    AuditEvent.action == "delivery.sent",
                    AuditEvent.subject.in_([f"delivery:{d.id}" for d in deliveries]),
                )
            )
        ).all()
    order = {int(subject.removeprefix("delivery:")): int(seq) for subject, seq in rows}
    assert len(order) == len(deliveries)
    return order


async def deliveries_of(cora: CoraBot, alert_id: int) -> list[Delivery]:
    async with cora.database.read_sessions() as session:
        query = select(Delivery).where(Delivery.alert_id == alert_id)
        return list((await session.scalars(query)).all())


async def settled(cora: CoraBot) -> None:
    cora.runtime.outbox.wake()
    async with asyncio.timeout(30):
        while (await cora.services.deliveries.backlog())[0]:
            await asyncio.sleep(0.05)


async def test_a_later_urgent_alert_overtakes_the_bulk_queued_before_it(
    api: LocalBotApi, cora: CoraBot, database_url: str
) -> None:
    """One member's big urgent alert is queued; a colleague's small urgent alert raised right
    after it does not wait until the big one is through."""
    await seed_members(database_url, api, 120, "police", "HRO", prefix="Polizist")
    few = await seed_members(database_url, api, 2, "youth_welfare", "HRO", prefix="Jugendamt")
    flooder = await join(api, cora, "Fritz Flut", "victim_support", "HRO")
    colleague = await join(api, cora, "Kora Kollegin", "victim_support", "HRO")
    alerts = cora.services.alerts
    big = await alerts.raise_alert(flooder.member_id, ["police"], "HRO", "urgent", "Lage Pappel")
    small = await alerts.raise_alert(
        colleague.member_id, ["youth_welfare"], "HRO", "urgent", "Lage Birke"
    )
    await settled(cora)

    big_rows = await deliveries_of(cora, big.alert.id)
    small_rows = await deliveries_of(cora, small.alert.id)
    big_sent = list((await sent_seq(cora, big_rows)).values())
    small_sent = list((await sent_seq(cora, small_rows)).values())
    assert len(big_sent) == 120 and len(small_sent) == 2
    # The outbox claims 30 at a time. First come, first served would have sent the small
    # alert with the big one's last batch; taking turns sends it in the first or second batch,
    # while at least two batches of the big one are still waiting.
    after_small = [seq for seq in big_sent if seq > max(small_sent)]
    assert len(after_small) >= 60, (len(after_small), "of the big alert went after the small one")
    for person in few:
        assert len(alert_messages(person.user, small.alert.ref)) == 1


async def test_a_follow_up_never_overtakes_the_alert_it_follows(
    api: LocalBotApi, cora: CoraBot, database_url: str
) -> None:
    """What follows an alert is queued after the alert's own deliveries still waiting."""
    await seed_members(database_url, api, 40, "police", "HRO", prefix="Polizist")
    sender = await join(api, cora, "Sina Sender", "victim_support", "HRO")
    alerts = cora.services.alerts
    raised = await alerts.raise_alert(sender.member_id, ["police"], "HRO", "urgent", "Lage Eiche")
    await alerts.follow_up(sender.member_id, raised.alert.id, "Nachtrag zur Lage Eiche")
    await settled(cora)
    rows = await deliveries_of(cora, raised.alert.id)
    order = await sent_seq(cora, rows)
    alert_sent = {row.member_id: order[row.id] for row in rows if row.kind == "alert"}
    follow_ups = [row for row in rows if row.kind == "followup"]
    assert len(follow_ups) == 40
    for row in follow_ups:
        assert order[row.id] > alert_sent[row.member_id]
    assert min(row.turn for row in follow_ups) > max(
        row.turn for row in rows if row.kind == "alert"
    )


async def alerts_sent_to(cora: CoraBot, member_id: int) -> int:
    """Alerts delivered to a member (reminders and notices not counted)."""
    await settled(cora)
    async with cora.database.read_sessions() as session:
        rows = await session.scalars(
            select(Delivery).where(Delivery.member_id == member_id, Delivery.kind == "alert")
        )
        return sum(1 for row in rows if row.status == DeliveryStatus.SENT)


@pytest.fixture
def clock() -> Clock:
    return ManualClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"alert_urgent_per_hour": 6}


async def test_the_seventh_urgent_alert_in_an_hour_is_refused_and_coordinators_are_told(
    api: LocalBotApi, cora: CoraBot, clock: Clock
) -> None:
    assert isinstance(clock, ManualClock)
    regional = await join(api, cora, "Rike Regional", "coordination", "HRO", role="coordinator")
    statewide = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    elsewhere = await join(api, cora, "Vera Anderswo", "coordination", "VG", role="coordinator")
    sender = await join(api, cora, "Fritz Flut", "police", "HRO")
    recipient = await join(api, cora, "Jo Jugendamt", "youth_welfare", "HRO")
    for n in range(6):
        sender.user.send(f"/alert youth_welfare HRO ! Lage Nummer {n + 1} im Fall Pappel")
        await expect(sender.user, "alert.raised", recipients=1, after=sender.user.last)
        clock.advance(timedelta(minutes=5))
    # 09:30: the first urgent alert (09:00) leaves the window at 10:00.
    sender.user.send("/alert youth_welfare HRO ! Lage Nummer 7 im Fall Pappel")
    refusal = await expect(sender.user, "alert.urgent_limit", limit=6, count=30)
    for coordinator in (regional, statewide):
        notice = await expect(coordinator.user, "alert.urgent_limit.coordinators", count=6)
        assert "Fritz Flut" in notice.text
    async with cora.database.read_sessions() as session:
        stored = (await session.scalars(select(Alert).where(Alert.drill.is_(False)))).all()
        limited = (
            await session.scalars(
                select(AuditEvent.subject).where(AuditEvent.action == "alert.urgent_limited")
            )
        ).all()
    assert len(stored) == 6  # the seventh was not stored, nor sent
    assert list(limited) == [f"member:{sender.member_id}"]
    assert await alerts_sent_to(cora, recipient.member_id) == 6
    assert not any(
        shows(m, "alert.urgent_limit.coordinators", count=6) for m in elsewhere.user.messages
    )

    # Normal alerts still go; a second refusal within the hour does not tell anyone again.
    sender.user.send("/alert youth_welfare HRO Lage ohne Eile im Fall Birke")
    await expect(sender.user, "alert.raised", recipients=1, after=refusal)
    sender.user.send("/alert youth_welfare HRO ! Lage Nummer 8 im Fall Pappel")
    await expect(sender.user, "alert.urgent_limit", limit=6, count=30, after=refusal)
    # The sliding hour: at 10:01 the first urgent alert has left it.
    clock.advance(timedelta(minutes=31))
    sender.user.send("/alert youth_welfare HRO ! Lage Nummer 9 im Fall Pappel")
    await expect(sender.user, "alert.raised", recipients=1, after=sender.user.last)
    assert await alerts_sent_to(cora, recipient.member_id) == 8
    notices = [
        m for m in regional.user.messages if shows(m, "alert.urgent_limit.coordinators", count=6)
    ]
    assert len(notices) == 1

    # The coordinator's button ends the flooder's access at once.
    press = regional.user.press("⛔ Zugang beenden", notices[0])
    await regional.user.wait_for_answer(press)
    revoked = await cora.services.membership.get(sender.member_id)
    assert revoked is not None and revoked.status == MemberStatus.REVOKED
    await expect(sender.user, "decision.revoke.member")


async def test_drills_never_count_towards_the_limit(api: LocalBotApi, cora: CoraBot) -> None:
    """Coordinators exercise the urgent path as often as they like: seven urgent drills, and
    still six real urgent alerts go before the seventh is refused."""
    coordinator = await join(api, cora, "Rike Regional", "coordination", "HRO", role="coordinator")
    await join(api, cora, "Jo Jugendamt", "youth_welfare", "HRO")
    for _ in range(7):
        await cora.services.drills.start(coordinator.member_id, ["youth_welfare"], "HRO", "urgent")
    alerts = cora.services.alerts
    for n in range(6):
        raised = await alerts.raise_alert(
            coordinator.member_id, ["youth_welfare"], "HRO", "urgent", f"Lage {n} im Fall Ulme"
        )
        assert raised.recipients == 1
    with pytest.raises(DomainError) as refused:
        await alerts.raise_alert(
            coordinator.member_id, ["youth_welfare"], "HRO", "urgent", "Lage 7 im Fall Ulme"
        )
    assert refused.value.message_key == "alert.urgent_limit"
