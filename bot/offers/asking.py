"""Which offers a need is sent to, stage by stage (the region, its neighbours, the state), and why
nobody could take it when it ends unmet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.delivery import Priority
from bot.network import Network
from bot.offers.catalogue import OfferView, Search, maintainer_ids, matching_offers
from storage.audit import SYSTEM
from storage.models import Need, NeedOffer, Offer, UnmetReason, Urgency
from storage.repositories import split_codes
from storage.uow import UnitOfWork

LAST_STAGE = 2  # 0: the region, 1: its neighbours, 2: the whole state


class NeedNotice:
    """Delivery kinds of needs."""

    NEED = "need"  # to the maintainers of an offer asked (params: offer)
    TAKEN = "need_taken"  # to the requester: an offer takes it (params: offer)
    GONE = "need_gone"  # to the other offers asked: somebody else took it
    UNMET = "need_unmet"  # to the requester: unmet, with the reason
    ESCALATION = "need_escalation"  # urgent and untaken: coordinators brought in (params: level)


def notify(
    uow: UnitOfWork,
    need: Need,
    kind: str,
    member_ids: Sequence[int],
    now: datetime,
    *,
    priority: int | None = None,
    **params: int,
) -> None:
    """Queue a need's message (of `kind`), as urgent as the need unless `priority` says."""
    urgency = Priority.URGENT if need.urgency == Urgency.URGENT else Priority.NORMAL
    uow.deliveries.enqueue(
        kind=kind,
        member_ids=member_ids,
        priority=urgency if priority is None else priority,
        now=now,
        subject_id=need.id,
        params=dict(params) or None,
    )


def need_search(need: Need) -> Search:
    what = ("kind", need.kind) if need.kind else ("topic", need.topic or "")
    return Search(what, need.region, need.language, need.accessibility)


async def asked_offer_ids(uow: UnitOfWork, need_id: int) -> list[int]:
    return list(
        await uow.session.scalars(select(NeedOffer.offer_id).where(NeedOffer.need_id == need_id))
    )


async def answers(uow: UnitOfWork, need_id: int) -> list[str | None]:
    return list(
        await uow.session.scalars(select(NeedOffer.answer).where(NeedOffer.need_id == need_id))
    )


@dataclass
class NeedAsking:
    network: Network
    widen_after: timedelta
    stale_after: timedelta

    async def first_stage(self, uow: UnitOfWork, search: Search) -> tuple[int, list[Offer]]:
        """The first stage that has offers (with maintainers), and those offers."""
        matching = await matching_offers(uow, self.network, search)
        for stage in range(LAST_STAGE + 1):
            found = [o for o, d in matching if d <= stage and await maintainer_ids(uow, o.id)]
            if found:
                return stage, found
        return LAST_STAGE, []

    async def ask_next(self, uow: UnitOfWork, need: Need, now: datetime, *, first: bool) -> int:
        """Ask the offers of the next stage that has any (with maintainers) not asked yet; set
        the time to widen further. Returns how many offers were asked."""
        matching = await matching_offers(uow, self.network, need_search(need))
        asked = set(await asked_offer_ids(uow, need.id))
        reachable = [
            (o, d) for o, d in matching if o.id not in asked and await maintainer_ids(uow, o.id)
        ]
        stage = need.stage if first else need.stage + 1
        new: list[Offer] = []
        while stage <= LAST_STAGE:
            new = [o for o, d in reachable if d <= stage]
            if new:
                break
            stage += 1
        if new:
            need.stage = stage
            for offer in new:
                await self._ask(uow, need, offer, now)
        further = any(d > need.stage for o, d in reachable if o not in new)
        need.widen_at = now + self.widen_after if further else None
        if not first and new:
            uow.audit.record(
                SYSTEM, "need.widened", f"need:{need.id}", stage=need.stage, offers=len(new)
            )
        return len(new)

    async def _ask(self, uow: UnitOfWork, need: Need, offer: Offer, now: datetime) -> None:
        uow.session.add(
            NeedOffer(need_id=need.id, offer_id=offer.id, stage=need.stage, asked_at=now)
        )
        maintainers = await maintainer_ids(uow, offer.id)
        notify(uow, need, NeedNotice.NEED, maintainers, now, offer=offer.id)

    async def reason(self, uow: UnitOfWork, need: Need) -> UnmetReason:
        """Why nobody could take a need: the first filter that left nothing, or no places."""
        search = need_search(need)
        by_what = await matching_offers(uow, self.network, Search(search.what, search.region))
        if not by_what:
            return UnmetReason.NO_OFFER
        in_language = [
            o for o, _ in by_what if search.language in (None, *split_codes(o.languages))
        ]
        if not in_language:
            return UnmetReason.LANGUAGE
        accessible = [
            o for o in in_language if search.accessibility in (None, *split_codes(o.accessibility))
        ]
        if not accessible:
            return UnmetReason.ACCESSIBILITY
        given = await answers(uow, need.id)
        if given and all(answer == "no" for answer in given):
            return UnmetReason.NO_PLACES
        now = uow.now()
        if need.kind and self.network.offer_kinds[need.kind].places:
            known = [OfferView.of(o).places_known(now, self.stale_after) for o in accessible]
            if all(free == 0 for free in known):
                return UnmetReason.NO_PLACES
        return UnmetReason.NOBODY_ANSWERED
