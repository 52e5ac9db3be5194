"""Verified membership: the service handlers use, and coordinators' decisions on members."""

from __future__ import annotations

import time
from collections import OrderedDict

from sqlalchemy import bindparam

from bot.copies import sent_copies
from bot.delivery import FOR_EVERYONE
from bot.errors import DomainError
from bot.membership.base import actor_name, member_id_of, set_status, tell
from bot.membership.joining import Joining
from bot.membership.records import (
    CHANGE_NOTICE,
    DECISION_NOTICE,
    MEMBER_VIEW,
    MEMBERS,
    REQUEST_NOTICE,
    Actor,
    DecidedRequest,
    Decision,
    MemberView,
    RegionScope,
)
from storage.models import MemberStatus, Role

# The columns of a MemberView; built once (the access gate reads it per update), on the
# table's columns: a plain Core statement, which skips the ORM's execution path.
_VIEW_BY_TELEGRAM_ID = MEMBER_VIEW.where(
    MEMBERS.c.telegram_user_id == bindparam("telegram_user_id")
)

_VERBS = {"member.approved": "approve", "member.rejected": "reject", "member.revoked": "revoke"}
_UNVERIFIED = (MemberStatus.ONBOARDING, MemberStatus.APPLYING, MemberStatus.PENDING)


class MemberCache:
    """The access gate's view of each person by Telegram id, kept until a committed change of
    any member's row (`Effects.members`, at the commit) empties it, and never longer than
    `max_age` seconds: should a second process write the same SQLite file after all (a
    revocation there is no commit here), its change is seen that soon. Only where this
    process is meant to be the bot's only one (SQLite); on PostgreSQL several processes may
    share the members.

    A read older than `max_age` is of no use, so it goes as the next read is kept: the views
    are kept in the order they were read and the oldest are dropped first. A burst of 20,000
    button presses by 10,000 people kept every one of them until a member changed (about
    5 MB); now it keeps those of the last `max_age` seconds."""

    def __init__(self, limit: int = 20_000, max_age: float = 5.0) -> None:
        self._views: OrderedDict[int, tuple[MemberView | None, float]] = OrderedDict()
        self._limit = limit
        self.max_age = max_age
        self.generation = 0  # counts the invalidations

    def __len__(self) -> int:
        return len(self._views)

    def get(self, telegram_user_id: int) -> MemberView | bool | None:
        """The view (None for a stranger), or False if not known (or known too long)."""
        kept = self._views.get(telegram_user_id)
        if kept is None or time.monotonic() - kept[1] > self.max_age:
            return False
        return kept[0]

    def put(self, telegram_user_id: int, view: MemberView | None, generation: int) -> None:
        """Keep what was read while the cache was at `generation`: not if a change was
        committed since the read began. Drops the reads older than `max_age`."""
        if generation != self.generation:
            return
        now, views = time.monotonic(), self._views
        views[telegram_user_id] = (view, now)
        views.move_to_end(telegram_user_id)
        while views and (
            len(views) > self._limit or now - next(iter(views.values()))[1] > self.max_age
        ):
            views.popitem(last=False)

    def clear(self) -> None:
        self._views.clear()
        self.generation += 1


