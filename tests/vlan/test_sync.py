"""``igor sync arista`` (``GET /igor/sync``) against the loopback switch: the report (``res_vlan``,
``switch_vlan``, ``powered``), ``quiet``, ``force`` corrections and their failures, scopes, and the §11.9 case —
``force`` on hosts with no VLAN to apply is answered at once with a status per host and leaves nothing locked.

Setup: res1 on dn[1-2] (VLAN 100) and res2 on dn3 (VLAN 101), installed, so the switch agrees; each test then
changes the switch behind Igor's back.
"""

from __future__ import annotations

import threading

import pytest
from pony.orm import db_session

from igor.cli import render
from igor.cli.commands import build_request
from igor.cli.grammar import lookup
from igor.cli.main import build_parser
from igor.power import OFF, PowerTarget
from igor.services.vlansync import FAILED, SKIPPED_NO_PORT, SKIPPED_NO_RES, SKIPPED_NO_VLAN, SUCCEEDED
from tests.vlan.conftest import give_ports
from tests.vlan.eapi import FakeArista
from tests.worker.conftest import World


@pytest.fixture
def synced(vworld: World, switch: FakeArista) -> World:
    vworld.reserve("res1", "dn[1-2]", 0, 60)
    vworld.reserve("res2", "dn3", 0, 60)
    vworld.tick()
    assert switch.configured() == {"Et1": 100, "Et2": 100, "Et3": 101}
    return vworld


def sync(world: World, user: str = "igor-admin", **params: str):
    return world.api.get("/igor/sync", as_user=user, params={"cmd": "arista", **params})


def report(world: World, **params: str) -> dict:
    r = sync(world, **params)
    assert r.status_code == 200, r.json
    data = r.json["data"]["sync"]
    assert data["command"] == "arista"
    return data["report"]


def line(res_vlan: str, switch_vlan: str, powered: str = "on", reservation: str = "", **extra) -> dict:
    return {"res_vlan": res_vlan, "switch_vlan": switch_vlan, "powered": powered, "reservation": reservation,
            "mismatch": extra.pop("mismatch", res_vlan != switch_vlan), **extra}


def test_the_report_compares_every_reserved_host(synced: World, switch: FakeArista) -> None:
    synced.services.power.act([PowerTarget("dn1", "dn1", "sim://")], OFF)
    switch.set_port("Et2", None)
    switch.set_port("Et3", 102)
    got = report(synced)
    assert list(got) == ["dn1", "dn2", "dn3"]  # host order; only hosts in running reservations
    assert got == {"dn1": line("100", "100", "off", "res1"), "dn2": line("100", "(none)", "on", "res1"),
                   "dn3": line("101", "102", "on", "res2")}
    assert report(synced, quiet="true") == {"dn2": got["dn2"], "dn3": got["dn3"]}
    assert switch.configured() == {"Et1": 100, "Et3": 102}  # a report changes nothing


def test_force_corrects_the_mismatches(synced: World, switch: FakeArista) -> None:
    switch.set_port("Et2", None)
    switch.set_port("Et3", 102)
    r = sync(synced, force="true")
    assert r.status_code == 200 and r.json["data"]["sync"]["force"] == "true"
    got = r.json["data"]["sync"]["report"]
    assert got["dn1"] == line("100", "100", reservation="res1")  # in sync: no status
    assert got["dn2"] == line("100", "(none)", reservation="res1", status=SUCCEEDED)
    assert got["dn3"] == line("101", "102", reservation="res2", status=SUCCEEDED)
    assert switch.configured() == {"Et1": 100, "Et2": 100, "Et3": 101}
    assert report(synced, quiet="true") == {}


def test_a_failed_correction_says_why_and_the_others_go_on(synced: World, switch: FakeArista) -> None:
    switch.set_port("Et2", None)
    switch.set_port("Et3", None)
    with switch.lock:
        del switch.ports["Ethernet2"]  # the port is gone from the switch
    got = report(synced, force="true")
    assert got["dn2"]["status"] == FAILED
    assert got["dn2"]["error"] == (f"switch 127.0.0.1:{switch.port}: command 'interface Et2' failed: "
                                   "Interface Ethernet2 does not exist")
    assert got["dn3"]["status"] == SUCCEEDED and switch.vlan_of("Et3") == 101


