# cython: language_level=3, cdivision=True
# (boundscheck, wraparound and initializedcheck come from setup.py: off, or on with IGOR_DEBUG_BUILD=1)
"""The interval bitmap of busy hosts, the compiled engine's answer to "is any of these hosts busy then?".

Owns: sorted breakpoints ``bt[0..m)``; segment ``i`` is ``[bt[i], bt[i+1])`` and its row (``W`` uint64 words,
one bit per host) lives in a row pool at ``border[i]`` (indirection keeps breakpoint insertion a small memmove of
indices instead of rows), with a free list of pool rows. Before ``bt[0]`` and from ``bt[m-1]`` on nothing is busy.
Reservations never overlap on a host, so adding is OR and removing AND-NOT over the rows of the segments an
interval covers; equal neighbouring rows are merged so a breakpoint always marks a change.

It knows nothing about reservation ids, blocks or policies: :class:`igor._sched._engine_c.Engine` holds one and
asks it word-wise ORs over the rows a window covers (``check``, ``find``, ``max_end``). The reference engine has
no bitmap; the queries' twins are the per-host interval walks of ``_engine_py.Engine`` named below.
"""

import numpy as np

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memcmp, memcpy, memmove, memset

from ._bits cimport _realloc

cdef uint64_t ONE = 1


cdef class IntervalBitmap:
    """Busy hosts over time for ``n_hosts`` hosts, as rows of bits between sorted breakpoints."""

    def __cinit__(self, Py_ssize_t n_hosts):
        self.n_hosts = n_hosts
        self.W = max(1, (n_hosts + 63) // 64)
        self.bt = NULL
        self.border = NULL
        self.pool = NULL
        self.freerows = NULL
        self.m = self.cap_m = self.cap_rows = self.nfreerows = 0
        self._alloc(64)

    def __dealloc__(self):
        self._free()

    # ------------------------------------------------------------ memory
    cdef void _free(self) noexcept:
        PyMem_Free(self.bt)
        PyMem_Free(self.border)
        PyMem_Free(self.pool)
        PyMem_Free(self.freerows)
        self.bt = NULL
        self.border = NULL
        self.pool = NULL
        self.freerows = NULL

    cdef int _alloc(self, Py_ssize_t cap) except -1:
        """Empty bitmap with room for ``cap`` breakpoints and rows."""
        cdef Py_ssize_t i
        self._free()
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

    cdef int _grow(self) except -1:
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

    # ------------------------------------------------------------ primitives
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

    cdef Py_ssize_t ensure_bp(self, int64_t t) except -1:
        """Make ``t`` a breakpoint (splitting the segment containing it); returns its index."""
        cdef Py_ssize_t i = self._seg(t), W = self.W
        cdef int32_t r
        if i >= 0 and self.bt[i] == t:
            return i
        if self.m == self.cap_m or self.nfreerows == 0:
            self._grow()
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

    cdef void merge(self, Py_ssize_t i) noexcept nogil:
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

    cdef void apply(self, Py_ssize_t i0, Py_ssize_t i1, const int32_t* widx, const uint64_t* wbits,
                    Py_ssize_t k, bint set_bits) noexcept nogil:
        """OR (``set_bits``) or AND-NOT the sparse hosts into the rows of segments ``i0..i1-1``."""
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

    cdef int mark(self, int64_t lo, int64_t hi, const int32_t* widx, const uint64_t* wbits, Py_ssize_t k,
                  bint set_bits) except -1:
        """Mark the sparse hosts busy (``set_bits``) or free over ``[lo, hi)``, ``lo < hi``.

        Twin of inserting/removing the interval in ``_engine_py.Engine``'s per-host lists (``_insert``,
        ``remove``); the caller has checked that adding overlaps nothing.
        """
        cdef Py_ssize_t i0 = self.ensure_bp(lo)
        cdef Py_ssize_t i1 = self.ensure_bp(hi)         # after lo: inserting it leaves i0 in place
        with nogil:
            self.apply(i0, i1, widx, wbits, k, set_bits)
            self.merge(i1)
            self.merge(i0)
        return 0

    # ------------------------------------------------------------ queries
    cdef void or_span(self, int64_t lo, int64_t hi, uint64_t* out) noexcept nogil:
        """OR into ``out`` the rows of every segment overlapping ``[lo, hi)``.

        Twin of ``_engine_py.Engine._overlapping`` asked for every host at once (as ``find`` does via ``_free``).
        """
        cdef Py_ssize_t i = self._seg(lo), i1 = self._lower(hi), w, W = self.W
        cdef uint64_t* row
        if i < 0:
            i = 0
        while i < i1:
            row = self.pool + self.border[i] * W
            for w in range(W):
                out[w] |= row[w]
            i += 1

    cdef bint sparse_hit(self, int64_t lo, int64_t hi, const int32_t* widx, const uint64_t* wbits,
                         Py_ssize_t k) noexcept nogil:
        """Is any of the (sparse) hosts busy in a segment overlapping ``[lo, hi)``?

        Twin of ``_engine_py.Engine._overlapping`` being non-empty for one of the hosts.
        """
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

    cdef int64_t first_hit(self, int64_t lo, int64_t hi, const int32_t* widx, const uint64_t* wbits,
                           Py_ssize_t k) noexcept nogil:
        """When one of the (sparse) hosts is first busy in ``[lo, hi)`` (at least ``lo``); ``hi`` if never.

        Twin of ``max_end``'s per-host search for the next reservation in ``_engine_py.Engine``.
        """
        cdef Py_ssize_t i = self._seg(lo), j
        cdef uint64_t* row
        if i < 0:
            i = 0
        while i < self.m and self.bt[i] < hi:
            row = self.pool + self.border[i] * self.W
            for j in range(k):
                if row[widx[j]] & wbits[j]:
                    return self.bt[i] if self.bt[i] > lo else lo
            i += 1
        return hi

    # ------------------------------------------------------------ bulk
    cdef object build(self, st, bu, res_of, idx):
        """Replace every row by reservation ``r`` busy over ``[st[r], bu[r])`` on the hosts ``idx[res_of == r]``.

        ``idx`` holds no host twice for one reservation. Returns ``(host, minute)`` of an overlap between two
        reservations (and then changes nothing), else None. Twin of ``_engine_py.Engine.build``.
        """
        times = np.unique(np.concatenate([st, bu]))
        si = np.searchsorted(times, st)
        ei = np.searchsorted(times, bu)
        ev_k = np.concatenate([ei[res_of], si[res_of]])
        ev_h = np.concatenate([idx, idx]).astype(np.int32)
        ev_up = np.concatenate([np.zeros(idx.shape[0], np.int8), np.ones(idx.shape[0], np.int8)])
        order = np.lexsort((ev_up, ev_k))
        return self._build_bitmap(times, ev_k[order], ev_h[order], ev_up[order])

    cdef object _build_bitmap(self, int64_t[::1] times, int64_t[::1] ev_k, int32_t[::1] ev_h,
                              signed char[::1] ev_up):
        """Sweep the sorted events into fresh rows; returns (host, time) of an overlap, else None.

        Twin of the overlap test ``_engine_py.Engine.build`` makes by adding the reservations one by one.
        """
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
        self._free()
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
