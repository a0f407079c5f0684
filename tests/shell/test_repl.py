"""The whole REPL through a pipe input and ``DummyOutput``, with a fake executor."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from igor_shell.config import ShellSettings
from igor_shell.confirm import question
from igor_shell.repl import run

QUIET = ShellSettings(refresh=0)


@pytest.fixture
def shell(tmp_path: Path) -> Iterator:
    with create_pipe_input() as pipe:
        ran: list[list[str]] = []
        err = io.StringIO()

        def go(keys: str) -> int:
            pipe.send_text(keys)
            pipe.close()
            return run(ran.append, client=object(), server_url="https://igor:8443", history=InMemoryHistory(),
                       settings=QUIET, home=tmp_path, input=pipe, output=DummyOutput(), err=err)

        yield go, ran, err


def test_round_trip(shell) -> None:
    go, ran, _ = shell
    assert go('res create demo -n 4 --desc "two words"\r\x04') == 0
    assert ran == [["res", "create", "demo", "-n", "4", "--desc", "two words"]]


def test_confirm_no_then_yes(shell) -> None:
    go, ran, err = shell
    go("res del demo\rn\rres del demo\ry\r\x04")
    assert ran == [["res", "del", "demo"]]
    assert "not done" in err.getvalue()


def test_ctrl_c_cancels_line(shell) -> None:
    go, ran, _ = shell
    go("res del half\x03host show\r\x04")
    assert ran == [["host", "show"]]


def test_ctrl_d_and_exit(shell) -> None:
    go, ran, _ = shell
    assert go("\x04res show\r") == 0
    assert ran == []


def test_exit_word_and_bad_quotes(shell) -> None:
    go, ran, err = shell
    go('res show "open\rexit\rres show\r')
    assert ran == []
    assert "closing quotation" in err.getvalue()


def test_executor_failure_is_a_message(tmp_path: Path) -> None:
    with create_pipe_input() as pipe:
        err = io.StringIO()

        def boom(argv: list[str]) -> int:
            raise RuntimeError("server said no")

        pipe.send_text("res show\r\x04")
        assert run(boom, client=object(), history=InMemoryHistory(), settings=QUIET, home=tmp_path, input=pipe,
                   output=DummyOutput(), err=err) == 0
    assert "igor: server said no" in err.getvalue()


def test_questions() -> None:
    assert question(["res", "del", "demo"]) == "Really delete reservation demo? [y/N] "
    assert question(["host", "block", "kn[1-4]"]) == "Really block hosts kn[1-4]? [y/N] "
    assert question(["user", "del", "bob"]) == "Really delete user bob? [y/N] "
    assert question(["power", "off", "-n", "kn[1-4]"]) == "Really power off nodes kn[1-4]? [y/N] "
    assert question(["power", "cycle", "-r", "exp1"]) == "Really power-cycle the nodes of reservation exp1? [y/N] "
    assert question(["power", "on", "-n", "kn1"]) is None
    assert question(["res", "show"]) is None
    assert question(["res", "del", "--help"]) is None


def test_ctrl_r_finds_an_earlier_line(tmp_path: Path) -> None:
    history = InMemoryHistory()
    for line in ("res show -a", "host show", "res create old -n 2"):
        history.append_string(line)
    ran: list[list[str]] = []
    with create_pipe_input() as pipe:
        pipe.send_text("\x12res sh\r\r\x04")  # Ctrl-R, type, Enter ends the search, Enter runs the line
        run(ran.append, client=object(), history=history, settings=QUIET, home=tmp_path, input=pipe,
            output=DummyOutput(), err=io.StringIO())
    assert ran == [["res", "show", "-a"]]


def test_help_words(shell) -> None:
    go, ran, _ = shell
    go("help\rhelp res create\r\x04")
    assert ran == [["--help"], ["res", "create", "--help"]]
