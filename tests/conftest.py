"""Fixtures: a real database per test (SQLite file, and PostgreSQL where available), the local
Bot API server, and the real bot wired against both."""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pytest

from bot.app import CoraBot, build_application
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.keys import generate_encryption_key
from bot.memory import settle_start_up
from localapi.server import LocalBotApi
from storage import migrate
from storage.db import Database
from tests import postgres

TOKEN = "123456789:AAEfakeTokenForTestsOnly_abcdefghijk"
BOT_USERNAME = "cora_test_bot"
_POSTGRES_MODE = os.environ.get("CORA_TEST_POSTGRES", "auto")  # auto | require | off


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()


def _run_sync(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run set-up code to the end, also when a session fixture is first requested from inside
    a running event loop."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, coroutine).result()


def _postgres_wanted() -> bool:
    return _POSTGRES_MODE == "require" or (_POSTGRES_MODE == "auto" and postgres.available())


async def _create_template(server: postgres.PostgresServer) -> None:
    await _migrate(await server.create_database("cora_template"))


# -- what the whole run shares ------------------------------------------------------------
# With pytest-xdist the controller migrates one SQLite template and starts one PostgreSQL
# server with a migrated template database, in the background while the workers start and
# collect; each worker copies the SQLite file and creates PostgreSQL databases of its own from
# the template. Without xdist the session fixtures below do the same in-process.
_SHARED = "CORA_TEST_SHARED_DIR"
_SHARED_WAIT_SECONDS = 180


class _SharedSetUp:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="cora-test-shared-"))
        self.server: postgres.PostgresServer | None = None
        self.thread = threading.Thread(target=self._run, name="cora-test-set-up", daemon=True)

    def _run(self) -> None:
        self._step("sqlite", self._sqlite)
        if _postgres_wanted():
            self._step("postgres", self._postgres)

    def _step(self, name: str, build: Callable[[], str]) -> None:
        try:
            result, ready = build(), name
        except Exception as error:
            result, ready = f"{type(error).__name__}: {error}", f"{name}.error"
        (self.directory / f"{ready}.tmp").write_text(result)
        (self.directory / f"{ready}.tmp").rename(self.directory / ready)

    def _sqlite(self) -> str:
        path = self.directory / "cora.db"
        asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
        return str(path)

    def _postgres(self) -> str:
        if not postgres.available():
            raise RuntimeError("CORA_TEST_POSTGRES=require, but no PostgreSQL binaries were found")
        self.server = postgres.PostgresServer()
        self.server.start()
        asyncio.run(_create_template(self.server))
        return self.server.address

    def close(self) -> None:
        self.thread.join(_SHARED_WAIT_SECONDS)
        if self.server is not None:
            self.server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


_shared: _SharedSetUp | None = None


def _warm_for_the_workers() -> None:
    """What every worker would otherwise work out for itself while it collects, done once here,
    on both cores, before they start (in a fresh clone, as CI's, several seconds of CPU per
    worker): the test modules rewritten for pytest's assertions, each kept beside its source as
    a pyc, and hypothesis' tables of the Unicode characters, kept in .hypothesis/. Where both
    are current already this only looks at file names. Forked before any thread is started."""
    tests = Path(__file__).parent
    tag = f"{sys.implementation.cache_tag}-pytest-"
    modules = [
        ".".join(path.relative_to(tests.parent).with_suffix("").parts)
        for path in sorted(tests.rglob("test_*.py"))
        if not any(path.parent.glob(f"__pycache__/{path.stem}.{tag}*.pyc"))
        and not sys.dont_write_bytecode  # (PYTHONDONTWRITEBYTECODE) nothing would be kept
    ]
    fork = multiprocessing.get_context("fork")
    halves = [fork.Process(target=_warm, args=(modules[turn::2], turn == 1)) for turn in (0, 1)]
    for half in halves:
        half.start()
    for half in halves:
        half.join()


def _warm(modules: list[str], unicode_tables: bool) -> None:
    for module in modules:
        importlib.import_module(module)  # pytest's import hook rewrites it and keeps the pyc
    if unicode_tables:
        from hypothesis.errors import HypothesisSideeffectWarning
        from hypothesis.internal.charmap import charmap, intervals_from_codec

        # Hypothesis warns of work done while pytest configures itself, to keep its start quick;
        # here it is the point, in a child of its own that runs beside the controller's set-up.
        warnings.simplefilter("ignore", HypothesisSideeffectWarning)
        charmap()
        intervals_from_codec("utf-8")  # for st.characters(codec="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    global _shared
    config.addinivalue_line(
        "markers",
        "fresh_database: the test changes the schema (DDL, a downgrade): on PostgreSQL it gets "
        "a new copy of the template instead of a reused database",
    )
    controller = bool(getattr(config.option, "tx", None)) and not hasattr(config, "workerinput")
    if controller and not config.getoption("collectonly"):
        _warm_for_the_workers()
        _shared = _SharedSetUp()
        os.environ[_SHARED] = str(_shared.directory)  # the workers inherit it
        _shared.thread.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _shared is not None:
        _shared.close()


