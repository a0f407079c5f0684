"""``igor``, the batch client: argparse parsers built from :data:`igor.cli.grammar.GRAMMAR`, the session commands
(login, logout, last), the login prompt and replay when the token is missing or expired, ``--json`` output and
the exit status (0 success, 1 refused or failed, 2 usage).
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any, TextIO

from igor import __version__
from igor.cli import render
from igor.cli.commands import Result, UsageError, execute
from igor.cli.grammar import GRAMMAR, Flag, Noun, Verb
from igor.cli.progress import WaitNotice
from igor.client import ApiError, ClientConfig, ClientError, IgorClient, TokenStore, client_home
from igor.errors import BadInput

LOGIN_HINT = "log in with 'igor login'"


class _Parser(argparse.ArgumentParser):
    """Usage errors raise instead of exiting, so ``main`` can return 2 (and the shell can keep running)."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message}\n{self.format_usage().rstrip()}")


# --- parsers from the grammar --------------------------------------------------------------------------------


def _add_flag(parser: argparse.ArgumentParser | Any, flag: Flag) -> None:
    help_ = f"[admin-only] {flag.help}" if flag.admin else flag.help
    if flag.positional:
        parser.add_argument(flag.dest, metavar=flag.name.upper(), help=help_,
                            nargs=None if flag.required else "?")
        return
    names = ([f"-{flag.short}"] if flag.short else []) + [f"--{flag.name}"]
    if flag.kind == "bool":
        parser.add_argument(*names, dest=flag.dest, action="store_true", help=help_)
        return
    kwargs: dict[str, Any] = {"dest": flag.dest, "help": help_, "required": flag.required,
                              "metavar": flag.kind.upper() if flag.kind != "choice" else None}
    if flag.choices:
        kwargs["choices"] = flag.choices
        kwargs.pop("metavar")
    parser.add_argument(*names, **kwargs)


def _add_common(parser: argparse.ArgumentParser, verb: Verb | None, *, root: bool) -> None:
    default: Any = False if root else argparse.SUPPRESS
    parser.add_argument("--json", action="store_true", default=default,
                        help="print the server's answer data as one JSON document")
    flags = verb.flags if verb else ()
    if not any(f.name == "simple" for f in flags):
        names = ["--simple"] if any(f.short == "x" for f in flags) else ["-x", "--simple"]
        parser.add_argument(*names, action="store_true", default=default,
                            help="plain output: no colour or box drawing")
    parser.add_argument("--config", default=None if root else argparse.SUPPRESS, metavar="FILE",
                        help="client config file (igor.yaml)")


def _fill_verb(parser: argparse.ArgumentParser, verb: Verb) -> None:
    # argparse's usage formatter breaks ("empty group") unless a group's members are added one after another
    done: set[str] = set()
    for flag in verb.flags:
        if not flag.exclusive:
            _add_flag(parser, flag)
        elif flag.exclusive not in done:
            done.add(flag.exclusive)
            group = parser.add_mutually_exclusive_group()
            for member in verb.flags:
                if member.exclusive == flag.exclusive:
                    _add_flag(group, member)
    _add_common(parser, verb, root=False)


def build_parser() -> argparse.ArgumentParser:
    """The whole ``igor`` command line, from the grammar table."""
    root = _Parser(prog="igor", description="Igor: reserve nodes of a shared cluster.")
    root.add_argument("-v", "--version", action="version", version=f"igor {__version__}")
    _add_common(root, None, root=True)
    nouns = root.add_subparsers(dest="_noun", metavar="COMMAND", parser_class=_Parser)
    for noun in GRAMMAR:
        sub = nouns.add_parser(noun.name, help=noun.help, description=noun.help)
        if noun.is_command:
            _fill_verb(sub, noun.verbs[0])
            continue
        _add_common(sub, None, root=False)
        verbs = sub.add_subparsers(dest="_verb", metavar="VERB", parser_class=_Parser)
        for verb in noun.verbs:
            help_ = f"[admin-only] {verb.help}" if verb.admin else verb.help
            _fill_verb(verbs.add_parser(verb.name, help=help_, description=help_), verb)
    return root


# --- the run ---------------------------------------------------------------------------------------------------


