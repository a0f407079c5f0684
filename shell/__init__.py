"""The interactive ``igor>`` shell (import name ``igor_shell``): ``igor`` with no arguments calls :func:`main`.

Kept import-light so start-up stays fast: prompt_toolkit is imported only when the shell actually runs.
"""

from __future__ import annotations


def main() -> int:
    """Run the shell until Ctrl-D or ``exit``; returns the exit status."""
    from igor_shell.repl import run

    return run()
