"""Repositories: the queries of each aggregate, behind one unit of work. They never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Invite, Member, MemberStatus, Role


class MemberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, member: Member) -> None:
        self._session.add(member)

    async def flush(self) -> None:
        await self._session.flush()

    async def get(self, member_id: int, *, for_update: bool = False) -> Member | None:
        query = select(Member).where(Member.id == member_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.scalars(query)).first()

    async def by_telegram_id(
        self, telegram_user_id: int, *, for_update: bool = False
    ) -> Member | None:
        query = select(Member).where(Member.telegram_user_id == telegram_user_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.scalars(query)).first()

    async def find(
        self,
        *,
        statuses: Sequence[str] = (MemberStatus.ACTIVE,),
        sector: str | None = None,
        regions: Sequence[str] | None = None,
        role: str | None = None,
        limit: int | None = None,
    ) -> Sequence[Member]:
        query = select(Member).where(Member.status.in_(list(statuses)))
        if sector is not None:
            query = query.where(Member.sector == sector)
        if regions is not None:
            query = query.where(Member.region.in_(list(regions)))
        if role is not None:
            query = query.where(Member.role == role)
        query = query.order_by(Member.region, Member.sector, Member.id)
        if limit is not None:
            query = query.limit(limit)
        return (await self._session.scalars(query)).all()

    async def coordinators_for(self, region: str, statewide_region: str) -> Sequence[Member]:
        """Active coordinators responsible for `region`: its own and the statewide ones."""
        return await self.find(regions=sorted({region, statewide_region}), role=Role.COORDINATOR)

    async def count_by_status(self) -> dict[str, int]:
        rows = await self._session.execute(
            select(Member.status, func.count()).group_by(Member.status)
        )
        return {status: count for status, count in rows.tuples()}


class InviteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, invite: Invite) -> None:
        self._session.add(invite)

    async def flush(self) -> None:
        await self._session.flush()

    async def by_token_hash(self, token_hash: str) -> Invite | None:
        return (
            await self._session.scalars(select(Invite).where(Invite.token_hash == token_hash))
        ).first()

    async def use(self, invite_id: int, now: datetime) -> bool:
        """Count one use, atomically; False if the invite is used up or expired meanwhile."""
        result = await self._session.execute(
            update(Invite)
            .where(Invite.id == invite_id, Invite.uses < Invite.max_uses, Invite.expires_at > now)
            .values(uses=Invite.uses + 1)
            .execution_options(synchronize_session="fetch")
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
