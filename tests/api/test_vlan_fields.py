"""The VLAN field of a reservation at create (the switch side, and allocation end to end, are in tests/vlan)."""

from __future__ import annotations

from igor.clusters import demo_clusters
from igor.db import init_db
from igor.services import Services
from tests.api.conftest import Api, snapshot


def _vlan_api(make_config, lo: int = 100, hi: int = 101) -> Api:
    config = make_config({"vlan": {"network": "arista", "networkURL": "http://switch.example/command-api",
                                   "rangeMin": lo, "rangeMax": hi}})
    services = Services(init_db(config.database.url), config)
    services.bootstrap()
    admin = services.auth.principal_for("igor-admin")
    for name in ("alice", "carol"):
        services.users.create(admin, name, f"{name}@example.com")
    services.cluster.apply_spec(demo_clusters(count=8), blocked=False)
    return Api(services)


def _create(api, user, name, node, **extra):
    return api.post("/igor/reservations", as_user=user,
                    json={"name": name, "nodeList": node, "duration": "1h", **extra})


def test_vlan_is_refused_when_vlans_are_off(people):
    before = snapshot(people.services)
    r = _create(people, "alice", "withvlan", "dn1", vlan="100")
    assert r.status_code == 400 and "not configured" in r.json["message"]
    assert snapshot(people.services) == before
    r = _create(people, "alice", "novlan", "dn1")
    assert r.status_code == 201 and r.json["data"]["reservation"][0]["vlan"] == 0


def test_vlans_are_allocated_shared_and_never_zero(make_config):
    api = _vlan_api(make_config)
    first = _create(api, "alice", "first", "dn1")
    assert first.status_code == 201 and first.json["data"]["reservation"][0]["vlan"] == 100
    shared = _create(api, "alice", "shared", "dn2", vlan="first")
    assert shared.status_code == 201 and shared.json["data"]["reservation"][0]["vlan"] == 100
    r = _create(api, "carol", "stolen", "dn3", vlan="first")
    assert r.status_code == 403 and "another user" in r.json["message"]
    r = _create(api, "carol", "taken", "dn3", vlan="100")
    assert r.status_code == 403 and "VLAN 100 is in use" in r.json["message"]
    r = _create(api, "carol", "outside", "dn3", vlan="7")
    assert r.status_code == 400 and "outside permitted range 100-101" in r.json["message"]
    second = _create(api, "carol", "second", "dn3")
    assert second.json["data"]["reservation"][0]["vlan"] == 101
    before = snapshot(api.services)
    r = _create(api, "carol", "third", "dn4")
    assert r.status_code == 409 and "no VLAN is free in the range 100-101" in r.json["message"]  # never VLAN 0
    assert snapshot(api.services) == before
