# cython: language_level=3, cdivision=True
# (boundscheck, wraparound and initializedcheck come from setup.py: off, or on with IGOR_DEBUG_BUILD=1)
"""Which free hosts a by-count request gets, compiled: the C twin of :mod:`igor._sched._select`.

Owns the run rule on host bit masks: ``_pick_runs`` (twin of ``_select.pick_runs``) and ``choose`` (twin of
``_select.choose``: the restricted pool first, then the rest). Hosts are bits of ``uint64`` words; a run is a
stretch of consecutive sequence numbers, and bit ``h`` of ``runstart`` says host ``h`` cannot continue a run
from host ``h - 1``. :class:`igor._sched._engine_c.Engine` computes the free hosts and asks ``choose``.
"""

import numpy as np

from libc.stdint cimport int32_t, int64_t, uint64_t

from ._bits cimport ctz, popcount

cdef uint64_t ONE = 1


cdef inline Py_ssize_t _first_at_most(const int32_t* sl, Py_ssize_t lo, Py_ssize_t hi,
                                      Py_ssize_t x) noexcept nogil:
    """First position in ``[lo, hi)`` of the descending ``sl`` whose value is <= ``x`` (``hi`` if none)."""
    cdef Py_ssize_t mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if sl[mid] <= x:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef Py_ssize_t _pick_runs(const uint64_t* avail, Py_ssize_t W, const uint64_t* runstart,
                           Py_ssize_t need, uint64_t* chosen, int32_t* rs, int32_t* rl,
                           int32_t* order, int32_t* sl, int32_t* bucket) noexcept nogil:
    """C twin of ``_select.pick_runs``: choose ``need`` hosts of ``avail`` into ``chosen``.

    Runs of consecutive sequence numbers are counting-sorted by (length desc, start asc); the greedy then
    takes an exact run, else the head of the smallest longer run, else the longest run, as the reference does.
    Returns how many hosts were chosen.
    """
    cdef Py_ssize_t w, R = 0, r, i, j, p, q, taken = 0, maxlen = 0
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
        p = _first_at_most(sl, j, R, need)  # first remaining position with length <= need
        if p < R and sl[p] == need:
            r = order[p]
            length = <int32_t>need
        elif p > j:
            L = sl[p - 1]                   # smallest length longer than need; its first (lowest) run
            r = order[_first_at_most(sl, j, p - 1, L)]
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


cdef list choose(const uint64_t[::1] elig, const uint64_t[::1] pref, Py_ssize_t need,
                 const uint64_t[::1] runstart, Py_ssize_t n_hosts):
    """Restricted pool first, then the run rule (twin of ``_select.choose``); the sorted chosen hosts.

    ``elig`` are the free hosts (``elig.shape[0]`` words), ``pref`` those reached through a restricted policy;
    the caller has checked that ``elig`` holds at least ``need`` hosts.
    """
    cdef Py_ssize_t W = elig.shape[0], w, c1 = 0, n = max(1, n_hosts)
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
            _pick_runs(&part[0], W, &runstart[0], need, &chosen[0], &rs[0], &rl[0],
                       &order[0], &sl[0], &bucket[0])
        else:
            for w in range(W):
                chosen[w] = part[w]
                part[w] = elig[w] & ~pref[w]
            _pick_runs(&part[0], W, &runstart[0], need - c1, &chosen[0], &rs[0], &rl[0],
                       &order[0], &sl[0], &bucket[0])
    out = []
    for w in range(W):
        x = chosen[w]
        while x:
            out.append(w * 64 + ctz(x))
            x &= x - 1
    return out
