"""Benchmark: `cora-bot audit verify` over long chains: time, and memory as the chain grows,
checked in one process and in one worker process per core (ranges side by side).

Run: .venv/bin/python -m bench.audit_verify [--events 100000,1000000] [--workers N]
     [--database URL]

Builds one chain of realistic events (the bot's own hashing) straight into a temporary SQLite
file, copies its first N events into one file per size, signs the head and appends it to a
witness file. Each verification then runs in a fresh child process, so that its peak memory
is its own: the verification `cora-bot audit verify --witness FILE` runs (every link, every
checkpoint and witnessed head, unsigned events), timed inside the child after its imports,
once in that process alone ("1 process") and once split into ranges checked by worker
processes ("N workers", one per core unless --workers says otherwise). Printed per size: wall
time, the CPU time of the verifying process and of its workers, events per second, the
verifying process's own peak RSS, how much of it the verification added to the RSS after
imports, the largest worker's peak RSS, and the peak of all of them together, as the sum of
their RSS and as the sum of their PSS (shared pages divided among the processes that share
them: libpython, libcrypto, libsqlite3 count once). The workers and the sums are sampled from
/proc every few milliseconds by this (outer) process; the verifying process's peak is its own
VmHWM. In a further child, with tracemalloc, the peak of Python memory the verification
allocated in the verifying process. The memory ratio against the smallest size shows whether
memory is constant in the number of events. The baseline, measured in the same run, is the
verification before issue 18 (SQLAlchemy Core rows, json.dumps per event). Then, in one more
child, the CPU per event of a SQLite worker's walk and its parts over the first 200,000 events:
over the hash input SQLite writes (now) against over the columns with event_hash (before),
best of three each, in the same run. Finally the real
`cora-bot audit verify` command runs once on the largest chain: wall time and peak memory of
the whole command with its workers, imports included.

With --database postgresql+asyncpg://..., the largest chain is also copied to that (empty,
throw-away) database and verified there, in one process and with workers (the PostgreSQL
server's own processes are not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ACTIONS = ("alert.raised", "delivery.sent", "alert.acknowledged", "member.language_changed")
COLUMNS = "seq, occurred_at, actor, action, subject, details, prev_hash, hash"


def _chain(count: int, start: datetime) -> Iterator[tuple[Any, ...]]:
    """Events as the bot writes them: a hundred a second, ids and codes in the details."""
    from storage.audit import GENESIS_HASH, canonical_details, event_hash, format_time

    previous = GENESIS_HASH
    for seq in range(1, count + 1):
        occurred_at = format_time(start + timedelta(microseconds=seq * 10_000))
        action = ACTIONS[seq % len(ACTIONS)]
        details = canonical_details({"kind": "alert", "member": seq % 5000, "alert": seq // 1000})
        subject = f"delivery:{seq}"
        digest = event_hash(previous, seq, occurred_at, "system", action, subject, details)
        yield (seq, occurred_at, "system", action, subject, details, previous, digest)
        previous = digest


def _empty_database(path: Path) -> None:
    from storage import migrate
    from storage.db import Database

    async def upgrade() -> None:
        database = Database(f"sqlite+aiosqlite:///{path}")
        await migrate.upgrade(database)
        await database.dispose()

    asyncio.run(upgrade())


def _build(directory: Path, sizes: list[int], key: Ed25519PrivateKey) -> dict[int, Path]:
    """One SQLite file per size (the largest chain built, the others its first N events),
    each with a signed checkpoint at its head and a witness file holding it."""
    largest = max(sizes)
    template = directory / "template.db"
    _empty_database(template)
    start = datetime.now(UTC) - timedelta(seconds=largest / 100)  # the newest event: just now
    started = time.perf_counter()
    connection = sqlite3.connect(directory / "chain.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute(f"CREATE TABLE events ({COLUMNS}, PRIMARY KEY (seq))")
    connection.execute("BEGIN")
    connection.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?)", _chain(largest, start))
    connection.execute("COMMIT")
    connection.close()
    print(f"built a chain of {largest:,} events in {time.perf_counter() - started:.1f} s")
    files = {}
    for size in sizes:
        path = directory / f"audit-{size}.db"
        shutil.copyfile(template, path)
        os.chmod(path, 0o600)
        target = sqlite3.connect(path, isolation_level=None)
        target.execute("ATTACH DATABASE ? AS source", (str(directory / "chain.db"),))
        target.execute("BEGIN")
        target.execute(
            f"INSERT INTO audit_events ({COLUMNS}) "
            f"SELECT {COLUMNS} FROM source.events WHERE seq <= ? ORDER BY seq",
            (size,),
        )
        head = target.execute(
            "SELECT seq, hash FROM audit_events WHERE seq = ?", (size,)
        ).fetchone()
        target.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", head)
        _sign(target, key, *head, directory / f"witness-{size}.jsonl")
        target.execute("COMMIT")
        target.execute("DETACH DATABASE source")
        target.close()
        files[size] = path
    (directory / "chain.db").unlink()
    return files


def _sign(target: Any, key: Ed25519PrivateKey, seq: int, digest: str, witness: Path) -> None:
    from bot.audit import witness as witnesses
    from bot.audit.chain import checkpoint_message
    from bot.keys import key_id
    from storage.audit import format_time

    signed_at = format_time(datetime.now(UTC))
    signature = key.sign(checkpoint_message(seq, digest, signed_at)).hex()
    kid = key_id(key.public_key())
    target.execute(
        "INSERT INTO audit_checkpoints (seq, hash, signed_at, key_id, signature) "
        "VALUES (?, ?, ?, ?, ?)",
        (seq, digest, signed_at, kid, signature),
    )
    witnesses.append(witness, witnesses.Witnessed(seq, digest, signed_at, kid, signature))


async def _copy_to_postgres(source: Path, url: str, witness: Path, key: Ed25519PrivateKey) -> None:
    import asyncpg

    from storage import migrate
    from storage.db import Database

    database = Database(url)
    await migrate.upgrade(database)
    await database.dispose()
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute("TRUNCATE audit_events, audit_checkpoints")
        rows = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        cursor = rows.execute(f"SELECT {COLUMNS} FROM audit_events ORDER BY seq")
        while batch := cursor.fetchmany(50_000):
            await connection.copy_records_to_table(
                "audit_events", records=batch, columns=COLUMNS.split(", ")
            )
        seq, digest = rows.execute("SELECT seq, hash FROM audit_head").fetchone()
        signed = rows.execute(
            "SELECT seq, hash, signed_at, key_id, signature FROM audit_checkpoints"
        ).fetchall()
        rows.close()
        await connection.execute(
            "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", seq, digest
        )
        await connection.executemany(
            "INSERT INTO audit_checkpoints (seq, hash, signed_at, key_id, signature) "
            "VALUES ($1, $2, $3, $4, $5)",
            signed,
        )
        await connection.execute("ANALYZE audit_events")
    finally:
        await connection.close()


# ---- the child process: one verification, measured from inside -------------------------


async def _baseline_verify(url: str) -> tuple[int, bool]:
    """The verification's walk before issue 18: SQLAlchemy Core rows (yield_per 20,000) and
    json.dumps for every event's hash; checks the same links and hashes."""
    from sqlalchemy import select

    from bot.audit.chain import COLUMNS as CORE_COLUMNS
    from bot.audit.chain import snapshot
    from storage.audit import GENESIS_HASH
    from storage.db import Database
    from storage.models import AuditEvent

    def event_hash(prev: str, *fields: Any) -> str:
        body = json.dumps(list(fields), separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()

    database = Database(url)
    count, previous, ok = 0, GENESIS_HASH, True
    async with snapshot(database) as session:
        connection = await session.connection()
        query = select(*CORE_COLUMNS).order_by(AuditEvent.seq)
        result = await connection.stream(query.execution_options(yield_per=20_000))
        async for partition in result.partitions(20_000):
            for seq, occurred_at, actor, action, subject, details, prev_hash, digest in partition:
                count += 1
                ok = ok and seq == count and prev_hash == previous
                ok = ok and digest == event_hash(
                    prev_hash, seq, occurred_at, actor, action, subject, details
                )
                previous = digest
    await database.dispose()
    return count, ok


async def _verify(url: str, witness: Path, public_key: str, workers: int) -> tuple[int, bool]:
    """What `cora-bot audit verify --witness FILE` runs; with `workers` > 1 the ranges must
    really have been checked side by side."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from bot import audit
    from bot.audit import witness as witnesses
    from storage.db import Database

    database = Database(url)
    result = await audit.verify(
        database,
        [Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))],
        witnessed=witnesses.read(witness),
        now=datetime.now(UTC),
        unsigned_for=timedelta(minutes=120),
        workers=workers,
    )
    await database.dispose()
    if result.problem is not None:
        print(f"NOT INTACT: {result.problem}", file=sys.stderr)
    return result.events, result.ok and result.witnessed == 1 and result.ranges == workers


def _high_water() -> int:
    """This process's peak RSS in bytes. Not getrusage: Linux carries the parent's peak over
    into a child's ru_maxrss across fork and exec, and the parent here is large."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


COST_EVENTS = 200_000  # the first events of the largest chain, for the cost per event


def _costs(path: Path, count: int) -> dict[str, float]:
    """CPU time per event (µs, best of three, in this process) of a SQLite worker's walk over
    the first `count` events and of its parts: reading the eight columns, and the walk
    over them with event_hash (before: issue 18's second round); reading the four values
    whose last is the hash input SQLite builds, hashing those inputs alone, and the walk
    over them (now)."""
    from storage.audit_walk import EVENTS, GENESIS_HASH, INPUTS, Walk, walk_sqlite

    connection = sqlite3.connect(path)
    connection.execute("PRAGMA query_only=ON")
    connection.execute("PRAGMA cache_size=-512")  # as a worker
    where = " WHERE seq <= ? ORDER BY seq"
    inputs = [row[3] for row in connection.execute(INPUTS + where, (count,))]
    sha256 = hashlib.sha256

    def read_columns() -> None:
        for _ in connection.execute(EVENTS + where, (count,)):
            pass

    def read_inputs() -> None:
        for _ in connection.execute(INPUTS + where, (count,)):
            pass

    def hash_inputs() -> None:
        for data in inputs:
            sha256(data).hexdigest()

    def walk_columns() -> None:
        walk = Walk(1, GENESIS_HASH, {})
        walk.check(connection.execute(EVENTS + where, (count,)))
        assert walk.events == count and walk.problem is None

    def walk_inputs() -> None:
        walk = Walk(1, GENESIS_HASH, {})
        walk_sqlite(connection, walk, None, count)
        assert walk.events == count and walk.problem is None and walk.by_columns == 1

    parts = {
        "read_columns": read_columns,
        "walk_columns": walk_columns,
        "read_inputs": read_inputs,
        "hash_inputs": hash_inputs,
        "walk_inputs": walk_inputs,
    }
    best = dict.fromkeys(parts, float("inf"))
    for _ in range(3):
        for name, part in parts.items():
            cpu = time.process_time()
            part()
            best[name] = min(best[name], (time.process_time() - cpu) / count * 1e6)
    connection.close()
    return best


def _child(args: argparse.Namespace) -> None:
    if args.child == "costs":
        print(json.dumps(_costs(Path(args.url), args.workers)))
        return
    if args.child == "cli":  # the real command, as an operator runs it
        from bot.cli import main as cli

        started = time.perf_counter()
        code = cli(["audit", "verify", "--witness", str(args.witness)])
        wall = time.perf_counter() - started
        print(json.dumps({"ok": code == 0, "wall": wall, "rss_peak": _high_water()}))
        return
    import bot.audit  # noqa: F401  (the imports, before the memory baseline)
    import storage.db  # noqa: F401

    before = _high_water()
    if args.traced:
        tracemalloc.start()
    cpu, started = time.process_time(), time.perf_counter()
    if args.child == "baseline":
        events, ok = asyncio.run(_baseline_verify(args.url))
    else:
        events, ok = asyncio.run(_verify(args.url, args.witness, args.public_key, args.workers))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    traced = tracemalloc.get_traced_memory()[1] if args.traced else 0
    figures = {"events": events, "ok": ok, "wall": wall, "cpu": cpu, "traced": traced}
    figures["workers_cpu"] = _children_cpu()
    print(json.dumps({**figures, "rss_before": before, "rss_peak": _high_water()}))


def _memory(pid: int) -> tuple[int, int]:
    """RSS and PSS of a process in bytes (0, 0 once it is gone)."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return rss, pss


def _workers_of(pid: int) -> list[int]:
    """The verification's worker processes, once they run their own program: between fork
    and exec a child still shows its parent's memory."""
    workers = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            if b"storage.audit_walk" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return workers


class _Sampler(threading.Thread):
    """Samples a process and its children from outside every few milliseconds: the largest
    child's RSS, and the peak of the sum of their RSS and of their PSS."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.done = pid, threading.Event()
        self.worker_rss = self.rss_sum = self.pss_sum = 0
        self.workers: set[int] = set()

    def run(self) -> None:
        while not self.done.wait(0.005):
            rss, pss = _memory(self.pid)
            for worker in _workers_of(self.pid):
                self.workers.add(worker)
                worker_rss, worker_pss = _memory(worker)
                self.worker_rss = max(self.worker_rss, worker_rss)
                rss, pss = rss + worker_rss, pss + worker_pss
            self.rss_sum, self.pss_sum = max(self.rss_sum, rss), max(self.pss_sum, pss)


def _measure(
    kind: str,
    url: str,
    witness: Path,
    key: str,
    trace: bool = False,
    environment: dict[str, str] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.audit_verify", "--child", kind, "--url", url]
    command += ["--witness", str(witness), "--public-key", key, "--workers", str(workers)]
    command += ["--traced"] if trace else []
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
    sampler = _Sampler(child.pid)
    sampler.start()
    out, _ = child.communicate()
    sampler.done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"{kind} verification failed ({child.returncode})")
    figures: dict[str, Any] = json.loads(out.splitlines()[-1])
    figures["maxrss"] = figures["rss_peak"]
    figures["processes"] = len(sampler.workers)
    figures["worker_rss"] = sampler.worker_rss
    # The verifying process's own peak (VmHWM) may fall between two samples.
    figures["rss_sum"] = max(sampler.rss_sum, figures["rss_peak"])
    figures["pss_sum"] = sampler.pss_sum
    return figures


def _cli(
    url: str, witness: Path, key: Ed25519PrivateKey, data: Path
) -> tuple[float, dict[str, Any]]:
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "CORA_AUDIT_SIGNING_KEY": base64.urlsafe_b64encode(raw).decode(),
        "CORA_DATA_DIR": str(data),
    }
    started = time.perf_counter()
    figures = _measure("cli", url, witness, "", environment=environment)
    if not figures["ok"]:
        raise SystemExit("cora-bot audit verify found the chain not intact")
    return time.perf_counter() - started, figures


MB = 1024 * 1024


HEADER = (
    "verify        events   wall s  CPU s  workers CPU s   events/s  peak MB  added MB  "
    "Python MB  worker MB  RSS sum  PSS sum"
)


def _row(label: str, size: int, figures: dict[str, Any], traced: dict[str, Any] | None) -> str:
    added = (figures["rss_peak"] - figures["rss_before"]) / MB
    python = f"{traced['traced'] / MB:9.1f}" if traced else "        –"
    workers = figures.get("workers_cpu", 0.0)
    worker_mb = f"{figures['worker_rss'] / MB:9.0f}" if figures["worker_rss"] else "        –"
    return (
        f"{label:<11} {size:>10,} {figures['wall']:7.2f} {figures['cpu']:6.2f} {workers:14.2f} "
        f"{size / figures['wall']:>10,.0f} {figures['maxrss'] / MB:8.0f} {added:9.1f} "
        f"{python}  {worker_mb} {figures['rss_sum'] / MB:8.0f} {figures['pss_sum'] / MB:8.0f}"
    )


def run(args: argparse.Namespace) -> None:
    from bot.audit.chain import cores

    sizes = sorted(int(size) for size in args.events.split(","))
    workers = args.workers or cores()
    parallel = f"{workers} workers"
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    directory = Path(tempfile.mkdtemp(prefix="cora-bench-verify-"))
    try:
        files = _build(directory, sizes, key)
        print(f"\n{HEADER}\n" + "-" * len(HEADER))
        results: dict[int, dict[str, dict[str, Any]]] = {}
        for size in sizes:
            url = f"sqlite+aiosqlite:///{files[size]}"
            witness = directory / f"witness-{size}.jsonl"
            if args.baseline:
                print(_row("before", size, _measure("baseline", url, witness, public), None))
            alone = _measure("verify", url, witness, public)
            traced = _measure("verify", url, witness, public, trace=True) if args.trace else None
            print(_row("1 process", size, alone, traced), flush=True)
            side = _measure("verify", url, witness, public, workers=workers)
            print(_row(parallel, size, side, None), flush=True)
            if not (alone["ok"] and side["ok"]):  # side: with `workers` ranges
                raise SystemExit(f"the chain of {size} events did not verify as it should")
            results[size] = {"alone": alone, "side": side, **({"traced": traced} if traced else {})}
        small, large = min(sizes), max(sizes)
        s, big = results[small], results[large]
        print()
        for size in sizes:
            alone, side = results[size]["alone"], results[size]["side"]
            print(
                f"{size:,} events: {parallel} against 1 process (same run): wall "
                f"{side['wall'] / alone['wall']:.2f}×, CPU of all processes "
                f"{(side['cpu'] + side['workers_cpu']) / alone['cpu']:.2f}×"
            )
        print(
            f"{large:,} / {small:,} events ({large / small:.0f}× as many): time "
            f"{big['side']['wall'] / s['side']['wall']:.1f}× ({parallel}), "
            "peak RSS of the verifying process "
            f"{big['alone']['maxrss'] / s['alone']['maxrss']:.2f}× "
            f"(1 process), {big['side']['maxrss'] / s['side']['maxrss']:.2f}× ({parallel}), "
            f"of the largest worker {big['side']['worker_rss'] / s['side']['worker_rss']:.2f}×, "
            f"PSS of all {big['side']['pss_sum'] / s['side']['pss_sum']:.2f}×"
            + (
                f", Python memory {big['traced']['traced'] / s['traced']['traced']:.2f}×"
                if "traced" in big and "traced" in s
                else ""
            )
        )
        largest = files[large]
        count = min(COST_EVENTS, large)
        command = [sys.executable, "-m", "bench.audit_verify", "--child", "costs"]
        command += ["--url", str(largest), "--workers", str(count)]
        out = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout
        cost = json.loads(out.splitlines()[-1])
        checks = cost["walk_inputs"] - cost["read_inputs"] - cost["hash_inputs"]
        print(
            f"CPU per event in a SQLite worker (first {count:,} events, best of 3): walk over "
            f"SQLite's hash input {cost['walk_inputs']:.2f} µs, over the columns with "
            f"event_hash {cost['walk_columns']:.2f} µs (same run: "
            f"{cost['walk_inputs'] / cost['walk_columns']:.2f}×); reading the 4 values "
            f"{cost['read_inputs']:.2f} µs (the 8 columns {cost['read_columns']:.2f}), SHA-256 "
            f"of the input {cost['hash_inputs']:.2f} µs, the checks {checks:.2f} µs; event_hash "
            f"and the checks over the columns {cost['walk_columns'] - cost['read_columns']:.2f} µs"
        )
        witness = directory / f"witness-{large}.jsonl"
        wall, cli = _cli(f"sqlite+aiosqlite:///{largest}", witness, key, directory / "data")
        print(
            f"`cora-bot audit verify --witness FILE`, {large:,} events, SQLite: {wall:.2f} s "
            f"wall for the whole command (start-up and imports included), {cli['processes']} "
            f"worker processes; peak RSS of the command {cli['rss_peak'] / MB:.0f} MB, "
            f"together with its workers {cli['rss_sum'] / MB:.0f} MB RSS, "
            f"{cli['pss_sum'] / MB:.0f} MB PSS"
        )
        if args.database:
            asyncio.run(_copy_to_postgres(largest, args.database, witness, key))
            alone = _measure("verify", args.database, witness, public)
            print(_row("pg 1 proc", large, alone, None))
            side = _measure("verify", args.database, witness, public, workers=workers)
            print(_row(f"pg {workers} wkrs", large, side, None))
            if not (alone["ok"] and side["ok"]):
                raise SystemExit("the chain did not verify on PostgreSQL")
            print(
                f"PostgreSQL, {large:,} events: {parallel} against 1 process: wall "
                f"{side['wall'] / alone['wall']:.2f}×"
            )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", default="100000,1000000", help="chain lengths, comma-separated")
    parser.add_argument("--database", help="also verify the largest chain on this PostgreSQL URL")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument("--no-trace", dest="trace", action="store_false", help="skip tracemalloc")
    parser.add_argument(
        "--workers", type=int, default=0, help="worker processes (default: one per core)"
    )
    parser.add_argument(
        "--child", choices=("verify", "baseline", "cli", "costs"), help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--witness", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--public-key", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
