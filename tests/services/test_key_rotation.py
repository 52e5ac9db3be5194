"""Texts at rest are bound to their row; `cora-bot keys rotate` re-encrypts every stored text
(older keys, and Fernet texts from before the binding) so that the old key can be removed;
rotating the audit signing key leaves earlier checkpoints verifiable."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select, text

from bot.alerts import AlertService, EscalationPeriods
from bot.cli import main
from bot.clock import SystemClock
from bot.keys import (
    AES_GCM_V1,
    TextCipher,
    UnreadableText,
    generate_encryption_key,
    generate_signing_key,
    key_id,
    public_key_text,
)
from bot.membership import ADMIN_ACTOR, MembershipService, TelegramIdentity
from bot.network import load_network
from storage.db import Database
from storage.models import Alert, FollowUp
from storage.uow import UnitOfWorkFactory

PERIODS = EscalationPeriods(timedelta(minutes=15), timedelta(hours=4))


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
        with pytest.raises(UnreadableText):
            await only_old.text(raised.alert.id)
    finally:
        await database.dispose()


async def test_rotating_the_audit_signing_key_twice_keeps_every_checkpoint_verifiable(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Keys A, then B, then C sign checkpoints; with the earlier public keys in
    CORA_AUDIT_VERIFY_KEYS every checkpoint (and witness line) stays verifiable, for the
    operator and for an auditor who holds only public keys."""
    database = Database(database_url)
    membership = MembershipService(UnitOfWorkFactory(database, SystemClock()), load_network(), 90)
    signing = [generate_signing_key() for _ in range(3)]
    public = [_public(key) for key in signing]
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CORA_DATA_DIR", str(tmp_path / "server"))

    def cli(*args: str) -> tuple[int, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    try:
        for generation, key in enumerate(signing):
            monkeypatch.setenv("CORA_AUDIT_SIGNING_KEY", key)
            monkeypatch.setenv("CORA_AUDIT_VERIFY_KEYS", ",".join(public[:generation]))
            await membership.create_invite(ADMIN_ACTOR, "police", "HRO")
            code, output = await asyncio.to_thread(cli, "audit", "checkpoint")
            assert code == 0 and "Signed checkpoint" in output, (generation, output)
            code, output = await asyncio.to_thread(cli, "audit", "verify")
            assert code == 0 and f"{generation + 1} signed checkpoint(s)" in output, output
            assert f"{generation + 1} witnessed head(s)" in output, output
    finally:
        await database.dispose()

    code, output = await asyncio.to_thread(cli, "audit", "public-key")
    lines = output.splitlines()
    assert code == 0 and len(lines) == 3, output
    assert lines[0].startswith(public[2]) and "signs new checkpoints" in lines[0]
    for line, key in zip(lines[1:], public[:2], strict=True):
        assert line.startswith(key) and f"key id {_id(key)}" in line
        assert "verifies earlier checkpoints" in line

    # An auditor on another machine: no private key, the three public keys, the witness file.
    witness = tmp_path / "server" / "audit-witness.jsonl"
    monkeypatch.delenv("CORA_AUDIT_SIGNING_KEY")
    monkeypatch.setenv("CORA_DATA_DIR", str(tmp_path / "auditor"))
    monkeypatch.setenv("CORA_AUDIT_VERIFY_KEYS", ",".join(public))
    code, output = await asyncio.to_thread(cli, "audit", "verify", "--witness", str(witness))
    assert code == 0 and "intact" in output, output
    assert not (tmp_path / "auditor").exists()  # verifying created no keys
    # Without the first key, its checkpoint is named as signed by an unknown key.
    monkeypatch.setenv("CORA_AUDIT_VERIFY_KEYS", ",".join(public[1:]))
    code, output = await asyncio.to_thread(cli, "audit", "verify", "--witness", str(witness))
    assert code == 1 and "key that is not among the verify keys" in output, output

    # Rotating without keeping the previous public key: the signer refuses rather than
    # sign behind a checkpoint it cannot check, and says which key is missing.
    monkeypatch.setenv("CORA_DATA_DIR", str(tmp_path / "server"))
    monkeypatch.setenv("CORA_AUDIT_SIGNING_KEY", generate_signing_key())
    monkeypatch.setenv("CORA_AUDIT_VERIFY_KEYS", ",".join(public[:2]))
    database = Database(database_url)
    membership = MembershipService(UnitOfWorkFactory(database, SystemClock()), load_network(), 90)
    try:
        await membership.create_invite(ADMIN_ACTOR, "police", "HRO")
    finally:
        await database.dispose()
    code, output = await asyncio.to_thread(cli, "audit", "checkpoint")
    assert code == 1 and "REFUSED" in output and "CORA_AUDIT_VERIFY_KEYS" in output, output


def _public(private: str) -> str:
    key = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(private))
    return public_key_text(key.public_key())


def _id(public: str) -> str:
    return key_id(Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(public)))


