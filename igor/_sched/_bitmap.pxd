# cython: language_level=3
"""Declarations of the interval bitmap of busy hosts (see _bitmap.pyx)."""

from libc.stdint cimport int32_t, int64_t, uint64_t


cdef class IntervalBitmap:
    # breakpoints bt[0..m): segment i = [bt[i], bt[i+1]) has row pool[border[i] * W : (border[i] + 1) * W]
    cdef readonly Py_ssize_t n_hosts
    cdef readonly Py_ssize_t W            # uint64 words per row
    cdef readonly Py_ssize_t m            # breakpoints in use
    cdef int64_t* bt
    cdef int32_t* border                  # segment -> row of the pool
    cdef uint64_t* pool
    cdef int32_t* freerows                # rows of the pool not used by any segment
    cdef Py_ssize_t cap_m, cap_rows, nfreerows

    # memory
    cdef void _free(self) noexcept
    cdef int _alloc(self, Py_ssize_t cap) except -1
    cdef int _grow(self) except -1

    # primitives
    cdef Py_ssize_t _seg(self, int64_t t) noexcept nogil
    cdef Py_ssize_t _lower(self, int64_t t) noexcept nogil
    cdef Py_ssize_t ensure_bp(self, int64_t t) except -1
    cdef void merge(self, Py_ssize_t i) noexcept nogil
    cdef void apply(self, Py_ssize_t i0, Py_ssize_t i1, const int32_t* widx, const uint64_t* wbits,
                    Py_ssize_t k, bint set_bits) noexcept nogil
    cdef int mark(self, int64_t lo, int64_t hi, const int32_t* widx, const uint64_t* wbits, Py_ssize_t k,
                  bint set_bits) except -1

    # queries
    cdef void or_span(self, int64_t lo, int64_t hi, uint64_t* out) noexcept nogil
    cdef bint sparse_hit(self, int64_t lo, int64_t hi, const int32_t* widx, const uint64_t* wbits,
                         Py_ssize_t k) noexcept nogil
    cdef int64_t first_hit(self, int64_t lo, int64_t hi, const int32_t* widx, const uint64_t* wbits,
                           Py_ssize_t k) noexcept nogil

    # bulk
    cdef object build(self, st, bu, res_of, idx)
    cdef object _build_bitmap(self, int64_t[::1] times, int64_t[::1] ev_k, int32_t[::1] ev_h,
                              signed char[::1] ev_up)
