"""Deterministic benchmark data: the two reference cluster sizes of DESIGN.md §4, and the queries asked of them.

Sizes (:data:`SIZES`):

* **M** (a real cluster): 1,024 hosts, 5,000 active + future reservations, 20 policies, maintenance pad 0 minutes
  (Igor v2's default ``hostMaintenanceDuration``);
* **L** (headroom): 10,000 hosts, 50,000 reservations, 50 policies, maintenance pad 15 minutes (so the pad path of
  the engine is exercised too).

"Now" is the fixed epoch minute :data:`NOW` (Monday 2025-11-24 16:00 UTC). Everything is drawn from
``numpy.random.default_rng(seed)``, so a size always yields the same arrays on every machine.

Shape of the reservations (:func:`_reservations`): the hosts are cut into contiguous *lanes* whose widths follow
the request-size distribution (40 % 1–2 hosts, 30 % 3–8, 20 % 9–24, 7 % 25–48, 3 % exactly 64), and each lane gets
a chain of reservations laid back to back with random gaps:

1. *Active now*: 80 % of the lanes start with a reservation that began up to its own duration ago and has not ended
   (``start <= NOW < end``); the others are idle now.
2. *Future*: until the target count is reached, the lane that frees up first of two random ones gets the next
   reservation, a random gap (exponential, mean 6 h plus 1 % of the distance from now: ~15 h two months out) after
   the ``busy_end`` of its previous one. A reservation takes its whole lane (75 %), a contiguous part of it (19 %)
   or a scattered subset of it (6 %).

Durations: 1 hour to 14 days, log-uniform-ish with a tilt towards short ones (``exp`` of a Beta(1, 1.7)-distributed
position on ``[ln 60, ln 20160]``: median ~7 h, mean ~25 h), rounded to the hour 70 % of the time. Starts are rounded
up to a quarter hour 60 % of the time (planned reservations), otherwise they keep an arbitrary minute (reservations
made "now"). The result (``python -m benchmarks.datagen`` prints it): about 9 hosts per reservation on average,
70–78 % of the hosts busy now, ~65–75 % a week out, ~45–55 % one to two months out, the last reservations ending ~100
days out; M has ~8,500 distinct start/busy-end minutes, L ~47,000.

By construction a reservation never overlaps another on any host including the pad (each one starts at or after
the ``busy_end = end + pad`` of every earlier one on its hosts), which is the engine's invariant.

Policies (:func:`_policies`): ids ``1..P``; about a quarter are *restricted* (one or two of the groups
``g0..g9``), most have a ``max_time`` (1 to 14 days) and 85 % have one or two weekly not-available windows such as
``"0 6 * * 2:4h"`` (Tuesdays 06:00 for 4 h) or ``"0 0 * * 6:1d"``. They are assigned to contiguous host ranges; a
quarter to a third of the hosts have no policy (``None``: everybody, no limit).

Queries (:func:`queries`): fixed lists the benchmarks cycle through, so no answer is cached and every call asks
something different: varied start times (now, round hours and odd minutes up to ~45 days out), owners with and
without groups (so restricted policies and their preference matter), mostly non-elevated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from igor._sched import Policy

#: "Now" of every data set: epoch minute 29,400,000 = Monday 2025-11-24 16:00 UTC.
NOW = 29_400_000
HOUR = 60
DAY = 24 * HOUR
#: Groups owners and restricted policies draw from.
GROUPS = tuple(f"g{i}" for i in range(10))


@dataclass(frozen=True)
class Spec:
    """One reference size."""

    name: str
    n_hosts: int
    n_res: int
    n_policies: int
    pad: int
    seed: int


SIZES: dict[str, Spec] = {
    "M": Spec("M", 1_024, 5_000, 20, pad=0, seed=20251124),
    "L": Spec("L", 10_000, 50_000, 50, pad=15, seed=20251125),
}


@dataclass
class Dataset:
    """Reservations as ``Engine.build`` CSR arrays, plus the policies of the cluster.

    ``hosts of ids[i] = host_idx[host_ptr[i]:host_ptr[i + 1]]`` (sorted); ``busy_ends = ends + pad``.
    """

    spec: Spec
    now: int
    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    busy_ends: np.ndarray
    host_ptr: np.ndarray
    host_idx: np.ndarray
    policies: list[Policy]
    host_policy: list[int | None]

    @property
    def n_hosts(self) -> int:
        return self.spec.n_hosts

    @property
    def pad(self) -> int:
        return self.spec.pad

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arguments of ``Engine.build``."""
        return self.ids, self.starts, self.ends, self.busy_ends, self.host_ptr, self.host_idx

    def hosts_of(self, i: int) -> np.ndarray:
        return self.host_idx[self.host_ptr[i]:self.host_ptr[i + 1]]

    def validate(self) -> list[str]:
        """What is wrong with the data (empty when it has the promised shape; overlaps are refused by ``build``)."""
        bad = []
        if not (self.ends > self.now).all():
            bad.append("a reservation has already ended")
        if not ((self.starts < self.ends) & (self.busy_ends == self.ends + self.pad)).all():
            bad.append("an empty interval or a busy end other than end + pad")
        for i in range(self.ids.shape[0]):
            hs = self.hosts_of(i)
            if hs.shape[0] < 1 or hs.shape[0] > 64 or (hs.shape[0] > 1 and (np.diff(hs) <= 0).any()):
                bad.append(f"reservation {int(self.ids[i])}: hosts not 1..64 sorted unique indices")
                break
        return bad

    def busy_mask(self, start: int, end: int) -> np.ndarray:
        """Hosts (bool per host) holding a reservation that overlaps ``[start, end + pad)``."""
        live = np.flatnonzero((self.starts < end + self.pad) & (self.busy_ends > start))
        mask = np.zeros(self.n_hosts, dtype=bool)
        for i in live.tolist():
            mask[self.hosts_of(i)] = True
        return mask

    def admits_mask(self, groups: frozenset[str]) -> np.ndarray:
        """Hosts (bool per host) whose policy lets an owner in ``groups`` use them."""
        by_id = {p.id: p for p in self.policies}
        return np.array([pid is None or by_id[pid].admits(groups) for pid in self.host_policy], dtype=bool)

    def shifted(self, now: int) -> Dataset:
        """The same data set moved in time so that its "now" is the epoch minute ``now`` (every start and end moved
        by ``now - self.now``; the weekly policy windows stay where they are, so their phase relative to the
        reservations changes unless the shift is a whole number of weeks)."""
        d = now - self.now
        return replace(self, now=now, starts=self.starts + d, ends=self.ends + d, busy_ends=self.busy_ends + d)

    def engine(self, cls: type) -> object:
        """A fresh engine of class ``cls`` (``CEngine`` or ``PyEngine``) with these policies and reservations."""
        eng = cls(self.n_hosts, pad=self.pad)
        eng.set_policies(self.policies, self.host_policy)
        eng.build(*self.arrays)
        return eng

    def stats(self) -> dict[str, float]:
        """Shape of the data (for the README and a sanity look): sizes, horizon, occupancy."""
        sizes = np.diff(self.host_ptr)
        occ = {}
        for days in (0, 7, 30, 60, 90):
            t = self.now + days * DAY
            live = (self.starts <= t) & (self.busy_ends > t)
            occ[f"busy_at_now+{days}d"] = float(sizes[live].sum() / self.n_hosts)
        return {
            "reservations": int(self.ids.shape[0]),
            "host_slots": int(self.host_idx.shape[0]),
            "mean_size": float(sizes.mean()),
            "n_64": int((sizes == 64).sum()),
            "active_now": int((self.starts <= self.now).sum()),
            "last_end_days": float((self.ends.max() - self.now) / DAY),
            "median_end_days": float((np.median(self.ends) - self.now) / DAY),
            "distinct_times": int(np.unique(np.concatenate([self.starts, self.busy_ends])).shape[0]),
            **occ,
        }


