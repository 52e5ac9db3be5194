"""Offers of the network's institutions: importing them, maintaining them in the chat (by
coordinators and the maintainers they name), free places and waiting times, and finding them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, or_, select

from bot.channels.rules import active_member
from bot.delivery import Priority
from bot.errors import DomainError
from bot.membership import Actor, Admin
from bot.network import Network
from bot.offers.catalogue import (
    Found,
    OfferView,
    Search,
    maintainer_ids,
    matching_offers,
    search_filters,
)
from bot.offers.files import LIMITS, LIST_FIELDS, OfferSpec, language_code
from storage.audit import ADMIN, SYSTEM, member_actor
from storage.models import Member, MemberStatus, Offer, OfferMaintainer, PlaceReport, Role
from storage.repositories import split_codes
from storage.uow import UnitOfWork, UnitOfWorkFactory

PLACES_REMINDER = "places_reminder"
MAX_PLACES = 999
MAX_WAITING_DAYS = 365
MAX_FOUND = 10
# Fields a maintainer may change in the chat; the rest (regions, active) is the coordinators'.
MAINTAINER_FIELDS = ("name", "contact", "hours", "topics", "target_groups", "languages")
COORDINATOR_FIELDS = (*MAINTAINER_FIELDS, "accessibility", "regions", "places", "active")


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


def _actor(actor: Actor) -> str:
    return ADMIN if isinstance(actor, Admin) else member_actor(actor)


def _values(spec: OfferSpec, network: Network) -> dict[str, object]:
    places = network.offer_kinds[spec.kind].places if spec.places is None else spec.places
    return {
        "name": spec.name,
        "kind": spec.kind,
        "topics": ",".join(spec.topics),
        "target_groups": ",".join(spec.target_groups),
        "languages": ",".join(spec.languages),
        "accessibility": ",".join(spec.accessibility),
        "regions": ",".join(spec.regions),
        "contact": spec.contact,
        "hours": spec.hours,
        "reports_places": places,
        "active": True,
    }


@dataclass
class OfferService:
    _uow: UnitOfWorkFactory
    _network: Network
    stale_after: timedelta

    # -- the file ----------------------------------------------------------------------------

    async def import_offers(self, actor: Actor, specs: Sequence[OfferSpec]) -> ImportResult:
        """Create new offers and update changed ones, in one transaction; an offer the file does
        not mention is left as it is. Every created or changed offer is audited."""
        created = updated = unchanged = 0
        async with self._uow() as uow:
            now = uow.now()
            existing = {
                row.code: row
                for row in await uow.session.scalars(
                    select(Offer).where(Offer.code.in_([s.code for s in specs]))
                )
            }
            for spec in specs:
                values = _values(spec, self._network)
                row = existing.get(spec.code)
                if row is None:
                    row = Offer(code=spec.code, created_at=now, updated_at=now, **values)
                    uow.session.add(row)
                    await uow.session.flush()
                    created += 1
                    uow.audit.record(
                        _actor(actor),
                        "offer.created",
                        f"offer:{row.id}",
                        code=spec.code,
                        kind=spec.kind,
                        regions=list(spec.regions),
                    )
                    continue
                changed = sorted(k for k, v in values.items() if getattr(row, k) != v)
                if not changed:
                    unchanged += 1
                    continue
                for key in changed:
                    setattr(row, key, values[key])
                row.updated_at = now
                updated += 1
                uow.audit.record(
                    _actor(actor), "offer.updated", f"offer:{row.id}", fields=changed, via="file"
                )
            await uow.commit()
        return ImportResult(created, updated, unchanged)

    # -- reading -----------------------------------------------------------------------------

    async def get(self, offer_id: int) -> OfferView:
        async with self._uow(write=False) as uow:
            return await self._view(uow, await _offer(uow, offer_id))

    async def by_code(self, code: str) -> OfferView:
        async with self._uow(write=False) as uow:
            row = await uow.session.scalar(select(Offer).where(Offer.code == code.strip().lower()))
            if row is None:
                raise DomainError("offers.unknown", offer=code)
            return await self._view(uow, row)

    async def all_offers(self) -> list[OfferView]:
        async with self._uow(write=False) as uow:
            rows = await uow.all(select(Offer).order_by(Offer.name))
            return [await self._view(uow, row) for row in rows]

    async def for_member(self, member_id: int) -> list[OfferView]:
        """The offers a member maintains; a coordinator also sees every offer of their region
        (a statewide coordinator: all)."""
        async with self._uow(write=False) as uow:
            member = await active_member(uow, member_id)
            mine = select(OfferMaintainer.offer_id).where(OfferMaintainer.member_id == member.id)
            rows = await uow.all(select(Offer).order_by(Offer.name))
            own = set(await uow.session.scalars(mine))
            return [
                await self._view(uow, row)
                for row in rows
                if row.id in own or self._coordinates(member, split_codes(row.regions))
            ]

    async def find(self, search: Search) -> list[Found]:
        """Matching active offers, nearest first; places offers with free places before the
        others at the same distance."""
        now = self._uow.clock.now()
        async with self._uow(write=False) as uow:
            matching = await matching_offers(uow, self._network, search)
            found = [Found(OfferView.of(row), distance) for row, distance in matching]

        def order(item: Found) -> tuple[int, int, str]:
            free = item.offer.places_known(now, self.stale_after)
            return (item.distance, 0 if free else 1, item.offer.name.lower())

        return sorted(found, key=order)

    def search(
        self,
        what: str,
        region: str,
        language: str | None = None,
        accessibility: str | None = None,
    ) -> Search:
        """Check the words of a search (codes of the network file, a language code)."""
        lang, access = search_filters(self._network, language, accessibility)
        return Search(self._network.what(what), self._network.region(region).code, lang, access)

    # -- maintaining ------------------------------------------------------------------------

    async def add_maintainer(self, coordinator_id: int, offer_id: int, member_id: int) -> bool:
        """A coordinator responsible for one of the offer's regions names a maintainer."""
        async with self._uow() as uow:
            coordinator, offer = await self._coordinated_offer(uow, coordinator_id, offer_id)
            member = await uow.members.get(member_id)
            if member is None or member.status != MemberStatus.ACTIVE:
                raise DomainError("error.unknown_member", member=member_id)
            if await uow.session.get(OfferMaintainer, (offer.id, member.id)) is not None:
                return False
            uow.session.add(
                OfferMaintainer(
                    offer_id=offer.id,
                    member_id=member.id,
                    added_by=coordinator.id,
                    added_at=uow.now(),
                )
            )
            return await _maintainers_changed(uow, coordinator, offer, member.id, "added")

    async def remove_maintainer(self, coordinator_id: int, offer_id: int, member_id: int) -> bool:
        async with self._uow() as uow:
            coordinator, offer = await self._coordinated_offer(uow, coordinator_id, offer_id)
            result = await uow.session.execute(
                delete(OfferMaintainer).where(
                    OfferMaintainer.offer_id == offer.id, OfferMaintainer.member_id == member_id
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            return await _maintainers_changed(uow, coordinator, offer, member_id, "removed")

    async def edit(self, member_id: int, offer_id: int, field: str, raw: str) -> OfferView:
        """Change one field of an offer in the chat (a maintainer or a coordinator)."""
        async with self._uow() as uow:
            member = await active_member(uow, member_id)
            offer = await _offer(uow, offer_id)
            coordinator = self._coordinates(member, split_codes(offer.regions))
            allowed = COORDINATOR_FIELDS if coordinator else MAINTAINER_FIELDS
            if not coordinator and not await _maintains(uow, member.id, offer.id):
                raise DomainError("offers.not_maintainer", offer=offer.name)
            if field not in allowed:
                raise DomainError("offers.unknown_field", field=field, valid=", ".join(allowed))
            value = self._parse_field(field, raw)
            if getattr(offer, _column(field)) == value:
                return await self._view(uow, offer)
            setattr(offer, _column(field), value)
            offer.updated_at = uow.now()
            uow.audit.record(
                member_actor(member.id),
                "offer.updated",
                f"offer:{offer.id}",
                fields=[_column(field)],
                via="chat",
            )
            await uow.commit()
            return await self._view(uow, offer)

    def _parse_field(self, field: str, raw: str) -> object:
        text = " ".join(raw.split())
        if field in ("places", "active"):
            words = {"on": True, "an": True, "ja": True, "yes": True}
            words |= {"off": False, "aus": False, "nein": False, "no": False}
            if text.lower() not in words:
                raise DomainError("offers.on_or_off", field=field)
            return words[text.lower()]
        if field not in LIST_FIELDS:
            limit = LIMITS.get(field, 200)
            if not text or len(text) > limit:
                raise DomainError("offers.text_length", field=field, max=limit)
            return text
        codes = [c for c in text.replace(";", ",").replace(" ", ",").split(",") if c]
        if field == "languages":
            wrong = [c for c in codes if language_code(c) is None]
            if wrong or not codes:
                raise DomainError("offers.unknown_language", language=", ".join(wrong) or "–")
            return ",".join(dict.fromkeys(c.lower() for c in codes))
        valid = {
            "topics": self._network.topics,
            "target_groups": self._network.target_groups,
            "accessibility": self._network.accessibility,
            "regions": self._network.regions,
        }[field]
        normal = [c.upper() if field == "regions" else c.lower() for c in codes]
        wrong = [c for c in normal if c not in valid]
        if wrong or (field == "regions" and not normal):
            raise DomainError(
                "offers.unknown_codes",
                field=field,
                codes=", ".join(wrong) or "–",
                valid=", ".join(valid),
            )
        return ",".join(dict.fromkeys(normal))

    # -- places and waiting times -------------------------------------------------------------

    async def report_places(
        self, member_id: int, offer_id: int, free: int | None = None, *, delta: int = 0
    ) -> OfferView:
        """Report free places (`free`), or change the last known number by `delta` (+1/−1;
        from zero when it is unknown)."""
        async with self._uow() as uow:
            now = uow.now()
            member = await active_member(uow, member_id)
            offer = await _offer(uow, offer_id, for_update=True)
            await self._require_maintainer(uow, member, offer)
            if not offer.reports_places:
                raise DomainError("offers.no_places", offer=offer.name)
            if free is None:
                known = OfferView.of(offer).places_known(now, self.stale_after)
                free = max(0, (known or 0) + delta)
            if not 0 <= free <= MAX_PLACES:
                raise DomainError("offers.places_range", max=MAX_PLACES)
            offer.places_free, offer.places_reported_at = free, now
            uow.session.add(
                PlaceReport(offer_id=offer.id, free=free, reported_at=now, member_id=member.id)
            )
            uow.audit.record(
                member_actor(member.id), "offer.places", f"offer:{offer.id}", free=free
            )
            await uow.commit()
            return await self._view(uow, offer)

    async def report_waiting(self, member_id: int, offer_id: int, days: int) -> OfferView:
        """A counselling offer's waiting time until a first appointment, in days."""
        if not 0 <= days <= MAX_WAITING_DAYS:
            raise DomainError("offers.waiting_range", max=MAX_WAITING_DAYS)
        async with self._uow() as uow:
            member = await active_member(uow, member_id)
            offer = await _offer(uow, offer_id, for_update=True)
            await self._require_maintainer(uow, member, offer)
            offer.waiting_days, offer.waiting_reported_at = days, uow.now()
            uow.audit.record(
                member_actor(member.id), "offer.waiting", f"offer:{offer.id}", days=days
            )
            await uow.commit()
            return await self._view(uow, offer)

    async def remind_stale(self) -> int:
        """Remind the maintainers of offers whose places report is older than the stale period
        (or that never reported since they were added that long ago), once per period; returns
        the number of reminders queued."""
        async with self._uow() as uow:
            now = uow.now()
            due = now - self.stale_after
            offers = await uow.all(
                select(Offer).where(
                    Offer.active,
                    Offer.reports_places,
                    # Never reported: counted from when the offer was added.
                    func.coalesce(Offer.places_reported_at, Offer.created_at) < due,
                    or_(Offer.places_reminded_at.is_(None), Offer.places_reminded_at < due),
                )
            )
            queued = 0
            for offer in offers:
                maintainers = await maintainer_ids(uow, offer.id)
                if not maintainers:
                    continue
                offer.places_reminded_at = now
                queued += uow.deliveries.enqueue(
                    kind=PLACES_REMINDER,
                    member_ids=maintainers,
                    priority=Priority.BULK,
                    now=now,
                    subject_id=offer.id,
                    params={"offer": offer.id},
                )
                uow.audit.record(
                    SYSTEM, "offer.places_reminder", f"offer:{offer.id}", members=maintainers
                )
            await uow.commit()
            return queued

    # -- helpers -----------------------------------------------------------------------------

    async def may_maintain(self, member_id: int, offer_id: int) -> bool:
        async with self._uow(write=False) as uow:
            member = await active_member(uow, member_id)
            offer = await _offer(uow, offer_id)
            return self._coordinates(member, split_codes(offer.regions)) or await _maintains(
                uow, member.id, offer.id
            )

    async def _require_maintainer(self, uow: UnitOfWork, member: Member, offer: Offer) -> None:
        if self._coordinates(member, split_codes(offer.regions)):
            return
        if not await _maintains(uow, member.id, offer.id):
            raise DomainError("offers.not_maintainer", offer=offer.name)

    async def _coordinated_offer(
        self, uow: UnitOfWork, coordinator_id: int, offer_id: int
    ) -> tuple[Member, Offer]:
        """The coordinator and the offer, when one of its regions is the coordinator's."""
        coordinator = await active_member(uow, coordinator_id)
        offer = await _offer(uow, offer_id)
        if not self._coordinates(coordinator, split_codes(offer.regions)):
            raise DomainError("offers.not_your_region", offer=offer.name)
        return coordinator, offer

    def _coordinates(self, member: Member, regions: Sequence[str]) -> bool:
        if member.role != Role.COORDINATOR or member.region is None:
            return False
        return member.region == self._network.statewide_region or member.region in regions

    async def _view(self, uow: UnitOfWork, offer: Offer) -> OfferView:
        return OfferView.of(offer, await maintainer_ids(uow, offer.id))


def _column(field: str) -> str:
    return "reports_places" if field == "places" else field


async def _maintainers_changed(
    uow: UnitOfWork, coordinator: Member, offer: Offer, member_id: int, change: str
) -> bool:
    uow.audit.record(
        member_actor(coordinator.id),
        f"offer.maintainer_{change}",
        f"offer:{offer.id}",
        member=member_id,
    )
    await uow.commit()
    return True


async def _offer(uow: UnitOfWork, offer_id: int, *, for_update: bool = False) -> Offer:
    unknown = DomainError("offers.unknown", offer=str(offer_id))
    return await uow.existing(Offer, offer_id, unknown, for_update=for_update)


async def _maintains(uow: UnitOfWork, member_id: int, offer_id: int) -> bool:
    return await uow.session.get(OfferMaintainer, (offer_id, member_id)) is not None
