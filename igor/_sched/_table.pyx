# cython: language_level=3, cdivision=True
# (boundscheck, wraparound and initializedcheck come from setup.py: off, or on with IGOR_DEBUG_BUILD=1)
"""The compiled engine's reservation table: who holds which hosts when, in the orders its queries need.

Owns: the slots (id, start, end, busy end and hosts of every reservation, slots reused through a free list), the
host pool the slots' host lists live in (compacted when half of it is holes), the live slots sorted by start
(``by_start``) and by busy end (``by_busy``), per-host slot lists sorted by start (``hl``), and ``slot`` (rid ->
slot). ``speculate``'s sweep runs over the two sorted orders (each reservation enters and leaves the sliding
request window once), and refusals are explained from the per-host lists.

It does not check overlaps: :class:`igor._sched._engine_c.Engine` asks its interval bitmap first. The reference
twin of this table is ``_engine_py.Engine``'s ``_res`` and per-host ``_ivals``.
"""

import numpy as np

from cpython.mem cimport PyMem_Free
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memmove

from ._bits cimport _realloc, ctz

cdef int64_t POS_INF = 2 ** 62


cdef inline Py_ssize_t _upper(const int64_t* key, const int32_t* order, Py_ssize_t n, int64_t t) noexcept nogil:
    """First position in ``order[:n]`` (sorted by ``key``) whose key is > t."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if key[order[mid]] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef class ReservationTable:
    """The reservations of a cluster of ``n_hosts`` hosts, as slots in C arrays."""

    def __cinit__(self, Py_ssize_t n_hosts):
        self.n_hosts = n_hosts
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
        self.nres = self.cap_r = self.top_r = self.nfreeslots = 0
        self.hp_used = self.hp_live = self.cap_hp = 0
        self._alloc(64, 256)

    def __dealloc__(self):
        self._free()

    # ------------------------------------------------------------ memory
    cdef void _free(self) noexcept:
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

    cdef int _alloc(self, Py_ssize_t cap, Py_ssize_t cap_hp) except -1:
        """Empty table with room for ``cap`` reservations holding ``cap_hp`` hosts in all."""
        self._free()
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
        self.slot = {}
        self._alloc_hostlists(np.zeros(max(1, self.n_hosts), dtype=np.int64))
        return 0

    cdef int _grow(self) except -1:
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

    # ------------------------------------------------------------ slots
    cdef int insert(self, int64_t rid, int32_t[::1] hs, int64_t start, int64_t end, int64_t busy) except -1:
        """Add reservation ``rid`` on the sorted hosts ``hs`` (the caller checked it overlaps nothing)."""
        cdef Py_ssize_t s, k = hs.shape[0], p
        if self.nfreeslots:
            self.nfreeslots -= 1
            s = self.r_freeslots[self.nfreeslots]
        else:
            if self.top_r == self.cap_r:
                self._grow()
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
        p = self.upper_start(start)
        memmove(self.by_start + p + 1, self.by_start + p, (self.nres - p) * sizeof(int32_t))
        self.by_start[p] = <int32_t>s
        p = self.upper_busy(busy)
        memmove(self.by_busy + p + 1, self.by_busy + p, (self.nres - p) * sizeof(int32_t))
        self.by_busy[p] = <int32_t>s
        self.nres += 1
        self._hl_insert(s)
        self.slot[rid] = s
        return 0

    cdef int remove(self, Py_ssize_t s) except -1:
        """Drop the reservation in slot ``s``."""
        with nogil:
            self._slot_remove(s)
        del self.slot[self.r_id[s]]
        return 0

    cdef void _slot_remove(self, Py_ssize_t s) noexcept nogil:
        cdef Py_ssize_t p
        self._hl_remove(s)
        p = self.upper_start(self.r_start[s] - 1)
        while self.by_start[p] != s:
            p += 1
        memmove(self.by_start + p, self.by_start + p + 1, (self.nres - p - 1) * sizeof(int32_t))
        p = self.upper_busy(self.r_busy[s] - 1)
        while self.by_busy[p] != s:
            p += 1
        memmove(self.by_busy + p, self.by_busy + p + 1, (self.nres - p - 1) * sizeof(int32_t))
        self.hp_live -= self.r_hcnt[s]
        self.r_freeslots[self.nfreeslots] = <int32_t>s
        self.nfreeslots += 1
        self.nres -= 1

    cdef int fill(self, ids, starts, ends, busy_ends, host_ptr, host_idx) except -1:
        """Replace every reservation: ``ids[r]`` on ``host_idx[host_ptr[r]:host_ptr[r + 1]]`` (int64 arrays,
        validated, hosts sorted and distinct within a reservation)."""
        cdef Py_ssize_t r, R = ids.shape[0]
        self._alloc(max(64, R), max(256, host_idx.shape[0]))
        cdef int64_t[::1] ids_v = ids, st_v = starts, en_v = ends, bu_v = busy_ends, ptr_v = host_ptr
        cdef int32_t[::1] idx_v = host_idx.astype(np.int32)
        cdef int64_t[::1] bs = np.argsort(starts, kind="stable").astype(np.int64)
        cdef int64_t[::1] bb = np.argsort(busy_ends, kind="stable").astype(np.int64)
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
        self._alloc_hostlists(np.bincount(host_idx, minlength=max(1, self.n_hosts)).astype(np.int64))
        for r in range(R):
            self._hl_insert(self.by_start[r])
        self.slot = dict(zip(ids.tolist(), range(R)))
        return 0

    cdef Py_ssize_t upper_start(self, int64_t t) noexcept nogil:
        """First position in by_start whose start is > t."""
        return _upper(self.r_start, self.by_start, self.nres, t)

    cdef Py_ssize_t upper_busy(self, int64_t t) noexcept nogil:
        """First position in by_busy whose busy end is > t."""
        return _upper(self.r_busy, self.by_busy, self.nres, t)

    cdef tuple hosts_of(self, Py_ssize_t s):
        cdef Py_ssize_t o = self.r_hoff[s]
        return tuple([self.hpool[o + i] for i in range(self.r_hcnt[s])])

    # ------------------------------------------------------------ queries
    cdef tuple busy_detail(self, tuple hs, int64_t blo, int64_t bhi):
        """Hosts of ``hs`` held by a reservation over ``[blo, bhi)``, and those reservations' ids.

        Twin of the reservation part of ``_engine_py.Engine._conflict`` (``_overlapping`` per host).
        """
        cdef Py_ssize_t lo, hi, mid
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

    cdef Py_ssize_t sweep(self, const unsigned char[::1] elig, const int32_t[::1] host_q, Py_ssize_t P1,
                          const uint64_t[:, ::1] b_mask, Py_ssize_t need, int64_t span, int64_t after,
                          int64_t until, Py_ssize_t limit,
                          const int64_t[::1] wt, const int64_t[::1] wq, const int64_t[::1] wd,
                          const int64_t[::1] bt_, const int64_t[::1] bb_, const int64_t[::1] bd_,
                          int64_t[::1] out_s, int64_t[::1] out_l) except -1:
        """The speculate sweep (twin of ``_engine_py.Engine._stretches``).

        Start times ``t`` from ``after`` to ``until``: a reservation is in the way while it overlaps
        ``[t, t + span)`` (``span`` = duration + pad); blocks (``b_mask`` rows, events ``bt_/bb_/bd_``) and
        not-available windows of policy bucket q (events ``wt/wq/wd``) enter and leave at the given times. Among
        the ``elig`` hosts (``host_q`` their buckets, ``P1`` buckets), counts those free; writes the stretches
        where at least ``need`` are, at most ``limit``, into ``out_s``/``out_l`` and returns how many.
        """
        cdef Py_ssize_t n = max(1, self.n_hosts), W = b_mask.shape[1]
        cdef int32_t[::1] cnt = np.zeros(n, dtype=np.int32)
        cdef int32_t[::1] pcnt = np.zeros(P1, dtype=np.int32)
        cdef int64_t[::1] nfree = np.zeros(P1, dtype=np.int64)
        cdef int64_t D = span, t, nt, total = 0, ostart = 0
        cdef Py_ssize_t i, j, s, ep, lp, wp = 0, bp = 0, nout = 0, nwe = wt.shape[0], nbe = bt_.shape[0]
        cdef int32_t h, q
        cdef int64_t hh
        cdef uint64_t x
        cdef bint opened = False, ok
        with nogil:
            # reservations already overlapping [after, after + D)
            lp = self.upper_busy(after)
            for i in range(lp, self.nres):
                s = self.by_busy[i]
                if self.r_start[s] < after + D:
                    for j in range(self.r_hcnt[s]):
                        cnt[self.hpool[self.r_hoff[s] + j]] += 1
            for h in range(self.n_hosts):
                if elig[h] and cnt[h] == 0:
                    nfree[host_q[h]] += 1
            for q in range(P1):
                total += nfree[q]
            ep = self.upper_start(after + D - 1)
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
                                q = host_q[h]
                                nfree[q] -= 1
                                if pcnt[q] == 0:
                                    total -= 1
                    ep += 1
                while bp < nbe and bt_[bp] <= t:
                    for i in range(W):
                        x = b_mask[<Py_ssize_t>bb_[bp], i]
                        while x:
                            hh = i * 64 + ctz(x)
                            x &= x - 1
                            h = <int32_t>hh
                            if not elig[h]:
                                continue
                            cnt[h] += <int32_t>bd_[bp]
                            q = host_q[h]
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
                                q = host_q[h]
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
