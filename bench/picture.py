"""Benchmark: the CPU one report picture costs (`handlers/report/views/picture.py`, `draw`), for a
heat map the size of the network report's: the network's sectors by its regions, three panels,
a number in every cell, hatching in some.

Run: .venv/bin/python -m bench.picture [--pictures 8] [--rounds 3] [--from DIR]

Each round draws the picture `--pictures` times in a fresh process and prints the median and the
least CPU per picture. With `--from DIR` (another checkout, e.g. `git worktree add /tmp/base
<commit>`) the rounds alternate between DIR's code and this one, the baseline in the same run,
and the last line gives the ratio of the medians and whether both drew the same PNG bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported in the round's process, from the checkout it measures
    from handlers.report.views.picture import HeatMap

_HERE = Path(__file__).resolve().parent.parent


def _heat_map() -> HeatMap:
    from bot.network import load_network
    from handlers.report.views.picture import Box, HeatMap, Key, Panel

    network = load_network()
    rows = [place.label("de") for place in network.sectors.values()]
    columns = [place.label("de") for place in network.regions.values()]
    shades = ("#ffffff", "#e6e6e6", "#b3b3b3", "#7a7a7a", "#404040")

    def panel(n: int) -> Panel:
        boxes = [
            Box(
                x,
                y,
                shades[(x * 7 + y * 3 + n) % 5],
                "xx" if (x + y * n) % 6 == 0 else None,
                f"{x}/{y}",
            )
            for x in range(len(columns))
            for y in range(len(rows))
        ]
        legend = [Key("0"), Key("1–2", shades[1]), Key("keine Mitglieder", hatch="xx")]
        return Panel(f"Panel {n}", boxes, legend)

    return HeatMap(
        "Netzwerkbericht", rows, columns, [panel(1), panel(2), panel(3)], (14, 12), "Fuß"
    )


def _measure(pictures: int) -> dict[str, object]:
    """In the child process: draw the picture `pictures` times (one more first, for the
    imports and font caches) and report the CPU seconds of each and the PNG's digest."""
    from handlers.report.views.picture import draw

    heat = _heat_map()
    png = draw(heat)
    seconds = []
    for _ in range(pictures):
        started = time.process_time()
        png = draw(heat)
        seconds.append(time.process_time() - started)
    return {"seconds": seconds, "digest": hashlib.sha256(png).hexdigest()}


def _round(source: Path, pictures: int) -> dict[str, object]:
    """One round in a fresh interpreter that imports the code from `source`."""
    command = [sys.executable, __file__, "--child", str(source), "--pictures", str(pictures)]
    result = subprocess.run(command, cwd=source, capture_output=True, text=True, check=True)
    measured: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pictures", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--from", dest="base", type=Path, help="another checkout: the baseline")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # a round's process
    args = parser.parse_args()
    if args.child is not None:  # this file run as a script: the code comes from `--child`
        sys.path[0] = str(args.child)
        print(json.dumps(_measure(args.pictures)))
        return
    sources = [("this", _HERE)] + ([("base", args.base.resolve())] if args.base else [])
    medians: dict[str, list[float]] = {name: [] for name, _ in sources}
    digests: dict[str, str] = {}
    for number in range(1, args.rounds + 1):
        for name, source in sources:
            measured = _round(source, args.pictures)
            seconds = measured["seconds"]
            assert isinstance(seconds, list)
            median = statistics.median(seconds)
            medians[name].append(median)
            digests[name] = str(measured["digest"])
            print(
                f"round {number} {name:4s}: {median * 1000:6.0f} ms CPU per picture "
                f"(least {min(seconds) * 1000:.0f} ms, {args.pictures} pictures)"
            )
    if args.base:
        ratio = statistics.median(medians["this"]) / statistics.median(medians["base"])
        same = "the same PNG bytes" if digests["this"] == digests["base"] else "different PNGs"
        print(f"this / base: {ratio:.2f} of the CPU per picture (medians of the rounds); {same}")


if __name__ == "__main__":
    main()
