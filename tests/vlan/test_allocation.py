"""VLAN allocation at reservation create, end to end with the switch: the lowest free VLAN of
``vlan.rangeMin..rangeMax``, another of the owner's reservations named to share its VLAN, a clear refusal when
the range is used up (never Igor v2's silent VLAN 0), and a VLAN free again once its reservation is closed out."""

from __future__ import annotations

from pony.orm import db_session

from tests.api.conftest import snapshot
from tests.vlan.eapi import FakeArista
from tests.worker.conftest import World


def _create(world: World, name: str, hosts: str, user: str = "alice", **extra):
    return world.api.post("/igor/reservations", as_user=user,
                          json={"name": name, "nodeList": hosts, "duration": "30m", **extra})


def _vlan(r) -> int:
    assert r.status_code == 201, r.json
    return int(r.json["data"]["reservation"][0]["vlan"])


def test_allocation_sharing_exhaustion_and_reuse(vworld: World, switch: FakeArista) -> None:
    assert _vlan(_create(vworld, "resa", "dn1")) == 100
    assert _vlan(_create(vworld, "resb", "dn2", user="carol")) == 101
    assert _vlan(_create(vworld, "resa2", "dn3", vlan="resa")) == 100  # shared by name: VLAN 100 again
    assert _vlan(_create(vworld, "resc", "dn4", user="carol", vlan="101")) == 101  # carol's own VLAN by number
    assert _vlan(_create(vworld, "resd", "dn5", user="bob")) == 102
    before = snapshot(vworld.services)
    r = _create(vworld, "rese", "dn6", user="bob")
    assert (r.status_code, r.json["message"]) == (409, "no VLAN is free in the range 100-102: every one is in use")
    assert snapshot(vworld.services) == before
    vworld.tick()
    assert switch.configured() == {"Et1": 100, "Et2": 101, "Et3": 100, "Et4": 101, "Et5": 102}
    vworld.tick(30)  # all end; their close-outs clear the ports and free the VLANs
    assert switch.configured() == {}
    assert _vlan(_create(vworld, "rese", "dn6", user="bob")) == 100


def test_vlan_zero_is_never_given(vworld: World) -> None:
    r = _create(vworld, "zero", "dn1", vlan="0")
    assert (r.status_code, r.json["message"]) == (400, "VLAN number outside permitted range 100-102: 0")
    assert _vlan(_create(vworld, "old", "dn2")) == 100
    with db_session:
        vworld.services.db.Reservation.get(name="old").vlan = 0  # as if made while VLANs were off
    r = _create(vworld, "shares", "dn3", vlan="old")
    assert (r.status_code, r.json["message"]) == (400, "reservation 'old' has no VLAN to share (it was made while "
                                                       "VLANs were off); leave vlan out to get a free one")
    r = _create(vworld, "other", "dn4", user="carol", vlan="nothere")
    assert r.status_code == 404 and "reservation 'nothere' not found" in r.json["message"]
