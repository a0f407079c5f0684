"""The build: the compiled engine is the one in use when it was built, and IGOR_NO_EXTENSIONS switches it off."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import igor._sched as sched

PURE = os.environ.get("IGOR_NO_EXTENSIONS", "") not in ("", "0")
SRC = Path(sched.__file__).parent
#: The compiled modules of the engine: one per .pyx (``_engine_c`` cimports the others).
PYX = sorted(p.stem for p in SRC.glob("*.pyx"))
CIMPORT = re.compile(r"^\s*from\s+\.(\w+)\s+cimport\b", re.MULTILINE)


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


def _sources(name: str) -> set[Path]:
    """What module ``name`` is compiled from: its .pyx and .pxd, and every .pxd of the package they cimport."""
    todo = [SRC / f"{name}.pyx", SRC / f"{name}.pxd"]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen or not path.exists():
            continue
        seen.add(path)
        todo += [SRC / f"{dep}.pxd" for dep in CIMPORT.findall(path.read_text())]
    return seen


def _compiled_files() -> list[Path]:
    return sorted(p for suffix in importlib.machinery.EXTENSION_SUFFIXES for p in SRC.glob(f"*{suffix}"))


def test_every_compiled_module_has_its_source() -> None:
    assert "_engine_c" in PYX
    orphans = [p.name for p in _compiled_files() if p.name.split(".")[0] not in PYX]
    assert not orphans, f"compiled modules without a .pyx in igor/_sched (left over from an old build?): {orphans}"


@pytest.mark.parametrize("name", PYX)
def test_compiled_module_is_not_older_than_its_sources(name: str) -> None:
    """An editable install does not recompile on edit: catch a stale extension instead of testing old code."""
    assert sched.CEngine is not None
    compiled = Path(importlib.import_module(f"igor._sched.{name}").__file__ or "")
    assert compiled.suffix in (".so", ".pyd"), f"igor._sched.{name} is not a compiled module: {compiled}"
    stale = sorted(p.name for p in _sources(name) if p.stat().st_mtime > compiled.stat().st_mtime)
    assert not stale, f"{', '.join(stale)} changed since igor._sched.{name} was built: run `pip install -e .`"


def test_generated_files_are_not_tracked() -> None:
    root = SRC.parent.parent
    if not (root / ".git").exists():
        return
    tracked = subprocess.run(["git", "ls-files", "igor/_sched"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.split()
    assert not [f for f in tracked if f.endswith((".c", ".so", ".html"))], tracked
    assert "igor/_sched/_engine_c.pyx" in tracked or not tracked
