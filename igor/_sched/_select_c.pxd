# cython: language_level=3
"""Declarations of the compiled by-count host choice (see _select_c.pyx)."""

from libc.stdint cimport uint64_t


cdef list choose(const uint64_t[::1] elig, const uint64_t[::1] pref, Py_ssize_t need,
                 const uint64_t[::1] runstart, Py_ssize_t n_hosts)
