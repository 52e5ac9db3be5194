"""Agency systems' keys and signatures: who a client is, what it signs, and how the API
refuses a request."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from storage.models import ApiClient

MAX_CLOCK_SKEW = timedelta(minutes=5)
KEY_PREFIX = "cora"
# The shapes of what clients send in headers; anything else is refused before it is looked up.
KEY_ID = re.compile(r"[0-9a-f]{16}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,100}")  # printable ASCII


class ApiRefusal(Exception):
    """A request the API refuses: HTTP status and a machine-readable code."""

    def __init__(self, status: int, code: str, **details: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.details = status, code, details


@dataclass(frozen=True)
class Client:
    id: int
    key_id: str
    name: str
    sector: str
    region: str

    @property
    def actor(self) -> str:
        return f"api:{self.id}"

    @classmethod
    def of(cls, row: ApiClient) -> Client:
        return cls(row.id, row.key_id, row.name, row.sector, row.region)


@dataclass(frozen=True)
class CreatedClient:
    client: Client
    api_key: str  # shown once; only a hash is kept


def signing_message(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    """What a client signs: method, path (with query), timestamp, and the body's SHA-256."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{digest}".encode()


def signing_key(api_key: str) -> bytes:
    """Clients sign with the SHA-256 of their API key; the server keeps only that hash."""
    return hashlib.sha256(api_key.encode()).digest()


def signature_with(key: bytes, method: str, path: str, timestamp: str, body: bytes) -> str:
    message = signing_message(method, path, timestamp, body)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(api_key: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    return signature_with(signing_key(api_key), method, path, timestamp, body)
