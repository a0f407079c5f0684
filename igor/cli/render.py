"""Pure formatters for the client: ``igor: <message>`` lines and the plain tables of the ``show`` verbs.

Each function takes data (the API answer's ``data``) and returns text; nothing here prints, reads the terminal or
talks HTTP, so output is testable line by line. The ``igor show`` node map lives in ``igor.cli.show``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from igor.timefmt import format_datetime, format_duration

GREEN, YELLOW, RED_BG, RESET = "\x1b[32m", "\x1b[33m", "\x1b[97;41m", "\x1b[0m"


def message(text: str, *, ok: bool = True, server_error: bool = False, color: bool = False) -> str:
    """Igor v2's one-line answer: ``igor: <message>``, green on success, yellow on refusal, red on error."""
    if not text:
        text = "success" if ok else ("unspecified error" if server_error else "unspecified failure")
    line = f"igor: {text}"
    if not color:
        return line
    tint = GREEN if ok else (RED_BG if server_error else YELLOW)
    return f"{tint}{line}{RESET}"


def created(data: dict[str, Any], *, tz: str | None) -> str:
    """What ``res create`` prints when the server's message is empty (Igor v2 prints only ``success``): which hosts
    the reservation got and when it runs, so a by-count request tells the user where they landed."""
    items = data.get("reservation") or []
    r = items[0] if items and isinstance(items[0], dict) else {}
    if not r.get("name"):
        return ""
    hosts = r.get("hosts") or []
    count = f" ({len(hosts)} host{'s' if len(hosts) != 1 else ''})" if isinstance(hosts, list) else ""
    return (f"reservation '{r['name']}' created: {r.get('hostRange') or _join(hosts)}{count}, "
            f"{_when(r.get('start'), tz)} to {_when(r.get('end'), tz)}")


def pretty_json(data: Any) -> str:
    """One indented JSON document (``--json`` output and ``igor settings``)."""
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, title: str = "") -> str:
    """A left-aligned text table; cells are ``str()``-ed, ``None`` shows as empty."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)
    return "\n".join(lines)


def _when(epoch: object, tz: str | None) -> str:
    if not isinstance(epoch, (int, float)) or isinstance(epoch, bool):
        return ""
    return format_datetime(int(epoch) // 60, tz)


def _join(values: object) -> str:
    if isinstance(values, (list, tuple)):
        return ",".join(str(v) for v in values)
    return "" if values is None else str(values)


def res_status(r: dict[str, Any], now: int) -> str:
    """``active``, ``future`` or the install error of a reservation."""
    if r.get("installError"):
        return str(r["installError"])
    return "future" if int(r.get("start") or 0) > now else "active"


def reservations(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor res show``: one row per reservation, sorted by end time."""
    items = sorted(data.get("reservations") or [], key=lambda r: (r.get("end") or 0, r.get("name") or ""))
    if not items:
        return "igor: no reservations to show (yet) or no matches based on search criteria"
    if simple:
        blocks = []
        for r in items:
            lines = [f"RESERVATION: {r.get('name')}",
                     f"-DESCRIPTION: {r.get('description') or ''}", f"-OWNER: {r.get('owner')}",
                     f"-GROUP: {r.get('group') or ''}", f"-PROFILE: {r.get('profile') or ''}",
                     f"-DISTRO: {r.get('distro') or ''}", f"-HOSTS: {r.get('hostRange') or ''}",
                     f"-VLAN: {r.get('vlan') or ''}", f"-START: {_when(r.get('start'), tz)}",
                     f"-END: {_when(r.get('end'), tz)}", f"-ORIG-END: {_when(r.get('origEnd'), tz)}",
                     f"-EXTEND-COUNT: {r.get('extendCount', 0)}", f"-STATUS: {res_status(r, now)}"]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)
    rows = []
    for r in items:
        active = int(r.get("start") or 0) <= now
        down = len(r.get("hostsDown") or []) + len(r.get("hostsPowerNA") or []) if active else ""
        rows.append([r.get("name"), r.get("description"), r.get("owner"), r.get("group"), r.get("profile"),
                     r.get("distro"), r.get("hostRange"), down, r.get("vlan") or "", _when(r.get("start"), tz),
                     _when(r.get("end"), tz), res_status(r, now)])
    return table(["NAME", "DESCRIPTION", "OWNER", "GROUP", "PROFILE", "DISTRO", "HOSTS", "DOWN/NA", "VLAN",
                  "START", "END", "STATUS"], rows)


