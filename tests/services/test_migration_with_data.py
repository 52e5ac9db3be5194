"""Migrations run on databases that hold data, not only on empty ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text

from bot.alerts import AlertService, EscalationPeriods
from bot.clock import SystemClock
from bot.keys import TextCipher, generate_encryption_key
from bot.network import load_network
from storage import migrate
from storage.db import Database
from storage.models import Alert, Member
from storage.uow import UnitOfWorkFactory

KEY = generate_encryption_key()
NOW = datetime(2026, 11, 1, 10, 0)  # naive: how SQLite stores UTC, and fine for PostgreSQL


def _downgrade(connection: Any) -> None:
    migrate.command.downgrade(migrate.alembic_config(connection), "0002")


@pytest.mark.fresh_database  # downgrades: drops and creates tables
async def test_upgrading_from_0002_keeps_members_alerts_and_references(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_downgrade)
        async with database.engine.begin() as connection:
            # Data as the 0002 schema held it, written with plain SQL.
            for member_id, sector in ((1, "police"), (2, "justice")):
                await connection.execute(
                    text(
                        "INSERT INTO members (id, telegram_user_id, chat_id, display_name, "
                        "institution, sector, region, role, status, created_at, "
                        "status_changed_at) VALUES (:id, :tg, :tg, 'Person', 'Amt', :sector, "
                        "'HRO', 'member', 'active', :now, :now)"
                    ),
                    {"id": member_id, "tg": 70 + member_id, "sector": sector, "now": NOW},
                )
            await connection.execute(
                text(
                    "INSERT INTO alerts (id, ref, sender_id, sectors, region, urgency, status, "
                    "created_at, escalation_level, text_cipher) VALUES (1, 'F-2026-0001', 1, "
                    "'justice', 'HRO', 'urgent', 'open', :now, 0, :text)"
                ),
                # Texts were Fernet tokens then, bound to no row.
                {"now": NOW, "text": Fernet(KEY).encrypt(b"Fall Eiche")},
            )
            await connection.execute(
                text(
                    "INSERT INTO alert_recipients (alert_id, member_id, reason) "
                    "VALUES (1, 2, 'target')"
                )
            )

        await migrate.upgrade(database)
        assert await migrate.is_current(database)
        async with database.read_sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Member)) == 2
            alert = (await session.scalars(select(Alert))).one()
            assert alert.sender_id == 1 and alert.purged_at is None
        alerts = AlertService(
            UnitOfWorkFactory(database, SystemClock()),
            load_network(),
            TextCipher([KEY]),
            EscalationPeriods(timedelta(minutes=15), timedelta(hours=4)),
        )
        assert await alerts.text(1) == "Fall Eiche"
    finally:
        await database.dispose()
