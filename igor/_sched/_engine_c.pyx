# cython: language_level=3, cdivision=True
# (boundscheck, wraparound and initializedcheck come from setup.py: off, or on with IGOR_DEBUG_BUILD=1)
"""The compiled scheduling engine, with exactly the API of ``_engine_py.py``; it composes the other modules.

``_engine_py.Engine`` is the reference twin of this class: every public method here answers what the method
of the same name answers there (tests drive both, and a brute-force model, through random operations).

Owns: the cluster (hosts, sequence numbers, pad), **blocks** and **policies** — few, so short arrays of
``(interval, host mask)`` and per-policy host masks, limits and merged not-available windows (expanded by
:mod:`igor._sched._windows`, shared with the reference) — and the **queries**, which combine them with

* an :class:`~igor._sched._bitmap.IntervalBitmap` of busy hosts (``bm``): ``check``/``find``/``max_end`` are
  word-wise ORs over the rows a window covers, adding is OR and removing AND-NOT;
* a :class:`~igor._sched._table.ReservationTable` (``tab``), kept sorted by start and by busy end:
  ``speculate`` sweeps over it and refusals are explained from it.

Both are typed attributes, so the queries call their C methods directly (``nogil`` where the work is); the
by-count host choice is :mod:`igor._sched._select_c` (the C twin of ``_select``), and the small C helpers
every module shares are in ``_bits.pxd``.

Design note: DESIGN.md suggests bitmap layers for blocks and windows too; they are kept as short lists of
``(interval, host mask)`` instead, because there are few of them and each covers many hosts, so a list is both
smaller and faster to query than a second bitmap.
"""

import numpy as np

cimport cython
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memset

from ._bitmap cimport IntervalBitmap
from ._bits cimport _sparse, popcount
from ._select_c cimport choose
from ._table cimport ReservationTable

from ._types import Conflict, ConflictError, Policy, Slot, check_csr, check_speculate, check_window, host_tuple
from ._windows import WindowIndex

cdef int64_t NEG_INF = -(2 ** 62)
cdef int64_t POS_INF = 2 ** 62
cdef uint64_t ONE = 1


cdef inline Py_ssize_t _first_ending_after(const int64_t[::1] we, Py_ssize_t a, Py_ssize_t b,
                                           int64_t lo) noexcept nogil:
    """Index of the first window in ``[a, b)`` ending after ``lo`` (``b`` if none)."""
    cdef Py_ssize_t mid
    while a < b:
        mid = (a + b) >> 1
        if we[mid] <= lo:
            a = mid + 1
        else:
            b = mid
    return a


