# cython: language_level=3
"""Declarations of the compiled scheduling engine (see _engine_c.pyx)."""

from libc.stdint cimport int32_t, int64_t, uint64_t

from ._bitmap cimport IntervalBitmap
from ._table cimport ReservationTable


cdef class Engine:
    # cluster
    cdef readonly Py_ssize_t n_hosts
    cdef readonly int64_t pad
    cdef Py_ssize_t W                     # uint64 words per host mask
    cdef object _seq                      # list of sequence numbers
    cdef uint64_t[::1] _runstart          # bit h: host h cannot continue a run from h-1

    # reservations: busy hosts over time, and the table of who holds what
    cdef IntervalBitmap bm
    cdef ReservationTable tab

    # blocks (few): python truth + arrays for the kernels
    cdef dict _blocks
    cdef Py_ssize_t nb
    cdef int64_t[::1] b_id
    cdef int64_t[::1] b_start
    cdef int64_t[::1] b_end
    cdef uint64_t[:, ::1] b_mask

    # policies: bucket q in 0..P-1 per policy, P = hosts without a policy
    cdef list _pols
    cdef dict _pq                         # policy id -> q
    cdef Py_ssize_t P
    cdef int32_t[::1] host_q
    cdef int64_t[::1] pol_max             # -1: no limit
    cdef unsigned char[::1] pol_restr
    cdef uint64_t[:, ::1] pol_mask
    cdef dict _admit_cache                # frozenset(groups) -> uint8 admit[q]
    cdef object _windows                  # WindowIndex
    cdef int64_t _wversion
    cdef int64_t[::1] w_ptr               # windows of q: w_s/w_e[w_ptr[q]:w_ptr[q+1]]
    cdef int64_t[::1] w_s
    cdef int64_t[::1] w_e

    # scratch
    cdef uint64_t[::1] s_a
    cdef uint64_t[::1] s_b
    cdef uint64_t[::1] s_c
    cdef int32_t[::1] s_hosts             # a request's hosts, and their (word, bits) pairs
    cdef int32_t[::1] s_widx
    cdef uint64_t[::1] s_wbits

    # reservations
    cdef _add(self, int64_t rid, tuple hs, int64_t start, int64_t end, int64_t busy)

    # policies, windows, queries
    cdef unsigned char[::1] _admit(self, frozenset groups)
    cdef _win(self, int64_t lo, int64_t hi)
    cdef bint _q_window(self, Py_ssize_t q, int64_t lo, int64_t hi) noexcept nogil
    cdef bint _clean(self, tuple hs, int64_t blo, int64_t bhi, int64_t lo, int64_t hi,
                     int64_t minutes, frozenset g, bint elevated) except -1
    cdef uint64_t[::1] _mask_of(self, hosts)
