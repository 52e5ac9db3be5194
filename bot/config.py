"""Settings from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

_TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")


def _raw_key(text: str, what: str, source: str = "cora-bot keys generate") -> None:
    try:
        raw = base64.urlsafe_b64decode(text.strip())
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"must be {what} from `{source}` (base64 of 32 bytes)")


def _duration(text: str) -> timedelta:
    """`PT24H` (ISO 8601) or a number of seconds."""
    text = text.strip()
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        return TypeAdapter(timedelta).validate_strings(text)


def _seconds_as_text(value: object) -> object:
    # `ESCALATION_URGENT_AFTER=900` means seconds, as .env.example says.
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        return float(value)
    return value


def _positive_period(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration, e.g. PT15M or 900 (seconds)")
    return value


# A waiting time: ISO 8601 (PT15M) or seconds (900), and more than nothing.
Period = Annotated[timedelta, BeforeValidator(_seconds_as_text), AfterValidator(_positive_period)]


class ConfigError(Exception):
    """Raised when the configuration cannot be used; the message is meant for the operator."""


class Settings(BaseSettings):
    """Everything an operator can configure. Each field is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    # Not in the settings' repr: a PostgreSQL URL holds the password.
    database_url: str = Field(default="sqlite+aiosqlite:///data/cora.db", repr=False)
    cora_data_dir: Path = Path("data")
    cora_encryption_key: SecretStr | None = None
    cora_audit_signing_key: SecretStr | None = None
    # Public keys of earlier signing keys (comma-separated), so that checkpoints they signed
    # stay verifiable; the singular name is what older versions read.
    cora_audit_verify_keys: str | None = Field(
        default=None,
        validation_alias=AliasChoices("cora_audit_verify_keys", "cora_audit_verify_key"),
    )
    audit_checkpoint_minutes: float = Field(default=60.0, gt=0, le=24 * 60)
    audit_witness_file: Path | None = None
    audit_witness_chat: bool = True
    # Processes `cora-bot audit verify` checks a long chain with (0: one per core).
    audit_verify_workers: int = Field(default=0, ge=0, le=64)
    retention_days: int = Field(default=90, ge=1, le=3650)
    cora_network_file: Path | None = None
    cora_default_language: Literal["de", "en"] = "de"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0:8080"
    webhook_secret: SecretStr | None = None
    metrics_listen: str | None = None
    api_listen: str | None = None
    ready_max_backlog_seconds: float = Field(default=300.0, gt=0)
    # Refused webhook and API requests a source may make in a burst, and how many more per
    # minute after it; beyond that the source is answered 429 (see bot/refusals.py).
    http_refusal_burst: int = Field(default=20, ge=1, le=100_000)
    http_refusals_per_minute: float = Field(default=10.0, gt=0, le=100_000)
    invite_default_days: int = Field(default=7, ge=1, le=365)
    invite_max_days: int = Field(default=90, ge=1, le=3650)
    invite_default_uses: int = Field(default=1, ge=1, le=1000)
    invite_max_uses: int = Field(default=50, ge=1, le=1000)
    alert_urgent_per_hour: int = Field(default=6, ge=0, le=1000)
    cora_timezone: str = "Europe/Berlin"
    escalation_urgent_after: Period = timedelta(minutes=15)
    escalation_normal_after: Period = timedelta(hours=4)
    escalation_check_seconds: float = Field(default=30.0, gt=0, le=3600)
    telegram_max_rate: float = Field(default=30.0, ge=0)
    # The HTTP client under python-telegram-bot: aiohttp (a quarter of httpx's CPU per request)
    # or PTB's own httpx.
    telegram_http_client: Literal["aiohttp", "httpx"] = "aiohttp"
    # How long a request waits for Telegram's answer before it counts as timed out (and the
    # message is sent again); python-telegram-bot's default. A long poll waits this much longer.
    telegram_read_timeout: float = Field(default=5.0, gt=0, le=600)
    delivery_max_attempts: int = Field(default=15, ge=1, le=100)
    # A failed delivery is tried again after this many seconds, then twice as long after each
    # further failure (at most 5 minutes); a 429's retry_after takes precedence.
    delivery_retry_seconds: float = Field(default=2.0, gt=0, le=300)
    delivery_claim_seconds: float = Field(default=30.0, ge=1, le=3600)
    delivery_concurrency: int = Field(default=8, ge=1, le=64)
    delivery_idle_seconds: float = Field(default=1.0, gt=0, le=60)
    updates_in_flight: int = Field(default=128, ge=1, le=10_000)
    # After SIGTERM the bot finishes what is in flight; when the Bot API does not answer, it
    # stops anyway after this long (what was in flight is sent again at the next start).
    stop_grace_seconds: float = Field(default=6.0, gt=0, le=600)
    # Live messages (status, overviews, own answers) are edited at most once per this many
    # seconds each: Telegram allows about one message or edit per chat and second, and edits of
    # the same message in quick succession run into 429s; a burst of changes becomes one edit.
    live_message_interval: float = Field(default=3.0, gt=0, le=600)
    database_lock_timeout_ms: int = Field(default=10_000, ge=10, le=600_000)
    # Before a poll's deadline, members who have not answered are reminded (comma-separated
    # ISO 8601 durations or seconds; empty: no reminders).
    poll_reminders: str = "PT24H"
    poll_event_duration: timedelta = timedelta(hours=1)
    schedule_check_seconds: float = Field(default=30.0, gt=0, le=3600)
    drill_result_after: Period = timedelta(hours=1)
    report_slow_after: Period = timedelta(hours=1)
    # Alerts and follow-ups are sent with Telegram's protect_content: no forwarding, no saving.
    alert_protect_content: bool = True

    @field_validator(
        "telegram_bot_token",
        "cora_encryption_key",
        "cora_audit_signing_key",
        "cora_audit_verify_keys",
        "cora_network_file",
        "webhook_url",
        "webhook_secret",
        "metrics_listen",
        "api_listen",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `.env.example` copied to `.env` leaves these empty: that means "not set".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    # The support system: a places report older than this shows as "unknown"; a need goes to
    # the neighbouring regions after NEED_WIDEN_AFTER and is unmet after NEED_UNMET_AFTER.
    places_stale_after: Period = timedelta(hours=24)
    need_widen_after: Period = timedelta(minutes=30)
    need_unmet_after: Period = timedelta(hours=4)

    @field_validator("cora_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone name such as Europe/Berlin") from None
        return value

    @field_validator("poll_reminders")
    @classmethod
    def _check_reminders(cls, value: str) -> str:
        try:
            offsets = [_duration(p) for p in value.split(",") if p.strip()]
        except ValidationError:
            raise ValueError("must be durations before the deadline, e.g. PT24H,PT1H") from None
        if any(offset <= timedelta(0) for offset in offsets):
            raise ValueError("must be positive durations, e.g. PT24H,PT1H")
        return value

    @field_validator("poll_event_duration")
    @classmethod
    def _check_duration(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration, e.g. PT1H")
        return value

    @model_validator(mode="after")
    def _check_invite_uses(self) -> Settings:
        if self.invite_default_uses > self.invite_max_uses:
            raise ValueError("INVITE_DEFAULT_USES must not be larger than INVITE_MAX_USES")
        return self

    @property
    def poll_reminder_offsets(self) -> list[timedelta]:
        return [_duration(p) for p in self.poll_reminders.split(",") if p.strip()]

    @field_validator("telegram_bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError("does not look like a bot token from @BotFather (digits:characters)")
        return value

    @field_validator("telegram_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        if value.startswith("sqlite://") and not value.startswith("sqlite+aiosqlite://"):
            return "sqlite+aiosqlite://" + value.removeprefix("sqlite://")
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value.removeprefix(prefix)
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("cora_encryption_key")
    @classmethod
    def _check_encryption_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        for key in value.get_secret_value().split(","):
            try:
                Fernet(key.strip())
            except ValueError:
                raise ValueError(
                    "must be one or more comma-separated keys from `cora-bot keys generate`"
                ) from None
        return value

    @field_validator("cora_audit_signing_key")
    @classmethod
    def _check_signing_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _raw_key(value.get_secret_value(), "an Ed25519 private key")
        return value

    @field_validator("cora_audit_verify_keys")
    @classmethod
    def _check_verify_keys(cls, value: str | None) -> str | None:
        for key in (value or "").split(","):
            if key.strip():
                _raw_key(
                    key,
                    "one or more comma-separated Ed25519 public keys",
                    "cora-bot audit public-key",
                )
        return value if value and value.strip(" ,") else None

    @field_validator("audit_witness_file", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def witness_path(self) -> Path:
        """Where each signed checkpoint is also appended, outside the database."""
        return self.audit_witness_file or self.cora_data_dir / "audit-witness.jsonl"

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https?://[^/\s]+/\S*$", value):
            raise ValueError(
                "must be the public URL Telegram posts to, e.g. https://bot.example.org/telegram"
            )
        return value or None

    @field_validator("webhook_listen", "metrics_listen", "api_listen")
    @classmethod
    def _check_listen(cls, value: str | None) -> str | None:
        if value and not re.match(r"^[\w.:\[\]-]*:\d{1,5}$", value):
            raise ValueError("must be host:port, e.g. 0.0.0.0:8080")
        return value or None

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(r"^[A-Za-z0-9_-]{16,256}$", value.get_secret_value()):
            raise ValueError("must be 16 to 256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("cora_network_file")
    @classmethod
    def _check_network_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {value} does not exist")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def webhook(self) -> tuple[str, str]:
        """URL and secret for webhook mode, or a clear error naming what is missing."""
        missing = [
            name
            for name, value in (
                ("WEBHOOK_URL", self.webhook_url),
                ("WEBHOOK_SECRET", self.webhook_secret),
            )
            if not value
        ]
        if missing or self.webhook_url is None or self.webhook_secret is None:
            raise ConfigError(
                f"Webhook mode needs {' and '.join(missing)} (see .env.example); "
                "`cora-bot keys generate` prints a secret."
            )
        return self.webhook_url, self.webhook_secret.get_secret_value()

    def bot_token(self) -> str:
        """The bot token, or a clear error for commands that need to talk to Telegram."""
        if self.telegram_bot_token is None:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is not set. Ask @BotFather for a token and put it into .env "
                "(see .env.example), or try `cora-bot sandbox`, which needs no token."
            )
        return self.telegram_bot_token.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's errors into one readable message per field."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = ["The configuration is not valid:"]
        for problem in error.errors():
            name = ".".join(str(part) for part in problem["loc"]).upper() or "(settings)"
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(f"  {name}: {message}")
        raise ConfigError("\n".join(lines)) from None
