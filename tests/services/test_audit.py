"""The audit log: one event per action in the action's own transaction, a chain that
`cora-bot audit verify` checks and that shows every kind of tampering, and signed
checkpoints."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import json
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from bot import audit
from bot.alerts import AlertService, EscalationPeriods
from bot.audit import chain
from bot.cli import main
from bot.clock import ManualClock
from bot.data_protection import DataProtectionService
from bot.delivery import DeliveryService, Outcome, Result
from bot.errors import DomainError
from bot.keys import TextCipher, generate_encryption_key, generate_signing_key
from bot.membership import ADMIN_ACTOR, MembershipService, TelegramIdentity
from bot.network import load_network
from storage.audit import GENESIS_HASH, event_hash
from storage.audit_walk import EVENTS, INPUTS, Walk, walk_sqlite
from storage.db import Database
from storage.errors import DatabaseBusyError
from storage.models import AuditEvent
from storage.uow import UnitOfWorkFactory

SIGNING_KEY = generate_signing_key()


@dataclass
class Env:
    database: Database
    database_url: str
    clock: ManualClock
    uow: UnitOfWorkFactory
    membership: MembershipService
    alerts: AlertService
    outbox: DeliveryService
    privacy: DataProtectionService
    cipher: TextCipher

    async def actions(self) -> list[str]:
        async with self.database.read_sessions() as session:
            return list(
                (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))).all()
            )

    async def member(self, n: int, sector: str, region: str, role: str = "member") -> int:
        invite = await self.membership.create_invite(ADMIN_ACTOR, sector, region, role=role)
        progress = await self.membership.redeem_invite(
            TelegramIdentity(500 + n, 500 + n), invite.token
        )
        await self.membership.give_text(progress.member.id, f"Person {n}")
        done = await self.membership.give_text(progress.member.id, "Amt")
        return done.member.id


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    database = Database(database_url)
    clock = ManualClock()
    uow = UnitOfWorkFactory(database, clock)
    network = load_network()
    cipher = TextCipher([generate_encryption_key()])
    periods = EscalationPeriods(timedelta(minutes=15), timedelta(hours=4))
    yield Env(
        database,
        database_url,
        clock,
        uow,
        MembershipService(uow, network, 90),
        AlertService(uow, network, cipher, periods),
        DeliveryService(uow, network, instance_id="test"),
        DataProtectionService(uow, network, timedelta(days=90)),
        cipher,
    )
    await database.dispose()


async def _new_actions(env: Env, action: Callable[[], Awaitable[Any]]) -> list[str]:
    before = len(await env.actions())
    await action()
    return (await env.actions())[before:]


async def test_each_action_writes_exactly_its_own_event_and_a_refused_one_none(env: Env) -> None:
    coordinator = await env.member(0, "coordination", "MV", role="coordinator")
    sender = await env.member(1, "victim_support", "HRO")
    police = await env.member(2, "police", "HRO")
    applicant = (await env.membership.start_request(TelegramIdentity(777, 777))).member.id
    raised: dict[str, int] = {}

    async def raise_alert() -> None:
        raised["id"] = (
            await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
        ).alert.id

    async def deliver() -> None:
        [job] = [job for job in await env.outbox.claim(20) if job.kind == "alert"]
        await env.outbox.record([Result(job.id, Outcome.SENT, message_id=1)])

    async def escalate() -> None:
        env.clock.advance(timedelta(minutes=16))
        await env.alerts.escalate_due()

    steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("invite.created", lambda: env.membership.create_invite(coordinator, "health", "SN")),
        ("request.submitted", lambda: _submit(env, applicant)),
        ("member.approved", lambda: env.membership.approve(coordinator, applicant)),
        ("member.changed", lambda: env.membership.change(coordinator, applicant, region="VG")),
        ("member.language_changed", lambda: env.membership.set_language(police, "en")),
        ("alert.raised", raise_alert),
        ("delivery.sent", deliver),
        ("alert.escalated", escalate),
        ("alert.acknowledged", lambda: env.alerts.acknowledge(police, raised["id"])),
        ("alert.taken_over", lambda: env.alerts.take_over(police, raised["id"])),
        ("alert.followed_up", lambda: env.alerts.follow_up(sender, raised["id"], "Neu")),
        ("alert.closed", lambda: env.alerts.close(sender, raised["id"])),
        ("member.revoked", lambda: env.membership.revoke(coordinator, applicant)),
        ("member.data_exported", lambda: env.privacy.my_data(police)),
        ("member.erased", lambda: env.privacy.erase(police, police)),
    ]
    for action, step in steps:
        assert await _new_actions(env, step) == [action]

    refusals: list[Callable[[], Awaitable[Any]]] = [
        lambda: env.membership.approve(coordinator, applicant),  # already revoked
        lambda: env.membership.create_invite(sender, "police", "HRO"),  # not a coordinator
        lambda: env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Tel. 0381 123456"),
        lambda: env.alerts.acknowledge(coordinator, raised["id"]),  # not a recipient
        lambda: env.privacy.erase(police, police),  # already erased
    ]
    for refused in refusals:
        before = await env.actions()
        with pytest.raises(DomainError):
            await refused()
        assert await env.actions() == before


async def _submit(env: Env, applicant: int) -> None:
    await env.membership.choose_sector(applicant, "justice")
    await env.membership.choose_region(applicant, "HRO")
    await env.membership.give_text(applicant, "Amtsgericht")
    await env.membership.give_text(applicant, "Toni Test")


@pytest.mark.fresh_database  # creates a function and a trigger
async def test_the_action_and_its_event_commit_together(env: Env, database_url: str) -> None:
    """If writing the audit event fails, the action itself is not written either."""
    coordinator = await env.member(0, "coordination", "MV", role="coordinator")
    applicant = (await env.membership.start_request(TelegramIdentity(778, 778))).member.id
    await _submit(env, applicant)
    async with env.database.engine.begin() as connection:
        if database_url.startswith("sqlite"):
            await connection.execute(
                text(
                    "CREATE TRIGGER refuse_approval BEFORE INSERT ON audit_events "
                    "WHEN NEW.action = 'member.approved' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            await connection.execute(
                text(
                    "CREATE FUNCTION refuse_approval() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.action = 'member.approved' THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            await connection.execute(
                text(
                    "CREATE TRIGGER refuse_approval BEFORE INSERT ON audit_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_approval()"
                )
            )
    before = await env.actions()
    with pytest.raises(DatabaseBusyError) as failed:
        await env.membership.approve(coordinator, applicant)
    assert "refused" in str(failed.value.__cause__)
    member = await env.membership.get(applicant)
    assert member is not None and member.status == "pending"
    assert await env.actions() == before


async def _verify_cli(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setenv("DATABASE_URL", env.database_url)
    monkeypatch.setenv("CORA_AUDIT_SIGNING_KEY", SIGNING_KEY)
    code = await asyncio.to_thread(main, ["audit", "verify"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


async def _history(env: Env) -> None:
    """A real history of a few dozen events, with a signed checkpoint in the middle."""
    coordinator = await env.member(0, "coordination", "MV", role="coordinator")
    sender = await env.member(1, "victim_support", "HRO")
    for n in range(2, 6):
        await env.member(n, "police", "HRO")
    raised = await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Lage")
    jobs = await env.outbox.claim(10)
    await env.outbox.record([Result(j.id, Outcome.SENT, message_id=1) for j in jobs])
    key = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(SIGNING_KEY))
    assert (await audit.sign_checkpoint(env.uow, key)).checkpoint is not None
    await env.alerts.close(sender, raised.alert.id)
    await env.membership.create_invite(coordinator, "health", "SN")


TAMPERING = {
    # name: (SQL, the sequence number verify must name)
    "modified": ("UPDATE audit_events SET details = '{{\"x\":1}}' WHERE seq = {k}", lambda k, n: k),
    "deleted": ("DELETE FROM audit_events WHERE seq = {k}", lambda k, n: k),
    "reordered": (
        "UPDATE audit_events SET seq = CASE WHEN seq = {k} THEN -1 ELSE seq END WHERE seq = {k};"
        "UPDATE audit_events SET seq = {k} WHERE seq = {k} + 1;"
        "UPDATE audit_events SET seq = {k} + 1 WHERE seq = -1",
        lambda k, n: k,
    ),
    "inserted": (
        "UPDATE audit_events SET seq = seq + 1000 WHERE seq > {k};"
        "UPDATE audit_events SET seq = seq - 999 WHERE seq > 1000;"
        "INSERT INTO audit_events "
        "(seq, occurred_at, actor, action, subject, details, prev_hash, hash) "
        "SELECT {k} + 1, occurred_at, 'admin', 'member.approved', 'member:1', '{{}}', hash, "
        "'0000000000000000000000000000000000000000000000000000000000000001' "
        "FROM audit_events WHERE seq = {k}",
        lambda k, n: k + 1,
    ),
    "truncated": (
        "DELETE FROM audit_events WHERE seq >= {k} - 3;"
        "UPDATE audit_head SET seq = (SELECT max(seq) FROM audit_events), "
        "hash = (SELECT hash FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events))",
        lambda k, n: k - 3,
    ),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
async def test_verify_names_the_first_tampered_event(
    env: Env, kind: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _history(env)
    code, output = await _verify_cli(env, monkeypatch, capsys)
    assert code == 0 and "intact" in output, output
    async with env.database.read_sessions() as session:
        total = len((await session.scalars(select(AuditEvent.seq))).all())
        checkpoint_seq = await session.scalar(text("SELECT max(seq) FROM audit_checkpoints"))
    # Tamper before the checkpoint for most kinds; truncation cuts into what it covers.
    k = checkpoint_seq if kind == "truncated" else total // 3
    sql, expected = TAMPERING[kind]
    async with env.database.engine.begin() as connection:
        for statement in sql.format(k=k).split(";"):
            await connection.exec_driver_sql(statement)
    code, output = await _verify_cli(env, monkeypatch, capsys)
    assert code == 1, output
    assert f"sequence number {expected(k, total)}:" in output, (kind, output)


BATCH = 4  # rows per fetch in the tests below: a short history crosses many batches


@pytest.mark.parametrize("kind", ["modified", "deleted", "reordered"])
@pytest.mark.parametrize("place", ["last of a batch", "first of the next"])
async def test_verify_reads_every_row_across_batch_boundaries(
    env: Env, kind: str, place: str
) -> None:
    """Verification streams the log in batches: the event on either side of a boundary is
    checked like every other, so a batch that skipped or repeated a row would show."""
    await _history(env)
    key = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(SIGNING_KEY))
    keys = [key.public_key()]
    intact = await audit.verify(env.database, keys, batch=BATCH)
    assert intact.ok and intact.head_seq == intact.events > 3 * BATCH, intact
    k = 2 * BATCH + (1 if place == "first of the next" else 0)
    sql, expected = TAMPERING[kind]
    async with env.database.engine.begin() as connection:
        for statement in sql.format(k=k).split(";"):
            await connection.exec_driver_sql(statement)
    found = await audit.verify(env.database, keys, batch=BATCH)
    reason = "missing" if kind == "deleted" else kind
    assert found.problem is not None
    assert (found.problem.seq, found.problem.reason) == (expected(k, 0), reason), found


def test_the_hash_spells_out_the_canonical_json() -> None:
    """event_hash writes the event's JSON itself (for speed); it must stay byte for byte what
    json.dumps wrote when the chain was started, for every text an event can hold."""
    texts = ["", 'say "hi"', "back\\slash", "line\nbreak\t\x00\x1f\x7f", "Zoë ✓ 🚨", "\u2028\ud7ff"]
    for text_ in texts:
        body = json.dumps(
            [12, text_, "member:1", text_, "alert:5", text_],
            separators=(",", ":"),
            ensure_ascii=False,
        )
        canonical = hashlib.sha256(f"{GENESIS_HASH}\n{body}".encode()).hexdigest()
        assert event_hash(GENESIS_HASH, 12, text_, "member:1", text_, "alert:5", text_) == canonical


async def test_a_chain_written_by_50_concurrent_actions_has_no_fork(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    coordinator = await env.member(0, "coordination", "MV", role="coordinator")
    members = [await env.member(n, "police", "HRO") for n in range(1, 6)]
    work: list[Awaitable[Any]] = []
    for n in range(50):
        if n % 2:
            work.append(env.membership.create_invite(coordinator, "health", "SN"))
        else:
            work.append(env.membership.set_language(members[n % 5], "en" if n % 4 else "de"))
    await asyncio.gather(*work)
    async with env.database.read_sessions() as session:
        rows = (
            await session.execute(
                select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash).order_by(
                    AuditEvent.seq
                )
            )
        ).all()
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    assert len({row.prev_hash for row in rows}) == len(rows)  # no two events share a parent
    code, output = await _verify_cli(env, monkeypatch, capsys)
    assert code == 0, output


async def test_the_head_this_process_wrote_is_not_read_again_and_others_events_are_followed(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    member = await env.member(1, "police", "HRO")
    head_reads: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "audit_head" in statement:
            head_reads.append(statement)

    event.listen(env.database.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await env.membership.set_language(member, "en")
        await env.membership.set_language(member, "de")
        assert head_reads == []  # chained behind the head this process committed
        # Another writer (a second instance, a `cora-bot` command) appends meanwhile.
        other_database = Database(env.database_url)
        try:
            other = MembershipService(
                UnitOfWorkFactory(other_database, env.clock), load_network(), 90
            )
            await other.set_language(member, "en")
        finally:
            await other_database.dispose()
        await env.membership.set_language(member, "de")
        assert len(head_reads) == 1  # the head moved: read and locked as before
        await env.membership.set_language(member, "en")
        assert len(head_reads) == 1
    finally:
        event.remove(env.database.engine.sync_engine, "before_cursor_execute", seen)
    async with env.database.read_sessions() as session:
        rows = (
            await session.execute(
                select(AuditEvent.seq, AuditEvent.prev_hash).order_by(AuditEvent.seq)
            )
        ).all()
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    assert len({row.prev_hash for row in rows}) == len(rows)  # no fork
    code, output = await _verify_cli(env, monkeypatch, capsys)
    assert code == 0, output


async def test_export_writes_jsonl_and_csv_and_is_audited(
    env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    await _history(env)
    before = await env.actions()
    monkeypatch.setenv("DATABASE_URL", env.database_url)
    monkeypatch.setenv("CORA_AUDIT_SIGNING_KEY", SIGNING_KEY)
    jsonl, csv_file = tmp_path / "audit.jsonl", tmp_path / "audit.csv"
    assert await asyncio.to_thread(main, ["audit", "export", "--output", str(jsonl)]) == 0
    assert (
        await asyncio.to_thread(
            main,
            [
                "audit",
                "export",
                "--format",
                "csv",
                "--output",
                str(csv_file),
                "--since",
                "2000-01-01",
            ],
        )
        == 0
    )
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["action"] for line in lines] == before
    assert {
        "seq",
        "occurred_at",
        "actor",
        "action",
        "subject",
        "details",
        "prev_hash",
        "hash",
    } == set(lines[0])
    rows = list(csv.DictReader(csv_file.open()))
    assert len(rows) == len(before) + 1  # the first export is in the log by now
    assert (await env.actions())[-2:] == ["audit.exported", "audit.exported"]
    future = await asyncio.to_thread(
        main, ["audit", "export", "--since", "2999-01-01", "--output", str(jsonl)]
    )
    assert future == 0 and jsonl.read_text() == ""


WORKERS = 3  # ranges checked side by side in the tests below; a short history has two seams


async def _parallel(env: Env, **options: Any) -> audit.Verification:
    key = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(SIGNING_KEY))
    return await audit.verify(
        env.database, [key.public_key()], workers=WORKERS, parallel_from=0, batch=BATCH, **options
    )


async def test_a_long_chain_is_verified_in_ranges_side_by_side(env: Env) -> None:
    """A chain of PARALLEL_FROM events or more is split into one range per worker process;
    a shorter one stays in the verifying process."""
    await _history(env)
    key = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(SIGNING_KEY))
    alone = await audit.verify(env.database, [key.public_key()], workers=WORKERS)
    side_by_side = await _parallel(env)
    assert alone.ok and alone.ranges == 1, alone
    assert side_by_side.ok and side_by_side.ranges == WORKERS, side_by_side
    assert (side_by_side.events, side_by_side.head_seq) == (alone.events, alone.head_seq)
    assert side_by_side.head_seq == side_by_side.events > 3 * WORKERS


@pytest.mark.parametrize("kind", ["modified", "deleted", "reordered", "inserted"])
@pytest.mark.parametrize("place", ["last of a range", "first of the next"])
async def test_verify_in_ranges_names_the_same_event_at_a_seam(
    env: Env, kind: str, place: str
) -> None:
    """Each range is checked on its own, and its first link where the ranges are joined: a
    change on either side of a seam is named exactly as by one process walking the chain."""
    await _history(env)
    async with env.database.read_sessions() as session:
        top = await session.scalar(text("SELECT max(seq) FROM audit_events"))
    seams = [high for _, high in chain.split(None, top, WORKERS)][:-1]
    k = seams[-1] + (1 if place == "first of the next" else 0)
    sql, expected = TAMPERING[kind]
    async with env.database.engine.begin() as connection:
        for statement in sql.format(k=k).split(";"):
            await connection.exec_driver_sql(statement)
    key = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(SIGNING_KEY))
    alone = await audit.verify(env.database, [key.public_key()], batch=BATCH)
    found = await _parallel(env)
    # An inserted event links to its predecessor but cannot have a hash that matches.
    reason = {"deleted": "missing", "inserted": "modified"}.get(kind, kind)
    assert alone.problem is not None and found.ranges == WORKERS
    assert (alone.problem.seq, alone.problem.reason) == (expected(k, 0), reason), alone
    assert (found.problem, found.head_seq) == (alone.problem, alone.head_seq), found


async def test_verify_in_ranges_finds_a_range_deleted_whole(env: Env) -> None:
    """Every event of the middle range deleted: its worker finds nothing at all, and the next
    range's first event does not follow the last one before the gap."""
    await _history(env)
    async with env.database.read_sessions() as session:
        top = await session.scalar(text("SELECT max(seq) FROM audit_events"))
    low, high = chain.split(None, top, WORKERS)[1]
    async with env.database.engine.begin() as connection:
        await connection.exec_driver_sql(
            f"DELETE FROM audit_events WHERE seq > {low} AND seq <= {high}"
        )
    found = await _parallel(env)
    assert found.ranges == WORKERS and found.problem is not None
    assert (found.problem.seq, found.problem.reason) == (low + 1, "missing"), found
    assert found.head_seq == low


