"""``PATCH /igor/reservations/{resName}`` edits other than extend (reference §4.7): drop, add by name and by
count, rename, description, owner, group, distro / profile and kernel args — with Igor v2's messages, the edit
permissions (owners ``edit:*``, group members ``edit:extend``), a database left untouched by every refusal, and
an engine that stays equal to the database."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from pony.orm import db_session

from tests.api.conftest import snapshot
from tests.api.test_users import ok

ELEVATE_MSG = "elevated access is required before running this command"
DAY = 1440


# -- helpers -------------------------------------------------------------------------------------------------------


def later(days: int = 2) -> int:
    """A start (epoch seconds, on a minute) ``days`` from now."""
    return (int(time.time()) // 60 + days * DAY) * 60


def full_snapshot(services) -> dict[str, Any]:
    """The server-core snapshot plus reservations, profiles and history."""
    db = services.db
    out = snapshot(services)
    with db_session:
        out["reservations"] = sorted(
            (r.name, r.owner.name, r.group.name, r.start, r.end, r.reset_end, r.description,
             r.profile.name if r.profile else "", tuple(sorted(h.name for h in r.hosts)))
            for r in db.Reservation.select())
        out["profiles"] = sorted((p.name, p.owner.name, p.distro.name if p.distro else "", p.is_default,
                                  p.kernel_args, p.description) for p in db.Profile.select())
        out["history"] = [(db.HistoryRecord.select().count(),)]
    return out


def refused(api, path: str, body: dict, status: int, message: str, as_user: str) -> None:
    """PATCH, expect the refusal (status and exact message), and check that nothing changed."""
    before = full_snapshot(api.services)
    r = api.patch(path, as_user=as_user, json=body)
    assert (r.status_code, r.json["message"]) == (status, message), r.json
    assert r.json["status"] == "fail" and r.json["data"] == {}
    assert full_snapshot(api.services) == before


def make(api, user: str, name: str, nodes: str | int, *, start: int | None = None, duration: str = "2h",
         **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "duration": duration, **kw}
    if start is not None:
        body["start"] = start
    body["nodeCount" if isinstance(nodes, int) else "nodeList"] = nodes
    r = api.post("/igor/reservations", as_user=user, json=body)
    assert r.status_code == 201, r.json
    return r.json["data"]["reservation"][0]


def res_row(api, name: str) -> dict[str, Any] | None:
    with db_session:
        r = api.services.db.Reservation.get(name=name)
        if r is None:
            return None
        return {"owner": r.owner.name, "group": r.group.name, "description": r.description,
                "hosts": sorted((h.name for h in r.hosts), key=lambda n: int(n[2:])),
                "profile": r.profile.name if r.profile else None,
                "temp": r.profile.is_default if r.profile else None,
                "distro": r.profile.distro.name if r.profile and r.profile.distro else None,
                "kernel_args": r.profile.kernel_args if r.profile else None, "start": r.start, "end": r.end}


def facts(api, group: str, about: str = "reservations:") -> list[str]:
    with db_session:
        g = api.services.db.Group.get(name=group)
        return sorted(p.fact for p in g.permissions if p.fact.startswith(about))


def history(api, name: str) -> list[str]:
    with db_session:
        return [h.status for h in api.services.db.HistoryRecord.select(lambda h: h.name == name).order_by(
            lambda h: h.id)]


def host_state(api, name: str) -> int:
    with db_session:
        return api.services.db.Host.get(name=name).state


def set_state(api, names: list[str], state: int) -> None:
    with db_session:
        for n in names:
            api.services.db.Host.get(name=n).state = state


def engine_hosts(api, name: str) -> list[str]:
    """The hosts the engine holds for reservation ``name`` (rebuilding it if another writer moved the epoch)."""
    sched = api.services.scheduler
    with db_session:
        rid = api.services.db.Reservation.get(name=name).id
        with sched.locked() as engine:
            hosts, *_ = engine.reservation(rid)
            return [sched.hosts.names[i] for i in hosts]


def add_distros(api) -> None:
    """Distros rocky and alma (public), secret (shared with group 'other' only); alice's profile 'myprof'."""
    db = api.services.db
    with db_session:
        carol = db.User.get(name="carol")
        other = db.Group(name="other", description="carol's")
        other.owners.add(carol)
        other.members.add(carol)
        rocky = db.Distro(name="rocky", is_public=True)
        db.Distro(name="alma", is_public=True)
        secret = db.Distro(name="secret", owner=carol)
        secret.groups.add(other)
        db.Profile(name="myprof", owner=db.User.get(name="alice"), distro=rocky, kernel_args="quiet")
        db.Profile(name="carolprof", owner=carol, distro=rocky)
        db.Profile(name="secretprof", owner=db.User.get(name="alice"), distro=secret)


