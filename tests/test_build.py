"""The build: the compiled engine is the one in use when it was built, and IGOR_NO_EXTENSIONS switches it off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import igor._sched as sched

PURE = os.environ.get("IGOR_NO_EXTENSIONS", "") not in ("", "0")
SRC = Path(sched.__file__).parent


def _implementation(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "IGOR_NO_EXTENSIONS"}
    if env_value is not None:
        env["IGOR_NO_EXTENSIONS"] = env_value
    code = "import igor._sched as s; print(s.IMPLEMENTATION, s.Engine.__module__)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_compiled_engine_is_built_and_used() -> None:
    """Unless the reference is asked for, the extension must exist and answer (a failed build fails here)."""
    assert sched.CEngine is not None, "the Cython engine is not built: run `pip install -e .`"
    compiled = Path(sys.modules[sched.CEngine.__module__].__file__ or "")
    assert compiled.suffix in (".so", ".pyd"), f"igor._sched._engine_c is not a compiled module: {compiled}"
    if PURE:
        assert sched.Engine is sched.PyEngine and sched.IMPLEMENTATION == "py"
    else:
        assert sched.Engine is sched.CEngine and sched.IMPLEMENTATION == "c"


def test_environment_variable_selects_the_reference() -> None:
    assert _implementation(None) == "c igor._sched._engine_c"
    assert _implementation("0") == "c igor._sched._engine_c"
    assert _implementation("1") == "py igor._sched._engine_py"


def test_compiled_module_is_not_older_than_its_source() -> None:
    """An editable install does not recompile on edit: catch a stale extension instead of testing old code."""
    assert sched.CEngine is not None
    compiled = Path(sys.modules[sched.CEngine.__module__].__file__ or "")
    newest = max((SRC / name).stat().st_mtime for name in ("_engine_c.pyx", "_engine_c.pxd"))
    assert compiled.stat().st_mtime >= newest, "_engine_c.pyx changed since the build: run `pip install -e .`"


def test_generated_files_are_not_tracked() -> None:
    root = SRC.parent.parent
    if not (root / ".git").exists():
        return
    tracked = subprocess.run(["git", "ls-files", "igor/_sched"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.split()
    assert not [f for f in tracked if f.endswith((".c", ".so", ".html"))], tracked
    assert "igor/_sched/_engine_c.pyx" in tracked or not tracked
