"""What every power driver shares: the target, the error, the vocabulary of actions and states, the driver
interface, and one way to run an external program with a bounded time and without a shell."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

ON, OFF, UNKNOWN = "on", "off", "unknown"
#: What a driver's ``status`` may answer.
STATES = (ON, OFF, UNKNOWN)
CYCLE = "cycle"
#: What ``act`` may be asked to do (Igor v2's ``power on|off|cycle``).
ACTIONS = (ON, OFF, CYCLE)

#: How much of a failing command's output a message quotes.
_OUTPUT_CHARS = 300


@dataclass(frozen=True)
class PowerTarget:
    """One host to power: its Igor node ``name`` (``kn7``), the real ``hostname`` (Igor v2's external command
    templates get it as ``%s``) and its ``power_uri`` (``""``: use the external command templates)."""

    name: str
    hostname: str
    power_uri: str = ""


class PowerError(Exception):
    """A power action or status read failed; the message names the host and the problem.

    Args:
        host: The host's node name.
        problem: What went wrong; the message is ``"<host>: <problem>"``.
        message: The whole message instead, when ``problem`` reads better with the host inside it.
    """

    def __init__(self, host: str, problem: str, *, message: str | None = None) -> None:
        super().__init__(message or f"{host}: {problem}")
        self.host = host
        self.problem = problem


class PowerConfigError(PowerError):
    """The host has no way to do what was asked: neither a ``powerUri`` nor an external command template."""


class PowerDriver(Protocol):
    """A way of powering hosts. Drivers hold no per-request state and are called from several threads."""

    def act(self, target: PowerTarget, action: str) -> None:
        """Do ``action`` (one of :data:`ACTIONS`) on ``target``.

        Raises:
            PowerError: it could not be done (the message says why).
        """

    def status(self, target: PowerTarget) -> str:
        """The power state of ``target``, one of :data:`STATES`.

        Raises:
            PowerError: the state could not be read.
        """


def short_output(text: str) -> str:
    """The gist of a program's output for a message: its last non-empty lines, at most a few hundred characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    out = "; ".join(lines[-3:])
    return out if len(out) <= _OUTPUT_CHARS else "…" + out[-_OUTPUT_CHARS:]


def run(host: str, argv: Sequence[str], timeout: float, *, env: Mapping[str, str] | None = None,
        what: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (no shell) with stdout and stderr captured, the C locale and a bounded time.

    Args:
        host: The host the command is for (named in errors).
        argv: Program and arguments.
        timeout: Seconds before the program is killed.
        env: Extra environment variables.
        what: How errors name the command (default: the program's name).

    Returns:
        The finished process, whatever its exit status.

    Raises:
        PowerError: the program does not exist, cannot be run, or ran out of time.
    """
    name = what or os.path.basename(argv[0])
    full_env = {**os.environ, "LC_ALL": "C", "LANG": "C", **(env or {})}
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, env=full_env,
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        raise PowerError(host, f"{name}: program {argv[0]!r} not found") from None
    except PermissionError:
        raise PowerError(host, f"{name}: program {argv[0]!r} is not executable") from None
    except subprocess.TimeoutExpired:
        raise PowerError(host, f"{name} timed out after {timeout:g} s") from None
    except OSError as exc:
        raise PowerError(host, f"{name}: cannot run {argv[0]!r}: {exc.strerror or exc}") from None
