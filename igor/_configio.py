"""Generic machinery behind :mod:`igor.config` and :mod:`igor.clusters`: YAML in, problems out.

This private module owns what reading a settings file needs but no one file defines:

* :func:`read_yaml` / :func:`read_yaml_file`: safe YAML that rejects duplicate keys and YAML 1.1 sexagesimal
  numbers, with syntax errors raised as :class:`ConfigError` naming the file, line and column;
* :class:`Problems`, which collects every problem in a file and raises them as one :class:`ConfigError`, and
  :func:`warn_clamp`, which logs a replaced value on ``igor.config``;
* the camelCase key table: :class:`_Key` (one camelCase key, its snake_case field, kind and default),
  :class:`_KeyTable`, :func:`_convert` (a file value checked against its kind) and :class:`_Reader` (a file's
  effective values by key, defaults filled in, secrets masked in problems);
* database URLs: :func:`db_bind_args` (URL to Pony ``bind`` arguments) and :func:`mask_url`.

The tables and rules of ``igor-server.yaml`` stay in :mod:`igor.config`, which re-exports the public names here;
import them from there.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from igor.errors import BadInput, IgorError
from igor.timefmt import parse_duration

log = logging.getLogger("igor.config")

MASK = "********"
_DB_PROVIDERS = {"postgresql": "postgres", "postgres": "postgres", "mysql": "mysql", "mariadb": "mysql"}


class ConfigError(IgorError):
    """A configuration file is missing, unreadable or invalid; the server refuses to start (HTTP 500).

    Attributes:
        problems: One line per problem; ``str(error)`` is these lines joined by newlines.
    """

    __module__ = "igor.config"  # its public home; defined here because the readers below raise it
    status = 500

    def __init__(self, message: str, *, problems: Iterable[str] = (), status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.problems: tuple[str, ...] = tuple(problems) or (message,)


# ---------------------------------------------------------------------------------------------
# YAML reading and problem reporting
# ---------------------------------------------------------------------------------------------

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML keeps the last silently, which would drop a host)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<: *defaults" followed by overrides is legitimate
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark
                        )
                    seen[key] = key_node.start_mark.line
                except TypeError:  # unhashable key: SafeConstructor reports it
                    pass
        return super().construct_mapping(node, deep)


# YAML 1.1 reads 52:54:00:00:00:01 as a base-60 integer; drop the sexagesimal forms (YAML 1.2 did too).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def read_yaml(text: str, source: str) -> Any:
    """Parse YAML text with Igor's loader (safe, no duplicate keys, no sexagesimal numbers).

    Raises:
        ConfigError: Naming ``source`` and the line and column of the syntax error.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise ConfigError(f"{source}:{where} invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None


def read_yaml_file(path: Path) -> Any:
    """Read and parse a YAML file; unreadable files and syntax errors raise :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    return read_yaml(text, str(path))


class Problems:
    """Collects every problem found in one file, then raises them together as one :class:`ConfigError`."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.lines: list[str] = []

    def bad(self, key: str, value: Any, rule: str) -> None:
        """Record ``key = value: rule``."""
        self.lines.append(f"{key} = {value!r}: {rule}")

    def note(self, text: str) -> None:
        """Record a problem that is not about one value (a missing key, an unknown key)."""
        self.lines.append(text)

    def unknown(self, key: str, known: Iterable[str]) -> None:
        """Record an unknown key, suggesting the closest known one."""
        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
        self.note(f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))

    def check(self) -> None:
        """Raise one :class:`ConfigError` listing every recorded problem, if any."""
        if self.lines:
            lines = [f"{self.label}: {line}" for line in self.lines]
            raise ConfigError("\n".join(lines), problems=lines)


def warn_clamp(label: str, key: str, value: Any, new: Any, rule: str) -> None:
    """Log that a value was replaced, as Igor v2 did silently."""
    log.warning("%s: %s = %r %s; using %r", label, key, value, rule, new)


# ---------------------------------------------------------------------------------------------
# The camelCase key table
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    yaml: str  # dotted camelCase path in the file
    attr: str | None  # dotted snake_case path in Config; None = accepted input that is not stored as such
    kind: str  # str | int | port | bool | strs | path | durations
    default: Any  # None = computed by a rule
    secret: bool = False


class _KeyTable:
    """A file's keys in order, by camelCase path, and the groups (dotted prefixes) that hold them."""

    def __init__(self, keys: Iterable[_Key]) -> None:
        self.keys: tuple[_Key, ...] = tuple(keys)
        self.by_yaml = {k.yaml: k for k in self.keys}
        self.groups = {k.yaml.rsplit(".", i)[0] for k in self.keys for i in range(1, k.yaml.count(".") + 1)}

    def __iter__(self) -> Iterator[_Key]:
        return iter(self.keys)


def _mask(key: _Key, value: Any) -> Any:
    if not key.secret or not value:
        return value
    if key.yaml == "database.url":
        return mask_url(value) if isinstance(value, str) else value
    return MASK


