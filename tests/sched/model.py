"""A dead-simple brute-force model of the scheduling engine API, for the tests to hold both engines to.

Written from the docstrings of ``igor._sched._engine_py`` and ``igor._sched._types``, not from the code: it keeps
reservations and blocks in dicts and answers every query by looking at each host and (for ``speculate`` and
``max_end``) each minute in turn. Only usable with small clusters and short time spans.

What it shares with the engines: the value types (:class:`Conflict`, :class:`Slot`, :class:`Policy`), the window
syntax check (``parse_window``) and the choice *among free hosts* (``_select.choose``, tested on its own in
``test_select.py``). Which hosts are free, and when, is computed here; window instances come from croniter directly.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

from igor._sched import NEG_INF, POS_INF, Conflict, ConflictError, Policy, Slot, parse_window
from igor._sched._select import choose

#: Window instances are expanded this far beyond every query so that merged chains are complete.
MARGIN = 3 * 24 * 60


def overlaps(a: int, b: int, c: int, d: int) -> bool:
    """Do the half-open intervals ``[a, b)`` and ``[c, d)`` share a minute?"""
    return a < d and c < b


def cron_instances(cron: str, minutes: int, tz: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Every firing ``[s, s + minutes)`` of ``cron`` (in zone ``tz``) that overlaps ``[lo, hi)``, by croniter."""
    base = datetime.fromtimestamp((lo - minutes - 1) * 60, tz=timezone.utc).astimezone(ZoneInfo(tz))
    it = croniter(cron, base)
    out: list[tuple[int, int]] = []
    while True:
        s = int(it.get_next(datetime).timestamp()) // 60
        if s >= hi:
            return out
        if s + minutes > lo and (s, s + minutes) not in out:
            out.append((s, s + minutes))


def merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping or touching intervals."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _hosts(hosts: Iterable[int], n: int) -> tuple[int, ...]:
    hs = tuple(sorted(set(hosts)))
    if not hs:
        raise ValueError("at least one host is required")
    if hs[0] < 0 or hs[-1] >= n:
        raise ValueError("host outside the cluster")
    return hs


def _interval(start: int, end: int) -> None:
    if end <= start:
        raise ValueError("empty interval")