@pytest.fixture
def team_res(people):
    """Alice's reservation 'alpha' on dn[1-4] in group team, starting in two days."""
    start = later()
    make(people, "alice", "alpha", "dn[1-4]", start=start, group="team")
    people.start = start
    return people


# -- one operation per PATCH -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "message"), [
    ({"extend": "1h", "name": "beta"}, "extending a reservation can only be a singular edit; found "
                                       "map[extend:1h name:beta]"),
    ({"extendMax": True, "drop": "dn1"}, "extending a reservation can only be a singular edit; found "
                                         "map[drop:dn1 extendMax:true]"),
    ({"extend": "1h", "extendMax": True}, "extend and extendMax cannot be used together"),
    ({"drop": "dn1", "description": "x"}, "dropping nodes from a reservation can only be a singular edit; found "
                                          "map[description:x drop:dn1]"),
    ({"drop": "dn1", "addNodeList": "dn5"}, "dropping nodes from a reservation can only be a singular edit; "
                                            "found map[addNodeList:dn5 drop:dn1]"),
    ({"addNodeList": "dn5", "addNodeCount": 1}, "both addNodeList and addNodeCount found; only one allowed"),
    ({"addNodeCount": 2, "name": "beta"}, "adding nodes to a reservation can only be a singular edit; found "
                                          "map[addNodeCount:2 name:beta]"),
    ({"distro": "rocky", "profile": "myprof"}, "both profile and distro params found; only one allowed"),
    ({"distro": "rocky", "kernelArgs": "quiet"}, "distro and profile changes cannot be mixed with other "
                                                 "reservation changes; found map[distro:rocky kernelArgs:quiet]"),
    ({"profile": "myprof", "owner": "bob"}, "distro and profile changes cannot be mixed with other reservation "
                                            "changes; found map[owner:bob profile:myprof]"),
    ({"dryRun": True}, "requested operation had no parameters"),
    ({"bogus": 1}, "unknown parameter 'bogus' received: 1"),
])
def test_incompatible_edits_are_refused(team_res, body, message):
    refused(team_res, "/igor/reservations/alpha", body, 400, message, "alice")


@pytest.mark.parametrize(("body", "message"), [
    ({"drop": " "}, "at least 1 host name required for 'drop'"),
    ({"addNodeList": ""}, "at least 1 host name required for 'addNodeList'"),
    ({"addNodeCount": 0}, "invalid parameter 'addNodeCount': at least 1 host must be added, got 0"),
    ({"addNodeCount": "2"}, "invalid parameter 'addNodeCount': must be a integer, got string"),
    ({"group": "all"}, "reservations cannot be assigned to the 'all' group"),
    ({"name": "x"}, "'x' is not a legal reservation name (must be 3-24 characters from letters, digits, '_', '-' "
                    "and '.', start with a letter, digit or underscore, and not be all digits or punctuation)"),
    ({"drop": "dn2", "dryRun": "yes"}, "invalid parameter 'dryRun': must be a boolean, got string"),
])
def test_bad_values_are_refused(team_res, body, message):
    refused(team_res, "/igor/reservations/alpha", body, 400, message, "alice")


def test_extend_still_works_for_group_members(team_res):
    data = ok(team_res.patch("/igor/reservations/alpha", as_user="bob", json={"extend": "1h"}), 200,
              ok_message(team_res))
    assert data["reservation"][0]["end"] == team_res.start + 3 * 3600
    assert history(team_res, "alpha") == ["created", "updated:extend"]


def ok_message(api) -> str:
    from igor.timefmt import format_datetime

    start = api.start // 60
    return f"reservation 'alpha' extended from {format_datetime(start + 120)} to {format_datetime(start + 180)}"


