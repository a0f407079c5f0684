"""Turning a parsed command (a grammar :class:`~igor.cli.grammar.Verb` plus the values typed) into an API call,
and running it: :func:`build_request` checks and converts every value client-side (bad durations, datetimes and
node expressions are :class:`UsageError`), :func:`execute` sends it and returns a :class:`Result` — data, not
text, so the batch CLI and the shell render it the same way.
"""

from __future__ import annotations

import getpass
import os
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from igor.cli.grammar import Flag, Verb
from igor.client import IgorClient, Response
from igor.multipart import Progress


class UsageError(Exception):
    """The command line is wrong (exit status 2)."""


@dataclass(frozen=True)
class Request:
    """One API call."""

    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    files: dict[str, Path] | None = None  # not None: multipart/form-data (body fields as text parts)


@dataclass(frozen=True)
class Result:
    """What a command produced: the server's message and data, and how to render them."""

    message: str
    data: dict[str, Any]
    render: str = "message"
    server_time: str = ""


def convert(flag: Flag, raw: Any, tz: str | None) -> tuple[str, Any]:
    """Check and convert one typed value; returns ``(api field, value)``.

    Raises:
        UsageError: The value does not parse as the flag's kind (message says what was expected).
    """
    from igor.errors import BadInput
    from igor.nodeset import NodeList
    from igor.timefmt import parse_datetime, parse_duration

    param = flag.param or flag.dest
    opt = flag.name if flag.positional else f"--{flag.name}"
    text = raw.strip() if isinstance(raw, str) else raw
    try:
        if flag.kind == "bool":
            return param, bool(raw)
        if flag.kind == "int":
            try:
                return param, int(text)
            except ValueError:
                raise UsageError(f"{opt}: '{raw}' is not a whole number") from None
        if flag.kind == "duration":
            parse_duration(text)
            return param, text
        if flag.kind == "datetime":
            return param, parse_datetime(text, tz) * 60
        if flag.kind == "when":
            try:
                parse_duration(text)
                return param, text
            except BadInput:
                try:
                    return param, parse_datetime(text, tz) * 60
                except BadInput as err:
                    raise UsageError(f"{opt}: '{raw}' is neither a duration (90, 3d, 5h32m) nor a datetime "
                                     f"({err})") from None
        if flag.kind == "hosts":
            NodeList.parse(text)
            return param, text
        if flag.kind == "nodes":
            if text.isdigit():
                if int(text) < 1:
                    raise UsageError(f"{opt}: a node count must be at least 1")
                return flag.count_param or param, int(text)
            NodeList.parse(text)
            return param, text
        if flag.kind == "list":
            return param, [part.strip() for part in str(text).split(",") if part.strip()]
        if flag.kind == "file":
            path = Path(str(text)).expanduser()
            if not path.is_file():
                raise UsageError(f"{opt}: {raw}: no such file" if not path.exists() else f"{opt}: {raw}: not a file")
            if not os.access(path, os.R_OK):
                raise UsageError(f"{opt}: {raw}: not readable")
            return param, path
        if flag.kind == "choice" and text not in flag.choices:
            raise UsageError(f"{opt}: '{raw}' is not one of {', '.join(flag.choices)}")
        return param, text
    except BadInput as err:
        raise UsageError(f"{opt}: {err}") from None


def build_request(verb: Verb, values: dict[str, Any], *, tz: str | None = None) -> Request:
    """The API call for ``verb`` with the typed ``values`` (keyed by :attr:`Flag.dest`)."""
    method, path = verb.method, verb.path
    for alt in verb.alts:
        if values.get(alt.flag.replace("-", "_")):
            method, path = alt.method, alt.path
    query: dict[str, Any] = {}
    body: dict[str, Any] = dict(verb.fixed)
    files: dict[str, Path] = {}
    for flag in verb.flags:
        raw = values.get(flag.dest)
        if raw is None or raw is False:
            if flag.default is not None and flag.param:
                (query if flag.to == "query" else body)[flag.param] = flag.default
            continue
        if flag.param is None:
            continue
        param, value = convert(flag, raw, tz)
        if flag.to == "path":
            path = path.replace("{" + param + "}", urllib.parse.quote(str(value), safe=""))
        elif flag.to == "query":
            query[param] = value
        elif flag.kind == "file":
            files[param] = value
        else:
            body[param] = value
    if "{" in path:
        raise UsageError(f"missing argument for {path}")
    send_body = method in ("POST", "PUT", "PATCH")
    multipart = send_body and (verb.multipart or bool(files))
    return Request(method, path, query, body if send_body else None, files if multipart else None)


def prepare(key: str, verb: Verb, values: dict[str, Any], *, user: str | None) -> dict[str, Any]:
    """Per-command rules the table cannot express; returns the values to build the request from."""
    values = dict(values)
    if key == "res create" and values.get("kernel_args") and values.get("profile"):
        raise UsageError("kernel args cannot be added to an existing profile when creating a new reservation "
                         "-- edit the profile first")
    if key == "distro create" and values.get("distro"):
        values.update(folder_pair(values))
    if key in ("image register", "distro create"):  # refused here, before a possibly large upload starts
        _pairs(key, values)
    if key.startswith("power ") and not values.get("nodes") and not values.get("res"):
        raise UsageError(f"{key} needs the nodes (-n NODES) or a reservation (-r RES)")
    if key == "user show" and not values.get("all") and not values.get("names"):
        if user:
            values["names"] = user
    if key == "user edit":
        if not values.get("name"):
            if not user:
                raise UsageError("no user to edit: give -n NAME or log in first")
            values["name"] = user
    if key == "show":
        if (values.get("current") or values.get("error")) and values.get("future"):
            raise UsageError("excluded all current and future reservations")
        if values.get("filter_name") and values.get("filter_owner"):
            raise UsageError("can't filter by reservation and owner at same time")
        if values.get("group") and values.get("all"):
            raise UsageError("show group-only not compatible with show all reservations")
    return values


