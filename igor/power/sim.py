"""``sim://``: simulated power for the demo cluster and the tests.

The state must be the same in every server process (gunicorn workers, the lifecycle worker), so it lives in
files, not memory: one small file per host under ``STATE_DIR/sim/``, holding ``on`` or ``off``. A write goes to a
temporary file in the same directory and is renamed over the old one, so a reader in another process sees the
old state or the new one, never a torn file. A host never powered by Igor is on (a cluster is normally running).
``cycle`` ends on.

The file's second line counts the actions the host was given (``on=1 off=2 cycle=0``), written in the same atomic
rename as the state, so the demo and the crash tests can tell exactly what was done — no action is counted that
did not happen, none is lost (:func:`action_counts`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import quote

from igor.power.base import CYCLE, OFF, ON, UNKNOWN, PowerConfigError, PowerError, PowerTarget

#: The state of a host that has no state file yet.
DEFAULT_STATE = ON


class SimDriver:
    """Simulated power kept in ``state_dir/sim/<host name>`` files (see the module docstring)."""

    #: Reading the state costs a file read: ``PowerController.cached_status`` always reads it afresh, so a
    #: change made by another process shows at once.
    instant = True

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "sim"

    def path(self, target: PowerTarget) -> Path:
        """The state file of ``target`` (its node name, percent-encoded so it is always one safe file name)."""
        name = quote(target.name, safe="-_.")
        if name in ("", ".", ".."):
            raise PowerConfigError(target.name or "?", "a simulated host needs a name")
        return self.dir / name

    def act(self, target: PowerTarget, action: str) -> None:
        if action not in (ON, OFF, CYCLE):
            raise PowerError(target.name, f"power command {action!r} not recognized")
        counts = self.counts(target)
        counts[action] = counts.get(action, 0) + 1
        self._write(target, OFF if action == OFF else ON, counts)

    def _read(self, target: PowerTarget) -> list[str]:
        try:
            return self.path(target).read_text(encoding="ascii").splitlines()
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise PowerError(target.name, f"cannot read simulated power state: {exc}") from None

    def status(self, target: PowerTarget) -> str:
        lines = self._read(target)
        if not lines:
            return DEFAULT_STATE
        text = lines[0].strip()
        return text if text in (ON, OFF) else UNKNOWN

    def counts(self, target: PowerTarget) -> dict[str, int]:
        """How many times ``target`` was given each action."""
        lines = self._read(target)
        return action_counts(lines[1] if len(lines) > 1 else "")

    def _write(self, target: PowerTarget, state: str, counts: dict[str, int]) -> None:
        path = self.path(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="ascii") as out:
                    out.write(state + "\n" + " ".join(f"{a}={counts.get(a, 0)}" for a in (ON, OFF, CYCLE)) + "\n")
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            raise PowerError(target.name, f"cannot write simulated power state under {self.dir}: "
                             f"{exc.strerror or exc}") from None


def action_counts(line: str) -> dict[str, int]:
    """The action counts of a state file's second line (``on=1 off=2 cycle=0``)."""
    counts = {ON: 0, OFF: 0, CYCLE: 0}
    for item in line.split():
        key, _, value = item.partition("=")
        if key in counts and value.isdigit():
            counts[key] = int(value)
    return counts