# -- permissions ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"drop": "dn2"}, {"addNodeList": "dn5"}, {"addNodeCount": 1}, {"name": "beta"}, {"description": "new"},
    {"group": "none"}, {"distro": "rocky"}, {"profile": "myprof"}, {"kernelArgs": "quiet"}, {"owner": "bob"},
    {"name": "beta", "description": "new"},
])
def test_only_owner_and_elevated_admins_edit(people, body):
    add_distros(people)
    make(people, "alice", "alpha", "dn[1-4]", start=later(), group="team", distro="rocky")
    team_res = people
    path = "/igor/reservations/alpha"
    refused(team_res, path, body, 403, "you cannot access the reservation 'alpha'", "bob")  # group member
    refused(team_res, path, body, 403, "you cannot access the reservation 'alpha'", "carol")
    refused(team_res, path, body, 403, ELEVATE_MSG, "dave")  # admin, not elevated
    refused(team_res, "/igor/reservations/nope", body, 404, "the reservation 'nope' does not exist", "carol")
    team_res.elevate("dave")
    refused(team_res, "/igor/reservations/nope", body, 404, "reservation 'nope' not found", "dave")
    r = team_res.patch(path, as_user="dave", json=body)
    assert r.status_code == 200, r.json


def test_the_owner_may_hand_a_reservation_over_but_a_group_member_may_not(team_res):
    """As Igor v2: the owner holds reservations:R:edit:*, so may change the owner (to a member of the group)."""
    refused(team_res, "/igor/reservations/alpha", {"owner": "bob"}, 403,
            "you cannot access the reservation 'alpha'", "bob")
    r = team_res.patch("/igor/reservations/alpha", as_user="alice", json={"owner": "bob"})
    assert r.status_code == 200, r.json
    assert r.json["data"]["reservation"][0]["owner"] == "bob"
    r = team_res.patch("/igor/reservations/alpha", as_user="alice", json={"description": "mine again?"})
    assert r.status_code == 403 and r.json["message"] == "you cannot access the reservation 'alpha'"


# -- drop -----------------------------------------------------------------------------------------------------------


def test_drop_frees_the_host_for_others_at_once(team_res):
    api = team_res
    data = ok(api.patch("/igor/reservations/alpha", as_user="alice", json={"drop": "dn2"}), 200,
              "dropped dn2 from reservation 'alpha'")
    assert data["reservation"][0]["hosts"] == ["dn1", "dn3", "dn4"]
    assert res_row(api, "alpha")["hosts"] == ["dn1", "dn3", "dn4"]
    assert engine_hosts(api, "alpha") == ["dn1", "dn3", "dn4"]
    assert history(api, "alpha") == ["created", "updated:drop"]
    make(api, "carol", "carols", "dn2", start=api.start)  # same window, at once
    r = api.post("/igor/reservations", as_user="carol",
                 json={"name": "carol2", "nodeList": "dn3", "start": api.start, "duration": "2h"})
    assert r.status_code == 409, r.json


def test_drop_several_by_range(team_res):
    ok(team_res.patch("/igor/reservations/alpha", as_user="alice", json={"drop": "dn[2-3]"}), 200,
       "dropped dn[2-3] from reservation 'alpha'")
    assert res_row(team_res, "alpha")["hosts"] == ["dn1", "dn4"]


def test_drop_refusals(team_res):
    path = "/igor/reservations/alpha"
    refused(team_res, path, {"drop": "dn[4-5]"}, 404, "dn5 was not a part of reservation 'alpha'", "alice")
    refused(team_res, path, {"drop": "dn[1-4]"}, 400,
            "dropping all nodes from reservation not allowed - use delete instead", "alice")
    refused(team_res, path, {"drop": "3"}, 400, "drop '3' is a count: name the hosts to drop", "alice")
    refused(team_res, path, {"drop": "dn99"}, 404, "dn99 was not a part of reservation 'alpha'", "alice")
    refused(team_res, path, {"drop": "kn1"}, 404, "kn1 was not a part of reservation 'alpha'", "alice")


def test_drop_from_an_active_reservation_releases_hosts_and_power(people):
    make(people, "alice", "alpha", "dn[1-3]", group="team")  # starts now
    set_state(people, ["dn1", "dn2", "dn3"], 1)
    with db_session:
        db = people.services.db
        db.Permission(group=db.Group.get(name="team"), fact="power:dn1,dn2,dn3")
        hostnames = {h.name: h.hostname for h in db.Host.select()}
    if hostnames["dn1"] != "dn1":  # the demo cluster's hostnames differ from the names: grant by hostname
        with db_session:
            db = people.services.db
            db.Permission.get(fact="power:dn1,dn2,dn3").fact = \
                "power:" + ",".join(sorted(hostnames[n] for n in ("dn1", "dn2", "dn3")))
    ok(people.patch("/igor/reservations/alpha", as_user="alice", json={"drop": "dn2"}), 200,
       "dropped dn2 from reservation 'alpha'")
    assert [host_state(people, n) for n in ("dn1", "dn2", "dn3")] == [1, 0, 1]
    assert facts(people, "team", "power:") == ["power:" + ",".join(sorted(hostnames[n] for n in ("dn1", "dn3")))]
    make(people, "carol", "carols", "dn2")  # free now