# ------------------------------------------------------------------------------------------------ distributions
def _size(rng: np.random.Generator) -> int:
    u = rng.random()
    if u < 0.40:
        return int(rng.integers(1, 3))
    if u < 0.70:
        return int(rng.integers(3, 9))
    if u < 0.90:
        return int(rng.integers(9, 25))
    if u < 0.97:
        return int(rng.integers(25, 49))
    return 64


_LO, _HI = math.log(HOUR), math.log(14 * DAY)


def _duration(rng: np.random.Generator) -> int:
    d = int(math.exp(_LO + (_HI - _LO) * rng.beta(1.0, 1.7)))
    if rng.random() < 0.7:
        d = max(HOUR, round(d / HOUR) * HOUR)
    return max(HOUR, min(14 * DAY, d))


ACTIVE = 0.8
GAP0 = 6 * HOUR
GAP_SLOPE = 0.01


def _gap(rng: np.random.Generator, t: int) -> int:
    mean = GAP0 + GAP_SLOPE * max(0, t - NOW)
    return int(rng.exponential(mean))


def _round_start(rng: np.random.Generator, t: int) -> int:
    if rng.random() < 0.6:
        return -(-t // 15) * 15
    return t


# ------------------------------------------------------------------------------------------------ generation
def _reservations(spec: Spec, rng: np.random.Generator) -> tuple[list[int], list[int], list[np.ndarray]]:
    n, pad = spec.n_hosts, spec.pad
    lanes: list[tuple[int, int]] = []                  # (first host, width)
    h = 0
    while h < n:
        w = min(_size(rng), n - h)
        lanes.append((h, w))
        h += w
    free_at = np.full(len(lanes), NOW, dtype=np.int64)  # busy end of the last reservation of each lane
    starts: list[int] = []
    ends: list[int] = []
    hosts: list[np.ndarray] = []

    def place(lane: int, start: int, end: int) -> None:
        lo, w = lanes[lane]
        u = rng.random()
        if u < 0.75 or w == 1:
            hs = np.arange(lo, lo + w, dtype=np.int64)
        elif u < 0.94:
            k = int(rng.integers(1, w))
            p = lo + int(rng.integers(0, w - k + 1))
            hs = np.arange(p, p + k, dtype=np.int64)
        else:
            k = int(rng.integers(1, w))
            hs = np.sort(lo + rng.choice(w, size=k, replace=False)).astype(np.int64)
        starts.append(start)
        ends.append(end)
        hosts.append(hs)
        free_at[lane] = end + pad

    # 1. active now: most lanes hold a reservation that started before now and has not ended
    for lane in range(len(lanes)):
        if len(starts) < spec.n_res and rng.random() < ACTIVE:
            dur = _duration(rng)
            start = NOW - int(rng.integers(0, dur))
            place(lane, start, start + dur)
    # 2. future: the lane that frees up first of two random ones gets the next reservation, after a gap
    while len(starts) < spec.n_res:
        a, b = rng.integers(0, len(lanes), size=2)
        lane = int(a if free_at[a] <= free_at[b] else b)
        t0 = int(free_at[lane])
        start = _round_start(rng, t0 + _gap(rng, t0))
        place(lane, start, start + _duration(rng))
    return starts, ends, hosts


_WINDOW_SHAPES = ("0 {h} * * {d}:4h", "0 {h} * * {d}:2h", "30 {h} * * {d}:6h", "0 {h} * * {d}:12h", "0 0 * * {d}:1d")


def _policies(spec: Spec, rng: np.random.Generator) -> tuple[list[Policy], list[int | None]]:
    n, P = spec.n_hosts, spec.n_policies
    pols: list[Policy] = []
    for pid in range(1, P + 1):
        restricted = rng.random() < 0.25
        groups = (frozenset(rng.choice(GROUPS, size=int(rng.integers(1, 3)), replace=False).tolist())
                  if restricted else None)
        max_time = [None, 1 * DAY, 3 * DAY, 7 * DAY, 14 * DAY][int(rng.integers(0, 5))]
        windows: list[str] = []
        if rng.random() < 0.85:
            for _ in range(int(rng.integers(1, 3))):
                shape = _WINDOW_SHAPES[int(rng.integers(0, len(_WINDOW_SHAPES)))]
                windows.append(shape.format(h=int(rng.choice([0, 2, 6, 18, 20, 22])), d=int(rng.integers(0, 7))))
        pols.append(Policy(pid, max_time=max_time, groups=groups, windows=tuple(windows)))
    # contiguous host ranges of random length: one per policy, plus P/2 ranges without a policy (~1/3 of the hosts)
    labels: list[int | None] = [*range(1, P + 1), *([None] * (P // 2))]
    order = rng.permutation(len(labels))
    cuts = np.sort(rng.choice(np.arange(1, n), size=len(labels) - 1, replace=False))
    bounds = [0, *cuts.tolist(), n]
    host_policy: list[int | None] = [None] * n
    for r, li in enumerate(order.tolist()):
        host_policy[bounds[r]:bounds[r + 1]] = [labels[li]] * (bounds[r + 1] - bounds[r])
    return pols, host_policy


@lru_cache(maxsize=4)
def dataset(size: str) -> Dataset:
    """The data set of a reference size (``"M"`` or ``"L"``), generated once per process."""
    spec = SIZES[size]
    rng = np.random.default_rng(spec.seed)
    starts, ends, hosts = _reservations(spec, rng)
    policies, host_policy = _policies(spec, rng)
    R = len(starts)
    ptr = np.zeros(R + 1, dtype=np.int64)
    np.cumsum([len(h) for h in hosts], out=ptr[1:])
    st = np.array(starts, dtype=np.int64)
    en = np.array(ends, dtype=np.int64)
    return Dataset(spec=spec, now=NOW, ids=np.arange(1, R + 1, dtype=np.int64), starts=st, ends=en,
                   busy_ends=en + spec.pad, host_ptr=ptr, host_idx=np.concatenate(hosts),
                   policies=policies, host_policy=host_policy)


# ------------------------------------------------------------------------------------------------ queries
#: Group sets of the owners asking (frozenset() = an owner in no group that matters).
OWNERS: tuple[frozenset[str], ...] = (frozenset(), frozenset({"g1"}), frozenset({"g2", "g5"}), frozenset({"g7"}),
                                      frozenset({"g0", "g3", "g9"}), frozenset({"g4"}))


@dataclass
class Queries:
    """Fixed query lists for one data set (each entry: the positional args and the keyword args of the call)."""

    check: list[tuple[tuple, dict]] = field(default_factory=list)
    find: list[tuple[tuple, dict]] = field(default_factory=list)
    speculate: list[tuple[tuple, dict]] = field(default_factory=list)
    speculate_scarce: list[tuple[tuple, dict]] = field(default_factory=list)
    max_end: list[tuple[tuple, dict]] = field(default_factory=list)


def _starts(rng: np.random.Generator, n: int, horizon_days: float) -> list[int]:
    """Varied request starts: now, round hours, odd minutes; denser near now (people book soon more often)."""
    out = []
    for i in range(n):
        if i % 8 == 0:
            out.append(NOW + i)                         # "now" (a different minute each time)
            continue
        off = int(horizon_days * DAY * rng.random() ** 1.5)
        if rng.random() < 0.5:
            off = off // HOUR * HOUR
        out.append(NOW + off)
    return out


@lru_cache(maxsize=4)
def queries(size: str, n: int = 64) -> Queries:
    """The query lists of a size: ``n`` of each kind (deterministic)."""
    data = dataset(size)
    rng = np.random.default_rng(data.spec.seed + 1)
    q = Queries()
    N = data.n_hosts

    def owner(i: int) -> dict:
        return {"groups": OWNERS[i % len(OWNERS)], "elevated": i % 10 == 9}

    # by-name check: 16 hosts over a 1 h .. 2 d window. Even entries name hosts that are free of reservations
    # then and open to the owner (a user picking free hosts from `igor show`: policies may still refuse them),
    # odd ones a contiguous run or 16 scattered hosts anywhere (mostly refused, and the refusal is explained)
    for i, s in enumerate(_starts(rng, n, 45)):
        dur = int(rng.choice([HOUR, 4 * HOUR, DAY, 2 * DAY]))
        if i % 2 == 0:
            ok = ~data.busy_mask(s, s + dur) & data.admits_mask(owner(i)["groups"])
            cand = np.flatnonzero(ok)
            p = int(rng.integers(0, cand.shape[0] - 16))
            hs = tuple(cand[p:p + 16].tolist())
        elif i % 4 == 3:
            hs = tuple(sorted(rng.choice(N, size=16, replace=False).tolist()))
        else:
            p = int(rng.integers(0, N - 16))
            hs = tuple(range(p, p + 16))
        q.check.append(((hs, s, s + dur), owner(i)))
    # by-count find: 64 hosts over 4 h
    for i, s in enumerate(_starts(rng, n, 45)):
        q.find.append(((64, s, s + 4 * HOUR), owner(i)))
    # speculate: 64 hosts x 4 h, first 10 windows over 30 days from a varied "after"
    for i, s in enumerate(_starts(rng, n, 30)):
        q.speculate.append(((4 * HOUR, s, s + 30 * DAY), {"count": 64, "limit": 10, **owner(i)}))
    # speculate for a fifth of the cluster x 4 h: scarce enough that the answer is ten separate stretches, so the
    # sweep stops early but ten finds of a large count are added (the harder half of "first 10 windows")
    for s in _starts(rng, n // 4, 30):
        q.speculate_scarce.append(((4 * HOUR, s, s + 30 * DAY), {"count": N // 5, "limit": 10}))
    # extend-max of 64-host reservations, non-elevated (policies' max times and windows apply), cap = 90 days
    sizes = np.diff(data.host_ptr)
    big = data.ids[sizes == 64]
    pick = rng.choice(big, size=min(n, big.shape[0]), replace=False)
    for i, rid in enumerate(pick.tolist()):
        q.max_end.append(((int(rid),), {"now": NOW, "cap": NOW + 90 * DAY, **owner(i)}))
    return q


if __name__ == "__main__":  # pragma: no cover - a look at the data
    import sys
    import time

    for name in sys.argv[1:] or ["M", "L"]:
        t = time.perf_counter()
        d = dataset(name)
        print(name, f"generated in {time.perf_counter() - t:.2f}s", d.stats())
