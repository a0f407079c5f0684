"""The ``igor>`` read-eval-print loop: reads a line, splits it with :mod:`shlex` and runs it exactly like
``igor <line>`` (the batch CLI's :func:`igor.cli.main.main`), asking first for destructive verbs and paging long
output. Completion, highlighting, key bindings, the toolbar, the pager and the settings live in their own modules.

Start-up is kept short: the prompt appears as soon as prompt_toolkit is loaded; the client configuration, the
batch CLI and the first completion values are loaded by a background thread while the user types.
"""

from __future__ import annotations

import io
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from igor.tokenstore import TokenStore, client_home
from igor_shell import config, pager
from igor_shell.completer import IgorCompleter, LiveValues
from igor_shell.confirm import question
from igor_shell.key_bindings import build_key_bindings
from igor_shell.lexer import STYLE, IgorLexer
from igor_shell.toolbar import Status, make_toolbar

Executor = Callable[[list[str]], Any]


class _Capture(io.StringIO):
    """Collects a command's standard output for the pager, answering ``isatty`` as the real output would (so
    colour choices are the same as without the shell)."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def batch_executor(settings: config.ShellSettings, out: TextIO | None = None) -> Executor:
    """Runs one line through the batch CLI, its output through the pager."""

    def execute(argv: list[str]) -> int:
        from igor.cli.main import main

        target = out or sys.stdout
        capture = _Capture(_is_tty(target))
        try:
            return main(argv, out=capture)
        finally:
            pager.show(capture.getvalue(), target, setting=settings.pager, mode=settings.paging)

    return execute


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _connect(values: LiveValues, status: Status) -> None:
    """Background start-up: the client the batch CLI would use, the first completion values, the batch CLI."""
    try:
        from igor.client import ClientConfig, IgorClient

        cfg = ClientConfig.load()
        status.server_url = cfg.server_url
        values.client = IgorClient(cfg.server_url, status.tokens, ca_file=cfg.ca_cert)
    except Exception as problem:  # noqa: BLE001 - no usable igor.yaml: commands will report it
        status.server_url = f"(client config: {getattr(problem, 'message', problem)})"
        return
    values.refresh()
    import igor.cli.main  # noqa: F401 - loaded now so the first command does not wait for it


def _history(home: Path | None) -> History:
    if home is None:
        return InMemoryHistory()
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return FileHistory(str(home / "shell_history"))
    except OSError:
        return InMemoryHistory()


def _refresher(values: LiveValues, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        values.refresh()


def run(executor: Executor | None = None, *, client: Any = None, server_url: str | None = None,
        history: History | None = None, settings: config.ShellSettings | None = None, home: Path | None = None,
        values: LiveValues | None = None, input: Any = None, output: Any = None, err: TextIO | None = None) -> int:
    """Run the shell until Ctrl-D or ``exit``; returns 0.

    Args:
        executor: Runs one split line (default: the batch CLI's ``main``, output paged).
        client: Fetches completion values (default: the batch CLI's client, made in the background).
        server_url: Shown in the toolbar.
        history: Line history (default: ``shell_history`` in the client home).
        settings: Shell settings (default: ``shell.yaml`` in the client home).
        home: The client home (default: ``$IGOR_CLIENT_HOME`` or ``~/.igor``).
        values: The completion table to fill (default: a new one).
        input, output: prompt_toolkit input/output (tests pass a pipe input and ``DummyOutput``).
        err: Where the shell's own messages go.
    """
    err = err or sys.stderr
    home = home or client_home()
    if settings is None:
        settings, problems = config.load(home)
        for problem in problems:
            print(f"igor: {problem}", file=err)
    tokens = getattr(client, "tokens", None) or TokenStore(home)
    status = Status(tokens=tokens, server_url=server_url or getattr(client, "base_url", "") or "…")
    values = values or LiveValues()
    values.client = values.client or client
    session: PromptSession[str] = PromptSession(
        "igor> ", completer=IgorCompleter(values), complete_while_typing=True, auto_suggest=AutoSuggestFromHistory(),
        history=history or _history(home), bottom_toolbar=make_toolbar(status, values),
        key_bindings=build_key_bindings(),
        lexer=IgorLexer(), style=STYLE, vi_mode=settings.vi, refresh_interval=5,
        input=input, output=output)
    asker: list[PromptSession[str]] = []  # made at the first confirmation: a session costs start-up time

    def ask(text: str) -> str:
        if not asker:
            asker.append(PromptSession(input=input, output=output, history=InMemoryHistory()))
        return asker[0].prompt(text)

    stop = threading.Event()

    def start_background() -> None:
        if client is None:
            threading.Thread(target=_connect, args=(values, status), name="igor-shell-connect", daemon=True).start()
        else:
            values.refresh_in_background()
        if settings.refresh > 0:
            threading.Thread(target=_refresher, args=(values, settings.refresh, stop), name="igor-shell-refresh",
                             daemon=True).start()

    try:
        _loop(session, ask, executor or batch_executor(settings), values, err, after_first_draw(start_background))
    finally:
        stop.set()
    return 0


def after_first_draw(start: Callable[[], None]) -> Callable[[], None]:
    """A ``pre_run`` hook that calls ``start`` once the prompt has been drawn, so background work (imports, the
    first fetch) does not compete for the interpreter with the first screen."""

    def pre_run() -> None:
        from prompt_toolkit.application.current import get_app

        async def later() -> None:
            start()

        get_app().create_background_task(later())

    return pre_run


def _loop(session: PromptSession[str], ask: Callable[[str], str], execute: Executor, values: LiveValues,
          err: TextIO, first: Callable[[], None]) -> None:
    pre_run: Callable[[], None] | None = first
    while True:
        hook, pre_run = pre_run, None
        try:
            line = session.prompt(pre_run=hook)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        try:
            argv = shlex.split(line)
        except ValueError as problem:
            print(f"igor: {problem}", file=err)
            continue
        if not argv:
            continue
        if argv[0] in ("exit", "quit"):
            return
        if argv[0] == "help":
            argv = [*argv[1:], "--help"]
        text = question(argv)
        if text is not None:
            try:
                answer = ask(text)
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
