"""Golden-output and unit tests for the ``igor show`` formatter (reference §1.2, §5.8).

The fixture is Igor v2's ``cli/show_test.go`` cluster made deterministic: the 48-node ``krypton`` cluster of
``krypton-clusters.yaml`` (12 × 4 map), user ``tombomb`` in ``all,TheGoodGuys``, a fixed "now" and the client
zone America/Denver. Golden files live in ``tests/cli/golden``; run with ``IGOR_UPDATE_GOLDEN=1`` to rewrite them
(then read the diff before committing it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from igor.cli.show import SHOW_FLAGS, check_show_flags, host_map_state, info_flags, render_show
from igor.clusters import load_clusters
from igor.errors import BadInput
from igor.nodeset import fold_names

GOLDEN = Path(__file__).parent / "golden"
KRYPTON_YAML = Path("/work/shared/data/krypton-clusters.yaml")
if not KRYPTON_YAML.exists():  # pragma: no cover - fallback for checkouts without the shared data folder
    KRYPTON_YAML = Path(__file__).parent / "golden" / "krypton-clusters.yaml"

USER = "tombomb"
GROUPS = ["all", "TheGoodGuys"]
TZ = "America/Denver"
#: Thu Mar 5 2026 15:30:00 UTC = 08:30:00 MST (US daylight time starts Mar 8, so +378 d is in MDT).
NOW = 1772724600
MIN, HOUR, DAY = 60, 3600, 86400

BOX = set("─│┌┐└┘├┤┬┴┼")

# host -> (state, powered, restricted)
_HOST_STATE = {
    1: ("reserved", "false"), 2: ("reserved", "true"), 3: ("reserved", "true"), 4: ("available", "unknown"),
    6: ("available", "false"), 7: ("reserved", "unknown"), 8: ("blocked", "true"), 9: ("blocked", "false"),
    10: ("blocked", "unknown"), 11: ("available", "false"), 13: ("reserved", "true"), 15: ("reserved", "true"),
    16: ("blocked", "true"), 17: ("reserved", "true"), 18: ("reserved", "true"), 23: ("reserved", "true"),
    24: ("reserved", "true"), 27: ("reserved", "false"), 28: ("reserved", "false"), 30: ("reserved", "false"),
}  # fmt: skip
_RESTRICTED = {5: ("weekdays-only", ["all"]), 11: ("glados-only", ["ApertureLabs"])}


def _hosts() -> list[dict[str, Any]]:
    spec = load_clusters(KRYPTON_YAML)
    hosts = []
    for h in spec.hosts:
        state, powered = _HOST_STATE.get(h.seq, ("available", "true"))
        policy, access = _RESTRICTED.get(h.seq, (h.policy or "default", ["all"]))
        hosts.append({"name": h.name, "sequenceID": h.seq, "hostName": h.hostname, "eth": h.eth,
                      "ip": h.ip or "Unknown", "mac": h.mac, "bootMode": h.boot_mode, "state": state,
                      "powered": powered, "cluster": spec.name, "hostPolicy": policy, "accessGroups": access,
                      "restricted": h.seq in _RESTRICTED, "reservations": [], "attributes": {}})
    return hosts


def _res(name: str, owner: str, hosts: list[str], start: int, end: int, *, group: str = "",
         installed: bool = True, error: str = "", by_name: dict[str, dict[str, Any]]) -> dict[str, Any]:
    power = {"true": [], "false": [], "unknown": []}  # type: dict[str, list[str]]
    for n in hosts:
        power[by_name[n]["powered"]].append(n)
    return {"name": name, "description": "", "owner": owner, "group": group, "profile": "", "distro": "",
            "vlan": 0, "start": NOW + start, "end": NOW + end, "origEnd": NOW + end, "extendCount": 0,
            "hosts": hosts, "hostRange": fold_names(hosts), "hostsUp": power["true"], "hostsDown": power["false"],
            "hostsPowerNA": power["unknown"], "installed": installed and start <= 0, "installError": error,
            "remainHours": max(0, round((end - max(0, start)) / HOUR))}


def krypton_payload(*, motd: str = "This is a test cluster", urgent: bool = True) -> dict[str, Any]:
    spec = load_clusters(KRYPTON_YAML)
    hosts = _hosts()
    by = {h["name"]: h for h in hosts}
    reservations = [
        _res("willow", "tombomb", ["kn1", "kn2", "kn3"], -3 * HOUR, 5 * HOUR, by_name=by),
        _res("yellow-boots", "tombomb", ["kn7"], -2 * HOUR, 18 * HOUR, by_name=by),
        _res("test-chamber", "glados", ["kn5", "kn11"], 378 * DAY + 2 * HOUR, 378 * DAY + 20 * HOUR,
             installed=False, by_name=by),
        _res("OldForest", "tombomb", ["kn12"], 2 * DAY, 5 * DAY + 7 * HOUR, installed=False, by_name=by),
        _res("hunted", "chell", ["kn13", "kn15"], -6 * HOUR, 30 * HOUR, by_name=by),
        _res("mojo", "minime", ["kn16", "kn17", "kn18"], -1 * HOUR, 3 * DAY + 21 * HOUR + 9 * MIN,
             group="TheGoodGuys", by_name=by),
        _res("GiantBomb", "minime", ["kn23", "kn24"], -4 * HOUR, 10 * HOUR, group="TheGoodGuys",
             installed=False, error="error!", by_name=by),
        _res("barrow", "tombomb", ["kn27", "kn28", "kn30"], -1 * HOUR, 2 * DAY + 30 * MIN, by_name=by),
    ]
    return {"cluster": {"name": spec.name, "prefix": spec.prefix, "displayHeight": spec.display_height,
                        "displayWidth": spec.display_width, "motd": motd, "motdUrgent": urgent},
            "hosts": hosts, "reservations": reservations, "profiles": [], "distros": [],
            "groups": ["TheGoodGuys"]}


def render(flags: dict[str, Any] | None = None, *, color: bool = True, simple: bool = False,
           payload: dict[str, Any] | None = None, user: str = USER, groups: list[str] | None = None) -> str:
    return render_show(payload if payload is not None else krypton_payload(), user=user,
                       groups=GROUPS if groups is None else groups, color=color, simple=simple, tz=TZ,
                       now_epoch=NOW, flags=flags or {})


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("IGOR_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}; run with IGOR_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# --------------------------------------------------------------------------------------------------------------
# Golden files
# --------------------------------------------------------------------------------------------------------------

GOLDEN_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (flags, render options)
    "show_color": ({}, {}),
    "show_nocolor": ({}, {"color": False}),
    "show_all_color": ({"all": True}, {}),
    "show_all_nocolor": ({"all": True}, {"color": False}),
    "show_all_simple": ({"all": True}, {"simple": True}),
    "show_sort_start_all_nomap_color": ({"sort_start": True, "all": True, "no_map": True}, {}),
    "show_sort_start_all_nomap": ({"sort_start": True, "all": True, "no_map": True}, {"color": False}),
    "show_time_left_all_reverse": ({"time_left": True, "all": True, "reverse": True, "no_map": True},
                                   {"color": False}),
    "show_time_left_simple": ({"time_left": True}, {"simple": True}),
    "show_filter_owner_all": ({"filter_owner": ["chell", "glados"], "all": True, "no_map": True},
                              {"color": False}),
    "show_filter_owner_mine_only": ({"filter_owner": ["chell", "glados"], "no_map": True}, {"color": False}),
    "show_filter_name_sort_name": ({"filter_name": "Bomb,mo", "sort_name": True, "no_map": True},
                                   {"color": False}),
    "show_filter_nothing": ({"filter_owner": "nobody", "no_map": True}, {"color": False}),
    "show_group": ({"group": True, "no_map": True}, {"color": False}),
    "show_future": ({"future": True, "no_map": True}, {"color": False}),
    "show_error_all_simple": ({"error": True, "all": True}, {"simple": True}),
    "show_current_all_sort_owner": ({"current": True, "all": True, "sort_owner": True, "no_map": True},
                                    {"color": False}),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden(name: str) -> None:
    flags, options = GOLDEN_CASES[name]
    check_golden(name, render(flags, **options))


def test_golden_no_reservations_user() -> None:
    check_golden("show_stranger", render({"no_map": True}, color=False, user="alice", groups=["all"]))
    check_golden("show_stranger_future", render({"future": True}, simple=True, user="alice", groups=["all"]))


def test_golden_motd_variants() -> None:
    check_golden("show_motd_plain_color", render({"no_map": True}, payload=krypton_payload(urgent=False)))
    check_golden("show_motd_none", render({"no_map": True}, color=False, payload=krypton_payload(motd="  ")))


# --------------------------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_no_escape_codes_without_colour(name: str) -> None:
    flags, options = GOLDEN_CASES[name]
    if options.get("color", True) and not options.get("simple"):
        options = {**options, "color": False}
    assert "\x1b" not in render(flags, **options)
    assert "\x1b" not in render(flags, color=True, simple=True)


def test_simple_has_no_box_drawing_and_no_map() -> None:
    out = render({"all": True}, simple=True)
    assert not BOX & set(out)
    assert "Cluster Name : KRYPTON\nPrefix       : kn\nTotal Nodes  : 48\n" in out
    assert "RESERVATIONS" not in out


def test_map_grid_follows_display_size() -> None:
    lines = plain(render({}, color=True)).splitlines()
    assert lines[0] == "┌" + "─" * 35 + "┐"
    assert lines[1] == "│" + " " * 14 + "KRYPTON" + " " * 14 + "│"
    assert lines[2] == "├" + "┬".join(["──"] * 12) + "┤"
    assert lines[3] == "│" + "│".join(f"{n:>2}" for n in range(1, 13)) + "│"
    assert lines[6] == "│" + "│".join(f"{n:>2}" for n in range(37, 49)) + "│"
    assert lines[7] == "└" + "┴".join(["──"] * 12) + "┘"


def test_map_pads_spare_cells_and_grows_for_extra_hosts() -> None:
    payload = krypton_payload()
    payload["hosts"] = payload["hosts"][:13]
    payload["cluster"] = {**payload["cluster"], "displayWidth": 5, "displayHeight": 2}
    lines = plain(render({}, color=False, payload=payload)).splitlines()
    assert lines[3:7] == ["│ 1│ 2│ 3│ 4│ 5│", "│ 6│ 7│ 8│ 9│10│", "│11│12│13│  │  │", "└──┴──┴──┴──┴──┘"]


def test_server_time_and_urgent_motd_without_colour() -> None:
    out = render({}, color=False)
    assert "\nServer Time : Mar 5 2026 08:30:00 MST(-07:00)\n\nMOTD:  IMPORTANT! - This is a test cluster\n" in out
    coloured = render({})
    assert "\x1b[38;5;9;1mMOTD: This is a test cluster\x1b[0m" in coloured
    assert "IMPORTANT" not in coloured
    assert "\x1b[38;5;3;1mMOTD: This is a test cluster\x1b[0m" in render({}, payload=krypton_payload(urgent=False))


def test_no_cluster() -> None:
    payload = krypton_payload()
    payload["hosts"] = []
    assert render({}, color=False, payload=payload) == "igor: a cluster must be configured first\n"
    payload = krypton_payload()
    payload["cluster"] = {}
    assert render({}, payload=payload) == "\x1b[33migor: a cluster must be configured first\x1b[0m\n"


# --------------------------------------------------------------------------------------------------------------
# Node map colours and precedence
# --------------------------------------------------------------------------------------------------------------


def _host(state: str = "available", restricted: bool = False) -> dict[str, Any]:
    return {"name": "kn1", "sequenceID": 1, "state": state, "restricted": restricted, "powered": "true"}


def _active(owner: str = "x", group: str = "", error: str = "") -> dict[str, Any]:
    return {"name": "r", "owner": owner, "group": group, "hosts": ["kn1"], "installError": error, "start": 0}


@pytest.mark.parametrize(("host", "active", "expected"), [
    (_host("blocked", True), [_active(USER, error="boom")], "error"),
    (_host("blocked", True), [_active(USER)], "blocked"),
    (_host("reserved", True), [_active(USER)], "mine"),
    (_host("reserved", True), [_active("chell", group="TheGoodGuys")], "mine"),
    (_host("reserved", True), [_active("chell", group="all")], "others"),
    (_host("reserved", True), [_active("chell")], "others"),
    (_host("available", True), [], "restricted"),
    (_host("blocked"), [], "blocked"),
    (_host(), [], "available"),
])  # fmt: skip
def test_host_map_state_precedence(host: dict[str, Any], active: list[dict[str, Any]], expected: str) -> None:
    assert host_map_state(host, active, user=USER, groups=GROUPS) == expected


def _cell(out: str, seq: int) -> str:
    """The escape-coded map cell of node ``seq`` (width 2)."""
    m = re.search(r"(\x1b\[[0-9;]*m)" + re.escape(f"{seq:>2}") + r"\x1b\[0m", out.split("\n\n")[0])
    assert m, seq
    return m.group(1)


@pytest.mark.parametrize(("seq", "code"), [
    (1, "38;5;1;48;5;2;1"),     # willow, mine, kn1 down: red bold on green
    (2, "38;5;15;48;5;2"),      # willow, up: white on green
    (4, "38;5;214;48;5;0;1"),   # free, power unknown: orange bold on black
    (5, "38;5;15;48;5;213"),    # restricted (test-chamber is future, so not reserved yet)
    (7, "38;5;214;48;5;2;1"),   # yellow-boots, power unknown
    (8, "38;5;15;48;5;3;1"),    # blocked
    (9, "38;5;1;48;5;3;1"),     # blocked, down
    (12, "38;5;15;48;5;0"),     # OldForest is future: free now
    (13, "38;5;15;48;5;5"),     # hunted: someone else's
    (16, "38;5;15;48;5;3;1"),   # mojo but blocked: blocked wins over reserved
    (17, "38;5;15;48;5;2"),     # mojo: group TheGoodGuys
    (23, "38;5;15;48;5;75;1"),  # GiantBomb install error
    (27, "38;5;1;48;5;2;1"),    # barrow, down
])  # fmt: skip
def test_map_cell_colours(seq: int, code: str) -> None:
    assert _cell(render({}), seq) == f"\x1b[{code}m"


def test_map_ignores_filters() -> None:
    """The map and status table describe the cluster; the list flags only choose reservation rows."""
    a = render({"filter_owner": "chell"}).split("Server Time")[0]
    b = render({"all": True}).split("Server Time")[0]
    assert a == b


def test_status_table_counts() -> None:
    out = plain(render({"no_map": True}, color=False))
    rows = {line.split("│")[0].strip(): line for line in out.splitlines() if "│" in line}
    assert rows["UNRESERVED"].split("│")[1].strip() == "31"  # restricted kn5, kn11 are free too (as in v2)
    assert rows["BLOCKED"].split("│")[1].strip() == "4"
    assert rows["BLOCKED"].split("│")[2].strip() == "kn[8-10,16]"
    assert rows["RESTRICTED"].split("│")[2].strip() == "kn[5,11]"
    assert rows["INST ERROR"].split("│")[2].strip() == "kn[23-24]"


def test_status_nodes_wrap_at_80_columns() -> None:
    hosts = [{"name": f"kn{i}", "sequenceID": i, "state": "blocked" if i % 2 else "available",
              "powered": "true", "restricted": False} for i in range(1, 401)]
    payload = {"cluster": {"name": "big", "prefix": "kn", "displayWidth": 20, "displayHeight": 20, "motd": ""},
               "hosts": hosts, "reservations": []}
    out = render({"no_map": True}, color=False, payload=payload)
    lines = [line for line in out.splitlines() if "│" in line][1:]  # skip the header
    nodes = [line.split("│")[2][1:] for line in lines]
    assert max(len(n) for n in nodes) <= 80
    assert len(nodes) == 20 and all(n.startswith("   ") and n[3].isdigit() for n in nodes[1:10] + nodes[11:])
    labels = [line.split("│")[0].strip() for line in lines]
    assert labels[0] == "UNRESERVED" and labels[10] == "BLOCKED" and set(labels[1:10] + labels[11:]) == {""}
    assert "".join(n.strip() for n in nodes[:10]) == fold_names(f"kn{i}" for i in range(2, 401, 2))
    assert "".join(n.strip() for n in nodes[10:]) == fold_names(f"kn{i}" for i in range(1, 401, 2))


# --------------------------------------------------------------------------------------------------------------
# Reservation table
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("res", "expected"), [
    ({"owner": USER, "start": NOW - 1, "installed": True}, "OI"),
    ({"owner": USER, "start": NOW + 60}, "OF"),
    ({"owner": "minime", "group": "TheGoodGuys", "start": NOW - 1, "installError": "x"}, "GE"),
    ({"owner": "minime", "group": "TheGoodGuys", "start": NOW + 60}, "GF"),
    ({"owner": USER, "group": "TheGoodGuys", "start": NOW - 1, "installed": True}, "OI"),
    ({"owner": "chell", "start": NOW - 1, "installed": True}, "I"),
    ({"owner": "chell", "group": "all", "start": NOW + 1}, "F"),
    ({"owner": "chell", "start": NOW - 1, "installed": False}, ""),
])  # fmt: skip
def test_info_flags(res: dict[str, Any], expected: str) -> None:
    assert info_flags(res, user=USER, groups=GROUPS, now_epoch=NOW) == expected


def _rows(out: str) -> dict[str, list[str]]:
    table = plain(out).split("RESERVATIONS")[-1]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 7 and cells[0] != "NAME":
            rows[cells[0]] = cells
    return rows


def test_default_list_is_owned_or_group() -> None:
    assert sorted(_rows(render({}, color=False))) == sorted(
        ["willow", "yellow-boots", "OldForest", "mojo", "GiantBomb", "barrow"])
    assert len(_rows(render({"all": True}, color=False))) == 8


def test_default_sort_is_end_and_reverse() -> None:
    names = list(_rows(render({"all": True}, color=False)))
    assert names == ["willow", "GiantBomb", "yellow-boots", "hunted", "barrow", "mojo", "OldForest",
                     "test-chamber"]
    assert list(_rows(render({"all": True, "reverse": True}, color=False))) == names[::-1]
    assert list(_rows(render({"all": True, "sort_name": True}, color=False))) == sorted(names)


def test_end_colouring_and_time_left() -> None:
    out = render({"all": True, "time_left": True})
    assert "\x1b[38;5;9;1m5h  0m\x1b[0m" in out            # willow: < 12 h left
    assert "\x1b[38;5;214m18h  0m\x1b[0m" in out            # yellow-boots: < 24 h left
    assert "\x1b[38;5;214m   3d 21h  9m" not in out and "  3d 21h  9m │" in out  # mojo: plain
    assert _rows(render({"all": True, "time_left": True}, color=False))["mojo"][3] == "3d 21h  9m"


def test_year_only_when_a_listed_reservation_ends_after_a_year() -> None:
    mine = _rows(render({}, color=False))
    assert mine["willow"][2] == "Mar  5  5:30 AM MST"
    everyone = _rows(render({"all": True}, color=False))
    assert everyone["willow"][2] == "Mar  5 2026  5:30 AM MST"
    assert everyone["test-chamber"][2] == "Mar 18 2027 11:30 AM MDT"
    simple = render({"all": True}, simple=True)
    assert "Mar-18-27T11:30" in simple and "Mar-5-26T05:30" in simple


def test_nodes_column() -> None:
    rows = _rows(render({"all": True}, color=False))
    assert rows["willow"][6] == "kn[1-3] - UP kn[2-3] / DOWN kn1"
    assert rows["yellow-boots"][6] == "POWER-N/A kn7"
    assert rows["barrow"][6] == "DOWN kn[27-28,30]"
    assert rows["hunted"][6] == "UP kn[13,15]"
    assert rows["mojo"][6] == "UP kn[16-18] / BLOCKED kn16"
    assert rows["test-chamber"][6] == "kn[5,11]"
    out = render({"all": True})
    assert "\x1b[38;5;247;48;5;0;3mkn[5,11]\x1b[0m" in out  # future: italic grey


def test_name_colours() -> None:
    out = render({"all": True})  # names right-aligned to the longest name + 1 inside the colour (as v2)
    assert "\x1b[38;5;15;48;5;2m       willow\x1b[0m" in out       # mine, current
    assert "\x1b[38;5;15;48;5;247m    OldForest\x1b[0m" in out     # mine, future
    assert "\x1b[38;5;15;48;5;5m       hunted\x1b[0m" in out       # someone else's, current
    assert "\x1b[38;5;15;48;5;247m test-chamber\x1b[0m" in out     # someone else's, future
    assert "\x1b[38;5;15;48;5;75;1m    GiantBomb\x1b[0m" in out    # install error


def test_empty_messages() -> None:
    assert "\nYou have no owned or group-affiliated reservations. (Use the --all flag to see complete " \
           "reservation list.)\n" in render({}, color=False, user="alice", groups=[])
    assert "\nYou have no future owned or group-affiliated reservations. (Use the --all flag" in render(
        {"future": True}, color=False, user="alice", groups=[])
    assert "\nNo reservations returned by this query.\n" in render({"filter_name": "zzz"}, color=False)
    assert "\x1b[1mNo reservations returned by this query.\x1b[0m" in render({"filter_owner": "zzz"})
    payload = krypton_payload()
    payload["reservations"] = []
    out = render({"all": True}, color=False, payload=payload)
    assert out.endswith("\nYou have no owned or group-affiliated reservations.\n\n")


# --------------------------------------------------------------------------------------------------------------
# Flag validation
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "message"), [
    ({"sort_start": True, "sort_name": True}, "more than one sorting method specified"),
    ({"sort_owner": True, "sort_name": True}, "more than one sorting method specified"),
    ({"sort_start": True, "sort_owner": True}, "more than one sorting method specified"),
    ({"current": True, "future": True}, "excluded all current and future reservations"),
    ({"error": True, "future": True}, "excluded all current and future reservations"),
    ({"filter_name": "a", "filter_owner": ["b"]}, "can't filter by reservation and owner at same time"),
    ({"all": True, "group": True}, "show group-only not compatible with show all reservations"),
])  # fmt: skip
def test_flag_validation(flags: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput, match=re.escape(message)):
        check_show_flags(flags)
    with pytest.raises(BadInput, match=re.escape(message)):
        render(flags)


def test_flag_combinations_accepted() -> None:
    check_show_flags({})
    check_show_flags(None)
    check_show_flags({**SHOW_FLAGS, "all": True, "current": True, "error": True, "sort_owner": True,
                      "filter_name": ["x"], "filter_owner": [" ", ""]})


def test_unknown_flag_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="sort_end"):
        check_show_flags({"sort_end": True})


def test_unknown_time_zone() -> None:
    with pytest.raises(BadInput, match="unknown time zone"):
        render_show(krypton_payload(), user=USER, groups=GROUPS, color=False, simple=False, tz="Mars/Olympus",
                    now_epoch=NOW, flags={})