def test_drop_keeps_blocked_hosts_blocked(people):
    make(people, "alice", "alpha", "dn[1-3]")
    set_state(people, ["dn2"], 2)
    ok(people.patch("/igor/reservations/alpha", as_user="alice", json={"drop": "dn2"}), 200,
       "dropped dn2 from reservation 'alpha'")
    assert host_state(people, "dn2") == 2


def test_drop_dry_run_changes_nothing(team_res):
    before = full_snapshot(team_res.services)
    data = ok(team_res.patch("/igor/reservations/alpha", as_user="alice", json={"drop": "dn2", "dryRun": True}),
              200, "dry run (nothing changed): dropped dn2 from reservation 'alpha'")
    assert data["reservation"][0]["hosts"] == ["dn1", "dn3", "dn4"]
    assert full_snapshot(team_res.services) == before
    assert engine_hosts(team_res, "alpha") == ["dn1", "dn2", "dn3", "dn4"]


# -- add by name --------------------------------------------------------------------------------------------------


def test_add_by_name_takes_the_host_over_the_same_window(team_res):
    api = team_res
    data = ok(api.patch("/igor/reservations/alpha", as_user="alice", json={"addNodeList": "dn[5-6]"}), 200,
              "added dn[5-6] to reservation 'alpha'")
    view = data["reservation"][0]
    assert view["hosts"] == ["dn1", "dn2", "dn3", "dn4", "dn5", "dn6"]
    assert (view["start"], view["end"]) == (api.start, api.start + 7200)
    assert engine_hosts(api, "alpha") == ["dn1", "dn2", "dn3", "dn4", "dn5", "dn6"]
    assert history(api, "alpha") == ["created", "updated:addNodeList"]
    r = api.post("/igor/reservations", as_user="carol",
                 json={"name": "carols", "nodeList": "dn5", "start": api.start + 3600, "duration": "1h"})
    assert r.status_code == 409 and "dn5" in r.json["message"], r.json
    make(api, "carol", "carols", "dn7", start=api.start)  # the hosts not added stay free
    assert host_state(api, "dn5") == 0  # a future reservation does not change states


def test_add_by_name_refusals(team_res):
    from igor.timefmt import format_datetime

    api = team_res
    make(api, "carol", "carols", "dn5", start=api.start + 3600)
    path = "/igor/reservations/alpha"
    s, e = api.start // 60, api.start // 60 + 120
    refused(api, path, {"addNodeList": "dn[5-6]"}, 409,
            f"found existing reservation(s) on node(s) [dn5] conflicting with time interval "
            f"[{format_datetime(s)}, {format_datetime(e)}]: carols", "alice")
    refused(api, path, {"addNodeList": "dn[4-6]"}, 409,
            "host(s) [dn4] are already part of reservation 'alpha'", "alice")
    refused(api, path, {"addNodeList": "4"}, 400,
            "addNodeList '4' is a count: use addNodeCount to add a number of hosts", "alice")
    refused(api, path, {"addNodeList": "dn99"}, 400, "'dn99' is outside the cluster's range dn[1-16]", "alice")
    set_state(api, ["dn8"], 2)
    api.services.scheduler.invalidate()
    refused(api, path, {"addNodeList": "dn8"}, 409, "the following hosts are not available at this time: [dn8]",
            "alice")


def test_add_to_an_active_reservation_reserves_the_hosts(people):
    make(people, "alice", "alpha", "dn[1-2]")
    ok(people.patch("/igor/reservations/alpha", as_user="alice", json={"addNodeList": "dn9"}), 200,
       "added dn9 to reservation 'alpha'")
    assert host_state(people, "dn9") == 1
    r = people.post("/igor/reservations", as_user="carol", json={"name": "carols", "nodeList": "dn9"})
    assert r.status_code == 409, r.json


