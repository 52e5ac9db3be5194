"""A need as the rest of the bot sees it, and its next deadline (widening, escalation, unmet)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from bot.membership import MemberView
from bot.offers.catalogue import OfferView
from storage.models import ApiClient, Need, NeedStatus, Offer, Urgency
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class NeedView:
    id: int
    ref: str
    requester: MemberView | None  # None when an agency system raised it
    client: str | None  # the agency system's name
    kind: str | None
    topic: str | None
    adults: int
    children: int
    region: str
    language: str | None
    accessibility: str | None
    urgency: str
    status: str
    stage: int
    created_at: datetime
    taken_offer: OfferView | None
    taken_by: MemberView | None
    taken_at: datetime | None
    unmet_reason: str | None
    escalation_level: int
    next_at: datetime | None  # the next deadline (widening, escalation, unmet)

    @property
    def what(self) -> tuple[str, str]:
        return ("kind", self.kind) if self.kind else ("topic", self.topic or "")

    @property
    def is_urgent(self) -> bool:
        return self.urgency == Urgency.URGENT


_DERIVED = ("requester", "client", "taken_offer", "taken_by", "next_at")


async def need_view(uow: UnitOfWork, need: Need) -> NeedView:
    ids = {i for i in (need.requester_id, need.taken_by) if i is not None}
    people = {m.id: MemberView.of(m) for m in await uow.members.by_ids(ids)}
    offer = await uow.session.get(Offer, need.taken_offer_id) if need.taken_offer_id else None
    client = await uow.session.get(ApiClient, need.api_client_id) if need.api_client_id else None
    stored: dict[str, Any] = {
        f.name: getattr(need, f.name) for f in fields(NeedView) if f.name not in _DERIVED
    }
    return NeedView(
        **stored,
        requester=people.get(need.requester_id) if need.requester_id else None,
        client=client.name if client else None,
        taken_offer=OfferView.of(offer) if offer else None,
        taken_by=people.get(need.taken_by) if need.taken_by else None,
        next_at=next_at(need),
    )


def next_at(need: Need) -> datetime | None:
    if need.status != NeedStatus.OPEN:
        return None
    times = [t for t in (need.widen_at, need.escalate_at, need.unmet_at) if t is not None]
    return min(times, default=None)


def need_changed(uow: UnitOfWork, need: Need) -> None:
    """After the commit: (re)schedule the need's next deadline (widening, escalation, unmet),
    or forget it once the need is taken or closed."""
    uow.effects.schedule(f"need:{need.id}", next_at(need))
