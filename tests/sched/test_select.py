"""Tests for igor._sched._select: the by-count host choice (restricted pool first, contiguous runs).

Hand-written cases, including Igor v2's ``findBestSolution`` tests (reference §5.3) and its restricted-pool bugs
(§11.3). The engines' own choice (``find``) is held to this module in ``test_engine.py`` and ``test_stateful.py``.
"""

from __future__ import annotations

import pytest

from igor._sched._select import choose, pick_runs, runs

SEQ22 = list(range(1, 23))  # host index i has sequence number i + 1 ("kn<i+1>")


def kn(*numbers: int) -> list[int]:
    """Host indices of kn<number> in a cluster kn1..kn22 numbered 1..22."""
    return sorted(n - 1 for n in numbers)


# ---------------------------------------------------------------------------------------------- runs
def test_runs_split_on_sequence_gaps() -> None:
    assert runs(kn(3, 7, 9, 12, 14), SEQ22) == [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1)]
    assert runs(kn(8, 9, 12, 13, 14, 22), SEQ22) == [(0, 2), (2, 3), (5, 1)]
    assert runs([], SEQ22) == []


def test_runs_follow_sequence_numbers_not_indices() -> None:
    seq = [1, 2, 5, 6, 7, 10]          # indices 0..5 are consecutive, sequence numbers are not
    assert runs([0, 1, 2, 3, 4, 5], seq) == [(0, 2), (2, 3), (5, 1)]
    assert runs([1, 2], seq) == [(0, 1), (1, 1)]


# ------------------------------------------------------------------------------- reference §5.3
def test_no_contiguous_blocks_takes_all_five() -> None:
    # TestNoContiguousBlocks: free kn9, kn3, kn7, kn12, kn14; need 5 -> all five
    assert pick_runs(kn(9, 3, 7, 12, 14), 5, SEQ22) == kn(3, 7, 9, 12, 14)


def test_choose_smaller_contiguous_block() -> None:
    # TestChooseSmallerContiguousBlock: runs {8,9}, {12,13,14}, {22}
    free = kn(8, 9, 22, 13, 12, 14)
    assert pick_runs(free, 4, SEQ22) == kn(12, 13, 14, 22)   # largest smaller run, then the exact single
    assert pick_runs(free, 2, SEQ22) == kn(8, 9)             # exact run
    assert pick_runs(free, 1, SEQ22) == kn(22)               # exact run of one
    assert pick_runs(free, 3, SEQ22) == kn(12, 13, 14)
    assert pick_runs(free, 6, SEQ22) == kn(8, 9, 12, 13, 14, 22)


# ----------------------------------------------------------------------------------- run rule
@pytest.mark.parametrize(("free", "need", "expected"), [
    (kn(1, 2, 3, 4, 5), 3, kn(1, 2, 3)),                     # head of the only (longer) run
    (kn(1, 2, 3, 4, 5, 10, 11, 12, 13), 3, kn(10, 11, 12)),  # smallest longer run (4 < 5)
    (kn(1, 2, 3, 10, 11, 12, 13, 14), 2, kn(1, 2)),          # smallest longer run is {1,2,3}
    (kn(1, 2, 5, 6), 2, kn(1, 2)),                           # equal exact runs: lowest sequence number
    (kn(1, 2, 5, 6), 1, kn(1)),                              # equal longer runs: lowest sequence number
    (kn(1, 2, 5, 6, 9), 3, kn(1, 2, 9)),                     # largest smaller (tie: lowest), then exact {9}
    (kn(1, 2, 5, 6), 3, kn(1, 2, 5)),                        # largest smaller, then head of the other
    (kn(1, 3, 5, 7), 2, kn(1, 3)),                           # all singles: the lowest ones
    (kn(1, 2, 3, 7, 8, 9), 3, kn(1, 2, 3)),                  # two exact runs: the lowest
    (kn(4, 10, 11, 12, 13, 20, 21), 4, kn(10, 11, 12, 13)),  # exact run beats combining
    (kn(4, 10, 11, 12, 20, 21), 4, kn(4, 10, 11, 12)),       # 3 (largest smaller) + exact single
    (kn(4, 10, 11, 12, 20, 21), 5, kn(10, 11, 12, 20, 21)),  # 3 + exact pair
])
def test_pick_runs(free: list[int], need: int, expected: list[int]) -> None:
    assert pick_runs(free, need, SEQ22) == expected


def test_pick_runs_edge_counts() -> None:
    assert pick_runs(kn(1, 2), 0, SEQ22) == []
    assert pick_runs(kn(1, 2, 3), 3, SEQ22) == kn(1, 2, 3)


# ---------------------------------------------------------------------------- restricted first
def test_choose_restricted_pool_alone_when_large_enough() -> None:
    free = list(range(10))
    assert choose(free, {6, 7, 8, 9}, 3, list(range(1, 11))) == [6, 7, 8]
    assert choose(free, {6, 7, 8, 9}, 4, list(range(1, 11))) == [6, 7, 8, 9]


def test_choose_takes_whole_restricted_pool_then_the_rest() -> None:
    seq = list(range(1, 11))
    # restricted hosts 8, 9 are all taken; two more come from 0..7 by the run rule (head of the run)
    assert choose(list(range(10)), {8, 9}, 4, seq) == [0, 1, 8, 9]
    # the rest is chosen by the run rule among the non-restricted hosts only
    assert choose([0, 3, 4, 8, 9], {8, 9}, 4, seq) == [3, 4, 8, 9]


def test_choose_mixes_two_restricted_pools() -> None:
    # Igor v2 (§11.3) never combined two restricted policies: here the preferred set spans both
    seq = list(range(1, 13))
    prefer = {0, 1, 2, 3} | {8, 9, 10, 11}
    assert choose(list(range(12)), prefer, 8, seq) == [0, 1, 2, 3, 8, 9, 10, 11]
    assert choose(list(range(12)), prefer, 6, seq) == [0, 1, 2, 3, 8, 9]


def test_choose_with_empty_default_pool() -> None:
    # every free host is restricted (v2 indexed an empty default slice and panicked)
    assert choose([0, 1, 2], {0, 1, 2}, 3, [1, 2, 3]) == [0, 1, 2]
    assert choose([0, 1, 2], {0, 1, 2}, 4, [1, 2, 3]) is None
    assert choose([], set(), 1, []) is None


def test_choose_not_enough() -> None:
    assert choose([0, 1], set(), 3, [1, 2, 3]) is None
    assert choose([0, 1], {0}, 2, [1, 2, 3]) == [0, 1]
