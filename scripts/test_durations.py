"""Rewrite tests/durations.txt from the timings full pytest runs wrote with
CORA_TEST_TIMINGS=<directory> (one directory per run; several runs are averaged): wall and CPU
seconds per test, set-up + call + tear-down, slowest first. tests/conftest.py starts the slowest
test modules first and alternates those that mostly wait with those that mostly compute.

    CORA_TEST_TIMINGS=$(mktemp -d) ./scripts/test   # then:
    python scripts/test_durations.py <that directory> [<another run's directory> ...]
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "durations.txt"
HEADER = (
    "# Wall and CPU seconds per test (set-up + call + tear-down) of a full run, slowest first;\n"
    "# tests under 0.5 s are left out. tests/conftest.py orders the modules by them. Refresh\n"
    "# after full runs: CORA_TEST_TIMINGS=<dir> ./scripts/test; scripts/test_durations.py <dir>\n"
)


def main(directories: list[str]) -> int:
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    runs: dict[str, int] = defaultdict(int)
    for directory in directories:
        for path in sorted(Path(directory).glob("*.txt")):
            for line in path.read_text().splitlines():
                wall, cpu, test = line.split(" ", 2)
                totals[test][0] += float(wall)
                totals[test][1] += float(cpu)
                runs[test] += 1
    if not totals:
        print("no timings found (run with CORA_TEST_TIMINGS=<directory>)", file=sys.stderr)
        return 1
    mean = {test: (wall / runs[test], cpu / runs[test]) for test, (wall, cpu) in totals.items()}
    slow = sorted(
        ((wall, cpu, test) for test, (wall, cpu) in mean.items() if wall >= 0.5), reverse=True
    )
    OUT.write_text(HEADER + "".join(f"{wall:.1f} {cpu:.1f} {test}\n" for wall, cpu, test in slow))
    wall, cpu = sum(s[0] for s in slow), sum(s[1] for s in slow)
    print(f"{OUT}: {len(slow)} tests, {wall:.0f} s, {cpu:.0f} s CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
