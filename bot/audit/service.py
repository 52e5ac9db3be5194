"""The audit service: the /audit overview and the periodic signer with its notices to the
statewide coordinators."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, replace
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select

from bot.audit.chain import Problem, Verification, verify
from bot.audit.events import EventView, latest
from bot.audit.signing import Signing, newest_witness, sign_checkpoint
from bot.delivery import Priority
from bot.membership import RegionScope
from bot.network import Network
from storage.audit import SYSTEM
from storage.models import AuditCheckpoint, Delivery, Role
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Overview:
    """What coordinators see in /audit: the quick check and the latest events."""

    verification: Verification
    events: list[EventView]


AUDIT_HEAD_NOTICE = "audit_head"
AUDIT_REFUSED_NOTICE = "audit_refused"
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class AuditService:
    uow: UnitOfWorkFactory
    network: Network
    verify_keys: Sequence[Ed25519PublicKey]
    signing_key: Ed25519PrivateKey
    _: KW_ONLY
    witness_file: Path | None = None
    head_messages: bool = True
    checkpoint_every: timedelta = timedelta(hours=1)

    async def overview(self, limit: int = 10, *, scope: RegionScope | None = None) -> Overview:
        """Checkpoints and the chain behind the newest signed or witnessed head (the full
        check is `audit verify`), and the latest events (of the coordinator's region when
        `scope` is given)."""
        database = self.uow.database
        witness, unreadable = newest_witness(self.witness_file)
        checked = await verify(
            database,
            self.verify_keys,
            from_checkpoint=True,
            witnessed=[witness] if witness is not None else [],
        )
        if unreadable is not None and checked.problem is None:
            checked = replace(checked, problem=unreadable)
        return Overview(checked, await latest(database, limit, scope=scope))

    async def checkpoint(self) -> Signing:
        """Sign the head (and once a day send it to the statewide coordinators), or refuse
        a chain that was rewritten and tell them."""
        signing = await sign_checkpoint(
            self.uow,
            self.signing_key,
            verify_keys=self.verify_keys,
            witness_file=self.witness_file,
            head_message=self._head_message if self.head_messages else None,
        )
        if signing.refused is not None:
            notified = await self._report_refusal(signing.refused)
            return Signing(refused=signing.refused, notified=notified)
        return signing

    async def _statewide_coordinators(self, uow: UnitOfWork) -> list[int]:
        found = await uow.members.find(
            regions=[self.network.statewide_region], role=Role.COORDINATOR
        )
        return [member.id for member in found]

    async def _last_notice(self, uow: UnitOfWork, kind: str) -> Delivery | None:
        return await uow.session.scalar(
            select(Delivery)
            .where(Delivery.kind == kind)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .limit(1)
        )

    async def _head_message(self, uow: UnitOfWork, checkpoint: AuditCheckpoint) -> int:
        """Once a day, the newest signed head goes to the statewide coordinators: a copy on
        their devices that nobody who can write the database or the server can reach."""
        now = uow.now()
        last = await self._last_notice(uow, AUDIT_HEAD_NOTICE)
        # Half a signing interval early, so that the hourly signer's drift does not skip a day.
        if last is not None and now - last.created_at < _DAY - self.checkpoint_every / 2:
            return 0
        return uow.deliveries.enqueue(
            kind=AUDIT_HEAD_NOTICE,
            member_ids=await self._statewide_coordinators(uow),
            priority=Priority.NORMAL,
            now=now,
            params={
                "seq": checkpoint.seq,
                "hash": checkpoint.hash,
                "signed_at": checkpoint.signed_at,
                "key": checkpoint.key_id,
            },
        )

    async def _report_refusal(self, problem: Problem) -> int:
        """Tell the statewide coordinators that the signer refused (once a day for the same
        problem: the signer retries every interval)."""
        params: dict[str, int | str | None] = {"seq": problem.seq, "reason": problem.reason}
        log.error("refused to sign the audit log: %s", problem)
        async with self.uow() as uow:
            now = uow.now()
            last = await self._last_notice(uow, AUDIT_REFUSED_NOTICE)
            if (
                last is not None
                and json.loads(last.params) == params
                and now - last.created_at < _DAY
            ):
                return 0
            count = uow.deliveries.enqueue(
                kind=AUDIT_REFUSED_NOTICE,
                member_ids=await self._statewide_coordinators(uow),
                priority=Priority.URGENT,
                now=now,
                params=params,
            )
            uow.audit.record(SYSTEM, "audit.checkpoint_refused", "audit", **params)
            await uow.commit()
            return count
