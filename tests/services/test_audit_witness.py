"""Someone with write access to the database rewrites the audit log by plain SQL, the way
someone who tries would: recomputing every hash after the change, fixing the head row and
removing the checkpoint rows that would give the change away. The witness file outside the
database, a head copied from the coordinators' message (`--head`) and the checks before
signing expose each attack, and `cora-bot audit checkpoint` refuses to sign the forgery."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import audit, i18n, keys
from bot.alerts import AlertService, EscalationPeriods
from bot.app import CoraBot
from bot.audit.witness import Witnessed, read
from bot.cli import main
from bot.clock import ManualClock
from bot.delivery import DeliveryService, Outcome, Result
from bot.keys import TextCipher, generate_encryption_key, generate_signing_key
from bot.membership import ADMIN_ACTOR, MembershipService, TelegramIdentity
from bot.network import load_network
from localapi.server import LocalBotApi
from storage.audit import event_hash
from storage.db import Database
from storage.uow import UnitOfWorkFactory
from tests.story import expect, join, reply_to

SIGNING_KEY = generate_signing_key()
KEY = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(SIGNING_KEY))


@dataclass
class History:
    """A real history of the last 45 minutes: members join, alerts are raised, delivered and
    closed, and every 15 minutes the head is signed and witnessed, as the running bot does."""

    database: Database
    database_url: str
    data_dir: Path
    checkpoints: list[Witnessed]

    @property
    def witness_file(self) -> Path:
        return self.data_dir / "audit-witness.jsonl"


@pytest.fixture
async def history(database_url: str, tmp_path: Path) -> AsyncIterator[History]:
    database = Database(database_url)
    clock = ManualClock(datetime.now(UTC) - timedelta(minutes=45))
    uow = UnitOfWorkFactory(database, clock)
    network = load_network()
    alerts = AlertService(
        uow,
        network,
        TextCipher([generate_encryption_key()]),
        EscalationPeriods(timedelta(minutes=15), timedelta(hours=4)),
    )
    membership = MembershipService(uow, network, 90)
    outbox = DeliveryService(uow, network, instance_id="test")
    data_dir = tmp_path / "data"
    witness_file = data_dir / "audit-witness.jsonl"

    async def member(n: int, sector: str, region: str, role: str = "member") -> int:
        invite = await membership.create_invite(ADMIN_ACTOR, sector, region, role=role)
        progress = await membership.redeem_invite(TelegramIdentity(600 + n, 600 + n), invite.token)
        await membership.give_text(progress.member.id, f"Person {n}")
        return (await membership.give_text(progress.member.id, "Amt")).member.id

    async def alert(sender: int) -> int:
        raised = await alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
        jobs = await outbox.claim(20)
        await outbox.record([Result(job.id, Outcome.SENT, message_id=1) for job in jobs])
        return raised.alert.id

    async def sign() -> None:
        signed = await audit.sign_checkpoint(uow, KEY, witness_file=witness_file)
        assert signed.checkpoint is not None, signed

    coordinator = await member(0, "coordination", "MV", role="coordinator")
    sender = await member(1, "victim_support", "HRO")
    for n in range(2, 5):
        await member(n, "police", "HRO")
    first = await alert(sender)
    await sign()
    clock.advance(timedelta(minutes=15))
    await alerts.close(sender, first)
    await membership.create_invite(coordinator, "health", "SN")
    await member(5, "police", "HRO")
    await sign()
    clock.advance(timedelta(minutes=15))
    second = await alert(sender)
    await sign()
    clock.advance(timedelta(minutes=10))  # the window after the newest checkpoint
    await alerts.acknowledge(sender + 1, second)
    yield History(database, database_url, data_dir, read(witness_file))
    await database.dispose()


async def _recompute(connection: AsyncConnection, start: int) -> None:
    """What a forger does after a change: rehash every later event and move the head (with
    the head locked, as the bot does, so that nothing is appended meanwhile)."""
    await connection.execute(text("UPDATE audit_head SET seq = seq WHERE id = 1"))
    rows = (
        await connection.execute(
            text(
                "SELECT seq, occurred_at, actor, action, subject, details, prev_hash "
                "FROM audit_events ORDER BY seq"
            )
        )
    ).all()
    previous = None
    for seq, occurred_at, actor, action, subject, details, prev_hash in rows:
        digest = None
        if seq >= start:
            prev_hash = previous or prev_hash
            digest = event_hash(prev_hash, seq, occurred_at, actor, action, subject, details)
            await connection.execute(
                text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                {"p": prev_hash, "h": digest, "s": seq},
            )
        previous = (
            digest
            or (
                await connection.execute(
                    text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": seq}
                )
            ).scalar_one()
        )
    await _move_head(connection)


async def _move_head(connection: AsyncConnection) -> None:
    await connection.execute(
        text(
            "UPDATE audit_head SET seq = (SELECT max(seq) FROM audit_events), "
            "hash = (SELECT hash FROM audit_events "
            "WHERE seq = (SELECT max(seq) FROM audit_events))"
        )
    )


async def _sql(connection: AsyncConnection, statement: str, **params: int) -> None:
    await connection.execute(text(statement), params)


async def edit_after_the_last_checkpoint(c: AsyncConnection, h: History) -> int:
    # The forger wants the newest hour changed: the event lies after the last checkpoint once
    # the newest checkpoint row is gone.
    target = h.checkpoints[1].seq + 2
    await _sql(c, "DELETE FROM audit_checkpoints WHERE seq >= :k", k=target)
    await c.execute(
        text("UPDATE audit_events SET details = :d WHERE seq = :k"),
        {"d": '{"alert":99}', "k": target},
    )
    await _recompute(c, target)
    return h.checkpoints[2].seq


async def delete_the_tail(c: AsyncConnection, h: History) -> int:
    cut = h.checkpoints[1].seq + 3
    await _sql(c, "DELETE FROM audit_events WHERE seq >= :k", k=cut)
    await _sql(c, "DELETE FROM audit_checkpoints WHERE seq >= :k", k=cut)
    await _move_head(c)
    return cut


async def delete_checkpoints_and_renumber(c: AsyncConnection, h: History) -> int:
    target = 7
    await _sql(c, "DELETE FROM audit_checkpoints")
    await _sql(c, "DELETE FROM audit_events WHERE seq = :k", k=target)
    # Renumber in two steps, so that no two rows share a number in between.
    await _sql(c, "UPDATE audit_events SET seq = -seq WHERE seq > :k", k=target)
    await _sql(c, "UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0")
    await _recompute(c, target)
    return h.checkpoints[0].seq


async def change_an_actor(c: AsyncConnection, h: History) -> int:
    target = h.checkpoints[0].seq + 1
    await _sql(c, "UPDATE audit_events SET actor = 'member:99' WHERE seq = :k", k=target)
    await _sql(c, "DELETE FROM audit_checkpoints WHERE seq >= :k", k=target)
    await _recompute(c, target)
    return h.checkpoints[1].seq


async def truncate_to_10_events(c: AsyncConnection, h: History) -> int:
    await _sql(c, "DELETE FROM audit_events WHERE seq > 10")
    await _sql(c, "DELETE FROM audit_checkpoints WHERE seq > 10")
    await _move_head(c)
    return 11


ATTACKS: dict[str, Callable[[AsyncConnection, History], object]] = {
    "edit an event after the last checkpoint": edit_after_the_last_checkpoint,
    "delete the tail": delete_the_tail,
    "delete all checkpoints, delete an event, renumber": delete_checkpoints_and_renumber,
    "change an actor": change_an_actor,
    "truncate to 10 events": truncate_to_10_events,
}


async def _cli(
    history: History,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    data_dir: Path | None = None,
) -> tuple[int, str]:
    monkeypatch.setenv("DATABASE_URL", history.database_url)
    monkeypatch.setenv("CORA_AUDIT_SIGNING_KEY", SIGNING_KEY)
    monkeypatch.setenv("CORA_DATA_DIR", str(data_dir or history.data_dir))
    try:
        code = await asyncio.to_thread(main, list(args))
    except SystemExit as exit:  # argparse refusing an argument
        code = int(exit.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_a_rewritten_history_is_exposed_and_never_signed(
    history: History,
    attack: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, output = await _cli(history, monkeypatch, capsys, "audit", "verify")
    assert code == 0 and "3 witnessed head(s)" in output and "intact" in output, output
    async with history.database.engine.begin() as connection:
        first_bad = await ATTACKS[attack](connection, history)  # type: ignore[misc]
    # The forgery is consistent in itself: the chain and the remaining checkpoints pass.
    chain_only = await audit.verify(history.database, [KEY.public_key()])
    assert chain_only.ok, chain_only.problem

    # The witness file exposes it, naming the first witnessed head that is no longer there.
    code, output = await _cli(history, monkeypatch, capsys, "audit", "verify")
    assert code == 1, output
    assert f"AUDIT LOG NOT INTACT at sequence number {first_bad}:" in output, output

    # So does the head from the coordinators' daily message, even without the witness file.
    newest = history.checkpoints[-1]
    empty = tmp_path / "elsewhere"
    head = f"{newest.seq}:{newest.hash}"
    code, output = await _cli(
        history, monkeypatch, capsys, "audit", "verify", "--head", head, data_dir=empty
    )
    assert code == 1 and "AUDIT LOG NOT INTACT at sequence number" in output, output

    # The signer refuses to sign the forged head, and the witness file stays as it was.
    before = history.witness_file.read_text()
    code, output = await _cli(history, monkeypatch, capsys, "audit", "checkpoint")
    assert code == 1 and "REFUSED to sign" in output, output
    assert history.witness_file.read_text() == before
    code, output = await _cli(history, monkeypatch, capsys, "audit", "verify")
    assert code == 1 and "AUDIT LOG NOT INTACT" in output, output


async def test_the_witness_file_holds_one_signed_line_per_checkpoint(
    history: History, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = history.witness_file.read_text().splitlines()
    assert len(lines) == 3
    async with history.database.read_sessions() as session:
        rows = (
            await session.execute(
                text("SELECT seq, hash, signed_at, key_id, signature FROM audit_checkpoints")
            )
        ).all()
    assert [Witnessed(*row) for row in rows] == history.checkpoints
    record = json.loads(lines[-1])
    assert set(record) == {"seq", "hash", "signed_at", "key_id", "signature"}
    # The CLI appends to the same file, after what is there.
    code, output = await _cli(history, monkeypatch, capsys, "audit", "checkpoint")
    assert code == 0 and "Signed checkpoint" in output, output
    assert history.witness_file.read_text().splitlines()[:3] == lines
    assert len(read(history.witness_file)) == 4


async def test_verify_reads_another_witness_file_and_refuses_a_missing_or_broken_one(
    history: History,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    copy = tmp_path / "worm" / "witness.jsonl"
    copy.parent.mkdir()
    copy.write_text(history.witness_file.read_text())
    history.witness_file.unlink()  # the server's copy is gone; the auditor brings theirs
    code, output = await _cli(history, monkeypatch, capsys, "audit", "verify")
    assert code == 0 and "witnessed" not in output, output
    code, output = await _cli(
        history, monkeypatch, capsys, "audit", "verify", "--witness", str(copy)
    )
    assert code == 0 and f"3 witnessed head(s) from {copy}" in output, output
    async with history.database.engine.begin() as connection:
        await delete_the_tail(connection, history)
    code, output = await _cli(
        history, monkeypatch, capsys, "audit", "verify", "--witness", str(copy)
    )
    assert code == 1 and "NOT INTACT" in output, output

    missing = tmp_path / "nowhere.jsonl"
    code, output = await _cli(
        history, monkeypatch, capsys, "audit", "verify", "--witness", str(missing)
    )
    assert code == 2 and "does not exist" in output, output
    copy.write_text(copy.read_text() + "not a head\n")
    code, output = await _cli(
        history, monkeypatch, capsys, "audit", "verify", "--witness", str(copy)
    )
    assert code == 1 and "line 4" in output, output
    code, output = await _cli(history, monkeypatch, capsys, "audit", "verify", "--head", "12:abc")
    assert code == 2 and "is not a head like" in output, output


async def test_a_forged_witness_line_is_not_believed(
    history: History, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lines in the witness file are signed too: one made up by someone else fails."""
    newest = history.checkpoints[-1]
    forged = Witnessed(newest.seq, newest.hash, newest.signed_at, newest.key_id, "00" * 64)
    with history.witness_file.open("a") as file:
        file.write(forged.line() + "\n")
    code, output = await _cli(history, monkeypatch, capsys, "audit", "verify")
    assert code == 1 and f"sequence number {newest.seq}: a checkpoint's signature" in output


