"""Igor: a node reservation manager for shared clusters.

The package is layered so that dependencies point one way:
``api``/``cli``/``shell``/``worker`` → ``services`` → ``db``/``scheduler`` → ``_sched`` (the engine).
Value helpers used everywhere live at the top: :mod:`igor.errors`, :mod:`igor.nodeset`, :mod:`igor.timefmt`.
"""

__version__ = "0.1.0"
