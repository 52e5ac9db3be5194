"""Needs: a professional (or an agency system) asks the network for help of a kind or on a
topic in a region. The need goes to the maintainers of every matching offer there, widens to the
neighbouring regions and then the state, is taken by the first "we can", and is recorded as unmet
with its reason when nobody takes it in time. Every deadline lives in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from bot.channels.rules import active_member
from bot.delivery import Priority
from bot.errors import DomainError
from bot.keys import bound
from bot.offers.asking import (
    NeedAsking,
    NeedNotice,
    answers,
    asked_offer_ids,
    notify,
)
from bot.offers.catalogue import Search, maintainer_ids, search_filters
from bot.offers.need_reading import NeedReader
from bot.offers.need_view import NeedView, need_changed, need_view, next_at
from bot.personal_data import Finding, find_personal_data
from storage.audit import SYSTEM, member_actor
from storage.models import (
    ApiClient,
    Member,
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
from storage.uow import UnitOfWork

MAX_CASE_REF = 60
MAX_NOTE = 500
MAX_PEOPLE = 20
# What a need keeps of its request as it is (and its audit event records).
_FROM_REQUEST = ("adults", "children", "region", "language", "accessibility", "urgency")


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


@dataclass
class NeedService(NeedReader):
    """Raising, answering and closing needs, and their deadlines; reading: see NeedReader."""

    periods: NeedPeriods
    _stale_after: timedelta
    _asking: NeedAsking = field(init=False)

    def __post_init__(self) -> None:
        self._asking = NeedAsking(self._network, self.periods.widen_after, self._stale_after)

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
        lang, access = search_filters(self._network, language, accessibility)
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
            first = await self._asking.first_stage(uow, request.search)
            return len(first[1])

    async def raise_need(
        self, member_id: int, request: NeedRequest, *, confirmed: bool = False
    ) -> RaisedNeed:
        _require_clean(request, confirmed)
        async with self._uow() as uow:
            member = await active_member(uow, member_id)
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
        copied: dict[str, Any] = {name: getattr(request, name) for name in _FROM_REQUEST}
        need = Need(
            ref=await _next_ref(uow, now.year),
            requester_id=requester,
            api_client_id=client_id,
            kind=code if field == "kind" else None,
            topic=code if field == "topic" else None,
            **copied,
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
        asked = await self._asking.ask_next(uow, need, now, first=True)
        actor = member_actor(requester) if requester is not None else f"api:{client_id}"
        uow.audit.record(
            actor,
            "need.raised",
            f"need:{need.id}",
            ref=need.ref,
            what=code,
            offers=asked,
            stage=need.stage,
            **copied,
        )
        if not asked:  # the answer to the requester says so: no notice besides
            await self._unmet(
                uow, need, now, await self._asking.reason(uow, need), by=None, tell=False
            )
        need_changed(uow, need)
        return RaisedNeed(await need_view(uow, need), asked)

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
        if tell and need.requester_id != by:
            _tell_requester(uow, need, NeedNotice.UNMET, now)
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
            member = await active_member(uow, member_id)
            asked = await uow.session.get(NeedOffer, (need_id, offer_id))
            offer = await uow.session.get(Offer, offer_id)
            need = await uow.session.get(Need, need_id)
            if asked is None or offer is None or need is None:
                raise DomainError("need.unknown", ref=str(need_id))
            if not await self._may_answer(uow, member, offer):
                raise DomainError("offers.not_maintainer", offer=offer.name)
            if need.status != NeedStatus.OPEN or asked.answer is not None:
                return Answered(await need_view(uow, need), taken=False, already=True)
            if not yes:
                asked.answer, asked.answered_by, asked.answered_at = "no", member.id, now
                uow.audit.record(
                    member_actor(member.id), "need.declined", f"need:{need.id}", offer=offer.id
                )
                await self._after_decline(uow, need, now)
                await uow.commit()
                need_changed(uow, need)
                return Answered(await need_view(uow, need), taken=False, already=False)
            if not await self._take(uow, need, asked, member.id, now):
                await uow.session.refresh(need)
                return Answered(await need_view(uow, need), taken=False, already=True)
            await uow.commit()
            need_changed(uow, need)
            return Answered(await need_view(uow, need), taken=True, already=False)

    async def _take(
        self, uow: UnitOfWork, need: Need, asked: NeedOffer, member_id: int, now: datetime
    ) -> bool:
        """The first "we can" takes the need (False: somebody was quicker); the requester and
        the other offers asked are told."""
        offer_id = asked.offer_id
        result = await uow.session.execute(
            update(Need)
            .where(Need.id == need.id, Need.status == NeedStatus.OPEN)
            .values(
                status=NeedStatus.TAKEN,
                taken_offer_id=offer_id,
                taken_by=member_id,
                taken_at=now,
                closed_at=now,
                widen_at=None,
                escalate_at=None,
                unmet_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        await uow.session.refresh(need)
        asked.answer, asked.answered_by, asked.answered_at = "yes", member_id, now
        _tell_requester(uow, need, NeedNotice.TAKEN, now, offer=offer_id)
        others = set()
        for other_id in await asked_offer_ids(uow, need.id):
            if other_id != offer_id:
                others |= set(await maintainer_ids(uow, other_id))
        gone = sorted(others - {member_id})
        notify(uow, need, NeedNotice.GONE, gone, now, priority=Priority.NORMAL, offer=offer_id)
        uow.audit.record(member_actor(member_id), "need.taken", f"need:{need.id}", offer=offer_id)
        return True

    async def _after_decline(self, uow: UnitOfWork, need: Need, now: datetime) -> None:
        """Everybody asked said no: ask the next stage at once, or record it as unmet."""
        if any(answer != "no" for answer in await answers(uow, need.id)):
            return
        if need.widen_at is not None and await self._asking.ask_next(uow, need, now, first=False):
            return
        await self._unmet(uow, need, now, await self._asking.reason(uow, need), by=None)

    async def closable(self, member_id: int, need_id: int) -> NeedView:
        """An open need this member may close (its requester, a responsible coordinator)."""
        async with self._uow(write=False) as uow:
            _, need = await self._to_close(uow, member_id, need_id)
            return await need_view(uow, need)

    async def close_unmet(self, member_id: int, need_id: int, reason: str) -> NeedView:
        """The requester or a responsible coordinator closes an open need as unmet."""
        try:
            unmet = UnmetReason(reason)
        except ValueError:
            raise DomainError(
                "need.unknown_reason", reason=reason, valid=", ".join(r.value for r in UnmetReason)
            ) from None
        async with self._uow() as uow:
            member, need = await self._to_close(uow, member_id, need_id, for_update=True)
            await self._unmet(uow, need, uow.now(), unmet, by=member.id)
            await uow.commit()
            need_changed(uow, need)
            return await need_view(uow, need)

    async def _to_close(
        self, uow: UnitOfWork, member_id: int, need_id: int, *, for_update: bool = False
    ) -> tuple[Member, Need]:
        """The member and an open need they may close (its requester, a responsible
        coordinator)."""
        member = await active_member(uow, member_id)
        need = await uow.session.get(Need, need_id, with_for_update=for_update)
        if need is None or not await self._may_see(None, member, need):
            raise DomainError("need.unknown", ref=str(need_id))
        if need.requester_id != member.id and not self._coordinates(member, need.region):
            raise DomainError("need.not_yours", ref=need.ref)
        if need.status != NeedStatus.OPEN:
            raise DomainError("need.closed", ref=need.ref)
        return member, need

    # -- due times ---------------------------------------------------------------------------

    async def run_due(self) -> list[Handled]:
        """Widen, escalate and close as unmet what is due (also what fell due while down)."""
        handled: list[Handled] = []
        async with self._uow() as uow:
            now = uow.now()
            due = await uow.all(
                select(Need)
                .where(
                    Need.status == NeedStatus.OPEN,
                    or_(Need.widen_at <= now, Need.escalate_at <= now, Need.unmet_at <= now),
                )
                .order_by(Need.id)
                .with_for_update(skip_locked=True)
            )
            for need in due:
                if need.unmet_at is not None and need.unmet_at <= now:
                    await self._unmet(uow, need, now, await self._asking.reason(uow, need), by=None)
                else:
                    if need.widen_at is not None and need.widen_at <= now:
                        await self._asking.ask_next(uow, need, now, first=False)
                    if need.escalate_at is not None and need.escalate_at <= now:
                        await self._escalate(uow, need, now)
                handled.append(Handled(need.id, next_at(need)))
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
        notify(
            uow, need, NeedNotice.ESCALATION, targets, now, priority=Priority.URGENT, level=level
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
            return [(row.id, at) for row in rows if (at := next_at(row)) is not None]

    # -- helpers -----------------------------------------------------------------------------

    async def _may_answer(self, uow: UnitOfWork, member: Member, offer: Offer) -> bool:
        if member.role == Role.COORDINATOR and member.region in (
            self._network.statewide_region,
            *split_codes(offer.regions),
        ):
            return True
        return member.id in await maintainer_ids(uow, offer.id)


def _tell_requester(uow: UnitOfWork, need: Need, kind: str, now: datetime, **params: int) -> None:
    if need.requester_id is not None:
        notify(uow, need, kind, [need.requester_id], now, **params)


async def _next_ref(uow: UnitOfWork, year: int) -> str:
    """The next need reference of the year (B-2026-0007: Bedarf), allocated atomically."""
    value = await uow.next_number(NeedCounter, year)
    return f"B-{year}-{value:04d}"