async def test_events_left_unsigned_for_two_intervals_fail_verification(
    history: History, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a witness file, deleting the newest checkpoint rows leaves events that have
    waited too long for a checkpoint; the signer's interval is AUDIT_CHECKPOINT_MINUTES."""
    history.witness_file.unlink()
    async with history.database.engine.begin() as connection:
        await _sql(
            connection, "DELETE FROM audit_checkpoints WHERE seq > :k", k=history.checkpoints[0].seq
        )
    first_unsigned = history.checkpoints[0].seq + 1  # written 30 minutes ago
    monkeypatch.setenv("AUDIT_CHECKPOINT_MINUTES", "10")
    code, output = await _cli(history, monkeypatch, capsys, "audit", "verify")
    assert code == 1, output
    assert f"sequence number {first_unsigned}: an event has waited longer" in output, output
    # Thirty minutes are within twice a 20-minute interval: no alarm before it is due.
    monkeypatch.setenv("AUDIT_CHECKPOINT_MINUTES", "20")
    code, output = await _cli(history, monkeypatch, capsys, "audit", "verify")
    assert code == 0, output


async def test_a_witness_file_that_cannot_be_written_is_reported(
    history: History,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("AUDIT_WITNESS_FILE", str(blocked / "witness.jsonl"))
    code, output = await _cli(history, monkeypatch, capsys, "audit", "checkpoint")
    assert code == 1 and "could NOT append it to the witness file" in output, output
    assert "Traceback" not in output


async def test_the_signer_refuses_when_the_witness_file_was_damaged(
    history: History, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with history.witness_file.open("a") as file:
        file.write('{"seq": "not a number"}\n')
    code, output = await _cli(history, monkeypatch, capsys, "audit", "checkpoint")
    assert code == 1 and "REFUSED" in output and "witness file cannot be read" in output
    async with history.database.read_sessions() as session:
        signed = await session.scalar(text("SELECT count(*) FROM audit_checkpoints"))
    assert signed == 3


async def test_without_the_witness_chat_no_head_message_is_queued(
    history: History, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The history has a statewide coordinator; the CLI signs as the bot would."""
    count = "SELECT count(*) FROM deliveries WHERE kind = 'audit_head'"
    monkeypatch.setenv("AUDIT_WITNESS_CHAT", "false")
    code, output = await _cli(history, monkeypatch, capsys, "audit", "checkpoint")
    assert code == 0 and "Signed checkpoint" in output, output
    async with history.database.read_sessions() as session:
        assert await session.scalar(text(count)) == 0
    monkeypatch.setenv("AUDIT_WITNESS_CHAT", "true")
    await _new_event(history)  # something new to sign
    code, output = await _cli(history, monkeypatch, capsys, "audit", "checkpoint")
    assert code == 0 and "Signed checkpoint" in output, output
    async with history.database.read_sessions() as session:
        assert await session.scalar(text(count)) == 1


async def _new_event(history: History) -> None:
    membership = MembershipService(
        UnitOfWorkFactory(history.database, ManualClock()), load_network(), 90
    )
    await membership.create_invite(ADMIN_ACTOR, "health", "SN")


# -- the running bot: the daily head message and the refusal, through the local Bot API -----


class TestTheRunningBot:
    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    async def test_statewide_coordinators_get_the_daily_head_and_hear_of_a_refusal(
        self,
        api: LocalBotApi,
        cora: CoraBot,
        clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        dana = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
        rita = await join(api, cora, "Rita Regiona", "coordination", "HRO", role="coordinator")
        kim = await join(api, cora, "Kim Polizei", "police", "HRO")
        witness_file = cora.settings.witness_path

        await cora.runtime.sign_checkpoint()
        message = await expect(dana.user, "audit.witness_head")
        [line] = read(witness_file)
        assert _head(message.text) == (line.seq, line.hash)
        assert await _head_messages(cora) == {dana.member_id: 1}  # not to regional ones
        assert not any(_HEAD_TEXT.search(m.text) for m in rita.user.messages)

        # Later the same day: signed and witnessed, but no second message.
        await reply_to(kim.user, "/language en")
        await cora.runtime.sign_checkpoint()
        assert len(read(witness_file)) == 2
        assert await _head_messages(cora) == {dana.member_id: 1}
        clock.advance(timedelta(days=1))
        await reply_to(kim.user, "/language de")
        await cora.runtime.sign_checkpoint()
        second = await expect(dana.user, "audit.witness_head", after=message)
        newest = read(witness_file)[-1]
        assert _head(second.text) == (newest.seq, newest.hash)

        # Someone edits an event after the newest checkpoint and recomputes every later hash:
        # the bot remembers what it wrote, refuses to sign and tells the statewide coordinators.
        await reply_to(kim.user, "/language en")
        async with cora.database.engine.begin() as connection:
            await connection.execute(
                text("UPDATE audit_events SET details = :d WHERE seq = :k"),
                {"d": '{"language":"de"}', "k": newest.seq + 1},
            )
            await _recompute(connection, newest.seq + 1)
        await cora.runtime.sign_checkpoint()
        refusal = await expect(dana.user, "audit.checkpoint_refused")
        assert read(witness_file)[-1] == newest  # nothing signed
        assert i18n.text("de", "audit.reason.rewritten") in refusal.text
        assert "cora-bot audit verify" in refusal.text

        # Someone who controls database and server rewrites history before the newest head,
        # removes every checkpoint and the witness file: the chain is consistent again, but
        # the head on the coordinator's phone exposes it.
        async with cora.database.engine.begin() as connection:
            await connection.execute(text("UPDATE audit_events SET actor = 'admin' WHERE seq = 3"))
            await _recompute(connection, 3)
            await connection.execute(text("DELETE FROM audit_checkpoints"))
        witness_file.unlink()
        monkeypatch.setenv("CORA_AUDIT_SIGNING_KEY", _signing_key_of(cora))
        monkeypatch.setenv("CORA_DATA_DIR", str(cora.settings.cora_data_dir))
        monkeypatch.setenv("DATABASE_URL", cora.settings.database_url)
        code = await asyncio.to_thread(main, ["audit", "verify"])
        assert code == 0, capsys.readouterr()
        seq, digest = _head(second.text)
        code = await asyncio.to_thread(main, ["audit", "verify", "--head", f"{seq}:{digest}"])
        output = capsys.readouterr()
        assert code == 1, output
        assert f"AUDIT LOG NOT INTACT at sequence number {seq}:" in output.err


_HEAD_TEXT = re.compile(r"\b(\d+):([0-9a-f]{64})\b")


def _head(message: str) -> tuple[int, str]:
    found = _HEAD_TEXT.search(message)
    assert found is not None, message
    return int(found.group(1)), found.group(2)


async def _head_messages(cora: CoraBot) -> dict[int, int]:
    async with cora.database.read_sessions() as session:
        rows = await session.execute(
            text(
                "SELECT member_id, count(*) FROM deliveries WHERE kind = 'audit_head' "
                "GROUP BY member_id"
            )
        )
        return {member: count for member, count in rows.all()}


def _signing_key_of(cora: CoraBot) -> str:
    return keys.key_file_values(cora.settings)["CORA_AUDIT_SIGNING_KEY"]
