"""Process-wide memory settings, made once when the bot is built."""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

# glibc's mallopt parameter for the number of malloc arenas (malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8

# At most this many malloc arenas. glibc gives every thread that allocates an arena of its own,
# up to eight per core, and keeps each one's freed memory for that arena. Every SQLite
# connection runs in a thread of its own (aiosqlite), with its page cache and prepared
# statements allocated there: ten pooled connections left ten arenas of about 2 MB resident each.
# Two arenas are what glibc's documentation suggests for memory-bound services; the threads
# spend their time in SQLite, not in malloc, so they do not queue for an arena's lock.
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Limit glibc's malloc to `arenas` arenas for the threads started from now on. Left alone
    when the environment sets `MALLOC_ARENA_MAX` (glibc reads that itself; the operator's choice
    wins) and on a C library without glibc's `mallopt`. True when the limit was set."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(_M_ARENA_MAX, arenas) != 1:
        log.debug("the C library did not take a limit of %d malloc arenas", arenas)
        return False
    return True