def windows(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor res speculate``: the earliest windows that would be granted."""
    items = data.get("windows") or []
    if not items:
        return "igor: no window found for this request"
    rows = [[_when(w.get("start"), tz), _when(w.get("end"), tz), _when(w.get("latestStart"), tz),
             len(w.get("hosts") or []), w.get("hostRange")] for w in items]
    return table(["START", "END", "LATEST-START", "#", "NODES"], rows)


def hosts(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor host show``."""
    rows = [[h.get("name"), h.get("state"), h.get("powered"), h.get("bootMode"), h.get("mac"), h.get("hostName"),
             h.get("ip"), h.get("eth"), h.get("hostPolicy"), _join(h.get("accessGroups")),
             "yes" if h.get("restricted") else "", _join(h.get("reservations"))]
            for h in data.get("hosts") or []]
    return table(["NODE", "STATE", "POWER", "BOOT-TYPE", "MACID", "HOSTNAME", "IP", "ETH", "POLICY",
                  "ACCESS-GROUPS", "RESTRICTED", "RESERVATIONS"], rows)


def _blocks(value: object) -> str:
    if not isinstance(value, list):
        return _join(value)
    out = []
    for b in value:
        if isinstance(b, dict):
            out.append(f"{b.get('start', '')} / {b.get('duration', '')}")
        else:
            out.append(str(b))
    return ", ".join(out)


def policies(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor policy show``."""
    rows = [[p.get("name"), p.get("hosts"), p.get("maxResTime"), _join(p.get("accessGroups")),
             _blocks(p.get("scheduleBlock"))] for p in data.get("hostPolicies") or []]
    return table(["NAME", "HOSTS", "MAX-RES-TIME", "ACCESS-GROUPS", "NOT-AVAIL"], rows)


def users(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor user show``."""
    rows = [[u.get("name"), u.get("fullName"), _when(u.get("joinDate"), tz), u.get("email"), _join(u.get("groups"))]
            for u in data.get("users") or []]
    return table(["NAME", "FULL NAME", "JOINED", "EMAIL", "GROUPS"], rows)


def groups(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor group show``: the groups you own, then those you are a member of."""
    out = []
    for title, key in (("OWNER OF", "owner"), ("MEMBER OF", "member")):
        rows = [[g.get("name"), g.get("description"), _join(g.get("owners")), _join(g.get("members")),
                 _join(g.get("distros")), _join(g.get("reservations")), _join(g.get("hostPolicies"))]
                for g in data.get(key) or []]
        if rows:
            out.append(table(["NAME", "DESCRIPTION", "OWNERS", "MEMBERS", "DISTROS", "RESERVATIONS", "POLICIES"],
                             rows, title=title))
    return "\n\n".join(out) or "igor: no groups to show"


def clusters(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor cluster show``: a table, or the YAML text the server sent."""
    for key in ("yaml", "text"):
        if isinstance(data.get(key), str):
            return str(data[key]).rstrip()
    items = data.get("clusters") or ([data["cluster"]] if isinstance(data.get("cluster"), dict) else [])
    if not items:
        return pretty_json(data)
    rows = [[c.get("name"), c.get("prefix"), c.get("displayWidth"), c.get("displayHeight"),
             c.get("motdUrgent"), c.get("motd")] for c in items]
    return table(["NAME", "PREFIX", "DISPLAY-W", "DISPLAY-H", "MOTD-URGENT", "MOTD"], rows)


def show_fallback(payload: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor show`` without the node-map renderer: the cluster line and the reservation table."""
    cluster = payload.get("cluster") or {}
    head = (f"Cluster Name : {cluster.get('name', '')}\nPrefix : {cluster.get('prefix', '')}\n"
            f"Total Nodes : {len(payload.get('hosts') or [])}")
    if cluster.get("motd"):
        head += f"\nMOTD: {cluster['motd']}"
    items = payload.get("reservations") or []
    if not items:
        return head + "\n\nYou have no owned or group-affiliated reservations. " \
                      "(Use the --all flag to see complete reservation list.)"
    rows = [[r.get("name"), r.get("owner"), _when(r.get("start"), tz), _when(r.get("end"), tz),
             len(r.get("hosts") or []), r.get("hostRange")]
            for r in sorted(items, key=lambda r: (r.get("end") or 0, r.get("name") or ""))]
    return head + "\n\n" + table(["NAME", "OWNER", "START", "END", "#", "NODES"], rows, title="RESERVATIONS")


Renderer = Callable[..., str]

#: Table renderers by the ``render`` name a grammar verb declares.
def _yes(value: object) -> str:
    if isinstance(value, str):
        return value
    return "yes" if value else "no"


def images(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor image show`` (Igor v2's columns)."""
    items = data.get("distroImages") or []
    if not items:
        return "igor: no images registered"
    rows = [[i.get("name"), i.get("image_id"), i.get("image_type"), i.get("kernel"), i.get("initrd"),
             i.get("breed"), _join(i.get("boot")), _yes(i.get("local")), _join(i.get("distros"))] for i in items]
    return table(["NAME", "ID", "TYPE", "KERNEL", "INITRD", "BREED", "BOOT-TYPE", "LOCAL", "DISTROS"], rows)


def kickstarts(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor kickstart show``."""
    items = data.get("kickstarts") or []
    if not items:
        return "igor: no kickstarts registered"
    rows = [[k.get("name"), k.get("fileName"), k.get("owner")] for k in items]
    return table(["NAME", "FILE NAME", "OWNER"], rows)


def distros(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor distro show`` (Igor v2's columns; the default distro is marked ``*``).

    A public distro's GROUPS say ``all``: the API leaves ``all`` out of ``groups`` as v2's does, and v2's client
    then showed an empty column, which read as "shared with nobody".
    """
    items = data.get("distros") or []
    if not items:
        return "igor: no distros to show (yet) or no matches based on search criteria"
    rows = [[f"{d.get('name')}{' *' if d.get('isDefault') else ''}", d.get("description"), d.get("owner"),
             _yes(d.get("isPublic")), _join(d.get("groups")) or ("all" if d.get("isPublic") else ""),
             d.get("image_type"), d.get("kernel"), d.get("initrd"), d.get("kickstart"), d.get("kernelArgs")]
            for d in items]
    return table(["NAME", "DESCRIPTION", "OWNER", "PUBLIC?", "GROUPS", "TYPE", "KERNEL", "INITRD", "KICKSTART",
                  "KERNEL-ARGS"], rows)


def profiles(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor profile show``."""
    items = data.get("profiles") or []
    if not items:
        return "igor: no profiles to show (yet) or no matches based on search criteria"
    rows = [[p.get("name"), p.get("owner"), p.get("distro"), p.get("kernelArgs"), p.get("description")]
            for p in items]
    return table(["NAME", "OWNER", "DISTRO", "KERNEL-ARGS", "DESCRIPTION"], rows)


def power(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor power on|off|cycle``: which nodes were powered (Igor v2 printed only ``success``)."""
    names = [str(n) for n in data.get("hosts") or []]
    if not names:
        return message("")
    what = {"on": "powered on", "off": "powered off", "cycle": "power-cycled"}.get(str(data.get("cmd")), "powered")
    return message(f"{what}: {_fold(names)} ({len(names)} host{'s' if len(names) != 1 else ''})")


def sync(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor sync arista``: Igor v2's ``HOST POWERED RESERVATION VLAN SWITCH VLAN [FORCE RESULTS]`` table, in host
    order; with ``-q`` only the hosts out of sync, with ``-f`` what the correction did (and why it failed)."""
    result = data.get("sync") or {}
    report = result.get("report") or {}
    force, quiet = str(result.get("force")) == "true", str(result.get("quiet")) == "true"
    head = f"igor: sync performed on: {result.get('command', '')}"
    in_sync = head + "\nigor: no hosts were out of sync"
    if not report:
        return in_sync if quiet else head + "\nigor: no hosts are in use, nothing to report"
    rows = []
    for host, line in report.items():
        line = line if isinstance(line, dict) else {}
        res_vlan, switch_vlan = str(line.get("res_vlan", "")), str(line.get("switch_vlan", ""))
        mismatch = bool(line.get("mismatch", res_vlan != switch_vlan))
        if quiet and not mismatch:
            continue
        row = [host, line.get("powered", ""), res_vlan, switch_vlan]
        if force:
            status = str(line.get("status") or "") if mismatch else ""
            row.append(f"{status} {line['error']}" if status and line.get("error") else status)
        rows.append(row)
    if not rows:
        return in_sync
    headers = ["HOST", "POWERED", "RESERVATION VLAN", "SWITCH VLAN"] + (["FORCE RESULTS"] if force else [])
    return head + "\n" + table(headers, rows)


def _instant(text: object, tz: str | None) -> str:
    """An RFC 3339 time of the stats answer in the client's zone (Go's zero time: ``the beginning``)."""
    if not isinstance(text, str) or not text:
        return ""
    if text.startswith("0001-01-01"):
        return "the beginning"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return format_datetime(moment, tz)


def _res_time(nanoseconds: object) -> str:
    return format_duration(int(nanoseconds) // 60_000_000_000) if isinstance(nanoseconds, int) else ""


def _fold_list(text: object) -> str:
    """A comma list of host names as a node expression (``dn1,dn2`` → ``dn[1-2]``)."""
    names = [n for n in str(text or "").split(",") if n]
    return _fold(names) if names else ""


def _node_hours(value: object) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else ""


def stats(data: dict[str, Any], *, tz: str | None, now: int, simple: bool = False) -> str:
    """``igor stats``: the window, a table per user, the global summary (Igor v2's lines, with node-hours); with
    ``-v`` each user's reservations and every history record of the window."""
    st = data.get("stats") or {}
    by_user = st.get("by_user") or {}
    out = [f"Window: {_instant(st.get('start'), tz)} to {_instant(st.get('end'), tz)}"]
    if by_user:
        rows = [[user, c.get("ResCount"), c.get("NodesUsedCount"), c.get("CancelledEarly"), c.get("NumExtensions"),
                 _res_time(c.get("TotalResTime")), _node_hours(c.get("NodeHours"))] for user, c in by_user.items()]
        out.append(table(["USER", "RESERVATIONS", "NODES", "CANCELLED-EARLY", "EXTENSIONS", "RES-TIME",
                          "NODE-HOURS"], rows, title="By User:"))
    else:
        out.append("igor: no reservations in this window")
    g = st.get("global") or {}
    out.append("\n".join(["Global:", f"Unique Users: {g.get('UniqueUsers', 0)}",
                          f"Reservation Count: {g.get('ResCount', 0)}",
                          f"Nodes Used (not unique): {g.get('NodesUsedCount', 0)}",
                          f"Reservations Cancelled early: {g.get('CancelledEarly', 0)}",
                          f"Extensions used: {g.get('NumExtensions', 0)}",
                          f"Total Reservation Time: {_res_time(g.get('TotalResTime', 0))}",
                          f"Node-Hours: {_node_hours(g.get('NodeHours', 0))}"]))
    if not st.get("verbose"):
        return "\n\n".join(out)
    for user, c in by_user.items():
        rows = [[e.get("Name"), e.get("Hash"), _fold_list(e.get("Hosts")), _instant(e.get("Start"), tz),
                 _instant(e.get("OrigEnd"), tz), _instant(e.get("End"), tz), e.get("ExtendCount"),
                 _node_hours(e.get("NodeHours")), e.get("Status")] for e in c.get("Entries") or []]
        out.append(table(["NAME", "RES ID", "NODES", "START", "ORIGINAL END", "ACTUAL END", "EXTENSIONS",
                          "NODE-HOURS", "LAST STATUS"], rows, title=f"Reservations of {user}:"))
    rows = [[r.get("Order"), _instant(r.get("Created"), tz), r.get("Status"), r.get("Name"), r.get("Owner"),
             _fold_list(r.get("Hosts")), _instant(r.get("Start"), tz), _instant(r.get("End"), tz), r.get("ExtendCount")]
            for r in st.get("records") or []]
    out.append(table(["#", "WRITTEN", "STATUS", "NAME", "OWNER", "NODES", "START", "END", "EXTENSIONS"], rows,
                     title="History records:"))
    return "\n\n".join(out)


def _fold(names: list[str]) -> str:
    from igor.nodeset import fold_names

    try:
        return fold_names(names)
    except ValueError:  # a name the folding rules refuse: show the list as it is
        return ",".join(names)


TABLES: dict[str, Renderer] = {
    "reservations": reservations, "windows": windows, "hosts": hosts, "policies": policies, "users": users,
    "groups": groups, "clusters": clusters, "images": images, "kickstarts": kickstarts, "distros": distros,
    "profiles": profiles, "power": power, "sync": sync, "stats": stats,
}