# The garbage collector's young generation is larger in the tests' processes (tests/__init__.py).
# A worker's modules, classes and test items stay until its end anyway: once collected, they move
# to the generation that the collector skips, so that a full collection walks only the stories'
# own objects (before: some 200,000 more, 0.15-0.35 s per full collection on the 2-core machine).
@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    settle_start_up()


# The slowest test modules start first, by the seconds their tests took in a full run
# (tests/durations.txt: wall and CPU seconds per test, refreshed by scripts/test_durations.py);
# a module's tests stay together and in their order, so that a module-scoped fixture (the
# sandbox's network and browser) is built once per worker. The modules that mostly wait
# (process restarts, deadlines, flood limits, fault time-outs: the half of the run's seconds
# with the lowest share of CPU) and those that compute alternate, and under xdist the tests are
# dealt out in turns: some workers compute while the others wait, instead of all waiting at
# the start and all computing at the end. With `--dist
# worksteal` (scripts/test) an idle worker takes over the end of another's queue, and the ends
# hold only quick modules.
_DURATIONS = Path(__file__).with_name("durations.txt")


def _known_seconds() -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds per test."""
    seconds: dict[str, tuple[float, float]] = {}
    for line in _DURATIONS.read_text().splitlines():
        if line and not line.startswith("#"):
            wall, cpu, test = line.split(" ", 2)
            seconds[test] = (float(wall), float(cpu))
    return seconds


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seconds = _known_seconds()
    modules: dict[str, list[float]] = {}
    for item in items:
        wall, cpu = seconds.get(item.nodeid, (0.0, 0.0))
        module = modules.setdefault(item.nodeid.partition("::")[0], [0.0, 0.0])
        module[0] += wall
        module[1] += cpu
    # The half of the run's seconds spent in the modules with the lowest share of CPU waits.
    by_share = sorted(modules, key=lambda name: modules[name][1] / (modules[name][0] or 1.0))
    waits, half = set(), sum(wall for wall, _ in modules.values()) / 2
    for name in by_share:
        if half <= 0:
            break
        waits.add(name)
        half -= modules[name][0]
    by_wall = sorted(modules, key=lambda name: -modules[name][0])
    waiting = [name for name in by_wall if name in waits]
    computing = [name for name in by_wall if name not in waits]
    order = [name for pair in zip_longest(waiting, computing) for name in pair if name]
    rank = {name: index for index, name in enumerate(order)}
    # stable: a module's tests keep their order
    items.sort(key=lambda item: rank[item.nodeid.partition("::")[0]])
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    if workers > 1:
        items[:] = [item for turn in range(workers) for item in items[turn::workers]]


# With CORA_TEST_TIMINGS=<directory>, each process writes the wall and CPU seconds of its tests
# there, for scripts/test_durations.py. CPU counts the process's threads and the processes it
# started and waited for (a bot started with `cora-bot run`), not the database server.
_TIMINGS = os.environ.get("CORA_TEST_TIMINGS") or None


def _cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    if _TIMINGS is None:
        yield
        return
    wall, cpu = time.perf_counter(), _cpu_seconds()
    yield
    spent = (time.perf_counter() - wall, _cpu_seconds() - cpu)
    with (Path(_TIMINGS) / f"{os.getpid()}.txt").open("a") as timings:
        timings.write(f"{spent[0]:.2f} {spent[1]:.2f} {item.nodeid}\n")


def _shared_result(name: str) -> str | None:
    """What the controller set up for `name` (waiting for it); None when not under xdist."""
    directory = os.environ.get(_SHARED)
    if directory is None:
        return None
    ready, failed = Path(directory) / name, Path(directory) / f"{name}.error"
    deadline = time.monotonic() + _SHARED_WAIT_SECONDS
    while not ready.exists():
        if failed.exists():
            pytest.fail(f"set-up of {name} failed: {failed.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"set-up of {name} did not finish in {_SHARED_WAIT_SECONDS} s")
        time.sleep(0.05)
    return ready.read_text()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test instead of migrating again."""
    shared = _shared_result("sqlite")
    if shared is not None:
        return Path(shared)
    path = tmp_path_factory.mktemp("template") / "cora.db"
    _run_sync(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer | None]:
    """The PostgreSQL server, with a migrated database `cora_template` to copy."""
    if not _postgres_wanted():
        yield None
        return
    if not postgres.available():
        pytest.fail("CORA_TEST_POSTGRES=require, but no PostgreSQL binaries were found")
    shared = _shared_result("postgres")
    if shared is not None:
        yield postgres.PostgresServer.attach(shared)
        return
    server = postgres.PostgresServer()
    server.start()
    _run_sync(_create_template(server))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_databases(
    postgres_server: postgres.PostgresServer | None,
) -> Iterator[postgres.DatabasePool | None]:
    """This process's PostgreSQL databases, emptied after each test and used again."""
    if postgres_server is None:
        yield None
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    pool = postgres.DatabasePool(postgres_server, "cora_template", prefix=f"t_{worker}")
    yield pool
    pool.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[str]:
    """A migrated database. On PostgreSQL it is one this process used before, emptied: a test
    that changes the schema is marked `fresh_database` and gets a new copy of the template."""
    if request.param == "sqlite":
        path = tmp_path / "cora.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    pool: postgres.DatabasePool | None = request.getfixturevalue("postgres_databases")
    if pool is None:
        pytest.skip("PostgreSQL binaries not available (set CORA_TEST_POSTGRES=require in CI)")
    if request.node.get_closest_marker("fresh_database"):
        yield await pool.fresh()
        return
    url = await pool.take()
    yield url
    # After the test's bot has stopped (the fixtures that use this one end first).
    await pool.give_back(url)


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi(token=TOKEN, bot_username=BOT_USERNAME) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return SystemClock()


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    """Override in a test module (or with indirect parametrisation) to change settings."""
    return {}