async def test_events_appended_while_ranges_are_checked_are_no_false_alarm(env: Env) -> None:
    """The workers start after the verification has read the head; events appended meanwhile
    (the bot keeps running) are beyond what it checks, not a broken head."""
    await _history(env)
    member = await env.member(9, "police", "HRO")
    verifying = False
    appended_while: list[int] = []

    async def append() -> None:
        language = "en"
        while verifying:
            await env.membership.set_language(member, language)
            language = "de" if language == "en" else "en"
            appended_while.append(1)
            await asyncio.sleep(0)

    for _ in range(3):
        verifying = True
        writer = asyncio.create_task(append())
        await asyncio.sleep(0.01)
        before = len(appended_while)
        found = await _parallel(env)
        during = len(appended_while) - before
        verifying = False
        await writer
        assert found.ok and found.ranges == WORKERS, found
        assert found.head_seq == found.events
        assert during > 0  # events were appended while the ranges were checked
        async with env.database.read_sessions() as session:
            newest = await session.scalar(text("SELECT max(seq) FROM audit_events"))
        assert newest > found.head_seq


# ---- SQLite builds the hash input: never trusted where it differs from event_hash ----------

# Texts where JSON encoders are known to part ways: control characters (\u00XX and its case,
# the short escapes), quotes and backslashes, DEL, non-ASCII, U+2028/2029, byte-order marks,
# the end of the BMP and the planes above it.
NASTY = [
    "",
    '"',
    "\\",
    '\\"',
    "\x00",
    "\x00x",
    "\x01\x1f",
    "\x08\x0c\n\r\t\x0b",
    "\x7f",
    "\x80\x85\x9f\xa0",
    "\u2028\u2029",
    "\ufeff\ufffe\uffff",
    "Zoë ✓ 🚨 \U0010ffff",
    "</script>",
    "\\u0000",
    '{"kind":"alert","member":7}',
    "null",
    "1e3",
]


