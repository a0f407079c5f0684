"""The ``igor>`` read-eval-print loop: reads a line, splits it with :mod:`shlex` and runs it exactly like
``igor <line>`` (the batch CLI's :func:`igor.cli.main.main`), asking first for destructive verbs.
Completion, key bindings and the toolbar live in their own modules.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from igor_shell.completer import IgorCompleter, LiveValues
from igor_shell.confirm import question
from igor_shell.key_bindings import build_key_bindings
from igor_shell.toolbar import make_toolbar

Executor = Callable[[list[str]], Any]


def _batch(argv: list[str]) -> int:
    from igor.cli.main import main

    return main(argv)


def _default_client() -> tuple[Any, str, Path | None]:
    """The client the batch CLI would use, its server URL and the client home (for history)."""
    try:
        from igor.client import ClientConfig, IgorClient, TokenStore, client_home

        config, home = ClientConfig.load(), client_home()
        return IgorClient(config.server_url, TokenStore(home), ca_file=config.ca_cert), config.server_url, home
    except Exception:  # noqa: BLE001 - no config yet: the shell still runs, commands report the problem
        return None, "(no server configured)", None


def _history(home: Path | None) -> History:
    if home is None:
        return InMemoryHistory()
    try:
        home.mkdir(parents=True, exist_ok=True)
        return FileHistory(str(home / "shell_history"))
    except OSError:
        return InMemoryHistory()


def run(executor: Executor | None = None, *, client: Any = None, server_url: str | None = None,
        history: History | None = None, input: Any = None, output: Any = None, err: TextIO | None = None) -> int:
    """Run the shell until Ctrl-D or ``exit``; returns 0.

    Args:
        executor: Runs one split line (default: the batch CLI's ``main``).
        client: Fetches completion values (default: the batch CLI's client).
        server_url: Shown in the toolbar.
        history: Line history (default: ``shell_history`` in the client home).
        input, output: prompt_toolkit input/output (tests pass a pipe input and ``DummyOutput``).
        err: Where the shell's own messages go.
    """
    err = err or sys.stderr
    home = None
    if client is None:
        client, url, home = _default_client()
        server_url = server_url or url
    values = LiveValues(client)
    tokens = getattr(client, "tokens", None)
    toolbar = make_toolbar(lambda: tokens.user() if tokens else None, server_url or "",
                           lambda: " ".join(values.get("elevation")))
    session: PromptSession[str] = PromptSession(
        "igor> ", completer=IgorCompleter(values), complete_while_typing=True, auto_suggest=AutoSuggestFromHistory(),
        history=history or _history(home), bottom_toolbar=toolbar, key_bindings=build_key_bindings(),
        input=input, output=output)
    ask: PromptSession[str] = PromptSession(input=input, output=output, history=InMemoryHistory())
    values.refresh_in_background()
    execute = executor or _batch
    while True:
        try:
            line = session.prompt()
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        try:
            argv = shlex.split(line)
        except ValueError as problem:
            print(f"igor: {problem}", file=err)
            continue
        if not argv:
            continue
        if argv[0] in ("exit", "quit"):
            return 0
        if argv[0] == "help":
            argv = ["--help"]
        text = question(argv)
        if text is not None:
            try:
                answer = ask.prompt(text)
            except (KeyboardInterrupt, EOFError):
                answer = ""
            if answer.strip().lower() not in ("y", "yes"):
                print("igor: not done", file=err)
                continue
        try:
            execute(argv)
        except KeyboardInterrupt:
            print("", file=err)
        except Exception as bug:  # noqa: BLE001 - the shell keeps running; the user sees a message
            print(f"igor: {bug}", file=err)
        values.refresh_in_background()  # names may have changed
