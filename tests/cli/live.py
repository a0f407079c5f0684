"""The real ``igor`` executable as the CLI end-to-end tests run it: :class:`Igor` runs one command line with its own
client home against a live ``igor-server --demo`` (the ``server`` fixture of ``tests/cli/conftest.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ALICE_PW = "changeMe$1"  # the demo users' password, also the demo's auth.defaultUserPassword
ADMIN_PW = "igor-admin"


def igor_command() -> list[str]:
    script = Path(sys.executable).parent / "igor"
    return [str(script)] if script.exists() else [sys.executable, "-m", "igor.cli.main"]


class Igor:
    """Runs the ``igor`` executable with its own client home and ``$IGOR_SERVER``.

    Each command runs in a new session, without a controlling terminal: nothing can prompt on the terminal of
    whoever runs the tests, and ``getpass`` falls back to reading standard input (``user edit --password``).
    """

    def __init__(self, server: str, home: Path) -> None:
        self.home = home
        self.server = server
        self.env = {**os.environ, "IGOR_SERVER": server, "IGOR_CLIENT_HOME": str(home), "HOME": str(home.parent),
                    "NO_COLOR": "1"}
        self.env.pop("IGOR_CLIENT_CONFIG", None)

    def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([*igor_command(), *args], env=self.env, input=stdin, capture_output=True, text=True,
                              timeout=60, start_new_session=True)

    def json(self, *args: str) -> dict:
        done = self(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def login(self, user: str = "alice", password: str = ALICE_PW) -> None:
        done = self("login", "-u", user, "--password-stdin", stdin=password + "\n")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("igor: ")
