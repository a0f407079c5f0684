"""Long output in the shell goes through a pager (pgcli's behaviour): when it is taller or wider than the
terminal, it is piped to ``less -SRXF`` (or ``$PAGER``, or the ``pager`` setting); short output is printed.
``-F`` makes less exit at once if the text fits after all, ``-R`` keeps colours, ``-S`` keeps wide tables
unwrapped, ``-X`` leaves the text on screen.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from typing import TextIO

DEFAULT_PAGER = "less -SRXF"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def needs_paging(text: str, rows: int, columns: int, mode: str = "auto") -> bool:
    """Whether ``text`` should be paged on a ``rows`` × ``columns`` terminal (``mode``: auto, always, never)."""
    if mode == "never" or not text:
        return False
    if mode == "always":
        return True
    lines = text.splitlines()
    if len(lines) > max(rows - 2, 1):  # keep the prompt and toolbar in view
        return True
    return any(len(_ANSI.sub("", line)) > columns for line in lines)


def pager_command(setting: str = "", env: dict[str, str] | None = None) -> list[str]:
    """The pager to run: the ``pager`` setting, else ``$PAGER``, else :data:`DEFAULT_PAGER`."""
    environ = os.environ if env is None else env
    return shlex.split(setting or environ.get("PAGER") or DEFAULT_PAGER)


def show(text: str, out: TextIO, *, setting: str = "", mode: str = "auto") -> None:
    """Write ``text`` to ``out``, through the pager when ``out`` is a terminal and the text needs it."""
    if out.isatty():
        size = shutil.get_terminal_size()
        if needs_paging(text, size.lines, size.columns, mode):
            command = pager_command(setting)
            env = {**os.environ, "LESSCHARSET": os.environ.get("LESSCHARSET", "utf-8")}
            try:
                subprocess.run(command, input=text, text=True, env=env, check=False)
                return
            except (OSError, ValueError):  # no such pager: print it plainly
                pass
    out.write(text)
    out.flush()
