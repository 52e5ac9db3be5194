"""Channels and their rules: what a member sees of them, and the checks every action shares."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import or_, select

from bot.errors import DomainError
from bot.network import Network
from storage.models import (
    Channel,
    ChannelMember,
    ChannelMembership,
    ChannelStatus,
    Member,
    MemberStatus,
    Role,
)
from storage.models.base import Base
from storage.repositories import rule_admits, split_codes
from storage.uow import UnitOfWork, UnitOfWorkFactory

ALL = "all"
Referenced = TypeVar("Referenced", bound=Base)  # a row with a `ref` people type (alerts, needs)
NAME_LIMITS = (3, 60)
_SLUG_TRANSLATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


# -- what a member sees ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelView:
    id: int
    slug: str
    name: str
    sectors: tuple[str, ...]
    regions: tuple[str, ...]
    membership: str
    status: str
    created_by: int
    joined: bool  # the viewer is in it (automatic channels: admitted)
    admitted: bool  # the rule admits the viewer

    @property
    def is_opt_in(self) -> bool:
        return self.membership == ChannelMembership.OPT_IN


@dataclass(frozen=True)
class ImplicitChannel:
    """The channel of a sector or of a region."""

    kind: str  # "sector" or "region"
    code: str


@dataclass(frozen=True)
class ChannelList:
    implicit: tuple[ImplicitChannel, ...]
    topical: tuple[ChannelView, ...]


@dataclass(frozen=True)
class ChannelDetails:
    channel: ChannelView | None  # None for an implicit channel
    implicit: ImplicitChannel | None
    members: tuple[tuple[int, str | None, str | None, str | None], ...]  # id, name, sector, region


def slugify(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).lower().translate(_SLUG_TRANSLATION)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:40].strip("-")


async def active_member(uow: UnitOfWork, member_id: int, *, for_update: bool = False) -> Member:
    """The member, if active; otherwise the polite "not an active member" refusal."""
    member = await uow.members.get(member_id, for_update=for_update)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise DomainError("access.not_active")
    return member


async def visible(
    uow: UnitOfWork,
    member_id: int,
    model: type[Referenced],
    ref: str,
    may_see: Callable[[UnitOfWork, Member, Referenced], Awaitable[bool]],
    unknown: str,
) -> Referenced:
    """The row of `model` with the reference `ref`, if the active member may see it.
    A row they may not see is refused as if it did not exist: a guessed reference learns
    nothing."""
    member = await active_member(uow, member_id)
    row = await uow.by_ref(model, ref)
    if row is None or not await may_see(uow, member, row):
        raise DomainError(unknown, ref=ref[:64])
    return row


async def coordinator(uow: UnitOfWork, member_id: int) -> Member:
    member = await active_member(uow, member_id)
    if member.role != Role.COORDINATOR:
        raise DomainError("error.coordinators_only")
    return member


@dataclass(eq=False)
class ChannelRules:
    """Finding channels and checking their rules: what every part of the service shares."""

    uow: UnitOfWorkFactory
    network: Network

    def _view(
        self, channel: Channel, viewer: Member | None, joined_ids: AbstractSet[int] = frozenset()
    ) -> ChannelView:
        sectors, regions = split_codes(channel.sectors), split_codes(channel.regions)
        admitted = viewer is not None and rule_admits(
            sectors,
            regions,
            viewer.sector,
            viewer.region,
            statewide_region=self.network.statewide_region,
        )
        automatic = channel.membership == ChannelMembership.AUTOMATIC
        return ChannelView(
            id=channel.id,
            slug=channel.slug,
            name=channel.name,
            sectors=sectors,
            regions=regions,
            membership=channel.membership,
            status=channel.status,
            created_by=channel.created_by,
            joined=admitted and (automatic or channel.id in joined_ids),
            admitted=admitted,
        )

    def _rule(
        self, sectors: Sequence[str], regions: Sequence[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        sector_codes = {self.network.sector(s).code for s in sectors if s.lower() != ALL}
        region_codes = {self.network.region(r).code for r in regions if r.lower() != ALL}
        if self.network.statewide_region in region_codes:
            region_codes = set()
        return (
            tuple(c for c in self.network.sectors if c in sector_codes),
            tuple(c for c in self.network.regions if c in region_codes),
        )

    def _scoped_regions(self, actor: Member, regions: tuple[str, ...]) -> tuple[str, ...]:
        """A regional coordinator's rule or target is limited to their region."""
        if actor.region == self.network.statewide_region or actor.region is None:
            return regions
        if not regions:
            return (actor.region,)
        if set(regions) - {actor.region}:
            raise DomainError("error.outside_scope", region=",".join(regions))
        return regions

    def _manages(self, member: Member, channel: ChannelView) -> bool:
        """Coordinators see and manage the channels of their scope, also outside the rule."""
        if member.role != Role.COORDINATOR:
            return False
        if member.region == self.network.statewide_region or channel.created_by == member.id:
            return True
        return bool(channel.regions) and set(channel.regions) <= {member.region}

    def _implicit(self, ref: str) -> ImplicitChannel | None:
        code = ref.strip().lstrip("#")
        if code.lower() in self.network.sectors:
            return ImplicitChannel("sector", code.lower())
        if code.upper() in self.network.regions:
            return ImplicitChannel("region", code.upper())
        return None

    async def _find(self, uow: UnitOfWork, ref: str) -> Channel | None:
        text = ref.strip().lstrip("#")
        if text.isdecimal():  # not isdigit: "²" is a digit, but int() cannot read it
            # A number beyond the database's integers is no channel (SQLite would refuse it).
            return await uow.session.get(Channel, int(text)) if len(text) <= 18 else None
        return await uow.session.scalar(
            select(Channel).where(
                or_(Channel.slug == slugify(text), Channel.name == " ".join(text.split()))
            )
        )

    async def _visible_channel(self, uow: UnitOfWork, member: Member, ref: str) -> ChannelView:
        channel = await self._find(uow, ref)
        if channel is None or channel.status != ChannelStatus.ACTIVE:
            raise DomainError("channel.unknown", channel=ref)
        view = self._view(channel, member, await self._joined_ids(uow, member.id))
        if not (view.admitted or self._manages(member, view)):
            raise DomainError("channel.unknown", channel=ref)
        return view

    async def _channel_for(self, uow: UnitOfWork, member: Member, channel_id: int) -> ChannelView:
        return await self._visible_channel(uow, member, str(channel_id))

    async def _managed_channel(self, uow: UnitOfWork, actor: Member, ref: str) -> Channel:
        channel = await self._find(uow, ref)
        if channel is None or channel.status != ChannelStatus.ACTIVE:
            raise DomainError("channel.unknown", channel=ref)
        if not self._manages(actor, self._view(channel, actor)):
            raise DomainError("channel.not_yours", channel=channel.name)
        return channel

    async def _free_slug(self, uow: UnitOfWork, base: str) -> str:
        reserved = {*self.network.sectors, *(r.lower() for r in self.network.regions), ALL}
        taken = set(
            await uow.session.scalars(select(Channel.slug).where(Channel.slug.like(base + "%")))
        )
        slug, n = base, 1
        while slug in taken or slug in reserved:
            n += 1
            slug = f"{base[:36]}-{n}"
        return slug

    async def _joined_ids(self, uow: UnitOfWork, member_id: int) -> set[int]:
        return set(
            await uow.session.scalars(
                select(ChannelMember.channel_id).where(ChannelMember.member_id == member_id)
            )
        )

    async def _row(self, uow: UnitOfWork, channel_id: int) -> Channel:
        channel = await uow.session.get(Channel, channel_id)
        assert channel is not None
        return channel