async def _two_members(database: Database) -> list[int]:
    membership = MembershipService(UnitOfWorkFactory(database, SystemClock()), load_network(), 90)
    ids = []
    for n, (sector, region) in enumerate((("police", "HRO"), ("justice", "HRO"))):
        invite = await membership.create_invite(ADMIN_ACTOR, sector, region)
        progress = await membership.redeem_invite(TelegramIdentity(60 + n, 60 + n), invite.token)
        await membership.give_text(progress.member.id, f"Person {n}")
        await membership.give_text(progress.member.id, "Amt")
        ids.append(progress.member.id)
    return ids


async def _sql(database: Database, statement: str, **params: object) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(text(statement), params)


async def test_a_ciphertext_copied_to_another_row_or_table_no_longer_decrypts(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        sender, _ = await _two_members(database)
        alerts = AlertService(
            UnitOfWorkFactory(database, SystemClock()),
            load_network(),
            TextCipher([generate_encryption_key()]),
            PERIODS,
        )
        ahorn = (await alerts.raise_alert(sender, ["justice"], "HRO", "normal", "Fall Ahorn")).alert
        birke = (await alerts.raise_alert(sender, ["justice"], "HRO", "normal", "Fall Birke")).alert
        await alerts.follow_up(sender, ahorn.id, "Nachtrag Ahorn")
        async with database.read_sessions() as session:
            [follow_up_id] = (await session.scalars(select(FollowUp.id))).all()
            stored = await session.scalar(select(Alert.text_cipher).where(Alert.id == ahorn.id))
        assert stored is not None and stored.startswith(AES_GCM_V1)
        assert b"Ahorn" not in stored

        # Someone with write access to the database moves a text to another alert's row …
        await _sql(
            database,
            "UPDATE alerts SET text_cipher = (SELECT text_cipher FROM alerts WHERE id = :a) "
            "WHERE id = :b",
            a=ahorn.id,
            b=birke.id,
        )
        with pytest.raises(UnreadableText):
            await alerts.text(birke.id)
        # … or into another table (the follow-up), or alters a byte.
        await _sql(
            database,
            "UPDATE follow_ups SET text_cipher = (SELECT text_cipher FROM alerts WHERE id = :a) "
            "WHERE id = :f",
            a=ahorn.id,
            f=follow_up_id,
        )
        with pytest.raises(UnreadableText):
            await alerts.follow_up_text(follow_up_id)
        altered = stored[:-1] + bytes([stored[-1] ^ 1])
        await _sql(
            database, "UPDATE alerts SET text_cipher = :t WHERE id = :a", t=altered, a=ahorn.id
        )
        with pytest.raises(UnreadableText):
            await alerts.text(ahorn.id)
    finally:
        await database.dispose()


async def test_fernet_texts_from_before_still_decrypt_and_rotation_binds_them_to_their_row(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = generate_encryption_key()
    database = Database(database_url)
    try:
        sender, _ = await _two_members(database)
        alerts = AlertService(
            UnitOfWorkFactory(database, SystemClock()), load_network(), TextCipher([key]), PERIODS
        )
        ahorn = (await alerts.raise_alert(sender, ["justice"], "HRO", "normal", "Fall Ahorn")).alert
        birke = (await alerts.raise_alert(sender, ["justice"], "HRO", "normal", "Fall Birke")).alert
        # As versions before 0011 stored them: Fernet, bound to nothing.
        for alert_id, old_text in ((ahorn.id, "Alter Text Ahorn"), (birke.id, "Alter Text Birke")):
            legacy = Fernet(key).encrypt(old_text.encode())
            await _sql(
                database, "UPDATE alerts SET text_cipher = :t WHERE id = :a", t=legacy, a=alert_id
            )
        assert await alerts.text(ahorn.id) == "Alter Text Ahorn"
    finally:
        await database.dispose()

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CORA_ENCRYPTION_KEY", key)  # the same key: only the format changes
    assert await asyncio.to_thread(main, ["keys", "rotate"]) == 0
    assert "Re-encrypted 2 stored texts" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["keys", "rotate"]) == 0
    assert "Re-encrypted 0 stored texts" in capsys.readouterr().out  # nothing left to do

    database = Database(database_url)
    try:
        alerts = AlertService(
            UnitOfWorkFactory(database, SystemClock()), load_network(), TextCipher([key]), PERIODS
        )
        async with database.read_sessions() as session:
            stored = await session.scalar(select(Alert.text_cipher).where(Alert.id == ahorn.id))
        assert stored is not None and stored.startswith(AES_GCM_V1)
        assert await alerts.text(ahorn.id) == "Alter Text Ahorn"
        await _sql(
            database,
            "UPDATE alerts SET text_cipher = (SELECT text_cipher FROM alerts WHERE id = :a) "
            "WHERE id = :b",
            a=ahorn.id,
            b=birke.id,
        )
        with pytest.raises(UnreadableText):
            await alerts.text(birke.id)
    finally:
        await database.dispose()

    # Rotation leaves a text that does not decrypt as it is, names it, and fails.
    monkeypatch.setenv("CORA_ENCRYPTION_KEY", f"{generate_encryption_key()},{key}")
    assert await asyncio.to_thread(main, ["keys", "rotate"]) == 1
    captured = capsys.readouterr()
    assert "Re-encrypted 1 stored texts" in captured.out
    assert f"alerts.text_cipher:{birke.id}" in captured.err
