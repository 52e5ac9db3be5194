"""One cache of compiled SQL for every engine of the process.

SQLAlchemy caches the SQL it compiles from a statement per engine, under a key that begins with
the engine's dialect object, so two engines never share an entry even where they would compile
every statement alike. A bot on SQLite has two engines (the writer's and the readers'), and the
CLI, the migrations and the tests open one database after another in one process: each
compiled every statement again, 1–2 ms apiece (about a third of a bot's start).

Here the cache is given to each engine through SQLAlchemy's `compiled_cache` execution option,
and a dialect in a key stands for what decides the SQL it compiles: its class and every plain
value it holds (server version, parameter style, the features its first connection found,
identifier lengths, …). Dialects that differ in any of them share nothing. A compiled statement
keeps no connection; each execution binds its own.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, MutableMapping
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.util import LRUCache

# SQLAlchemy's default is 500 entries per engine; one bot uses a few hundred statements.
CAPACITY = 1000

_PLAIN = (bool, int, float, str, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_plain(item) for item in value)
    return isinstance(value, _PLAIN)


class SharedCompiledCache(MutableMapping[Any, Any]):
    """An LRU cache of compiled statements whose keys compare dialects by what they are."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: LRUCache[Any, Any] = LRUCache(capacity)
        self._likeness: weakref.WeakKeyDictionary[Dialect, tuple[Any, ...]] = (
            weakref.WeakKeyDictionary()
        )

    def likeness(self, dialect: Dialect) -> Any:
        """The dialect's class with its plain settings, once its first connection has
        initialised it (read the server's version); before that, the dialect itself."""
        known = self._likeness.get(dialect)
        if known is None:
            if dialect.server_version_info is None:
                return dialect
            settings = sorted((k, v) for k, v in vars(dialect).items() if _plain(v))
            known = self._likeness[dialect] = (type(dialect), tuple(settings))
        return known

    def _key(self, key: Any) -> Any:
        if isinstance(key, tuple) and key and isinstance(key[0], Dialect):
            return (self.likeness(key[0]), *key[1:])
        return key

    def get(self, key: Any, default: Any = None) -> Any:
        return self._entries.get(self._key(key), default)

    def __getitem__(self, key: Any) -> Any:
        return self._entries[self._key(key)]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._entries[self._key(key)] = value

    def __delitem__(self, key: Any) -> None:
        del self._entries[self._key(key)]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)


COMPILED = SharedCompiledCache()