def local_zone() -> str:
    """The local IANA zone name (``$TZ``, else ``/etc/localtime``), else ``UTC``."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if (tz and "/" in tz) or tz == "UTC":
        return tz
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


class Session:
    """One invocation's context: config, client, output streams and presentation choices."""

    def __init__(self, ns: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> None:
        self.ns = ns
        self.out, self.err, self.stdin = out, err, stdin
        self.json = bool(getattr(ns, "json", False))
        self.simple = bool(getattr(ns, "simple", False))
        self.color = (not self.simple and not self.json and not getattr(ns, "no_color", False)
                      and "NO_COLOR" not in os.environ and out.isatty())
        self.config = ClientConfig.load(getattr(ns, "config", None))
        self.tz = self.config.timezone or local_zone()
        self.tokens = TokenStore(client_home())
        self.client = IgorClient(self.config.server_url, self.tokens, ca_file=self.config.ca_cert)

    @property
    def interactive(self) -> bool:
        return self.stdin.isatty()

    def say(self, text: str) -> None:
        print(text, file=self.out)

    def fail(self, text: str, *, server_error: bool = False) -> int:
        print(render.message(text, ok=False, server_error=server_error, color=self.color), file=self.err)
        return 1


def _ask_user(session: Session, given: str | None) -> str:
    if given:
        return given
    os_user = getpass.getuser()
    session.err.write(f"igor username (enter = {os_user}) : ")
    session.err.flush()
    line = session.stdin.readline().strip()
    return line or os_user


def _login(session: Session, user: str | None, password_stdin: bool) -> Result:
    if password_stdin:
        if not user:
            raise UsageError("--password-stdin needs -u NAME")
        password = session.stdin.readline().rstrip("\r\n")
    elif session.interactive:
        user = _ask_user(session, user)
        label = "igor-admin" if user == "igor-admin" else "igor"
        password = getpass.getpass(f"{label} password: ")
    else:
        raise ClientError("no terminal to ask for a password: use 'igor login -u NAME --password-stdin'")
    assert user is not None
    with WaitNotice(session.err):
        resp = session.client.login(user, password)
    data = {k: v for k, v in resp.data.items() if k != "token"}  # the token stays in the token file
    return Result(resp.message or f"login successful for user '{data.get('user', user)}'", data)


def _logout(session: Session) -> Result:
    with WaitNotice(session.err):
        resp = session.client.logout()
    return Result(resp.message or "auth session closed", resp.data)


def _last(session: Session) -> Result:
    user, when = session.tokens.user(), session.tokens.last_access()
    if not user or when is None:
        return Result("no login recorded on this client yet", {})
    try:
        import pwd
        full = pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0] or getpass.getuser()
    except (ImportError, KeyError):
        full = getpass.getuser()
    stamp = formatdate(when, usegmt=True)
    text = (f"last access by {full} as '{user}' at {stamp}.\n"
            f"The next command uses this login while its token is valid; else igor asks you to log in.")
    return Result(text, {"user": user, "lastAccess": int(when), "osUser": full})


LOCAL: dict[str, Callable[..., Result]] = {"logout": _logout, "last": _last}


def _print_result(session: Session, key: str, verb: Verb, result: Result) -> None:
    if session.json:
        session.say(render.pretty_json(result.data))
        return
    now = int(time.time())
    if verb.render == "message":
        if key in ("last",):
            session.say(result.message)
        elif key == "res create" and not result.message:
            session.say(render.message(render.created(result.data, tz=session.tz), color=session.color))
        else:
            session.say(render.message(result.message, color=session.color))
    elif verb.render == "json":
        session.say(render.pretty_json(result.data))
    elif verb.render == "show":
        session.say(_show(session, result, now))
    else:
        session.say(render.TABLES[verb.render](result.data, tz=session.tz, now=now, simple=session.simple))


