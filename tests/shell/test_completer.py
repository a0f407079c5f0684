"""The completer, through ``Document`` (no terminal)."""

from __future__ import annotations

from typing import Any

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from igor.client import Response
from igor_shell.completer import IgorCompleter, LiveValues, fetch_values


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None) -> Response:
        self.calls.append((method, path, query))
        data = {
            "/igor/reservations": {"reservations": [{"name": "demo1"}, {"name": "demo2"}]},
            "/igor/hosts": {"hosts": [{"name": "kn1"}, {"name": "kn2"}]},
            "/igor/groups": {"owner": [{"name": "ops"}], "member": [{"name": "dev"}]},
            "/igor/users": {"users": [{"name": "alice"}, {"name": "bob"}]},
            "/igor/hostpolicy": {"hostPolicies": [{"name": "default"}]},
        }.get(path)
        if data is None:
            raise RuntimeError("refused")
        return Response(200, "", data)


def complete(text: str, values: LiveValues | None = None) -> list[str]:
    completer = IgorCompleter(values)
    return [c.text for c in completer.get_completions(Document(text, len(text)), CompleteEvent())]


def live() -> LiveValues:
    values = LiveValues(FakeClient())
    values.refresh()
    return values


def test_nouns() -> None:
    assert {"res", "host", "user", "login", "exit"} <= set(complete(""))
    assert complete("re") == ["res"]


def test_verbs() -> None:
    assert set(complete("res ")) == {"create", "show", "edit", "del", "speculate"}
    assert complete("host bl") == ["block"]


def test_flags() -> None:
    got = complete("res create demo --d")
    assert {"--duration", "--desc", "--distro", "--dry-run"} <= set(got)
    assert "--json" in complete("res show --j")
    assert "--duration" not in complete("res create demo --duration 3d --d")  # already given


def test_choice_values() -> None:
    assert complete("host edit kn1 --boot ") == ["bios", "uefi"]


def test_reservation_name_from_server() -> None:
    assert complete("res del ", live()) == ["demo1", "demo2"]
    assert complete("res edit dem", live()) == ["demo1", "demo2"]


def test_other_live_values() -> None:
    values = live()
    assert complete("res create x -n kn1,k", values) == ["kn1", "kn2"]
    assert complete("res create x -g ", values) == ["dev", "ops"]
    assert complete("user del a", values) == ["alice"]
    assert complete("policy apply ", values) == ["default"]


def test_fetch_survives_refusals() -> None:
    client = FakeClient()
    table = fetch_values(client)
    assert table["reservation"] == ("demo1", "demo2")
    assert table["elevation"] == ()
    assert ("GET", "/igor/reservations", {"all": True}) in client.calls


def test_background_refresh_swaps_table() -> None:
    values = LiveValues(FakeClient())
    assert values.get("host") == ()
    values.refresh_in_background().join(5)
    assert values.get("host") == ("kn1", "kn2")