def _inputs_database(template: Path, directory: Path) -> sqlite3.Connection:
    path = directory / "inputs.db"
    shutil.copy(template, path)
    return sqlite3.connect(path, isolation_level=None)


def _input(connection: sqlite3.Connection, seq: int, fields: Sequence[str], prev: str) -> bytes:
    """The hash input SQLite builds for one stored event (INPUTS, as the walk reads it)."""
    connection.execute("DELETE FROM audit_events")
    connection.execute(
        "INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (seq, *fields, prev, "h")
    )
    rows = connection.execute(INPUTS).fetchall()
    assert len(rows) == 1 and rows[0][:3] == (seq, prev, "h")
    data: bytes = rows[0][3]
    return data


def test_sqlite_writes_the_hash_input_event_hash_writes(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """SQLite's json_array quotes every text as event_hash (json.dumps) does: every code point
    (escaping is per character), a table of nasty strings, and arbitrary events."""
    connection = _inputs_database(sqlite_template, tmp_path)
    prev = hashlib.sha256(b"prev").hexdigest()

    def same(seq: int, fields: Sequence[str]) -> None:
        data = _input(connection, seq, fields, prev)
        body = json.dumps([seq, *fields], separators=(",", ":"), ensure_ascii=False)
        assert data == f"{prev}\n{body}".encode(), (seq, fields)
        assert hashlib.sha256(data).hexdigest() == event_hash(prev, seq, *fields)

    code_points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(code_points), 4096):
        block = "".join(code_points[start : start + 4096])
        same(start + 1, [block, "system", block[::-1], "alert:1", "{}"])
    for nasty in NASTY:
        same(2**63 - 1, [nasty, nasty + "x", "x" + nasty, nasty * 3, nasty])

    nasty_text = st.text(st.sampled_from("".join(NASTY) + "ab"), max_size=30)
    any_text = st.one_of(st.text(max_size=80), nasty_text)

    @hypothesis.settings(max_examples=400, deadline=None, database=None)
    @hypothesis.given(st.integers(0, 2**63 - 1), st.lists(any_text, min_size=5, max_size=5))
    def any_event(seq: int, fields: list[str]) -> None:
        same(seq, fields)

    any_event()
    connection.close()


