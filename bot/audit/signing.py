"""Signing checkpoints: the current head, never a chain that does not extend the newest
signed and witnessed head."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import func, select

from bot.audit import witness as witnesses
from bot.audit.chain import Problem, check_unsigned_part, checkpoint_message
from bot.audit.witness import Witnessed
from bot.keys import key_id
from storage.audit import format_time
from storage.models import AuditCheckpoint, AuditEvent, AuditHead
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Signing:
    """What one run of the signer did: signed a checkpoint, refused (and why), or neither
    (nothing new). `notified`: messages it queued for the statewide coordinators."""

    checkpoint: AuditCheckpoint | None = None
    refused: Problem | None = None
    notified: int = 0
    witness_error: str | None = None  # signed, but the witness file could not be written


HeadMessage = Callable[[UnitOfWork, AuditCheckpoint], Awaitable[int]]


async def sign_checkpoint(
    uow: UnitOfWorkFactory,
    key: Ed25519PrivateKey,
    *,
    verify_keys: Sequence[Ed25519PublicKey] = (),
    witness_file: Path | None = None,
    head_message: HeadMessage | None = None,
) -> Signing:
    """Sign the current head, unless it was signed already (nothing happened since) — and
    never a chain that does not extend the newest signed and witnessed head. Each signed
    checkpoint is also appended to `witness_file`, after it is committed."""
    keys = [*verify_keys, key.public_key()]
    witness, unreadable = newest_witness(witness_file)
    if unreadable is not None:
        return Signing(refused=unreadable)
    seq, digest, problem = await check_unsigned_part(uow.database, keys, witness, uow.written_head)
    if problem is not None:
        return Signing(refused=problem)
    if seq == 0:
        return Signing()
    async with uow() as work:
        await work.session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
        last = await work.session.scalar(select(func.max(AuditCheckpoint.seq)))
        if last is not None and last >= seq:
            return Signing()
        current = await work.session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
        if current != digest:  # changed while it was being checked
            return Signing(refused=Problem(seq, "rewritten"))
        signed_at = format_time(work.now())
        signature = key.sign(checkpoint_message(seq, digest, signed_at))
        checkpoint = AuditCheckpoint(
            seq=seq,
            hash=digest,
            signed_at=signed_at,
            key_id=key_id(key.public_key()),
            signature=signature.hex(),
        )
        work.session.add(checkpoint)
        notified = await head_message(work, checkpoint) if head_message is not None else 0
        await work.commit()
    if witness_file is not None:
        try:
            witnesses.append(witness_file, witnessed(checkpoint))
        except OSError as error:
            log.error("could not append checkpoint %d to the witness file: %s", seq, error)
            return Signing(checkpoint=checkpoint, notified=notified, witness_error=str(error))
    return Signing(checkpoint=checkpoint, notified=notified)


def newest_witness(path: Path | None) -> tuple[Witnessed | None, Problem | None]:
    try:
        return witnesses.newest(path), None
    except witnesses.WitnessFileError as error:
        log.error("%s", error)
        return None, Problem(0, "witness_file")


def witnessed(checkpoint: AuditCheckpoint) -> Witnessed:
    return Witnessed(*(getattr(checkpoint, name) for name in witnesses.FIELDS))
