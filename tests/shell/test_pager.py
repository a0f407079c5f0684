"""When output is paged, with which command, and that the pager really receives the text."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from igor_shell import pager


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_needs_paging() -> None:
    short, tall = "a\nb\n", "\n".join(str(i) for i in range(30))
    assert not pager.needs_paging(short, 24, 80)
    assert pager.needs_paging(tall, 24, 80)
    assert pager.needs_paging("x" * 81, 24, 80)
    assert not pager.needs_paging("\x1b[31m" + "x" * 80 + "\x1b[0m", 24, 80)  # colour codes take no width
    assert not pager.needs_paging(tall, 24, 80, "never")
    assert pager.needs_paging(short, 24, 80, "always")
    assert not pager.needs_paging("", 24, 80, "always")


def test_pager_command() -> None:
    assert pager.pager_command("", {}) == ["less", "-SRXF"]
    assert pager.pager_command("", {"PAGER": "more"}) == ["more"]
    assert pager.pager_command("most -s", {"PAGER": "more"}) == ["most", "-s"]


def test_long_output_goes_through_the_pager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINES", "10")
    monkeypatch.setenv("COLUMNS", "80")
    seen = tmp_path / "paged.txt"
    command = f"{sys.executable} -c \"import sys; open(r'{seen}', 'w').write(sys.stdin.read())\""
    out = Terminal()
    text = "".join(f"line {i}\n" for i in range(50))
    pager.show(text, out, setting=command)
    assert seen.read_text() == text and out.getvalue() == ""
    pager.show("short\n", out, setting=command)
    assert out.getvalue() == "short\n"


def test_no_pager_when_not_a_terminal_or_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINES", "10")
    text = "".join(f"line {i}\n" for i in range(50))
    plain = io.StringIO()
    pager.show(text, plain, setting="definitely-not-a-pager-xyz")
    assert plain.getvalue() == text
    out = Terminal()
    pager.show(text, out, setting="definitely-not-a-pager-xyz")  # missing pager: printed instead
    assert out.getvalue() == text
