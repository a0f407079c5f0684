# cython: language_level=3
"""Declarations of the compiled engine's reservation table (see _table.pyx)."""

from libc.stdint cimport int32_t, int64_t, uint64_t


cdef class ReservationTable:
    cdef readonly Py_ssize_t n_hosts
    # slots: reservation s is r_id[s], [r_start[s], r_end[s]), busy until r_busy[s], on hosts
    # hpool[r_hoff[s] : r_hoff[s] + r_hcnt[s]] (sorted)
    cdef int64_t* r_id
    cdef int64_t* r_start
    cdef int64_t* r_end
    cdef int64_t* r_busy
    cdef int64_t* r_hoff
    cdef int32_t* r_hcnt
    cdef int32_t* r_freeslots
    cdef int32_t* by_start                # the nres live slots sorted by start
    cdef int32_t* by_busy                 # ... and by busy end
    cdef readonly Py_ssize_t nres
    cdef Py_ssize_t cap_r, top_r, nfreeslots
    cdef int32_t* hpool
    cdef Py_ssize_t hp_used, hp_live, cap_hp
    cdef readonly dict slot               # rid -> slot
    cdef int32_t** hl                     # per host: its reservations' slots, sorted by start
    cdef int32_t* hl_len
    cdef int32_t* hl_cap

    # memory
    cdef void _free(self) noexcept
    cdef int _alloc(self, Py_ssize_t cap, Py_ssize_t cap_hp) except -1
    cdef int _grow(self) except -1
    cdef int _reserve_hosts(self, Py_ssize_t k) except -1
    cdef void _free_hostlists(self) noexcept
    cdef int _alloc_hostlists(self, const int64_t[::1] counts) except -1
    cdef int _hl_insert(self, Py_ssize_t s) except -1
    cdef void _hl_remove(self, Py_ssize_t s) noexcept nogil

    # slots
    cdef int insert(self, int64_t rid, int32_t[::1] hs, int64_t start, int64_t end, int64_t busy) except -1
    cdef int remove(self, Py_ssize_t s) except -1
    cdef void _slot_remove(self, Py_ssize_t s) noexcept nogil
    cdef int fill(self, ids, starts, ends, busy_ends, host_ptr, host_idx) except -1
    cdef Py_ssize_t upper_start(self, int64_t t) noexcept nogil
    cdef Py_ssize_t upper_busy(self, int64_t t) noexcept nogil
    cdef tuple hosts_of(self, Py_ssize_t s)

    # queries
    cdef tuple busy_detail(self, tuple hs, int64_t blo, int64_t bhi)
    cdef Py_ssize_t sweep(self, const unsigned char[::1] elig, const int32_t[::1] host_q, Py_ssize_t P1,
                          const uint64_t[:, ::1] b_mask, Py_ssize_t need, int64_t span, int64_t after,
                          int64_t until, Py_ssize_t limit,
                          const int64_t[::1] wt, const int64_t[::1] wq, const int64_t[::1] wd,
                          const int64_t[::1] bt_, const int64_t[::1] bb_, const int64_t[::1] bd_,
                          int64_t[::1] out_s, int64_t[::1] out_l) except -1
