"""The bottom toolbar: who is logged in, which server, and the elevation status (fetched in the background)."""

from __future__ import annotations

from collections.abc import Callable


def toolbar_text(user: str | None, server_url: str, elevation: str = "") -> str:
    """The toolbar line (pure: the REPL passes the current values)."""
    parts = [f"user: {user or '(not logged in)'}", f"server: {server_url}"]
    if elevation:
        parts.append(elevation)
    parts.append("Ctrl-D: exit")
    return "  |  ".join(parts)


def make_toolbar(user: Callable[[], str | None], server_url: str,
                 elevation: Callable[[], str]) -> Callable[[], str]:
    """A callable for ``PromptSession(bottom_toolbar=...)`` reading the live user and elevation on each redraw."""

    def render() -> str:
        return toolbar_text(user(), server_url, elevation())

    return render