# No pickling or copying (TypeError), as before the split: a generated copy would share bm and tab with the original
@cython.auto_pickle(False)
cdef class Engine:
    """Scheduling state of one cluster (compiled). See ``_engine_py.Engine`` for the documentation."""

    implementation = "c"

    def __init__(self, Py_ssize_t n_hosts, *, seq=None, int64_t pad=0, str tz="UTC"):
        if n_hosts < 0:
            raise ValueError(f"n_hosts must not be negative, not {n_hosts}")
        if pad < 0:
            raise ValueError(f"pad must not be negative, not {pad}")
        self.n_hosts = n_hosts
        self.pad = pad
        self.W = max(1, (n_hosts + 63) // 64)
        self._seq = list(range(1, n_hosts + 1)) if seq is None else [int(s) for s in seq]
        if len(self._seq) != n_hosts or any([b <= a for a, b in zip(self._seq, self._seq[1:])]):
            raise ValueError("seq must hold one strictly increasing sequence number per host")
        runstart = np.zeros(self.W, dtype=np.uint64)
        for h in range(n_hosts):
            if h == 0 or self._seq[h] != self._seq[h - 1] + 1:
                runstart[h >> 6] |= np.uint64(1) << np.uint64(h & 63)
        self._runstart = runstart
        self.bm = IntervalBitmap(n_hosts)
        self.tab = ReservationTable(n_hosts)
        self._blocks = {}
        self._rebuild_blocks()
        self._windows = WindowIndex(tz)
        self.set_policies([], [None] * n_hosts)
        self.s_a = np.zeros(self.W, dtype=np.uint64)
        self.s_b = np.zeros(self.W, dtype=np.uint64)
        self.s_c = np.zeros(self.W, dtype=np.uint64)
        self.s_hosts = np.zeros(max(1, n_hosts), dtype=np.int32)
        self.s_widx = np.zeros(max(1, n_hosts), dtype=np.int32)
        self.s_wbits = np.zeros(max(1, n_hosts), dtype=np.uint64)

    # ------------------------------------------------------------ state
    def __len__(self):
        return self.tab.nres

    def __contains__(self, rid):
        return rid in self.tab.slot

    def ids(self):
        return sorted(self.tab.slot)

    def reservation(self, rid):
        cdef ReservationTable tab = self.tab
        cdef Py_ssize_t s = tab.slot[rid]
        return (tab.hosts_of(s), tab.r_start[s], tab.r_end[s], tab.r_busy[s])

    def add(self, rid, hosts, start, end, busy_end=None):
        if rid in self.tab.slot:
            raise ValueError(f"reservation {rid} is already scheduled")
        hs, s, e, b = self._normalise(hosts, start, end, busy_end, self.pad)
        self._add(int(rid), hs, s, e, b)

    cdef _add(self, int64_t rid, tuple hs, int64_t start, int64_t end, int64_t busy):
        cdef IntervalBitmap bm = self.bm
        cdef int32_t[::1] arr = np.array(hs, dtype=np.int32)
        cdef int32_t[::1] widx = np.empty(len(hs), dtype=np.int32)
        cdef uint64_t[::1] wbits = np.empty(len(hs), dtype=np.uint64)
        cdef Py_ssize_t k
        cdef bint hit
        with nogil:
            k = _sparse(arr, &widx[0], &wbits[0])
            hit = bm.sparse_hit(start, busy, &widx[0], &wbits[0], k)
        if hit:
            c = self._describe(hs, start, busy, start, start + 1, 1, None, True)
            raise ConflictError(rid, Conflict(busy=c.busy, reservations=c.reservations))
        bm.mark(start, busy, &widx[0], &wbits[0], k, True)
        self.tab.insert(rid, arr, start, end, busy)

    def remove(self, rid):
        cdef ReservationTable tab = self.tab
        cdef Py_ssize_t s = tab.slot[rid]
        cdef tuple hs = tab.hosts_of(s)
        cdef int32_t[::1] arr = np.array(hs, dtype=np.int32)
        cdef int32_t[::1] widx = np.empty(len(hs), dtype=np.int32)
        cdef uint64_t[::1] wbits = np.empty(len(hs), dtype=np.uint64)
        cdef Py_ssize_t k = _sparse(arr, &widx[0], &wbits[0])
        self.bm.mark(tab.r_start[s], tab.r_busy[s], &widx[0], &wbits[0], k, False)
        tab.remove(s)

    def replace(self, rid, hosts, start, end, busy_end=None):
        old = self.reservation(rid)
        pad = old[3] - old[2] if busy_end is None else 0
        hs, s, e, b = self._normalise(hosts, start, end, busy_end, pad)
        self.remove(rid)
        try:
            self._add(int(rid), hs, s, e, b)
        except ConflictError:
            self._add(int(rid), old[0], old[1], old[2], old[3])
            raise

    def _normalise(self, hosts, start, end, busy_end, pad):
        hs = host_tuple(hosts, self.n_hosts)
        start, end = int(start), int(end)
        check_window(start, end)
        busy = end + pad if busy_end is None else int(busy_end)
        if busy < end:
            raise ValueError(f"busy_end ({busy}) must not be before the end ({end})")
        return hs, start, end, busy

    @cython.wraparound(True)
    def build(self, ids, starts, ends, busy_ends, host_ptr, host_idx):
        """Replace every reservation at once from CSR arrays (see ``_engine_py.Engine.build``)."""
        ids_a = np.asarray(ids, dtype=np.int64)
        st = np.asarray(starts, dtype=np.int64)
        en = np.asarray(ends, dtype=np.int64)
        bu = np.asarray(busy_ends, dtype=np.int64)
        ptr = np.asarray(host_ptr, dtype=np.int64)
        idx = np.asarray(host_idx, dtype=np.int64)
        R = ids_a.shape[0]
        if not (st.shape[0] == en.shape[0] == bu.shape[0] == R):
            raise ValueError("build: ids, starts, ends and busy_ends need one entry per reservation "
                             "and host_ptr one more")
        check_csr(R, ptr, idx.shape[0])
        if idx.shape[0] and (idx.min() < 0 or idx.max() >= self.n_hosts):
            raise ValueError(f"build: a host index is outside the cluster (0..{self.n_hosts - 1})")
        if np.any(en <= st) or np.any(bu < en):
            i = int(np.flatnonzero((en <= st) | (bu < en))[0])
            raise ValueError(f"build: reservation {int(ids_a[i])} has an empty interval or a busy "
                             "end before its end")
        if np.unique(ids_a).shape[0] != R:
            raise ValueError("build: reservation ids must be unique")
        res_of = np.repeat(np.arange(R, dtype=np.int64), np.diff(ptr))
        # sort hosts within each reservation, refuse duplicates
        o = np.lexsort((idx, res_of))
        idx = idx[o]
        if idx.shape[0] > 1:       # a host listed twice counts once, as in add()
            keep = np.ones(idx.shape[0], dtype=bool)
            keep[1:] = (idx[1:] != idx[:-1]) | (res_of[1:] != res_of[:-1])
            idx = idx[keep]
            res_of = res_of[keep]
            ptr = np.concatenate([[0], np.cumsum(np.bincount(res_of, minlength=R))]).astype(np.int64)
        clash = self.bm.build(st, bu, res_of, idx)
        if clash is not None:
            # Explain it exactly as the reference does (the first reservation, in the given order, that
            # overlaps one listed before it): replay the data through the reference, which raises.
            from ._engine_py import Engine as Reference
            Reference(self.n_hosts, seq=self._seq, pad=self.pad).build(ids, starts, ends, busy_ends, host_ptr,
                                                                        host_idx)
            raise AssertionError(f"overlap at host {clash[0]}, minute {clash[1]} not found by the reference")
        self.tab.fill(ids_a, st, en, bu, ptr, idx)

    # ------------------------------------------------------------ blocks and policies
    def add_block(self, bid, hosts, start=None, end=None):
        if bid in self._blocks:
            raise ValueError(f"block {bid} already exists")
        s = NEG_INF if start is None else int(start)
        e = POS_INF if end is None else int(end)
        check_window(s, e)
        self._blocks[bid] = (frozenset(host_tuple(hosts, self.n_hosts)), s, e)
        self._rebuild_blocks()

    def remove_block(self, bid):
        del self._blocks[bid]
        self._rebuild_blocks()

    def blocks(self):
        return {b: (tuple(sorted(h)), s, e) for b, (h, s, e) in self._blocks.items()}

    def _rebuild_blocks(self):
        bids = sorted(self._blocks)
        self.nb = len(bids)
        self.b_id = np.array(bids, dtype=np.int64) if bids else np.zeros(0, dtype=np.int64)
        self.b_start = np.array([self._blocks[b][1] for b in bids], dtype=np.int64)
        self.b_end = np.array([self._blocks[b][2] for b in bids], dtype=np.int64)
        mask = np.zeros((self.nb, self.W), dtype=np.uint64)
        for i, b in enumerate(bids):
            for h in self._blocks[b][0]:
                mask[i, h >> 6] |= np.uint64(1) << np.uint64(h & 63)
        self.b_mask = mask

    def set_policies(self, policies, host_policy):
        by_id = {p.id: p for p in policies}
        if len(by_id) != len(policies):
            raise ValueError("policy ids must be unique")
        if len(host_policy) != self.n_hosts:
            raise ValueError(f"host_policy needs one entry per host ({self.n_hosts}), "
                             f"not {len(host_policy)}")
        for h, pid in enumerate(host_policy):
            if pid is not None and pid not in by_id:
                raise ValueError(f"host {h} names unknown policy {pid}")
        self._windows.set([(p.id, p.windows) for p in policies])
        self._pols = list(policies)
        self._pq = {p.id: q for q, p in enumerate(self._pols)}
        self.P = len(self._pols)
        hq = np.array([self.P if pid is None else self._pq[pid] for pid in host_policy],
                      dtype=np.int32)
        self.host_q = hq if hq.shape[0] else np.zeros(0, dtype=np.int32)
        self.pol_max = np.array([-1 if p.max_time is None else p.max_time for p in self._pols]
                                + [-1], dtype=np.int64)
        self.pol_restr = np.array([1 if p.restricted else 0 for p in self._pols] + [0],
                                  dtype=np.uint8)
        mask = np.zeros((self.P + 1, self.W), dtype=np.uint64)
        for h in range(self.n_hosts):
            mask[hq[h], h >> 6] |= np.uint64(1) << np.uint64(h & 63)
        self.pol_mask = mask
        self._admit_cache = {}
        self._wversion = -1
        self.w_ptr = np.zeros(self.P + 2, dtype=np.int64)
        self.w_s = np.zeros(0, dtype=np.int64)
        self.w_e = np.zeros(0, dtype=np.int64)

    cdef unsigned char[::1] _admit(self, frozenset groups):
        """admit[q]: may an owner in ``groups`` use hosts of policy bucket q (cached per group set)."""
        got = self._admit_cache.get(groups)
        if got is None:
            if len(self._admit_cache) > 1024:
                self._admit_cache.clear()
            got = np.array([1 if p.admits(groups) else 0 for p in self._pols] + [1], dtype=np.uint8)
            self._admit_cache[groups] = got
        return got

    cdef _win(self, int64_t lo, int64_t hi):
        """Make the flat window arrays complete for queries within ``[lo, hi)``."""
        if not self._windows.policies:
            return
        self._windows.ensure(lo, hi)
        if self._windows.version == self._wversion:
            return
        starts, ends, ptr = [], [], [0]
        for p in self._pols:
            starts.extend(self._windows.starts(p.id))
            ends.extend(self._windows.ends(p.id))
            ptr.append(len(starts))
        ptr.append(len(starts))
        self.w_s = np.array(starts, dtype=np.int64)
        self.w_e = np.array(ends, dtype=np.int64)
        self.w_ptr = np.array(ptr, dtype=np.int64)
        self._wversion = self._windows.version

    cdef bint _q_window(self, Py_ssize_t q, int64_t lo, int64_t hi) noexcept nogil:
        """Does a not-available window of policy bucket q overlap ``[lo, hi)``?"""
        cdef Py_ssize_t a = self.w_ptr[q], b = self.w_ptr[q + 1], j
        if a == b:
            return False
        j = _first_ending_after(self.w_e, a, b, lo)
        return j < b and self.w_s[j] < hi

    # ------------------------------------------------------------ queries
    def check(self, hosts, start, end, *, groups=None, elevated=False):
        hs = host_tuple(hosts, self.n_hosts)
        check_window(start, end)
        g = frozenset(groups) if groups is not None else frozenset()
        if self._clean(hs, start, end + self.pad, start, end, end - start, g, elevated):
            return None
        return self._describe(hs, start, end + self.pad, start, end, end - start, g, elevated)

    def check_extend(self, rid, new_end, *, now, groups=None, elevated=False):
        cdef ReservationTable tab = self.tab
        cdef Py_ssize_t s = tab.slot[rid]
        cdef int64_t start = tab.r_start[s], end = tab.r_end[s], busy = tab.r_busy[s]
        if new_end <= end:
            raise ValueError(f"the new end ({new_end}) must be after the current end ({end})")
        hs = tab.hosts_of(s)
        g = frozenset(groups) if groups is not None else frozenset()
        new_busy = new_end + (busy - end)
        minutes = new_end - max(now, start)
        if self._clean(hs, busy, new_busy, end, new_end, minutes, g, elevated):
            return None
        return self._describe(hs, busy, new_busy, end, new_end, minutes, g, elevated)

    cdef bint _clean(self, tuple hs, int64_t blo, int64_t bhi, int64_t lo, int64_t hi,
                     int64_t minutes, frozenset g, bint elevated) except -1:
        """Fast path: nothing stands in the way (reservations over [blo, bhi), the rest over [lo, hi)).

        Cheapest tests first: the hosts' policies, then blocks, then the bitmap rows the window covers.
        """
        cdef int32_t* arr = &self.s_hosts[0]
        cdef int32_t* widx = &self.s_widx[0]
        cdef uint64_t* wbits = &self.s_wbits[0]
        cdef unsigned char[::1] admit = self._admit(g)
        cdef Py_ssize_t k, b, j, q, nh = len(hs)
        for j in range(nh):
            arr[j] = hs[j]
        if not elevated and self.P:
            self._win(lo, hi)
        with nogil:
            for j in range(nh):
                q = self.host_q[arr[j]]
                if q == self.P:
                    continue
                if not admit[q]:
                    return False
                if not elevated:
                    if self.pol_max[q] >= 0 and minutes > self.pol_max[q]:
                        return False
                    if self._q_window(q, lo, hi):
                        return False
            k = _sparse(self.s_hosts[:nh], widx, wbits)
            for b in range(self.nb):
                if self.b_start[b] < hi and self.b_end[b] > lo:
                    for j in range(k):
                        if self.b_mask[b, widx[j]] & wbits[j]:
                            return False
            if self.bm.sparse_hit(blo, bhi, widx, wbits, k):
                return False
        return True

    def _describe(self, hs, blo, bhi, lo, hi, minutes, g, elevated):
        """Slow path: spell out what stands in the way (None if nothing does)."""
        want = set(hs)
        busy, rids = self.tab.busy_detail(hs, blo, bhi)
        blocked, bids = set(), []
        for bid, (bh, s0, e0) in self._blocks.items():
            if s0 < hi and e0 > lo and not bh.isdisjoint(want):
                blocked |= bh & want
                bids.append(bid)
        denied, too_long, unavail, windows = [], [], [], set()
        if g is not None and self.P:
            if not elevated:
                self._windows.ensure(lo, hi)
            verdict = {}                     # q -> (denied, too long, windows hit), once per policy
            for h in hs:
                q = self.host_q[<Py_ssize_t>h]
                if q == self.P:
                    continue
                v = verdict.get(q)
                if v is None:
                    p = self._pols[q]
                    v = verdict[q] = (
                        not p.admits(g),
                        not elevated and p.max_time is not None and minutes > p.max_time,
                        () if elevated or not self._windows.overlapping(p.id, lo, hi)
                        else tuple([(p.id, a, b) for a, b in self._windows.instances(p.id, lo, hi)]))
                if v[0]:
                    denied.append(h)
                if v[1]:
                    too_long.append(h)
                if v[2]:
                    unavail.append(h)
                    windows.update(v[2])
        c = Conflict(busy, rids, tuple(sorted(blocked)),
                     tuple(sorted(bids)), tuple(unavail), tuple(sorted(windows)), tuple(denied),
                     tuple(too_long))
        return c if c else None

    def find(self, count, start, end, *, groups=None, elevated=False, within=None):
        if count < 1:
            raise ValueError(f"a request needs at least one host, not {count}")
        check_window(start, end)
        g = frozenset(groups) if groups is not None else frozenset()
        cdef Py_ssize_t need = count
        cdef int64_t lo = start, hi = end, minutes = end - start
        cdef bint elev = elevated
        if not elev and self.P:
            self._win(lo, hi)
        cdef unsigned char[::1] admit = self._admit(g)
        cdef uint64_t[::1] elig = self.s_a, pref = self.s_b, busy = self.s_c
        cdef uint64_t[::1] inside
        cdef Py_ssize_t W = self.W, q, w, b, total = 0
        cdef bint ok
        with nogil:
            memset(&elig[0], 0, W * sizeof(uint64_t))
            memset(&pref[0], 0, W * sizeof(uint64_t))
            memset(&busy[0], 0, W * sizeof(uint64_t))
            for q in range(self.P + 1):
                ok = admit[q]
                if ok and q < self.P and not elev:
                    if self.pol_max[q] >= 0 and minutes > self.pol_max[q]:
                        ok = False
                    elif self._q_window(q, lo, hi):
                        ok = False
                if ok:
                    for w in range(W):
                        elig[w] |= self.pol_mask[q, w]
                    if self.pol_restr[q]:
                        for w in range(W):
                            pref[w] |= self.pol_mask[q, w]
        if within is not None:
            inside = self._mask_of(within)
            for w in range(W):
                elig[w] &= inside[w]
        with nogil:
            self.bm.or_span(lo, hi + self.pad, &busy[0])
            for b in range(self.nb):
                if self.b_start[b] < hi and self.b_end[b] > lo:
                    for w in range(W):
                        busy[w] |= self.b_mask[b, w]
            for w in range(W):
                elig[w] &= ~busy[w]
                total += popcount(elig[w])
        if total < need:
            return None
        return choose(elig, pref, need, self._runstart, self.n_hosts)

    cdef uint64_t[::1] _mask_of(self, hosts):
        cdef uint64_t[::1] out = np.zeros(self.W, dtype=np.uint64)
        cdef int64_t h
        for x in hosts:
            h = x
            if 0 <= h < self.n_hosts:
                out[h >> 6] |= ONE << (h & 63)
        return out

    def max_end(self, rid, *, now, cap, groups=None, elevated=False):
        cdef ReservationTable tab = self.tab
        cdef IntervalBitmap bm = self.bm
        cdef Py_ssize_t s = tab.slot[rid], i, j, k, b, q
        cdef int64_t start = tab.r_start[s], end = tab.r_end[s], busy = tab.r_busy[s]
        cdef int64_t limit = cap, padr = busy - end, base = max(now, start), t
        cdef bint elev = elevated
        hs = tab.hosts_of(s)
        g = frozenset(groups) if groups is not None else frozenset()
        cdef unsigned char[::1] admit = self._admit(g)
        cdef int32_t[::1] arr = np.array(hs, dtype=np.int32)
        cdef int32_t[::1] widx = np.empty(len(hs), dtype=np.int32)
        cdef uint64_t[::1] wbits = np.empty(len(hs), dtype=np.uint64)
        for j in range(arr.shape[0]):
            q = self.host_q[arr[j]]
            if not admit[q]:
                return end
            if not elev and self.pol_max[q] >= 0:
                limit = min(limit, base + self.pol_max[q])
        with nogil:
            k = _sparse(arr, &widx[0], &wbits[0])
            t = bm.first_hit(busy, limit + padr, &widx[0], &wbits[0], k)   # the next reservation
            if t - padr < limit:
                limit = t - padr
            for b in range(self.nb):
                if self.b_end[b] > end:
                    for j in range(k):
                        if self.b_mask[b, widx[j]] & wbits[j]:
                            t = self.b_start[b] if self.b_start[b] > end else end
                            if t < limit:
                                limit = t
                            break
        if not elev and limit > end and self.P:
            self._win(end, limit)
            for j in range(arr.shape[0]):
                q = self.host_q[arr[j]]
                if q == self.P:
                    continue
                i = _first_ending_after(self.w_e, self.w_ptr[q], self.w_ptr[q + 1], end)
                if i < self.w_ptr[q + 1] and self.w_s[i] < limit:
                    limit = max(self.w_s[i], end)
        return max(end, limit)

    def speculate(self, duration, after, until, *, count=None, hosts=None, limit=10, groups=None,
                  elevated=False, within=None):
        check_speculate(duration, after, until, count, hosts, limit)
        cdef Py_ssize_t i, q
        g = frozenset(groups) if groups is not None else frozenset()
        within = None if within is None else list(within)       # read once: it may be a generator
        n = self.n_hosts
        elig_np = np.zeros(max(1, n), dtype=np.uint8)
        named = ()
        if hosts is not None:
            named = host_tuple(hosts, n)
            elig_np[list(named)] = 1
            need = len(named)
        else:
            if count < 1:
                raise ValueError(f"a request needs at least one host, not {count}")
            need = count
            if within is None:
                elig_np[:n] = 1
            else:
                ins = [h for h in within if 0 <= h < n]
                elig_np[ins] = 1
        if n:
            hq = np.asarray(self.host_q)
            elig_np[:n] &= np.asarray(self._admit(g))[hq]
            if not elevated:
                pm = np.asarray(self.pol_max)[hq]
                elig_np[:n] &= ((pm < 0) | (duration <= pm)).astype(np.uint8)
        if int(elig_np.sum()) < need:
            return []
        # policy-window events (enter before leave at equal times)
        wt, wq, wd = [], [], []
        if not elevated and self.P:
            self._win(after, until + duration)
            used = np.bincount(np.asarray(self.host_q)[elig_np[:n].astype(bool)],
                               minlength=self.P + 1)
            for q in range(self.P):
                if used[q]:
                    for i in range(self.w_ptr[q], self.w_ptr[q + 1]):
                        if self.w_e[i] > after and self.w_s[i] < until + duration:
                            wt += [self.w_s[i] - duration + 1, self.w_e[i]]
                            wq += [q, q]
                            wd += [1, -1]
        bt_, bb_, bd_ = [], [], []
        for b in range(self.nb):
            bt_ += [max(NEG_INF, self.b_start[b] - duration + 1), self.b_end[b]]
            bb_ += [b, b]
            bd_ += [1, -1]
        wt_a, wq_a, wd_a = _sorted_events(wt, wq, wd)
        bt_a, bb_a, bd_a = _sorted_events(bt_, bb_, bd_)
        out_s = np.zeros(limit, dtype=np.int64)
        out_l = np.zeros(limit, dtype=np.int64)
        nout = self.tab.sweep(elig_np, self.host_q, self.P + 1, self.b_mask, need, <int64_t>duration + self.pad,
                              after, until, limit, wt_a, wq_a, wd_a, bt_a, bb_a, bd_a, out_s, out_l)
        slots = []
        for i in range(nout):
            s0 = int(out_s[i])
            if hosts is not None:
                got = named
            else:
                got = tuple(self.find(need, s0, s0 + duration, groups=g, elevated=elevated,
                                      within=within) or ())
            slots.append(Slot(s0, int(out_l[i]), got))
        return slots


def _sorted_events(times, keys, deltas):
    """Events as int64 arrays sorted by time, enters (+1) before leaves (-1) at equal times."""
    t = np.array(times, dtype=np.int64)
    k = np.array(keys, dtype=np.int64)
    d = np.array(deltas, dtype=np.int64)
    o = np.lexsort((-d, t))
    return t[o], k[o], d[o]