def _convert(kind: str, value: Any) -> Any:
    """Check a file value against its kind; raise ValueError(rule) when it does not fit."""
    if kind in ("int", "port"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "port" and isinstance(value, str) and value.isdigit():
            return int(value)  # v2 kept auth.ldap.port as a string
        raise ValueError("must be a whole number")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ValueError("must be true or false")
    if kind == "strs":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ValueError("must be a list of strings")
    if kind == "durations":
        items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
        minutes = []
        for item in items:
            if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
                minutes.append(item)
            elif isinstance(item, str):
                try:
                    minutes.append(parse_duration(item))
                except BadInput as exc:
                    raise ValueError(str(exc)) from None
            else:
                raise ValueError("must be durations such as '3d,1d' or a list of minutes")
        if not minutes:
            raise ValueError("must name at least one time, e.g. '3d,1d'")
        return tuple(sorted(set(minutes)))
    if not isinstance(value, str):
        raise ValueError("must be a string" + (" (quote it)" if isinstance(value, (int, float)) else ""))
    if kind == "path":
        if not value:
            raise ValueError("must not be empty")
        path = Path(value).expanduser()
        if not path.is_absolute():
            raise ValueError("must be an absolute path")
        return path
    return value


class _Reader:
    """Effective values by camelCase key (defaults filled in), plus which keys the file set."""

    def __init__(self, table: _KeyTable, data: Mapping[Any, Any], problems: Problems) -> None:
        self.table = table
        self.problems = problems
        self.values: dict[str, Any] = {k.yaml: k.default for k in table}
        self.given: set[str] = set()
        self._walk(data, "")

    def _walk(self, node: Mapping[Any, Any], prefix: str) -> None:
        for name, value in node.items():
            if not isinstance(name, str):
                self.problems.note(f"key {name!r} in {prefix.rstrip('.') or 'the top level'} must be a string")
                continue
            key = prefix + name
            if key in self.table.by_yaml:
                if value is None:
                    continue  # "key:" with nothing after it means the default, as in v2
                try:
                    self.values[key] = _convert(self.table.by_yaml[key].kind, value)
                    self.given.add(key)
                except ValueError as exc:
                    self.bad(key, str(exc), value)
            elif key in self.table.groups:
                if isinstance(value, Mapping):
                    self._walk(value, key + ".")
                elif value is not None:
                    self.bad(key, "must be a mapping of settings", value)
            else:
                self.problems.unknown(key, [*self.table.by_yaml, *self.table.groups])

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value

    def bad(self, key: str, rule: str, value: Any = None) -> None:
        """Record a problem with ``key`` (its current value unless given), masking secrets."""
        value = self.values[key] if value is None else value
        spec = self.table.by_yaml.get(key)
        self.problems.bad(key, value if spec is None else _mask(spec, value), rule)

    def missing(self, key: str, rule: str) -> None:
        self.problems.note(f"{key} is missing: {rule}")

    def clamp(self, key: str, new: Any, rule: str) -> None:
        """Replace an out-of-range value as Igor v2 does; a 0 (Go's "unset") is replaced silently."""
        if self.values[key] != 0:
            warn_clamp(self.problems.label, key, self.values[key], new, rule)
        self.values[key] = new

    def at_least(self, key: str, low: int, rule: str) -> bool:
        ok = self.values[key] >= low
        if not ok:
            self.bad(key, rule)
        return ok

    def fields(self, section: str) -> dict[str, Any]:
        """Constructor arguments for the dataclass at ``section`` (a dotted snake_case path)."""
        return {
            k.attr.rpartition(".")[2]: self.values[k.yaml]
            for k in self.table
            if k.attr is not None and k.attr.rpartition(".")[0] == section
        }


# ---------------------------------------------------------------------------------------------
# Database URLs
# ---------------------------------------------------------------------------------------------


def mask_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``********``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:{MASK}@{parts.netloc.rpartition('@')[2]}"
    return parts._replace(netloc=netloc).geturl()


def db_bind_args(url: str) -> dict[str, Any]:
    """Translate a database URL into Pony ``bind`` keyword arguments.

    ``sqlite:///PATH`` is read like a ``file:`` URL, so the path is always absolute (``sqlite:////PATH`` too);
    ``sqlite:///:memory:`` is an in-memory database.

    Raises:
        ValueError: The rule the URL breaks.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or parts.query:
            raise ValueError("use sqlite:///ABSOLUTE/PATH/igor.db or sqlite:///:memory:")
        if path.strip("/") == ":memory:":
            return {"provider": "sqlite", "filename": ":memory:", "create_db": True}
        if not path.strip("/"):
            raise ValueError("names no database file; use sqlite:///ABSOLUTE/PATH/igor.db")
        return {"provider": "sqlite", "filename": "/" + path.lstrip("/"), "create_db": True}
    provider = _DB_PROVIDERS.get(scheme)
    if provider is None:
        raise ValueError("the scheme must be sqlite, postgresql or mysql, e.g. postgresql://USER:PASS@HOST/DB")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ValueError("must name one database after the host, e.g. …@HOST/igor")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    host = parts.hostname or "localhost"
    if provider == "postgres":
        args: dict[str, Any] = {"provider": "postgres", "user": user, "password": password, "host": host,
                                "port": port or 5432, "database": database}  # fmt: skip
    else:
        args = {"provider": "mysql", "user": user, "password": password, "host": host, "port": port or 3306,
                "database": database}  # fmt: skip
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in args:
            raise ValueError(f"query parameter {name!r} repeats a part of the URL")
        args[name] = value
    return args
