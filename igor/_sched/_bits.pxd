# cython: language_level=3, cdivision=True
# (boundscheck, wraparound and initializedcheck come from setup.py: off, or on with IGOR_DEBUG_BUILD=1)
"""Small C helpers shared by the compiled engine's modules (cimported, inlined into each; no module of its own).

Owns: bit counting (``popcount``, ``ctz``), host lists as sparse ``(word, bits)`` pairs (``_sparse``) and the
checked reallocation every buffer goes through (``_realloc``).
"""

from cpython.mem cimport PyMem_Realloc
from libc.stdint cimport int32_t, uint64_t

cdef extern from *:
    """
    static inline int igor_popcount(unsigned long long x) { return __builtin_popcountll(x); }
    static inline int igor_ctz(unsigned long long x) { return __builtin_ctzll(x); }
    """
    int popcount "igor_popcount"(unsigned long long x) noexcept nogil
    int ctz "igor_ctz"(unsigned long long x) noexcept nogil


cdef inline void* _realloc(void* p, Py_ssize_t n, size_t size) except NULL:
    """``PyMem_Realloc`` to ``n`` items of ``size`` bytes (at least one item), raising MemoryError on failure."""
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
            wbits[k - 1] |= (<uint64_t>1) << (hs[j] & 63)
        else:
            widx[k] = w
            wbits[k] = (<uint64_t>1) << (hs[j] & 63)
            k += 1
    return k
