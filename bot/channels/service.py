"""The channel service: list and show channels, coordinators create, change and archive them,
members join and leave."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from bot.channels.rules import (
    NAME_LIMITS,
    ChannelDetails,
    ChannelList,
    ChannelView,
    ImplicitChannel,
    active_member,
    coordinator,
    slugify,
)
from bot.channels.targets import Group, Target, Targeting
from bot.errors import DomainError, PersonalDataError
from bot.personal_data import find_personal_data
from storage.audit import member_actor
from storage.models import Channel, ChannelMember, ChannelMembership, ChannelStatus, Member, Role
from storage.repositories import rule_admits, split_codes
from storage.uow import UnitOfWork


class ChannelService(Targeting):
    """Channels and targets: who an announcement or a poll reaches."""

    # -- reading ---------------------------------------------------------------------------

    async def list_for(self, member_id: int) -> ChannelList:
        """The member's implied channels, and the topical channels they may see."""
        async with self.uow(write=False) as uow:
            member = await active_member(uow, member_id)
            channels = await uow.all(
                select(Channel).where(Channel.status == ChannelStatus.ACTIVE).order_by(Channel.name)
            )
            joined = await self._joined_ids(uow, member.id)
            views = [self._view(c, member, joined) for c in channels]
            visible = tuple(v for v in views if v.admitted or self._manages(member, v))
            implicit = []
            if member.sector:
                implicit.append(ImplicitChannel("sector", member.sector))
            if member.region:
                implicit.append(ImplicitChannel("region", member.region))
            return ChannelList(tuple(implicit), visible)

    async def details(self, member_id: int, ref: str) -> ChannelDetails:
        """Rule and members of a channel the member may see."""
        async with self.uow(write=False) as uow:
            member = await active_member(uow, member_id)
            implicit = self._implicit(ref)
            if implicit is not None:
                admitted = (
                    member.sector == implicit.code
                    if implicit.kind == "sector"
                    else member.region in (implicit.code, self.network.statewide_region)
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
        findings = find_personal_data(name, self.network.place_names)
        if any(finding.blocking for finding in findings):
            raise PersonalDataError("channel.personal_data", [f for f in findings if f.blocking])
        if membership not in (ChannelMembership.OPT_IN, ChannelMembership.AUTOMATIC):
            raise DomainError("channel.usage")
        sectors, regions = self._rule(sectors, regions)
        base = slugify(name)
        if not base or not base[0].isalpha():
            raise DomainError("channel.name_letters")
        async with self.uow() as uow:
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
            _record_rule(uow, actor, "channel.created", channel, membership=membership)
            await uow.commit()
            return self._view(channel, actor)

    async def change_rule(
        self, actor_id: int, ref: str, sectors: Sequence[str], regions: Sequence[str]
    ) -> tuple[ChannelView, int]:
        """A new rule; members it no longer admits leave the channel. Returns how many left."""
        sectors, regions = self._rule(sectors, regions)
        async with self.uow() as uow:
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
                    statewide_region=self.network.statewide_region,
                ):
                    await uow.session.delete(membership)
                    removed += 1
            _record_rule(uow, actor, "channel.rule_changed", channel, removed=removed)
            await uow.commit()
            return self._view(channel, actor), removed

    async def archive(self, actor_id: int, ref: str) -> ChannelView:
        async with self.uow() as uow:
            actor = await coordinator(uow, actor_id)
            channel = await self._managed_channel(uow, actor, ref)
            channel.status = ChannelStatus.ARCHIVED
            channel.archived_at = uow.now()
            uow.audit.record(member_actor(actor.id), "channel.archived", f"channel:{channel.id}")
            await uow.commit()
            return self._view(channel, actor)

    # -- members ---------------------------------------------------------------------------

    async def join(self, member_id: int, channel_id: int) -> ChannelView:
        async with self.uow() as uow:
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
            return self._view(await self._row(uow, channel.id), member, {channel.id})

    async def leave(self, member_id: int, channel_id: int) -> ChannelView:
        async with self.uow() as uow:
            member = await active_member(uow, member_id)
            channel = await self._channel_for(uow, member, channel_id)
            if not channel.is_opt_in:
                raise DomainError("channel.automatic", channel=channel.name)
            row = await uow.session.get(ChannelMember, (channel.id, member.id))
            if row is not None:
                await uow.session.delete(row)
                uow.audit.record(member_actor(member.id), "channel.left", f"channel:{channel.id}")
                await uow.commit()
            return self._view(await self._row(uow, channel.id), member)


def _record_rule(
    uow: UnitOfWork, actor: Member, action: str, channel: Channel, **details: str | int
) -> None:
    """Audit a channel's new rule, as stored."""
    uow.audit.record(
        member_actor(actor.id),
        action,
        f"channel:{channel.id}",
        sectors=list(split_codes(channel.sectors)),
        regions=list(split_codes(channel.regions)),
        **details,
    )