class MembershipService(Joining):
    """Invites, access requests, approval, revocation and profiles."""

    def __post_init__(self) -> None:
        self.cache = MemberCache() if self.uow.database.is_sqlite else None
        if self.cache is not None:
            self.uow.member_listeners.append(self.cache.clear)

    # -- reading ---------------------------------------------------------------------------

    async def find_by_telegram(self, telegram_user_id: int) -> MemberView | None:
        """Read on every update by the access gate: from the cache where there is one, else
        the view's columns by a prebuilt query, without building an ORM object."""
        cache = self.cache
        if cache is not None:
            known = cache.get(telegram_user_id)
            if known is not False:
                return known  # type: ignore[return-value]
            generation = cache.generation
        async with self.uow(write=False) as uow:
            row = (
                await uow.session.execute(
                    _VIEW_BY_TELEGRAM_ID, {"telegram_user_id": telegram_user_id}
                )
            ).first()
            view = MemberView(**row._mapping) if row else None
        if cache is not None:
            cache.put(telegram_user_id, view, generation)
        return view

    async def current(self, member: MemberView) -> MemberView | None:
        """`member` as they are now, for work that holds an earlier view of them (the refresh
        of a voter's ballot after their press): the access gate's kept read of that person
        where there is one (SQLite; no member has changed since, and it is younger than the
        cache's age), else a read. A press has just passed the gate, so in a burst of presses
        the refresh needs no transaction of its own."""
        cache = self.cache
        if cache is not None and member.telegram_user_id is not None:
            known = cache.get(member.telegram_user_id)
            if isinstance(known, MemberView) and known.id == member.id:
                return known
        return await self.get(member.id)

    async def get(self, member_id: int) -> MemberView | None:
        async with self.uow(write=False) as uow:
            member = await uow.members.get(member_id)
            return MemberView.of(member) if member else None

    async def list_pending(self, actor: Actor) -> list[MemberView]:
        async with self.uow(write=False) as uow:
            regions = await self._scope(uow, actor)
            pending = await uow.members.find(statuses=[MemberStatus.PENDING], regions=regions)
            return [MemberView.of(member) for member in pending]

    async def list_members(
        self, actor: Actor, sector: str | None = None, region: str | None = None
    ) -> list[MemberView]:
        sector = self.network.sector(sector).code if sector else None
        async with self.uow(write=False) as uow:
            regions = await self._scope(uow, actor)
            if region:
                region = self.network.region(region).code
                if regions is not None and region not in regions:
                    raise DomainError("error.outside_scope", region=region)
                regions = [region]
            members = await uow.members.find(sector=sector, regions=regions)
            return [MemberView.of(member) for member in members]

    async def scope(self, actor: Actor) -> RegionScope | None:
        """The regions a coordinator manages; None for the whole state (statewide coordinators
        and the operator)."""
        async with self.uow(write=False) as uow:
            regions = await self._scope(uow, actor)
        if regions is None:
            return None
        return RegionScope(frozenset(regions), self.network.statewide_region)

    async def count_by_status(self) -> dict[str, int]:
        async with self.uow(write=False) as uow:
            return await uow.members.count_by_status()

    async def active_coordinators(self) -> list[MemberView]:
        async with self.uow(write=False) as uow:
            found = await uow.members.find(role=Role.COORDINATOR)
            return [MemberView.of(member) for member in found]

    # -- coordinators' decisions -----------------------------------------------------------

    async def approve(self, actor: Actor, member_id: int) -> Decision:
        return await self._decide(actor, member_id, "member.approved", MemberStatus.ACTIVE)

    async def reject(self, actor: Actor, member_id: int) -> Decision:
        return await self._decide(actor, member_id, "member.rejected", MemberStatus.REJECTED)

    async def revoke(self, actor: Actor, member_id: int) -> Decision:
        if actor == member_id:
            raise DomainError("error.not_yourself")
        return await self._decide(actor, member_id, "member.revoked", MemberStatus.REVOKED)

    async def _decide(self, actor: Actor, member_id: int, action: str, new: str) -> Decision:
        allowed_from = {
            MemberStatus.ACTIVE: (MemberStatus.PENDING,),
            MemberStatus.REJECTED: (MemberStatus.PENDING,),
            MemberStatus.REVOKED: (*_UNVERIFIED, MemberStatus.ACTIVE),
        }[MemberStatus(new)]
        async with self.uow() as uow:
            scope = await self._scope(uow, actor)
            member = await uow.members.get(member_id, for_update=True)
            if member is None or (scope is not None and member.region not in scope):
                raise DomainError("error.unknown_member", member=member_id)
            if member.status not in allowed_from:
                raise DomainError(f"decision.state.{member.status}", member=member_id)
            previous = member.status
            now = uow.now()
            set_status(member, new, now, by=member_id_of(actor))
            uow.audit.record(actor_name(actor), action, f"member:{member.id}", previous=previous)
            if new != MemberStatus.ACTIVE:
                # Nothing more reaches someone who is not a member, only the news of it.
                await uow.deliveries.cancel_waiting_for(member.id, now, keep=FOR_EVERYONE)
            tell(uow, DECISION_NOTICE, [member.id], now, decision=_VERBS[action])
            await uow.commit()
            if previous == MemberStatus.PENDING:
                # The other coordinators' notices of the request lose their buttons.
                uow.effects.touch(("request", member.id))
            return Decision(MemberView.of(member), previous)

    async def decided_request(self, applicant_id: int) -> DecidedRequest | None:
        """A decided access request and the coordinators' notices of it (None while open)."""
        async with self.uow(write=False) as uow:
            applicant = await uow.members.get(applicant_id)
            if applicant is None or applicant.status in _UNVERIFIED:
                return None
            by = applicant.status_changed_by
            decider = await uow.members.get(by) if by is not None else None
            copies = await sent_copies(uow, (REQUEST_NOTICE,), params={"member": applicant.id})
            return DecidedRequest(
                MemberView.of(applicant),
                MemberView.of(decider) if decider is not None else None,
                applicant.status_changed_at,
                tuple(copies),
            )

    async def change(
        self,
        actor: Actor,
        member_id: int,
        *,
        sector: str | None = None,
        region: str | None = None,
        role: str | None = None,
    ) -> MemberView:
        """Move a member to another sector or region, or change their role; the coordinator
        must be responsible for the old and the new region."""
        sector = self.network.sector(sector).code if sector else None
        region = self.network.region(region).code if region else None
        if role is not None and role not in (Role.MEMBER, Role.COORDINATOR):
            raise DomainError("error.unknown_role", role=role)
        async with self.uow() as uow:
            scope = await self._scope(uow, actor)
            member = await uow.members.get(member_id, for_update=True)
            if member is None or (scope is not None and member.region not in scope):
                raise DomainError("error.unknown_member", member=member_id)
            if member.status != MemberStatus.ACTIVE:
                raise DomainError(f"decision.state.{member.status}", member=member_id)
            if scope is not None and region is not None and region not in scope:
                raise DomainError("error.outside_scope", region=region)
            before = (member.sector, member.region, member.role)
            member.sector = sector or member.sector
            member.region = region or member.region
            member.role = role or member.role
            after = (member.sector, member.region, member.role)
            if after != before:
                now = uow.now()
                uow.audit.record(
                    actor_name(actor),
                    "member.changed",
                    f"member:{member.id}",
                    before=[str(part) for part in before],
                    after=[str(part) for part in after],
                )
                await self._leave_inadmissible_channels(uow, member)
                tell(uow, CHANGE_NOTICE, [member.id], now)
                await uow.commit()
            return MemberView.of(member)

    # -- preferences -----------------------------------------------------------------------

    async def set_language(self, member_id: int, language: str) -> MemberView:
        async with self.uow() as uow:
            member = await uow.members.get(member_id, for_update=True)
            if member is None:
                raise DomainError("error.unknown_member", member=member_id)
            if member.language != language:
                member.language = language
                uow.audit.record_own(
                    member.id,
                    "member.language_changed",
                    language=language,
                )
                await uow.commit()
            return MemberView.of(member)
