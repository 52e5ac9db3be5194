"""Benchmark: what the bot's start path makes resident, group by group of imports, and what the
first use of its lazily loaded data adds.

Run: .venv/bin/python -m bench.imports [--repeat 3]

Each round runs in a fresh interpreter (`python -c`): it imports the groups below in order,
the libraries first and the bot's own modules last (`bot.app` and `bot.cli.main`, what
`cora-bot run` imports before it starts), and reads its resident set (`VmRSS` of
/proc/self/status) after each group. A group's figure is what it adds to everything imported
before it, so a library that an earlier group already loaded costs nothing again. Then the
same interpreter loads the personal-data check's word lists (what `CoraBot.start` does before
it runs) and writes dates and a poll option in both languages (as every alert, trace and date
poll does). The table shows the median of the rounds. `--modules` lists the modules the start
path loads, grouped by top-level package.

The figures are this virtualenv's: with the `dev` extras installed, `httpx` (imported by
python-telegram-bot whatever request class the bot uses) also loads the command line it ships
for itself (rich, click, Pygments: about 4 MB), which a production install does not have.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

GROUPS: list[tuple[str, list[str]]] = [
    ("asyncio, ssl, json, logging (stdlib)", ["asyncio", "ssl", "json", "logging"]),
    ("pydantic, pydantic-settings", ["pydantic", "pydantic_settings"]),
    (
        "SQLAlchemy (asyncio, ORM), aiosqlite",
        ["sqlalchemy.ext.asyncio", "sqlalchemy.orm", "aiosqlite"],
    ),
    ("aiohttp (client)", ["aiohttp"]),
    ("httpx (with its CLI where installed)", ["httpx"]),
    ("python-telegram-bot (telegram, telegram.ext)", ["telegram", "telegram.ext"]),
    (
        "cryptography (Fernet, Ed25519, AEAD)",
        [
            "cryptography.fernet",
            "cryptography.hazmat.primitives.asymmetric.ed25519",
            "cryptography.hazmat.primitives.ciphers.aead",
        ],
    ),
    ("APScheduler", ["apscheduler.schedulers.asyncio"]),
    ("Babel (messages, support)", ["babel.support", "babel.messages.pofile"]),
    (
        "phonenumbers, python-stdnum, gender-guesser",
        [
            "phonenumbers",
            "stdnum.de.idnr",
            "gender_guesser.detector",
        ],
    ),
    ("prometheus-client", ["prometheus_client"]),
    ("aiohttp.web (server)", ["aiohttp.web"]),
    ("storage (models, repositories)", ["storage.models", "storage.db"]),
    ("bot, handlers (bot.app, bot.cli.main)", ["bot.app", "bot.cli.main"]),
]

_ROUND = """
import importlib, json, sys

def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

rows = [("interpreter", rss(), len(sys.modules))]
for label, modules in json.loads(sys.argv[1]):
    for module in modules:
        importlib.import_module(module)
    rows.append((label, rss(), len(sys.modules)))

from datetime import UTC, datetime, timedelta
from bot import personal_data
from bot.polls import OptionView
from bot.timing.dates import local_text
from handlers.polls.views import option_label

personal_data.warm_up()
rows.append(("word lists of the personal-data check", rss(), len(sys.modules)))
moment = datetime(2026, 12, 8, 10, 40, tzinfo=UTC)
for language in ("de", "en"):
    option = OptionView(1, 1, None, moment, moment + timedelta(hours=1), False)
    option_label(option, "Europe/Berlin", language)
    local_text(moment, "Europe/Berlin", language)
rows.append(("dates and a date poll's option, de and en", rss(), len(sys.modules)))
tops = {}
for name in sys.modules:
    top = name.split(".")[0]
    tops[top] = tops.get(top, 0) + 1
print(json.dumps({"rows": rows, "modules": tops}))
"""


def _round() -> dict[str, object]:
    groups = json.dumps(GROUPS)
    result = subprocess.run(
        [sys.executable, "-c", _ROUND, groups], capture_output=True, text=True, check=True
    )
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="fresh interpreters (median)")
    parser.add_argument("--modules", action="store_true", help="list modules by package")
    args = parser.parse_args()
    rounds = [_round() for _ in range(args.repeat)]
    tables = [r["rows"] for r in rounds]
    assert all(isinstance(t, list) for t in tables)
    print(f"Python {sys.version.split()[0]}, {args.repeat} fresh interpreters (median)\n")
    print(f"{'group':52} {'RSS MB':>7} {'added':>6} {'modules':>8}")
    print("-" * 76)
    previous = 0.0
    for i, row in enumerate(tables[0]):  # type: ignore[arg-type]
        label = row[0]
        rss = statistics.median(t[i][1] for t in tables)  # type: ignore[index]
        modules = row[2]
        added = f"+{rss - previous:.1f}" if i else ""
        print(f"{label:52} {rss:7.1f} {added:>6} {modules:8d}")
        previous = rss
    if args.modules:
        tops = rounds[0]["modules"]
        assert isinstance(tops, dict)
        print("\nmodules by top-level package:")
        for top, count in sorted(tops.items(), key=lambda item: -item[1]):
            print(f"  {count:4d} {top}")


if __name__ == "__main__":
    main()
