"""The ``igor`` console script, kept import-light: with no arguments it starts the ``igor>`` shell without
loading the batch CLI first (the shell loads it in the background), so the prompt appears quickly; with
arguments it runs :func:`igor.cli.main.main`.
"""

from __future__ import annotations

import importlib.util
import sys


def main() -> int:
    """Entry point of ``igor``: the shell when run bare on a terminal, else one batch command."""
    if len(sys.argv) == 1 and importlib.util.find_spec("igor_shell") is not None:
        from igor_shell import main as shell

        return int(shell() or 0)
    from igor.cli.main import main as batch

    return batch()


if __name__ == "__main__":
    sys.exit(main())
