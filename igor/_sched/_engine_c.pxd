# cython: language_level=3
"""Declarations of the compiled scheduling engine (see _engine_c.pyx)."""

from libc.stdint cimport int32_t, int64_t, uint64_t


cdef class Engine:
    # cluster
    cdef readonly Py_ssize_t n_hosts
    cdef readonly int64_t pad
    cdef Py_ssize_t W                     # uint64 words per bitmap row
    cdef object _seq                      # list of sequence numbers
    cdef uint64_t[::1] _runstart          # bit h: host h cannot continue a run from h-1

    # interval bitmap: breakpoints bt[0..m), segment i = [bt[i], bt[i+1]) has row pool[border[i]]
    cdef int64_t* bt
    cdef int32_t* border
    cdef uint64_t* pool
    cdef int32_t* freerows
    cdef Py_ssize_t m, cap_m, cap_rows, nfreerows

    # reservation table (slots), kept sorted by start and by busy end
    cdef int64_t* r_id
    cdef int64_t* r_start
    cdef int64_t* r_end
    cdef int64_t* r_busy
    cdef int64_t* r_hoff
    cdef int32_t* r_hcnt
    cdef int32_t* r_freeslots
    cdef int32_t* by_start
    cdef int32_t* by_busy
    cdef Py_ssize_t nres, cap_r, top_r, nfreeslots
    cdef int32_t* hpool
    cdef Py_ssize_t hp_used, hp_live, cap_hp
    cdef dict _slot                       # rid -> slot
    cdef int32_t** hl                     # per host: its reservations' slots, sorted by start
    cdef int32_t* hl_len
    cdef int32_t* hl_cap

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

    # memory
    cdef void _free_bitmap(self) noexcept
    cdef void _free_table(self) noexcept
    cdef int _alloc_bitmap(self, Py_ssize_t cap) except -1
    cdef int _grow_bitmap(self) except -1
    cdef int _alloc_table(self, Py_ssize_t cap, Py_ssize_t cap_hp) except -1
    cdef int _grow_table(self) except -1
    cdef int _reserve_hosts(self, Py_ssize_t k) except -1

    # bitmap primitives
    cdef Py_ssize_t _seg(self, int64_t t) noexcept nogil
    cdef Py_ssize_t _lower(self, int64_t t) noexcept nogil
    cdef Py_ssize_t _ensure_bp(self, int64_t t) except -1
    cdef void _merge(self, Py_ssize_t i) noexcept nogil
    cdef void _or_span(self, int64_t lo, int64_t hi, uint64_t* out) noexcept nogil
    cdef bint _sparse_hit(self, int64_t lo, int64_t hi, const int32_t* widx, const uint64_t* wbits,
                          Py_ssize_t k) noexcept nogil
    cdef void _apply(self, Py_ssize_t i0, Py_ssize_t i1, const int32_t* widx, const uint64_t* wbits,
                     Py_ssize_t k, bint set_bits) noexcept nogil
    cdef object _build_bitmap(self, int64_t[::1] times, int64_t[::1] ev_k, int32_t[::1] ev_h,
                              signed char[::1] ev_up)

    # reservation table
    cdef int _slot_insert(self, int64_t rid, int32_t[::1] hs, int64_t start, int64_t end,
                          int64_t busy) except -1
    cdef void _slot_remove(self, Py_ssize_t s) noexcept nogil
    cdef Py_ssize_t _upper_start(self, int64_t t) noexcept nogil
    cdef Py_ssize_t _upper_busy(self, int64_t t) noexcept nogil
    cdef tuple _hosts_of(self, Py_ssize_t s)
    cdef void _free_hostlists(self) noexcept
    cdef int _alloc_hostlists(self, const int64_t[::1] counts) except -1
    cdef int _hl_insert(self, Py_ssize_t s) except -1
    cdef void _hl_remove(self, Py_ssize_t s) noexcept nogil
    cdef tuple _busy_detail(self, tuple hs, int64_t blo, int64_t bhi)
    cdef _add(self, int64_t rid, tuple hs, int64_t start, int64_t end, int64_t busy)

    # policies, windows, queries
    cdef unsigned char[::1] _admit(self, frozenset groups)
    cdef _win(self, int64_t lo, int64_t hi)
    cdef bint _q_window(self, Py_ssize_t q, int64_t lo, int64_t hi) noexcept nogil
    cdef bint _clean(self, tuple hs, int64_t blo, int64_t bhi, int64_t lo, int64_t hi,
                     int64_t minutes, frozenset g, bint elevated) except -1
    cdef uint64_t[::1] _mask_of(self, hosts)
    cdef list _choose(self, uint64_t[::1] elig, uint64_t[::1] pref, Py_ssize_t need)
    cdef Py_ssize_t _sweep(self, unsigned char[::1] elig, Py_ssize_t need, int64_t duration,
                           int64_t after, int64_t until, Py_ssize_t limit,
                           int64_t[::1] wt, int64_t[::1] wq, int64_t[::1] wd,
                           int64_t[::1] bt_, int64_t[::1] bb_, int64_t[::1] bd_,
                           int64_t[::1] out_s, int64_t[::1] out_l) except -1
