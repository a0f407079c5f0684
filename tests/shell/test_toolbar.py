"""The toolbar text, pure."""

from __future__ import annotations

from igor_shell.completer import LiveValues
from igor_shell.toolbar import Status, elevation_text, make_toolbar, toolbar_text


class Tokens:
    def __init__(self, user: str | None) -> None:
        self._user = user

    def user(self) -> str | None:
        return self._user


def test_elevation_text() -> None:
    assert elevation_text(None, 1000) == ""
    assert elevation_text("always", 1000) == "admin (always elevated)"
    assert elevation_text("0", 1000) == "not elevated"
    assert elevation_text("900", 1000) == "not elevated"
    assert elevation_text("1030", 1000) == "elevated 30s left"
    assert elevation_text(str(1000 + 12 * 60 + 59), 1000) == "elevated 12m left"


def test_toolbar_text() -> None:
    assert toolbar_text(None, "https://igor:8443") == \
        "user: (not logged in)  |  server: https://igor:8443  |  Ctrl-D: exit"
    assert toolbar_text("alice", "https://igor:8443", "elevated 3m left", "kn") == \
        "user: alice  |  elevated 3m left  |  server: https://igor:8443  |  cluster: kn  |  Ctrl-D: exit"


def test_make_toolbar_reads_live_values() -> None:
    values = LiveValues()
    status = Status(tokens=Tokens("dave"), server_url="http://127.0.0.1:8443")
    render = make_toolbar(status, values, clock=lambda: 1000.0)
    assert render() == "user: dave  |  server: http://127.0.0.1:8443  |  Ctrl-D: exit"
    values._table = {"elevation": ("1600",), "cluster": ("demo",)}
    status.server_url = "https://igor.example:8443"
    assert render() == ("user: dave  |  elevated 10m left  |  server: https://igor.example:8443  |  cluster: demo"
                        "  |  Ctrl-D: exit")
