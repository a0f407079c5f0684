"""Completion for the shell, driven by :data:`igor.cli.grammar.GRAMMAR` (nouns, verbs, flags, choices) plus live
object names (reservations, hosts, groups, users, policies) fetched from the server in a background thread.

:class:`LiveValues` builds a whole new name table off the UI thread and swaps it in with one assignment, so the
completer always reads a complete, consistent snapshot and never blocks on the network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from igor.cli.grammar import GRAMMAR, Flag, Noun, Verb

#: Flags every command accepts (added by the batch CLI's parser, not the table).
COMMON_FLAGS: tuple[Flag, ...] = (
    Flag("json", None, "bool", "print the server's answer data as one JSON document"),
    Flag("simple", "x", "bool", "plain output: no colour or box drawing"),
)

#: Words the shell itself understands.
SHELL_WORDS: dict[str, str] = {"exit": "leave the shell", "help": "list the commands"}


class Caller(Protocol):
    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None) -> Any: ...


def _names(items: Iterable[Any]) -> list[str]:
    return [str(i["name"]) for i in items if isinstance(i, dict) and i.get("name")]


#: value kind → (path, query, how to pull the names out of the answer's data)
SOURCES: dict[str, tuple[str, dict[str, Any] | None, Any]] = {
    "reservation": ("/igor/reservations", {"all": True}, lambda d: _names(d.get("reservations") or [])),
    "host": ("/igor/hosts", None, lambda d: _names(d.get("hosts") or [])),
    "group": ("/igor/groups", None,
              lambda d: _names((d.get("owner") or []) + (d.get("member") or []) + (d.get("groups") or []))),
    "user": ("/igor/users", None, lambda d: _names(d.get("users") or [])),
    "policy": ("/igor/hostpolicy", None, lambda d: _names(d.get("hostPolicies") or [])),
    "distro": ("/igor/distros", None, lambda d: _names(d.get("distros") or [])),
    "profile": ("/igor/profiles", None, lambda d: _names(d.get("profiles") or [])),
    "image": ("/igor/images", None, lambda d: _names(d.get("distroImages") or [])),
    "kickstart": ("/igor/kickstart", None, lambda d: _names(d.get("kickstarts") or [])),
}


def fetch_values(client: Caller) -> dict[str, tuple[str, ...]]:
    """One fresh name table from the server; a source that fails (not logged in, no rights) is left empty.

    Besides the object names it holds ``cluster`` (the cluster's name, from the hosts) and ``elevation`` for the
    toolbar: ``always`` for igor-admin, ``0`` when not elevated, else the epoch second the elevation ends.
    """
    table: dict[str, tuple[str, ...]] = {}
    for kind, (path, query, pull) in SOURCES.items():
        try:
            resp = client.call("GET", path, query=query)
            table[kind] = tuple(sorted(set(pull(resp.data or {}))))
            if kind == "host":
                hosts = (resp.data or {}).get("hosts") or [{}]
                table["cluster"] = (str(hosts[0].get("cluster") or ""),) if isinstance(hosts[0], dict) else ()
        except Exception:  # noqa: BLE001 - completion is best effort; the command itself reports errors
            table[kind] = ()
    try:  # non-admins get a refusal, which leaves it blank
        resp = client.call("GET", "/igor/elevate", query=None)
        until = (resp.data or {}).get("elevatedUntil") or 0
        table["elevation"] = ("always",) if "does not require" in str(resp.message) else (str(int(until)),)
    except Exception:  # noqa: BLE001
        table["elevation"] = ()
    return table


class LiveValues:
    """The current name table, refreshed in a daemon thread and swapped atomically."""

    def __init__(self, client: Caller | None = None, initial: Mapping[str, Iterable[str]] | None = None) -> None:
        self.client = client  # may be set later, by the shell's background start-up
        self._table: Mapping[str, tuple[str, ...]] = {k: tuple(v) for k, v in (initial or {}).items()}
        self._lock = threading.Lock()  # one refresh at a time; readers never take it
        self._thread: threading.Thread | None = None

    def get(self, kind: str | None) -> tuple[str, ...]:
        return self._table.get(kind or "", ())

    def refresh(self) -> None:
        """Fetch synchronously and swap the new table in."""
        if self.client is None or not self._lock.acquire(blocking=False):
            return
        try:
            self._table = fetch_values(self.client)
        finally:
            self._lock.release()

    def refresh_in_background(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.refresh, name="igor-shell-completion", daemon=True)
        self._thread.start()
        return self._thread


def _find_flag(flags: Iterable[Flag], word: str) -> Flag | None:
    for f in flags:
        if word == f"--{f.name}" or (f.short and word == f"-{f.short}"):
            return f
    return None


def _match(word: str, candidates: Iterable[tuple[str, str]], start: int) -> Iterator[Completion]:
    for text, meta in candidates:
        if text.startswith(word) and text != word:
            yield Completion(text, start_position=start, display_meta=meta)


class IgorCompleter(Completer):
    """Completes ``noun verb [flags]`` from the grammar and object names from :class:`LiveValues`."""

    def __init__(self, values: LiveValues | None = None, grammar: tuple[Noun, ...] = GRAMMAR) -> None:
        self.values = values or LiveValues()
        self.grammar = grammar

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        words = text.split()
        current = "" if not words or text[-1].isspace() else words.pop()
        start = -len(current)
        if not words:
            yield from _match(current, [(n.name, n.help) for n in self.grammar] + list(SHELL_WORDS.items()), start)
            return
        noun = next((n for n in self.grammar if n.name == words[0]), None)
        if noun is None:
            return
        if noun.is_command:
            verb, rest = noun.verbs[0], words[1:]
        elif len(words) == 1:
            yield from _match(current, [(v.name, v.help) for v in noun.verbs], start)
            return
        else:
            try:
                verb, rest = noun.verb(words[1]), words[2:]
            except KeyError:
                return
        yield from self._arguments(verb, rest, current, start)

    def _arguments(self, verb: Verb, rest: list[str], current: str, start: int) -> Iterator[Completion]:
        flags = verb.flags + tuple(c for c in COMMON_FLAGS if all(f.name != c.name for f in verb.flags))
        used: set[str] = set()
        positional_done, pending = 0, None
        for word in rest:
            if pending is not None:
                pending = None
                continue
            flag = _find_flag(flags, word)
            if flag is not None:
                used.add(flag.name)
                pending = flag if flag.kind != "bool" else None
            elif not word.startswith("-"):
                positional_done += 1
        if pending is not None:
            yield from self._values(pending, current)
            return
        if current.startswith("-"):
            options = [f for f in flags if not f.positional and f.name not in used]
            yield from _match(current, [(f"--{f.name}", f.help) for f in options], start)
            if not current.startswith("--"):
                yield from _match(current, [(f"-{f.short}", f.help) for f in options if f.short], start)
            return
        positionals = [f for f in verb.flags if f.positional]
        if positional_done < len(positionals):
            yield from self._values(positionals[positional_done], current)

    def _values(self, flag: Flag, current: str) -> Iterator[Completion]:
        if flag.choices:
            yield from _match(current, [(c, flag.help) for c in flag.choices], -len(current))
            return
        # in a comma list only the last item is being typed
        part = current.rsplit(",", 1)[-1] if flag.kind in ("list", "hosts", "nodes") else current
        yield from _match(part, [(name, flag.values or "") for name in self.values.get(flag.values)], -len(part))
