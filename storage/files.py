"""Directories and files that hold personal data or keys: created for their owner only (0700,
0600) whatever the umask, which can only take permissions away, never add them."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
log = logging.getLogger(__name__)


def private_directory(path: Path) -> Path:
    """Create `path` and its missing parents as 0700; an existing directory is left as the
    operator set it, with a warning when others may read it."""
    missing: list[Path] = []
    here = path
    while not here.exists():
        missing.append(here)
        here = here.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIRECTORY)
        except FileExistsError:
            continue  # another process was first; it made it private too
        # mkdir's mode is reduced by the umask (0o277 would leave it unwritable): set it exactly.
        os.chmod(directory, PRIVATE_DIRECTORY)
    if not missing:
        _warn_if_shared(path)
    return path


def create_private_file(path: Path) -> bool:
    """Create an empty file readable and writable by its owner only; False if it exists."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        _warn_if_shared(path)
        return False
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
    finally:
        os.close(descriptor)
    return True


def _warn_if_shared(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "%s can be read by other users (mode %o); it holds personal data or keys: chmod %s it",
            path,
            stat.S_IMODE(mode),
            "700" if stat.S_ISDIR(mode) else "600",
        )
