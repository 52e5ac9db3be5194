"""The personal-data check measured on a labelled corpus of invented alert texts: it finds what
identifies someone, and leaves pseudonymous case talk alone.

Floors (issue 14): recall of identifying texts ≥ 95 % overall and for names (blocked or shown
for confirmation); pseudonymous texts refused: 0; shown for confirmation: ≤ 3 %.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bot.personal_data import Finding, find_personal_data
from tests.services.personal_data_corpus import (
    HELD_OUT_IDENTIFYING,
    HELD_OUT_PSEUDONYMOUS,
    IDENTIFYING,
    NAME,
    PSEUDONYMOUS,
    Sample,
)

RECALL_FLOOR = 0.95
CONFIRMATION_CEILING = 0.03
NETWORK_PLACES = ("Rostock", "Schwerin", "Ludwigslust-Parchim", "Vorpommern-Greifswald")


def hits(sample: Sample) -> list[Finding]:
    """Findings that overlap the labelled excerpt."""
    start = sample.text.index(sample.excerpt)
    end = start + len(sample.excerpt)
    return [
        f
        for f in find_personal_data(sample.text, NETWORK_PLACES)
        if f.start < end and start < f.end
    ]


Counts = dict[str, tuple[int, int, int]]


def report(
    identifying: list[Sample] = IDENTIFYING, pseudonymous: list[Sample] = PSEUDONYMOUS
) -> tuple[Counts, Counts]:
    """Per kind: (texts, blocked, confirmable only) for identifying texts, (texts, refused,
    confirmation) for pseudonymous ones."""
    found: dict[str, list[int]] = {}
    for sample in identifying:
        counts = found.setdefault(sample.kind, [0, 0, 0])
        counts[0] += 1
        sample_hits = hits(sample)
        if any(f.blocking for f in sample_hits):
            counts[1] += 1
        elif sample_hits:
            counts[2] += 1
    wrong: dict[str, list[int]] = {}
    for sample in pseudonymous:
        counts = wrong.setdefault(sample.kind, [0, 0, 0])
        counts[0] += 1
        findings = find_personal_data(sample.text, NETWORK_PLACES)
        if any(f.blocking for f in findings):
            counts[1] += 1
        elif findings:
            counts[2] += 1
    return (
        {kind: (c[0], c[1], c[2]) for kind, c in found.items()},
        {kind: (c[0], c[1], c[2]) for kind, c in wrong.items()},
    )


def print_report(found: Counts, wrong: Counts, title: str) -> None:
    print(f"\n{title}\nidentifying texts        n  blocked  confirm  recall")
    for kind, (n, blocked, confirm) in sorted(found.items()):
        print(f"  {kind:<20} {n:>4} {blocked:>8} {confirm:>8} {(blocked + confirm) / n:>7.1%}")
    print("pseudonymous texts       n  refused  confirm")
    for kind, (n, refused, confirm) in sorted(wrong.items()):
        print(f"  {kind:<20} {n:>4} {refused:>8} {confirm:>8}")


def test_the_corpus_is_big_enough_and_labelled_consistently() -> None:
    assert len(IDENTIFYING) >= 150
    assert len(PSEUDONYMOUS) >= 150
    assert all(sample.excerpt in sample.text for sample in IDENTIFYING)
    assert len({s.text for s in IDENTIFYING + PSEUDONYMOUS}) == len(IDENTIFYING + PSEUDONYMOUS)
    kinds = Counter(sample.kind for sample in IDENTIFYING)
    assert set(kinds) == {
        "name", "address", "licence_plate", "handle", "id_number",
        "phone", "email", "iban", "birth_date",
    }  # fmt: skip


def test_recall_and_false_positives_stay_within_the_floors() -> None:
    found, wrong = report()
    print_report(found, wrong, "corpus")

    total = sum(n for n, _, _ in found.values())
    recalled = sum(blocked + confirm for _, blocked, confirm in found.values())
    names, name_blocked, name_confirm = found[NAME]
    refused = sum(r for _, r, _ in wrong.values())
    confirmed = sum(c for _, _, c in wrong.values())
    pseudonymous = sum(n for n, _, _ in wrong.values())

    assert recalled / total >= RECALL_FLOOR, f"recall {recalled}/{total}"
    assert (name_blocked + name_confirm) / names >= RECALL_FLOOR, "recall of names"
    assert refused == 0, [s.text for s in PSEUDONYMOUS if _refused(s)]
    assert confirmed / pseudonymous <= CONFIRMATION_CEILING, f"{confirmed}/{pseudonymous}"


def test_held_out_texts_stay_within_the_floors() -> None:
    """Texts written after the detector and never used to change it."""
    found, wrong = report(HELD_OUT_IDENTIFYING, HELD_OUT_PSEUDONYMOUS)
    print_report(found, wrong, "held out")

    total = sum(n for n, _, _ in found.values())
    recalled = sum(blocked + confirm for _, blocked, confirm in found.values())
    assert recalled / total >= RECALL_FLOOR
    assert sum(r for _, r, _ in wrong.values()) == 0
    assert sum(c for _, _, c in wrong.values()) / len(HELD_OUT_PSEUDONYMOUS) <= (
        CONFIRMATION_CEILING
    )


def _refused(sample: Sample) -> bool:
    return any(f.blocking for f in find_personal_data(sample.text, NETWORK_PLACES))


@pytest.mark.parametrize(
    "sample", [s for s in IDENTIFYING if s.kind == NAME][:12], ids=lambda s: s.excerpt
)
def test_names_are_blocking(sample: Sample) -> None:
    """Names must be rephrased, not only confirmed."""
    assert any(f.blocking and f.kind == "name" for f in hits(sample)), sample.text
