"""Host policies over the API: ``POST/GET /igor/hostpolicy``, ``PATCH/DELETE /igor/hostpolicy/{name}`` and
``PATCH /igor/hosts-ctrl/policy`` (reference §1.5, §2.4, §4.5, §11 item 15; SPEC §5).

Every refusal is checked to leave the database exactly as it was (policies in full, host assignments,
reservations and the schedule epoch), and the engine-effect tests check that a change reaches scheduling at once,
in this process and in another worker sharing the database.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pony.orm import db_session

from tests.api.conftest import snapshot

ELEVATE_MSG = "elevated access is required before running this command"
ROOT = "igor-admin"
DEFAULT_EDIT = ("changes to the default host policy are not permitted; MaxResTime will be auto-updated by changing "
                "the server config setting")
GROUP_RESTRICTED = "the following host(s) are group-restricted and unavailable to the user: "


# -- helpers -------------------------------------------------------------------------------------------------------


def full_snapshot(services) -> dict[str, Any]:
    """conftest.snapshot plus everything a policy route can change: policies in full, which host has which
    policy, and the reservations (which applying or editing a policy must never touch)."""
    db = services.db
    out: dict[str, Any] = dict(snapshot(services))
    with db_session:
        out["policies_full"] = sorted(
            (p.name, p.max_res_time, json.dumps(p.not_available), tuple(sorted(g.name for g in p.access_groups)))
            for p in db.HostPolicy.select())
        out["host_policy"] = sorted((h.name, h.policy.name if h.policy else None) for h in db.Host.select())
        out["reservations"] = sorted((r.name, r.start, r.end, r.reset_end, tuple(sorted(h.name for h in r.hosts)))
                                     for r in db.Reservation.select())
    return out


def epoch(api) -> int:
    with db_session:
        return api.services.db.ScheduleEpoch[1].epoch


def refused(api, method: str, path: str, status: int, message: str, as_user: str | None = ROOT, *,
            prefix: bool = False, **kw) -> Any:
    """Call, expect the refusal (status and exact message, or its start), and check nothing changed."""
    before = full_snapshot(api.services)
    r = api.call(method, path, as_user, **kw)
    got = r.json["message"]
    assert r.status_code == status, r.json
    assert got.startswith(message) if prefix else got == message, r.json
    assert r.json["status"] == "fail" and r.json["data"] == {}
    assert full_snapshot(api.services) == before
    return r


def ok(r, status: int = 200, message: str = "") -> Any:
    assert (r.status_code, r.json["message"]) == (status, message), r.json
    assert r.json["status"] == "success"
    return r.json["data"]


def policies(api, as_user: str = "carol", query: str = "") -> dict[str, dict[str, Any]]:
    r = api.get("/igor/hostpolicy", as_user=as_user, query_string=query)
    assert r.status_code == 200, r.json
    return {p["name"]: p for p in r.json["data"].get("hostPolicies", [])}


def create(api, body: dict[str, Any], as_user: str = ROOT) -> dict[str, Any]:
    (view,) = ok(api.post("/igor/hostpolicy", as_user=as_user, json=body), 201)["hostPolicy"]
    return view


def apply(api, policy: str, nodes: str) -> None:
    ok(api.patch("/igor/hosts-ctrl/policy", as_user=ROOT, json={"policy": policy, "nodeList": nodes}))


def edit(api, name: str, body: dict[str, Any]) -> None:
    ok(api.patch(f"/igor/hostpolicy/{name}", as_user=ROOT, json=body))


def reserve(api, user: str, name: str, nodes: str, duration: str = "1h"):
    return api.post("/igor/reservations", as_user=user, json={"name": name, "nodeList": nodes, "duration": duration})


@pytest.fixture
def admin(people):
    people.login(ROOT)
    return people


@pytest.fixture
def gpu(admin):
    """Policy 'gpu' (team only, 1h max, a Saturday window) on dn[1-4]."""
    create(admin, {"name": "gpu", "maxResTime": "1h", "accessGroups": ["team"],
                   "notAvailable": [{"start": "0 0 * * 6", "duration": "2d"}]})
    apply(admin, "gpu", "dn[1-4]")
    return admin


# -- show ----------------------------------------------------------------------------------------------------------


def test_any_user_sees_the_default_policy(admin):
    data = ok(admin.get("/igor/hostpolicy", as_user="carol"))
    assert data == {"hostPolicies": [{"name": "default", "hosts": "dn[1-16]", "maxResTime": "720h0m0s",
                                      "accessGroups": ["all"], "scheduleBlock": []}]}


def test_show_needs_a_token(admin):
    r = admin.get("/igor/hostpolicy")
    assert r.status_code == 401


def test_show_filters(gpu):
    create(gpu, {"name": "night", "notAvailable": ["0 22 * * *:8h"]})
    apply(gpu, "night", "dn9")
    assert set(policies(gpu)) == {"default", "gpu", "night"}
    assert list(policies(gpu)) == ["default", "gpu", "night"]  # by name
    assert set(policies(gpu, query="name=gpu")) == {"gpu"}
    assert set(policies(gpu, query="name=gpu,night")) == {"gpu", "night"}
    assert set(policies(gpu, query="name=gpu&name=default")) == {"gpu", "default"}
    assert set(policies(gpu, query="accessGroups=team")) == {"gpu"}
    assert set(policies(gpu, query="accessGroups=all")) == {"default", "night"}
    assert set(policies(gpu, query="hosts=dn[3-5]")) == {"gpu", "default"}
    assert set(policies(gpu, query="hosts=dn9")) == {"night"}
    assert set(policies(gpu, query="hosts=dn1&hosts=dn9")) == {"gpu", "night"}
    assert set(policies(gpu, query="hosts=dn[1,9]")) == {"gpu", "night"}
    assert set(policies(gpu, query="accessGroups=team&hosts=dn9")) == set()
    r = gpu.get("/igor/hostpolicy", as_user="bob", query_string="name=nosuch")
    assert ok(r, 200, "search returned no results") == {"hostPolicies": []}
    assert policies(gpu)["night"] == {"name": "night", "hosts": "dn9", "maxResTime": "720h0m0s",
                                      "accessGroups": ["all"],
                                      "scheduleBlock": [{"start": "0 22 * * *", "duration": "8h0m"}]}


@pytest.mark.parametrize(("query", "status", "message"), [
    ("bogus=1", 400, "unknown parameter 'bogus' received: [1]"),
    ("name=x", 400, "'x' is not a legal host policy name"),
    ("accessGroups=x", 400, "'x' is not a legal group name"),
    ("accessGroups=nogroup", 404, "group 'nogroup' not found"),
    ("accessGroups=team,nogroup,nix", 404, "group(s) 'nogroup,nix' not found"),
    ("hosts=dn99", 400, "couldn't parse node specification dn99"),
    ("hosts=kn[1-3]", 400, "couldn't parse node specification kn[1-3]"),
    ("name=" + "a" * 5000, 400, "invalid parameter 'name': longer than"),
])
def test_show_bad_filters(admin, query, status, message):
    refused(admin, "GET", "/igor/hostpolicy", status, message, as_user="carol", prefix=True, query_string=query)


# -- create --------------------------------------------------------------------------------------------------------


def test_create_by_elevated_admin(admin):
    admin.elevate("dave")
    before = epoch(admin)
    view = create(admin, {"name": "gpu", "maxResTime": "3d12h", "accessGroups": ["team"],
                          "notAvailable": [{"start": "0 0 * * 6", "duration": "3d2h"},
                                           {"start": "0  17 24 12 *", "duration": "8d15h"}]}, as_user="dave")
    assert view == {"name": "gpu", "hosts": "", "maxResTime": "84h0m0s", "accessGroups": ["team"],
                    "scheduleBlock": [{"start": "0 0 * * 6", "duration": "3d2h0m"},
                                      {"start": "0 17 24 12 *", "duration": "8d15h0m"}]}
    assert policies(admin)["gpu"] == view
    assert epoch(admin) == before + 1  # other workers rebuild
    with db_session:
        p = admin.services.db.HostPolicy.get(name="gpu")
        assert p.max_res_time == 84 * 60
        assert p.not_available == [{"start": "0 0 * * 6", "duration": 4440},
                                   {"start": "0 17 24 12 *", "duration": 12420}]


def test_create_with_only_a_name_gets_the_defaults(admin):
    view = create(admin, {"name": "plain"})
    assert view == {"name": "plain", "hosts": "", "maxResTime": "720h0m0s", "accessGroups": ["all"],
                    "scheduleBlock": []}
    assert create(admin, {"name": "short", "maxResTime": "30", "accessGroups": []})["maxResTime"] == "30m0s"


def test_create_accepts_both_window_forms_and_drops_duplicates(admin):
    view = create(admin, {"name": "win", "notAvailable": ["0 0 * * 6:2d", {"start": "0 0 * * 6", "duration": "48h"},
                                                          "30 6 * * 1-5:90m"],
                          "accessGroups": ["team", "team"]})
    assert view["scheduleBlock"] == [{"start": "0 0 * * 6", "duration": "2d0h0m"},
                                     {"start": "30 6 * * 1-5", "duration": "1h30m"}]
    assert view["accessGroups"] == ["team"]


def test_created_policies_take_effect_only_when_applied(admin):
    create(admin, {"name": "gpu", "accessGroups": ["team"]})
    assert reserve(admin, "carol", "carolres", "dn1").status_code == 201


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"name": "default"}, 409, "'default' is the system default host policy name"),
    ({"name": "Default"}, 409, "'Default' is the system default host policy name"),
    ({"name": "DEFAULT", "maxResTime": "1h"}, 409, "'DEFAULT' is the system default host policy name"),
    ({"name": "x"}, 400, "'x' is not a legal host policy name"),
    ({"name": "bad name"}, 400, "'bad name' is not a legal host policy name"),
    ({"name": "a" * 25}, 400, f"'{'a' * 25}' is not a legal host policy name"),
    ({"name": "hostPolicy"}, 400, "host policy name cannot be the restricted word 'hostPolicy'"),
    ({"name": "gpu2", "maxResTime": "soon"}, 400, "invalid duration 'soon'"),
    ({"name": "gpu2", "maxResTime": "20s"}, 400, "invalid parameter 'maxResTime': '20s' is shorter than 1 minute"),
    ({"name": "gpu2", "maxResTime": "0"}, 400, "invalid parameter 'maxResTime': '0' is shorter than 1 minute"),
    ({"name": "gpu2", "maxResTime": "-1h"}, 400, "invalid duration '-1h': negative durations are not allowed"),
    ({"name": "gpu2", "maxResTime": 60}, 400, "invalid parameter 'maxResTime': must be a string, got number"),
    ({"name": "gpu2", "accessGroups": ["all"]}, 409, "group not allowed as access group: all"),
    ({"name": "gpu2", "accessGroups": ["team", "admins"]}, 409, "group not allowed as access group: admins"),
    ({"name": "gpu2", "accessGroups": ["u_alice"]}, 409, "group not allowed as access group: u_alice"),
    ({"name": "gpu2", "accessGroups": ["none"]}, 409, "group not allowed as access group: none"),
    ({"name": "gpu2", "accessGroups": ["nogroup"]}, 404, "group 'nogroup' not found"),
    ({"name": "gpu2", "accessGroups": ["team", "nogroup", "nix"]}, 404, "group(s) 'nogroup,nix' not found"),
    ({"name": "gpu2", "accessGroups": ["x"]}, 400, "'x' is not a legal group name"),
    ({"name": "gpu2", "accessGroups": "team"}, 400,
     "invalid parameter 'accessGroups': must be a list of strings, got string"),
    ({"name": "gpu2", "accessGroups": [5]}, 400,
     "invalid parameter 'accessGroups': must be a list of strings, got list"),
    ({"name": "gpu2", "accessGroups": ["g"] * 101}, 400, "invalid parameter 'accessGroups': longer than 100 items"),
    ({"name": "gpu2", "notAvailable": [{"start": "61 * * * *", "duration": "1h"}]}, 400,
     "invalid parameter 'notAvailable': not-available window '61 * * * *:1h': '61 * * * *' is not a valid 5-field "
     "cron expression"),
    ({"name": "gpu2", "notAvailable": [{"start": "0 0 * *", "duration": "1h"}]}, 400,
     "invalid parameter 'notAvailable': not-available window '0 0 * *:1h': '0 0 * *' is not a valid 5-field"),
    ({"name": "gpu2", "notAvailable": [{"start": "0 0 * * 6", "duration": "2x"}]}, 400,
     "invalid parameter 'notAvailable': not-available window '0 0 * * 6:2x': invalid duration '2x'"),
    ({"name": "gpu2", "notAvailable": [{"start": "0 0 * * 6", "duration": "10s"}]}, 400,
     "invalid parameter 'notAvailable': not-available window '0 0 * * 6:10s': the duration must be at least"),
    ({"name": "gpu2", "notAvailable": ["*/2 * * * *:1h"]}, 400,
     "invalid parameter 'notAvailable': not-available window '*/2 * * * *:1h': '*/2 * * * *' fires 720 times a day"),
    ({"name": "gpu2", "notAvailable": ["0 0 * * 6"]}, 400,
     "invalid parameter 'notAvailable': not-available window '0 0 * * 6' must look like '<cron>:<duration>'"),
    ({"name": "gpu2", "notAvailable": [{"start": "0 0 * * 6"}]}, 400,
     "invalid parameter 'notAvailable': each window must be '<cron>:<duration>' or"),
    ({"name": "gpu2", "notAvailable": [{"start": "0 0 * * 6", "duration": "1h", "tz": "UTC"}]}, 400,
     "invalid parameter 'notAvailable': each window must be '<cron>:<duration>' or"),
    ({"name": "gpu2", "notAvailable": [{"start": "0 0 * * 6", "duration": 60}]}, 400,
     "invalid parameter 'notAvailable': each window must be '<cron>:<duration>' or"),
    ({"name": "gpu2", "notAvailable": {"start": "0 0 * * 6", "duration": "1h"}}, 400,
     "invalid parameter 'notAvailable': must be a list of strings, got object"),
    ({"name": "gpu2", "notAvailable": [7]}, 400,
     "invalid parameter 'notAvailable': must be a list of strings, got list"),
    ({"name": "gpu2", "notAvailable": ["0 0 * * 6:1h"] * 101}, 400,
     "invalid parameter 'notAvailable': longer than 100 items"),
    ({"name": "gpu2", "notAvailable": [{"start": "0 0 * * 6", "duration": "1h"}] * 101}, 400,
     "invalid parameter 'notAvailable': longer than 100 items"),
    ({"name": "gpu2", "bogus": 1}, 400, "unknown parameter 'bogus' received: 1"),
    ({"name": 5}, 400, "invalid parameter 'name': must be a string, got number"),
    ({"name": "a" * 65}, 400, "invalid parameter 'name': longer than 64 characters"),
    ({"maxResTime": "1h"}, 400, "required parameter 'name' not found"),
    ({}, 400, "requested operation had no parameters"),
])
def test_create_refusals_change_nothing(admin, body, status, message):
    refused(admin, "POST", "/igor/hostpolicy", status, message, prefix=True, json=body)


def test_create_refuses_a_name_in_use(gpu):
    refused(gpu, "POST", "/igor/hostpolicy", 409, "host policy 'gpu' already exists", json={"name": "gpu"})


def test_create_refuses_bad_json(admin):
    refused(admin, "POST", "/igor/hostpolicy", 400, "request body is not valid JSON", body="{nope",
            headers={"Content-Type": "application/json"})
    refused(admin, "POST", "/igor/hostpolicy", 400, "request body must be a JSON object, got list", json=["gpu"])


# -- authorization -------------------------------------------------------------------------------------------------


WRITES = [
    ("POST", "/igor/hostpolicy", {"name": "newpol"}),
    ("PATCH", "/igor/hostpolicy/gpu", {"maxResTime": "2h"}),
    ("DELETE", "/igor/hostpolicy/gpu", None),
    ("PATCH", "/igor/hosts-ctrl/policy", {"policy": "gpu", "nodeList": "dn5"}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
@pytest.mark.parametrize("user", ["carol", "alice", "bob"])
def test_plain_users_are_denied(gpu, method, path, body, user):
    refused(gpu, method, path, 403, "access denied", as_user=user, **({"json": body} if body else {}))


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_non_elevated_admin_must_elevate(gpu, method, path, body):
    refused(gpu, method, path, 403, ELEVATE_MSG, as_user="dave", **({"json": body} if body else {}))


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_missing_policy_by_caller(admin, method):
    kw = {"json": {"maxResTime": "2h"}} if method == "PATCH" else {}
    path = "/igor/hostpolicy/nopolicy"
    refused(admin, method, path, 403, "access denied", as_user="carol", **kw)
    refused(admin, method, path, 404, "the policy 'nopolicy' does not exist", as_user="dave", **kw)
    refused(admin, method, path, 404, "policy(s) 'nopolicy' not found", **kw)
    admin.elevate("dave")
    refused(admin, method, path, 404, "policy(s) 'nopolicy' not found", as_user="dave", **kw)


def test_unauthenticated_writes_are_401(gpu):
    for method, path, body in WRITES:
        r = gpu.call(method, path, None, **({"json": body} if body else {}))
        assert r.status_code == 401, (method, path, r.json)


def test_elevated_admin_can_do_everything(admin):
    admin.elevate("dave")
    create(admin, {"name": "gpu"}, as_user="dave")
    ok(admin.patch("/igor/hostpolicy/gpu", as_user="dave", json={"maxResTime": "2h"}))
    ok(admin.patch("/igor/hosts-ctrl/policy", as_user="dave", json={"policy": "gpu", "nodeList": "dn5"}))
    ok(admin.patch("/igor/hosts-ctrl/policy", as_user="dave", json={"policy": "default", "nodeList": "dn5"}))
    ok(admin.delete("/igor/hostpolicy/gpu", as_user="dave"))
    assert set(policies(admin)) == {"default"}


# -- edit ----------------------------------------------------------------------------------------------------------


def test_edit_name_and_max_time(gpu):
    before = epoch(gpu)
    edit(gpu, "gpu", {"name": "accel", "maxResTime": "90m"})
    assert epoch(gpu) == before + 1
    view = policies(gpu)["accel"]
    assert (view["hosts"], view["maxResTime"], view["accessGroups"]) == ("dn[1-4]", "1h30m0s", ["team"])
    assert "gpu" not in policies(gpu)


def test_adding_groups_to_an_open_policy_restricts_it_and_removing_the_last_reopens_it(admin):
    admin.services.groups.create(admin.services.auth.principal_for("carol"), "crew", members=[])
    create(admin, {"name": "open"})
    assert policies(admin)["open"]["accessGroups"] == ["all"]
    edit(admin, "open", {"addGroups": ["team"]})
    assert policies(admin)["open"]["accessGroups"] == ["team"]
    edit(admin, "open", {"addGroups": ["crew", "team"]})
    assert policies(admin)["open"]["accessGroups"] == ["crew", "team"]
    edit(admin, "open", {"removeGroups": ["team"]})
    assert policies(admin)["open"]["accessGroups"] == ["crew"]
    edit(admin, "open", {"removeGroups": ["crew"]})
    assert policies(admin)["open"]["accessGroups"] == ["all"]
    edit(admin, "open", {"addGroups": ["team"]})
    edit(admin, "open", {"removeGroups": ["team"], "addGroups": ["team"]})  # removed first, then added
    assert policies(admin)["open"]["accessGroups"] == ["team"]
    with db_session:
        assert [g.name for g in admin.services.db.HostPolicy.get(name="open").access_groups] == ["team"]
    edit(admin, "open", {"removeGroups": ["team"]})
    with db_session:  # "all" is stored as no groups, as for the default policy
        assert not admin.services.db.HostPolicy.get(name="open").access_groups


def test_adding_and_removing_windows(gpu):
    edit(gpu, "gpu", {"addNotAvailable": ["0 12 * * *:1h", {"start": "0 0 * * 6", "duration": "2d"}]})
    assert policies(gpu)["gpu"]["scheduleBlock"] == [{"start": "0 0 * * 6", "duration": "2d0h0m"},
                                                     {"start": "0 12 * * *", "duration": "1h0m"}]
    # what show prints is accepted back, whatever the spacing of the cron
    edit(gpu, "gpu", {"removeNotAvailable": [{"start": "0  0 * * 6", "duration": "2d0h0m"}]})
    assert policies(gpu)["gpu"]["scheduleBlock"] == [{"start": "0 12 * * *", "duration": "1h0m"}]
    edit(gpu, "gpu", {"addNotAvailable": ["0 1 * * *:1h"], "removeNotAvailable": ["0 1 * * *:60m"]})  # add, remove
    assert policies(gpu)["gpu"]["scheduleBlock"] == [{"start": "0 12 * * *", "duration": "1h0m"}]


def test_removing_one_window_removes_exactly_that_window(gpu):
    """Reference §11 item 15: Igor v2's removeSBInstance keeps a block only if it differs from the removed one in
    *both* start and duration, so removing one block also drops every block sharing its cron start or its
    duration. Here v2 would leave only the last block."""
    edit(gpu, "gpu", {"removeNotAvailable": ["0 0 * * 6:2d"]})
    blocks = [("0 0 * * 6", "2d"), ("0 0 * * 6", "1d"), ("0 12 * * 1", "2d"), ("30 6 * * 3", "3h")]
    edit(gpu, "gpu", {"addNotAvailable": [{"start": s, "duration": d} for s, d in blocks]})
    assert len(policies(gpu)["gpu"]["scheduleBlock"]) == 4
    edit(gpu, "gpu", {"removeNotAvailable": [{"start": "0 0 * * 6", "duration": "2d"}]})
    assert policies(gpu)["gpu"]["scheduleBlock"] == [{"start": "0 0 * * 6", "duration": "1d0h0m"},
                                                     {"start": "0 12 * * 1", "duration": "2d0h0m"},
                                                     {"start": "30 6 * * 3", "duration": "3h0m"}]
    with db_session:
        assert gpu.services.db.HostPolicy.get(name="gpu").not_available == [
            {"start": "0 0 * * 6", "duration": 1440}, {"start": "0 12 * * 1", "duration": 2880},
            {"start": "30 6 * * 3", "duration": 180}]


def test_the_windows_left_after_a_removal_are_still_enforced(admin):
    """§11 item 15 seen from scheduling: after removing one of two always-on windows sharing a cron start (and a
    yearly one sharing its duration), the hosts stay closed; v2 would have dropped all three and opened them."""
    create(admin, {"name": "closed", "notAvailable": ["0 * * * *:2h", "0 * * * *:3h", "0 0 1 1 *:2h"]})
    apply(admin, "closed", "dn1")
    assert reserve(admin, "carol", "carolres", "dn1").status_code == 409
    edit(admin, "closed", {"removeNotAvailable": ["0 * * * *:2h"]})
    r = reserve(admin, "carol", "carolres", "dn1")
    assert r.status_code == 409 and r.json["message"].startswith("scheduling conflict; "), r.json
    edit(admin, "closed", {"removeNotAvailable": ["0 * * * *:3h"]})
    assert reserve(admin, "carol", "carolres", "dn1").status_code == 201
    assert policies(admin)["closed"]["scheduleBlock"] == [{"start": "0 0 1 1 *", "duration": "2h0m"}]


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("default", {"maxResTime": "1h"}, 403, DEFAULT_EDIT),
    ("default", {"addGroups": ["team"]}, 403, DEFAULT_EDIT),
    ("nopolicy", {"maxResTime": "1h"}, 404, "policy(s) 'nopolicy' not found"),
    ("nopolicy", {"name": "x"}, 404, "policy(s) 'nopolicy' not found"),
    ("gpu", {"name": "default"}, 409, "'default' is the system default host policy name"),
    ("gpu", {"name": "DEFAULT"}, 409, "'DEFAULT' is the system default host policy name"),
    ("gpu", {"name": "night"}, 409, "host policy 'night' already exists"),
    ("gpu", {"name": "gpu"}, 409, "host policy 'gpu' already exists"),
    ("gpu", {"name": "x"}, 400, "'x' is not a legal host policy name"),
    ("gpu", {"maxResTime": "later"}, 400, "invalid duration 'later'"),
    ("gpu", {"maxResTime": "10s"}, 400, "invalid parameter 'maxResTime': '10s' is shorter than 1 minute"),
    ("gpu", {"addGroups": ["all"]}, 409, "group not allowed as access group: all"),
    ("gpu", {"addGroups": ["admins"]}, 409, "group not allowed as access group: admins"),
    ("gpu", {"addGroups": ["u_carol"]}, 409, "group not allowed as access group: u_carol"),
    ("gpu", {"addGroups": ["none"]}, 409, "group not allowed as access group: none"),
    ("gpu", {"addGroups": ["nogroup"]}, 404, "group 'nogroup' not found"),
    ("gpu", {"addGroups": []}, 404, "requested group(s) to add not found"),
    ("gpu", {"removeGroups": []}, 404, "requested group(s) to remove not found"),
    ("gpu", {"removeGroups": ["nogroup", "nix"]}, 404, "group(s) 'nogroup,nix' not found"),
    ("gpu", {"removeGroups": ["u_carol"]}, 404, "group 'u_carol' not found"),
    ("gpu", {"removeGroups": ["admins"]}, 400, "group 'admins' is not an access group of host policy 'gpu'"),
    ("gpu", {"addGroups": ["x"]}, 400, "'x' is not a legal group name"),
    ("gpu", {"addGroups": "team"}, 400, "invalid parameter 'addGroups': must be a list of strings, got string"),
    ("gpu", {"removeNotAvailable": ["0 1 * * *:1h"]}, 404,
     "host policy 'gpu' has no not-available window '0 1 * * *' lasting 1h0m"),
    ("gpu", {"removeNotAvailable": ["0 0 * * 6:1d"]}, 404,
     "host policy 'gpu' has no not-available window '0 0 * * 6' lasting 1d0h0m"),
    ("gpu", {"addNotAvailable": ["61 0 * * *:1h"]}, 400,
     "invalid parameter 'addNotAvailable': not-available window '61 0 * * *:1h': '61 0 * * *' is not a valid"),
    ("gpu", {"addNotAvailable": [{"start": "0 0 * * 6", "duration": "forever"}]}, 400,
     "invalid parameter 'addNotAvailable': not-available window '0 0 * * 6:forever': invalid duration"),
    ("gpu", {"removeNotAvailable": [{"start": "0 0 * * 6"}]}, 400,
     "invalid parameter 'removeNotAvailable': each window must be"),
    ("gpu", {"addNotAvailable": ["0 0 * * 1:1h"] * 101}, 400,
     "invalid parameter 'addNotAvailable': longer than 100 items"),
    ("gpu", {"maxResTime": "2h", "addGroups": ["nogroup"]}, 404, "group 'nogroup' not found"),  # all or nothing
    ("gpu", {"accessGroups": ["team"]}, 400, "unknown parameter 'accessGroups' received: ['team']"),
    ("gpu", {"name": 7}, 400, "invalid parameter 'name': must be a string, got number"),
    ("gpu", {}, 400, "requested operation had no parameters"),
])
def test_edit_refusals_change_nothing(gpu, path, body, status, message):
    create(gpu, {"name": "night"})
    refused(gpu, "PATCH", f"/igor/hostpolicy/{path}", status, message, prefix=True, json=body)


# -- delete --------------------------------------------------------------------------------------------------------


def test_delete(gpu):
    create(gpu, {"name": "spare", "accessGroups": ["team"]})
    before = epoch(gpu)
    ok(gpu.delete("/igor/hostpolicy/spare", as_user=ROOT))
    assert epoch(gpu) == before + 1
    assert "spare" not in policies(gpu)
    with db_session:
        assert not gpu.services.db.Group.get(name="team").policies.filter(lambda p: p.name == "spare")


def test_delete_is_refused_while_hosts_use_the_policy(gpu):
    refused(gpu, "DELETE", "/igor/hostpolicy/gpu", 409,
            "deleting host policy while still assigned to a host is not permitted: 'gpu' is the policy of dn[1-4] "
            "(apply another policy to them first)")
    apply(gpu, "default", "dn[1-4]")
    ok(gpu.delete("/igor/hostpolicy/gpu", as_user=ROOT))


def test_the_default_policy_cannot_be_deleted(admin):
    refused(admin, "DELETE", "/igor/hostpolicy/default", 403, "deleting the default host policy is not permitted")


# -- apply ---------------------------------------------------------------------------------------------------------


def test_apply_assigns_and_default_reverts(gpu):
    assert policies(gpu)["gpu"]["hosts"] == "dn[1-4]"
    assert policies(gpu)["default"]["hosts"] == "dn[5-16]"
    before = epoch(gpu)
    apply(gpu, "gpu", "dn[4-6],dn9")
    assert epoch(gpu) == before + 1
    assert policies(gpu)["gpu"]["hosts"] == "dn[1-6,9]"
    hosts = {h["name"]: h for h in gpu.get("/igor/hosts", as_user="carol").json["data"]["hosts"]}
    assert hosts["dn9"]["hostPolicy"] == "gpu" and hosts["dn7"]["hostPolicy"] == "default"
    apply(gpu, "default", "dn[1-16]")
    assert policies(gpu)["gpu"]["hosts"] == ""


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"policy": "nopolicy", "nodeList": "dn1"}, 404, "policy(s) 'nopolicy' not found"),
    ({"policy": "gpu", "nodeList": "  "}, 400, "at least 1 host name required to apply a policy"),
    ({"policy": "gpu", "nodeList": "dn99"}, 400, "couldn't parse node specification dn99"),
    ({"policy": "gpu", "nodeList": "dn[5-20]"}, 400, "couldn't parse node specification dn[5-20]"),
    ({"policy": "gpu", "nodeList": "dn[1-"}, 400, "couldn't parse node specification dn[1-"),
    ({"policy": "gpu", "nodeList": "4"}, 400, "couldn't parse node specification 4"),
    ({"policy": "gpu"}, 400, "required parameter 'nodeList' not found"),
    ({"nodeList": "dn1"}, 400, "required parameter 'policy' not found"),
    ({"policy": True, "nodeList": "dn1"}, 400, "invalid parameter 'policy': must be a string, got boolean"),
    ({"policy": "gpu", "nodeList": ["dn1"]}, 400, "invalid parameter 'nodeList': must be a string, got list"),
    ({"policy": "gpu", "nodeList": "dn1", "hosts": "dn1"}, 400, "unknown parameter 'hosts' received: dn1"),
    ({}, 400, "requested operation had no parameters"),
])
def test_apply_refusals_change_nothing(gpu, body, status, message):
    refused(gpu, "PATCH", "/igor/hosts-ctrl/policy", status, message, prefix=True, json=body)


# -- effect on scheduling ------------------------------------------------------------------------------------------


def test_access_groups_decide_who_may_reserve(gpu):
    r = reserve(gpu, "carol", "carolres", "dn1")
    assert (r.status_code, r.json["message"]) == (409, GROUP_RESTRICTED + "[dn1]")
    gpu.elevate("dave")  # elevation does not bypass group restrictions
    r = reserve(gpu, "dave", "daveres", "dn2")
    assert (r.status_code, r.json["message"]) == (409, GROUP_RESTRICTED + "[dn2]")
    assert reserve(gpu, "bob", "bobres", "dn1").status_code == 201
    assert reserve(gpu, "carol", "carolres", "dn5").status_code == 201  # the default policy is open


def test_max_res_time_limits_users_not_elevated_admins(admin):
    create(admin, {"name": "short", "maxResTime": "1h"})
    apply(admin, "short", "dn[1-4]")
    r = reserve(admin, "carol", "carolres", "dn1", "2h")
    assert r.status_code == 409
    assert r.json["message"].startswith("max allowable time is 1h0m0s (you requested 2h0m0s)"), r.json
    assert reserve(admin, "carol", "carolres", "dn1", "1h").status_code == 201
    admin.elevate("dave")
    assert reserve(admin, "dave", "daveres", "dn2", "2h").status_code == 201


def test_a_window_covering_now_stops_requests_by_name(admin):
    create(admin, {"name": "closed", "notAvailable": ["0 * * * *:2h"]})  # every hour for two hours: always
    apply(admin, "closed", "dn[1-4]")
    r = reserve(admin, "carol", "carolres", "dn1")
    assert r.status_code == 409
    assert r.json["message"].startswith("scheduling conflict; the schedule-restricted host(s) [dn1] are "
                                        "unavailable during the period "), r.json
    assert reserve(admin, "carol", "carolres", "dn5").status_code == 201
    admin.elevate("dave")  # elevated admins bypass not-available windows
    assert reserve(admin, "dave", "daveres", "dn2").status_code == 201


def test_edits_reach_the_engine_at_once(gpu):
    assert reserve(gpu, "carol", "carol1", "dn1").status_code == 409
    gpu.services.groups.create(gpu.services.auth.principal_for("carol"), "crew", members=[])
    edit(gpu, "gpu", {"addGroups": ["crew"]})
    assert reserve(gpu, "carol", "carol1", "dn1").status_code == 201
    edit(gpu, "gpu", {"removeGroups": ["crew", "team"]})  # the last group gone: open again
    assert reserve(gpu, "alice", "alice1", "dn2").status_code == 201
    edit(gpu, "gpu", {"addGroups": ["team"], "maxResTime": "2h"})
    assert reserve(gpu, "carol", "carol2", "dn3").status_code == 409
    assert reserve(gpu, "bob", "bob1", "dn3", "2h").status_code == 201
    apply(gpu, "default", "dn4")
    assert reserve(gpu, "carol", "carol2", "dn4").status_code == 201


def test_applying_and_editing_never_change_reservations_but_may_stop_extensions(admin):
    assert reserve(admin, "carol", "carolres", "dn2", "2h").status_code == 201
    before = full_snapshot(admin.services)["reservations"]
    create(admin, {"name": "gpu", "maxResTime": "1h", "accessGroups": ["team"], "notAvailable": ["0 * * * *:2h"]})
    apply(admin, "gpu", "dn[1-4]")
    edit(admin, "gpu", {"maxResTime": "30m", "addNotAvailable": ["0 0 * * *:1d"]})
    assert full_snapshot(admin.services)["reservations"] == before
    r = admin.get("/igor/reservations", as_user="carol")
    (res,) = r.json["data"]["reservations"]
    assert res["name"] == "carolres" and res["hosts"] == ["dn2"]
    r = admin.patch("/igor/reservations/carolres", as_user="carol", json={"extend": "30m"})
    assert r.status_code in (400, 409), r.json  # refused; status and message are the reservation service's
    assert full_snapshot(admin.services)["reservations"] == before
    apply(admin, "default", "dn2")
    r = admin.patch("/igor/reservations/carolres", as_user="carol", json={"extend": "30m"})
    assert r.status_code == 200, r.json


def test_another_worker_sees_policy_changes(admin, config):
    """A second Services on the same database (another gunicorn worker, or another server) follows the epoch:
    its engine, already built, is rebuilt on its next request after a policy change made elsewhere."""
    from igor.db import init_db
    from igor.services import Services
    from tests.api.conftest import Api

    other = Api(Services(init_db(config.database.url), config))
    try:
        assert reserve(other, "carol", "warm", "dn9").status_code == 201  # the other worker's engine is built
        create(admin, {"name": "gpu", "accessGroups": ["team"]})
        apply(admin, "gpu", "dn[1-4]")
        r = reserve(other, "carol", "carolres", "dn1")
        assert (r.status_code, r.json["message"]) == (409, GROUP_RESTRICTED + "[dn1]")
        assert set(policies(other)) == {"default", "gpu"}
        edit(admin, "gpu", {"removeGroups": ["team"]})
        assert reserve(other, "carol", "carolres", "dn1").status_code == 201
        other.login(ROOT)  # and the other way round
        ok(other.patch("/igor/hostpolicy/gpu", as_user=ROOT, json={"addGroups": ["team"]}))
        r = reserve(admin, "carol", "carol2", "dn2")
        assert (r.status_code, r.json["message"]) == (409, GROUP_RESTRICTED + "[dn2]")
    finally:
        other.services.db.disconnect()
