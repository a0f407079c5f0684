# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled scheduling engine: an interval bitmap with exactly the API of ``_engine_py.py``.

``_engine_py.Engine`` is the reference twin of this class: every public method here answers what the method
of the same name answers there (tests drive both, and a brute-force model, through random operations).

State:

* **Interval bitmap** of busy hosts: sorted breakpoints ``bt[0..m)``; segment ``i`` is ``[bt[i], bt[i+1])`` and
  its row (``W`` uint64 words, one bit per host) lives in a row pool at ``border[i]`` (indirection keeps
  breakpoint insertion a small memmove of indices instead of rows). Before ``bt[0]`` and from ``bt[m-1]`` on
  nothing is busy. Reservations never overlap on a host, so adding is OR and removing AND-NOT over the rows of
  the segments an interval covers; equal neighbouring rows are merged so a breakpoint always marks a change.
  ``check``/``find``/``max_end`` are word-wise ORs over the rows a window covers.
* **Reservation table** (slots), kept sorted by start and by busy end: ``speculate`` sweeps over it (each
  reservation enters and leaves the sliding request window once), and refusals are explained from it.
* **Blocks** and **policies** are few: arrays of ``(interval, host mask)`` and per-policy host masks, limits and
  merged not-available windows (expanded by :mod:`igor._sched._windows`, shared with the reference).

