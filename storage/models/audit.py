"""The append-only, hash-chained audit log and its signed checkpoints."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, IntPK, TelegramId


class AuditEvent(Base):
    """One link of the append-only, hash-chained audit log."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[str] = mapped_column(String(32))  # canonical ISO text, part of the hash
    actor: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, part of the hash
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Base):
    """A signed statement of the chain's head: later truncation or rewriting shows."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[IntPK]
    seq: Mapped[TelegramId]
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[str] = mapped_column(String(32))  # canonical ISO text, part of the signature
    key_id: Mapped[str] = mapped_column(String(16))  # which Ed25519 key signed it
    signature: Mapped[str] = mapped_column(String(128))  # hex


class AuditHead(Base):
    """The newest link of the chain; its row lock serialises appends across processes."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[TelegramId]
    hash: Mapped[str] = mapped_column(String(64))
