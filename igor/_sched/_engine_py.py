"""The reference scheduling engine: readable, obviously correct, and the executable spec of the C one.

It keeps, per host, the sorted list of reservation intervals on it and answers every question by walking those
lists; ``_engine_c.pyx`` answers the same calls from an interval bitmap and must agree with this module on every
input (tests drive both, and a brute-force model, through random operation sequences).

Semantics (see also :mod:`igor._sched._types`):

* a reservation occupies its hosts over ``[start, busy_end)``; two reservations never overlap on a host;
* a request ``[start, end)`` needs its hosts free of reservations over ``[start, end + pad)``, free of blocks over
  ``[start, end)``, and (unless elevated) outside its policies' not-available windows over ``[start, end)``;
* the owner must belong to one of each host policy's groups (elevation does not bypass this), and unless
  elevated the request may not be longer than any host policy's ``max_time``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from ._select import choose
from ._types import (
    NEG_INF,
    POS_INF,
    Conflict,
    ConflictError,
    Policy,
    Slot,
    check_csr,
    check_speculate,
    check_window,
    host_tuple,
)
from ._windows import WindowIndex

Interval = tuple[int, int, int]  # (start, busy_end, rid)


def _groups(groups: Iterable[str] | None) -> frozenset[str]:
    return frozenset(groups) if groups is not None else frozenset()


class Engine:
    """Scheduling state of one cluster: reservations, blocks and host policies.

    Args:
        n_hosts: number of hosts; hosts are the indices ``0..n_hosts-1`` in sequence order.
        seq: the hosts' sequence numbers (strictly increasing); default ``1..n_hosts``. Runs of consecutive
            sequence numbers are what by-count requests prefer.
        pad: maintenance pad in minutes added after every new reservation.
        tz: time zone of the policies' cron windows.
    """

    implementation = "py"

    def __init__(self, n_hosts: int, *, seq: Sequence[int] | None = None, pad: int = 0,
                 tz: str = "UTC") -> None:
        if n_hosts < 0:
            raise ValueError(f"n_hosts must not be negative, not {n_hosts}")
        if pad < 0:
            raise ValueError(f"pad must not be negative, not {pad}")
        self._n = int(n_hosts)
        self._seq = list(range(1, self._n + 1)) if seq is None else [int(s) for s in seq]
        if len(self._seq) != self._n or any(b <= a for a, b in zip(self._seq, self._seq[1:], strict=False)):
            raise ValueError("seq must hold one strictly increasing sequence number per host")
        self._pad = int(pad)
        self._res: dict[int, tuple[tuple[int, ...], int, int, int]] = {}
        self._ivals: list[list[Interval]] = [[] for _ in range(self._n)]
        self._blocks: dict[int, tuple[frozenset[int], int, int]] = {}
        self._policies: dict[int, Policy] = {}
        self._host_policy: list[int | None] = [None] * self._n
        self._windows = WindowIndex(tz)

    # ------------------------------------------------------------------ state
    @property
    def n_hosts(self) -> int:
        return self._n

    @property
    def pad(self) -> int:
        return self._pad

    def __len__(self) -> int:
        return len(self._res)

    def __contains__(self, rid: object) -> bool:
        return rid in self._res

    def ids(self) -> list[int]:
        """Ids of every reservation held, sorted."""
        return sorted(self._res)

    def reservation(self, rid: int) -> tuple[tuple[int, ...], int, int, int]:
        """``(hosts, start, end, busy_end)`` of reservation ``rid`` (KeyError if unknown)."""
        return self._res[rid]

    def add(self, rid: int, hosts: Iterable[int], start: int, end: int,
            busy_end: int | None = None) -> None:
        """Add a reservation; raises :class:`ConflictError` if it overlaps another on some host."""
        if rid in self._res:
            raise ValueError(f"reservation {rid} is already scheduled")
        hs, start, end, busy = self._normalise(hosts, start, end, busy_end, self._pad)
        clash = self._reservation_conflict(hs, start, busy)
        if clash:
            raise ConflictError(rid, clash)
        self._insert(rid, hs, start, end, busy)

    def remove(self, rid: int) -> None:
        """Remove a reservation (KeyError if unknown)."""
        hs, start, _end, busy = self._res.pop(rid)
        for h in hs:
            self._ivals[h].remove((start, busy, rid))

    def replace(self, rid: int, hosts: Iterable[int], start: int, end: int,
                busy_end: int | None = None) -> None:
        """Move/resize reservation ``rid`` atomically: on conflict the old placement stays.

        Without ``busy_end`` the reservation keeps the pad it had (``busy_end - end``).
        """
        old = self._res[rid]
        pad = old[3] - old[2] if busy_end is None else 0
        hs, start, end, busy = self._normalise(hosts, start, end, busy_end, pad)
        self.remove(rid)
        clash = self._reservation_conflict(hs, start, busy)
        if clash:
            self._insert(rid, *old)
            raise ConflictError(rid, clash)
        self._insert(rid, hs, start, end, busy)

    def build(self, ids: Sequence[int], starts: Sequence[int], ends: Sequence[int],
              busy_ends: Sequence[int], host_ptr: Sequence[int], host_idx: Sequence[int]) -> None:
        """Replace every reservation at once (CSR hosts: those of ``ids[i]`` are
        ``host_idx[host_ptr[i]:host_ptr[i + 1]]``). On error nothing changes."""
        if not (len(ids) == len(starts) == len(ends) == len(busy_ends)):
            raise ValueError("build: ids, starts, ends and busy_ends need one entry per reservation "
                             "and host_ptr one more")
        check_csr(len(ids), [int(x) for x in host_ptr], len(host_idx))
        fresh = Engine(self._n, seq=self._seq, pad=self._pad, tz=self._windows.tz)
        for i, rid in enumerate(ids):
            hosts = host_idx[int(host_ptr[i]):int(host_ptr[i + 1])]
            fresh.add(int(rid), hosts, int(starts[i]), int(ends[i]), int(busy_ends[i]))
        self._res, self._ivals = fresh._res, fresh._ivals

    def add_block(self, bid: int, hosts: Iterable[int], start: int | None = None,
                  end: int | None = None) -> None:
        """Block hosts over ``[start, end)`` (default: for ever). Running reservations are not touched."""
        if bid in self._blocks:
            raise ValueError(f"block {bid} already exists")
        s = NEG_INF if start is None else int(start)
        e = POS_INF if end is None else int(end)
        check_window(s, e)
        self._blocks[bid] = (frozenset(host_tuple(hosts, self._n)), s, e)

    def remove_block(self, bid: int) -> None:
        """Lift a block (KeyError if unknown)."""
        del self._blocks[bid]

    def blocks(self) -> dict[int, tuple[tuple[int, ...], int, int]]:
        """Every block: ``{bid: (hosts, start, end)}``."""
        return {b: (tuple(sorted(h)), s, e) for b, (h, s, e) in self._blocks.items()}

    def set_policies(self, policies: Sequence[Policy], host_policy: Sequence[int | None]) -> None:
        """Replace the host policies; ``host_policy[h]`` is the id of host ``h``'s policy (or None)."""
        by_id = {p.id: p for p in policies}
        if len(by_id) != len(policies):
            raise ValueError("policy ids must be unique")
        if len(host_policy) != self._n:
            raise ValueError(f"host_policy needs one entry per host ({self._n}), not {len(host_policy)}")
        for h, pid in enumerate(host_policy):
            if pid is not None and pid not in by_id:
                raise ValueError(f"host {h} names unknown policy {pid}")
        self._windows.set([(p.id, p.windows) for p in policies])
        self._policies = by_id
        self._host_policy = list(host_policy)

    # ---------------------------------------------------------------- queries
    def check(self, hosts: Iterable[int], start: int, end: int, *,
              groups: Iterable[str] | None = None, elevated: bool = False) -> Conflict | None:
        """Could ``hosts`` be reserved over ``[start, end)``? None if yes, else what stands in the way."""
        hs = host_tuple(hosts, self._n)
        check_window(start, end)
        return self._conflict(hs, start, end + self._pad, start, end, end - start, _groups(groups), elevated)

    def find(self, count: int, start: int, end: int, *, groups: Iterable[str] | None = None,
             elevated: bool = False, within: Iterable[int] | None = None) -> list[int] | None:
        """Choose ``count`` hosts free over ``[start, end)`` (None if there are not enough).

        ``within`` limits the candidates (e.g. to hosts matching attribute filters).
        """
        if count < 1:
            raise ValueError(f"a request needs at least one host, not {count}")
        check_window(start, end)
        g = _groups(groups)
        cand = range(self._n) if within is None else sorted(set(within) & set(range(self._n)))  # read once
        free = [h for h in cand if self._eligible(h, g, elevated, end - start)
                and self._free(h, start, end, elevated)]
        return choose(free, self._prefer(g), count, self._seq)

    def speculate(self, duration: int, after: int, until: int, *, count: int | None = None,
                  hosts: Iterable[int] | None = None, limit: int = 10,
                  groups: Iterable[str] | None = None, elevated: bool = False,
                  within: Iterable[int] | None = None) -> list[Slot]:
        """The earliest stretches of start times in ``[after, until]`` at which the request would be granted.

        Give either ``count`` (by count, optionally ``within`` some hosts) or ``hosts`` (by name). Each
        :class:`Slot` starts where the request becomes possible and ends (``latest_start``) at the last
        possible start before it stops being possible (or ``until``). At most ``limit`` slots, ascending.
        """
        check_speculate(duration, after, until, count, hosts, limit)
        g = _groups(groups)
        within = None if within is None else list(within)       # read once: it may be a generator
        if hosts is not None:
            named = host_tuple(hosts, self._n)
            cand: Sequence[int] = [h for h in named if self._eligible(h, g, elevated, duration)]
            need = len(named)
        else:
            if count is not None and count < 1:
                raise ValueError(f"a request needs at least one host, not {count}")
            cand = [h for h in (range(self._n) if within is None else sorted(set(within)))
                    if 0 <= h < self._n and self._eligible(h, g, elevated, duration)]
            need = int(count)  # type: ignore[arg-type]
        if len(cand) < need:
            return []
        stretches = self._stretches(cand, need, duration, after, until, elevated, limit)
        out = []
        for s, latest in stretches:
            got = (list(named) if hosts is not None
                   else self.find(need, s, s + duration, groups=g, elevated=elevated, within=within))
            out.append(Slot(s, latest, tuple(got or ())))
        return out

    def check_extend(self, rid: int, new_end: int, *, now: int, groups: Iterable[str] | None = None,
                     elevated: bool = False) -> Conflict | None:
        """Could reservation ``rid`` end at ``new_end`` instead? None if yes, else why not."""
        hs, start, end, busy = self._res[rid]
        if new_end <= end:
            raise ValueError(f"the new end ({new_end}) must be after the current end ({end})")
        return self._conflict(hs, busy, new_end + (busy - end), end, new_end, new_end - max(now, start),
                              _groups(groups), elevated)

    def max_end(self, rid: int, *, now: int, cap: int, groups: Iterable[str] | None = None,
                elevated: bool = False) -> int:
        """The latest end reservation ``rid`` can be extended to (never earlier than its end).

        ``cap`` is the caller's own limit (the scheduling window); policies, other reservations, blocks and
        (unless elevated) not-available windows and max times limit it further.
        """
        hs, start, end, busy = self._res[rid]
        g = _groups(groups)
        if any(not self._admits(h, g) for h in hs):
            return end
        limit = cap
        if not elevated:
            for h in hs:
                p = self._policy(h)
                if p is not None and p.max_time is not None:
                    limit = min(limit, max(now, start) + p.max_time)
        pad = busy - end
        for h in hs:
            ivals = self._ivals[h]
            i = bisect.bisect_left(ivals, (busy, NEG_INF, NEG_INF))
            if i < len(ivals):
                limit = min(limit, ivals[i][0] - pad)
        for bhosts, s, e in self._blocks.values():
            if e > end and not bhosts.isdisjoint(hs):
                limit = min(limit, max(s, end))
        if not elevated and limit > end:
            self._windows.ensure(end, limit)
            for pid in {self._host_policy[h] for h in hs} - {None}:
                for ws, _we in self._windows.overlapping(pid, end, limit):  # type: ignore[arg-type]
                    limit = min(limit, max(ws, end))
        return max(end, limit)

    # -------------------------------------------------------------- internals
    def _normalise(self, hosts: Iterable[int], start: int, end: int, busy_end: int | None,
                   pad: int) -> tuple[tuple[int, ...], int, int, int]:
        hs = host_tuple(hosts, self._n)
        start, end = int(start), int(end)
        check_window(start, end)
        busy = end + pad if busy_end is None else int(busy_end)
        if busy < end:
            raise ValueError(f"busy_end ({busy}) must not be before the end ({end})")
        return hs, start, end, busy

    def _insert(self, rid: int, hs: tuple[int, ...], start: int, end: int, busy: int) -> None:
        self._res[rid] = (hs, start, end, busy)
        for h in hs:
            bisect.insort(self._ivals[h], (start, busy, rid))

    def _overlapping(self, h: int, start: int, end: int) -> list[Interval]:
        """Reservation intervals on host ``h`` overlapping ``[start, end)``."""
        ivals = self._ivals[h]
        i = bisect.bisect_left(ivals, (end, NEG_INF, NEG_INF))
        out = []
        while i > 0 and ivals[i - 1][1] > start:
            i -= 1
            out.append(ivals[i])
        return out

    def _conflict(self, hs: tuple[int, ...], blo: int, bhi: int, lo: int, hi: int, minutes: int,
                  groups: frozenset[str], elevated: bool) -> Conflict | None:
        """Everything standing in the way of ``hs``: reservations over ``[blo, bhi)``, blocks and (unless
        elevated) windows over ``[lo, hi)``, group access, and (unless elevated) ``minutes`` against max times."""
        busy: list[int] = []
        rids: set[int] = set()
        for h in hs:
            hit = self._overlapping(h, blo, bhi)
            if hit:
                busy.append(h)
                rids.update(r for _, _, r in hit)
        blocked, bids = self._blocked(hs, lo, hi)
        denied = [h for h in hs if not self._admits(h, groups)]
        too_long: list[int] = []
        unavailable: list[int] = []
        windows: set[tuple[int, int, int]] = set()
        if not elevated:
            too_long = [h for h in hs if self._too_long(h, minutes)]
            unavailable, windows = self._unavailable(hs, lo, hi)
        c = Conflict(tuple(busy), tuple(sorted(rids)), tuple(blocked), tuple(bids), tuple(unavailable),
                     tuple(sorted(windows)), tuple(denied), tuple(too_long))
        return c if c else None

    def _reservation_conflict(self, hs: tuple[int, ...], start: int, busy: int) -> Conflict | None:
        hit = [(h, iv) for h in hs for iv in self._overlapping(h, start, busy)]
        if not hit:
            return None
        return Conflict(busy=tuple(sorted({h for h, _ in hit})),
                        reservations=tuple(sorted({iv[2] for _, iv in hit})))

    def _blocked(self, hs: Sequence[int], start: int, end: int) -> tuple[list[int], list[int]]:
        hosts: set[int] = set()
        bids = []
        for bid, (bhosts, s, e) in self._blocks.items():
            if s < end and e > start:
                hit = bhosts.intersection(hs)
                if hit:
                    hosts |= hit
                    bids.append(bid)
        return sorted(hosts), sorted(bids)

    def _policy(self, h: int) -> Policy | None:
        pid = self._host_policy[h]
        return None if pid is None else self._policies[pid]

    def _admits(self, h: int, groups: frozenset[str]) -> bool:
        p = self._policy(h)
        return p is None or p.admits(groups)

    def _too_long(self, h: int, minutes: int) -> bool:
        p = self._policy(h)
        return p is not None and p.max_time is not None and minutes > p.max_time

    def _eligible(self, h: int, groups: frozenset[str], elevated: bool, minutes: int) -> bool:
        """Time-independent part of the rules: group access and (unless elevated) max time."""
        return self._admits(h, groups) and (elevated or not self._too_long(h, minutes))

    def _unavailable(self, hs: Sequence[int], start: int,
                     end: int) -> tuple[list[int], set[tuple[int, int, int]]]:
        self._windows.ensure(start, end)
        hosts: list[int] = []
        windows: set[tuple[int, int, int]] = set()
        for h in hs:
            pid = self._host_policy[h]
            if pid is None:
                continue
            if self._windows.overlapping(pid, start, end):
                hosts.append(h)
                windows.update((pid, s, e) for s, e in self._windows.instances(pid, start, end))
        return hosts, windows

    def _free(self, h: int, start: int, end: int, elevated: bool) -> bool:
        """No reservation, block or (unless elevated) window stands in the way on host ``h``."""
        if self._overlapping(h, start, end + self._pad):
            return False
        if any(h in bh and s < end and e > start for bh, s, e in self._blocks.values()):
            return False
        if not elevated:
            pid = self._host_policy[h]
            if pid is not None:
                self._windows.ensure(start, end)
                if self._windows.overlapping(pid, start, end):
                    return False
        return True

    def _prefer(self, groups: frozenset[str]) -> set[int]:
        """Hosts reached through a restricted policy that admits the owner: used first by count."""
        return {h for h in range(self._n)
                if (p := self._policy(h)) is not None and p.restricted and p.admits(groups)}

    def _stretches(self, cand: Sequence[int], need: int, duration: int, after: int, until: int,
                   elevated: bool, limit: int) -> list[tuple[int, int]]:
        """Sweep start times over ``[after, until]``; see ``speculate``.

        A reservation ``[a, b)`` stands in the way of a start ``t`` while ``a - duration - pad < t < b`` (it
        overlaps the padded window ``[t, t + duration + pad)``); a block or a not-available window ``[a, b)``
        while ``a - duration < t < b``. Each becomes an "enter" and a "leave" event; between events nothing
        changes, so the sweep visits only event times, counting per host (and per policy, for windows) what
        stands in the way, and how many candidates are free.
        """
        span = duration + self._pad
        cand_set = set(cand)
        host_ev: list[tuple[int, int, int]] = []      # (time, host, +1 enters / -1 leaves)
        for h in cand:
            for a, b, _ in self._ivals[h]:
                host_ev += [(a - span + 1, h, 1), (b, h, -1)]
        for bhosts, a, b in self._blocks.values():
            for h in bhosts & cand_set:
                host_ev += [(a - duration + 1, h, 1), (b, h, -1)]
        pol_ev: list[tuple[int, int, int]] = []       # (time, policy, +1 / -1)
        pids = {self._host_policy[h] for h in cand} - {None}
        if not elevated:
            self._windows.ensure(after, until + duration)
            for pid in pids:
                for a, b in self._windows.overlapping(pid, after, until + duration):  # type: ignore
                    pol_ev += [(a - duration + 1, pid, 1), (b, pid, -1)]  # type: ignore[list-item]
        busy = dict.fromkeys(cand, 0)
        closed = dict.fromkeys(pids, 0)               # windows of the policy in the way
        free_in: dict[int | None, int] = {}           # policy -> candidates free of reservations/blocks
        for h in cand:
            free_in[self._host_policy[h]] = free_in.get(self._host_policy[h], 0) + 1
        events = sorted([(t, 0, x, d) for t, x, d in host_ev] + [(t, 1, x, d) for t, x, d in pol_ev])
        out: list[tuple[int, int]] = []
        opened: int | None = None
        i = 0
        t = after
        while t <= until:
            touched: dict[int, bool] = {}
            while i < len(events) and events[i][0] <= t:
                _, kind, x, d = events[i]
                if kind == 0:
                    touched.setdefault(x, busy[x] == 0)
                    busy[x] += d
                else:
                    closed[x] += d
                i += 1
            for h, was_free in touched.items():
                if was_free != (busy[h] == 0):
                    free_in[self._host_policy[h]] += 1 if busy[h] == 0 else -1
            ok = sum(n for pid, n in free_in.items() if pid is None or closed[pid] == 0) >= need
            if ok and opened is None:
                if len(out) == limit:
                    break
                opened = t
            elif not ok and opened is not None:
                out.append((opened, t - 1))
                opened = None
            if i == len(events):
                break
            t = events[i][0]
        if opened is not None:
            out.append((opened, until))
        return out
