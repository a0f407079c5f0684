"""Session fixtures for the pytest-benchmark suites (``bench_*.py``; never collected by the normal ``pytest`` run).

Engines are expensive to build (the pure-Python reference at L takes most of a second, the SQL copy of L about a
second to load), so each (size, implementation) is built once per session, on first use, and shared.

Run::

    python -m pytest benchmarks/bench_engine.py --benchmark-only
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import cycle
from typing import Any

import pytest

from igor._sched import CEngine, PyEngine

from .datagen import Dataset, Queries, dataset, queries


class Engines:
    """Lazily built, session-wide engines per size: ``c(size)``, ``py(size)``, ``sql(size)``."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], object] = {}

    def _get(self, size: str, kind: str) -> object:
        key = (size, kind)
        if key not in self._cache:
            data = dataset(size)
            if kind == "c":
                if CEngine is None:
                    pytest.skip("the Cython engine is not built")
                self._cache[key] = _warm(data.engine(CEngine), queries(size), speculate=True)
            elif kind == "py":
                self._cache[key] = _warm(data.engine(PyEngine), queries(size), speculate=size == "M")
            else:
                from .sql_baseline import SqlBaseline

                self._cache[key] = SqlBaseline(data)
        return self._cache[key]

    def c(self, size: str) -> Any:
        """The compiled engine of ``size``."""
        return self._get(size, "c")

    def py(self, size: str) -> Any:
        """The pure-Python reference engine of ``size``."""
        return self._get(size, "py")

    def sql(self, size: str) -> Any:
        """The SQLite copy of ``size`` answering like Igor v2 (:class:`benchmarks.sql_baseline.SqlBaseline`)."""
        return self._get(size, "sql")


def _warm(engine: Any, q: Queries, *, speculate: bool) -> Any:
    """Ask every query once, so the benchmarks time warm engines (not-available windows already expanded)."""
    for kind in ("check", "find", "max_end", *(("speculate",) if speculate else ())):
        fn = getattr(engine, kind)
        for a, k in getattr(q, kind):
            fn(*a, **k)
    return engine


@pytest.fixture(scope="session")
def engines() -> Engines:
    return Engines()


@pytest.fixture(scope="session")
def data() -> Callable[[str], Dataset]:
    """``data(size)``: the generated data set (cached per process)."""
    return dataset


@pytest.fixture(scope="session")
def qs() -> Callable[[str], Queries]:
    """``qs(size)``: the fixed query lists of a size (cached per process)."""
    return queries


def cycler(fn: Callable[..., Any], calls: Sequence[tuple[tuple, dict]]) -> Callable[[], Any]:
    """A no-argument callable asking ``fn`` the next query of ``calls`` each time (round robin)."""
    it = cycle(calls)

    def call() -> Any:
        a, k = next(it)
        return fn(*a, **k)

    return call
