"""Which free hosts a by-count request gets: Igor's contiguous-run preference, made deterministic.

This is the readable statement of the rule; ``_select_c.pyx`` has the C twins (``_pick_runs``, ``choose``),
held to it by tests.

1. Hosts the owner reaches only through a *restricted* policy (one with named access groups) are used first:
   if there are enough of them the request is served from them alone, otherwise all of them are taken and the
   rest comes from the other free hosts.
2. Within a pool, hosts are split into runs of consecutive sequence numbers. While hosts are still needed
   (``need``): a run of exactly ``need`` hosts is taken whole; else the first ``need`` hosts of the smallest run
   longer than ``need``; else the longest run, and the loop goes on. Among equal-length runs the one with the
   lowest sequence number wins. (Igor v2 did the same with unordered ties; this takes the fewest runs.)
"""

from __future__ import annotations

from collections.abc import Sequence


def runs(hosts: Sequence[int], seq: Sequence[int]) -> list[tuple[int, int]]:
    """Split sorted host indices into runs of consecutive sequence numbers: ``[(first_position, length)]``."""
    out: list[tuple[int, int]] = []
    for i, h in enumerate(hosts):
        if out and seq[h] == seq[hosts[i - 1]] + 1:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((i, 1))
    return out


def pick_runs(hosts: Sequence[int], need: int, seq: Sequence[int]) -> list[int]:
    """Choose ``need`` of the sorted free ``hosts`` by the run rule (see the module docstring)."""
    if need <= 0:
        return []
    remaining = runs(hosts, seq)
    chosen: list[int] = []
    while need > 0:
        exact = [r for r in remaining if r[1] == need]
        if exact:
            pos, length = exact[0]
            chosen.extend(hosts[pos:pos + length])
            break
        longer = [r for r in remaining if r[1] > need]
        if longer:
            pos, _ = min(longer, key=lambda r: (r[1], r[0]))
            chosen.extend(hosts[pos:pos + need])
            break
        best = max(remaining, key=lambda r: (r[1], -r[0]))
        remaining.remove(best)
        chosen.extend(hosts[best[0]:best[0] + best[1]])
        need -= best[1]
    return sorted(chosen)


def choose(free: Sequence[int], prefer: set[int] | frozenset[int], need: int,
           seq: Sequence[int]) -> list[int] | None:
    """Pick ``need`` hosts from sorted ``free`` hosts, restricted-pool (``prefer``) first; None if too few."""
    if need > len(free):
        return None
    first = [h for h in free if h in prefer]
    if len(first) >= need:
        return pick_runs(first, need, seq)
    rest = [h for h in free if h not in prefer]
    return sorted(first + pick_runs(rest, need - len(first), seq))
