"""The durable outbox: deliveries are claimed, retried with backoff and finished exactly once."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, delete, func, select, update

from bot.network import Network
from bot.timing.quiet import quiet_between
from storage.audit import SYSTEM
from storage.models import Delivery, DeliveryStatus, Instance, Member, MemberStatus
from storage.repositories import table_of
from storage.uow import UnitOfWork, UnitOfWorkFactory


class Priority(IntEnum):
    """Lower goes first: urgent alerts before everything else in the queue."""

    URGENT = 0
    NORMAL = 1
    BULK = 2


def queue_notice(
    uow: UnitOfWork,
    kind: str,
    member_ids: Iterable[int],
    subject_id: int,
    now: datetime,
    priority: Priority = Priority.NORMAL,
) -> int:
    """Queue one `kind` notice about `subject_id` (an announcement, a poll ...) per member."""
    return uow.deliveries.enqueue(
        kind=kind, member_ids=member_ids, priority=priority, now=now, subject_id=subject_id
    )


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # 429, 5xx, time-out: try again later
    UNREACHABLE = "unreachable"  # 403: blocked bot or deleted account
    FAILED = "failed"  # Telegram refused the message itself; retrying cannot help


@dataclass(frozen=True)
class Job:
    """One claimed delivery, with what the sender needs to render it."""

    id: int
    kind: str
    member_id: int
    chat_id: int
    language: str | None
    alert_id: int | None
    subject_id: int | None
    params: dict[str, int | str | None]
    silent: bool
    attempts: int
    created_at: datetime
    priority: int = Priority.NORMAL  # the outbox sends urgent ones first

    @classmethod
    def of(
        cls,
        delivery: Delivery | Row[*tuple[Any, ...]],
        member: Member | Row[*tuple[Any, ...]],
        *,
        silent: bool | None = None,
        attempts: int | None = None,
    ) -> Job:
        """The job of a stored delivery to a member with a chat (`silent` overrides the
        delivery's own flag, e.g. in the member's quiet hours; `attempts` its count, for a
        row read before the claim's UPDATE). Both may be one row of a query that reads the
        delivery's columns with the member's chat and language."""
        assert member.chat_id is not None
        return cls(
            id=delivery.id,
            kind=delivery.kind,
            member_id=delivery.member_id,
            chat_id=member.chat_id,
            language=member.language,
            alert_id=delivery.alert_id,
            subject_id=delivery.subject_id,
            params=json.loads(delivery.params),
            silent=delivery.silent if silent is None else silent,
            attempts=delivery.attempts if attempts is None else attempts,
            created_at=delivery.created_at,
            priority=delivery.priority,
        )


@dataclass(frozen=True)
class Result:
    delivery_id: int
    outcome: Outcome
    message_id: int | None = None
    retry_after: float | None = None
    error: str | None = None


class Sent(NamedTuple):
    """A delivery just recorded as sent: which message it is about, and to whom."""

    kind: str
    member_id: int
    alert_id: int | None
    subject_id: int | None


@dataclass
class Recorded:
    """What changed: alerts whose status message should be refreshed, deliveries finished."""

    alert_ids: set[int] = field(default_factory=set)
    subjects: set[tuple[str, int]] = field(default_factory=set)  # (kind, subject id) finished
    finished: dict[str, int] = field(default_factory=dict)
    new_deliveries: int = 0
    sent: list[Sent] = field(default_factory=list)  # the deliveries now recorded as sent
    claimed: list[Job] = field(default_factory=list)  # the next batch (`record(claim=...)`)


UNREACHABLE_NOTICE = "unreachable"
# Kinds that also reach people who are not (or no longer) active: the news of a decision.
FOR_EVERYONE = frozenset({"decision"})
_FORGET = timedelta(days=1)  # an instance not seen for this long is no longer listed
_LINGER = timedelta(seconds=1)  # a stopped instance still counts for Telegram's window


# `claim_first`'s statements, built once: building and keying them cost more than running
# them, on every alert.
_DELIVERIES, _MEMBERS = table_of(Delivery), table_of(Member)


def _deliveries(*names: str) -> list[Any]:
    return [_DELIVERIES.c[name] for name in names]


_FIRST_BATCH = (
    select(
        *_deliveries(
            "id",
            "kind",
            "member_id",
            "alert_id",
            "subject_id",
            "params",
            "silent",
            "attempts",
            "created_at",
            "priority",
        ),
        _MEMBERS.c.status.label("member_status"),
        _MEMBERS.c.chat_id,
        _MEMBERS.c.language,
        _MEMBERS.c.quiet_from,
        _MEMBERS.c.quiet_until,
    )
    .join(_MEMBERS, _MEMBERS.c.id == _DELIVERIES.c.member_id)
    .where(
        _DELIVERIES.c.alert_id == bindparam("alert_id"),
        _DELIVERIES.c.status == DeliveryStatus.PENDING,
    )
    .order_by(_DELIVERIES.c.turn, _DELIVERIES.c.id)
    .limit(bindparam("limit"))
)
_WAITING_AHEAD = (
    select(_DELIVERIES.c.id)
    .where(
        _DELIVERIES.c.status == DeliveryStatus.PENDING,
        _DELIVERIES.c.priority < bindparam("priority"),
        _DELIVERIES.c.next_attempt_at <= bindparam("now"),
    )
    .limit(1)
)
_CLAIM = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        status=DeliveryStatus.SENDING,
        claimed_by=bindparam("by"),
        claimed_until=bindparam("until"),
        attempts=_DELIVERIES.c.attempts + 1,
    )
)


# The outbox's claim: pending deliveries that are due, most urgent first, with their members'
# columns, locked for the transaction; rows another instance holds are skipped rather than
# waited for. Within a priority they go by turn, so alerts take turns (round-robin) instead of
# first-come-first-served by whole alert: a new urgent alert's first recipients are next,
# however many deliveries of earlier alerts wait. The order is that of ix_deliveries_turn, so
# the claim reads the index and stops after `limit` rows.
_DUE = (
    select(*_FIRST_BATCH.selected_columns)
    .join_from(_DELIVERIES, _MEMBERS, _MEMBERS.c.id == _DELIVERIES.c.member_id)
    .where(
        _DELIVERIES.c.status == DeliveryStatus.PENDING,
        _DELIVERIES.c.next_attempt_at <= bindparam("now"),
    )
    .order_by(
        _DELIVERIES.c.priority,
        _DELIVERIES.c.turn,
        _DELIVERIES.c.next_attempt_at,
        _DELIVERIES.c.id,
    )
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True, of=_DELIVERIES)
)
_CANCEL = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        status=DeliveryStatus.CANCELLED,
        finished_at=bindparam("now"),
        claimed_by=None,
        claimed_until=None,
    )
)
# `record`: the batch's deliveries, locked, with what the outcome may change of their members.
_RECORDING = (
    select(
        *_deliveries(
            "id", "kind", "member_id", "alert_id", "subject_id", "status", "claimed_by", "attempts"
        ),
        _MEMBERS.c.unreachable_since,
        _MEMBERS.c.region,
    )
    .join_from(_DELIVERIES, _MEMBERS, _MEMBERS.c.id == _DELIVERIES.c.member_id)
    .where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
    .with_for_update(of=_DELIVERIES)
)
# One row per delivery (executemany): a final state, or pending again for a retry.
_FINISH = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("delivery"))
    .values(
        status=bindparam("status"),
        finished_at=bindparam("now"),
        telegram_message_id=bindparam("message_id"),
        last_error=bindparam("error"),
        claimed_by=None,
        claimed_until=None,
    )
)
_RETRY = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("delivery"))
    .values(
        status=DeliveryStatus.PENDING,
        next_attempt_at=bindparam("next"),
        last_error=bindparam("error"),
        claimed_by=None,
        claimed_until=None,
    )
)
_UNREACHABLE_SINCE = (
    update(_MEMBERS)
    .where(_MEMBERS.c.id == bindparam("member"))
    .values(unreachable_since=bindparam("since"))
)


def _claimable(row: Row[*tuple[Any, ...]]) -> bool:
    """A first-batch row `_take` would claim rather than cancel (see `_cancelled`)."""
    active = row.member_status == MemberStatus.ACTIVE or row.kind in FOR_EVERYONE
    return active and row.chat_id is not None


@dataclass
class DeliveryService:
    uow: UnitOfWorkFactory
    network: Network
    _: KW_ONLY
    instance_id: str
    max_attempts: int = 15
    lease: timedelta = timedelta(seconds=60)
    backoff_first: float = 2.0  # after the first failure; doubled after each further one
    backoff_cap: float = 300.0
    timezone: str = "Europe/Berlin"
    # How many of a new alert's deliveries its raise claims for this process's outbox: set
    # by the outbox while it runs (its concurrency), 0 otherwise (`claim_first`).
    first_batch: int = 0

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.timezone)

    async def release_claims(self, *, everything: bool) -> int:
        """Make claimed deliveries sendable again (after a restart, or expired claims)."""
        async with self.uow() as uow:
            released = await uow.deliveries.release(uow.now(), everything=everything)
            await uow.commit()
        return released

    async def sending_elsewhere(self) -> bool:
        """Whether claims are held that a restart does not release (another instance's, or
        those of an instance that died, until they expire): something may be sending."""
        async with self.uow(write=False) as uow:
            return await uow.deliveries.any_claimed()

    async def release_jobs(self, jobs: Sequence[Job]) -> int:
        """Hand back claimed jobs this instance will not send (it is stopping), so that the
        next instance need not wait for their claims to expire."""
        async with self.uow() as uow:
            released = await uow.deliveries.release_own([j.id for j in jobs], self.instance_id)
            await uow.commit()
        return released

    async def renew(self, ids: Sequence[int]) -> int:
        """Extend this instance's claims on these deliveries by another lease: deliveries still
        being sent (a slow Bot API, a long retry_after) or waiting to be sent are not taken
        over by another instance while this one may still send them. Returns how many it
        still held."""
        async with self.uow() as uow:
            until = uow.now() + self.lease
            renewed = await uow.deliveries.renew(ids, self.instance_id, until)
            await uow.commit()
        return renewed

    async def beat(self, alive_for: timedelta) -> int:
        """Note this instance as running now; how many instances were seen within `alive_for`,
        this one included (several share a PostgreSQL database, and Telegram's flood limit)."""
        async with self.uow() as uow:
            now = uow.now()
            seen = await uow.session.get(Instance, self.instance_id)
            if seen is None:
                uow.session.add(Instance(instance_id=self.instance_id, seen_at=now))
            else:
                seen.seen_at = now
            # Long gone (killed, never stopped): forgotten.
            await uow.session.execute(delete(Instance).where(Instance.seen_at < now - _FORGET))
            running = await uow.session.scalar(
                select(func.count()).where(Instance.seen_at > now - alive_for)
            )
            await uow.commit()
        return max(1, int(running or 0))

    async def leave(self, alive_for: timedelta) -> None:
        """This instance has stopped sending: it counts for one more second (what it sent in
        its last second still counts at Telegram), then the others take its share."""
        async with self.uow() as uow:
            await uow.session.execute(
                update(Instance)
                .where(Instance.instance_id == self.instance_id)
                .values(seen_at=uow.now() - alive_for + _LINGER)
            )
            await uow.commit()

    async def claim(self, limit: int) -> list[Job]:
        """Claim up to `limit` due deliveries. Those to people who are no longer active
        members are cancelled instead: revocation stops all deliveries at once. Whether a
        message rings is decided now, not when it was queued: a retry may cross into or out
        of the member's quiet hours."""
        async with self.uow() as uow:
            jobs, changed = await self._claim(uow, uow.now(), limit)
            if changed:
                await uow.commit()
        return jobs

    async def _claim(self, uow: UnitOfWork, now: datetime, limit: int) -> tuple[list[Job], bool]:
        """`claim` in a transaction of its own or in the one that records the batch before;
        whether anything changed."""
        # Claims of an instance that died are taken over once they expire.
        released = await uow.deliveries.release(now, everything=False)
        rows = (await uow.session.execute(_DUE, {"now": now, "limit": limit})).all()
        if not rows:
            return [], bool(released)
        return await self._take(uow, rows, now), True

    async def claim_first(self, uow: UnitOfWork, alert_id: int) -> int:
        """In the transaction that stores an alert's deliveries: claim its first turns (up to
        `first_batch`, the outbox's concurrency) for this instance and hand them to the
        outbox with the commit (`Effects.claimed`), so that the first sends need no claim
        transaction of their own. They are recorded as claimed before they are sent, as
        every delivery is; should the process die before sending them, the claim expires
        (or a restart on SQLite releases it) like any other. No other instance can take them:
        nobody sees the rows before this transaction commits. Returns how many of them were
        cancelled instead (see `claim`)."""
        if not self.first_batch:
            return 0
        # Read and claimed with Core statements built once (no ORM object per row); the
        # session flushes the deputies' copies, added as ORM objects, before the first.
        rows = (
            await uow.session.execute(
                _FIRST_BATCH, {"alert_id": alert_id, "limit": self.first_batch}
            )
        ).all()
        if not rows:
            return 0
        now = uow.now()
        if await self._waiting_ahead(uow, rows[0].priority, now):
            return 0  # the outbox's claim serves those first, as its order says
        taken = await self._take(uow, rows, now)
        uow.effects.claimed.extend(taken)
        return len(rows) - len(taken)

    async def _waiting_ahead(self, uow: UnitOfWork, priority: int, now: datetime) -> bool:
        """Deliveries of a higher priority wait (an urgent fan-out under way): a normal
        alert's first batch must not go before them."""
        if priority == Priority.URGENT:
            return False
        ahead = await uow.session.scalar(_WAITING_AHEAD, {"priority": priority, "now": now})
        return ahead is not None

    async def confirm(self, jobs: Sequence[Job]) -> list[Job]:
        """Handed-over jobs (`claim_first`) when other changes were committed after the
        transaction that claimed them: a revocation, an erasure, a closed alert must win as
        they would over a claim. Jobs no longer claimed by this instance are dropped (an
        erasure cancelled them); those to people no longer active members are cancelled."""
        async with self.uow() as uow:
            now = uow.now()
            deliveries = {d.id: d for d in await uow.deliveries.by_ids([j.id for j in jobs])}
            members = {m.id: m for m in await uow.members.by_ids({j.member_id for j in jobs})}
            kept: list[Job] = []
            for job in jobs:
                delivery = deliveries.get(job.id)
                if (
                    delivery is None
                    or delivery.status != DeliveryStatus.SENDING
                    or delivery.claimed_by != self.instance_id
                ):
                    continue
                member = members[delivery.member_id]
                if not self._cancelled(uow, delivery, member, now):
                    kept.append(Job.of(delivery, member, silent=job.silent))
            await uow.commit()
        return kept

    async def _take(
        self, uow: UnitOfWork, rows: Sequence[Row[*tuple[Any, ...]]], now: datetime
    ) -> list[Job]:
        """Claim these deliveries (rows of `_FIRST_BATCH`'s columns) for this instance, or
        cancel those to people who are no longer active members or have no chat (see
        `claim`), with Core statements: no ORM object per row."""
        claimed = [row for row in rows if _claimable(row)]
        cancelled = [row for row in rows if not _claimable(row)]
        if cancelled:
            await uow.session.execute(_CANCEL, {"ids": [row.id for row in cancelled], "now": now})
            for row in cancelled:
                _audit_final(
                    uow, row.id, row.kind, row.member_id, row.alert_id, DeliveryStatus.CANCELLED
                )
        if not claimed:
            return []
        await uow.session.execute(
            _CLAIM,
            {"ids": [row.id for row in claimed], "by": self.instance_id, "until": now + self.lease},
        )
        return [
            Job.of(
                row,
                row,
                silent=row.silent
                or (
                    row.priority != Priority.URGENT
                    and quiet_between(row.quiet_from, row.quiet_until, now, self.zone)
                ),
                attempts=row.attempts + 1,
            )
            for row in claimed
        ]

    def _cancelled(
        self, uow: UnitOfWork, delivery: Delivery, member: Member, now: datetime
    ) -> bool:
        """Cancel a delivery to someone who is no longer an active member (or has no chat)."""
        inactive = member.status != MemberStatus.ACTIVE and delivery.kind not in FOR_EVERYONE
        if not inactive and member.chat_id is not None:
            return False
        delivery.status = DeliveryStatus.CANCELLED
        delivery.finished_at = now
        delivery.claimed_by = delivery.claimed_until = None
        _audit_final(
            uow,
            delivery.id,
            delivery.kind,
            delivery.member_id,
            delivery.alert_id,
            DeliveryStatus.CANCELLED,
        )
        return True

    async def record(self, results: Sequence[Result], *, claim: int = 0) -> Recorded:
        """Store the outcome of sent jobs, in one transaction for the whole batch; with `claim`,
        claim the next batch (up to that many, as `claim` does) in the same transaction: one
        commit per batch instead of two, and each delivery is still recorded as claimed before
        it is sent and with its outcome after."""
        recorded = Recorded()
        if not results:
            return recorded
        async with self.uow() as uow:
            now = uow.now()
            rows = (
                await uow.session.execute(_RECORDING, {"ids": [r.delivery_id for r in results]})
            ).all()
            deliveries = {row.id: row for row in rows}
            finish: list[dict[str, object]] = []
            retry: list[dict[str, object]] = []
            unreachable: dict[int, Row[*tuple[Any, ...]]] = {}  # by member
            reachable: set[int] = set()
            for result in results:
                delivery = deliveries.get(result.delivery_id)
                mine = delivery is not None and delivery.claimed_by == self.instance_id
                if delivery is None or delivery.status != DeliveryStatus.SENDING or not mine:
                    continue  # our claim expired and another instance took the delivery over
                if delivery.alert_id is not None:
                    recorded.alert_ids.add(delivery.alert_id)
                error = result.error[:80] if result.error else None
                if result.outcome == Outcome.RETRY and delivery.attempts < self.max_attempts:
                    delay = self._retry_delay(delivery.attempts, result.retry_after)
                    retry.append(
                        {
                            "delivery": delivery.id,
                            "next": now + timedelta(seconds=delay),
                            "error": error,
                        }
                    )
                    continue
                final = {
                    Outcome.SENT: DeliveryStatus.SENT,
                    Outcome.UNREACHABLE: DeliveryStatus.UNREACHABLE,
                    Outcome.FAILED: DeliveryStatus.FAILED,
                    Outcome.RETRY: DeliveryStatus.FAILED,  # retries exhausted
                }[result.outcome]
                finish.append(
                    {
                        "delivery": delivery.id,
                        "status": final,
                        "now": now,
                        "message_id": result.message_id,
                        "error": error,
                    }
                )
                recorded.finished[final] = recorded.finished.get(final, 0) + 1
                if delivery.subject_id is not None:
                    recorded.subjects.add((delivery.kind, delivery.subject_id))
                if final == DeliveryStatus.SENT:
                    about = (delivery.alert_id, delivery.subject_id)
                    recorded.sent.append(Sent(delivery.kind, delivery.member_id, *about))
                _audit_final(
                    uow, delivery.id, delivery.kind, delivery.member_id, delivery.alert_id, final
                )
                member = delivery.member_id
                if final == DeliveryStatus.SENT and delivery.unreachable_since is not None:
                    reachable.add(member)
                elif final == DeliveryStatus.UNREACHABLE and delivery.unreachable_since is None:
                    unreachable.setdefault(member, delivery)
            # Core statements, one executemany each: no ORM object per delivery.
            for statement, parameters in ((_FINISH, finish), (_RETRY, retry)):
                if parameters:
                    await uow.session.execute(statement, parameters)
            if reachable:
                await uow.session.execute(
                    _UNREACHABLE_SINCE, [{"member": m, "since": None} for m in sorted(reachable)]
                )
            for row in unreachable.values():
                await uow.session.execute(
                    _UNREACHABLE_SINCE, {"member": row.member_id, "since": now}
                )
                recorded.new_deliveries += await self._tell_coordinators(
                    uow, row.member_id, row.region, now
                )
            if claim:
                recorded.claimed, _ = await self._claim(uow, now, claim)
            await uow.commit()
        return recorded

    async def _tell_coordinators(
        self, uow: UnitOfWork, member_id: int, region: str | None, now: datetime
    ) -> int:
        """A member became unreachable: the coordinators of their region should know."""
        if region is None:
            return 0
        coordinators = await uow.members.coordinators_for(region, self.network.statewide_region)
        targets = [c.id for c in coordinators if c.id != member_id]
        uow.audit.record(SYSTEM, "member.unreachable", f"member:{member_id}")
        return uow.deliveries.enqueue(
            kind=UNREACHABLE_NOTICE,
            member_ids=targets,
            priority=Priority.NORMAL,
            now=now,
            params={"member": member_id},
        )

    def _retry_delay(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(retry_after, 1.0)
        # Exponential backoff with jitter, so that many failed sends do not return together.
        delay: float = min(self.backoff_cap, self.backoff_first * 2.0 ** (attempts - 1))
        return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret

    async def next_due(self) -> datetime | None:
        async with self.uow(write=False) as uow:
            return await uow.deliveries.next_due()

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many deliveries wait, and since when the oldest."""
        async with self.uow(write=False) as uow:
            return await uow.deliveries.backlog()


def _audit_final(
    uow: UnitOfWork, delivery_id: int, kind: str, member_id: int, alert_id: int | None, status: str
) -> None:
    uow.audit.record(
        SYSTEM,
        f"delivery.{status}",
        f"delivery:{delivery_id}",
        kind=kind,
        member=member_id,
        alert=alert_id,
    )
