"""The shell's own settings, ``shell.yaml`` in the client home (``$IGOR_CLIENT_HOME`` or ``~/.igor``).

The first start writes :data:`DEFAULT_FILE` there, commented, so users can see and change every setting; a bad
value is reported by key and the default is used instead, so a typo never keeps the shell from starting.
The server URL, time zone and CA file are the client's (``igor.yaml``), shared with the batch commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_FILE = """\
# Settings of the igor> shell. The server, time zone and CA file are in igor.yaml (shared with batch commands).

# The command long output is piped through. Empty: $PAGER, else "less -SRXF".
pager: ""

# When to page: auto (output taller or wider than the terminal), always, never.
paging: auto

# Key bindings: false for Emacs style (the default), true for vi style.
vi: false

# Seconds between background refreshes of completion values (0: only at start and after each command).
refresh: 60
"""

PAGING = ("auto", "always", "never")


@dataclass(frozen=True)
class ShellSettings:
    """The settings the shell runs with (defaults when there is no file)."""

    pager: str = ""
    paging: str = "auto"
    vi: bool = False
    refresh: float = 60.0


def load(home: Path | None, *, write_default: bool = True) -> tuple[ShellSettings, list[str]]:
    """Read ``shell.yaml`` from ``home``; returns the settings and one line per problem found.

    Args:
        home: The client home (``None``: defaults, nothing written).
        write_default: Create the commented default file when it is missing.
    """
    if home is None:
        return ShellSettings(), []
    path = home / "shell.yaml"
    try:
        text = path.read_text()
    except FileNotFoundError:
        if write_default:
            _write_default(path)
        return ShellSettings(), []
    except OSError as err:
        return ShellSettings(), [f"{path}: cannot read ({err.strerror}); using the defaults"]
    return parse(text, str(path))


def parse(text: str, where: str = "shell.yaml") -> tuple[ShellSettings, list[str]]:
    """Settings from YAML text, and the problems (each names the key and the rule)."""
    if text == DEFAULT_FILE:  # the usual case, answered without loading a YAML parser at start-up
        return ShellSettings(), []
    import yaml

    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        return ShellSettings(), [f"{where}: not valid YAML ({err}); using the defaults"]
    if not isinstance(doc, dict):
        return ShellSettings(), [f"{where}: expected key: value settings; using the defaults"]
    problems: list[str] = []
    values: dict[str, object] = {}
    for key, value in doc.items():
        if key == "pager":
            if value is None or isinstance(value, str):
                values["pager"] = value or ""
            else:
                problems.append(f"{where}: pager must be a command (text), got {value!r}")
        elif key == "paging":
            if value in PAGING:
                values["paging"] = value
            else:
                problems.append(f"{where}: paging must be one of {', '.join(PAGING)}, got {value!r}")
        elif key == "vi":
            if isinstance(value, bool):
                values["vi"] = value
            else:
                problems.append(f"{where}: vi must be true or false, got {value!r}")
        elif key == "refresh":
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                values["refresh"] = float(value)
            else:
                problems.append(f"{where}: refresh must be a number of seconds >= 0, got {value!r}")
        else:
            problems.append(f"{where}: unknown setting {key!r} (known: pager, paging, vi, refresh)")
    return ShellSettings(**values), problems  # type: ignore[arg-type]


def _write_default(path: Path) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(DEFAULT_FILE)
    except OSError:  # a read-only home: the defaults still apply
        pass