class Model:
    """Brute-force twin of ``Engine`` (same constructor, same methods, same answers)."""

    implementation = "model"

    def __init__(self, n_hosts: int, *, seq: Sequence[int] | None = None, pad: int = 0, tz: str = "UTC") -> None:
        if n_hosts < 0 or pad < 0:
            raise ValueError("negative size or pad")
        self.n = n_hosts
        self.seq = list(range(1, n_hosts + 1)) if seq is None else list(seq)
        if len(self.seq) != n_hosts or any(b <= a for a, b in zip(self.seq, self.seq[1:], strict=False)):
            raise ValueError("bad seq")
        ZoneInfo(tz)
        self.pad = pad
        self.tz = tz
        self.res: dict[int, tuple[tuple[int, ...], int, int, int]] = {}
        self.blks: dict[int, tuple[tuple[int, ...], int, int]] = {}
        self.policies: dict[int, Policy] = {}
        self.host_policy: list[int | None] = [None] * n_hosts
        self._exprs: dict[int, list[tuple[str, int]]] = {}
        self._cache: dict[int, tuple[int, int, list[tuple[int, int]]]] = {}

    # ------------------------------------------------------------------ state
    @property
    def n_hosts(self) -> int:
        return self.n

    def __len__(self) -> int:
        return len(self.res)

    def __contains__(self, rid: object) -> bool:
        return rid in self.res

    def ids(self) -> list[int]:
        return sorted(self.res)

    def reservation(self, rid: int) -> tuple[tuple[int, ...], int, int, int]:
        return self.res[rid]

    def _placement(self, hosts: Iterable[int], start: int, end: int, busy_end: int | None,
                   pad: int) -> tuple[tuple[int, ...], int, int, int]:
        hs = _hosts(hosts, self.n)
        _interval(start, end)
        busy = end + pad if busy_end is None else busy_end
        if busy < end:
            raise ValueError("busy end before end")
        return hs, start, end, busy

    def _clash(self, rid: int | None, hs: tuple[int, ...], start: int, busy: int) -> Conflict | None:
        hit_hosts, hit_rids = set(), set()
        for other, (ohs, os, _oe, ob) in self.res.items():
            if other == rid:
                continue
            for h in hs:
                if h in ohs and overlaps(start, busy, os, ob):
                    hit_hosts.add(h)
                    hit_rids.add(other)
        if not hit_hosts:
            return None
        return Conflict(busy=tuple(sorted(hit_hosts)), reservations=tuple(sorted(hit_rids)))

    def add(self, rid: int, hosts: Iterable[int], start: int, end: int, busy_end: int | None = None) -> None:
        if rid in self.res:
            raise ValueError("already scheduled")
        hs, start, end, busy = self._placement(hosts, start, end, busy_end, self.pad)
        clash = self._clash(None, hs, start, busy)
        if clash:
            raise ConflictError(rid, clash)
        self.res[rid] = (hs, start, end, busy)

    def remove(self, rid: int) -> None:
        del self.res[rid]

    def replace(self, rid: int, hosts: Iterable[int], start: int, end: int, busy_end: int | None = None) -> None:
        _ohs, _os, oe, ob = self.res[rid]
        hs, start, end, busy = self._placement(hosts, start, end, busy_end, ob - oe)
        clash = self._clash(rid, hs, start, busy)
        if clash:
            raise ConflictError(rid, clash)
        self.res[rid] = (hs, start, end, busy)

    def build(self, ids: Sequence[int], starts: Sequence[int], ends: Sequence[int], busy_ends: Sequence[int],
              host_ptr: Sequence[int], host_idx: Sequence[int]) -> None:
        if not (len(ids) == len(starts) == len(ends) == len(busy_ends) == len(host_ptr) - 1):
            raise ValueError("bad lengths")
        saved = self.res
        self.res = {}
        try:
            for i, rid in enumerate(ids):
                self.add(rid, host_idx[host_ptr[i]:host_ptr[i + 1]], starts[i], ends[i], busy_ends[i])
        except ValueError:
            self.res = saved
            raise

    def add_block(self, bid: int, hosts: Iterable[int], start: int | None = None, end: int | None = None) -> None:
        if bid in self.blks:
            raise ValueError("block exists")
        s = NEG_INF if start is None else start
        e = POS_INF if end is None else end
        _interval(s, e)
        self.blks[bid] = (_hosts(hosts, self.n), s, e)

    def remove_block(self, bid: int) -> None:
        del self.blks[bid]

    def blocks(self) -> dict[int, tuple[tuple[int, ...], int, int]]:
        return dict(self.blks)

    def set_policies(self, policies: Sequence[Policy], host_policy: Sequence[int | None]) -> None:
        by_id = {p.id: p for p in policies}
        if len(by_id) != len(policies) or len(host_policy) != self.n:
            raise ValueError("bad policies")
        if any(pid is not None and pid not in by_id for pid in host_policy):
            raise ValueError("unknown policy")
        exprs = {p.id: [parse_window(w) for w in p.windows] for p in policies}
        self.policies = by_id
        self.host_policy = list(host_policy)
        self._exprs = exprs
        self._cache = {}

    # ---------------------------------------------------------------- helpers
    def _policy(self, h: int) -> Policy | None:
        pid = self.host_policy[h]
        return None if pid is None else self.policies[pid]

    def _admits(self, h: int, groups: frozenset[str]) -> bool:
        p = self._policy(h)
        return p is None or p.groups is None or bool(p.groups & groups)

    def _too_long(self, h: int, minutes: int) -> bool:
        p = self._policy(h)
        return p is not None and p.max_time is not None and minutes > p.max_time

    def _windows(self, pid: int, lo: int, hi: int) -> list[tuple[int, int]]:
        """Merged not-available windows of policy ``pid`` overlapping ``[lo, hi)``."""
        if not self._exprs.get(pid):
            return []
        cached = self._cache.get(pid)
        if cached is None or not (cached[0] <= lo - MARGIN and hi + MARGIN <= cached[1]):
            elo, ehi = lo - 2 * MARGIN, hi + 2 * MARGIN
            if cached is not None:
                elo, ehi = min(elo, cached[0]), max(ehi, cached[1])
            raw = [iv for cron, dur in self._exprs[pid] for iv in cron_instances(cron, dur, self.tz, elo, ehi)]
            cached = (elo, ehi, merge(raw))
            self._cache[pid] = cached
        merged = cached[2]
        i = bisect.bisect_right([e for _, e in merged], lo)  # the first window ending after lo
        out = []
        while i < len(merged) and merged[i][0] < hi:
            out.append(merged[i])
            i += 1
        return out

    def _host_windows(self, h: int, lo: int, hi: int) -> list[tuple[int, int, int]]:
        pid = self.host_policy[h]
        return [] if pid is None else [(pid, s, e) for s, e in self._windows(pid, lo, hi)]

    def _res_on(self, h: int, lo: int, hi: int, skip: int | None = None) -> list[int]:
        return [rid for rid, (hs, s, _e, b) in self.res.items()
                if rid != skip and h in hs and overlaps(s, b, lo, hi)]

    def _blocks_on(self, h: int, lo: int, hi: int) -> list[int]:
        return [bid for bid, (hs, s, e) in self.blks.items() if h in hs and overlaps(s, e, lo, hi)]

    def _free(self, h: int, start: int, end: int, elevated: bool) -> bool:
        return (not self._res_on(h, start, end + self.pad) and not self._blocks_on(h, start, end)
                and (elevated or not self._host_windows(h, start, end)))

    def _conflict(self, hs: Sequence[int], rlo: int, rhi: int, lo: int, hi: int, minutes: int,
                  groups: frozenset[str], elevated: bool, skip: int | None = None) -> Conflict | None:
        busy, rids, blocked, bids, unavailable, windows, denied, too_long = [], set(), [], set(), [], set(), [], []
        for h in hs:
            hit = self._res_on(h, rlo, rhi, skip)
            if hit:
                busy.append(h)
                rids.update(hit)
            hit = self._blocks_on(h, lo, hi)
            if hit:
                blocked.append(h)
                bids.update(hit)
            if not self._admits(h, groups):
                denied.append(h)
            if not elevated:
                if self._too_long(h, minutes):
                    too_long.append(h)
                pid = self.host_policy[h]
                if pid is not None and self._windows(pid, lo, hi):
                    unavailable.append(h)
                    # refusals name each firing (instance) of a window expression that overlaps
                    windows.update((pid, s, e) for cron, dur in self._exprs[pid]
                                   for s, e in cron_instances(cron, dur, self.tz, lo, hi))
        c = Conflict(tuple(busy), tuple(sorted(rids)), tuple(blocked), tuple(sorted(bids)), tuple(unavailable),
                     tuple(sorted(windows)), tuple(denied), tuple(too_long))
        return c if c else None

    # ---------------------------------------------------------------- queries
    def check(self, hosts: Iterable[int], start: int, end: int, *, groups: Iterable[str] | None = None,
              elevated: bool = False) -> Conflict | None:
        hs = _hosts(hosts, self.n)
        _interval(start, end)
        g = frozenset(groups or ())
        return self._conflict(hs, start, end + self.pad, start, end, end - start, g, elevated)

    def _candidates(self, within: Iterable[int] | None, groups: frozenset[str], elevated: bool,
                    minutes: int) -> list[int]:
        pool = range(self.n) if within is None else sorted({h for h in within if 0 <= h < self.n})
        return [h for h in pool if self._admits(h, groups) and (elevated or not self._too_long(h, minutes))]

    def _prefer(self, groups: frozenset[str]) -> set[int]:
        out = set()
        for h in range(self.n):
            p = self._policy(h)
            if p is not None and p.groups is not None and self._admits(h, groups):
                out.add(h)
        return out

    def find(self, count: int, start: int, end: int, *, groups: Iterable[str] | None = None,
             elevated: bool = False, within: Iterable[int] | None = None) -> list[int] | None:
        if count < 1:
            raise ValueError("count")
        _interval(start, end)
        g = frozenset(groups or ())
        free = [h for h in self._candidates(within, g, elevated, end - start) if self._free(h, start, end, elevated)]
        return choose(free, self._prefer(g), count, self.seq)

    def speculate(self, duration: int, after: int, until: int, *, count: int | None = None,
                  hosts: Iterable[int] | None = None, limit: int = 10, groups: Iterable[str] | None = None,
                  elevated: bool = False, within: Iterable[int] | None = None) -> list[Slot]:
        if (count is None) == (hosts is None) or duration < 1 or until < after or limit < 1:
            raise ValueError("bad speculate")
        g = frozenset(groups or ())
        if hosts is not None:
            named = _hosts(hosts, self.n)
            if not all(self._admits(h, g) and (elevated or not self._too_long(h, duration)) for h in named):
                return []
            cand, need = list(named), len(named)
        else:
            if count is None or count < 1:
                raise ValueError("count")
            cand, need = self._candidates(within, g, elevated, duration), count
        # What could stand in the way of each candidate anywhere in the span, then every start minute in turn.
        lo, hi = after, until + duration
        res_ivals = {h: [(self.res[r][1], self.res[r][3]) for r in self._res_on(h, lo, hi + self.pad)] for h in cand}
        other = {h: [self.blks[b][1:] for b in self._blocks_on(h, lo, hi)]
                 + ([] if elevated else [(s, e) for _, s, e in self._host_windows(h, lo, hi)]) for h in cand}

        def free(h: int, t: int) -> bool:
            return (not any(overlaps(a, b, t, t + duration + self.pad) for a, b in res_ivals[h])
                    and not any(overlaps(a, b, t, t + duration) for a, b in other[h]))

        ok = [sum(free(h, t) for h in cand) >= need for t in range(after, until + 1)]
        stretches: list[tuple[int, int]] = []
        for i, good in enumerate(ok):
            t = after + i
            if good and (i == 0 or not ok[i - 1]):
                stretches.append((t, t))
            elif good:
                stretches[-1] = (stretches[-1][0], t)
        out = []
        for s, latest in stretches[:limit]:
            if hosts is not None:
                got: Sequence[int] | None = named
            else:
                got = self.find(need, s, s + duration, groups=g, elevated=elevated, within=within)
                assert got is not None, "speculate offered a start at which find fails"
            out.append(Slot(s, latest, tuple(got)))
        return out

    def check_extend(self, rid: int, new_end: int, *, now: int, groups: Iterable[str] | None = None,
                     elevated: bool = False) -> Conflict | None:
        hs, start, end, busy = self.res[rid]
        if new_end <= end:
            raise ValueError("not an extension")
        g = frozenset(groups or ())
        pad = busy - end
        return self._conflict(hs, start, new_end + pad, end, new_end, new_end - max(now, start), g, elevated,
                              skip=rid)

    def max_end(self, rid: int, *, now: int, cap: int, groups: Iterable[str] | None = None,
                elevated: bool = False) -> int:
        _hs, _start, end, _busy = self.res[rid]
        assert cap - end < 100_000, "the model walks minute by minute: keep caps near the reservation"
        m = end
        while m < cap and self.check_extend(rid, m + 1, now=now, groups=groups, elevated=elevated) is None:
            m += 1
        return m
