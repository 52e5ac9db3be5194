"""Benchmark: the personal-data check on a 3,500-character alert (the longest the bot accepts).

Run: .venv/bin/python -m bench.personal_data [--repeat 200]
Prints the time to load the word lists once, the median and 95th percentile of checking one
3,500-character text (pseudonymous case talk, and the same with personal data in it), the
same for the previous pattern-only check as a baseline (measured in this run, on the same text,
from git's copy of bot/personal_data.py before issue 14 if it is available), and the slowest
of a set of adversarial inputs of 10,000 characters. Target: under 5 ms per 3,500 characters.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from bot import personal_data
from bot.personal_data import find_personal_data
from bot.personal_data.lexicon import lexicon

PSEUDONYMOUS = (
    "Fall Linde: Frau L. (34) wurde gestern erneut vom Ex-Partner bedroht, die Polizei war vor "
    "Ort und hat eine Wegweisung nach § 52 SOG M-V ausgesprochen. Tochter (6) und Sohn (9) "
    "sind bei der Großmutter. Fallkonferenz am 12.03.2026 um 10 Uhr im Jugendamt Rostock; "
    "Hilfetelefon 116 016 ist informiert, das Frauenhaus Rostock hat einen Platz frei. "
    "Schutzanordnung nach § 1 GewSchG ist beantragt. Der Gefährder hat Zugang zu Waffen. "
)
IDENTIFYING = (
    "Frau Sabine Müller (geb. 12.03.1985) wurde in der Wohnung Lange Straße 5, 3. OG links, "
    "von Kevin Neumann bedroht; Tochter Lea (6) ist in Obhut. Er fährt HRO-AB 123 und "
    "schreibt ihr als @dennis_b_hro. Rückruf unter 0381 1234567, Steuer-ID 65929970489. "
)
ADVERSARIAL = {
    "zeros": "0" * 10_000,
    "digit groups": "0 " * 5_000,
    "nested parentheses": "(0" * 5_000,
    "phone-like": "0381 " * 2_000,
    "letters": "a" * 10_000,
    "at signs": "a@" * 5_000,
    "dotted": "a." * 5_000,
    "hyphenated": "a-" * 5_000,
    "words": "Am der " * 1_500,
    "street-like": "Musterstraße " * 800,
    "iban-like": "DE89 " * 2_000,
    "dates": "12.03." * 1_700,
    "birth keywords": "geb. * " * 1_500,
    "month names": "12. März " * 1_200,
    "invisible": "0\u200b" * 5_000,
    "titles": "Frau Herr " * 1_000,
    "given names": "Anna Lea Ben " * 800,
    "relations": "Tochter Sohn " * 800,
    "plates": "HRO-AB 1 " * 1_200,
    "handles": "@a_b " * 2_000,
    "capitals": "ABC DEF " * 1_250,
    "mixed": ("0381-12 a@b. Am Markt 3 12.3. DE00 Frau Lea (6) HRO-A 1 " * 200),
}


def _fill(sample: str, length: int = 3_500) -> str:
    return (sample * (length // len(sample) + 1))[:length]


def _times(check: Callable[[str], object], text: str, repeat: int) -> list[float]:
    """CPU seconds of the process per check: on a shared machine, wall time mostly measures
    the neighbours."""
    check(text)  # warm
    times = []
    for _ in range(repeat):
        started = time.process_time()
        check(text)
        times.append(time.process_time() - started)
    return times


def _previous_check() -> Callable[[str], object] | None:
    """The pattern-only check before issue 14, from git, as a baseline in the same run."""
    for revision in ("7d4101d", "cad6fef"):  # main before issue 14, and its last commit
        shown = subprocess.run(
            ["git", "show", f"{revision}:bot/personal_data.py"],
            capture_output=True,
            text=True,
            check=False,
        )
        if shown.returncode == 0:
            break
    else:
        return None
    path = Path(tempfile.mkdtemp()) / "personal_data_before.py"
    path.write_text(shown.stdout, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("personal_data_before", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    check: Callable[[str], object] = module.find_personal_data
    return check


def _row(name: str, times: list[float], baseline: list[float] | None = None) -> str:
    median = statistics.median(times) * 1000
    p95 = sorted(times)[int(len(times) * 0.95) - 1] * 1000
    ratio = f"  {median / (statistics.median(baseline) * 1000):5.1f}x baseline" if baseline else ""
    return f"  {name:<52} median {median:5.2f} ms  p95 {p95:5.2f} ms{ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    personal_data.warm_up()
    loaded = time.process_time() - started
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    tracemalloc.start()
    lexicon.cache_clear()
    personal_data.warm_up()
    kept, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    words = lexicon()
    print("personal-data check")
    print(
        f"  word lists: {len(words.given_names):,} given names, {len(words.common_nouns):,} "
        f"noun forms, {len(words.surnames):,} surnames, {len(words.places):,} places"
    )
    print(
        f"  loaded once in {loaded:.2f} s of CPU; the process grew by {peak / 2**20:.0f} MiB "
        f"while loading, the lists keep {kept / 2**20:.1f} MiB"
    )

    previous = _previous_check()
    print(f"one 3,500-character text, CPU time per check ({args.repeat} runs each)")
    for name, sample in (
        ("pseudonymous case talk", PSEUDONYMOUS),
        ("with personal data", IDENTIFYING),
    ):
        text = _fill(sample)
        baseline = _times(previous, text, args.repeat) if previous else None
        if baseline:
            print(_row(f"{name}, pattern-only check before issue 14", baseline))
        print(_row(f"{name}, this check", _times(find_personal_data, text, args.repeat), baseline))
    print(f"adversarial input, 10,000 characters (slowest three of {len(ADVERSARIAL)})")
    slowest = sorted(
        (
            (min(_times(find_personal_data, text[:10_000], 5)), name)
            for name, text in ADVERSARIAL.items()
        ),
        reverse=True,
    )
    for seconds, name in slowest[:3]:
        print(f"  {name:<44} {seconds * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
