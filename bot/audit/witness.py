"""Copies of the signed audit heads outside the database: the append-only witness file, and
heads copied from the coordinators' daily message (`SEQ:HASH`)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

_HEAD = re.compile(r"^\s*(\d{1,18})\s*:\s*([0-9a-fA-F]{64})\s*$")
FIELDS = ("seq", "hash", "signed_at", "key_id", "signature")  # as Witnessed lists them


class WitnessFileError(Exception):
    """The witness file cannot be read as witnessed heads; the message names file and line."""


@dataclass(frozen=True)
class Witnessed:
    """A signed head as it was written outside the database."""

    seq: int
    hash: str
    signed_at: str
    key_id: str
    signature: str

    def line(self) -> str:
        record = {name: getattr(self, name) for name in FIELDS}
        return json.dumps(record, sort_keys=True, separators=(",", ":"))


def append(path: Path, head: Witnessed) -> None:
    """Append one line, and make it durable before returning (flush and fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = head.line().encode() + b"\n"
    created = not path.exists()
    if not created and path.stat().st_size:
        with path.open("rb") as existing:
            existing.seek(-1, os.SEEK_END)
            if existing.read(1) != b"\n":  # a line cut short by a crash stays on its own
                data = b"\n" + data
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "ab") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    if created:  # the new directory entry must survive a crash as well
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def read(path: Path) -> list[Witnessed]:
    """Every witnessed head in the file, in the order written."""
    heads = []
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise WitnessFileError(f"cannot read the witness file {path}: {error}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            head = Witnessed(**{name: record[name] for name in FIELDS})
            valid = isinstance(head.seq, int) and all(
                isinstance(getattr(head, name), str) for name in FIELDS[1:]
            )
        except (ValueError, TypeError, KeyError):
            valid = False
        if not valid:
            raise WitnessFileError(f"line {number} of {path} is not a witnessed audit head")
        heads.append(head)
    return heads


def newest(path: Path | None) -> Witnessed | None:
    """The newest witnessed head, or None when there is no witness file (yet)."""
    if path is None or not path.exists():
        return None
    return max(read(path), key=lambda head: head.seq, default=None)


def parse_head(text: str) -> tuple[int, str]:
    """`1234:<64 hex digits>`, as the daily message shows it."""
    match = _HEAD.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a head like 1234:<64 hexadecimal digits>")
    return int(match.group(1)), match.group(2).lower()