def _show(session: Session, result: Result, now: int) -> str:
    payload = result.data.get("show") or {}
    ns = session.ns
    flags = {f.dest: getattr(ns, f.dest, None) for f in GRAMMAR_SHOW.flags
             if f.dest not in ("simple", "no_color")}
    flags = {k: v for k, v in flags.items() if v}
    if importlib.util.find_spec("igor.cli.show") is not None:
        module = importlib.import_module("igor.cli.show")
        known = getattr(module, "SHOW_FLAGS", None)
        if isinstance(known, dict):
            flags = {k: v for k, v in flags.items() if k in known}
        text = module.render_show(payload, user=session.tokens.user() or "", groups=payload.get("groups") or [],
                                  color=session.color, simple=session.simple, tz=session.tz, now_epoch=now,
                                  flags=flags)
        return str(text).rstrip("\n")
    if not payload.get("hosts"):
        return "igor: a cluster must be configured first"
    if not flags.get("all"):
        me, mine = session.tokens.user(), set(payload.get("groups") or []) - {"all"}
        payload = {**payload, "reservations": [r for r in payload.get("reservations") or []
                                                if r.get("owner") == me or r.get("group") in mine]}
    return render.show_fallback(payload, tz=session.tz, now=now, simple=session.simple)


GRAMMAR_SHOW: Verb = next(n for n in GRAMMAR if n.name == "show").verbs[0]


def _run(session: Session, noun: Noun, verb: Verb) -> int:
    key = noun.name if noun.is_command else f"{noun.name} {verb.name}"
    values = vars(session.ns)
    if key == "login":
        result = _login(session, values.get("user"), bool(values.get("password_stdin")))
        _print_result(session, key, verb, result)
        return 0
    if key in LOCAL:
        _print_result(session, key, verb, LOCAL[key](session))
        return 0
    try:
        with WaitNotice(session.err) as notice:
            result = execute(session.client, key, verb, values, tz=session.tz, stdin=session.stdin,
                             progress=notice.update)
    except ApiError as err:
        if not err.auth_required:
            raise
        if not session.interactive:
            return session.fail(f"{err.message} - {LOGIN_HINT}")
        session.err.write(f"igor: {err.message}\n")
        _login(session, None, False)
        with WaitNotice(session.err) as notice:  # replay the original command
            result = execute(session.client, key, verb, values, tz=session.tz, stdin=session.stdin,
                             progress=notice.update)
    _print_result(session, key, verb, result)
    return 0


def main(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
         stdin: TextIO | None = None) -> int:
    """Run one ``igor`` command line; returns the exit status (0 ok, 1 refused or failed, 2 usage)."""
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    try:
        return _main(argv, out, err, stdin)
    except Exception as bug:  # noqa: BLE001 - the user sees a message, never a traceback
        print(f"igor: internal error ({type(bug).__name__}: {bug}); set IGOR_DEBUG=1 for details", file=err)
        if os.environ.get("IGOR_DEBUG"):
            raise
        return 1


def _main(argv: list[str] | None, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if not args:
        if importlib.util.find_spec("igor_shell") is not None:
            shell = importlib.import_module("igor_shell")
            return int(shell.main() or 0)
        parser.print_help(err)
        return 2
    try:
        try:
            ns = parser.parse_args(args)
        except SystemExit as stop:  # --help, --version
            return int(stop.code or 0)
        if not ns._noun:
            parser.print_help(err)
            return 2
        noun = next(n for n in GRAMMAR if n.name == ns._noun)
        if noun.is_command:
            verb = noun.verbs[0]
        elif not getattr(ns, "_verb", None):
            print(f"igor: {noun.name} needs a verb: {', '.join(v.name for v in noun.verbs)}", file=err)
            return 2
        else:
            verb = noun.verb(ns._verb)
        session = Session(ns, out, err, stdin)
    except UsageError as problem:
        print(f"igor: {problem}", file=err)
        return 2
    except ClientError as problem:
        print(f"igor: {problem.message}", file=err)
        return 1
    try:
        return _run(session, noun, verb)
    except UsageError as problem:
        print(f"igor: {problem}", file=err)
        return 2
    except ApiError as problem:
        return session.fail(problem.message, server_error=problem.status >= 500)
    except ClientError as problem:
        return session.fail(problem.message)
    except BadInput as problem:  # a value the renderer or a parser rejected
        print(f"igor: {problem}", file=err)
        return 2
    except (KeyboardInterrupt, EOFError):
        print("", file=err)
        return 1
    except BrokenPipeError:  # `igor show | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
