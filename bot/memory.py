"""Process-wide memory settings, made once when the bot is built."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

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


# Python's garbage collector walks every object the process holds at each full collection. The
# bot's start builds some 150,000 that live as long as the process (modules, classes, settings,
# menus): on the 2-core machine each full collection took 0.1-0.3 s more for them, a pause in
# which no update is handled, and while they were imported the collector walked them two or
# three times (a fifth of the import's CPU).


@contextmanager
def collector_paused() -> Iterator[None]:
    """No collection while the block runs: for imports, whose objects all stay."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def settle_start_up() -> int:
    """After the start: what the process has built so far moves to the generation that the
    collector skips (gc.freeze), after one collection of what is garbage already. Later
    collections walk only what came after. Those objects are still freed when nothing refers to
    them any more; only a cycle among them that becomes garbage stays. Returns the number of
    objects moved."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
