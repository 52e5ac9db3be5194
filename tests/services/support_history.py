"""A hand-built October of the support system with known figures, for the report's service test
and its end-to-end test alike.

Offers: shelters in Rostock (HRO), Rostock district (LRO) and Vorpommern-Greifswald (VG), a
counselling centre on forced marriage in Rostock (German, Arabic). Places: the Rostock shelter
reports 2 free on 1 October (free through 2 October, then stale), 0 on 3 October and 1 on
10 October (free 10 and 11 October); the VG shelter reports 0 on 2 October; so Rostock has a free
place on 4 of 31 days, VG and LRO on none. Needs: 4 shelter needs in Rostock (3 taken after 10,
20 and 30 minutes, 1 unmet: nobody answered), 7 shelter needs in VG (all unmet: no free place),
1 trafficking need in VG (no offer anywhere) and 2 forced-marriage needs in Rostock in Ukrainian
(language)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from bot.clock import ManualClock
from bot.offers.needs import NeedService
from bot.offers.offers import OfferService
from storage.models import Need, NeedStatus
from tests.offers_story import MemberFactory, import_shelters, name_keepers


def berlin(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(
        UTC
    )


@dataclass
class SupportHistory:
    requester: int
    keepers: dict[str, int]
    offers: dict[str, int]


async def build_support_history(
    offers: OfferService,
    needs: NeedService,
    clock: ManualClock,
    member: MemberFactory,
    *,
    run_due: Callable[[], Awaitable[object]] | None = None,
) -> SupportHistory:
    """Everything happens in October 2026; `clock` must stand before 1 October."""

    def at(moment: datetime) -> None:
        assert moment >= clock.now(), "time only moves forward"
        clock.advance(moment - clock.now())

    async def due() -> None:
        # Until nothing is due: a running bot's own sweep may hold a need's lock meanwhile
        # (run_due skips locked rows), and then does that step itself.
        async with asyncio.timeout(10):
            while True:
                await (run_due() if run_due is not None else needs.run_due())
                if not await still_due():
                    return
                await asyncio.sleep(0.05)

    async def still_due() -> int:
        now = clock.now()
        async with needs._uow(write=False) as uow:
            return int(
                await uow.session.scalar(
                    select(func.count())
                    .select_from(Need)
                    .where(
                        Need.status == NeedStatus.OPEN,
                        or_(Need.widen_at <= now, Need.escalate_at <= now, Need.unmet_at <= now),
                    )
                )
                or 0
            )

    at(berlin(9, 30, 9))
    ids = await import_shelters(offers)
    keepers = await name_keepers(offers, ids, member)
    kim = await member("police", "HRO", "member", "Kim Polizei")

    at(berlin(10, 1, 10))
    await offers.report_places(keepers["fh-nord"], ids["fh-nord"], 2)
    at(berlin(10, 2, 10))
    await offers.report_places(keepers["fh-ost"], ids["fh-ost"], 0)
    at(berlin(10, 3, 10))
    await offers.report_places(keepers["fh-nord"], ids["fh-nord"], 0)
    at(berlin(10, 10, 12))
    await offers.report_places(keepers["fh-nord"], ids["fh-nord"], 1)

    for day, minutes in ((12, 10), (13, 20), (14, 30)):
        at(berlin(10, day, 9))
        raised = await needs.raise_need(kim, needs.request("shelter", "HRO", f"Fall {day}"))
        at(berlin(10, day, 9, minutes))
        await needs.answer(keepers["fh-nord"], raised.need.id, ids["fh-nord"], yes=True)

    at(berlin(10, 15, 9))
    for hour in range(9, 16):
        at(berlin(10, 15, hour))
        raised = await needs.raise_need(kim, needs.request("shelter", "VG", f"Fall Ost {hour}"))
        await needs.answer(keepers["fh-ost"], raised.need.id, ids["fh-ost"], yes=False)
        await needs.close_unmet(kim, raised.need.id, "no_places")

    at(berlin(10, 16, 9))
    await needs.raise_need(kim, needs.request("trafficking", "VG", "Fall Birke"))
    for hour in (10, 11):
        at(berlin(10, 16, hour))
        await needs.raise_need(
            kim, needs.request("forced_marriage", "HRO", f"Fall Eibe {hour}", language="uk")
        )

    at(berlin(10, 20, 10))
    await needs.raise_need(kim, needs.request("shelter", "HRO", "Fall Ahorn"))
    for minutes in (30, 60, 240):
        at(berlin(10, 20, 10) + timedelta(minutes=minutes))
        await due()
    at(berlin(11, 2, 9))
    return SupportHistory(kim, keepers, ids)
