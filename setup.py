"""Build script: the Cython scheduling engine plus the pure-Python package (metadata lives in pyproject.toml).

The engine is four extension modules in ``igor/_sched`` (see ``EXTENSIONS``), compiled with ``language_level=3``;
``_engine_c`` cimports the others through their ``.pxd`` files, so they are built together. If compiling fails
the package still installs and runs on the pure-Python reference engine, with a loud warning — unless
``IGOR_REQUIRE_EXTENSIONS=1`` (set by CI), which turns the failure into an error. ``IGOR_DEBUG_BUILD=1`` turns
bounds and wraparound checks back on for debugging the kernels.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Build the engine; on failure warn loudly (or fail, when extensions are required)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - compilers fail in many ways
            self._failed(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    @staticmethod
    def _failed(exc: Exception) -> None:
        if os.environ.get("IGOR_REQUIRE_EXTENSIONS") == "1":
            raise exc
        bar = "*" * 78
        sys.stderr.write(f"\n{bar}\nWARNING: the Cython scheduling engine failed to build ({exc}).\n"
                         "Igor will run on the pure-Python reference engine, which is much slower.\n"
                         f"Set IGOR_REQUIRE_EXTENSIONS=1 to make this an error.\n{bar}\n\n")


#: The compiled engine: interval bitmap, reservation table, host choice, and the engine composing them.
EXTENSIONS = ["_bitmap", "_table", "_select_c", "_engine_c"]


def extensions() -> list:
    from Cython.Build import cythonize

    debug = os.environ.get("IGOR_DEBUG_BUILD") == "1"
    exts = [
        Extension(
            f"igor._sched.{name}",
            [f"igor/_sched/{name}.pyx"],
            extra_compile_args=["-O2"] if not debug else ["-O0", "-g"],
        )
        for name in EXTENSIONS
    ]
    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": debug,
            "wraparound": debug,
            "initializedcheck": debug,
        },
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
