"""Agency systems on the HTTP API, and what the webhook and the API have already taken in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, IntPK, Region, Sector


class ApiClient(Base):
    """An agency system allowed to raise alerts through the HTTP API, bound to a sector and a
    region. Its API key is never stored: only its SHA-256 hash, itself encrypted at rest."""

    __tablename__ = "api_clients"

    id: Mapped[IntPK]
    key_id: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    sector: Mapped[Sector]
    region: Mapped[Region]
    key_hash_cipher: Mapped[bytes]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # When the coordinators were last told that this key hit ALERT_URGENT_PER_HOUR.
    urgent_limit_noticed_at: Mapped[datetime | None]


class ApiIdempotency(Base):
    """The answer to a request with an Idempotency-Key, so a retry gets it again."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("client_id", "key", name="uq_api_idempotency_client_key"),)

    id: Mapped[IntPK]
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"))
    key: Mapped[str] = mapped_column(String(100))
    body_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[str] = mapped_column(Text)  # JSON of ids and states, no free text
    created_at: Mapped[datetime]


class ApiSignature(Base):
    """Signatures seen recently: the same signed request is accepted only once."""

    __tablename__ = "api_signatures"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class HandledUpdate(Base):
    """A Telegram update taken in by the webhook: a resent copy (Telegram resends when our
    answer came late) is not handled again, also by another instance or after a restart.
    Kept for a day, longer than Telegram keeps an update."""

    __tablename__ = "handled_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(index=True)