Design note: DESIGN.md suggests bitmap layers for blocks and windows too; they are kept as short lists of
``(interval, host mask)`` instead, because there are few of them and each covers many hosts, so a list is both
smaller and faster to query than a second bitmap.
"""

import numpy as np

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memcmp, memcpy, memmove, memset

from ._types import Conflict, ConflictError, Policy, Slot, check_csr, check_window, host_tuple
from ._windows import WindowIndex

cdef extern from *:
    """
    static inline int igor_popcount(unsigned long long x) { return __builtin_popcountll(x); }
    static inline int igor_ctz(unsigned long long x) { return __builtin_ctzll(x); }
    """
    int popcount "igor_popcount"(unsigned long long x) noexcept nogil
    int ctz "igor_ctz"(unsigned long long x) noexcept nogil

cdef int64_t NEG_INF = -(2 ** 62)
cdef int64_t POS_INF = 2 ** 62
cdef uint64_t ONE = 1


cdef void* _realloc(void* p, Py_ssize_t n, size_t size) except NULL:
    cdef void* q = PyMem_Realloc(p, <size_t>(n if n > 0 else 1) * size)
    if q == NULL:
        raise MemoryError()
    return q


cdef inline Py_ssize_t _sparse(const int32_t[::1] hs, int32_t* widx, uint64_t* wbits) noexcept nogil:
    """Sorted host indices -> (word index, bits) pairs; returns how many words."""
    cdef Py_ssize_t j, k = 0
    cdef int32_t w
    for j in range(hs.shape[0]):
        w = hs[j] >> 6
        if k > 0 and widx[k - 1] == w:
            wbits[k - 1] |= ONE << (hs[j] & 63)
        else:
            widx[k] = w
            wbits[k] = ONE << (hs[j] & 63)
            k += 1
    return k


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


cdef Py_ssize_t _pick_runs(const uint64_t* avail, Py_ssize_t W, const uint64_t* runstart,
                           Py_ssize_t need, uint64_t* chosen, int32_t* rs, int32_t* rl,
                           int32_t* order, int32_t* sl, int32_t* bucket) noexcept nogil:
    """C twin of ``_select.pick_runs``: choose ``need`` hosts of ``avail`` into ``chosen``.

    Runs of consecutive sequence numbers are counting-sorted by (length desc, start asc); the greedy then
    takes an exact run, else the head of the smallest longer run, else the longest run, as the reference does.
    Returns how many hosts were chosen.
    """
    cdef Py_ssize_t w, R = 0, r, i, j, lo, hi, mid, p, q, taken = 0, maxlen = 0
    cdef int64_t h, prev = -2
    cdef uint64_t x
    cdef int32_t length, L
    if need <= 0:
        return 0
    for w in range(W):
        x = avail[w]
        while x:
            h = w * 64 + ctz(x)
            x &= x - 1
            if h == prev + 1 and not ((runstart[h >> 6] >> (h & 63)) & ONE):
                rl[R - 1] += 1
            else:
                rs[R] = <int32_t>h
                rl[R] = 1
                R += 1
            prev = h
    if R == 0:
        return 0
    for r in range(R):
        if rl[r] > maxlen:
            maxlen = rl[r]
    for i in range(maxlen + 2):
        bucket[i] = 0
    for r in range(R):
        bucket[rl[r]] += 1
    p = 0                                   # bucket[len] := first position of that length (desc order)
    for i in range(maxlen, 0, -1):
        q = bucket[i]
        bucket[i] = <int32_t>p
        p += q
    for r in range(R):                      # runs are visited by ascending start: stable
        order[bucket[rl[r]]] = <int32_t>r
        bucket[rl[r]] += 1
    for i in range(R):
        sl[i] = rl[order[i]]
    j = 0
    while need > 0 and j < R:
        lo = j                              # p: first remaining position with length <= need
        hi = R
        while lo < hi:
            mid = (lo + hi) >> 1
            if sl[mid] <= need:
                hi = mid
            else:
                lo = mid + 1
        p = lo
        if p < R and sl[p] == need:
            r = order[p]
            length = <int32_t>need
        elif p > j:
            L = sl[p - 1]                   # smallest length longer than need; its first (lowest) run
            lo = j
            hi = p - 1
            while lo < hi:
                mid = (lo + hi) >> 1
                if sl[mid] <= L:
                    hi = mid
                else:
                    lo = mid + 1
            r = order[lo]
            length = <int32_t>need
        else:
            r = order[j]
            length = rl[r]
            j += 1
        for i in range(length):
            h = rs[r] + i
            chosen[h >> 6] |= ONE << (h & 63)
        taken += length
        need -= length
    return taken


cdef class Engine:
    """Scheduling state of one cluster (compiled). See ``_engine_py.Engine`` for the documentation."""

    implementation = "c"

    def __cinit__(self, *args, **kwargs):
        self.bt = NULL
        self.border = NULL
        self.pool = NULL
        self.freerows = NULL
        self.r_id = NULL
        self.r_start = NULL
        self.r_end = NULL
        self.r_busy = NULL
        self.r_hoff = NULL
        self.r_hcnt = NULL
        self.r_freeslots = NULL
        self.by_start = NULL
        self.by_busy = NULL
        self.hpool = NULL
        self.hl = NULL
        self.hl_len = NULL
        self.hl_cap = NULL
        self.m = self.cap_m = self.cap_rows = self.nfreerows = 0
        self.nres = self.cap_r = self.top_r = self.nfreeslots = 0
        self.hp_used = self.hp_live = self.cap_hp = 0

    def __dealloc__(self):
        self._free_bitmap()
        self._free_table()

    def __init__(self, Py_ssize_t n_hosts, *, seq=None, int64_t pad=0, str tz="UTC"):
        if n_hosts < 0:
            raise ValueError(f"n_hosts must not be negative, not {n_hosts}")
        if pad < 0:
            raise ValueError(f"pad must not be negative, not {pad}")
        self.n_hosts = n_hosts
        self.pad = pad
        self.W = max(1, (n_hosts + 63) // 64)
        self._seq = list(range(1, n_hosts + 1)) if seq is None else [int(s) for s in seq]
        if len(self._seq) != n_hosts or any(b <= a for a, b in zip(self._seq, self._seq[1:])):
            raise ValueError("seq must hold one strictly increasing sequence number per host")
        runstart = np.zeros(self.W, dtype=np.uint64)
        for h in range(n_hosts):
            if h == 0 or self._seq[h] != self._seq[h - 1] + 1:
                runstart[h >> 6] |= np.uint64(1) << np.uint64(h & 63)
        self._runstart = runstart
        self._alloc_bitmap(64)
        self._alloc_table(64, 256)
        self._slot = {}
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

    # ------------------------------------------------------------ memory
    cdef void _free_bitmap(self) noexcept:
        PyMem_Free(self.bt)
        PyMem_Free(self.border)
        PyMem_Free(self.pool)
        PyMem_Free(self.freerows)
        self.bt = NULL
        self.border = NULL
        self.pool = NULL
        self.freerows = NULL

    cdef void _free_table(self) noexcept:
        self._free_hostlists()
        PyMem_Free(self.r_id)
        PyMem_Free(self.r_start)
        PyMem_Free(self.r_end)
        PyMem_Free(self.r_busy)
        PyMem_Free(self.r_hoff)
        PyMem_Free(self.r_hcnt)
        PyMem_Free(self.r_freeslots)
        PyMem_Free(self.by_start)
        PyMem_Free(self.by_busy)
        PyMem_Free(self.hpool)
        self.r_id = self.r_start = self.r_end = self.r_busy = self.r_hoff = NULL
        self.r_hcnt = self.r_freeslots = self.by_start = self.by_busy = self.hpool = NULL

    cdef int _alloc_bitmap(self, Py_ssize_t cap) except -1:
        cdef Py_ssize_t i
        self._free_bitmap()
        self.bt = <int64_t*>_realloc(NULL, cap, sizeof(int64_t))
        self.border = <int32_t*>_realloc(NULL, cap, sizeof(int32_t))
        self.pool = <uint64_t*>_realloc(NULL, cap * self.W, sizeof(uint64_t))
        self.freerows = <int32_t*>_realloc(NULL, cap, sizeof(int32_t))
        self.cap_m = self.cap_rows = cap
        self.m = 0
        for i in range(cap):
            self.freerows[i] = <int32_t>(cap - 1 - i)
        self.nfreerows = cap
        return 0

    cdef int _grow_bitmap(self) except -1:
        cdef Py_ssize_t i, cap = self.cap_m * 2
        self.bt = <int64_t*>_realloc(self.bt, cap, sizeof(int64_t))
        self.border = <int32_t*>_realloc(self.border, cap, sizeof(int32_t))
        self.pool = <uint64_t*>_realloc(self.pool, cap * self.W, sizeof(uint64_t))
        self.freerows = <int32_t*>_realloc(self.freerows, cap, sizeof(int32_t))
        for i in range(self.cap_rows, cap):
            self.freerows[self.nfreerows] = <int32_t>i
            self.nfreerows += 1
        self.cap_m = self.cap_rows = cap
        return 0

    cdef int _alloc_table(self, Py_ssize_t cap, Py_ssize_t cap_hp) except -1:
        self._free_table()
        self.r_id = <int64_t*>_realloc(NULL, cap, sizeof(int64_t))
        self.r_start = <int64_t*>_realloc(NULL, cap, sizeof(int64_t))
        self.r_end = <int64_t*>_realloc(NULL, cap, sizeof(int64_t))
        self.r_busy = <int64_t*>_realloc(NULL, cap, sizeof(int64_t))
        self.r_hoff = <int64_t*>_realloc(NULL, cap, sizeof(int64_t))
        self.r_hcnt = <int32_t*>_realloc(NULL, cap, sizeof(int32_t))
        self.r_freeslots = <int32_t*>_realloc(NULL, cap, sizeof(int32_t))
        self.by_start = <int32_t*>_realloc(NULL, cap, sizeof(int32_t))
        self.by_busy = <int32_t*>_realloc(NULL, cap, sizeof(int32_t))
        self.hpool = <int32_t*>_realloc(NULL, cap_hp, sizeof(int32_t))
        self.cap_r = cap
        self.cap_hp = cap_hp
        self.nres = self.top_r = self.nfreeslots = 0
        self.hp_used = self.hp_live = 0
        self._alloc_hostlists(np.zeros(max(1, self.n_hosts), dtype=np.int64))
        return 0

    cdef void _free_hostlists(self) noexcept:
        cdef Py_ssize_t h
        if self.hl != NULL:
            for h in range(max(1, self.n_hosts)):
                PyMem_Free(self.hl[h])
            PyMem_Free(self.hl)
        PyMem_Free(self.hl_len)
        PyMem_Free(self.hl_cap)
        self.hl = NULL
        self.hl_len = NULL
        self.hl_cap = NULL

    cdef int _alloc_hostlists(self, const int64_t[::1] counts) except -1:
        """Empty per-host slot lists with room for ``counts[h]`` entries each."""
        cdef Py_ssize_t h, n = max(1, self.n_hosts)
        self._free_hostlists()
        self.hl = <int32_t**>_realloc(NULL, n, sizeof(int32_t*))
        self.hl_len = <int32_t*>_realloc(NULL, n, sizeof(int32_t))
        self.hl_cap = <int32_t*>_realloc(NULL, n, sizeof(int32_t))
        for h in range(n):
            self.hl[h] = NULL
        for h in range(n):
            self.hl_len[h] = 0
            self.hl_cap[h] = <int32_t>max(4, counts[h])
            self.hl[h] = <int32_t*>_realloc(NULL, self.hl_cap[h], sizeof(int32_t))
        return 0

    cdef int _hl_insert(self, Py_ssize_t s) except -1:
        cdef Py_ssize_t j, h, lo, hi, mid, o = self.r_hoff[s]
        cdef int64_t start = self.r_start[s]
        for j in range(self.r_hcnt[s]):
            h = self.hpool[o + j]
            if self.hl_len[h] == self.hl_cap[h]:
                self.hl[h] = <int32_t*>_realloc(self.hl[h], 2 * self.hl_cap[h], sizeof(int32_t))
                self.hl_cap[h] *= 2
            lo = 0
            hi = self.hl_len[h]
            while lo < hi:
                mid = (lo + hi) >> 1
                if self.r_start[self.hl[h][mid]] <= start:
                    lo = mid + 1
                else:
                    hi = mid
            memmove(self.hl[h] + lo + 1, self.hl[h] + lo, (self.hl_len[h] - lo) * sizeof(int32_t))
            self.hl[h][lo] = <int32_t>s
            self.hl_len[h] += 1
        return 0

    cdef void _hl_remove(self, Py_ssize_t s) noexcept nogil:
        cdef Py_ssize_t j, h, lo, hi, mid, o = self.r_hoff[s]
        cdef int64_t start = self.r_start[s]
        for j in range(self.r_hcnt[s]):
            h = self.hpool[o + j]
            lo = 0
            hi = self.hl_len[h]
            while lo < hi:
                mid = (lo + hi) >> 1
                if self.r_start[self.hl[h][mid]] < start:
                    lo = mid + 1
                else:
                    hi = mid
            while self.hl[h][lo] != s:
                lo += 1
            memmove(self.hl[h] + lo, self.hl[h] + lo + 1, (self.hl_len[h] - lo - 1) * sizeof(int32_t))
            self.hl_len[h] -= 1

    cdef tuple _busy_detail(self, tuple hs, int64_t blo, int64_t bhi):
        """Hosts of ``hs`` held by a reservation over ``[blo, bhi)``, and those reservations' ids."""
        cdef Py_ssize_t lo, hi, mid, s
        cdef int32_t h
        busy, rids = [], set()
        for x in hs:
            h = x
            lo = 0
            hi = self.hl_len[h]
            while lo < hi:
                mid = (lo + hi) >> 1
                if self.r_start[self.hl[h][mid]] < bhi:
                    lo = mid + 1
                else:
                    hi = mid
            hit = False
            while lo > 0 and self.r_busy[self.hl[h][lo - 1]] > blo:
                lo -= 1
                rids.add(self.r_id[self.hl[h][lo]])
                hit = True
            if hit:
                busy.append(h)
        return tuple(busy), tuple(sorted(rids))

    cdef int _grow_table(self) except -1:
        cdef Py_ssize_t cap = self.cap_r * 2
        self.r_id = <int64_t*>_realloc(self.r_id, cap, sizeof(int64_t))
        self.r_start = <int64_t*>_realloc(self.r_start, cap, sizeof(int64_t))
        self.r_end = <int64_t*>_realloc(self.r_end, cap, sizeof(int64_t))
        self.r_busy = <int64_t*>_realloc(self.r_busy, cap, sizeof(int64_t))
        self.r_hoff = <int64_t*>_realloc(self.r_hoff, cap, sizeof(int64_t))
        self.r_hcnt = <int32_t*>_realloc(self.r_hcnt, cap, sizeof(int32_t))
        self.r_freeslots = <int32_t*>_realloc(self.r_freeslots, cap, sizeof(int32_t))
        self.by_start = <int32_t*>_realloc(self.by_start, cap, sizeof(int32_t))
        self.by_busy = <int32_t*>_realloc(self.by_busy, cap, sizeof(int32_t))
        self.cap_r = cap
        return 0

    cdef int _reserve_hosts(self, Py_ssize_t k) except -1:
        """Room for ``k`` more host entries: compact the host pool if half of it is holes, else grow."""
        cdef Py_ssize_t i, s, used = 0, cap
        cdef int32_t* fresh
        if self.hp_used + k <= self.cap_hp:
            return 0
        if self.hp_live + k <= self.cap_hp // 2:
            cap = self.cap_hp
        else:
            cap = max(self.cap_hp * 2, self.hp_live + k)
        fresh = <int32_t*>_realloc(NULL, cap, sizeof(int32_t))
        for i in range(self.nres):
            s = self.by_start[i]
            memcpy(fresh + used, self.hpool + self.r_hoff[s], self.r_hcnt[s] * sizeof(int32_t))
            self.r_hoff[s] = used
            used += self.r_hcnt[s]
        PyMem_Free(self.hpool)
        self.hpool = fresh
        self.cap_hp = cap
        self.hp_used = used
        return 0

    # ------------------------------------------------------------ bitmap primitives
    cdef Py_ssize_t _seg(self, int64_t t) noexcept nogil:
        """Index of the segment containing ``t`` (the last breakpoint <= t), -1 before the first."""
        cdef Py_ssize_t lo = 0, hi = self.m, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.bt[mid] <= t:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    cdef Py_ssize_t _lower(self, int64_t t) noexcept nogil:
        """Index of the first breakpoint >= t."""
        cdef Py_ssize_t lo = 0, hi = self.m, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.bt[mid] < t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef Py_ssize_t _ensure_bp(self, int64_t t) except -1:
        """Make ``t`` a breakpoint (splitting the segment containing it); returns its index."""
        cdef Py_ssize_t i = self._seg(t), W = self.W
        cdef int32_t r
        if i >= 0 and self.bt[i] == t:
            return i
        if self.m == self.cap_m or self.nfreerows == 0:
            self._grow_bitmap()
        self.nfreerows -= 1
        r = self.freerows[self.nfreerows]
        if i >= 0:
            memcpy(self.pool + r * W, self.pool + self.border[i] * W, W * sizeof(uint64_t))
        else:
            memset(self.pool + r * W, 0, W * sizeof(uint64_t))
        memmove(self.bt + i + 2, self.bt + i + 1, (self.m - i - 1) * sizeof(int64_t))
        memmove(self.border + i + 2, self.border + i + 1, (self.m - i - 1) * sizeof(int32_t))
        self.bt[i + 1] = t
        self.border[i + 1] = r
        self.m += 1
        return i + 1

    cdef void _merge(self, Py_ssize_t i) noexcept nogil:
        """Drop breakpoint ``i`` if its row equals the row before it (no change happens there)."""
        cdef Py_ssize_t W = self.W, w
        cdef uint64_t* cur
        cdef bint same = True
        if i < 0 or i >= self.m:
            return
        cur = self.pool + self.border[i] * W
        if i == 0:
            for w in range(W):
                if cur[w]:
                    same = False
                    break
        else:
            same = memcmp(cur, self.pool + self.border[i - 1] * W, W * sizeof(uint64_t)) == 0
        if not same:
            return
        self.freerows[self.nfreerows] = self.border[i]
        self.nfreerows += 1
        memmove(self.bt + i, self.bt + i + 1, (self.m - i - 1) * sizeof(int64_t))
        memmove(self.border + i, self.border + i + 1, (self.m - i - 1) * sizeof(int32_t))
        self.m -= 1

    cdef void _or_span(self, int64_t lo, int64_t hi, uint64_t* out) noexcept nogil:
        """OR into ``out`` the rows of every segment overlapping ``[lo, hi)``."""
        cdef Py_ssize_t i = self._seg(lo), i1 = self._lower(hi), w, W = self.W
        cdef uint64_t* row
        if i < 0:
            i = 0
        while i < i1:
            row = self.pool + self.border[i] * W
            for w in range(W):
                out[w] |= row[w]
            i += 1

    cdef bint _sparse_hit(self, int64_t lo, int64_t hi, const int32_t* widx, const uint64_t* wbits,
                          Py_ssize_t k) noexcept nogil:
        """Is any of the (sparse) hosts busy in a segment overlapping ``[lo, hi)``?"""
        cdef Py_ssize_t i = self._seg(lo), i1 = self._lower(hi), j
        cdef uint64_t* row
        if i < 0:
            i = 0
        while i < i1:
            row = self.pool + self.border[i] * self.W
            for j in range(k):
                if row[widx[j]] & wbits[j]:
                    return True
            i += 1
        return False

    cdef void _apply(self, Py_ssize_t i0, Py_ssize_t i1, const int32_t* widx, const uint64_t* wbits,
                     Py_ssize_t k, bint set_bits) noexcept nogil:
        cdef Py_ssize_t i, j
        cdef uint64_t* row
        for i in range(i0, i1):
            row = self.pool + self.border[i] * self.W
            if set_bits:
                for j in range(k):
                    row[widx[j]] |= wbits[j]
            else:
                for j in range(k):
                    row[widx[j]] &= ~wbits[j]

    # ------------------------------------------------------------ reservation table
    cdef int _slot_insert(self, int64_t rid, int32_t[::1] hs, int64_t start, int64_t end,
                          int64_t busy) except -1:
        cdef Py_ssize_t s, k = hs.shape[0], p
        if self.nfreeslots:
            self.nfreeslots -= 1
            s = self.r_freeslots[self.nfreeslots]
        else:
            if self.top_r == self.cap_r:
                self._grow_table()
            s = self.top_r
            self.top_r += 1
        self._reserve_hosts(k)
        if k:
            memcpy(self.hpool + self.hp_used, &hs[0], k * sizeof(int32_t))
        self.r_id[s] = rid
        self.r_start[s] = start
        self.r_end[s] = end
        self.r_busy[s] = busy
        self.r_hoff[s] = self.hp_used
        self.r_hcnt[s] = <int32_t>k
        self.hp_used += k
        self.hp_live += k
        p = self._upper_start(start)
        memmove(self.by_start + p + 1, self.by_start + p, (self.nres - p) * sizeof(int32_t))
        self.by_start[p] = <int32_t>s
        p = self._upper_busy(busy)
        memmove(self.by_busy + p + 1, self.by_busy + p, (self.nres - p) * sizeof(int32_t))
        self.by_busy[p] = <int32_t>s
        self.nres += 1
        self._hl_insert(s)
        self._slot[rid] = s
        return 0

    cdef Py_ssize_t _upper_start(self, int64_t t) noexcept nogil:
        """First position in by_start whose start is > t."""
        cdef Py_ssize_t lo = 0, hi = self.nres, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.r_start[self.by_start[mid]] <= t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef Py_ssize_t _upper_busy(self, int64_t t) noexcept nogil:
        """First position in by_busy whose busy end is > t."""
        cdef Py_ssize_t lo = 0, hi = self.nres, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.r_busy[self.by_busy[mid]] <= t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef void _slot_remove(self, Py_ssize_t s) noexcept nogil:
        cdef Py_ssize_t p
        self._hl_remove(s)
        p = self._upper_start(self.r_start[s] - 1)
        while self.by_start[p] != s:
            p += 1
        memmove(self.by_start + p, self.by_start + p + 1, (self.nres - p - 1) * sizeof(int32_t))
        p = self._upper_busy(self.r_busy[s] - 1)
        while self.by_busy[p] != s:
            p += 1
        memmove(self.by_busy + p, self.by_busy + p + 1, (self.nres - p - 1) * sizeof(int32_t))
        self.hp_live -= self.r_hcnt[s]
        self.r_freeslots[self.nfreeslots] = <int32_t>s
        self.nfreeslots += 1
        self.nres -= 1

    cdef tuple _hosts_of(self, Py_ssize_t s):
        cdef Py_ssize_t i, o = self.r_hoff[s]
        return tuple([self.hpool[o + i] for i in range(self.r_hcnt[s])])

    # ------------------------------------------------------------ state
    def __len__(self):
        return self.nres

    def __contains__(self, rid):
        return rid in self._slot

    def ids(self):
        return sorted(self._slot)

    def reservation(self, rid):
        cdef Py_ssize_t s = self._slot[rid]
        return (self._hosts_of(s), self.r_start[s], self.r_end[s], self.r_busy[s])

    def add(self, rid, hosts, start, end, busy_end=None):
        if rid in self._slot:
            raise ValueError(f"reservation {rid} is already scheduled")
        hs, s, e, b = self._normalise(hosts, start, end, busy_end, self.pad)
        self._add(int(rid), hs, s, e, b)

    cdef _add(self, int64_t rid, tuple hs, int64_t start, int64_t end, int64_t busy):
        cdef int32_t[::1] arr = np.array(hs, dtype=np.int32)
        cdef int32_t[::1] widx = np.empty(len(hs), dtype=np.int32)
        cdef uint64_t[::1] wbits = np.empty(len(hs), dtype=np.uint64)
        cdef Py_ssize_t k, i0, i1
        cdef bint hit
        with nogil:
            k = _sparse(arr, &widx[0], &wbits[0])
            hit = self._sparse_hit(start, busy, &widx[0], &wbits[0], k)
        if hit:
            c = self._describe(hs, start, busy, start, start + 1, 1, None, True)
            raise ConflictError(rid, Conflict(busy=c.busy, reservations=c.reservations))
        i0 = self._ensure_bp(start)
        i1 = self._ensure_bp(busy)
        with nogil:
            self._apply(i0, i1, &widx[0], &wbits[0], k, True)
            self._merge(i1)
            self._merge(i0)
        self._slot_insert(rid, arr, start, end, busy)

    def remove(self, rid):
        cdef Py_ssize_t s = self._slot[rid]
        cdef tuple hs = self._hosts_of(s)
        cdef int32_t[::1] arr = np.array(hs, dtype=np.int32)
        cdef int32_t[::1] widx = np.empty(len(hs), dtype=np.int32)
        cdef uint64_t[::1] wbits = np.empty(len(hs), dtype=np.uint64)
        cdef Py_ssize_t k, i0, i1
        k = _sparse(arr, &widx[0], &wbits[0])
        i0 = self._ensure_bp(self.r_start[s])
        i1 = self._ensure_bp(self.r_busy[s])
        with nogil:
            self._apply(i0, i1, &widx[0], &wbits[0], k, False)
            self._merge(i1)
            self._merge(i0)
            self._slot_remove(s)
        del self._slot[rid]

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
        times = np.unique(np.concatenate([st, bu]))
        si = np.searchsorted(times, st)
        ei = np.searchsorted(times, bu)
        ev_k = np.concatenate([ei[res_of], si[res_of]])
        ev_h = np.concatenate([idx, idx]).astype(np.int32)
        ev_up = np.concatenate([np.zeros(idx.shape[0], np.int8), np.ones(idx.shape[0], np.int8)])
        order = np.lexsort((ev_up, ev_k))
        clash = self._build_bitmap(times, ev_k[order], ev_h[order], ev_up[order])
        if clash is not None:
            # Explain it exactly as the reference does (the first reservation, in the given order, that
            # overlaps one listed before it): replay the data through the reference, which raises.
            from ._engine_py import Engine as Reference
            Reference(self.n_hosts, seq=self._seq, pad=self.pad).build(ids, starts, ends, busy_ends, host_ptr,
                                                                        host_idx)
            raise AssertionError(f"overlap at host {clash[0]}, minute {clash[1]} not found by the reference")
        # the reservation table
        self._alloc_table(max(64, R), max(256, idx.shape[0]))
        self._slot = {}
        cdef int64_t[::1] ids_v = ids_a, st_v = st, en_v = en, bu_v = bu, ptr_v = ptr
        cdef int32_t[::1] idx_v = idx.astype(np.int32)
        cdef int64_t[::1] bs = np.argsort(st, kind="stable").astype(np.int64)
        cdef int64_t[::1] bb = np.argsort(bu, kind="stable").astype(np.int64)
        cdef Py_ssize_t r
        for r in range(R):
            self.r_id[r] = ids_v[r]
            self.r_start[r] = st_v[r]
            self.r_end[r] = en_v[r]
            self.r_busy[r] = bu_v[r]
            self.r_hoff[r] = ptr_v[r]
            self.r_hcnt[r] = <int32_t>(ptr_v[r + 1] - ptr_v[r])
            self.by_start[r] = <int32_t>bs[r]
            self.by_busy[r] = <int32_t>bb[r]
        if idx_v.shape[0]:
            memcpy(self.hpool, &idx_v[0], idx_v.shape[0] * sizeof(int32_t))
        self.nres = self.top_r = R
        self.hp_used = self.hp_live = idx_v.shape[0]
        self._alloc_hostlists(np.bincount(idx, minlength=max(1, self.n_hosts)).astype(np.int64))
        for r in range(R):
            self._hl_insert(self.by_start[r])
        self._slot = dict(zip(ids_a.tolist(), range(R)))

    cdef object _build_bitmap(self, int64_t[::1] times, int64_t[::1] ev_k, int32_t[::1] ev_h,
                              signed char[::1] ev_up):
        """Sweep the sorted events into fresh rows; returns (host, time) of an overlap, else None."""
        cdef Py_ssize_t T = times.shape[0], E = ev_k.shape[0], W = self.W, e = 0, k, w, m = 0
        cdef Py_ssize_t cap = max(64, T + 1)
        cdef int32_t[::1] cnt = np.zeros(max(1, self.n_hosts), dtype=np.int32)
        cdef uint64_t[::1] cur = np.zeros(W, dtype=np.uint64)
        cdef int64_t* bt = <int64_t*>_realloc(NULL, cap, sizeof(int64_t))
        cdef int32_t* border = <int32_t*>_realloc(NULL, cap, sizeof(int32_t))
        cdef uint64_t* pool = <uint64_t*>PyMem_Malloc(cap * W * sizeof(uint64_t))
        cdef int32_t* freerows = <int32_t*>PyMem_Malloc(cap * sizeof(int32_t))
        cdef int32_t h
        cdef int64_t bad_h = -1, bad_t = 0
        cdef bint differs
        if pool == NULL or freerows == NULL:
            PyMem_Free(bt)
            PyMem_Free(border)
            PyMem_Free(pool)
            PyMem_Free(freerows)
            raise MemoryError()
        with nogil:
            for k in range(T):
                while e < E and ev_k[e] == k:
                    h = ev_h[e]
                    if ev_up[e]:
                        cnt[h] += 1
                        if cnt[h] > 1:
                            bad_h = h
                            bad_t = times[k]
                            break
                        cur[h >> 6] |= ONE << (h & 63)
                    else:
                        cnt[h] -= 1
                        if cnt[h] == 0:
                            cur[h >> 6] &= ~(ONE << (h & 63))
                    e += 1
                if bad_h >= 0:
                    break
                if m == 0:
                    differs = False
                    for w in range(W):
                        if cur[w]:
                            differs = True
                            break
                else:
                    differs = memcmp(&cur[0], pool + (m - 1) * W, W * sizeof(uint64_t)) != 0
                if differs:
                    memcpy(pool + m * W, &cur[0], W * sizeof(uint64_t))
                    bt[m] = times[k]
                    border[m] = <int32_t>m
                    m += 1
        if bad_h >= 0:
            PyMem_Free(bt)
            PyMem_Free(border)
            PyMem_Free(pool)
            PyMem_Free(freerows)
            return (int(bad_h), int(bad_t))
        self._free_bitmap()
        self.bt = bt
        self.border = border
        self.pool = pool
        self.freerows = freerows
        self.m = m
        self.cap_m = self.cap_rows = cap
        self.nfreerows = 0
        for k in range(cap - 1, m - 1, -1):
            self.freerows[self.nfreerows] = <int32_t>k
            self.nfreerows += 1
        return None

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
        cdef Py_ssize_t s = self._slot[rid]
        cdef int64_t start = self.r_start[s], end = self.r_end[s], busy = self.r_busy[s]
        if new_end <= end:
            raise ValueError(f"the new end ({new_end}) must be after the current end ({end})")
        hs = self._hosts_of(s)
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
            if self._sparse_hit(blo, bhi, widx, wbits, k):
                return False
        return True

    def _describe(self, hs, blo, bhi, lo, hi, minutes, g, elevated):
        """Slow path: spell out what stands in the way (None if nothing does)."""
        want = set(hs)
        busy, rids = self._busy_detail(hs, blo, bhi)
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
                q = self.host_q[h]
                if q == self.P:
                    continue
                v = verdict.get(q)
                if v is None:
                    p = self._pols[q]
                    v = verdict[q] = (
                        not p.admits(g),
                        not elevated and p.max_time is not None and minutes > p.max_time,
                        () if elevated or not self._windows.overlapping(p.id, lo, hi)
                        else tuple((p.id, a, b) for a, b in self._windows.instances(p.id, lo, hi)))
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
        cdef Py_ssize_t W = self.W, q, w, b, total = 0, c1 = 0
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
            self._or_span(lo, hi + self.pad, &busy[0])
            for b in range(self.nb):
                if self.b_start[b] < hi and self.b_end[b] > lo:
                    for w in range(W):
                        busy[w] |= self.b_mask[b, w]
            for w in range(W):
                elig[w] &= ~busy[w]
                total += popcount(elig[w])
        if total < need:
            return None
        return self._choose(elig, pref, need)

    cdef uint64_t[::1] _mask_of(self, hosts):
        cdef uint64_t[::1] out = np.zeros(self.W, dtype=np.uint64)
        cdef int64_t h
        for x in hosts:
            h = x
            if 0 <= h < self.n_hosts:
                out[h >> 6] |= ONE << (h & 63)
        return out

    cdef list _choose(self, uint64_t[::1] elig, uint64_t[::1] pref, Py_ssize_t need):
        """Restricted pool first, then the run rule (twin of ``_select.choose``)."""
        cdef Py_ssize_t W = self.W, w, c1 = 0, n = max(1, self.n_hosts)
        cdef uint64_t[::1] chosen = np.zeros(W, dtype=np.uint64)
        cdef uint64_t[::1] part = np.empty(W, dtype=np.uint64)
        cdef int32_t[::1] rs = np.empty(n + 2, dtype=np.int32)
        cdef int32_t[::1] rl = np.empty(n + 2, dtype=np.int32)
        cdef int32_t[::1] order = np.empty(n + 2, dtype=np.int32)
        cdef int32_t[::1] sl = np.empty(n + 2, dtype=np.int32)
        cdef int32_t[::1] bucket = np.empty(n + 2, dtype=np.int32)
        cdef uint64_t x
        with nogil:
            for w in range(W):
                part[w] = elig[w] & pref[w]
                c1 += popcount(part[w])
            if c1 >= need:
                _pick_runs(&part[0], W, &self._runstart[0], need, &chosen[0], &rs[0], &rl[0],
                           &order[0], &sl[0], &bucket[0])
            else:
                for w in range(W):
                    chosen[w] = part[w]
                    part[w] = elig[w] & ~pref[w]
                _pick_runs(&part[0], W, &self._runstart[0], need - c1, &chosen[0], &rs[0], &rl[0],
                           &order[0], &sl[0], &bucket[0])
        out = []
        for w in range(W):
            x = chosen[w]
            while x:
                out.append(w * 64 + ctz(x))
                x &= x - 1
        return out

    def max_end(self, rid, *, now, cap, groups=None, elevated=False):
        cdef Py_ssize_t s = self._slot[rid], i, j, k, b, q
        cdef int64_t start = self.r_start[s], end = self.r_end[s], busy = self.r_busy[s]
        cdef int64_t limit = cap, padr = busy - end, base = max(now, start), t
        cdef bint elev = elevated
        hs = self._hosts_of(s)
        g = frozenset(groups) if groups is not None else frozenset()
        cdef unsigned char[::1] admit = self._admit(g)
        cdef int32_t[::1] arr = np.array(hs, dtype=np.int32)
        cdef int32_t[::1] widx = np.empty(len(hs), dtype=np.int32)
        cdef uint64_t[::1] wbits = np.empty(len(hs), dtype=np.uint64)
        cdef uint64_t* row
        cdef bint found = False
        for j in range(arr.shape[0]):
            q = self.host_q[arr[j]]
            if not admit[q]:
                return end
            if not elev and self.pol_max[q] >= 0:
                limit = min(limit, base + self.pol_max[q])
        with nogil:
            k = _sparse(arr, &widx[0], &wbits[0])
            i = self._seg(busy)
            if i < 0:
                i = 0
            while i < self.m and self.bt[i] < limit + padr and not found:
                row = self.pool + self.border[i] * self.W
                for j in range(k):
                    if row[widx[j]] & wbits[j]:
                        t = self.bt[i] if self.bt[i] > busy else busy
                        if t - padr < limit:
                            limit = t - padr
                        found = True
                        break
                i += 1
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
        if (count is None) == (hosts is None):
            raise ValueError("speculate needs either a count or a list of hosts")
        if duration < 1:
            raise ValueError(f"the duration must be at least one minute, not {duration}")
        if until < after:
            raise ValueError(f"until ({until}) is before after ({after})")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        g = frozenset(groups) if groups is not None else frozenset()
        within = None if within is None else list(within)       # read once: it may be a generator
        n = self.n_hosts
        elig_np = np.zeros(max(1, n), dtype=np.uint8)
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
        nout = self._sweep(elig_np, need, duration, after, until, limit, wt_a, wq_a, wd_a,
                           bt_a, bb_a, bd_a, out_s, out_l)
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

    cdef Py_ssize_t _sweep(self, unsigned char[::1] elig, Py_ssize_t need, int64_t duration,
                           int64_t after, int64_t until, Py_ssize_t limit,
                           int64_t[::1] wt, int64_t[::1] wq, int64_t[::1] wd,
                           int64_t[::1] bt_, int64_t[::1] bb_, int64_t[::1] bd_,
                           int64_t[::1] out_s, int64_t[::1] out_l) except -1:
        """The speculate sweep (twin of ``_engine_py.Engine._stretches``)."""
        cdef Py_ssize_t n = max(1, self.n_hosts), P1 = self.P + 1, W = self.W
        cdef int32_t[::1] cnt = np.zeros(n, dtype=np.int32)
        cdef int32_t[::1] pcnt = np.zeros(P1, dtype=np.int32)
        cdef int64_t[::1] nfree = np.zeros(P1, dtype=np.int64)
        cdef int64_t D = duration + self.pad, t, nt, total = 0, ostart = 0
        cdef Py_ssize_t i, j, s, ep, lp, wp = 0, bp = 0, nout = 0, nwe = wt.shape[0], nbe = bt_.shape[0]
        cdef int32_t h, q
        cdef int64_t hh
        cdef uint64_t x
        cdef bint opened = False, ok
        with nogil:
            # reservations already overlapping [after, after + D)
            lp = self._upper_busy(after)
            for i in range(lp, self.nres):
                s = self.by_busy[i]
                if self.r_start[s] < after + D:
                    for j in range(self.r_hcnt[s]):
                        cnt[self.hpool[self.r_hoff[s] + j]] += 1
            for h in range(self.n_hosts):
                if elig[h] and cnt[h] == 0:
                    nfree[self.host_q[h]] += 1
            for q in range(P1):
                total += nfree[q]
            ep = self._upper_start(after + D - 1)
            t = after
            while True:
                # enters first, so that no count dips below what is really in the window
                while ep < self.nres and self.r_start[self.by_start[ep]] - D + 1 <= t:
                    s = self.by_start[ep]
                    for j in range(self.r_hcnt[s]):
                        h = self.hpool[self.r_hoff[s] + j]
                        if elig[h]:
                            cnt[h] += 1
                            if cnt[h] == 1:
                                q = self.host_q[h]
                                nfree[q] -= 1
                                if pcnt[q] == 0:
                                    total -= 1
                    ep += 1
                while bp < nbe and bt_[bp] <= t:
                    for i in range(W):
                        x = self.b_mask[bb_[bp], i]
                        while x:
                            hh = i * 64 + ctz(x)
                            x &= x - 1
                            h = <int32_t>hh
                            if not elig[h]:
                                continue
                            cnt[h] += <int32_t>bd_[bp]
                            q = self.host_q[h]
                            if bd_[bp] > 0 and cnt[h] == 1:
                                nfree[q] -= 1
                                if pcnt[q] == 0:
                                    total -= 1
                            elif bd_[bp] < 0 and cnt[h] == 0:
                                nfree[q] += 1
                                if pcnt[q] == 0:
                                    total += 1
                    bp += 1
                while wp < nwe and wt[wp] <= t:
                    q = <int32_t>wq[wp]
                    pcnt[q] += <int32_t>wd[wp]
                    if wd[wp] > 0 and pcnt[q] == 1:
                        total -= nfree[q]
                    elif wd[wp] < 0 and pcnt[q] == 0:
                        total += nfree[q]
                    wp += 1
                while lp < self.nres and self.r_busy[self.by_busy[lp]] <= t:
                    s = self.by_busy[lp]
                    for j in range(self.r_hcnt[s]):
                        h = self.hpool[self.r_hoff[s] + j]
                        if elig[h]:
                            cnt[h] -= 1
                            if cnt[h] == 0:
                                q = self.host_q[h]
                                nfree[q] += 1
                                if pcnt[q] == 0:
                                    total += 1
                    lp += 1
                ok = total >= need
                if ok and not opened:
                    opened = True
                    ostart = t
                elif not ok and opened:
                    out_s[nout] = ostart
                    out_l[nout] = t - 1
                    nout += 1
                    opened = False
                    if nout == limit:
                        break
                nt = POS_INF
                if ep < self.nres:
                    nt = min(nt, self.r_start[self.by_start[ep]] - D + 1)
                if lp < self.nres:
                    nt = min(nt, self.r_busy[self.by_busy[lp]])
                if bp < nbe:
                    nt = min(nt, bt_[bp])
                if wp < nwe:
                    nt = min(nt, wt[wp])
                if nt > until:
                    break
                t = nt
            if opened and nout < limit:
                out_s[nout] = ostart
                out_l[nout] = until
                nout += 1
        return nout


def _sorted_events(times, keys, deltas):
    """Events as int64 arrays sorted by time, enters (+1) before leaves (-1) at equal times."""
    t = np.array(times, dtype=np.int64)
    k = np.array(keys, dtype=np.int64)
    d = np.array(deltas, dtype=np.int64)
    o = np.lexsort((-d, t))
    return t[o], k[o], d[o]
