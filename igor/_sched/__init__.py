"""The scheduling engine: which hosts are free when, and which ones a request gets.

Two implementations answer the same calls (see :mod:`igor._sched._engine_py` for the documented API):
the compiled interval-bitmap engine ``_engine_c`` and the pure-Python reference ``_engine_py``. ``Engine`` is
the compiled one unless ``IGOR_NO_EXTENSIONS=1`` is set or the extension was not built; ``IMPLEMENTATION``
says which (``"c"`` or ``"py"``).
"""

from __future__ import annotations

import os

from ._engine_py import Engine as PyEngine
from ._types import NEG_INF, POS_INF, Conflict, ConflictError, Policy, Slot
from ._windows import parse_window

CEngine: type[PyEngine] | None
try:
    from ._engine_c import Engine as _CEngine

    CEngine = _CEngine
except ImportError:  # not built: the reference answers
    CEngine = None

#: The engine the product uses: the compiled one unless disabled or missing.
Engine: type[PyEngine] = (CEngine if CEngine is not None and os.environ.get("IGOR_NO_EXTENSIONS", "") in ("", "0")
                          else PyEngine)

IMPLEMENTATION: str = Engine.implementation

__all__ = ["CEngine", "Conflict", "ConflictError", "Engine", "IMPLEMENTATION", "NEG_INF", "POS_INF",
           "Policy", "PyEngine", "Slot", "parse_window"]
