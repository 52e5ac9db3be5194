"""Starting and stopping the sandbox: the local Bot API, the real bot on SQLite with settings of
its own (no environment, no .env, no token), the invented network, and the page."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import sys
import tempfile
import webbrowser
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.app import CoraBot, build_application
from bot.config import Settings
from bot.logs import configure_logging
from localapi.server import LocalBotApi
from sandbox.people import SandboxPerson, add_people, seed_network, seed_offers
from sandbox.web import SandboxSite
from storage.files import private_directory

# A fake server's token: the sandbox never talks to Telegram.
SANDBOX_TOKEN = "123456789:SANDBOX-local-only_not-a-real-token"  # noqa: S105
BOT_USERNAME = "cora_sandbox_bot"
DEFAULT_PORT = 8099
# In a kept data directory: the stand-in for Telegram's chats, beside the bot's database.
CHATS_FILE = "telegram-chats.json"
SAVE_EVERY_SECONDS = 2.0

log = logging.getLogger(__name__)


class SandboxSettings(Settings):
    """Settings from the arguments alone: a developer's environment and .env never leak in."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def sandbox_settings(
    base_url: str, data_dir: Path, language: Literal["de", "en"], *, paced: bool = True
) -> Settings:
    """The bot's settings in the sandbox; keys are generated into the data directory.
    `paced=False` switches the rate limiter's pacing off (as `TELEGRAM_MAX_RATE=0` does)."""
    settings = SandboxSettings(
        telegram_bot_token=SecretStr(SANDBOX_TOKEN),
        telegram_base_url=base_url,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'cora.db'}",
        cora_data_dir=data_dir,
        cora_default_language=language,
    )
    return settings if paced else settings.model_copy(update={"telegram_max_rate": 0.0})


@dataclass(frozen=True)
class SandboxOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path | None = None  # None: a temporary directory, deleted at the end
    language: Literal["de", "en"] = "de"
    open_browser: bool = False
    unsafe_public: bool = False
    verbose: bool = False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _data_dir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        yield private_directory(path)
        return
    with tempfile.TemporaryDirectory(prefix="cora-sandbox-") as temporary:
        yield Path(temporary)


def _url(host: str, port: int) -> str:
    # Only compares: an all-interfaces host is shown by its loopback name.
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104  # nosec B104
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _banner(url: str, data_dir: Path, kept: bool, public: bool) -> list[str]:
    where = f"{data_dir} (kept)" if kept else f"{data_dir} (deleted when the sandbox stops)"
    lines = [
        f"cora-bot sandbox: {url}",
        "  The real bot with an invented network, on a local fake of Telegram: no token, and",
        "  nothing leaves this computer. Open the address in a browser; Ctrl-C stops it.",
        f"  Data: {where}",
        "  The page and its control API (/_sim) have no password: whoever reaches this",
        "  address can act as anyone in the sandbox. Never enter real case data.",
    ]
    if public:
        lines.append("  WARNING: listening beyond this computer (--unsafe-public).")
    return lines


class PortTaken(Exception):
    """The page's address cannot be had; the message says which and why."""


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: the page's address and, for tests, its parts."""

    url: str
    data_dir: Path
    api: LocalBotApi
    cora: CoraBot
    people: list[SandboxPerson]


async def _keep_chats(api: LocalBotApi, path: Path) -> None:
    """Save the chats whenever something happened in them (at most every few seconds)."""
    saved: tuple[int, int, int] | None = None
    while True:
        state = (len(api.world.events), len(api.world.accounts), api.world.last_serial)
        if state != saved:
            api.save(path)
            saved = state
        await asyncio.sleep(SAVE_EVERY_SECONDS)


@contextlib.asynccontextmanager
async def open_sandbox(options: SandboxOptions, *, paced: bool = True) -> AsyncIterator[Sandbox]:
    """Start the local Bot API, the bot, the invented network and the page; stop them after.
    With a kept data directory, the chats are kept there too and come back first, so that
    the bot finds its members' chats when it starts. The bot keeps Telegram's limits as it
    does everywhere (a chat's next message a second after its last); tests pass
    `paced=False`, so that a joining or a dialog does not wait a second a step."""
    with _data_dir(options.data_dir) as data_dir:
        api = LocalBotApi(SANDBOX_TOKEN, bot_username=BOT_USERNAME, bot_first_name="Cora")
        chats = data_dir / CHATS_FILE if options.data_dir is not None else None
        if chats is not None:
            api.restore(chats)
        await api.start("127.0.0.1", 0)
        cora: CoraBot | None = None
        runner: web.AppRunner | None = None
        keeping: asyncio.Task[None] | None = None
        try:
            cora = build_application(
                sandbox_settings(api.base_url, data_dir, options.language, paced=paced)
            )
            await cora.start(mode="polling")
            people = add_people(api, options.language)
            await seed_network(cora, people, options.language)
            await seed_offers(cora, people)
            if chats is not None:
                keeping = asyncio.create_task(_keep_chats(api, chats))
            site = SandboxSite(api, cora, people, options.language, public=options.unsafe_public)
            runner = web.AppRunner(site.app(), access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            try:
                await web.TCPSite(runner, options.host, options.port).start()
            except OSError as error:
                raise PortTaken(
                    f"Cannot listen on {options.host}:{options.port} ({error.strerror}); "
                    "choose another port with --port."
                ) from None
            url = _url(options.host, runner.addresses[0][1])
            yield Sandbox(url, data_dir, api, cora, people)
        finally:
            if runner is not None:
                await runner.cleanup()
            if cora is not None:
                await cora.stop()
            if keeping is not None:
                keeping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeping
            if chats is not None:
                api.save(chats)
            await api.stop()


async def serve(options: SandboxOptions, stop: asyncio.Event) -> int:
    """Run until `stop` is set; 2 if the page's port cannot be had."""
    try:
        async with open_sandbox(options) as sandbox:
            kept = options.data_dir is not None
            for line in _banner(sandbox.url, sandbox.data_dir, kept, options.unsafe_public):
                print(line)
            sys.stdout.flush()
            if options.open_browser:
                await asyncio.to_thread(webbrowser.open, sandbox.url)
            await stop.wait()
    except PortTaken as error:
        print(error, file=sys.stderr)
        return 2
    return 0


def run_sandbox(options: SandboxOptions) -> int:
    """`cora-bot sandbox`: serve until Ctrl-C or SIGTERM."""
    if not is_loopback(options.host) and not options.unsafe_public:
        print(
            f"The sandbox has no password, so it listens only on this computer; {options.host} "
            "would open it to the network. Use --unsafe-public if you really mean it.",
            file=sys.stderr,
        )
        return 2
    configure_logging("INFO" if options.verbose else "WARNING", [SANDBOX_TOKEN])
    # Its keys are throw-away; the advice to back them up is for real installations.
    logging.getLogger("bot.keys").setLevel(logging.ERROR)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        return await serve(options, stop)

    return asyncio.run(main())
