"""`cora-bot keys rotate` re-encrypts every stored text so that the old key can be removed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from cryptography.fernet import InvalidToken

from bot.alerts import AlertService, EscalationPeriods
from bot.cli import main
from bot.clock import SystemClock
from bot.keys import TextCipher, generate_encryption_key
from bot.membership import ADMIN_ACTOR, MembershipService, TelegramIdentity
from bot.network import load_network
from storage.db import Database
from storage.uow import UnitOfWorkFactory


async def test_rotation_makes_the_old_key_unnecessary(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = generate_encryption_key(), generate_encryption_key()
    database = Database(database_url)
    uow = UnitOfWorkFactory(database, SystemClock())
    network = load_network()
    periods = EscalationPeriods(timedelta(minutes=15), timedelta(hours=4))
    membership = MembershipService(uow, network, 90)
    ids = []
    for n, (sector, region) in enumerate((("police", "HRO"), ("justice", "HRO"))):
        invite = await membership.create_invite(ADMIN_ACTOR, sector, region)
        progress = await membership.redeem_invite(TelegramIdentity(50 + n, 50 + n), invite.token)
        await membership.give_text(progress.member.id, f"Person {n}")
        await membership.give_text(progress.member.id, "Amt")
        ids.append(progress.member.id)
    alerts = AlertService(uow, network, TextCipher([old]), periods)
    raised = await alerts.raise_alert(ids[0], ["justice"], "HRO", "normal", "Vertraulicher Text")
    await alerts.follow_up(ids[0], raised.alert.id, "Ein Nachtrag")
    await database.dispose()

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CORA_ENCRYPTION_KEY", f"{new},{old}")
    assert await asyncio.to_thread(main, ["keys", "rotate"]) == 0
    assert "Re-encrypted 2 stored texts" in capsys.readouterr().out

    database = Database(database_url)
    try:
        only_new = AlertService(
            UnitOfWorkFactory(database, SystemClock()), network, TextCipher([new]), periods
        )
        assert await only_new.text(raised.alert.id) == "Vertraulicher Text"
        only_old = AlertService(
            UnitOfWorkFactory(database, SystemClock()), network, TextCipher([old]), periods
        )
        with pytest.raises(InvalidToken):
            await only_old.text(raised.alert.id)
    finally:
        await database.dispose()