def test_add_dry_run_leaves_the_host_free(team_res):
    api = team_res
    before = full_snapshot(api.services)
    data = ok(api.patch("/igor/reservations/alpha", as_user="alice", json={"addNodeList": "dn5", "dryRun": True}),
              200, "dry run (nothing changed): added dn5 to reservation 'alpha'")
    assert data["reservation"][0]["hosts"] == ["dn1", "dn2", "dn3", "dn4", "dn5"]
    assert full_snapshot(api.services) == before
    assert engine_hosts(api, "alpha") == ["dn1", "dn2", "dn3", "dn4"]
    make(api, "carol", "carols", "dn5", start=api.start)


def test_concurrent_adds_of_one_host_grant_it_once(people):
    start = later()
    make(people, "alice", "alpha", "dn1", start=start)
    make(people, "carol", "gamma", "dn2", start=start)
    for user in ("alice", "carol"):
        people.login(user)
    barrier = threading.Barrier(2)
    results: dict[str, int] = {}

    def add(user: str, res: str) -> None:
        barrier.wait()
        results[user] = people.patch(f"/igor/reservations/{res}", as_user=user,
                                     json={"addNodeList": "dn7"}).status_code

    threads = [threading.Thread(target=add, args=a) for a in (("alice", "alpha"), ("carol", "gamma"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200, 409], results
    holders = [n for n in ("alpha", "gamma") if "dn7" in res_row(people, n)["hosts"]]
    assert len(holders) == 1
    assert "dn7" in engine_hosts(people, holders[0])


# -- add by count -------------------------------------------------------------------------------------------------


def test_add_by_count_picks_other_free_hosts(team_res):
    api = team_res
    data = ok(api.patch("/igor/reservations/alpha", as_user="alice", json={"addNodeCount": 2}), 200,
              "added dn[5-6] to reservation 'alpha'")
    assert len(data["reservation"][0]["hosts"]) == 6
    assert engine_hosts(api, "alpha") == data["reservation"][0]["hosts"]
    assert history(api, "alpha") == ["created", "updated:addNodeCount"]
    r = api.post("/igor/reservations", as_user="carol",
                 json={"name": "carols", "nodeCount": 11, "start": api.start, "duration": "2h"})
    assert r.status_code == 409, r.json  # 16 hosts, 6 taken
    make(api, "carol", "carols", 10, start=api.start)


def test_add_by_count_refusals(team_res):
    api = team_res
    path = "/igor/reservations/alpha"
    refused(api, path, {"addNodeCount": 13}, 409, "reservation requires more cluster nodes than available",
            "alice")
    make(api, "carol", "carols", "dn[5-15]", start=api.start)
    refused(api, path, {"addNodeCount": 2}, 409,
            "2 hosts cannot be found with enough time available to service this request", "alice")
    ok(api.patch(path, as_user="alice", json={"addNodeCount": 1}), 200, "added dn16 to reservation 'alpha'")


class TestNodeLimit:
    @pytest.fixture
    def config(self, make_config):
        return make_config({"scheduler": {"nodeReserveLimit": 5}})

    def test_non_elevated_total_is_capped(self, team_res):
        api = team_res
        path = "/igor/reservations/alpha"
        message = "host reserve limit exceeded if new hosts are added, reservation cannot have more than 5 hosts"
        refused(api, path, {"addNodeList": "dn[5-6]"}, 403, message, "alice")
        refused(api, path, {"addNodeCount": 2}, 403, message, "alice")
        ok(api.patch(path, as_user="alice", json={"addNodeCount": 1}), 200, "added dn5 to reservation 'alpha'")
        api.elevate("dave")
        ok(api.patch(path, as_user="dave", json={"addNodeList": "dn[6-7]"}), 200,
           "added dn[6-7] to reservation 'alpha'")


# -- rename and description -----------------------------------------------------------------------------------------


def test_rename_rewrites_the_grants_then_delete_by_the_new_name(team_res):
    api = team_res
    data = ok(api.patch("/igor/reservations/alpha", as_user="alice", json={"name": "beta"}), 200,
              "reservation 'alpha' updated: renamed to 'beta'")
    assert data["reservation"][0]["name"] == "beta"
    assert res_row(api, "alpha") is None and res_row(api, "beta")["hosts"] == ["dn1", "dn2", "dn3", "dn4"]
    assert facts(api, "u_alice") == ["reservations:beta:edit:*"]
    assert facts(api, "team") == ["reservations:beta:delete", "reservations:beta:edit:extend"]
    assert history(api, "beta") == ["updated:name"]
    r = api.patch("/igor/reservations/beta", as_user="bob", json={"extend": "30m"})
    assert r.status_code == 200, r.json
    assert api.delete("/igor/reservations/alpha", as_user="bob").status_code == 404
    assert api.delete("/igor/reservations/beta", as_user="bob").status_code == 200
    assert facts(api, "u_alice") == [] and facts(api, "team") == []


def test_rename_refusals(team_res):
    api = team_res
    make(api, "carol", "gamma", "dn9")
    refused(api, "/igor/reservations/alpha", {"name": "gamma"}, 409, "reservation 'gamma' already exists",
            "alice")
    refused(api, "/igor/reservations/alpha", {"name": "gamma", "description": "ok"}, 409,
            "reservation 'gamma' already exists", "alice")


def test_name_and_description_together(team_res):
    api = team_res
    ok(api.patch("/igor/reservations/alpha", as_user="alice", json={"description": "GPU runs", "name": "beta"}),
       200, "reservation 'alpha' updated: renamed to 'beta'; description updated")
    assert res_row(api, "beta")["description"] == "GPU runs"
    assert history(api, "beta") == ["updated:description,name"]


def test_description_refusal(team_res):
    refused(team_res, "/igor/reservations/alpha", {"description": "bad<chars>"}, 400,
            _description_message("bad<chars>"), "alice")


def _description_message(text: str) -> str:
    from igor.errors import BadInput
    from igor.rules import check_description

    try:
        check_description(text)
    except BadInput as exc:
        return exc.message
    raise AssertionError("expected a refusal")


# -- owner --------------------------------------------------------------------------------------------------------


def test_elevated_admin_moves_the_owner_within_the_group(team_res):
    api = team_res
    api.elevate("dave")
    ok(api.patch("/igor/reservations/alpha", as_user="dave", json={"owner": "bob"}), 200,
       "reservation 'alpha' updated: owner is now 'bob'")
    row = res_row(api, "alpha")
    assert (row["owner"], row["group"]) == ("bob", "team")
    assert facts(api, "u_alice") == [] and facts(api, "u_bob") == ["reservations:alpha:edit:*"]
    assert facts(api, "team") == ["reservations:alpha:delete", "reservations:alpha:edit:extend"]
    assert history(api, "alpha") == ["created", "updated:owner"]
    ok(api.patch("/igor/reservations/alpha", as_user="bob", json={"drop": "dn4"}), 200,
       "dropped dn4 from reservation 'alpha'")
    r = api.patch("/igor/reservations/alpha", as_user="alice", json={"drop": "dn3"})
    assert r.status_code == 403, r.json


def test_owner_of_a_private_reservation_takes_the_group_grants(people):
    make(people, "alice", "alpha", "dn[1-2]", start=later())
    people.elevate("dave")
    ok(people.patch("/igor/reservations/alpha", as_user="dave", json={"owner": "carol"}), 200,
       "reservation 'alpha' updated: owner is now 'carol'; group is now none (the owner's private group)")
    assert res_row(people, "alpha")["group"] == "u_carol"
    assert facts(people, "u_alice") == []
    assert facts(people, "u_carol") == ["reservations:alpha:delete", "reservations:alpha:edit:*",
                                        "reservations:alpha:edit:extend"]


def test_owner_change_copies_the_profile_for_the_new_owner(team_res):
    api = team_res
    add_distros(api)
    make(api, "alice", "withos", "dn9", start=api.start, distro="rocky", kernelArgs="quiet", group="team")
    old = res_row(api, "withos")["profile"]
    api.elevate("dave")
    ok(api.patch("/igor/reservations/withos", as_user="dave", json={"owner": "bob"}), 200,
       "reservation 'withos' updated: owner is now 'bob'")
    row = res_row(api, "withos")
    assert row["profile"].startswith("tpf_") and row["temp"] and row["distro"] == "rocky"
    assert row["kernel_args"] == "quiet"
    with db_session:
        db = api.services.db
        assert db.Profile.get(name=row["profile"]).owner.name == "bob"
        assert db.Profile.get(name=old, owner=db.User.get(name="alice")) is None  # the old temp profile is gone


def test_owner_change_refusals(team_res):
    api = team_res
    add_distros(api)
    api.elevate("dave")
    path = "/igor/reservations/alpha"
    refused(api, path, {"owner": "carol"}, 409, "new owner is not a member of current reservation group team",
            "dave")
    refused(api, path, {"owner": "igor-admin"}, 400, "igor-admin cannot own reservations", "dave")
    refused(api, path, {"owner": "zed"}, 404, "user 'zed' not found", "dave")
    refused(api, path, {"owner": "carol", "group": "team"}, 403, "user 'carol' is not a member of group 'team'",
            "dave")
    make(api, "carol", "carols", "dn12", start=api.start, distro="secret")
    refused(api, "/igor/reservations/carols", {"owner": "alice"}, 403,
            "alice does not have access to distro 'secret'", "dave")


def test_owner_change_respects_host_policy_groups(people):
    db = people.services.db
    with db_session:
        policy = db.HostPolicy(name="teamonly", max_res_time=43200)
        policy.access_groups.add(db.Group.get(name="team"))
        db.Host.get(name="dn3").policy = policy
        db.ScheduleEpoch[1].epoch += 1
    make(people, "alice", "alpha", "dn[3-4]", start=later())
    people.elevate("dave")
    refused(people, "/igor/reservations/alpha", {"owner": "carol"}, 409,
            "the following host(s) are group-restricted and unavailable to the user: [dn3]", "dave")
    ok(people.patch("/igor/reservations/alpha", as_user="dave", json={"owner": "bob"}), 200,
       "reservation 'alpha' updated: owner is now 'bob'; group is now none (the owner's private group)")


def test_owner_and_group_together(team_res):
    api = team_res
    add_distros(api)
    api.elevate("dave")
    ok(api.patch("/igor/reservations/alpha", as_user="dave", json={"owner": "carol", "group": "other"}), 200,
       "reservation 'alpha' updated: owner is now 'carol'; group is now 'other'")
    row = res_row(api, "alpha")
    assert (row["owner"], row["group"]) == ("carol", "other")
    assert facts(api, "team") == [] and facts(api, "u_alice") == []
    assert facts(api, "other") == ["reservations:alpha:delete", "reservations:alpha:edit:extend"]
    assert facts(api, "u_carol") == ["reservations:alpha:edit:*"]
    assert history(api, "alpha") == ["created", "updated:group,owner"]


# -- group --------------------------------------------------------------------------------------------------------


def test_group_change_moves_the_right_to_extend(people):
    api = people
    make(api, "alice", "alpha", "dn[1-2]", start=later())
    assert api.patch("/igor/reservations/alpha", as_user="bob", json={"extend": "30m"}).status_code == 403
    ok(api.patch("/igor/reservations/alpha", as_user="alice", json={"group": "team"}), 200,
       "reservation 'alpha' updated: group is now 'team'")
    assert res_row(api, "alpha")["group"] == "team"
    assert facts(api, "u_alice") == ["reservations:alpha:edit:*"]
    assert facts(api, "team") == ["reservations:alpha:delete", "reservations:alpha:edit:extend"]
    assert api.patch("/igor/reservations/alpha", as_user="bob", json={"extend": "30m"}).status_code == 200
    assert api.patch("/igor/reservations/alpha", as_user="carol", json={"extend": "30m"}).status_code == 403
    data = ok(api.patch("/igor/reservations/alpha", as_user="alice", json={"group": "none"}), 200,
              "reservation 'alpha' updated: group is now none (the owner's private group)")
    assert data["reservation"][0]["group"] == ""
    assert facts(api, "team") == []
    assert facts(api, "u_alice") == ["reservations:alpha:delete", "reservations:alpha:edit:*",
                                     "reservations:alpha:edit:extend"]
    assert api.patch("/igor/reservations/alpha", as_user="bob", json={"extend": "30m"}).status_code == 403
    assert history(api, "alpha") == ["created", "updated:group", "updated:extend", "updated:group"]


def test_group_change_moves_the_power_grant_of_an_active_reservation(people):
    make(people, "alice", "alpha", "dn[1-2]")
    with db_session:
        db = people.services.db
        names = sorted(db.Host.get(name=n).hostname for n in ("dn1", "dn2"))
        db.Permission(group=db.Group.get(name="u_alice"), fact="power:" + ",".join(names))
    ok(people.patch("/igor/reservations/alpha", as_user="alice", json={"group": "team"}), 200,
       "reservation 'alpha' updated: group is now 'team'")
    assert facts(people, "team", "power:") == ["power:" + ",".join(names)]
    assert facts(people, "u_alice", "power:") == []


def test_group_change_refusals(team_res):
    api = team_res
    add_distros(api)
    path = "/igor/reservations/alpha"
    refused(api, path, {"group": "nosuch"}, 404, "group 'nosuch' not found", "alice")
    refused(api, path, {"group": "u_bob"}, 404, "group 'u_bob' not found", "alice")
    refused(api, path, {"group": "other"}, 403, "current owner 'alice' is not a member of group 'other'", "alice")
    refused(api, path, {"group": "other", "name": "beta"}, 403,
            "current owner 'alice' is not a member of group 'other'", "alice")


# -- distro, profile, kernel args ------------------------------------------------------------------------------------


def test_distro_change_makes_a_new_temp_profile(team_res):
    api = team_res
    add_distros(api)
    make(api, "alice", "withos", "dn9", start=api.start, distro="rocky")
    old = res_row(api, "withos")["profile"]
    data = ok(api.patch("/igor/reservations/withos", as_user="alice", json={"distro": "alma"}), 200,
              "reservation 'withos' now uses distro 'alma'")
    assert data["reservation"][0]["distro"] == "alma" and data["reservation"][0]["profile"] == ""
    row = res_row(api, "withos")
    assert row["temp"] and row["distro"] == "alma" and row["profile"] != old
    with db_session:
        assert api.services.db.Profile.get(name=old) is None
    assert history(api, "withos") == ["created", "updated:distro"]


def test_profile_change_uses_a_permanent_profile_and_drops_the_temp_one(team_res):
    api = team_res
    add_distros(api)
    make(api, "alice", "withos", "dn9", start=api.start, distro="alma")
    old = res_row(api, "withos")["profile"]
    data = ok(api.patch("/igor/reservations/withos", as_user="alice", json={"profile": "myprof"}), 200,
              "reservation 'withos' now uses profile 'myprof'")
    assert (data["reservation"][0]["profile"], data["reservation"][0]["distro"]) == ("myprof", "rocky")
    with db_session:
        assert api.services.db.Profile.get(name=old) is None
        assert api.services.db.Profile.get(name="myprof") is not None
    refused(api, "/igor/reservations/withos", {"kernelArgs": "x"}, 400,
            "cannot modify permanent profile, edit the profile first", "alice")
    ok(api.patch("/igor/reservations/withos", as_user="alice", json={"distro": "rocky"}), 200,
       "reservation 'withos' now uses distro 'rocky'")
    with db_session:
        assert api.services.db.Profile.get(name="myprof") is not None  # permanent profiles stay


def test_distro_and_profile_refusals(team_res):
    api = team_res
    add_distros(api)
    make(api, "alice", "withos", "dn9", start=api.start, distro="rocky")
    path = "/igor/reservations/withos"
    refused(api, path, {"distro": "secret"}, 403, "alice does not have access to distro 'secret'", "alice")
    refused(api, path, {"distro": "nope"}, 404, "distro 'nope' not found", "alice")
    refused(api, path, {"profile": "carolprof"}, 404, "no profiles for user 'alice' match 'carolprof'", "alice")
    refused(api, path, {"profile": "secretprof"}, 403,
            "alice does not currently have access to distro 'secret' in profile 'secretprof'", "alice")
    temp = res_row(api, "withos")["profile"]
    refused(api, path, {"profile": temp}, 400, "cannot use a temp profile in more than 1 reservation. Make the "
            "profile permanent first by editing its name, then try again", "alice")


def test_kernel_args_edit_the_temp_profile(team_res):
    api = team_res
    add_distros(api)
    make(api, "alice", "withos", "dn9", start=api.start, distro="rocky", group="team")
    ok(api.patch("/igor/reservations/withos", as_user="alice", json={"kernelArgs": "console=ttyS0"}), 200,
       "reservation 'withos' updated: kernel args updated")
    assert res_row(api, "withos")["kernel_args"] == "console=ttyS0"
    refused(api, "/igor/reservations/alpha", {"kernelArgs": "x"}, 400,
            "reservation 'alpha' has no profile to take kernel args: give it a distro first", "alice")
    assert api.patch("/igor/reservations/withos", as_user="bob", json={"kernelArgs": "x"}).status_code == 403
