"""The ``igor show`` landing view as text: a pure formatter (no terminal, no network).

:func:`render_show` turns the ``data.show`` object of ``GET /igor`` into what Igor v2's ``igor show`` prints
(reference §1.2, ``cli/show.go``): the node map, the node status table, the server time and MOTD, then the
reservation table. Everything that varies between runs is a parameter (the user, their groups, the client time
zone, "now", colour and layout switches), so the output is deterministic and can be compared with golden files.

Colours are Igor v2's 256-colour SGR codes (``cli/colors.go``), written the way gookit/color writes them
(``ESC[38;5;FG;48;5;BG;1m … ESC[0m``). With ``color=False`` the output holds no escape code at all;
``simple=True`` also drops colour, the node map and every box-drawing character (plain columns for scripts).

Deliberate differences from v2 (each a v2 quirk; see the module's tests):

* The node map and the status table describe the cluster, not the reservation list: install errors come from
  every active reservation, whatever ``--all``/``-n``/``-o`` select (v2 took them from the filtered list only).
* ``-g`` restricts the list to group reservations in every combination (v2 ignored it without ``-c/-f/-e``);
  ``-c``, ``-f`` and ``-e`` combine as "and" (v2 silently honoured only the first of them).
* The ``I`` flag means installed: a current reservation not installed yet (and without error) shows neither
  ``I`` nor ``E`` (v2 showed ``I``). Duplicate matches of several ``-n`` terms list a reservation once.
* Dates in the boxed table keep v2's ``Mar  5  8:00 AM MST`` layout, the year added when a *listed* reservation
  ends more than a year from now (v2 also counted unlisted ones); with ``simple=True`` they use Igor's own input
  form ``Mar-5-26T08:00`` (:func:`igor.timefmt.format_datetime`), so a date can be pasted back into a command
  (v2: ``Mar-05-26.08:00``).
* More hosts than ``displayWidth × displayHeight`` cells add rows to the map instead of being left out.
* Trailing blanks are stripped from every line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from igor.errors import BadInput
from igor.nodeset import fold_names
from igor.timefmt import format_datetime, format_duration, format_server_time, resolve_tz

__all__ = [
    "SHOW_FLAGS",
    "check_show_flags",
    "host_map_state",
    "info_flags",
    "render_show",
]

# --------------------------------------------------------------------------------------------------------------
# Colours (cli/colors.go)
# --------------------------------------------------------------------------------------------------------------

FG_UP, FG_DOWN, FG_POWER_NA = 15, 1, 214
BG_UNRESERVED, BG_RES_YES, BG_RES_NO, BG_BLOCKED, BG_RESTRICTED, BG_ERROR = 0, 2, 5, 3, 213, 75

_BOLD, _FAINT, _ITALIC = "1", "2", "3"


@dataclass(frozen=True)
class _Style:
    fg: int | None = None
    bg: int | None = None
    opts: tuple[str, ...] = ()

    def code(self) -> str:
        parts = []
        if self.fg is not None:
            parts.append(f"38;5;{self.fg}")
        if self.bg is not None:
            parts.append(f"48;5;{self.bg}")
        parts.extend(self.opts)
        return ";".join(parts)

    def paint(self, text: str, on: bool) -> str:
        if not on or not text:
            return text
        return f"\x1b[{self.code()}m{text}\x1b[0m"


S_UNRESERVED = _Style(FG_UP, BG_UNRESERVED)
S_INST_ERROR = _Style(FG_UP, BG_ERROR, (_BOLD,))
S_BLOCKED = _Style(FG_UP, BG_BLOCKED, (_BOLD,))
S_RESTRICTED = _Style(FG_UP, BG_RESTRICTED)
S_OWNER_RES = _Style(15, 2)
S_OTHER_RES = _Style(15, 5)
S_OK = _Style(FG_UP, BG_UNRESERVED, (_BOLD,))
S_WARNING = _Style(214)
S_ALERT = _Style(9, None, (_BOLD,))
S_MOTD_URGENT = S_ALERT
S_MOTD = _Style(3, None, (_BOLD,))
S_FUTURE = _Style(15, 247)
S_FUTURE_NODES = _Style(247, BG_UNRESERVED, (_ITALIC,))
S_BOLD = _Style(None, None, (_BOLD,))
S_TITLE = _Style(None, None, (_BOLD, _FAINT))
S_NOTICE = _Style(None, None, ("33",))  # gookit FgYellow

_ESC = re.compile(r"\x1b\[[0-9;]*m")


def _width(text: str) -> int:
    return len(_ESC.sub("", text))


# --------------------------------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------------------------------

#: The flags :func:`render_show` understands (reference §1.2), with their "not given" values.
SHOW_FLAGS: dict[str, Any] = {
    "all": False, "current": False, "future": False, "group": False, "error": False,
    "filter_name": (), "filter_owner": (), "sort_start": False, "sort_name": False, "sort_owner": False,
    "reverse": False, "time_left": False, "no_map": False,
}  # fmt: skip


@dataclass(frozen=True)
class _Flags:
    all: bool
    current: bool
    future: bool
    group: bool
    error: bool
    filter_name: tuple[str, ...]
    filter_owner: tuple[str, ...]
    sort_start: bool
    sort_name: bool
    sort_owner: bool
    reverse: bool
    time_left: bool
    no_map: bool


def _terms(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    return tuple(t for t in (str(i).strip() for i in items) if t)


def _parse_flags(flags: Mapping[str, Any] | None) -> _Flags:
    given = dict(flags or {})
    unknown = sorted(set(given) - set(SHOW_FLAGS))
    if unknown:
        raise ValueError(f"unknown igor show flag(s): {', '.join(unknown)} (known: {', '.join(SHOW_FLAGS)})")
    merged = {**SHOW_FLAGS, **given}
    values: dict[str, Any] = {}
    for key, value in merged.items():
        values[key] = _terms(value) if key.startswith("filter_") else bool(value)
    return _Flags(**values)


def check_show_flags(flags: Mapping[str, Any] | None) -> None:
    """Reject the flag combinations Igor v2 rejects, with v2's messages (run it before calling the server).

    Raises:
        BadInput: Two sort orders; ``-c``/``-e`` with ``-f``; ``-n`` with ``-o``; ``-g`` with ``-a``.
        ValueError: ``flags`` holds a key that is not a show flag (a programming error).
    """
    f = _parse_flags(flags)
    if f.sort_start + f.sort_name + f.sort_owner > 1:
        raise BadInput("more than one sorting method specified")
    if (f.current or f.error) and f.future:
        raise BadInput("excluded all current and future reservations")
    if f.filter_owner and f.filter_name:
        raise BadInput("can't filter by reservation and owner at same time")
    if f.all and f.group:
        raise BadInput("show group-only not compatible with show all reservations")


# --------------------------------------------------------------------------------------------------------------
# Per-host and per-reservation decisions (exposed for tests)
# --------------------------------------------------------------------------------------------------------------


def _member_groups(groups: Iterable[str]) -> frozenset[str]:
    return frozenset(g for g in groups if g and g != "all")


def _is_mine(res: Mapping[str, Any], user: str, groups: frozenset[str]) -> bool:
    return res.get("owner") == user or res.get("group", "") in groups


def _is_group(res: Mapping[str, Any], groups: frozenset[str]) -> bool:
    return res.get("group", "") in groups


def _is_future(res: Mapping[str, Any], now: int) -> bool:
    return int(res.get("start", 0)) > now


def host_map_state(host: Mapping[str, Any], active: Sequence[Mapping[str, Any]], *, user: str,
                   groups: Iterable[str]) -> str:
    """The node map's background for one host, by v2's precedence.

    ``active`` are the reservations that have started. Returns ``"error"`` (in an active reservation with an
    install error) > ``"blocked"`` > ``"mine"`` (active reservation owned by ``user`` or one of ``groups``) >
    ``"others"`` > ``"restricted"`` (host policy keeps ``user`` out) > ``"available"``.
    """
    member = _member_groups(groups)
    name = host.get("name")
    holding = [r for r in active if name in r.get("hosts", ())]
    if any(r.get("installError") for r in holding):
        return "error"
    if host.get("state") == "blocked":
        return "blocked"
    if holding:
        return "mine" if any(_is_mine(r, user, member) for r in holding) else "others"
    if host.get("restricted"):
        return "restricted"
    return "available"


_MAP_BG = {"error": (BG_ERROR, True), "blocked": (BG_BLOCKED, True), "mine": (BG_RES_YES, False),
           "others": (BG_RES_NO, False), "restricted": (BG_RESTRICTED, False),
           "available": (BG_UNRESERVED, False)}  # fmt: skip


def _power(host: Mapping[str, Any]) -> str:
    value = host.get("powered")
    text = str(value).lower() if value is not None else ""
    return text if text in ("true", "false") else "unknown"


def _map_style(state: str, power: str) -> _Style:
    bg, bold = _MAP_BG[state]
    opts: tuple[str, ...]
    if power == "true":
        fg, opts = FG_UP, ()
    elif power == "false":
        fg, opts = FG_DOWN, (_BOLD,)
    else:
        fg, opts = FG_POWER_NA, (_BOLD,)
    if bold and not opts:
        opts = (_BOLD,)
    return _Style(fg, bg, opts)


def info_flags(res: Mapping[str, Any], *, user: str, groups: Iterable[str], now_epoch: int) -> str:
    """The INFO column: ``O`` (you own it) or ``G`` (one of your groups), then ``F`` (future), ``E`` (install
    error) or ``I`` (installed)."""
    member = _member_groups(groups)
    out = ""
    if res.get("owner") == user:
        out += "O"
    elif _is_group(res, member):
        out += "G"
    if _is_future(res, now_epoch):
        out += "F"
    elif res.get("installError"):
        out += "E"
    elif res.get("installed"):
        out += "I"
    return out


# --------------------------------------------------------------------------------------------------------------
# Tables (go-pretty StyleLight look, or plain columns)
# --------------------------------------------------------------------------------------------------------------


def _align(text: str, width: int, how: str) -> str:
    pad = width - _width(text)
    if pad <= 0:
        return text
    if how == "r":
        return " " * pad + text
    if how == "c":  # go-pretty centres with the odd blank on the left
        return " " * (pad - pad // 2) + text + " " * (pad // 2)
    return text + " " * pad


def _table(rows: Sequence[Sequence[str]], *, header: Sequence[str] | None = None, aligns: Sequence[str] = (),
           header_aligns: Sequence[str] = (), title: str = "", border: bool = False, padding: str = " ",
           simple: bool = False, color: bool = True) -> list[str]:
    """Render a table; a cell may hold several lines. Returns the lines, trailing blanks stripped."""
    ncols = max([len(header or ())] + [len(r) for r in rows])
    split_rows = [[c.split("\n") for c in r] + [[""]] * (ncols - len(r)) for r in rows]
    split_header = [[h] for h in header] if header else None
    widths = [0] * ncols
    for r in ([split_header] if split_header else []) + split_rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], *(_width(line) for line in cell))

    def col_align(i: int, is_header: bool) -> str:
        seq = header_aligns if is_header else aligns
        return seq[i] if i < len(seq) else "l"

    def render_row(r: list[list[str]], is_header: bool) -> list[str]:
        height = max(len(c) for c in r)
        out = []
        for k in range(height):
            cells = [_align(c[k] if k < len(c) else "", widths[i], col_align(i, is_header)) for i, c in enumerate(r)]
            if simple:
                out.append("  ".join(cells))
            else:
                inner = "│".join(padding + c + padding for c in cells)
                out.append(f"│{inner}│" if border else inner)
        return out

    def rule(left: str, mid: str, right: str) -> str:
        inner = mid.join("─" * (w + 2 * len(padding)) for w in widths)
        return f"{left}{inner}{right}" if border else inner

    lines: list[str] = []
    row_len = sum(widths) + (2 * len(padding) * ncols if not simple else 2 * (ncols - 1))
    if not simple:
        row_len += ncols - 1 + (2 if border else 0)
    if title and not simple:
        if border:
            lines.append(rule("┌", "─", "┐"))
            inner = row_len - 2 - 2 * len(padding)
            text = padding + _align(title.upper(), inner, "c") + padding
            lines.append("│" + S_TITLE.paint(text, color) + "│")
        else:
            inner = row_len - 2 * len(padding)
            lines.append(S_TITLE.paint(padding + _align(title.upper(), inner, "c") + padding, color))
    if border:
        lines.append(rule("├", "┬", "┤") if title else rule("┌", "┬", "┐"))
    if split_header:
        lines.extend(render_row(split_header, True))
        if not simple:
            lines.append(rule("├", "┼", "┤"))
    for r in split_rows:
        lines.extend(render_row(r, False))
    if border:
        lines.append(rule("└", "┴", "┘"))
    return [line.rstrip() for line in lines]


def _wrap_range(text: str, width: int, indent: int) -> str:
    """Break a folded node range after commas so each line fits ``width``; continuation lines are indented
    (v2's ``multilineRange``, which looped forever on a part with no comma)."""
    if len(text) <= width:
        return text
    parts = re.split(r"(?<=,)", text)
    lines: list[str] = []
    current = ""
    for part in parts:
        if current.strip() and len(current) + len(part) > width:
            lines.append(current)
            current = " " * indent
        current += part
    lines.append(current)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _instant(epoch: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=int(epoch))


def _pretty_date(epoch: int, tz: Any, *, year: bool, zone: bool) -> str:
    """v2's ``Jan 2 [2006 ]3:04 PM[ MST]`` with the day and hour padded to two places."""
    local = _instant(epoch).astimezone(tz)
    day = f"{local.day:>2} " + (f"{local.year} " if year else "")
    hour = local.hour % 12 or 12
    clock = f"{hour:>2}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    if zone:
        clock += f" {local.tzname() or ''}".rstrip()
    return f"{_MONTHS[local.month - 1]} {day}{clock}"


def _remaining_minutes(seconds: int) -> int:
    """Go's ``Duration.Round(time.Minute)`` of a non-negative span (negative spans count as 0)."""
    return max(0, (seconds + 30) // 60)


# --------------------------------------------------------------------------------------------------------------
# The view
# --------------------------------------------------------------------------------------------------------------


def _names_range(value: Any) -> str:
    if isinstance(value, str):
        return value
    return fold_names(value or ())


def _select(reservations: Sequence[Mapping[str, Any]], f: _Flags, user: str, member: frozenset[str],
            now: int) -> list[Mapping[str, Any]]:
    if f.filter_owner:
        seed = [r for r in reservations if r.get("owner") in f.filter_owner]
    elif f.filter_name:
        seed = [r for r in reservations if any(term in str(r.get("name", "")) for term in f.filter_name)]
    else:
        seed = list(reservations)
    chosen = []
    for r in seed:
        if not f.all:
            if f.group and not _is_group(r, member):
                continue
            if not f.group and not _is_mine(r, user, member):
                continue
        future = _is_future(r, now)
        if (f.current and future) or (f.future and not future) or (f.error and not r.get("installError")):
            continue
        chosen.append(r)
    if f.sort_start:
        key = "start"
    elif f.sort_name:
        key = "name"
    elif f.sort_owner:
        key = "owner"
    else:
        key = "end"
    chosen.sort(key=lambda r: (r.get(key, 0 if key in ("start", "end") else ""), str(r.get("name", ""))))
    if f.reverse:
        chosen.reverse()
    return chosen


def _node_map(cluster: Mapping[str, Any], hosts: Sequence[Mapping[str, Any]],
              active: Sequence[Mapping[str, Any]], user: str, groups: Sequence[str], color: bool) -> list[str]:
    seqs = [int(h.get("sequenceID", 0)) for h in hosts]
    digits = len(str(max(seqs))) if seqs else 1
    width = int(cluster.get("displayWidth") or 0)
    width = width if width > 0 else min(16, len(hosts)) or 1
    height = max(int(cluster.get("displayHeight") or 0), -(-len(hosts) // width))
    cells = []
    for h in hosts:
        style = _map_style(host_map_state(h, active, user=user, groups=groups), _power(h))
        cells.append(style.paint(f"{int(h.get('sequenceID', 0)):>{digits}}", color))
    blank = S_UNRESERVED.paint(" " * digits, color)
    cells += [blank] * (width * height - len(cells))
    rows = [cells[i * width:(i + 1) * width] for i in range(height)]
    return _table(rows, title=str(cluster.get("name", "")), border=True, padding="", color=color)


def _status_table(hosts: Sequence[Mapping[str, Any]], active: Sequence[Mapping[str, Any]], prefix: str,
                  simple: bool, color: bool) -> list[str]:
    in_active = {n for r in active for n in r.get("hosts", ())}
    errors = {n for r in active if r.get("installError") for n in r.get("hosts", ())}
    unreserved = [h["name"] for h in hosts
                  if h.get("state") not in ("blocked", "reserved") and h["name"] not in in_active]
    blocked = [h["name"] for h in hosts if h.get("state") == "blocked"]
    restricted = [h["name"] for h in hosts if h.get("restricted")]
    rows_spec: list[tuple[str, _Style, list[str]]] = [("UNRESERVED", S_UNRESERVED, unreserved),
                                                      ("BLOCKED", S_BLOCKED, blocked)]
    if restricted:
        rows_spec.append(("RESTRICTED", S_RESTRICTED, restricted))
    if errors:
        rows_spec.append(("INST ERROR", S_INST_ERROR, [h["name"] for h in hosts if h["name"] in errors]))
    rows = []
    for label, style, names in rows_spec:
        head = label if simple else style.paint(f"{label:>10}", color)
        rows.append([head, str(len(names)), _wrap_range(fold_names(names), 80, len(prefix) + 1)])
    if simple:
        return _table(rows, header=["STATUS", "#", "NODES"], simple=True)
    return _table(rows, header=["STATUS", "#", "NODES"], aligns="rll", header_aligns="rll", color=color)


def _nodes_cell(res: Mapping[str, Any], hosts_by_name: Mapping[str, Mapping[str, Any]], now: int,
                color: bool) -> str:
    host_range = str(res.get("hostRange") or fold_names(res.get("hosts", ())))
    if _is_future(res, now):
        return S_FUTURE_NODES.paint(host_range, color)
    up = _names_range(res.get("hostsUp"))
    down = _names_range(res.get("hostsDown"))
    na = _names_range(res.get("hostsPowerNA"))
    if not down and not na:
        cell = f"{S_OK.paint('UP', color)} {host_range}"
    elif not up and not na:
        cell = f"{S_ALERT.paint('DOWN', color)} {down}"
    elif not up and not down:
        cell = f"{S_WARNING.paint('POWER-N/A', color)} {na}"
    else:
        parts = []
        if up:
            parts.append(f"{S_OK.paint('UP', color)} {up}")
        if na:
            parts.append(f"{S_WARNING.paint('POWER-N/A', color)} {na}")
        if down:
            parts.append(f"{S_ALERT.paint('DOWN', color)} {down}")
        cell = f"{host_range} - " + " / ".join(parts)
    blocked = [n for n in res.get("hosts", ()) if hosts_by_name.get(n, {}).get("state") == "blocked"]
    if blocked:
        cell += f" / {S_BLOCKED.paint('BLOCKED', color)} {fold_names(blocked)}"
    return cell


def _reservation_table(chosen: Sequence[Mapping[str, Any]], hosts: Sequence[Mapping[str, Any]], f: _Flags,
                       user: str, groups: Sequence[str], tz: Any, now: int, simple: bool, color: bool) -> list[str]:
    member = _member_groups(groups)
    hosts_by_name = {str(h.get("name")): h for h in hosts}
    with_year = any(int(r.get("end", 0)) > now + 365 * 86400 for r in chosen)
    name_width = max([len("UNRESERVED") + 1] + [len(str(r.get("name", ""))) + 1 for r in chosen])
    rows = []
    for r in chosen:
        name = str(r.get("name", ""))
        start, end = int(r.get("start", 0)), int(r.get("end", 0))
        future = _is_future(r, now)
        if simple:
            name_cell = name
        else:
            if r.get("installError"):
                style = S_INST_ERROR
            elif future:
                style = S_FUTURE
            elif _is_mine(r, user, member):
                style = S_OWNER_RES
            else:
                style = S_OTHER_RES
            name_cell = style.paint(f"{name:>{name_width}}", color)
        if simple:
            start_cell = format_datetime(_instant(start), tz)
            end_cell = format_datetime(_instant(end), tz)
        else:
            start_cell = _pretty_date(start, tz, year=with_year, zone=True)
            end_cell = _pretty_date(end, tz, year=with_year, zone=False)
        left = end - now
        if f.time_left:
            end_cell = format_duration(_remaining_minutes(left), align=True)
        if left < 12 * 3600:
            end_cell = S_ALERT.paint(end_cell, color)
        elif left < 24 * 3600:
            end_cell = S_WARNING.paint(end_cell, color)
        rows.append([name_cell, str(r.get("owner", "")), start_cell, end_cell,
                     info_flags(r, user=user, groups=groups, now_epoch=now), str(len(r.get("hosts", ()))),
                     _nodes_cell(r, hosts_by_name, now, color)])
    header = ["NAME", "OWNER", "START", "END", "INFO", "#", "NODES"]
    if simple:
        return _table(rows, header=header, aligns="lllr", simple=True)
    return _table(rows, header=header, aligns="rlrr", header_aligns="rlll", title="RESERVATIONS", color=color)


def render_show(payload: Mapping[str, Any], *, user: str, groups: Sequence[str], color: bool, simple: bool,
                tz: str, now_epoch: int, flags: Mapping[str, Any] | None) -> str:
    """Render ``igor show``.

    Args:
        payload: The ``data.show`` object of ``GET /igor`` (``cluster``, ``hosts``, ``reservations`` with epoch
            seconds, ...).
        user: The caller (v2's ``lastuser``): marks owned reservations.
        groups: The caller's groups (``all`` is ignored): marks group reservations.
        color: Emit Igor v2's 256-colour escape codes (never with ``simple``).
        simple: Plain columns, no map, no box drawing, no colour (``-x``).
        tz: The client time zone (IANA name) for every date and the server time.
        now_epoch: "Now" in epoch seconds: the server time shown and what is current, future or ending soon.
        flags: The show flags (:data:`SHOW_FLAGS`; missing keys mean "not given").

    Returns:
        The whole output, ending with a newline.

    Raises:
        BadInput: A flag combination v2 rejects (see :func:`check_show_flags`) or an unknown time zone.
    """
    check_show_flags(flags)
    f = _parse_flags(flags)
    color = color and not simple
    zone = resolve_tz(tz)
    cluster = payload.get("cluster") or {}
    hosts = sorted(payload.get("hosts") or [], key=lambda h: int(h.get("sequenceID", 0)))
    if not hosts or not cluster.get("name"):
        return S_NOTICE.paint("igor: a cluster must be configured first", color) + "\n"
    reservations = list(payload.get("reservations") or [])
    now = int(now_epoch)
    member = _member_groups(groups)
    active = [r for r in reservations if not _is_future(r, now)]
    prefix = str(cluster.get("prefix", ""))

    out: list[str] = []
    if f.no_map or simple:
        out += ["", f"Cluster Name : {str(cluster.get('name', '')).upper()}", f"Prefix       : {prefix}",
                f"Total Nodes  : {len(hosts)}"]
    else:
        out += _node_map(cluster, hosts, active, user, groups, color)
    out.append("")
    out += _status_table(hosts, active, prefix, simple, color)
    out += ["", "Server Time : " + format_server_time(_instant(now), zone)]
    motd = str(cluster.get("motd") or "").strip()
    if motd:
        urgent = bool(cluster.get("motdUrgent"))
        text = "MOTD: " + (" IMPORTANT! - " if urgent and not color else "") + motd
        out += ["", (S_MOTD_URGENT if urgent else S_MOTD).paint(text, color)]
    out.append("")

    chosen = _select(reservations, f, user, member, now)
    if not chosen:
        if f.filter_owner or f.filter_name:
            message = "No reservations returned by this query."
        else:
            message = ("You have no future owned or group-affiliated reservations." if f.future
                       else "You have no owned or group-affiliated reservations.")
            if not f.all:
                message += " (Use the --all flag to see complete reservation list.)"
        out += ["", S_BOLD.paint(message, color), ""]
    else:
        out += _reservation_table(chosen, hosts, f, user, groups, zone, now, simple, color)
    return "\n".join(out) + "\n"
