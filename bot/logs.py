"""Logging set-up: secrets are redacted from every record, whatever library wrote it."""

from __future__ import annotations

import json
import logging
import re
import traceback

# Bot tokens appear in URLs that HTTP libraries like to log.
_TOKEN_LIKE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")


# Libraries that log secrets or message bodies below these levels: httpx logs every request URL
# (which carries the bot token) at INFO, python-telegram-bot logs request parameters and
# updates (message texts) at DEBUG. LOG_LEVEL=DEBUG therefore applies to our own code only.
QUIET_LIBRARIES = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "apscheduler": logging.INFO,
    "aiosqlite": logging.INFO,
    "sqlalchemy": logging.WARNING,
    "alembic": logging.WARNING,
    "aiohttp.access": logging.WARNING,
}


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if len(secret) >= 8]

    def redact(self, text: str) -> str:
        text = _TOKEN_LIKE.sub("<token>", text)
        for secret in self._secrets:
            text = text.replace(secret, "<secret>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Exception texts (URLs in connection errors, for one) are redacted as well.
            record.exc_text = self.redact("".join(traceback.format_exception(*record.exc_info)))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, secrets: list[str], fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