def _walk_file(env: Env, inputs: str) -> Walk:
    """A worker's walk over the whole chain of the test's SQLite file, SQLite building the
    hash inputs with `inputs`."""
    path = make_url(env.database_url).database
    assert path is not None
    connection = sqlite3.connect(path)
    try:
        walk = Walk(1, GENESIS_HASH, {})
        walk_sqlite(connection, walk, None, None, inputs)
    finally:
        connection.close()
    return walk


# An SQLite whose JSON spells every event's action differently; and one that cannot build the
# input of event 5 (json_array refuses a BLOB) or any input at all (a build without JSON).
DIFFERENT = INPUTS.replace(
    "json_array(seq, occurred_at, actor, action,",
    "json_array(seq, occurred_at, actor, upper(action),",
)
REFUSES_5 = INPUTS.replace("subject, details)", "subject, iif(seq = 5, x'00', details))")
NO_JSON = INPUTS.replace("json_array(", "no_such_json_array(")
INPUT_VARIANTS = {
    "same": INPUTS,
    "different": DIFFERENT,
    "refuses 5": REFUSES_5,
    "no JSON": NO_JSON,
}


async def test_where_sqlite_writes_the_input_differently_event_hash_decides(env: Env) -> None:
    """An event whose input from SQLite does not hash to its hash is checked from its own
    columns before it counts as modified; where SQLite cannot build an input, the rest of the
    range is read column by column. An intact chain verifies either way, and SQLite's input
    is used where it agrees: only the first event is checked from its columns."""
    if not env.database.is_sqlite:
        pytest.skip("SQLite builds the hash input; PostgreSQL's workers read the columns")
    await _history(env)
    async with env.database.read_sessions() as session:
        total = await session.scalar(text("SELECT count(*) FROM audit_events"))
    assert total > 10
    walks = {name: _walk_file(env, inputs) for name, inputs in INPUT_VARIANTS.items()}
    for name, walk in walks.items():
        assert walk.problem is None and walk.events == total, (name, walk.problem)
        assert walk.last[0] == total, name
    assert walks["same"].by_columns == 1
    assert walks["different"].by_columns == total
    assert walks["refuses 5"].by_columns == 1  # events 1 to 4 from SQLite, the rest by columns


