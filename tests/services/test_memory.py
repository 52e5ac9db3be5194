"""Process-wide memory settings (bot/memory.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")

# Eight threads allocate (and keep) memory outside Python's small-object allocator at the same
# time, as eight SQLite connections in aiosqlite's threads do; glibc's `malloc_info` then lists
# the arenas in use.
_THREADS = """
import ctypes, json, os, sys, tempfile, threading
from bot.memory import limit_malloc_arenas

limited = limit_malloc_arenas() if sys.argv[1] == "limit" else False
start, kept = threading.Barrier(8), []

def allocate():
    start.wait()
    kept.append([bytearray(4096) for _ in range(200)])

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
path = tempfile.mktemp()
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
with open(path) as info:
    arenas = info.read().count("<heap nr=")
os.unlink(path)
print(json.dumps({"limited": limited, "arenas": arenas}))
"""


def _result(script: str, argument: str, **environment: str) -> dict[str, object]:
    """What `script` prints last (JSON), run in a fresh interpreter with `argument`."""
    result = subprocess.run(
        [sys.executable, "-c", script, argument],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **environment},
    )
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def _arenas(mode: str, **environment: str) -> dict[str, object]:
    return _result(_THREADS, mode, **environment)


def test_the_threads_share_two_malloc_arenas() -> None:
    """Without the limit every allocating thread gets an arena of its own (and keeps its freed
    memory there); with it, the main arena and one more serve them all."""
    unlimited = _arenas("as is")
    assert unlimited["arenas"] > 2  # the baseline: glibc's default
    assert _arenas("limit") == {"limited": True, "arenas": 2}


def test_an_operators_malloc_arena_max_is_left_alone() -> None:
    assert _arenas("limit", MALLOC_ARENA_MAX="4") == {"limited": False, "arenas": 4}


# How many full collections of Python's garbage collector an import makes, and whether the
# collector is on afterwards.
_IMPORT = """
import gc, json, sys
__import__(sys.argv[1])
print(json.dumps({"full_collections": gc.get_stats()[2]["collections"], "on": gc.isenabled()}))
"""


def _collections_while_importing(module: str) -> dict[str, object]:
    return _result(_IMPORT, module)


def test_the_command_line_is_imported_without_full_collections() -> None:
    """The bot's modules imported as such make the collector walk them again and again; the
    command line imports them with the collector paused, and turns it on again."""
    assert _collections_while_importing("bot.app")["full_collections"] >= 1  # the baseline
    assert _collections_while_importing("bot.cli") == {"full_collections": 0, "on": True}
