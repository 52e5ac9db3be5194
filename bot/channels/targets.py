"""Targets: whom an announcement or a poll reaches, parsed from text and resolved in SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from sqlalchemy import ColumnElement, and_, exists, or_, select

from bot import i18n
from bot.channels.rules import ALL, ChannelRules, coordinator
from bot.errors import DomainError
from bot.network import REGION, SECTOR, Names, fold
from storage.models import (
    Channel,
    ChannelMember,
    ChannelMembership,
    ChannelStatus,
    Member,
    MemberStatus,
)
from storage.repositories import rule_admits, split_codes
from storage.uow import UnitOfWork


class Placed(Protocol):
    """A member as far as a target's sectors and regions ask: a row object or a view."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def sector(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...


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


@cache
def everyone_words() -> frozenset[str]:
    """What "everyone" may be typed as: `all` and the catalogues' words, in both languages."""
    words = {ALL}
    for language in i18n.LANGUAGES:
        words.update(fold(w) for w in i18n.text(language, "target.words.everyone").split(","))
    return frozenset(words - {""})


class Targeting(ChannelRules):
    # -- targets ---------------------------------------------------------------------------

    async def parse_target(self, actor_id: int, raw: str) -> Target:
        """`all`, `police,youth_welfare@HRO`, `Polizei,JA@Rostock`, `HRO`,
        `#ag-kinderschutz,#police` → a target within what the coordinator may address. Sectors
        and regions by code, label (either language) or short form, whatever the case."""
        async with self.uow(write=False) as uow:
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
            elif fold(part) in everyone_words():
                everyone = True
            else:
                kind, place = self.network.place(part, (SECTOR, REGION), self._unknown(part))
                (sectors if kind == SECTOR else regions).append(place.code)
        if everyone and (sectors or regions):
            raise DomainError("target.usage")
        if everyone or sectors or regions:
            ordered = tuple(c for c in self.network.sectors if c in sectors)
            if len(ordered) == len(self.network.sectors):
                ordered = ()
            plain_regions = tuple(dict.fromkeys(regions))
            if self.network.statewide_region in plain_regions:
                plain_regions = ()
            groups.append(Group(ordered, self._scoped_regions(actor, plain_regions)))
        return Target(tuple(dict.fromkeys(groups)))

    def _unknown(self, part: str) -> DomainError:
        return DomainError(
            "target.unknown",
            part=part,
            sectors=Names(self.network.sectors.values()),
            regions=Names(self.network.regions.values()),
        )

    async def describe(self, target: Target) -> TargetView:
        async with self.uow(write=False) as uow:
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

    async def admits_member(self, uow: UnitOfWork, target: Target, member: Placed) -> bool:
        """`admits` for a member already loaded: groups of sectors and regions are checked on
        the member itself, without a query; channels (rules as they are now) in SQL."""
        if member.status != MemberStatus.ACTIVE:
            return False
        statewide = self.network.statewide_region
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
            conditions.append(Member.region.in_([*regions, self.network.statewide_region]))
        return and_(*conditions)

    async def _channel_group(self, uow: UnitOfWork, actor: Member, ref: str) -> Group:
        implicit = self._implicit(ref)
        if implicit is not None:
            if implicit.kind == "sector":
                return Group(sectors=(implicit.code,), regions=self._scoped_regions(actor, ()))
            regions = () if implicit.code == self.network.statewide_region else (implicit.code,)
            return Group(regions=self._scoped_regions(actor, regions))
        channel = await self._managed_channel(uow, actor, "#" + ref)
        return Group(channel=channel.id)

    async def _members_of(
        self, uow: UnitOfWork, target: Target
    ) -> tuple[tuple[int, str | None, str | None, str | None], ...]:
        return tuple(
            (m.id, m.display_name, m.sector, m.region) for m in await self.resolve(uow, target)
        )
