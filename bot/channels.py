"""Channels and targets: who an announcement or a poll reaches.

Every member is in the channel of their sector and of their region; these are implied by the
profile and never stored. Coordinators create topical channels with a rule (allowed sectors and
regions) and opt-in or automatic membership. Whether a member is in a channel is always decided
against the rule as it is now, so a member outside the rule never sees or receives anything.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, or_, select

from bot.errors import DomainError, PersonalDataError
from bot.network import Network
from bot.personal_data import find_personal_data
from storage.audit import member_actor
from storage.models import (
    Channel,
    ChannelMember,
    ChannelMembership,
    ChannelStatus,
    Member,
    MemberStatus,
    Role,
)
from storage.repositories import rule_admits, split_codes
from storage.uow import UnitOfWork, UnitOfWorkFactory

ALL = "all"
NAME_LIMITS = (3, 60)
_SLUG_TRANSLATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


# -- targets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """Part of a target: active members of some sectors in some regions (empty: all), or the
    members of one topical channel."""

    sectors: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    channel: int | None = None


@dataclass(frozen=True)
class Target:
    """Whom something is addressed to: the union of its groups."""

    groups: tuple[Group, ...]

    def encode(self) -> str:
        """JSON of codes and ids only, for the database."""
        return json.dumps(
            [
                {"channel": g.channel}
                if g.channel is not None
                else {"sectors": list(g.sectors), "regions": list(g.regions)}
                for g in self.groups
            ],
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: str) -> Target:
        groups = []
        for item in json.loads(raw):
            if "channel" in item:
                groups.append(Group(channel=int(item["channel"])))
            else:
                groups.append(Group(tuple(item["sectors"]), tuple(item["regions"])))
        return cls(tuple(groups))

    @property
    def channel_ids(self) -> list[int]:
        return [g.channel for g in self.groups if g.channel is not None]


@dataclass(frozen=True)
class GroupView:
    sectors: tuple[str, ...]
    regions: tuple[str, ...]
    channel_name: str | None = None


@dataclass(frozen=True)
class TargetView:
    """A target as it is shown: codes, and the names of its channels."""

    groups: tuple[GroupView, ...]


# -- channels --------------------------------------------------------------------------------


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


def _view(
    channel: Channel, viewer: Member | None, joined_ids: set[int], network: Network
) -> ChannelView:
    sectors, regions = split_codes(channel.sectors), split_codes(channel.regions)
    admitted = viewer is not None and rule_admits(
        sectors, regions, viewer.sector, viewer.region, statewide_region=network.statewide_region
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


async def active_member(uow: UnitOfWork, member_id: int) -> Member:
    member = await uow.members.get(member_id)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise DomainError("access.not_active")
    return member


async def coordinator(uow: UnitOfWork, member_id: int) -> Member:
    member = await active_member(uow, member_id)
    if member.role != Role.COORDINATOR:
        raise DomainError("error.coordinators_only")
    return member


class ChannelService:
    def __init__(self, uow: UnitOfWorkFactory, network: Network) -> None:
        self._uow = uow
        self._network = network

    # -- reading ---------------------------------------------------------------------------

    async def list_for(self, member_id: int) -> ChannelList:
        """The member's implied channels, and the topical channels they may see."""
        async with self._uow(write=False) as uow:
            member = await active_member(uow, member_id)
            channels = (
                await uow.session.scalars(
                    select(Channel)
                    .where(Channel.status == ChannelStatus.ACTIVE)
                    .order_by(Channel.name)
                )
            ).all()
            joined = await self._joined_ids(uow, member.id)
            views = [_view(c, member, joined, self._network) for c in channels]
            visible = tuple(v for v in views if v.admitted or self._manages(member, v))
            implicit = []
            if member.sector:
                implicit.append(ImplicitChannel("sector", member.sector))
            if member.region:
                implicit.append(ImplicitChannel("region", member.region))
            return ChannelList(tuple(implicit), visible)

    async def details(self, member_id: int, ref: str) -> ChannelDetails:
        """Rule and members of a channel the member may see."""
        async with self._uow(write=False) as uow:
            member = await active_member(uow, member_id)
            implicit = self._implicit(ref)
            if implicit is not None:
                admitted = (
                    member.sector == implicit.code
                    if implicit.kind == "sector"
                    else member.region in (implicit.code, self._network.statewide_region)
                )
                if not admitted and member.role != Role.COORDINATOR:
                    raise DomainError("channel.unknown", channel=ref)
                group = (
                    Group(sectors=(implicit.code,))
                    if implicit.kind == "sector"
                    else Group(regions=(implicit.code,))
                )
                people = await self._members_of(uow, Target((group,)))
                return ChannelDetails(None, implicit, people)
            channel = await self._visible_channel(uow, member, ref)
            people = await self._members_of(uow, Target((Group(channel=channel.id),)))
            return ChannelDetails(channel, None, people)

    # -- coordinators ----------------------------------------------------------------------

    async def create(
        self,
        actor_id: int,
        name: str,
        sectors: Sequence[str],
        regions: Sequence[str],
        membership: str,
    ) -> ChannelView:
        name = " ".join(name.split())
        if not NAME_LIMITS[0] <= len(name) <= NAME_LIMITS[1]:
            raise DomainError("channel.name_length", min=NAME_LIMITS[0], max=NAME_LIMITS[1])
        findings = find_personal_data(name, self._network.place_names)
        if any(finding.blocking for finding in findings):
            raise PersonalDataError("channel.personal_data", [f for f in findings if f.blocking])
        if membership not in (ChannelMembership.OPT_IN, ChannelMembership.AUTOMATIC):
            raise DomainError("channel.usage")
        sectors, regions = self._rule(sectors, regions)
        base = slugify(name)
        if not base or not base[0].isalpha():
            raise DomainError("channel.name_letters")
        async with self._uow() as uow:
            actor = await coordinator(uow, actor_id)
            regions = self._scoped_regions(actor, regions)
            slug = await self._free_slug(uow, base)
            channel = Channel(
                slug=slug,
                name=name,
                sectors=",".join(sectors),
                regions=",".join(regions),
                membership=membership,
                status=ChannelStatus.ACTIVE,
                created_by=actor.id,
                created_at=uow.now(),
            )
            uow.session.add(channel)
            await uow.session.flush()
            uow.audit.record(
                member_actor(actor.id),
                "channel.created",
                f"channel:{channel.id}",
                sectors=list(sectors),
                regions=list(regions),
                membership=membership,
            )
            await uow.commit()
            return _view(channel, actor, set(), self._network)

    async def change_rule(
        self, actor_id: int, ref: str, sectors: Sequence[str], regions: Sequence[str]
    ) -> tuple[ChannelView, int]:
        """A new rule; members it no longer admits leave the channel. Returns how many left."""
        sectors, regions = self._rule(sectors, regions)
        async with self._uow() as uow:
            actor = await coordinator(uow, actor_id)
            channel = await self._managed_channel(uow, actor, ref)
            regions = self._scoped_regions(actor, regions)
            channel.sectors, channel.regions = ",".join(sectors), ",".join(regions)
            rows = (
                await uow.session.execute(
                    select(ChannelMember, Member)
                    .join(Member, Member.id == ChannelMember.member_id)
                    .where(ChannelMember.channel_id == channel.id)
                )
            ).all()
            removed = 0
            for membership, member in rows:
                if not rule_admits(
                    sectors,
                    regions,
                    member.sector,
                    member.region,
                    statewide_region=self._network.statewide_region,
                ):
                    await uow.session.delete(membership)
                    removed += 1
            uow.audit.record(
                member_actor(actor.id),
                "channel.rule_changed",
                f"channel:{channel.id}",
                sectors=list(sectors),
                regions=list(regions),
                removed=removed,
            )
            await uow.commit()
            return _view(channel, actor, set(), self._network), removed

    async def archive(self, actor_id: int, ref: str) -> ChannelView:
        async with self._uow() as uow:
            actor = await coordinator(uow, actor_id)
            channel = await self._managed_channel(uow, actor, ref)
            channel.status = ChannelStatus.ARCHIVED
            channel.archived_at = uow.now()
            uow.audit.record(member_actor(actor.id), "channel.archived", f"channel:{channel.id}")
            await uow.commit()
            return _view(channel, actor, set(), self._network)

    # -- members ---------------------------------------------------------------------------

    async def join(self, member_id: int, channel_id: int) -> ChannelView:
        async with self._uow() as uow:
            member = await active_member(uow, member_id)
            channel = await self._channel_for(uow, member, channel_id)
            if not channel.admitted:
                raise DomainError("channel.unknown", channel=str(channel_id))
            if not channel.is_opt_in:
                raise DomainError("channel.automatic", channel=channel.name)
            if channel.joined:
                return channel
            uow.session.add(
                ChannelMember(channel_id=channel.id, member_id=member.id, joined_at=uow.now())
            )
            uow.audit.record(member_actor(member.id), "channel.joined", f"channel:{channel.id}")
            await uow.commit()
            return _view(await self._row(uow, channel.id), member, {channel.id}, self._network)

    async def leave(self, member_id: int, channel_id: int) -> ChannelView:
        async with self._uow() as uow:
            member = await active_member(uow, member_id)
            channel = await self._channel_for(uow, member, channel_id)
            if not channel.is_opt_in:
                raise DomainError("channel.automatic", channel=channel.name)
            row = await uow.session.get(ChannelMember, (channel.id, member.id))
            if row is not None:
                await uow.session.delete(row)
                uow.audit.record(member_actor(member.id), "channel.left", f"channel:{channel.id}")
                await uow.commit()
            return _view(await self._row(uow, channel.id), member, set(), self._network)

    # -- targets ---------------------------------------------------------------------------

    async def parse_target(self, actor_id: int, raw: str) -> Target:
        """`all`, `police,youth_welfare@HRO`, `HRO`, `#ag-kinderschutz,#police` → a target
        within what the coordinator may address."""
        async with self._uow(write=False) as uow:
            actor = await coordinator(uow, actor_id)
            return await self.target_in(uow, actor, raw)

    async def target_in(self, uow: UnitOfWork, actor: Member, raw: str) -> Target:
        parts = [p.strip() for p in raw.replace("@", ",").split(",") if p.strip()]
        if not parts:
            raise DomainError("target.usage")
        groups: list[Group] = []
        sectors: list[str] = []
        regions: list[str] = []
        everyone = False
        for part in parts:
            if part.startswith("#"):
                groups.append(await self._channel_group(uow, actor, part[1:]))
            elif part.lower() == ALL:
                everyone = True
            elif part.upper() in self._network.regions:
                regions.append(self._network.region(part).code)
            elif part.lower() in self._network.sectors:
                sectors.append(self._network.sector(part).code)
            else:
                raise DomainError(
                    "target.unknown",
                    part=part,
                    sectors=", ".join(self._network.sectors),
                    regions=", ".join(self._network.regions),
                )
        if everyone and (sectors or regions):
            raise DomainError("target.usage")
        if everyone or sectors or regions:
            ordered = tuple(c for c in self._network.sectors if c in sectors)
            if len(ordered) == len(self._network.sectors):
                ordered = ()
            plain_regions = tuple(dict.fromkeys(regions))
            if self._network.statewide_region in plain_regions:
                plain_regions = ()
            groups.append(Group(ordered, self._scoped_regions(actor, plain_regions)))
        return Target(tuple(dict.fromkeys(groups)))

    async def describe(self, target: Target) -> TargetView:
        async with self._uow(write=False) as uow:
            return await self.view_target(uow, target)

    async def view_target(self, uow: UnitOfWork, target: Target) -> TargetView:
        names = {}
        if target.channel_ids:
            rows = await uow.session.execute(
                select(Channel.id, Channel.name).where(Channel.id.in_(target.channel_ids))
            )
            names = dict(rows.all())
        return TargetView(
            tuple(
                GroupView((), (), names.get(g.channel, "–"))
                if g.channel is not None
                else GroupView(g.sectors, g.regions)
                for g in target.groups
            )
        )

    async def resolve(self, uow: UnitOfWork, target: Target) -> list[Member]:
        """Active members the target reaches now, each once, in id order."""
        condition = await self._condition(uow, target)
        if condition is None:
            return []
        query = select(Member).where(Member.status == MemberStatus.ACTIVE, condition)
        return list((await uow.session.scalars(query.order_by(Member.id))).all())

    async def admits(self, uow: UnitOfWork, target: Target, member_id: int) -> bool:
        """Whether the target reaches this member now (rules and channels as they are now)."""
        condition = await self._condition(uow, target)
        if condition is None:
            return False
        found = await uow.session.scalar(
            select(Member.id).where(
                Member.id == member_id, Member.status == MemberStatus.ACTIVE, condition
            )
        )
        return found is not None

    async def admits_member(self, uow: UnitOfWork, target: Target, member: Member) -> bool:
        """`admits` for a member already loaded: groups of sectors and regions are checked on
        the member itself, without a query; channels (rules as they are now) in SQL."""
        if member.status != MemberStatus.ACTIVE:
            return False
        statewide = self._network.statewide_region
        for group in target.groups:
            if group.channel is None and rule_admits(
                group.sectors,
                group.regions,
                member.sector,
                member.region,
                statewide_region=statewide,
            ):
                return True
        channels = tuple(g for g in target.groups if g.channel is not None)
        return bool(channels) and await self.admits(uow, Target(channels), member.id)

    async def _condition(self, uow: UnitOfWork, target: Target) -> ColumnElement[bool] | None:
        """SQL for "the target reaches this member", with the channels' rules read now."""
        channels = {}
        if target.channel_ids:
            rows = await uow.session.scalars(
                select(Channel).where(
                    Channel.id.in_(target.channel_ids), Channel.status == ChannelStatus.ACTIVE
                )
            )
            channels = {c.id: c for c in rows}
        parts: list[ColumnElement[bool]] = []
        for group in target.groups:
            if group.channel is None:
                parts.append(self._rule_condition(group.sectors, group.regions))
                continue
            channel = channels.get(group.channel)
            if channel is None:
                continue  # archived: reaches nobody
            rule = self._rule_condition(split_codes(channel.sectors), split_codes(channel.regions))
            if channel.membership == ChannelMembership.OPT_IN:
                joined = exists().where(
                    ChannelMember.channel_id == channel.id, ChannelMember.member_id == Member.id
                )
                rule = and_(rule, joined)
            parts.append(rule)
        return or_(*parts) if parts else None

    def _rule_condition(
        self, sectors: Sequence[str], regions: Sequence[str]
    ) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = [Member.id.is_not(None)]
        if sectors:
            conditions.append(Member.sector.in_(list(sectors)))
        if regions:
            conditions.append(Member.region.in_([*regions, self._network.statewide_region]))
        return and_(*conditions)

    # -- helpers ---------------------------------------------------------------------------

    def _rule(
        self, sectors: Sequence[str], regions: Sequence[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        sector_codes = {self._network.sector(s).code for s in sectors if s.lower() != ALL}
        region_codes = {self._network.region(r).code for r in regions if r.lower() != ALL}
        if self._network.statewide_region in region_codes:
            region_codes = set()
        return (
            tuple(c for c in self._network.sectors if c in sector_codes),
            tuple(c for c in self._network.regions if c in region_codes),
        )

    def _scoped_regions(self, actor: Member, regions: tuple[str, ...]) -> tuple[str, ...]:
        """A regional coordinator's rule or target is limited to their region."""
        if actor.region == self._network.statewide_region or actor.region is None:
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
        if member.region == self._network.statewide_region or channel.created_by == member.id:
            return True
        return bool(channel.regions) and set(channel.regions) <= {member.region}

    def _implicit(self, ref: str) -> ImplicitChannel | None:
        code = ref.strip().lstrip("#")
        if code.lower() in self._network.sectors:
            return ImplicitChannel("sector", code.lower())
        if code.upper() in self._network.regions:
            return ImplicitChannel("region", code.upper())
        return None

    async def _find(self, uow: UnitOfWork, ref: str) -> Channel | None:
        text = ref.strip().lstrip("#")
        if text.isdigit():
            return await uow.session.get(Channel, int(text))
        return await uow.session.scalar(
            select(Channel).where(
                or_(Channel.slug == slugify(text), Channel.name == " ".join(text.split()))
            )
        )

    async def _visible_channel(self, uow: UnitOfWork, member: Member, ref: str) -> ChannelView:
        channel = await self._find(uow, ref)
        if channel is None or channel.status != ChannelStatus.ACTIVE:
            raise DomainError("channel.unknown", channel=ref)
        view = _view(channel, member, await self._joined_ids(uow, member.id), self._network)
        if not (view.admitted or self._manages(member, view)):
            raise DomainError("channel.unknown", channel=ref)
        return view

    async def _channel_for(self, uow: UnitOfWork, member: Member, channel_id: int) -> ChannelView:
        return await self._visible_channel(uow, member, str(channel_id))

    async def _managed_channel(self, uow: UnitOfWork, actor: Member, ref: str) -> Channel:
        channel = await self._find(uow, ref)
        if channel is None or channel.status != ChannelStatus.ACTIVE:
            raise DomainError("channel.unknown", channel=ref)
        if not self._manages(actor, _view(channel, actor, set(), self._network)):
            raise DomainError("channel.not_yours", channel=channel.name)
        return channel

    async def _channel_group(self, uow: UnitOfWork, actor: Member, ref: str) -> Group:
        implicit = self._implicit(ref)
        if implicit is not None:
            if implicit.kind == "sector":
                return Group(sectors=(implicit.code,), regions=self._scoped_regions(actor, ()))
            regions = () if implicit.code == self._network.statewide_region else (implicit.code,)
            return Group(regions=self._scoped_regions(actor, regions))
        channel = await self._find(uow, ref)
        if channel is None or channel.status != ChannelStatus.ACTIVE:
            raise DomainError("channel.unknown", channel="#" + ref)
        view = _view(channel, actor, set(), self._network)
        if not self._manages(actor, view):
            raise DomainError("channel.not_yours", channel=channel.name)
        return Group(channel=channel.id)

    async def _free_slug(self, uow: UnitOfWork, base: str) -> str:
        reserved = {*self._network.sectors, *(r.lower() for r in self._network.regions), ALL}
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

    async def _members_of(
        self, uow: UnitOfWork, target: Target
    ) -> tuple[tuple[int, str | None, str | None, str | None], ...]:
        return tuple(
            (m.id, m.display_name, m.sector, m.region) for m in await self.resolve(uow, target)
        )
