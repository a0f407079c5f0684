"""``PATCH /igor/hosts-ctrl/block`` (block, unblock), ``PATCH /igor/hosts/{hostName}`` (edit) and
``DELETE /igor/hosts/{hostName}`` over the API: Igor v2's messages (reference §1.4, §2.4, §4.9), the effect on
scheduling (SPEC §5: blocked hosts cannot be newly reserved or extended onto, running reservations keep running),
the rewrite of igor-clusters.yaml, and a database left untouched by every refusal."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pony.orm import db_session

from igor.clusters import demo_clusters, dump_clusters, load_clusters
from igor.services import Services
from tests.api.conftest import Api, seed_people, snapshot
from tests.api.test_users import ELEVATE_MSG, ok, refused

BLOCK = "/igor/hosts-ctrl/block"
BLOCK_DENIED = "block/unblock hosts requires admin elevated privilege"
NO_TOKEN = "user authentication failed - verify token failed - no token"
EXTEND_BLOCKED = "cannot extend a reservation containing nodes with a blocked status -- contact cluster admin team"


# -- helpers -------------------------------------------------------------------------------------------------------


def block(api, hosts: str, on: bool = True, as_user: str = "igor-admin"):
    return api.patch(BLOCK, as_user=as_user, json={"hosts": hosts, "block": on})


def states(api, expr: str = "dn[1-16]") -> dict[str, str]:
    r = api.get("/igor/hosts", as_user="alice", params={"name": expr})
    return {h["name"]: h["state"] for h in r.json["data"]["hosts"] or []}


def host_row(api, name: str) -> dict[str, Any] | None:
    """Every stored field of a host (the shared snapshot leaves eth, boot mode and policy out)."""
    with db_session:
        h = api.services.db.Host.get(name=name)
        if h is None:
            return None
        return {"hostname": h.hostname, "ip": h.ip, "mac": h.mac, "eth": h.eth, "boot": h.boot_mode,
                "policy": h.policy.name if h.policy else None, "state": h.state, "restore": h.restore_state}


def all_hosts(api) -> dict[str, Any]:
    with db_session:
        names = [h.name for h in api.services.db.Host.select()]
    return {n: host_row(api, n) for n in sorted(names)}


def epoch(api) -> int:
    with db_session:
        return api.services.db.ScheduleEpoch[1].epoch


def reserve(api, user: str, name: str, **body: Any):
    return api.post("/igor/reservations", as_user=user, json={"name": name, "duration": "1h", **body})


def add_policy(api, name: str) -> None:
    with db_session:
        api.services.db.HostPolicy(name=name, max_res_time=60 * 24 * 30)


def api_for(make_config, data: dict | None = None) -> Api:
    from igor.db import init_db

    config = make_config(data)
    services = Services(init_db(config.database.url), config)
    services.bootstrap()
    return Api(services)


def api_with_clusters_file(make_config, tmp_path: Path, count: int = 4) -> tuple[Api, Path]:
    """A server whose igor-clusters.yaml (in $IGOR_HOME/conf) holds the demo cluster, configured from it."""
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    path = conf / "igor-clusters.yaml"
    path.write_text(dump_clusters(demo_clusters(count=count)))
    (conf / "igor-server.yaml").write_text("")
    api = api_for(make_config)
    assert api.services.config.clusters_file == path
    assert api.post("/igor/clusters", as_user="igor-admin").status_code == 201
    return api, path


# -- block / unblock -----------------------------------------------------------------------------------------------


def test_block_a_range_then_unblock_it(people):
    before = epoch(people)
    data = ok(block(people, "dn[3-5]"), 200, "")
    assert data == {"hosts": ["dn3", "dn4", "dn5"]}
    assert epoch(people) > before
    got = states(people)
    assert [n for n, s in got.items() if s == "blocked"] == ["dn3", "dn4", "dn5"]
    assert {s for n, s in got.items() if n not in ("dn3", "dn4", "dn5")} == {"available"}
    assert ok(block(people, "dn[3-5]", False), 200, "") == {"hosts": ["dn3", "dn4", "dn5"]}
    assert set(states(people).values()) == {"available"}


def test_block_names_hosts_in_sequence_order_whatever_the_expression(people):
    data = ok(block(people, "dn10,dn2,dn[9-10]"), 200, "")
    assert data["hosts"] == ["dn2", "dn9", "dn10"]  # v2 sorted them as strings (dn10 before dn2)


def test_blocking_an_already_blocked_host_is_fine(people):
    ok(block(people, "dn3"), 200, "")
    ok(block(people, "dn[2-4]"), 200, "")
    assert [n for n, s in states(people).items() if s == "blocked"] == ["dn2", "dn3", "dn4"]
    ok(block(people, "dn[2-4]", False), 200, "")
    assert set(states(people).values()) == {"available"}


def test_unblock_needs_every_listed_host_blocked_and_changes_nothing_otherwise(people):
    ok(block(people, "dn3"), 200, "")
    refused(people, "PATCH", BLOCK, 409, "cannot un-block a non-blocked host: 'dn2'", "igor-admin",
            json={"hosts": "dn[2-3]", "block": False})
    assert states(people, "dn3") == {"dn3": "blocked"}
    refused(people, "PATCH", BLOCK, 409, "cannot un-block a non-blocked host: 'dn7'", "igor-admin",
            json={"hosts": "dn7", "block": False})


@pytest.mark.parametrize(("hosts", "message"), [
    ("dn99", "can't parse hosts - dn99: 'dn99' is outside the cluster's range dn[1-16]"),
    ("dn[15-20]", "can't parse hosts - dn[15-20]: 'dn[17-20]' is outside the cluster's range dn[1-16]"),
    ("kn3", "can't parse hosts - kn3: 'kn3' does not have the cluster prefix 'dn'"),
    ("dn[3-", "can't parse hosts - dn[3-: invalid range specification in 'dn[3-': unterminated '['"),
    ("", "can't parse hosts - : empty node expression"),
    ("dn3;rm", "can't parse hosts - dn3;rm: invalid character ';' in node expression 'dn3;rm'"),
])
def test_block_refuses_expressions_it_cannot_read(people, hosts, message):
    refused(people, "PATCH", BLOCK, 400, message, "igor-admin", json={"hosts": hosts, "block": True})


def test_block_of_hosts_that_do_not_exist_is_404_and_changes_nothing(people):
    ok(people.delete("/igor/hosts/dn5", as_user="igor-admin"), 200, "")
    refused(people, "PATCH", BLOCK, 404, "host 'dn5' not found", "igor-admin", json={"hosts": "dn5", "block": True})
    refused(people, "PATCH", BLOCK, 404, "host(s) 'dn5' not found", "igor-admin",
            json={"hosts": "dn[4-6]", "block": True})
    ok(people.delete("/igor/hosts/dn6", as_user="igor-admin"), 200, "")
    refused(people, "PATCH", BLOCK, 404, "host(s) 'dn5,dn6' not found", "igor-admin",
            json={"hosts": "dn[1-16]", "block": False})


@pytest.mark.parametrize("actor", ["carol", "bob", "alice", "dave"])
def test_only_elevated_admins_block_or_unblock(people, actor):
    for on in (True, False):
        refused(people, "PATCH", BLOCK, 403, BLOCK_DENIED, actor, json={"hosts": "dn3", "block": on})
    # authorization comes first, as in v2: a caller who may not block is told so whatever the body says
    refused(people, "PATCH", BLOCK, 403, BLOCK_DENIED, actor, json={"bogus": 1})
    refused(people, "PATCH", BLOCK, 403, BLOCK_DENIED, actor, json={})


def test_block_without_a_token_is_401(people):
    refused(people, "PATCH", BLOCK, 401, NO_TOKEN, None, json={"hosts": "dn3", "block": True})


def test_an_elevated_admin_blocks(people):
    people.elevate("dave")
    assert ok(block(people, "dn[1-2]", as_user="dave"), 200, "") == {"hosts": ["dn1", "dn2"]}
    assert ok(block(people, "dn[1-2]", False, as_user="dave"), 200, "") == {"hosts": ["dn1", "dn2"]}


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"hosts": "dn3"}, 400, "required parameter 'block' not found"),
    ({"block": True}, 400, "required parameter 'hosts' not found"),
    ({"hosts": "dn3", "block": "yes"}, 400, "invalid parameter 'block': must be a boolean, got string"),
    ({"hosts": 3, "block": True}, 400, "invalid parameter 'hosts': must be a string, got number"),
    ({"hosts": ["dn3"], "block": True}, 400, "invalid parameter 'hosts': must be a string, got list"),
    ({"hosts": "dn3", "block": True, "force": True}, 400, "unknown parameter 'force' received: True"),
    ({"hosts": "dn" + "1" * 5000, "block": True}, 400, "invalid parameter 'hosts': longer than 4096 characters"),
    ({}, 400, "requested operation had no parameters"),
    (["dn3"], 400, "request body must be a JSON object, got list"),
])
def test_block_bad_input_is_refused_and_changes_nothing(people, body, status, message):
    refused(people, "PATCH", BLOCK, status, message, "igor-admin", json=body)


# -- blocks and scheduling -----------------------------------------------------------------------------------------


def test_a_blocked_host_cannot_be_reserved_until_unblocked(people):
    ok(block(people, "dn3"), 200, "")
    r = reserve(people, "alice", "xres", nodeList="dn3")
    assert r.status_code == 409, r.json
    assert "dn3" in r.json["message"] and "not available" in r.json["message"]
    r = reserve(people, "alice", "xres", nodeList="dn[2-4]")
    assert r.status_code == 409 and "[dn3]" in r.json["message"], r.json
    r = reserve(people, "alice", "xres", nodeCount=16)
    assert r.status_code == 409, r.json
    r = reserve(people, "alice", "xres", nodeCount=15)
    assert r.status_code == 201, r.json
    assert "dn3" not in r.json["data"]["reservation"][0]["hosts"]
    ok(people.delete("/igor/reservations/xres", as_user="alice"), 200, "")
    ok(block(people, "dn3", False), 200, "")
    r = reserve(people, "alice", "xres", nodeList="dn3")
    assert r.status_code == 201, r.json
    assert r.json["data"]["reservation"][0]["hosts"] == ["dn3"]


def test_elevated_admins_cannot_reserve_blocked_hosts_either(people):
    ok(block(people, "dn3"), 200, "")
    people.elevate("dave")
    r = reserve(people, "dave", "xres", nodeList="dn3")
    assert r.status_code == 409 and "dn3" in r.json["message"], r.json


def test_a_running_reservation_keeps_its_blocked_host_but_cannot_be_extended(people):
    r = reserve(people, "alice", "ares", nodeList="dn[3-4]")
    assert r.status_code == 201, r.json
    ok(block(people, "dn3"), 200, "")
    names = [v["name"] for v in people.get("/igor/reservations", as_user="alice").json["data"]["reservations"]]
    assert names == ["ares"]
    with db_session:
        res = people.services.db.Reservation.get(name="ares")
        assert sorted(h.name for h in res.hosts) == ["dn3", "dn4"]
    hosts = people.get("/igor/hosts", as_user="alice", params={"name": "dn3"}).json["data"]["hosts"]
    assert hosts[0]["state"] == "blocked" and hosts[0]["reservations"] == ["ares"]
    before = snapshot(people.services)
    r = people.patch("/igor/reservations/ares", as_user="alice", json={"extend": "1h"})
    assert (r.status_code, r.json["message"]) == (409, EXTEND_BLOCKED)
    assert snapshot(people.services) == before
    r = people.patch("/igor/reservations/ares", as_user="bob", json={"extend": "1h"})  # not of alice's group
    assert r.status_code == 403
    # unblocked, the host is the reservation's again (reserved, as it is running) and the extension goes through
    ok(block(people, "dn3", False), 200, "")
    assert states(people, "dn3") == {"dn3": "reserved"}
    r = people.patch("/igor/reservations/ares", as_user="alice", json={"extend": "1h"})
    assert r.status_code == 200, r.json


def test_unblock_gives_back_reserved_to_running_hosts_and_available_to_the_rest(people):
    assert reserve(people, "alice", "now1", nodeList="dn3").status_code == 201
    start = int(time.time()) + 2 * 86400
    assert reserve(people, "alice", "later", nodeList="dn4", start=start).status_code == 201
    with db_session:  # the lifecycle worker marks running hosts reserved
        people.services.db.Host.get(name="dn3").state = 1
    ok(block(people, "dn[3-5]"), 200, "")
    ok(block(people, "dn[3-5]", False), 200, "")
    assert states(people, "dn[3-5]") == {"dn3": "reserved", "dn4": "available", "dn5": "available"}


def test_deleting_a_reservation_leaves_its_blocked_hosts_blocked(people):
    assert reserve(people, "alice", "ares", nodeList="dn[3-4]").status_code == 201
    with db_session:
        for name in ("dn3", "dn4"):
            people.services.db.Host.get(name=name).state = 1
    ok(block(people, "dn3"), 200, "")
    ok(people.delete("/igor/reservations/ares", as_user="alice"), 200, "")
    assert states(people, "dn[3-4]") == {"dn3": "blocked", "dn4": "available"}


def test_a_future_reservation_can_be_made_once_the_block_is_lifted_not_before(people):
    ok(block(people, "dn7"), 200, "")
    start = int(time.time()) + 86400
    r = reserve(people, "alice", "later", nodeList="dn7", start=start)
    assert r.status_code == 409 and "dn7" in r.json["message"], r.json
    ok(block(people, "dn7", False), 200, "")
    assert reserve(people, "alice", "later", nodeList="dn7", start=start).status_code == 201


def test_another_server_process_sees_the_block(people):
    """The block bumps the schedule epoch: a second Services on the same database rebuilds and refuses."""
    from igor.db import init_db

    other = Api(Services(init_db(people.services.config.database.url), people.services.config))
    assert other.get("/igor/hosts", as_user="alice").status_code == 200  # its engine is built before the block
    ok(block(people, "dn3"), 200, "")
    r = reserve(other, "alice", "xres", nodeList="dn3")
    assert r.status_code == 409 and "dn3" in r.json["message"], r.json
    ok(block(people, "dn3", False), 200, "")
    assert reserve(other, "alice", "xres", nodeList="dn3").status_code == 201
    other.services.db.disconnect()


def test_blocking_a_host_in_maintenance_outlives_the_maintenance(people):
    soon = int(time.time()) // 60 + 30
    with db_session:
        db = people.services.db
        h = db.Host.get(name="dn3")
        h.state, h.restore_state = 2, 0  # the worker blocks hosts for their maintenance
        db.MaintenanceRes(reservation_name="old", maintenance_end=soon, hosts=[h])
    ok(block(people, "dn3"), 200, "")
    assert host_row(people, "dn3")["restore"] == 2  # blocked again when the maintenance ends
    r = block(people, "dn3", False)
    data = ok(r, 200, r.json["message"])
    assert data == {"hosts": ["dn3"]}
    assert r.json["message"].startswith("unblocked; still blocked by maintenance, and available again when it "
                                        "ends: dn3 (until ")
    row = host_row(people, "dn3")
    assert (row["state"], row["restore"]) == (2, 0)  # maintenance still on; the admin block is gone


def test_unblocking_a_host_whose_maintenance_is_over(people):
    with db_session:
        db = people.services.db
        h = db.Host.get(name="dn3")
        h.state = 2
        db.MaintenanceRes(reservation_name="old", maintenance_end=int(time.time()) // 60 - 5, hosts=[h])
    ok(block(people, "dn3", False), 200, "")
    row = host_row(people, "dn3")
    assert (row["state"], row["restore"]) == (0, 0)


def test_blocking_hosts_of_a_running_reservation_queues_an_email(make_config):
    email = {"email": {"smtpServer": "mail.example.com", "defaultSuffix": "example.com"}}
    api = seed_people(api_for(make_config, email))
    assert reserve(api, "alice", "ares", nodeList="dn[3-4]", group="team").status_code == 201
    start = int(time.time()) + 86400
    assert reserve(api, "alice", "later", nodeList="dn5", start=start).status_code == 201
    with db_session:
        before = {e.id for e in api.services.db.Event.select()}
    ok(block(api, "dn[3-5]"), 200, "")
    with db_session:
        events = [e for e in api.services.db.Event.select() if e.id not in before]
        assert [(e.kind, e.key) for e in events] == [("email", "reservation-blocked")]
        payload = events[0].payload
    assert payload["to"] == ["alice@example.com"] and payload["cc"] == ["bob@example.com"]
    assert payload["fields"]["reservation"] == "ares" and payload["fields"]["hosts"] == "dn[3-4]"
    ok(block(api, "dn[3-5]"), 200, "")  # already blocked: nobody is told twice
    with db_session:
        assert api.services.db.Event.select().count() == len(before) + 1


# -- edit ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field", "want"), [
    ({"hostname": "zod.example.com"}, "hostname", "zod.example.com"),
    ({"ip": "192.168.7.9"}, "ip", "192.168.7.9"),
    ({"ip": "2001:DB8:0::1"}, "ip", "2001:db8::1"),
    ({"mac": "52-54-00-AA-BB-CC"}, "mac", "52:54:00:aa:bb:cc"),
    ({"eth": "Et4/1/1"}, "eth", "Et4/1/1"),
    ({"boot": "UEFI"}, "boot", "uefi"),
    ({"hostPolicy": "gpu"}, "policy", "gpu"),
])
def test_edit_each_field(people, body, field, want):
    add_policy(people, "gpu")
    before = all_hosts(people)
    epoch_before = epoch(people)
    ok(people.patch("/igor/hosts/dn3", as_user="igor-admin", json=body), 200, "")
    after = all_hosts(people)
    assert after["dn3"][field] == want
    assert {k: v for k, v in after["dn3"].items() if k != field} == \
        {k: v for k, v in before["dn3"].items() if k != field}
    assert {n: r for n, r in after.items() if n != "dn3"} == {n: r for n, r in before.items() if n != "dn3"}
    assert epoch(people) > epoch_before
    shown = people.get("/igor/hosts", as_user="alice", params={"name": "dn3"}).json["data"]["hosts"][0]
    key = {"hostname": "hostName", "boot": "bootMode", "policy": "hostPolicy"}.get(field, field)
    assert shown[key] == want


def test_edit_several_fields_at_once_and_back_to_the_default_policy(people):
    add_policy(people, "gpu")
    body = {"hostname": "zod", "ip": "10.9.9.9", "mac": "52:54:00:99:99:99", "eth": "Et1/1", "boot": "uefi",
            "hostPolicy": "gpu"}
    ok(people.patch("/igor/hosts/dn3", as_user="igor-admin", json=body), 200, "")
    assert host_row(people, "dn3") == {"hostname": "zod", "ip": "10.9.9.9", "mac": "52:54:00:99:99:99",
                                       "eth": "Et1/1", "boot": "uefi", "policy": "gpu", "state": 0, "restore": 0}
    ok(people.patch("/igor/hosts/dn3", as_user="igor-admin", json={"hostPolicy": ""}), 200, "")
    assert host_row(people, "dn3")["policy"] == "default"
    # giving a host the values it already has is not a clash with itself
    ok(people.patch("/igor/hosts/dn3", as_user="igor-admin", json={"hostname": "zod", "mac": "52:54:00:99:99:99"}),
       200, "")


def test_a_policy_edit_reaches_the_scheduler(people):
    """A host moved to a group-restricted policy is no longer reservable by outsiders."""
    with db_session:
        db = people.services.db
        db.HostPolicy(name="teamonly", max_res_time=60 * 24, access_groups=[db.Group.get(name="team")])
    assert reserve(people, "carol", "probe", nodeList="dn3", dryRun=True).status_code == 200
    ok(people.patch("/igor/hosts/dn3", as_user="igor-admin", json={"hostPolicy": "teamonly"}), 200, "")
    r = reserve(people, "carol", "probe", nodeList="dn3")
    assert r.status_code == 409 and "group-restricted" in r.json["message"], r.json
    assert reserve(people, "bob", "probe", nodeList="dn3").status_code == 201


BAD_EDITS = [
    ({"hostname": "bad name!"}, "'bad name!' is not a valid hostname (dot-separated labels of letters, digits, '_' "
                                "and '-', not starting or ending with '-', at most 253 characters)"),
    ({"hostname": "-zod"}, "'-zod' is not a valid hostname (dot-separated labels of letters, digits, '_' and '-', "
                           "not starting or ending with '-', at most 253 characters)"),
    ({"hostname": ""}, "hostname cannot be empty"),
    ({"hostname": "dn4"}, "hostname 'dn4' is already used by host dn4"),
    ({"ip": "10.0.0.300"}, "invalid parameter 'ip': must be a valid IPv4/6 string, got '10.0.0.300'"),
    ({"ip": ""}, "invalid parameter 'ip': must be a valid IPv4/6 string, got ''"),
    ({"mac": "zz:54:00:00:00:03"}, "invalid mac address value zz:54:00:00:00:03 given for host update (six hex "
                                   "pairs separated by ':' or '-', e.g. 52:54:00:12:34:56)"),
    ({"mac": "52:54:00-00:00:03"}, "invalid mac address value 52:54:00-00:00:03 given for host update (six hex "
                                   "pairs separated by ':' or '-', e.g. 52:54:00:12:34:56)"),
    ({"mac": "52:54:00:00:00:04"}, "mac 52:54:00:00:00:04 is already used by host dn4"),
    ({"mac": "52-54-00-00-00-04"}, "mac 52:54:00:00:00:04 is already used by host dn4"),
    ({"eth": "x"}, "'x' is not a legal eth name (must be 3-24 characters, start with a letter and contain only "
                   "letters, digits and '/')"),
    ({"eth": ""}, "eth value name cannot be empty"),
    ({"boot": "floppy"}, "invalid boot type given: 'floppy' (must be bios or uefi)"),
    ({"hostPolicy": "nopolicy"}, "no host policy found with name nopolicy"),
    # one bad field spoils the whole edit: nothing is written
    ({"ip": "10.1.1.1", "eth": "Et1/1", "boot": "pxe"}, "invalid boot type given: 'pxe' (must be bios or uefi)"),
    ({"hostname": "fresh", "mac": "52:54:00:00:00:05"}, "mac 52:54:00:00:00:05 is already used by host dn5"),
]


@pytest.mark.parametrize(("body", "message"), BAD_EDITS, ids=[str(b) for b, _ in BAD_EDITS])
def test_edit_bad_values_are_400_and_change_nothing(people, body, message):
    before = all_hosts(people)
    refused(people, "PATCH", "/igor/hosts/dn3", 400, message, "igor-admin", json=body)
    assert all_hosts(people) == before


@pytest.mark.parametrize(("body", "message"), [
    ({"hostname": 5}, "invalid parameter 'hostname': must be a string, got number"),
    ({"boot": True}, "invalid parameter 'boot': must be a string, got boolean"),
    ({"hostPolicy": None}, "invalid parameter 'hostPolicy': must be a string, got null"),
    ({"ip": ["10.0.0.1"]}, "invalid parameter 'ip': must be a string, got list"),
    ({"state": "available"}, "unknown parameter 'state' received: available"),
    ({"name": "dn33"}, "unknown parameter 'name' received: dn33"),
    ({"hostname": "a" * 254}, "invalid parameter 'hostname': longer than 253 characters"),
    ({"mac": "52:54:00:00:00:033"}, "invalid parameter 'mac': longer than 17 characters"),
    ({}, "requested operation had no parameters"),
    ([], "request body must be a JSON object, got list"),
])
def test_edit_bad_input_is_400_and_changes_nothing(people, body, message):
    before = all_hosts(people)
    refused(people, "PATCH", "/igor/hosts/dn3", 400, message, "igor-admin", json=body)
    assert all_hosts(people) == before


def test_edit_of_a_host_that_does_not_exist(people):
    refused(people, "PATCH", "/igor/hosts/dn99", 404, "host 'dn99' not found", "igor-admin", json={"boot": "uefi"})
    # the missing host is reported before the values are judged
    refused(people, "PATCH", "/igor/hosts/dn99", 404, "host 'dn99' not found", "igor-admin", json={"boot": "x"})
    refused(people, "PATCH", "/igor/hosts/a:b", 404, "host 'a:b' not found", "igor-admin", json={"boot": "uefi"})
    refused(people, "PATCH", "/igor/hosts/" + "n" * 300, 404, f"host '{'n' * 300}' not found", "igor-admin",
            json={"boot": "uefi"})
    for actor in ("carol", "dave"):
        refused(people, "PATCH", "/igor/hosts/dn99", 404, "the host 'dn99' does not exist", actor,
                json={"boot": "uefi"})


@pytest.mark.parametrize(("actor", "message"), [("carol", "you cannot access the host 'dn3'"),
                                                ("bob", "you cannot access the host 'dn3'"),
                                                ("alice", "you cannot access the host 'dn3'"),
                                                ("dave", ELEVATE_MSG)])
def test_only_elevated_admins_edit_or_delete_hosts(people, actor, message):
    refused(people, "PATCH", "/igor/hosts/dn3", 403, message, actor, json={"boot": "uefi"})
    refused(people, "PATCH", "/igor/hosts/dn3", 403, message, actor, json={"bogus": 1})  # authorization first
    refused(people, "DELETE", "/igor/hosts/dn3", 403, message, actor)


def test_host_edit_and_delete_need_a_token(people):
    refused(people, "PATCH", "/igor/hosts/dn3", 401, NO_TOKEN, None, json={"boot": "uefi"})
    refused(people, "DELETE", "/igor/hosts/dn3", 401, NO_TOKEN, None)


def test_an_elevated_admin_edits_and_deletes(people):
    people.elevate("dave")
    ok(people.patch("/igor/hosts/dn3", as_user="dave", json={"boot": "uefi"}), 200, "")
    assert host_row(people, "dn3")["boot"] == "uefi"
    ok(people.delete("/igor/hosts/dn3", as_user="dave"), 200, "")
    assert host_row(people, "dn3") is None


def test_editing_a_hostname_keeps_running_reservations_power_grants(people):
    with db_session:
        db = people.services.db
        team = db.Group.get(name="team")
        db.Permission(group=team, fact="power:dn3,dn4")
        db.Permission(group=team, fact="power:dn30,dn5")
    ok(people.patch("/igor/hosts/dn3", as_user="igor-admin", json={"hostname": "zod"}), 200, "")
    with db_session:
        facts = sorted(p.fact for p in people.services.db.Permission.select() if p.fact.startswith("power:"))
    assert facts == ["power:dn30,dn5", "power:dn4,zod"]


def test_a_blocked_host_stays_blocked_through_an_edit(people):
    ok(block(people, "dn3"), 200, "")
    ok(people.patch("/igor/hosts/dn3", as_user="igor-admin", json={"boot": "uefi"}), 200, "")
    assert states(people, "dn3") == {"dn3": "blocked"}
    r = reserve(people, "alice", "xres", nodeList="dn3")
    assert r.status_code == 409 and "dn3" in r.json["message"]


# -- igor-clusters.yaml --------------------------------------------------------------------------------------------


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".*.bak"))


def test_edit_rewrites_the_clusters_file_and_keeps_a_backup(make_config, tmp_path):
    api, path = api_with_clusters_file(make_config, tmp_path)
    add_policy(api, "gpu")
    old = path.read_text()
    body = {"ip": "10.8.8.8", "eth": "Et2/1", "hostname": "zod", "hostPolicy": "gpu", "boot": "uefi",
            "mac": "52:54:00:aa:00:02"}
    ok(api.patch("/igor/hosts/dn2", as_user="igor-admin", json=body), 200, "")
    spec = load_clusters(path)
    host = {h.name: h for h in spec.hosts}["dn2"]
    assert (host.ip, host.eth, host.hostname, host.policy, host.boot_mode, host.mac) == \
        ("10.8.8.8", "Et2/1", "zod", "gpu", "uefi", "52:54:00:aa:00:02")
    assert [h.name for h in spec.hosts] == ["dn1", "dn2", "dn3", "dn4"]
    backups = _backups(path)
    assert len(backups) == 1 and backups[0].read_text() == old


def test_delete_rewrites_the_clusters_file_and_keeps_a_backup(make_config, tmp_path):
    api, path = api_with_clusters_file(make_config, tmp_path)
    old = path.read_text()
    ok(api.delete("/igor/hosts/dn2", as_user="igor-admin"), 200, "")
    assert [h.name for h in load_clusters(path).hosts] == ["dn1", "dn3", "dn4"]
    backups = _backups(path)
    assert len(backups) == 1 and backups[0].read_text() == old


def test_a_refused_edit_leaves_the_clusters_file_alone(make_config, tmp_path):
    api, path = api_with_clusters_file(make_config, tmp_path)
    old = path.read_text()
    refused(api, "PATCH", "/igor/hosts/dn2", 400, "invalid boot type given: 'x' (must be bios or uefi)",
            "igor-admin", json={"boot": "x"})
    assert path.read_text() == old and _backups(path) == []


def test_without_a_clusters_file_nothing_is_written(people, tmp_path):
    assert people.services.config.clusters_file is None
    ok(people.patch("/igor/hosts/dn2", as_user="igor-admin", json={"ip": "10.7.7.7"}), 200, "")
    ok(people.delete("/igor/hosts/dn2", as_user="igor-admin"), 200, "")
    assert list(tmp_path.rglob("igor-clusters.yaml*")) == []


def test_when_the_clusters_file_cannot_be_written_the_change_stands_and_the_answer_says_so(make_config, tmp_path):
    api, path = api_with_clusters_file(make_config, tmp_path)
    path.unlink()
    path.mkdir()  # something that is no longer a file
    r = api.patch("/igor/hosts/dn2", as_user="igor-admin", json={"ip": "10.6.6.6"})
    assert r.status_code == 200 and r.json["status"] == "success", r.json
    assert r.json["message"].startswith("'dn2' updated but problem writing new igor-clusters.yaml : ")
    assert host_row(api, "dn2")["ip"] == "10.6.6.6"
    r = api.delete("/igor/hosts/dn3", as_user="igor-admin")
    assert r.status_code == 200 and r.json["message"].startswith(
        "'dn3' deleted but problem writing new igor-clusters.yaml : ")
    assert host_row(api, "dn3") is None


# -- delete --------------------------------------------------------------------------------------------------------


def test_delete_is_refused_while_the_host_is_in_a_current_or_future_reservation(people):
    assert reserve(people, "alice", "now1", nodeList="dn[3-4]").status_code == 201
    start = int(time.time()) + 2 * 86400
    assert reserve(people, "bob", "later", nodeList="dn4", start=start).status_code == 201
    assert reserve(people, "carol", "later2", nodeList="dn5", start=start).status_code == 201
    refused(people, "DELETE", "/igor/hosts/dn3", 409, "cannot delete a node with an active reservation: host 'dn3' "
            "is in current or future reservation(s) now1", "igor-admin")
    refused(people, "DELETE", "/igor/hosts/dn4", 409, "cannot delete a node with an active reservation: host 'dn4' "
            "is in current or future reservation(s) later, now1", "igor-admin")
    refused(people, "DELETE", "/igor/hosts/dn5", 409, "cannot delete a node with an active reservation: host 'dn5' "
            "is in current or future reservation(s) later2", "igor-admin")
    ok(people.delete("/igor/reservations/later2", as_user="carol"), 200, "")
    ok(people.delete("/igor/hosts/dn5", as_user="igor-admin"), 200, "")


def test_a_deleted_host_is_gone_from_the_host_list_and_from_scheduling(people):
    before = epoch(people)
    ok(people.delete("/igor/hosts/dn5", as_user="igor-admin"), 200, "")
    assert epoch(people) > before
    names = [h["name"] for h in people.get("/igor/hosts", as_user="alice").json["data"]["hosts"]]
    assert names == [f"dn{i}" for i in range(1, 17) if i != 5]
    with db_session:
        cluster = people.services.db.Cluster.select().first()
        assert "dn5" not in {h.name for h in cluster.hosts} and len(cluster.hosts) == 15
    r = reserve(people, "alice", "xres", nodeList="dn5")
    assert (r.status_code, r.json["message"]) == (404, "the following hosts do not exist: dn5")
    r = reserve(people, "alice", "xres", nodeCount=16)
    assert r.status_code == 409, r.json
    r = reserve(people, "alice", "xres", nodeCount=15)
    assert r.status_code == 201, r.json
    assert "dn5" not in r.json["data"]["reservation"][0]["hosts"]


def test_deleting_the_last_host_shrinks_the_range(people):
    ok(people.delete("/igor/hosts/dn16", as_user="igor-admin"), 200, "")
    r = reserve(people, "alice", "xres", nodeList="dn16")
    assert r.status_code == 400 and "outside the cluster's range dn[1-15]" in r.json["message"], r.json
    refused(people, "PATCH", BLOCK, 400, "can't parse hosts - dn16: 'dn16' is outside the cluster's range dn[1-15]",
            "igor-admin", json={"hosts": "dn16", "block": True})


def test_a_blocked_host_can_be_deleted(people):
    ok(block(people, "dn3"), 200, "")
    ok(people.delete("/igor/hosts/dn3", as_user="igor-admin"), 200, "")
    assert host_row(people, "dn3") is None
    assert reserve(people, "alice", "xres", nodeCount=15).status_code == 201


def test_delete_of_a_host_that_does_not_exist(people):
    refused(people, "DELETE", "/igor/hosts/nohost", 404, "host 'nohost' not found", "igor-admin")
    refused(people, "DELETE", "/igor/hosts/nohost", 404, "the host 'nohost' does not exist", "carol")
    refused(people, "DELETE", "/igor/hosts/nohost", 404, "the host 'nohost' does not exist", "dave")
    ok(people.delete("/igor/hosts/dn3", as_user="igor-admin"), 200, "")
    refused(people, "DELETE", "/igor/hosts/dn3", 404, "host 'dn3' not found", "igor-admin")


def test_delete_takes_no_query_parameters(people):
    r = people.delete("/igor/hosts/dn3", as_user="igor-admin", query_string="force=1")
    assert r.status_code == 400 and r.json["message"] == "unknown parameter 'force' received: [1]"
    assert host_row(people, "dn3") is not None
