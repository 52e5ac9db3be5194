"""`cora-bot keys rotate` re-encrypts every stored text so that the old key can be removed;
rotating the audit signing key leaves earlier checkpoints verifiable."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from bot.alerts import AlertService, EscalationPeriods
from bot.cli import main
from bot.clock import SystemClock
from bot.keys import (
    TextCipher,
    generate_encryption_key,
    generate_signing_key,
    key_id,
    public_key_text,
)
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
