"""The lifecycle worker and the switch: a reservation's VLAN is set on its hosts' ports at install (before the
power steps) and cleared at close-out (after the boot files go), each a recorded step; a switch failure is an
install error shown on the reservation and retried with back-off.

The world is ``tests/worker``'s (recording boot and power stand-ins, the services' clock) with ``vlan.*``
pointing at the loopback switch; the worker's switch client is the real one, built from the config.
"""

from __future__ import annotations

from pony.orm import db_session

from tests.vlan.conftest import give_ports
from tests.vlan.eapi import FakeArista
from tests.worker.conftest import World


def _done(world: World, kind: str, name: str) -> list[str]:
    with db_session:
        db = world.services.db
        rows = [e for e in db.Event.select(lambda e: e.kind == kind) if e.payload.get("reservation") == name]
        return list(rows[-1].payload.get("done", []))


def _vlan(world: World, name: str) -> int:
    with db_session:
        return int(world.services.db.Reservation.get(name=name).vlan)


def test_install_sets_the_vlan_and_close_out_clears_it(vworld: World, switch: FakeArista) -> None:
    vworld.reserve("res1", "dn[1-2]", 0, 60)
    assert _vlan(vworld, "res1") == 100
    vworld.tick()
    assert vworld.res("res1")["installed"] is True
    assert switch.configured() == {"Et1": 100, "Et2": 100}
    assert switch.mode_of("Et1") == "dot1q-tunnel"
    assert _done(vworld, "install", "res1") == ["vlan", "power-off", "power-on"]  # the VLAN before the power
    vworld.tick(60)
    assert vworld.res("res1") is None
    assert switch.configured() == {}
    assert switch.mode_of("Et1") == "access"
    assert _done(vworld, "closeout", "res1") == ["boot-remove", "vlan-clear", "power-off"]
    assert vworld.events("closeout")[0][2] == "done"


def test_the_vlan_step_comes_before_the_boot_files(vworld: World, switch: FakeArista) -> None:
    vworld.distro("rocky")
    vworld.reserve("res1", "dn3", 0, 60, distro="rocky")
    vworld.tick()
    assert _done(vworld, "install", "res1") == ["vlan", "boot", "power-off", "power-on"]
    assert switch.configured() == {"Et3": 100}


def test_a_switch_failure_at_install_is_shown_and_retried(vworld: World, switch: FakeArista) -> None:
    vworld.reserve("res1", "dn[1-2]", 0, 60)
    switch.fail("rpc")
    vworld.tick()
    res = vworld.res("res1")
    assert res["installed"] is False
    assert res["error"] == (f"VLAN 100 not set: switch 127.0.0.1:{switch.port}: command 'interface Et1' failed: "
                            "Session is locked (attempt 1; retrying in 1 min)")
    shown = vworld.api.get("/igor/reservations", as_user="alice").json["data"]["reservations"][0]
    assert shown["installError"] == res["error"]
    assert vworld.power.actions == []  # nothing powered while the hosts are on the wrong network
    vworld.tick(1)
    assert vworld.res("res1") == {"installed": True, "error": "", "hosts": ["dn1", "dn2"]}
    assert switch.configured() == {"Et1": 100, "Et2": 100}


def test_an_unreachable_switch_backs_off(vworld: World, switch: FakeArista) -> None:
    vworld.reserve("res1", "dn1", 0, 60)
    switch.fail("http", times=2)
    vworld.tick()
    assert "HTTP 500" in vworld.res("res1")["error"] and "retrying in 1 min" in vworld.res("res1")["error"]
    vworld.tick(1)
    assert "(attempt 2; retrying in 2 min)" in vworld.res("res1")["error"]
    vworld.tick(1)  # not due yet
    assert vworld.res("res1")["installed"] is False and len(switch.requests) == 2
    vworld.tick(1)
    assert vworld.res("res1")["installed"] is True and switch.configured() == {"Et1": 100}


def test_a_host_without_a_switch_port_is_an_install_error(vworld: World, switch: FakeArista) -> None:
    give_ports(vworld, skip=("dn2",))
    vworld.reserve("res1", "dn[1-2]", 0, 60)
    vworld.tick()
    assert vworld.res("res1")["error"].startswith("VLAN 100 not set on dn2: no switch port (eth) configured")
    assert switch.configured() == {"Et1": 100}  # the hosts that can be isolated are
    give_ports(vworld)
    vworld.tick(1)
    assert vworld.res("res1")["installed"] is True and switch.configured() == {"Et1": 100, "Et2": 100}


def test_a_failed_clear_is_retried(vworld: World, switch: FakeArista) -> None:
    vworld.reserve("res1", "dn1", 0, 30)
    vworld.tick()
    switch.fail("rpc")
    vworld.tick(30)
    assert switch.configured() == {"Et1": 100}
    with db_session:
        job = vworld.services.db.Event.select(lambda e: e.kind == "closeout").first()
        assert job.status == "pending" and "VLAN not cleared" in job.last_error
    vworld.tick(1)
    assert switch.configured() == {}
    assert vworld.events("closeout")[0][2] == "done"


def test_a_shared_vlan_is_cleared_port_by_port(vworld: World, switch: FakeArista) -> None:
    vworld.reserve("first", "dn1", 0, 30)
    vworld.reserve("second", "dn[2-3]", 0, 60, vlan="first")
    assert _vlan(vworld, "second") == 100
    vworld.tick()
    assert switch.configured() == {"Et1": 100, "Et2": 100, "Et3": 100}
    vworld.tick(30)  # first ends: only its port leaves the VLAN
    assert switch.configured() == {"Et2": 100, "Et3": 100}


def test_dropped_and_added_hosts_follow_the_vlan(vworld: World, switch: FakeArista) -> None:
    vworld.reserve("res1", "dn[1-3]", 0, 60)
    vworld.tick()
    r = vworld.api.patch("/igor/reservations/res1", as_user="alice", json={"drop": "dn3"})
    assert r.status_code == 200, r.json
    vworld.tick()
    assert switch.configured() == {"Et1": 100, "Et2": 100}
    r = vworld.api.patch("/igor/reservations/res1", as_user="alice", json={"addNodeList": "dn5"})
    assert r.status_code == 200, r.json
    vworld.tick()
    assert switch.configured() == {"Et1": 100, "Et2": 100, "Et5": 100}


def test_a_host_handed_to_the_next_reservation_keeps_the_new_vlan(vworld: World, switch: FakeArista) -> None:
    vworld.reserve("early", "dn1", 0, 30)
    vworld.reserve("late", "dn1", 30, 30)
    vworld.tick()
    assert switch.configured() == {"Et1": 100}
    vworld.tick(30)  # early's close-out leaves dn1 alone: late (VLAN 101) holds it now
    assert _vlan(vworld, "late") == 101
    assert switch.configured() == {"Et1": 101}
    assert "vlan-clear" in _done(vworld, "closeout", "early")
