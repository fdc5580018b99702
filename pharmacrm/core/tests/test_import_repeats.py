"""Finding repeated keys after the file, with the keys spilled to disk in sorted runs."""

from __future__ import annotations

import random

from pharmacrm.core.imports.repeats import Repeat, RepeatedKeys, SortedRuns


def test_sorted_runs_merge_what_was_spilled_and_what_was_not() -> None:
    rng = random.Random(1)
    values = [rng.randrange(1 << 96) for _ in range(1000)]
    runs = SortedRuns(12, run_values=64)
    for value in values:
        runs.add(value)
    assert list(runs) == sorted(values)
    runs.close()
    small = SortedRuns(12, run_values=64)
    for value in (5, 1, 3):
        small.add(value)
    assert list(small) == [1, 3, 5]


def test_repeats_in_row_order_with_the_first_row_of_each_key() -> None:
    keys = RepeatedKeys(run_values=3)  # several runs on disk
    for row, key, flagged in [
        (2, 70, False),
        (3, 9, False),
        (4, 70, True),
        (5, (1 << 64) - 1, False),
        (6, 9, False),
        (7, 70, False),
        (8, 11, False),
        (9, (1 << 64) - 1, False),
    ]:
        keys.add(key, row, flagged=flagged)
    assert list(keys.repeats()) == [
        Repeat(row=4, first_row=2, flagged=True),
        Repeat(row=6, first_row=3, flagged=False),
        Repeat(row=7, first_row=2, flagged=False),
        Repeat(row=9, first_row=5, flagged=False),
    ]


def test_no_repeats() -> None:
    keys = RepeatedKeys(run_values=4)
    for row in range(2, 50):
        keys.add(row * 7919, row)
    assert list(keys.repeats()) == []
