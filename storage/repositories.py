"""Repositories: the queries of each aggregate, behind one unit of work. They never commit."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Generic, NotRequired, TypedDict, TypeVar, Unpack

from sqlalchemy import Insert, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import (
    Channel,
    ChannelMember,
    Delivery,
    DeliveryStatus,
    Invite,
    Member,
    MemberStatus,
    Role,
)

M = TypeVar("M")


class _Repository(Generic[M]):
    """The session, and what every repository does with the rows of its model."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: M) -> None:
        self._session.add(row)

    async def flush(self) -> None:
        await self._session.flush()

    async def _first(self, query: Select[M], *, for_update: bool = False) -> M | None:
        if for_update:
            query = query.with_for_update()
        return (await self._session.scalars(query)).first()


# Built once: a member is read by id in nearly every action (the sender of an alert, the
# voter of a press), and building and keying the statement cost more than running it.
_MEMBER = select(Member).where(Member.id == bindparam("member_id"))
_MEMBER_FOR_UPDATE = _MEMBER.with_for_update()


class MemberRepository(_Repository[Member]):
    async def get(self, member_id: int, *, for_update: bool = False) -> Member | None:
        query = _MEMBER_FOR_UPDATE if for_update else _MEMBER
        return (await self._session.scalars(query, {"member_id": member_id})).first()

    async def by_ids(self, ids: Iterable[int]) -> Sequence[Member]:
        return (await self._session.scalars(select(Member).where(Member.id.in_(list(ids))))).all()

    async def by_telegram_id(
        self, telegram_user_id: int, *, for_update: bool = False
    ) -> Member | None:
        query = select(Member).where(Member.telegram_user_id == telegram_user_id)
        return await self._first(query, for_update=for_update)

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
        return {status: count for status, count in rows.all()}


