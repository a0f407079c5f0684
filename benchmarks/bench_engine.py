"""pytest-benchmark suite: one benchmark per engine row of DESIGN.md §4, at sizes M and L.

Each benchmark cycles through a fixed list of queries (:func:`benchmarks.datagen.queries`), so every round asks
something different and no cache makes it trivial. Run::

    python -m pytest benchmarks/bench_engine.py --benchmark-only [-k find] [--benchmark-group-by=group]

The pure-Python reference runs ``find`` at M and L but ``speculate`` at M only (about a second per call at L); the
SQL baseline (Igor v2's ``dbFindOpenSlots``) runs at M only (seconds per call at M, ~40 s at L) with three rounds.
``python -m benchmarks.run`` measures all of it, L included, and prints the targets.
"""

from __future__ import annotations

import pytest

from .conftest import cycler

SIZES = ["M", "L"]


@pytest.mark.benchmark(group="check: by-name, 16 hosts, one window")
@pytest.mark.parametrize("size", SIZES)
def test_check(benchmark, engines, qs, size):
    benchmark(cycler(engines.c(size).check, qs(size).check))


@pytest.mark.benchmark(group="find: by-count, 64 hosts, 4 h")
@pytest.mark.parametrize("size", SIZES)
def test_find(benchmark, engines, qs, size):
    benchmark(cycler(engines.c(size).find, qs(size).find))


@pytest.mark.benchmark(group="speculate: 64 hosts x 4 h, 30 days, first 10")
@pytest.mark.parametrize("size", SIZES)
def test_speculate(benchmark, engines, qs, size):
    benchmark(cycler(engines.c(size).speculate, qs(size).speculate))


@pytest.mark.benchmark(group="max_end: 64-host reservation")
@pytest.mark.parametrize("size", SIZES)
def test_max_end(benchmark, engines, qs, size):
    benchmark(cycler(engines.c(size).max_end, qs(size).max_end))


@pytest.mark.benchmark(group="build: all reservations")
@pytest.mark.parametrize("size", SIZES)
def test_build(benchmark, engines, data, size):
    eng = engines.c(size)
    arrays = data(size).arrays
    benchmark(eng.build, *arrays)
    assert len(eng) == arrays[0].shape[0]


# ---------------------------------------------------------------------------------------- the reference
@pytest.mark.benchmark(group="find: by-count, 64 hosts, 4 h")
@pytest.mark.parametrize("size", SIZES)
def test_find_reference(benchmark, engines, qs, size):
    benchmark(cycler(engines.py(size).find, qs(size).find))


@pytest.mark.benchmark(group="speculate: 64 hosts x 4 h, 30 days, first 10")
@pytest.mark.parametrize("size", ["M"])
def test_speculate_reference(benchmark, engines, qs, size):
    benchmark.pedantic(cycler(engines.py(size).speculate, qs(size).speculate), rounds=8, iterations=1,
                       warmup_rounds=1)


# ---------------------------------------------------------------------------------------- Igor v2's SQL
@pytest.mark.benchmark(group="find: by-count, 64 hosts, 4 h")
@pytest.mark.parametrize("size", ["M"])
def test_find_sql_v2(benchmark, engines, qs, size):
    sql, eng = engines.sql(size), engines.c(size)
    calls = qs(size).find[1:4]
    got = benchmark.pedantic(cycler(sql.find, calls), rounds=3, iterations=1)
    (_count, start, end), kw = calls[2]           # the last round answered the third query
    assert got is None or eng.check(got, start, end, **kw) is None
