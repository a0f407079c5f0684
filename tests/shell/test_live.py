"""The real REPL (pipe input, ``DummyOutput``) against a live demo server, with the real batch executor: the
shell's own background start-up finds the server from ``$IGOR_SERVER``, completion fetches a reservation name
from the server, and the completed, confirmed ``res del`` really deletes it."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from igor_shell.completer import LiveValues
from igor_shell.config import ShellSettings
from igor_shell.repl import batch_executor, run
from tests.cli.live import Igor
from tests.test_server import running_demo


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_demo(tmp_path_factory.mktemp("server") / "home") as (base, _proc):
        yield base


def _wait_for(check, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_completion_from_server_then_confirmed_delete(server: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    igor = Igor(server, tmp_path / "client")
    igor.login()
    created = igor("res", "create", "tabme", "-n", "2", "-e", "1h")
    assert created.returncode == 0, created.stderr
    monkeypatch.setenv("IGOR_SERVER", server)
    monkeypatch.setenv("IGOR_CLIENT_HOME", str(igor.home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("IGOR_CLIENT_CONFIG", raising=False)

    settings = ShellSettings(refresh=0, paging="never")
    out, err = io.StringIO(), io.StringIO()
    values = LiveValues()
    with create_pipe_input() as pipe:
        done: list[int] = []
        shell = threading.Thread(target=lambda: done.append(run(
            batch_executor(settings, out), history=InMemoryHistory(), settings=settings, home=igor.home,
            values=values, input=pipe, output=DummyOutput(), err=err)), daemon=True)
        shell.start()
        _wait_for(lambda: "tabme" in values.get("reservation"))  # fetched by the shell's own start-up
        assert values.get("cluster") == ("demo",)
        pipe.send_text("res show\r")
        _wait_for(lambda: "tabme" in out.getvalue())  # res show went through the batch CLI
        for keys in ("res del tab", "\t", "\r", "y\r"):  # typed as a person would, after the shell caught up
            time.sleep(0.4)
            pipe.send_text(keys)
        _wait_for(lambda: "igor: success" in out.getvalue() or "igor:" in err.getvalue())
        pipe.send_text("\x04")
        shell.join(30)
    assert done == [0], err.getvalue()
    assert "invalid choice" not in err.getvalue()  # the "y" answered the confirmation, not the prompt
    assert "igor: success" in out.getvalue(), out.getvalue() + err.getvalue()
    assert igor.json("res", "show")["reservations"] == []
