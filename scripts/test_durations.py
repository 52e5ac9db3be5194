"""Rewrite tests/durations.txt from the `--durations 0` lines of full pytest runs (one file per
run; several are averaged): seconds per test, set-up + call + tear-down, slowest first.
tests/conftest.py starts the slowest tests first, so that no worker is left with one at the end
of the run."""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

LINE = re.compile(r"^\s*([0-9.]+)s (setup|call|teardown)\s+(\S+)")
OUT = Path(__file__).resolve().parent.parent / "tests" / "durations.txt"
HEADER = (
    "# Seconds per test (set-up + call + tear-down) of a full run, slowest first; tests under\n"
    "# 0.5 s are left out. tests/conftest.py starts the slowest first. Refresh after full runs:\n"
    "#   pytest --durations 0 -q ... > run.txt && python scripts/test_durations.py run.txt ...\n"
)


def main(paths: list[str]) -> int:
    seconds: dict[str, float] = defaultdict(float)
    runs: dict[str, int] = defaultdict(int)
    for path in paths:
        in_run: dict[str, float] = defaultdict(float)
        for line in Path(path).read_text().splitlines():
            found = LINE.match(line)
            if found:
                in_run[found[3]] += float(found[1])
        for test, value in in_run.items():
            seconds[test] += value
            runs[test] += 1
    seconds = defaultdict(float, {test: value / runs[test] for test, value in seconds.items()})
    if not seconds:
        print("no `--durations 0` lines found", file=sys.stderr)
        return 1
    slow = sorted(((s, test) for test, s in seconds.items() if s >= 0.5), reverse=True)
    OUT.write_text(HEADER + "".join(f"{s:.1f} {test}\n" for s, test in slow))
    print(f"{OUT}: {len(slow)} tests, {sum(s for s, _ in slow):.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
