"""Fixtures for the engine tests: every engine test runs against both implementations (STYLE.md point 17).

``Engine`` is parametrised over the pure-Python reference (id ``py``) and the compiled engine (id ``c``). A missing
compiled engine is a test failure, not a skip, unless ``IGOR_NO_EXTENSIONS=1`` says the run is pure Python on
purpose (then only ``py`` runs). ``engine_classes`` gives the same implementations as one list, for the tests that
drive them side by side.
"""

from __future__ import annotations

import os

import pytest

from igor._sched import CEngine, PyEngine

#: Pure-Python run on purpose: the compiled engine is neither required nor tested.
NO_EXTENSIONS = os.environ.get("IGOR_NO_EXTENSIONS", "") not in ("", "0")

MISSING_C = ("the compiled engine igor._sched._engine_c is not importable: build it in place "
             "(python setup.py build_ext --inplace) or set IGOR_NO_EXTENSIONS=1 to test only the Python engine")

IMPLEMENTATIONS = [pytest.param("py", id="py")] + ([] if NO_EXTENSIONS else [pytest.param("c", id="c")])


def _engine_class(name: str) -> type[PyEngine]:
    if name == "py":
        return PyEngine
    if CEngine is None:
        pytest.fail(MISSING_C)
    return CEngine


@pytest.fixture(params=IMPLEMENTATIONS)
def Engine(request: pytest.FixtureRequest) -> type[PyEngine]:
    """One engine implementation (``py`` or ``c``)."""
    return _engine_class(request.param)


@pytest.fixture
def engine_classes() -> list[type[PyEngine]]:
    """Every implementation under test, the reference first."""
    return [_engine_class(p.values[0]) for p in IMPLEMENTATIONS]