class InviteRepository(_Repository[Invite]):
    async def by_token_hash(self, token_hash: str) -> Invite | None:
        return await self._first(select(Invite).where(Invite.token_hash == token_hash))

    async def get(self, invite_id: int, *, for_update: bool = False) -> Invite | None:
        return await self._first(
            select(Invite).where(Invite.id == invite_id), for_update=for_update
        )

    async def active_of(self, created_by: int, now: datetime) -> Sequence[Invite]:
        """A coordinator's links that can still admit someone, oldest first."""
        return (
            await self._session.scalars(
                select(Invite)
                .where(
                    Invite.created_by == created_by,
                    Invite.withdrawn_at.is_(None),
                    Invite.expires_at > now,
                    Invite.uses < Invite.max_uses,
                )
                .order_by(Invite.created_at, Invite.id)
            )
        ).all()

    async def use(self, invite_id: int, now: datetime) -> bool:
        """Count one use, atomically; False if the invite is used up, expired or withdrawn
        meanwhile."""
        result = await self._session.execute(
            update(Invite)
            .where(
                Invite.id == invite_id,
                Invite.uses < Invite.max_uses,
                Invite.expires_at > now,
                Invite.withdrawn_at.is_(None),
            )
            .values(uses=Invite.uses + 1)
            .execution_options(synchronize_session="fetch")
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


# Built once (a person's poll messages are read on every vote); `kinds` expands to a list.
_SENT_MESSAGES = (
    select(Member.chat_id, Delivery.telegram_message_id)
    .join(Member, Member.id == Delivery.member_id)
    .where(
        Delivery.member_id == bindparam("member_id"),
        Delivery.subject_id == bindparam("subject_id"),
        Delivery.kind.in_(bindparam("kinds", expanding=True)),
        Delivery.status == DeliveryStatus.SENT,
        Delivery.telegram_message_id.is_not(None),
        Member.chat_id.is_not(None),
    )
    .order_by(Delivery.id)
)


class Pending(TypedDict):
    """What new pending deliveries say besides their member and turn (`enqueue`, `insert_many`)."""

    kind: str
    priority: int
    now: datetime
    alert_id: NotRequired[int | None]
    subject_id: NotRequired[int | None]
    params: NotRequired[dict[str, int | str | None] | None]
    silent: NotRequired[bool]


def table_of(model: type[object]) -> Table:
    """A mapped class's table: statements on its columns are plain Core statements, which
    skip the ORM's execution path (and its autoflush) and return plain rows."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _pending_columns(pending: Pending) -> dict[str, Any]:
    now = pending["now"]
    return {
        "kind": pending["kind"],
        "alert_id": pending.get("alert_id"),
        "subject_id": pending.get("subject_id"),
        "params": json.dumps(pending.get("params") or {}, sort_keys=True, separators=(",", ":")),
        "priority": pending["priority"],
        "silent": pending.get("silent", False),
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


_DELIVERIES = table_of(Delivery)
# The columns of a new pending delivery besides its member and turn: those `_pending_columns`
# fills, so that the fan-out's bound parameters cannot drift from them.
_PENDING = tuple(_pending_columns(Pending(kind="", priority=0, now=datetime.min)))


def fan_out(members: Select[int]) -> Insert:
    """The `INSERT … SELECT` of `insert_many` for the member ids that `members` yields (its
    first column), with the pending columns and `first_turn` as bound parameters: a fan-out
    that runs often (an alert's) builds it once. The members are shuffled (`ORDER BY
    random()`) and the n-th gets turn `first_turn + n`."""
    shuffled = members.order_by(None).add_columns(
        func.row_number().over(order_by=func.random()).label("n")
    )
    ids = shuffled.subquery()
    member, n = ids.c[0], ids.c.n
    rows = select(
        member,
        *(bindparam(name, type_=_DELIVERIES.c[name].type) for name in _PENDING),
        n - 1 + bindparam("first_turn", type_=_DELIVERIES.c.turn.type),
    ).order_by(n)
    return insert(_DELIVERIES).from_select(["member_id", *_PENDING, "turn"], rows)


class DeliveryRepository:
    def __init__(self, session: AsyncSession, added: Callable[[], None] = lambda: None) -> None:
        """`added`: told when a Core statement inserted deliveries (`insert_many`)."""
        self._session = session
        self._added = added

    def enqueue(
        self, *, member_ids: Iterable[int], first_turn: int = 0, **pending: Unpack[Pending]
    ) -> int:
        """Add one pending delivery per member; the caller's transaction makes them durable.
        The n-th of them gets turn `first_turn + n`: within a priority, every alert's (or
        announcement's, poll's …) n-th delivery is claimed before any (n+1)-th, so a new alert
        starts at the front and then takes turns with the earlier ones (see `due`). The
        members are shuffled first: several alerts to the same people would otherwise give
        one person's copies the same turn, and Telegram allows about one message per second
        in a chat."""
        columns = _pending_columns(pending)
        member_ids = list(member_ids)
        random.shuffle(member_ids)  # spreads chats; no secret
        rows = [
            Delivery(member_id=member_id, turn=first_turn + turn, **columns)
            for turn, member_id in enumerate(member_ids)
        ]
        self._session.add_all(rows)
        return len(rows)

    async def insert_many(
        self, members: Select[int], *, first_turn: int = 0, **pending: Unpack[Pending]
    ) -> int:
        """`enqueue` for a fan-out to thousands: one pending delivery per member id that the
        query `members` yields, in one `INSERT … SELECT`, so that no member id travels through
        Python and no ORM object is built per row. As in `enqueue`, the members are shuffled
        (`ORDER BY random()`) and the n-th gets turn `first_turn + n`. The unit of work is
        told of the new deliveries, so that the commit wakes the outbox. Returns the number
        of rows. A caller that fans out often builds the statement once (`fan_out`) and calls
        `insert_fanned_out`."""
        return await self.insert_fanned_out(fan_out(members), {}, first_turn=first_turn, **pending)

    async def insert_fanned_out(
        self,
        statement: Insert,
        parameters: dict[str, Any],
        *,
        first_turn: int = 0,
        **pending: Unpack[Pending],
    ) -> int:
        """`insert_many` with a statement of `fan_out`, and the parameters of its query of
        members."""
        values = {**parameters, **_pending_columns(pending), "first_turn": first_turn}
        result = await self._session.execute(statement, values)
        self._added()  # a Core statement: the unit of work's ORM hooks do not see it
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def cancel_waiting_for(
        self, member_id: int, now: datetime, *, keep: Iterable[str] = ()
    ) -> int:
        """Cancel what still waits to be sent to a member (sends in flight finish); deliveries
        of the kinds in `keep` stay."""
        result = await self._session.execute(
            update(Delivery)
            .where(
                Delivery.member_id == member_id,
                Delivery.status == DeliveryStatus.PENDING,
                Delivery.kind.not_in(list(keep)),
            )
            .values(status=DeliveryStatus.CANCELLED, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def next_turn(self, alert_id: int) -> int:
        """The turn after the alert's last one still waiting or in flight (0 when none is):
        what follows an alert (a follow-up, a notice) never overtakes the alert itself."""
        last = await self._session.scalar(
            select(func.max(Delivery.turn)).where(
                Delivery.alert_id == alert_id,
                Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
            )
        )
        return 0 if last is None else int(last) + 1

    async def by_ids(self, ids: Sequence[int]) -> Sequence[Delivery]:
        query = select(Delivery).where(Delivery.id.in_(list(ids))).with_for_update()
        return (await self._session.scalars(query)).all()

    async def release(self, now: datetime, *, everything: bool) -> int:
        """Hand claimed deliveries back: all of them (single process after a restart), or only
        those whose claim has expired (an instance died)."""
        if everything:
            return await self._hand_back()
        return await self._hand_back(Delivery.claimed_until < now)

    async def any_claimed(self) -> bool:
        """Whether a delivery is claimed for sending (by any instance)."""
        claimed = select(Delivery.id).where(Delivery.status == DeliveryStatus.SENDING).limit(1)
        return await self._session.scalar(claimed) is not None

    async def release_own(self, ids: Sequence[int], instance_id: str) -> int:
        """Hand back these deliveries where this instance still holds their claim."""
        return await self._hand_back(Delivery.id.in_(ids), Delivery.claimed_by == instance_id)

    async def renew(self, ids: Sequence[int], instance_id: str, until: datetime) -> int:
        """Extend this instance's claims on these deliveries (those it still holds) to `until`."""
        result = await self._session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(ids),
                Delivery.status == DeliveryStatus.SENDING,
                Delivery.claimed_by == instance_id,
            )
            .values(claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _hand_back(self, *conditions: ColumnElement[bool]) -> int:
        """Make the claimed deliveries that meet `conditions` pending again."""
        result = await self._session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.SENDING, *conditions)
            .values(status=DeliveryStatus.PENDING, claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def next_due(self) -> datetime | None:
        return await self._session.scalar(
            select(func.min(Delivery.next_attempt_at)).where(
                Delivery.status == DeliveryStatus.PENDING
            )
        )

    async def backlog(self) -> tuple[int, datetime | None]:
        row = (
            await self._session.execute(
                select(func.count(), func.min(Delivery.created_at)).where(
                    Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING])
                )
            )
        ).one()
        return int(row[0]), row[1]

    async def counts_for_alert(self, alert_id: int, kinds: Sequence[str]) -> dict[str, int]:
        rows = await self._session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.alert_id == alert_id, Delivery.kind.in_(list(kinds)))
            .group_by(Delivery.status)
        )
        return {status: count for status, count in rows.all()}

    async def sent_messages(
        self, *, member_id: int, subject_id: int, kinds: Sequence[str]
    ) -> list[tuple[int, int]]:
        """(chat id, message id) of what was delivered to a member about a subject."""
        rows = await self._session.execute(
            _SENT_MESSAGES, {"member_id": member_id, "subject_id": subject_id, "kinds": list(kinds)}
        )
        return [(int(c), int(m)) for c, m in rows.all() if c is not None and m is not None]

    async def sent_copies(
        self,
        kinds: Sequence[str],
        *,
        alert_id: int | None = None,
        subject_id: int | None = None,
        member_id: int | None = None,
        params: dict[str, int | str | None] | None = None,
    ) -> list[tuple[Delivery, Member]]:
        """The messages already in people's chats (sent, with their message id) of these kinds
        about one alert or subject, or with exactly these params; each with its reader."""
        query = (
            select(Delivery, Member)
            .join(Member, Member.id == Delivery.member_id)
            .where(
                Delivery.kind.in_(list(kinds)),
                Delivery.status == DeliveryStatus.SENT,
                Delivery.telegram_message_id.is_not(None),
                Member.chat_id.is_not(None),
            )
            .order_by(Delivery.id)
        )
        if alert_id is not None:
            query = query.where(Delivery.alert_id == alert_id)
        if subject_id is not None:
            query = query.where(Delivery.subject_id == subject_id)
        if member_id is not None:
            query = query.where(Delivery.member_id == member_id)
        if params is not None:
            query = query.where(Delivery.params == _encoded(params))
        rows = await self._session.execute(query)
        return [(delivery, member) for delivery, member in rows.all()]

    async def member_ids_with_status(
        self,
        kinds: Sequence[str],
        statuses: Sequence[str],
        *,
        alert_id: int | None = None,
        subject_id: int | None = None,
    ) -> list[int]:
        """The members with a delivery of these kinds in one of these states, about one alert
        or subject."""
        query = select(Delivery.member_id).where(
            Delivery.kind.in_(list(kinds)), Delivery.status.in_(list(statuses))
        )
        if alert_id is not None:
            query = query.where(Delivery.alert_id == alert_id)
        if subject_id is not None:
            query = query.where(Delivery.subject_id == subject_id)
        return list(await self._session.scalars(query.distinct()))


def split_codes(raw: str) -> tuple[str, ...]:
    return tuple(code for code in raw.split(",") if code)


def rule_admits(
    sectors: Sequence[str],
    regions: Sequence[str],
    sector: str | None,
    region: str | None,
    *,
    statewide_region: str,
) -> bool:
    """Whether a member of `sector`/`region` falls under a rule; empty means "all", and
    statewide members are covered by every regional rule."""
    if sectors and sector not in sectors:
        return False
    return not regions or region in (*regions, statewide_region)


class ChannelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def drop_inadmissible(
        self, *, member_id: int, sector: str | None, region: str | None, statewide_region: str
    ) -> list[int]:
        """Remove the member from opt-in channels whose rule no longer admits them (their sector
        or region changed); returns the channel ids."""
        rows = (
            await self._session.execute(
                select(ChannelMember, Channel)
                .join(Channel, Channel.id == ChannelMember.channel_id)
                .where(ChannelMember.member_id == member_id)
            )
        ).all()
        dropped = []
        for membership, channel in rows:
            if not rule_admits(
                split_codes(channel.sectors),
                split_codes(channel.regions),
                sector,
                region,
                statewide_region=statewide_region,
            ):
                await self._session.delete(membership)
                dropped.append(channel.id)
        return dropped


def _encoded(params: dict[str, int | str | None]) -> str:
    """A delivery's params as `enqueue` stores them: the same params give the same text."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))
