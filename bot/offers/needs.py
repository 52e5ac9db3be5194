"""Needs: a professional (or an agency system) asks the network for help of a kind or on a
topic in a region. The need goes to the maintainers of every matching offer there, widens to the
neighbouring regions and then the state, is taken by the first "we can", and is recorded as unmet
with its reason when nobody takes it in time. Every deadline lives in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.delivery import Priority
from bot.errors import DomainError
from bot.keys import TextCipher, bound
from bot.membership import MemberView
from bot.network import Network
from bot.offers.files import language_code
from bot.offers.offers import OfferView, Search, maintainer_ids, matches
from bot.personal_data import Finding, find_personal_data
from storage.audit import SYSTEM, member_actor
from storage.models import (
    ApiClient,
    Member,
    MemberStatus,
    Need,
    NeedCounter,
    NeedOffer,
    NeedStatus,
    Offer,
    Role,
    UnmetReason,
    Urgency,
)
from storage.repositories import split_codes
from storage.uow import UnitOfWork, UnitOfWorkFactory

MAX_CASE_REF = 60
MAX_NOTE = 500
MAX_PEOPLE = 20
LAST_STAGE = 2  # 0: the region, 1: its neighbours, 2: the whole state


class NeedNotice:
    """Delivery kinds of needs."""

    NEED = "need"  # to the maintainers of an offer asked (params: offer)
    TAKEN = "need_taken"  # to the requester: an offer takes it (params: offer)
    GONE = "need_gone"  # to the other offers asked: somebody else took it
    UNMET = "need_unmet"  # to the requester: unmet, with the reason
    ESCALATION = "need_escalation"  # urgent and untaken: coordinators brought in (params: level)


@dataclass(frozen=True)
class NeedPeriods:
    widen_after: timedelta
    unmet_after: timedelta
    urgent_escalation: timedelta


@dataclass(frozen=True)
class NeedRequest:
    """What is needed, checked against the network, before it is raised."""

    what: tuple[str, str]  # ("kind" | "topic", code)
    region: str
    case_ref: str
    adults: int = 0
    children: int = 0
    language: str | None = None
    accessibility: str | None = None
    urgency: str = Urgency.NORMAL
    note: str = ""

    @property
    def search(self) -> Search:
        return Search(self.what, self.region, self.language, self.accessibility)


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


@dataclass(frozen=True)
class RaisedNeed:
    need: NeedView
    offers: int  # offers asked (0: unmet at once, see need.unmet_reason)


@dataclass(frozen=True)
class Answered:
    need: NeedView
    taken: bool  # this answer took the need
    already: bool  # somebody else (or this offer) had answered it before: nothing changed


@dataclass(frozen=True)
class Handled:
    """What a due time did to one need, for the scheduler."""

    need_id: int
    next_at: datetime | None


def check_need_texts(case_ref: str, note: str = "") -> list[Finding]:
    """Refuse an empty or over-long case reference or note; return what looks like personal
    data in either (the same check as for alert texts)."""
    ref = " ".join(case_ref.split())
    if not ref:
        raise DomainError("need.case_ref_empty")
    if len(ref) > MAX_CASE_REF:
        raise DomainError("need.case_ref_too_long", max=MAX_CASE_REF, length=len(ref))
    if len(note.strip()) > MAX_NOTE:
        raise DomainError("need.note_too_long", max=MAX_NOTE, length=len(note.strip()))
    return find_personal_data(ref) + (find_personal_data(note.strip()) if note.strip() else [])


def _require_clean(request: NeedRequest, confirmed: bool) -> None:
    findings = check_need_texts(request.case_ref, request.note)
    if any(finding.blocking for finding in findings):
        raise DomainError("alert.personal_data_blocking")
    if findings and not confirmed:
        raise DomainError("alert.personal_data_confirm")


def _priority(urgency: str) -> int:
    return Priority.URGENT if urgency == Urgency.URGENT else Priority.NORMAL


class NeedService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        network: Network,
        cipher: TextCipher,
        periods: NeedPeriods,
        stale_after: timedelta,
    ) -> None:
        self._uow = uow
        self._network = network
        self._cipher = cipher
        self.periods = periods
        self._stale_after = stale_after

    def request(
        self,
        what: str,
        region: str,
        case_ref: str,
        *,
        adults: int = 0,
        children: int = 0,
        language: str | None = None,
        accessibility: str | None = None,
        urgency: str = Urgency.NORMAL,
        note: str = "",
    ) -> NeedRequest:
        """A need's words checked against the network (codes, numbers); texts come later."""
        field, code = self._network.what(what)
        if not (0 <= adults <= MAX_PEOPLE and 0 <= children <= MAX_PEOPLE):
            raise DomainError("need.people_range", max=MAX_PEOPLE)
        if field == "kind" and self._network.offer_kinds[code].places and adults + children == 0:
            adults = 1  # a place is for somebody
        lang = None
        if language:
            lang = language_code(language)
            if lang is None:
                raise DomainError("offers.unknown_language", language=language)
        access = None
        if accessibility:
            access = accessibility.strip().lower()
            if access not in self._network.accessibility:
                raise DomainError(
                    "offers.unknown_accessibility",
                    accessibility=accessibility,
                    valid=", ".join(self._network.accessibility),
                )
        if urgency not in (Urgency.URGENT, Urgency.NORMAL):
            raise DomainError("alert.unknown_urgency")
        return NeedRequest(
            what=(field, code),
            region=self._network.region(region).code,
            case_ref=" ".join(case_ref.split()),
            adults=adults,
            children=children,
            language=lang,
            accessibility=access,
            urgency=urgency,
            note=note.strip(),
        )

    # -- raising -----------------------------------------------------------------------------

    async def count_offers(self, request: NeedRequest) -> int:
        """How many offers would be asked first (for the preview)."""
        async with self._uow(write=False) as uow:
            first = await self._first_stage(uow, request.search)
            return len(first[1])

    async def raise_need(
        self, member_id: int, request: NeedRequest, *, confirmed: bool = False
    ) -> RaisedNeed:
        _require_clean(request, confirmed)
        async with self._uow() as uow:
            member = await _active(uow, member_id)
            raised = await self._raise(uow, request, requester=member.id, client_id=None)
            await uow.commit()
            return raised

    async def raise_need_for_client(
        self, uow: UnitOfWork, client_id: int, request: NeedRequest, *, confirmed: bool = False
    ) -> RaisedNeed:
        """An agency system raises a need through the HTTP API, in the caller's unit of work. A
        key reaches only its own region; a statewide key every region."""
        _require_clean(request, confirmed)
        client = await uow.session.get(ApiClient, client_id)
        if client is None or client.revoked_at is not None:
            raise DomainError("api.unknown_key", key=str(client_id))
        if not self._network.covers(client.region, request.region):
            raise DomainError("error.outside_scope", region=request.region, allowed=client.region)
        return await self._raise(uow, request, requester=None, client_id=client.id)

    async def _raise(
        self, uow: UnitOfWork, request: NeedRequest, *, requester: int | None, client_id: int | None
    ) -> RaisedNeed:
        now = uow.now()
        field, code = request.what
        need = Need(
            ref=await _next_ref(uow, now.year),
            requester_id=requester,
            api_client_id=client_id,
            kind=code if field == "kind" else None,
            topic=code if field == "topic" else None,
            adults=request.adults,
            children=request.children,
            region=request.region,
            language=request.language,
            accessibility=request.accessibility,
            urgency=request.urgency,
            status=NeedStatus.OPEN,
            stage=0,
            escalation_level=0,
            created_at=now,
            unmet_at=now + self.periods.unmet_after,
            escalate_at=(
                now + self.periods.urgent_escalation if request.urgency == Urgency.URGENT else None
            ),
        )
        uow.session.add(need)
        await uow.session.flush()
        # The texts are bound to the row's id, known only now (see AlertService._raise).
        need.case_ref_cipher = self._cipher.encrypt(
            request.case_ref, bound(Need.case_ref_cipher, need.id)
        )
        if request.note:
            need.note_cipher = self._cipher.encrypt(request.note, bound(Need.note_cipher, need.id))
        asked = await self._ask_next(uow, need, now, first=True)
        actor = member_actor(requester) if requester is not None else f"api:{client_id}"
        uow.audit.record(
            actor,
            "need.raised",
            f"need:{need.id}",
            ref=need.ref,
            what=code,
            region=need.region,
            urgency=need.urgency,
            adults=need.adults,
            children=need.children,
            language=need.language,
            accessibility=need.accessibility,
            offers=asked,
            stage=need.stage,
        )
        if not asked:  # the answer to the requester says so: no notice besides
            await self._unmet(uow, need, now, await self._reason(uow, need), by=None, tell=False)
        need_changed(uow, need)
        return RaisedNeed(await self._view(uow, need), asked)

    async def _matching(self, uow: UnitOfWork, search: Search) -> list[tuple[Offer, int]]:
        rows = (await uow.session.scalars(select(Offer).where(Offer.active))).all()
        return [
            (row, self._network.distance(split_codes(row.regions), search.region))
            for row in rows
            if matches(row, search)
        ]

    async def _first_stage(self, uow: UnitOfWork, search: Search) -> tuple[int, list[Offer]]:
        matching = await self._matching(uow, search)
        for stage in range(LAST_STAGE + 1):
            found = [o for o, d in matching if d <= stage and await maintainer_ids(uow, o.id)]
            if found:
                return stage, found
        return LAST_STAGE, []

    async def _ask_next(self, uow: UnitOfWork, need: Need, now: datetime, *, first: bool) -> int:
        """Ask the offers of the next stage that has any (with maintainers) not asked yet; set
        the time to widen further. Returns how many offers were asked."""
        matching = await self._matching(uow, _search(need))
        asked = set(
            await uow.session.scalars(
                select(NeedOffer.offer_id).where(NeedOffer.need_id == need.id)
            )
        )
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
                uow.session.add(
                    NeedOffer(need_id=need.id, offer_id=offer.id, stage=stage, asked_at=now)
                )
                uow.deliveries.enqueue(
                    kind=NeedNotice.NEED,
                    member_ids=await maintainer_ids(uow, offer.id),
                    priority=_priority(need.urgency),
                    now=now,
                    subject_id=need.id,
                    params={"offer": offer.id},
                )
        further = any(d > need.stage for o, d in reachable if o not in new)
        need.widen_at = now + self.periods.widen_after if further else None
        if not first and new:
            uow.audit.record(
                SYSTEM, "need.widened", f"need:{need.id}", stage=need.stage, offers=len(new)
            )
        return len(new)

    async def _reason(self, uow: UnitOfWork, need: Need) -> UnmetReason:
        """Why nobody could take a need: the first filter that left nothing, or no places."""
        search = _search(need)
        by_what = await self._matching(uow, Search(search.what, search.region))
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
        answers = (
            await uow.session.scalars(select(NeedOffer.answer).where(NeedOffer.need_id == need.id))
        ).all()
        if answers and all(answer == "no" for answer in answers):
            return UnmetReason.NO_PLACES
        now = uow.now()
        if need.kind and self._network.offer_kinds[need.kind].places:
            known = [OfferView.of(o).places_known(now, self._stale_after) for o in accessible]
            if all(free == 0 for free in known):
                return UnmetReason.NO_PLACES
        return UnmetReason.NOBODY_ANSWERED

    async def _unmet(
        self,
        uow: UnitOfWork,
        need: Need,
        now: datetime,
        reason: str,
        *,
        by: int | None,
        tell: bool = True,
    ) -> None:
        need.status = NeedStatus.UNMET
        need.unmet_reason = reason
        need.closed_at, need.closed_by = now, by
        need.widen_at = need.escalate_at = need.unmet_at = None
        if tell and need.requester_id is not None and need.requester_id != by:
            uow.deliveries.enqueue(
                kind=NeedNotice.UNMET,
                member_ids=[need.requester_id],
                priority=_priority(need.urgency),
                now=now,
                subject_id=need.id,
            )
        uow.audit.record(
            member_actor(by) if by is not None else SYSTEM,
            "need.unmet",
            f"need:{need.id}",
            reason=reason,
        )

    # -- answering ---------------------------------------------------------------------------

    async def answer(self, member_id: int, need_id: int, offer_id: int, *, yes: bool) -> Answered:
        """A maintainer (or a coordinator) answers for an offer that was asked: the first "we
        can" takes the need, and the requester and the other offers are told."""
        async with self._uow() as uow:
            now = uow.now()
            member = await _active(uow, member_id)
            asked = await uow.session.get(NeedOffer, (need_id, offer_id))
            offer = await uow.session.get(Offer, offer_id)
            need = await uow.session.get(Need, need_id)
            if asked is None or offer is None or need is None:
                raise DomainError("need.unknown", ref=str(need_id))
            if not await self._may_answer(uow, member, offer):
                raise DomainError("offers.not_maintainer", offer=offer.name)
            if need.status != NeedStatus.OPEN or asked.answer is not None:
                return Answered(await self._view(uow, need), taken=False, already=True)
            if not yes:
                asked.answer, asked.answered_by, asked.answered_at = "no", member.id, now
                uow.audit.record(
                    member_actor(member.id), "need.declined", f"need:{need.id}", offer=offer.id
                )
                await self._after_decline(uow, need, now)
                await uow.commit()
                need_changed(uow, need)
                return Answered(await self._view(uow, need), taken=False, already=False)
            result = await uow.session.execute(
                update(Need)
                .where(Need.id == need.id, Need.status == NeedStatus.OPEN)
                .values(
                    status=NeedStatus.TAKEN,
                    taken_offer_id=offer.id,
                    taken_by=member.id,
                    taken_at=now,
                    closed_at=now,
                    widen_at=None,
                    escalate_at=None,
                    unmet_at=None,
                )
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                await uow.session.refresh(need)
                return Answered(await self._view(uow, need), taken=False, already=True)
            await uow.session.refresh(need)
            asked.answer, asked.answered_by, asked.answered_at = "yes", member.id, now
            if need.requester_id is not None:
                uow.deliveries.enqueue(
                    kind=NeedNotice.TAKEN,
                    member_ids=[need.requester_id],
                    priority=_priority(need.urgency),
                    now=now,
                    subject_id=need.id,
                    params={"offer": offer.id},
                )
            others = set()
            for other_id in await uow.session.scalars(
                select(NeedOffer.offer_id).where(
                    NeedOffer.need_id == need.id, NeedOffer.offer_id != offer.id
                )
            ):
                others |= set(await maintainer_ids(uow, other_id))
            uow.deliveries.enqueue(
                kind=NeedNotice.GONE,
                member_ids=sorted(others - {member.id}),
                priority=Priority.NORMAL,
                now=now,
                subject_id=need.id,
                params={"offer": offer.id},
            )
            uow.audit.record(
                member_actor(member.id), "need.taken", f"need:{need.id}", offer=offer.id
            )
            await uow.commit()
            need_changed(uow, need)
            return Answered(await self._view(uow, need), taken=True, already=False)

    async def _after_decline(self, uow: UnitOfWork, need: Need, now: datetime) -> None:
        """Everybody asked said no: ask the next stage at once, or record it as unmet."""
        answers = (
            await uow.session.scalars(select(NeedOffer.answer).where(NeedOffer.need_id == need.id))
        ).all()
        if any(answer != "no" for answer in answers):
            return
        if need.widen_at is not None and await self._ask_next(uow, need, now, first=False):
            return
        await self._unmet(uow, need, now, await self._reason(uow, need), by=None)

    async def closable(self, member_id: int, need_id: int) -> NeedView:
        """An open need this member may close (its requester, a responsible coordinator)."""
        async with self._uow(write=False) as uow:
            member = await _active(uow, member_id)
            need = await uow.session.get(Need, need_id)
            if need is None or not await self._may_see(member, need):
                raise DomainError("need.unknown", ref=str(need_id))
            if need.requester_id != member.id and not self._coordinates(member, need.region):
                raise DomainError("need.not_yours", ref=need.ref)
            if need.status != NeedStatus.OPEN:
                raise DomainError("need.closed", ref=need.ref)
            return await self._view(uow, need)

    async def close_unmet(self, member_id: int, need_id: int, reason: str) -> NeedView:
        """The requester or a responsible coordinator closes an open need as unmet."""
        try:
            unmet = UnmetReason(reason)
        except ValueError:
            raise DomainError(
                "need.unknown_reason", reason=reason, valid=", ".join(r.value for r in UnmetReason)
            ) from None
        async with self._uow() as uow:
            member = await _active(uow, member_id)
            need = await uow.session.get(Need, need_id, with_for_update=True)
            if need is None or not await self._may_see(member, need):
                raise DomainError("need.unknown", ref=str(need_id))
            if need.requester_id != member.id and not self._coordinates(member, need.region):
                raise DomainError("need.not_yours", ref=need.ref)
            if need.status != NeedStatus.OPEN:
                raise DomainError("need.closed", ref=need.ref)
            await self._unmet(uow, need, uow.now(), unmet, by=member.id)
            await uow.commit()
            need_changed(uow, need)
            return await self._view(uow, need)

    # -- due times ---------------------------------------------------------------------------

    async def run_due(self) -> list[Handled]:
        """Widen, escalate and close as unmet what is due (also what fell due while down)."""
        handled: list[Handled] = []
        async with self._uow() as uow:
            now = uow.now()
            due = (
                await uow.session.scalars(
                    select(Need)
                    .where(
                        Need.status == NeedStatus.OPEN,
                        or_(Need.widen_at <= now, Need.escalate_at <= now, Need.unmet_at <= now),
                    )
                    .order_by(Need.id)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for need in due:
                if need.unmet_at is not None and need.unmet_at <= now:
                    await self._unmet(uow, need, now, await self._reason(uow, need), by=None)
                else:
                    if need.widen_at is not None and need.widen_at <= now:
                        await self._ask_next(uow, need, now, first=False)
                    if need.escalate_at is not None and need.escalate_at <= now:
                        await self._escalate(uow, need, now)
                handled.append(Handled(need.id, _next_at(need)))
            await uow.commit()
        return handled

    async def _escalate(self, uow: UnitOfWork, need: Need, now: datetime) -> None:
        """Urgent and untaken: first the region's coordinators, one period later the state's."""
        level = need.escalation_level + 1
        coordinators: Sequence[Member] = []
        if level == 1:
            coordinators = await uow.members.find(regions=[need.region], role=Role.COORDINATOR)
            if not coordinators:
                level = 2
        if level >= 2:
            statewide = await uow.members.find(regions=[self._network.statewide_region])
            coordinators = [
                m for m in statewide if m.role == Role.COORDINATOR or m.sector == "coordination"
            ]
        targets = [c.id for c in coordinators if c.id != need.requester_id]
        uow.deliveries.enqueue(
            kind=NeedNotice.ESCALATION,
            member_ids=targets,
            priority=Priority.URGENT,
            now=now,
            subject_id=need.id,
            params={"level": level},
        )
        need.escalation_level = level
        need.escalate_at = now + self.periods.urgent_escalation if level < 2 else None
        uow.audit.record(
            SYSTEM, "need.escalated", f"need:{need.id}", level=level, notified=len(targets)
        )

    async def due_times(self) -> list[tuple[int, datetime]]:
        async with self._uow(write=False) as uow:
            rows = (
                await uow.session.scalars(select(Need).where(Need.status == NeedStatus.OPEN))
            ).all()
            return [(row.id, at) for row in rows if (at := _next_at(row)) is not None]

    # -- reading -----------------------------------------------------------------------------

    async def view(self, need_id: int) -> NeedView:
        async with self._uow(write=False) as uow:
            need = await uow.session.get(Need, need_id)
            if need is None:
                raise DomainError("need.unknown", ref=str(need_id))
            return await self._view(uow, need)

    async def texts(self, need_id: int) -> tuple[str | None, str | None]:
        """The decrypted case reference and note; None once retention has removed them."""
        async with self._uow(write=False) as uow:
            row = (
                await uow.session.execute(
                    select(Need.case_ref_cipher, Need.note_cipher).where(Need.id == need_id)
                )
            ).one_or_none()
        if row is None:
            return None, None
        ref, note = row
        return (
            self._cipher.decrypt(ref, bound(Need.case_ref_cipher, need_id)) if ref else None,
            self._cipher.decrypt(note, bound(Need.note_cipher, need_id)) if note else None,
        )

    async def find(self, member_id: int, ref: str) -> int:
        """The id of the need `ref`, if this member may see it."""
        async with self._uow(write=False) as uow:
            member = await _active(uow, member_id)
            need = await uow.session.scalar(select(Need).where(Need.ref == ref.strip().upper()))
            if need is None or not await self._may_see(member, need, uow):
                raise DomainError("need.unknown", ref=ref)
            return need.id

    async def open_needs(self, member_id: int) -> list[NeedView]:
        """Open needs the member raised, or (a coordinator) of their region, newest first."""
        async with self._uow(write=False) as uow:
            member = await _active(uow, member_id)
            rows = (
                await uow.session.scalars(
                    select(Need)
                    .where(Need.status == NeedStatus.OPEN)
                    .order_by(Need.created_at.desc())
                    .limit(50)
                )
            ).all()
            return [
                await self._view(uow, row)
                for row in rows
                if row.requester_id == member.id or self._coordinates(member, row.region)
            ]

    async def asked_offers(self, need_id: int) -> list[tuple[OfferView, str | None]]:
        """The offers a need was sent to, with their answers."""
        async with self._uow(write=False) as uow:
            rows = (
                await uow.session.execute(
                    select(Offer, NeedOffer.answer)
                    .join(NeedOffer, NeedOffer.offer_id == Offer.id)
                    .where(NeedOffer.need_id == need_id)
                    .order_by(NeedOffer.stage, Offer.name)
                )
            ).all()
            return [(OfferView.of(offer), answer) for offer, answer in rows]

    async def status_for_client(self, client_id: int, ref: str) -> NeedView:
        if len(ref) > 64 or not ref.isprintable():
            raise DomainError("need.unknown", ref=ref[:64])
        async with self._uow(write=False) as uow:
            need = await uow.session.scalar(
                select(Need).where(Need.ref == ref.strip().upper(), Need.api_client_id == client_id)
            )
            if need is None:
                raise DomainError("need.unknown", ref=ref)
            return await self._view(uow, need)

    # -- helpers -----------------------------------------------------------------------------

    async def _may_answer(self, uow: UnitOfWork, member: Member, offer: Offer) -> bool:
        if member.role == Role.COORDINATOR and member.region in (
            self._network.statewide_region,
            *split_codes(offer.regions),
        ):
            return True
        return member.id in await maintainer_ids(uow, offer.id)

    async def _may_see(self, member: Member, need: Need, uow: UnitOfWork | None = None) -> bool:
        if need.requester_id == member.id or self._coordinates(member, need.region):
            return True
        if uow is None:
            return False
        offers = await uow.session.scalars(
            select(NeedOffer.offer_id).where(NeedOffer.need_id == need.id)
        )
        for offer_id in offers:
            if member.id in await maintainer_ids(uow, offer_id):
                return True
        return False

    def _coordinates(self, member: Member, region: str) -> bool:
        return member.role == Role.COORDINATOR and member.region in (
            region,
            self._network.statewide_region,
        )

    async def _view(self, uow: UnitOfWork, need: Need) -> NeedView:
        ids = {i for i in (need.requester_id, need.taken_by) if i is not None}
        people = {m.id: MemberView.of(m) for m in await uow.members.by_ids(ids)}
        offer = await uow.session.get(Offer, need.taken_offer_id) if need.taken_offer_id else None
        client = (
            await uow.session.get(ApiClient, need.api_client_id) if need.api_client_id else None
        )
        return NeedView(
            id=need.id,
            ref=need.ref,
            requester=people.get(need.requester_id) if need.requester_id else None,
            client=client.name if client else None,
            kind=need.kind,
            topic=need.topic,
            adults=need.adults,
            children=need.children,
            region=need.region,
            language=need.language,
            accessibility=need.accessibility,
            urgency=need.urgency,
            status=need.status,
            stage=need.stage,
            created_at=need.created_at,
            taken_offer=OfferView.of(offer) if offer else None,
            taken_by=people.get(need.taken_by) if need.taken_by else None,
            taken_at=need.taken_at,
            unmet_reason=need.unmet_reason,
            escalation_level=need.escalation_level,
            next_at=_next_at(need),
        )


def _search(need: Need) -> Search:
    what = ("kind", need.kind) if need.kind else ("topic", need.topic or "")
    return Search(what, need.region, need.language, need.accessibility)


def need_changed(uow: UnitOfWork, need: Need) -> None:
    """After the commit: (re)schedule the need's next deadline (widening, escalation, unmet),
    or forget it once the need is taken or closed."""
    uow.effects.schedule(f"need:{need.id}", _next_at(need))


def _next_at(need: Need) -> datetime | None:
    if need.status != NeedStatus.OPEN:
        return None
    times = [t for t in (need.widen_at, need.escalate_at, need.unmet_at) if t is not None]
    return min(times, default=None)


async def _active(uow: UnitOfWork, member_id: int) -> Member:
    member = await uow.members.get(member_id)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise DomainError("access.not_active")
    return member


async def _next_ref(uow: UnitOfWork, year: int) -> str:
    """The next need reference of the year (B-2026-0007: Bedarf), allocated atomically."""
    insert = sqlite.insert if uow.is_sqlite else postgresql.insert
    statement = (
        insert(NeedCounter)
        .values(year=year, value=1)
        .on_conflict_do_update(index_elements=["year"], set_={"value": NeedCounter.value + 1})
        .returning(NeedCounter.value)
    )
    value = (await uow.session.execute(statement)).scalar_one()
    return f"B-{year}-{value:04d}"
