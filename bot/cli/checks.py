"""What the command line checks before it changes anything: Telegram and the database."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import make_url
from telegram import Bot
from telegram.error import BadRequest, InvalidToken, NetworkError

from bot.config import Settings
from handlers.transport.request import telegram_request
from storage.db import Database

# How long the command line waits for the database before it says it cannot reach it.
DATABASE_CHECK_SECONDS = 15.0


class SetupError(Exception):
    """Something outside the bot is not as it must be; the message says what to check and
    never contains a secret."""


def telegram_unreachable(settings: Settings, error: Exception) -> SetupError:
    # The base URL holds no token (it is appended to it), so it can be shown.
    return SetupError(
        f"The Telegram Bot API at {settings.telegram_base_url} did not answer "
        f"({type(error).__name__}). Check the network (proxy, firewall) and TELEGRAM_BASE_URL; "
        "nothing was changed, start again."
    )


async def check_telegram(settings: Settings) -> str:
    """Ask Telegram who the token belongs to (getMe); the bot's username. Asked through the
    HTTP client the bot will use (TELEGRAM_HTTP_CLIENT), so that the answer is the one the bot
    would get: the same way out (proxy settings), the same errors."""
    client = settings.telegram_http_client
    bot = Bot(
        settings.bot_token(),
        base_url=settings.telegram_base_url,
        request=telegram_request(client),
        get_updates_request=telegram_request(client),
    )
    try:
        async with bot:
            return bot.username
    except InvalidToken:
        # PTB's own message quotes the whole token: never show it.
        raise SetupError(
            "Telegram rejected the bot token. Check TELEGRAM_BOT_TOKEN: copy it again from "
            "@BotFather (/mybots, API Token); a token that was revoked must be replaced."
        ) from None
    except NetworkError as error:
        if isinstance(error, BadRequest):  # Telegram answered: not a network problem
            raise
        raise telegram_unreachable(settings, error) from None


def database_place(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite file {parsed.database}"
    return f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


async def check_database(settings: Settings) -> None:
    """Connect once, so that an unreachable database is one clear line instead of a traceback
    from the middle of a migration."""
    database = Database(settings.database_url)
    try:
        async with asyncio.timeout(DATABASE_CHECK_SECONDS):
            async with database.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
    except Exception as error:  # whatever keeps us from it, the advice is the same
        reason = str(error).splitlines()[0] if str(error) else "no answer"
        password = make_url(settings.database_url).password
        if password:
            reason = reason.replace(str(password), "***")
        raise SetupError(
            f"Cannot reach the database, {database_place(settings.database_url)} "
            f"({type(error).__name__}: {reason}). Check DATABASE_URL (host, port, user, "
            "password, database name) and that the server runs and accepts connections "
            "from here."
        ) from None
    finally:
        await database.dispose()
