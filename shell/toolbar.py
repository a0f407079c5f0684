"""The bottom toolbar: who is logged in, elevated or not (with the time left), which server, which cluster.

The REPL's background start-up fills :class:`Status`; the completion refresh brings the cluster name and the
elevation end. :func:`toolbar_text` is pure, so it is tested without a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class _Values(Protocol):
    def get(self, kind: str | None) -> tuple[str, ...]: ...


@dataclass
class Status:
    """What the toolbar shows that does not come from the completion values."""

    tokens: Any  # a TokenStore: user() reads the last login's user name
    server_url: str = ""


def elevation_text(value: str | None, now: float) -> str:
    """``elevated 12m left`` / ``not elevated`` / ``admin`` from the completion table's ``elevation`` entry."""
    if not value:
        return ""  # not an admin (or not known yet)
    if value == "always":
        return "admin (always elevated)"
    left = int(value) - int(now) if value.isdigit() else 0
    if left <= 0:
        return "not elevated"
    if left < 60:
        return f"elevated {left}s left"
    return f"elevated {left // 60}m left"


def toolbar_text(user: str | None, server_url: str, elevation: str = "", cluster: str = "") -> str:
    """The toolbar line (pure: the REPL passes the current values)."""
    parts = [f"user: {user or '(not logged in)'}"]
    if elevation:
        parts.append(elevation)
    parts.append(f"server: {server_url}")
    if cluster:
        parts.append(f"cluster: {cluster}")
    parts.append("Ctrl-D: exit")
    return "  |  ".join(parts)


def make_toolbar(status: Status, values: _Values, clock: Callable[[], float] = time.time) -> Callable[[], str]:
    """A callable for ``PromptSession(bottom_toolbar=...)`` reading the live values on each redraw."""

    def render() -> str:
        user = status.tokens.user() if status.tokens is not None else None
        elevation = next(iter(values.get("elevation")), None)
        cluster = next(iter(values.get("cluster")), "")
        return toolbar_text(user, status.server_url, elevation_text(elevation, clock()), cluster)

    return render