@pytest.fixture
def settings(
    api: LocalBotApi, database_url: str, tmp_path: Path, setting_overrides: dict[str, Any]
) -> Settings:
    values: dict[str, Any] = {
        # The rate limiter has tests of its own; elsewhere it would only slow the stories down.
        "telegram_max_rate": 0,
        # Live messages are edited at most once per interval (3 s in production, for Telegram's
        # edit limits); stories that are not about coalescing need not wait for it. Coalescing
        # itself is proven at the real interval in test_polls_e2e.py.
        "live_message_interval": 0.2,
        **setting_overrides,
    }
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        telegram_base_url=api.base_url,
        database_url=database_url,
        cora_data_dir=tmp_path / "data",
        cora_encryption_key=generate_encryption_key(),  # type: ignore[arg-type]
        **values,
    )


@pytest.fixture
async def cora(settings: Settings, clock: Clock) -> AsyncIterator[CoraBot]:
    bot = build_application(settings, clock=clock)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


class _Collector(logging.Handler):
    """Keeps every formatted record, after the production redaction filter has run."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _said_by_people(request: pytest.FixtureRequest) -> list[str]:
    """What simulated people wrote in this test: alert texts, names, invite tokens …"""
    api = request.node.funcargs.get("api")
    if not isinstance(api, LocalBotApi):
        return []
    texts = []
    for chat in api.world.chats.values():
        for message in chat.messages:
            if message.from_bot or not message.text:
                continue
            # The whole text, and every tail after a command's words (an alert's text).
            texts.append(message.text)
            if message.text.startswith("/"):
                words = message.text.split(" ")
                texts += [" ".join(words[k:]).lstrip("! ").strip() for k in range(1, len(words))]
    return [text for text in texts if len(text) >= 12]


@pytest.fixture(autouse=True)
def _logs_keep_secrets(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test runs with logging as in production at LOG_LEVEL=DEBUG; afterwards nothing a
    person wrote (alert texts, names, invite tokens) and no secret may appear in the logs.
    The command line configures logging globally; every test gets a clean slate back."""
    from bot.logs import QUIET_LIBRARIES, configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in QUIET_LIBRARIES})
    configure_logging("DEBUG", [TOKEN])
    collector = _Collector()
    collector.filters = list(root.handlers[0].filters)  # the same redaction as production
    root.addHandler(collector)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)
    logged = "\n".join(collector.lines)
    secrets = [TOKEN, TOKEN.split(":")[1], *_said_by_people(request)]
    settings = request.node.funcargs.get("settings")
    if isinstance(settings, Settings):
        secrets += [s.get_secret_value() for s in (settings.cora_encryption_key,) if s]
    leaked = sorted({secret for secret in secrets if secret in logged})
    assert not leaked, f"logged what must never be logged: {leaked!r}"


@pytest.fixture
def production_logging(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Logging as `cora-bot run` sets it up at LOG_LEVEL=DEBUG, captured for inspection."""
    from bot.logs import configure_logging

    configure_logging("DEBUG", [TOKEN])
    logging.getLogger().addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    return caplog