@pytest.mark.parametrize("variant", sorted(INPUT_VARIANTS))
@pytest.mark.parametrize("kind", ["modified", "deleted", "reordered", "inserted"])
async def test_tampering_is_found_whatever_sqlite_writes(env: Env, kind: str, variant: str) -> None:
    """With the input from SQLite, from event_hash, or partly from each, a worker's walk
    names the same event and reason as the walk over the columns alone."""
    if not env.database.is_sqlite:
        pytest.skip("SQLite builds the hash input; PostgreSQL's workers read the columns")
    await _history(env)
    k = 7
    sql, expected = TAMPERING[kind]
    async with env.database.engine.begin() as connection:
        for statement in sql.format(k=k).split(";"):
            await connection.exec_driver_sql(statement)
    found = _walk_file(env, INPUT_VARIANTS[variant])
    path = make_url(env.database_url).database
    assert path is not None
    with closing(sqlite3.connect(path)) as columns:
        reference = Walk(1, GENESIS_HASH, {})
        reference.check(columns.execute(EVENTS + " ORDER BY seq"))
    reason = {"deleted": "missing", "inserted": "modified"}.get(kind, kind)
    assert reference.problem == (expected(k, 0), reason), reference.problem
    assert (found.problem, found.last, found.events) == (
        reference.problem,
        reference.last,
        reference.events,
    )