def test_force_on_hosts_with_no_vlan_to_apply_skips_them_and_locks_nothing(synced: World,
                                                                           switch: FakeArista) -> None:
    """Reference §11.9: v2 answered 500 and kept its power-map mutex (later requests hung)."""
    with db_session:
        synced.services.db.Reservation.get(name="res2").vlan = 0  # made while VLANs were off
    switch.set_port("Et5", 102)  # dn5 is in no reservation, yet its port is on a VLAN
    give_ports(synced, skip=("dn2",))
    got = report(synced, force="true", scope="dn[1-3],dn5,dn6")
    assert got["dn1"] == line("100", "100", reservation="res1")
    assert got["dn2"] == line("100", "(none)", reservation="res1", status=SKIPPED_NO_PORT)
    assert got["dn3"] == line("(none)", "101", reservation="res2", status=SKIPPED_NO_VLAN)
    assert got["dn5"] == line("(unknown)", "102", status=SKIPPED_NO_RES)
    assert got["dn6"] == line("(unknown)", "(none)", mismatch=False)  # nothing on it, nothing should be
    assert switch.configured() == {"Et1": 100, "Et2": 100, "Et3": 101, "Et5": 102}  # nothing was sent
    # nothing is held: concurrent syncs and host views all answer
    answers: list[int] = []

    def call() -> None:
        answers.append(sync(synced, force="true").status_code)
        answers.append(synced.api.get("/igor/hosts", as_user="igor-admin").status_code)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [200] * 6


def test_scopes_name_nodes_or_reservations(synced: World, switch: FakeArista) -> None:
    assert list(report(synced, scope="res2")) == ["dn3"]
    assert list(report(synced, scope="res2,res1")) == ["dn1", "dn2", "dn3"]
    assert list(report(synced, scope="dn[2-4]")) == ["dn2", "dn3", "dn4"]
    assert report(synced, scope="dn4")["dn4"] == line("(unknown)", "(none)", mismatch=False)
    for scope, unknown in (("nores", "nores"), ("res1,nores", "nores"), ("dn[3-99]", "dn[17-99]")):
        r = sync(synced, scope=scope)
        assert r.status_code == 400
        assert r.json["message"].startswith(f"unable to retrieve valid hosts from expression {scope}: no host or "
                                            f"reservation named {unknown} (")


def test_refusals(synced: World, switch: FakeArista) -> None:
    r = synced.api.get("/igor/sync", as_user="igor-admin", params={"cmd": "cisco"})
    assert (r.status_code, r.json["message"]) == (400, "sync command cisco not recognized (use arista)")
    r = synced.api.get("/igor/sync", as_user="igor-admin", params={"force": "true"})
    assert (r.status_code, r.json["message"]) == (400, "required parameter 'cmd' not found")
    r = sync(synced, user="alice")
    assert (r.status_code, r.json["message"]) == (403, "access denied")
    switch.stop()
    r = sync(synced)
    assert r.status_code == 502 and r.json["status"] == "error"
    assert r.json["message"].startswith(f"switch 127.0.0.1:{switch.port}: command 'show vlan 100-102' failed: "
                                        "unreachable")


def test_nothing_reserved_is_an_empty_report(vworld: World, switch: FakeArista) -> None:
    assert report(vworld) == {} and switch.requests == []


def test_the_cli_command_and_its_table(synced: World, switch: FakeArista) -> None:
    ns = vars(build_parser().parse_args(["sync", "arista", "-f", "-q", "-s", "dn[1-3]"]))
    request = build_request(lookup("sync"), ns)
    assert (request.method, request.path) == ("GET", "/igor/sync")
    assert request.query == {"cmd": "arista", "force": True, "quiet": True, "scope": "dn[1-3]"}
    switch.set_port("Et3", 102)
    data = sync(synced, force="true", quiet="true").json["data"]
    assert render.sync(data, tz=None, now=0).splitlines() == [
        "igor: sync performed on: arista",
        "HOST  POWERED  RESERVATION VLAN  SWITCH VLAN  FORCE RESULTS",
        "----  -------  ----------------  -----------  -------------------------",
        "dn3   on       101               102          VLAN correction succeeded",
    ]
    data = sync(synced).json["data"]
    assert render.sync(data, tz=None, now=0).splitlines()[3:] == [
        "dn1   on       100               100",
        "dn2   on       100               100",
        "dn3   on       101               101",
    ]
    data = sync(synced, quiet="true").json["data"]
    assert render.sync(data, tz=None, now=0) == "igor: sync performed on: arista\nigor: no hosts were out of sync"
