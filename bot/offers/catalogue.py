"""Offers as the rest of the bot sees them, how they are searched, and who maintains them: what
the offer service and the need service share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.errors import DomainError
from bot.network import Network
from bot.offers.files import LIST_FIELDS, OfferFields, language_code
from storage.models import Member, MemberStatus, Offer, OfferMaintainer
from storage.repositories import split_codes
from storage.uow import UnitOfWork


@dataclass(frozen=True, kw_only=True)
class OfferView(OfferFields):
    id: int
    reports_places: bool
    places_free: int | None
    places_reported_at: datetime | None
    waiting_days: int | None
    waiting_reported_at: datetime | None
    active: bool
    maintainers: tuple[int, ...] = ()

    def places_known(self, now: datetime, stale_after: timedelta) -> int | None:
        """Free places as last reported; None ("unknown") when never reported or stale."""
        if self.places_free is None or self.places_reported_at is None:
            return None
        return self.places_free if now - self.places_reported_at <= stale_after else None

    @classmethod
    def of(cls, row: Offer, maintainers: Sequence[int] = ()) -> OfferView:
        values: dict[str, Any] = {
            f.name: getattr(row, f.name) for f in fields(cls) if f.name != "maintainers"
        }
        values.update((name, split_codes(getattr(row, name))) for name in LIST_FIELDS)
        return cls(**values, maintainers=tuple(maintainers))


@dataclass(frozen=True)
class Found:
    """An offer /find lists, and how far it is: 0 serves the region, 1 a neighbour, 2 further."""

    offer: OfferView
    distance: int


@dataclass(frozen=True)
class Search:
    what: tuple[str, str]  # ("kind" | "topic", code)
    region: str
    language: str | None = None
    accessibility: str | None = None


def matches(offer: Offer, search: Search) -> bool:
    """Whether an active offer fits what is searched for (kind or topic, language, access)."""
    if not offer.active:
        return False
    field, code = search.what
    if field == "kind" and offer.kind != code:
        return False
    if field == "topic" and code not in split_codes(offer.topics):
        return False
    if search.language is not None and search.language not in split_codes(offer.languages):
        return False
    return search.accessibility is None or search.accessibility in split_codes(offer.accessibility)


async def matching_offers(
    uow: UnitOfWork, network: Network, search: Search
) -> list[tuple[Offer, int]]:
    """Active offers that fit a search, each with its distance to the region searched."""
    rows = await uow.all(select(Offer).where(Offer.active))
    return [
        (row, network.distance(split_codes(row.regions), search.region))
        for row in rows
        if matches(row, search)
    ]


def search_filters(
    network: Network, language: str | None, accessibility: str | None
) -> tuple[str | None, str | None]:
    """A language and an accessibility code as typed, checked against the network's codes."""
    lang = None
    if language:
        lang = language_code(language)
        if lang is None:
            raise DomainError("offers.unknown_language", language=language)
    access = None
    if accessibility:
        access = accessibility.strip().lower()
        if access not in network.accessibility:
            raise DomainError(
                "offers.unknown_accessibility",
                accessibility=accessibility,
                valid=", ".join(network.accessibility),
            )
    return lang, access


async def maintainer_ids(uow: UnitOfWork, offer_id: int) -> list[int]:
    """Active maintainers of an offer."""
    rows = await uow.session.scalars(
        select(OfferMaintainer.member_id)
        .join(Member, Member.id == OfferMaintainer.member_id)
        .where(OfferMaintainer.offer_id == offer_id, Member.status == MemberStatus.ACTIVE)
        .order_by(OfferMaintainer.member_id)
    )
    return list(rows)