#: v2's client message when ``image register`` names neither uploads nor staged files.
NO_IMAGE_FILES = ("paths to either uploadable kernel/initrd files or staged files names are required for image "
                  "registration")


def _pairs(key: str, values: dict[str, Any]) -> None:
    """``--kernel``/``--initrd`` (and ``--kstaged``/``--istaged``) go together."""
    pairs = (("kernel", "initrd"), ("kstaged", "istaged"))
    for first, second in pairs:
        if bool(values.get(first)) != bool(values.get(second)):
            given, missing = (first, second) if values.get(first) else (second, first)
            raise UsageError(f"--{given} needs --{missing}: give both")
    if key == "image register" and not any(values.get(k) for pair in pairs for k in pair):
        raise UsageError(NO_IMAGE_FILES)


#: How ``distro create -d FOLDER`` tells a kernel and an initrd by file name (case aside): a suffix first (v2's
#: client wanted uploads named *.kernel and *.initrd), else a prefix as distributions name them.
KERNEL_SUFFIX, INITRD_SUFFIX = ".kernel", ".initrd"
KERNEL_PREFIXES = ("vmlinuz", "vmlinux", "bzimage", "linux")
INITRD_PREFIXES = ("initrd", "initramfs")


def _kind_of(name: str) -> str | None:
    low = name.lower()
    if low.endswith(KERNEL_SUFFIX):
        return "kernel"
    if low.endswith(INITRD_SUFFIX):
        return "initrd"
    if low.startswith(INITRD_PREFIXES):
        return "initrd"
    if low.startswith(KERNEL_PREFIXES):
        return "kernel"
    return None


def folder_pair(values: dict[str, Any]) -> dict[str, str]:
    """``distro create -d FOLDER``: the folder's one kernel and one initrd, as ``--kernel``/``--initrd`` values.

    Igor v2's client sent the folder as a ``dPath`` field its server refused (reference §11 item 13); here the
    folder is resolved on the client, so the request is exactly the ``--kernel K --initrd I`` upload.

    Raises:
        UsageError: also ``--kernel``/``--initrd``/``--kstaged``/``--istaged`` given; not a folder; not exactly
            one kernel and one initrd in it (hidden files and sub-folders are not looked at).
    """
    raw = str(values["distro"])
    clash = [f"--{k}" for k in ("kernel", "initrd", "kstaged", "istaged") if values.get(k)]
    if clash:
        raise UsageError(f"-d/--distro cannot be combined with {', '.join(clash)}: the folder gives the kernel and "
                         "the initrd")
    folder = Path(raw).expanduser()
    if not folder.is_dir():
        raise UsageError(f"-d/--distro: {raw}: " + ("not a folder" if folder.exists() else "no such folder"))
    found: dict[str, list[str]] = {"kernel": [], "initrd": []}
    for entry in sorted(folder.iterdir()):
        kind = _kind_of(entry.name)
        if kind and not entry.name.startswith(".") and entry.is_file():
            found[kind].append(entry.name)
    if len(found["kernel"]) != 1 or len(found["initrd"]) != 1:
        def listed(names: list[str]) -> str:
            return ", ".join(names) if names else "none"

        raise UsageError(f"-d/--distro: {raw} must hold exactly one kernel (*.kernel, vmlinuz*, vmlinux*, bzImage*, "
                         "linux*) and one initrd (*.initrd, initrd*, initramfs*); found kernels: "
                         f"{listed(found['kernel'])}; initrds: {listed(found['initrd'])} (use --kernel and --initrd)")
    return {"kernel": str(folder / found["kernel"][0]), "initrd": str(folder / found["initrd"][0])}


def _new_password(values: dict[str, Any], stdin: TextIO | None) -> tuple[str, str] | None:
    """``user edit --password`` (prompts) or ``--password-stdin`` (two lines): the current and the new password."""
    if values.get("password_stdin"):
        source = stdin or sys.stdin
        old, new = source.readline().rstrip("\r\n"), source.readline().rstrip("\r\n")
        if not old or not new:
            raise UsageError("--password-stdin needs two lines on standard input: the current and the new password")
        return old, new
    if values.get("password"):
        old = getpass.getpass("current password: ")
        new = getpass.getpass("new password: ")
        if getpass.getpass("new password again: ") != new:
            raise UsageError("the new passwords do not match")
        return old, new
    return None


def execute(client: IgorClient, key: str, verb: Verb, values: dict[str, Any], *, tz: str | None = None,
            stdin: TextIO | None = None, progress: Progress | None = None) -> Result:
    """Run one server command and return its result (``stdin``: where ``--password-stdin`` reads from;
    ``progress``: called with (bytes sent, bytes in all) during an upload).

    Raises:
        UsageError: A value is wrong.
        ApiError / ConnectionFailed: From the client.
    """
    values = prepare(key, verb, values, user=client.tokens.user())
    request = build_request(verb, values, tz=tz)
    if values.get("password") and values.get("password_stdin"):
        raise UsageError("use one of --password and --password-stdin")
    change = _new_password(values, stdin) if key == "user edit" else None
    if change is not None and request.body is not None:
        request.body.update({"oldPassword": change[0], "password": change[1]})
    resp: Response = client.call(request.method, request.path, query=request.query or None, body=request.body,
                                 files=request.files, progress=progress)
    if change is not None:
        client.tokens.clear()  # Igor v2: a changed password ends the session
    return Result(resp.message, resp.data, verb.render, resp.server_time)
