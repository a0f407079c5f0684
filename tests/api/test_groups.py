"""``/igor/groups`` and ``/igor/groups/{groupName}`` over the API: create, show, edit (rename, description, owners,
members) and delete, with Igor v2's messages (reference §4, §6, §8, §8.9), and a database left untouched by every
refusal."""

from __future__ import annotations

import pytest
from pony.orm import db_session

from tests.api.test_users import ELEVATE_MSG, group_facts, ok, refused, snapshot

SEPARATE = "operations on owners and members must be separate commands"


def group_row(api, name: str):
    with db_session:
        g = api.services.db.Group.get(name=name)
        if g is None:
            return None
        return {"description": g.description, "owners": sorted(u.name for u in g.owners),
                "members": sorted(u.name for u in g.members)}


def facts_of(api, user: str) -> list[str]:
    return group_facts(api, f"u_{user}")


def facts_naming(api, group: str) -> list[tuple[str, str]]:
    """Every stored fact about ``groups:<group>``."""
    return [(g, f) for g, f in snapshot(api.services)["permissions"] if f.startswith(f"groups:{group}:")]


def shown(api, as_user: str, **params) -> dict[str, list[str]]:
    data = ok(api.get("/igor/groups", as_user=as_user, params=params or None), 200, "")
    assert set(data) == {"owner", "member"}
    return {k: [g["name"] for g in v] for k, v in data.items()}


def edit(api, as_user: str, group: str, body: dict) -> None:
    ok(api.patch(f"/igor/groups/{group}", as_user=as_user, json=body), 200, "")  # v2: empty message


# -- create --------------------------------------------------------------------------------------------------------


def test_create_group_with_owners_and_members(people):
    r = people.post("/igor/groups", as_user="alice",
                    json={"name": "alpha", "description": "Alpha team (v2)", "owners": ["Carol"],
                          "members": ["bob", "dave", "carol"]})
    (view,) = ok(r, 201, "igor group 'alpha' created ")["group"]
    assert view == {"name": "alpha", "description": "Alpha team (v2)", "owners": ["alice", "carol"],
                    "members": ["alice", "bob", "carol", "dave"], "distros": [], "hostPolicies": [],
                    "reservations": [], "isLDAP": False}
    assert group_row(people, "alpha") == {"description": "Alpha team (v2)", "owners": ["alice", "carol"],
                                          "members": ["alice", "bob", "carol", "dave"]}
    assert group_facts(people, "alpha") == ["groups:alpha:view"]
    for owner in ("alice", "carol"):
        assert {"groups:alpha:delete", "groups:alpha:edit:*"} <= set(facts_of(people, owner))
    for other in ("bob", "dave"):
        assert not any(f.startswith("groups:alpha:") for f in facts_of(people, other))
    # a co-owner given at creation can edit it
    edit(people, "carol", "alpha", {"description": "by carol"})
    assert group_row(people, "alpha")["description"] == "by carol"


def test_create_minimal_group(people):
    (view,) = ok(people.post("/igor/groups", as_user="carol", json={"name": "Solo.Group_1"}), 201,
                 "igor group 'Solo.Group_1' created ")["group"]
    assert view["owners"] == ["carol"] and view["members"] == ["carol"] and view["description"] == ""
    assert group_row(people, "Solo.Group_1") == {"description": "", "owners": ["carol"], "members": ["carol"]}


def test_create_by_elevated_admin_and_igor_admin(people):
    people.elevate("dave")
    ok(people.post("/igor/groups", as_user="dave", json={"name": "ops", "members": ["bob"]}), 201,
       "igor group 'ops' created ")
    assert group_row(people, "ops")["owners"] == ["dave"]
    ok(people.post("/igor/groups", as_user="igor-admin", json={"name": "lab", "owners": ["bob"]}), 201,
       "igor group 'lab' created ")
    assert group_row(people, "lab") == {"description": "", "owners": ["bob"], "members": ["bob"]}


def test_igor_admin_needs_someone_else_as_owner(people):
    refused(people, "POST", "/igor/groups", 400,
            "a group needs at least one owner (igor-admin cannot own groups it creates)", as_user="igor-admin",
            json={"name": "lab", "members": ["bob"]})


def test_overlong_group_names_in_paths(people):
    long = "g" * 300
    refused(people, "PATCH", f"/igor/groups/{long}", 404, f"the group '{long}' does not exist", as_user="alice",
            json={"description": "x"})
    refused(people, "DELETE", f"/igor/groups/{long}", 404, f"the group '{long}' does not exist", as_user="alice")
    assert shown(people, "alice", name=long) == {"owner": [], "member": []}


def test_create_unknown_users(people):
    refused(people, "POST", "/igor/groups", 404, "user 'zed' not found", as_user="alice",
            json={"name": "alpha", "owners": ["zed"]})
    refused(people, "POST", "/igor/groups", 404, "user 'zed' not found", as_user="alice",
            json={"name": "alpha", "members": ["bob", "zed"]})
    refused(people, "POST", "/igor/groups", 404, "user(s) 'yan, zed' not found", as_user="alice",
            json={"name": "alpha", "members": ["zed", "bob", "yan"]})
    refused(people, "POST", "/igor/groups", 404, "user(s) 'yan, zed' not found", as_user="alice",
            json={"name": "alpha", "owners": ["zed", "yan"]})
    assert group_row(people, "alpha") is None


def test_create_cannot_add_igor_admin(people):
    msg = "cannot add igor-admin to any group"
    refused(people, "POST", "/igor/groups", 403, msg, as_user="alice", json={"name": "alpha", "owners": ["igor-admin"]})
    refused(people, "POST", "/igor/groups", 403, msg, as_user="alice",
            json={"name": "alpha", "members": ["bob", "igor-admin"]})


@pytest.mark.parametrize(("name", "start"), [
    ("all", "group name 'all' is not allowed"),
    ("ALL", "group name 'ALL' is not allowed"),
    ("none", "group name 'none' is not allowed"),
    ("u_foo", "group name 'u_foo' is not allowed"),
    ("U_alice", "group name 'U_alice' is not allowed"),
    ("admins", "group name 'admins' is not allowed"),
    ("admins2", "group name 'admins2' is not allowed"),
    ("Administrators", "group name 'Administrators' is not allowed"),
    ("ab", "'ab' is not a legal group name"),
    ("a b c", "'a b c' is not a legal group name"),
    ("-abc", "'-abc' is not a legal group name"),
    ("1234", "'1234' is not a legal group name"),
    ("a" * 25, f"'{'a' * 25}' is not a legal group name"),
    ("", "group name cannot be empty"),
    ("users", "group name cannot be the restricted word 'users'"),
])
def test_create_bad_group_names(people, name, start):
    before = snapshot(people.services)
    r = people.post("/igor/groups", as_user="alice", json={"name": name})
    assert r.status_code == 400 and r.json["message"].startswith(start), r.json
    assert snapshot(people.services) == before


def test_create_duplicate_group(people):
    refused(people, "POST", "/igor/groups", 409, "group 'team' already exists", as_user="carol",
            json={"name": "team"})
    refused(people, "POST", "/igor/groups", 409, "group 'team' already exists", as_user="carol",
            json={"name": " team ", "members": ["zed"]})


def test_create_other_refusals(people):
    refused(people, "POST", "/igor/groups", 400,
            "LDAP-synced groups need LDAP group sync (auth.ldap.sync.enableGroupSync), which is not enabled on "
            "this server", as_user="alice", json={"name": "ldapgrp", "isLDAP": True})
    before = snapshot(people.services)
    r = people.post("/igor/groups", as_user="alice", json={"name": "alpha", "description": "<script>"})
    assert r.status_code == 400 and r.json["message"].startswith("description field invalid")
    r = people.post("/igor/groups", as_user="alice", json={"name": "alpha", "members": ["Not Valid"]})
    assert r.status_code == 400 and "not valid" in r.json["message"], r.json
    assert snapshot(people.services) == before


# -- show ----------------------------------------------------------------------------------------------------------


def test_show_split_by_ownership(people):
    assert shown(people, "alice") == {"owner": ["team"], "member": ["all"]}
    assert shown(people, "bob") == {"owner": [], "member": ["all", "team"]}
    assert shown(people, "carol") == {"owner": [], "member": ["all"]}
    assert shown(people, "dave") == {"owner": [], "member": ["admins", "all"]}


def test_show_elevated_sees_every_group_but_private_ones(people):
    people.elevate("dave")
    assert shown(people, "dave") == {"owner": [], "member": ["admins", "all", "team"]}
    assert shown(people, "igor-admin") == {"owner": ["admins", "all"], "member": ["team"]}
    data = ok(people.get("/igor/groups", as_user="dave"), 200, "")
    views = {g["name"]: g for g in data["member"]}
    assert views["team"]["owners"] == ["alice"] and views["team"]["members"] == ["alice", "bob"]
    assert views["admins"]["owners"] == ["igor-admin"]
    assert views["admins"]["members"] == ["dave"]  # v2 hides igor-admin in the members of all/admins
    assert views["all"]["members"] == ["alice", "bob", "carol", "dave"]
    assert shown(people, "dave", name="u_alice") == {"owner": [], "member": []}


def test_show_members_only_on_request(people):
    data = ok(people.get("/igor/groups", as_user="bob"), 200, "")
    team = next(g for g in data["member"] if g["name"] == "team")
    assert team["owners"] == ["alice"] and team["members"] is None and team["description"] == ""
    data = ok(people.get("/igor/groups", as_user="bob", params={"showMembers": "true"}), 200, "")
    team = next(g for g in data["member"] if g["name"] == "team")
    assert team["members"] == ["alice", "bob"]
    data = ok(people.get("/igor/groups", as_user="alice", params={"showMembers": "false"}), 200, "")
    assert data["owner"][0]["members"] is None


def test_show_filters(people):
    ok(people.post("/igor/groups", as_user="carol", json={"name": "gamma", "members": ["bob"]}), 201,
       "igor group 'gamma' created ")
    assert shown(people, "bob") == {"owner": [], "member": ["all", "gamma", "team"]}
    assert shown(people, "bob", name="team") == {"owner": [], "member": ["team"]}
    assert shown(people, "bob", name="team,gamma") == {"owner": [], "member": ["gamma", "team"]}
    assert shown(people, "bob", owner="carol") == {"owner": [], "member": ["gamma"]}
    assert shown(people, "bob", owner="Alice") == {"owner": [], "member": ["team"]}
    assert shown(people, "bob", owner="zed") == {"owner": [], "member": []}
    assert shown(people, "bob", name="nope") == {"owner": [], "member": []}
    # a group one does not belong to stays invisible, even by name
    assert shown(people, "alice", name="gamma") == {"owner": [], "member": []}
    assert shown(people, "carol", name="team") == {"owner": [], "member": []}
    assert shown(people, "alice", name="u_alice") == {"owner": [], "member": []}


def test_show_bad_query(people):
    refused(people, "GET", "/igor/groups", 400, "unknown parameter 'x' received: [1]", as_user="alice",
            params={"x": "1"})
    refused(people, "GET", "/igor/groups", 400, "invalid parameter: 'showMembers=maybe' does not evaluate to boolean",
            as_user="alice", params={"showMembers": "maybe"})
    refused(people, "GET", "/igor/groups", 400, "invalid parameter: 'showMembers' cannot have multiple values",
            as_user="alice", query_string="showMembers=true&showMembers=false")
    refused(people, "GET", "/igor/groups", 400, "invalid parameter 'name': longer than 4096 characters",
            as_user="alice", params={"name": "a" * 5000})


# -- edit: name and description ------------------------------------------------------------------------------------


def test_rename_group(people):
    edit(people, "alice", "team", {"name": "squad"})
    assert group_row(people, "team") is None
    assert group_row(people, "squad") == {"description": "", "owners": ["alice"], "members": ["alice", "bob"]}
    assert facts_naming(people, "team") == []
    assert sorted(facts_naming(people, "squad")) == [("squad", "groups:squad:view"),
                                                      ("u_alice", "groups:squad:delete"),
                                                      ("u_alice", "groups:squad:edit:*")]
    assert shown(people, "bob") == {"owner": [], "member": ["all", "squad"]}
    edit(people, "alice", "squad", {"description": "renamed"})
    refused(people, "PATCH", "/igor/groups/team", 404, "the group 'team' does not exist", as_user="alice",
            json={"description": "x"})
    # renaming to its own name is a no-op
    edit(people, "alice", "squad", {"name": "squad"})
    assert group_row(people, "squad")["description"] == "renamed"


def test_rename_conflicts_and_rules(people):
    ok(people.post("/igor/groups", as_user="carol", json={"name": "beta"}), 201, "igor group 'beta' created ")
    refused(people, "PATCH", "/igor/groups/team", 409, "group name 'beta' already in use", as_user="alice",
            json={"name": "beta"})
    refused(people, "PATCH", "/igor/groups/team", 409, "group name 'beta' already in use", as_user="alice",
            json={"name": "beta", "description": "changed"})
    for bad, start in (("all", "group name 'all' is not allowed"), ("u_bob", "group name 'u_bob' is not allowed"),
                       ("admins2", "group name 'admins2' is not allowed"), ("ab", "'ab' is not a legal group name")):
        before = snapshot(people.services)
        r = people.patch("/igor/groups/team", as_user="alice", json={"name": bad})
        assert r.status_code == 400 and r.json["message"].startswith(start), r.json
        assert snapshot(people.services) == before


def test_system_groups_cannot_be_renamed(people):
    people.elevate("dave")
    for group in ("all", "admins"):
        refused(people, "PATCH", f"/igor/groups/{group}", 403, f"cannot change the name of group '{group}'",
                as_user="dave", json={"name": "renamed"})
        refused(people, "PATCH", f"/igor/groups/{group}", 403, f"cannot change the name of group '{group}'",
                as_user="igor-admin", json={"name": "renamed", "description": "x"})


def test_edit_description(people):
    edit(people, "alice", "team", {"description": "  The A-Team: (no jokes)!  "})
    assert group_row(people, "team")["description"] == "The A-Team: (no jokes)!"
    before = snapshot(people.services)
    r = people.patch("/igor/groups/team", as_user="alice", json={"description": "semi;colon"})
    assert r.status_code == 400 and r.json["message"].startswith("description field invalid")
    assert snapshot(people.services) == before
    people.elevate("dave")
    edit(people, "dave", "all", {"description": "everyone"})
    assert group_row(people, "all")["description"] == "everyone"


# -- edit: owners ---------------------------------------------------------------------------------------------------


def test_new_owner_can_edit(people):
    refused(people, "PATCH", "/igor/groups/team", 403, "you cannot access the group 'team'", as_user="carol",
            json={"name": "carols"})
    edit(people, "alice", "team", {"addOwners": ["carol"]})
    assert group_row(people, "team") == {"description": "", "owners": ["alice", "carol"],
                                         "members": ["alice", "bob", "carol"]}
    assert {"groups:team:edit:*", "groups:team:delete"} <= set(facts_of(people, "carol"))
    assert shown(people, "carol") == {"owner": ["team"], "member": ["all"]}
    edit(people, "carol", "team", {"name": "carols"})
    assert group_row(people, "carols")["owners"] == ["alice", "carol"]
    edit(people, "alice", "carols", {"description": "still alice too"})


def test_remove_owner(people):
    edit(people, "alice", "team", {"addOwners": ["carol", "bob"]})
    edit(people, "carol", "team", {"rmvOwners": ["alice"]})
    assert group_row(people, "team") == {"description": "", "owners": ["bob", "carol"],
                                         "members": ["alice", "bob", "carol"]}
    assert not any(f.startswith("groups:team:") for f in facts_of(people, "alice"))
    assert shown(people, "alice") == {"owner": [], "member": ["all", "team"]}
    refused(people, "PATCH", "/igor/groups/team", 403, "you cannot access the group 'team'", as_user="alice",
            json={"description": "mine again"})
    refused(people, "DELETE", "/igor/groups/team", 403, "you cannot access the group 'team'", as_user="alice")
    # add and remove owners in one request
    edit(people, "bob", "team", {"addOwners": ["dave"], "rmvOwners": ["carol"]})
    assert group_row(people, "team")["owners"] == ["bob", "dave"]


def test_owner_refusals(people):
    refused(people, "PATCH", "/igor/groups/team", 400, "cannot remove all owners from a group", as_user="alice",
            json={"rmvOwners": ["alice"]})
    refused(people, "PATCH", "/igor/groups/team", 400, "cannot add and remove the same owner 'carol' from group",
            as_user="alice", json={"addOwners": ["carol"], "rmvOwners": ["carol"]})
    refused(people, "PATCH", "/igor/groups/team", 400, "user 'bob' is not an owner of group 'team'",
            as_user="alice", json={"rmvOwners": ["bob"]})
    refused(people, "PATCH", "/igor/groups/team", 404, "user 'zed' not found", as_user="alice",
            json={"addOwners": ["zed"]})
    refused(people, "PATCH", "/igor/groups/team", 404, "user(s) 'yan, zed' not found", as_user="alice",
            json={"addOwners": ["zed", "carol", "yan"]})
    refused(people, "PATCH", "/igor/groups/team", 403, "cannot add igor-admin to any group", as_user="alice",
            json={"addOwners": ["igor-admin"]})
    # a rename in the same request is not half-applied
    refused(people, "PATCH", "/igor/groups/team", 404, "user 'zed' not found", as_user="alice",
            json={"name": "squad", "description": "new", "addOwners": ["zed"]})


def test_owner_and_member_operations_are_separate(people):
    for body in ({"addOwners": ["carol"], "add": ["dave"]}, {"rmvOwners": ["alice"], "remove": ["bob"]},
                 {"addOwners": ["carol"], "remove": ["bob"]}, {"name": "squad", "rmvOwners": [], "add": []}):
        refused(people, "PATCH", "/igor/groups/team", 400, SEPARATE, as_user="alice", json=body)


# -- edit: members --------------------------------------------------------------------------------------------------


def test_add_and_remove_members(people):
    edit(people, "alice", "team", {"add": ["carol", "Dave"]})
    assert group_row(people, "team")["members"] == ["alice", "bob", "carol", "dave"]
    assert shown(people, "carol") == {"owner": [], "member": ["all", "team"]}
    edit(people, "alice", "team", {"remove": ["bob"]})
    assert group_row(people, "team")["members"] == ["alice", "carol", "dave"]
    assert shown(people, "bob") == {"owner": [], "member": ["all"]}
    edit(people, "alice", "team", {"add": ["bob"], "remove": ["carol", "dave"]})
    assert group_row(people, "team") == {"description": "", "owners": ["alice"], "members": ["alice", "bob"]}
    # adding an existing member is harmless
    edit(people, "alice", "team", {"add": ["bob"]})
    assert group_row(people, "team")["members"] == ["alice", "bob"]


def test_removing_a_co_owner_as_member_drops_ownership(people):
    edit(people, "alice", "team", {"addOwners": ["carol"]})
    edit(people, "alice", "team", {"remove": ["carol"]})
    assert group_row(people, "team") == {"description": "", "owners": ["alice"], "members": ["alice", "bob"]}
    assert not any(f.startswith("groups:team:") for f in facts_of(people, "carol"))


def test_member_refusals(people):
    refused(people, "PATCH", "/igor/groups/team", 400,
            "cannot remove the last owner of a group without designating a new one", as_user="alice",
            json={"remove": ["alice"]})
    edit(people, "alice", "team", {"addOwners": ["carol"]})
    refused(people, "PATCH", "/igor/groups/team", 400,
            "cannot remove the last owner of a group without designating a new one", as_user="alice",
            json={"remove": ["alice", "carol"]})
    refused(people, "PATCH", "/igor/groups/team", 400, "the same user appears in both add and remove params",
            as_user="alice", json={"add": ["dave"], "remove": ["dave"]})
    refused(people, "PATCH", "/igor/groups/team", 400, "user 'dave' is not a member of group 'team'",
            as_user="alice", json={"remove": ["dave"]})
    refused(people, "PATCH", "/igor/groups/team", 404, "user 'zed' not found", as_user="alice",
            json={"add": ["zed"]})
    refused(people, "PATCH", "/igor/groups/team", 404, "user(s) 'yan, zed' not found", as_user="alice",
            json={"add": ["yan", "zed"], "remove": ["bob"]})
    refused(people, "PATCH", "/igor/groups/team", 403, "cannot add igor-admin to any group", as_user="alice",
            json={"add": ["dave", "igor-admin"]})
    before = snapshot(people.services)
    for key in ("add", "remove", "addOwners", "rmvOwners"):
        r = people.patch("/igor/groups/team", as_user="alice", json={key: ["Bad Name"]})
        assert r.status_code == 400 and r.json["message"].startswith("invalid username 'bad name'"), r.json
    assert snapshot(people.services) == before


def test_all_group_membership_is_fixed(people):
    people.elevate("dave")
    refused(people, "PATCH", "/igor/groups/all", 403, "cannot remove members from the 'all' group", as_user="dave",
            json={"remove": ["bob"]})
    refused(people, "PATCH", "/igor/groups/all", 403, "cannot add members to the 'all' group", as_user="dave",
            json={"add": ["bob"]})
    refused(people, "PATCH", "/igor/groups/all", 403, "the owners of group 'all' cannot be changed", as_user="dave",
            json={"addOwners": ["bob"]})
    refused(people, "PATCH", "/igor/groups/all", 403, "you cannot access the group 'all'", as_user="bob",
            json={"description": "mine"})


def test_admins_group(people):
    refused(people, "PATCH", "/igor/groups/admins", 403, ELEVATE_MSG, as_user="dave", json={"add": ["carol"]})
    refused(people, "PATCH", "/igor/groups/admins", 403, "you cannot access the group 'admins'", as_user="carol",
            json={"add": ["carol"]})
    people.elevate("dave")
    msg = "cannot remove igor-admin from the 'admins' group"
    refused(people, "PATCH", "/igor/groups/admins", 403, msg, as_user="dave", json={"remove": ["igor-admin"]})
    refused(people, "PATCH", "/igor/groups/admins", 403, msg, as_user="dave", json={"rmvOwners": ["igor-admin"]})
    refused(people, "PATCH", "/igor/groups/admins", 403, msg, as_user="igor-admin", json={"remove": ["igor-admin"]})
    edit(people, "dave", "admins", {"add": ["carol"]})
    assert group_row(people, "admins")["members"] == ["carol", "dave", "igor-admin"]
    people.elevate("carol")  # carol is now an admin
    edit(people, "carol", "admins", {"remove": ["dave"]})
    assert group_row(people, "admins")["members"] == ["carol", "igor-admin"]
    r = people.patch("/igor/elevate", as_user="dave")
    assert (r.status_code, r.json["message"]) == (403, "user 'dave' is not an admin")


def test_edit_authorization(people):
    for caller in ("bob", "carol"):
        refused(people, "PATCH", "/igor/groups/team", 403, "you cannot access the group 'team'", as_user=caller,
                json={"description": "x"})
    refused(people, "PATCH", "/igor/groups/team", 403, ELEVATE_MSG, as_user="dave", json={"description": "x"})
    refused(people, "PATCH", "/igor/groups/nope", 404, "the group 'nope' does not exist", as_user="alice",
            json={"description": "x"})
    refused(people, "PATCH", "/igor/groups/u_bob", 404, "the group 'u_bob' does not exist", as_user="alice",
            json={"description": "x"})
    refused(people, "PATCH", "/igor/groups/u_bob", 404, "the group 'u_bob' does not exist", as_user="bob",
            json={"description": "x"})
    people.elevate("dave")
    refused(people, "PATCH", "/igor/groups/nope", 404, "group 'nope' not found", as_user="dave",
            json={"description": "x"})
    refused(people, "PATCH", "/igor/groups/u_bob", 404, "group 'u_bob' not found", as_user="dave",
            json={"description": "x"})
    edit(people, "dave", "team", {"name": "daves", "description": "taken over"})
    assert group_row(people, "daves") == {"description": "taken over", "owners": ["alice"],
                                          "members": ["alice", "bob"]}


# -- delete ---------------------------------------------------------------------------------------------------------


def test_delete_group(people):
    edit(people, "alice", "team", {"addOwners": ["carol"]})
    ok(people.delete("/igor/groups/team", as_user="carol"), 200, "")
    assert group_row(people, "team") is None
    assert facts_naming(people, "team") == []
    assert shown(people, "bob") == {"owner": [], "member": ["all"]}
    assert shown(people, "alice") == {"owner": [], "member": ["all"]}
    refused(people, "DELETE", "/igor/groups/team", 404, "the group 'team' does not exist", as_user="alice")
    # alice was sole owner; she no longer owns anything, so she can be deleted
    ok(people.delete("/igor/users/alice", as_user="igor-admin"), 200, "user 'alice' deleted")


def test_delete_by_elevated_admin(people):
    people.elevate("dave")
    ok(people.delete("/igor/groups/team", as_user="dave"), 200, "")
    assert group_row(people, "team") is None and facts_naming(people, "team") == []


def test_delete_refusals(people):
    refused(people, "DELETE", "/igor/groups/team", 403, "you cannot access the group 'team'", as_user="bob")
    refused(people, "DELETE", "/igor/groups/team", 403, "you cannot access the group 'team'", as_user="carol")
    refused(people, "DELETE", "/igor/groups/team", 403, ELEVATE_MSG, as_user="dave")
    refused(people, "DELETE", "/igor/groups/all", 403, "you cannot access the group 'all'", as_user="alice")
    refused(people, "DELETE", "/igor/groups/nope", 404, "the group 'nope' does not exist", as_user="alice")
    refused(people, "DELETE", "/igor/groups/u_alice", 404, "the group 'u_alice' does not exist", as_user="alice")
    refused(people, "DELETE", "/igor/groups/u_bob", 404, "the group 'u_bob' does not exist", as_user="alice")
    people.elevate("dave")
    for system in ("all", "admins", "u_igor-admin"):
        refused(people, "DELETE", f"/igor/groups/{system}", 403, f"group '{system}' deletion not allowed",
                as_user="dave")
        refused(people, "DELETE", f"/igor/groups/{system}", 403, f"group '{system}' deletion not allowed",
                as_user="igor-admin")
    refused(people, "DELETE", "/igor/groups/u_bob", 403,
            "cannot directly delete private group 'u_bob'; delete user instead", as_user="dave")
    refused(people, "DELETE", "/igor/groups/nope", 404, "group 'nope' not found", as_user="dave")


def test_delete_group_used_by_a_host_policy(people):
    db = people.services.db
    with db_session:
        db.HostPolicy(name="restricted", max_res_time=60, access_groups=[db.Group.get(name="team")])
    refused(people, "DELETE", "/igor/groups/team", 409,
            "cannot delete 'team' - must edit or remove host policies defining access for this group (restricted)",
            as_user="alice")


def test_deleted_group_rights_do_not_come_back(people):
    ok(people.delete("/igor/groups/team", as_user="alice"), 200, "")
    ok(people.post("/igor/groups", as_user="carol", json={"name": "team"}), 201, "igor group 'team' created ")
    assert group_row(people, "team") == {"description": "", "owners": ["carol"], "members": ["carol"]}
    refused(people, "PATCH", "/igor/groups/team", 403, "you cannot access the group 'team'", as_user="alice",
            json={"description": "mine"})
    refused(people, "DELETE", "/igor/groups/team", 403, "you cannot access the group 'team'", as_user="alice")
    assert shown(people, "alice") == {"owner": [], "member": ["all"]}
    assert shown(people, "bob") == {"owner": [], "member": ["all"]}


def test_renamed_group_rights_do_not_stay_on_the_old_name(people):
    edit(people, "alice", "team", {"name": "squad"})
    ok(people.post("/igor/groups", as_user="carol", json={"name": "team"}), 201, "igor group 'team' created ")
    refused(people, "PATCH", "/igor/groups/team", 403, "you cannot access the group 'team'", as_user="alice",
            json={"description": "mine"})
    assert shown(people, "bob") == {"owner": [], "member": ["all", "squad"]}


def test_deleting_a_user_removes_their_group_memberships(people):
    people.elevate("dave")
    ok(people.delete("/igor/users/bob", as_user="dave"), 200, "user 'bob' deleted")
    assert group_row(people, "team") == {"description": "", "owners": ["alice"], "members": ["alice"]}
    assert group_row(people, "u_bob") is None
    assert "bob" not in group_row(people, "all")["members"]


# -- bad input on every route --------------------------------------------------------------------------------------

ROUTES = [("POST", "/igor/groups", {"name": "alpha"}), ("PATCH", "/igor/groups/team", {"description": "x"})]


@pytest.mark.parametrize(("method", "path", "valid"), ROUTES)
def test_bad_bodies(people, method, path, valid):
    refused(people, method, path, 400, "unknown parameter 'x' received: 1", as_user="alice", json={**valid, "x": 1})
    refused(people, method, path, 400, "unknown parameter 'owner' received: ['bob']", as_user="alice",
            json={**valid, "owner": ["bob"]})
    refused(people, method, path, 400, "requested operation had no parameters", as_user="alice")
    refused(people, method, path, 400, "requested operation had no parameters", as_user="alice", json={})
    refused(people, method, path, 400, "request body must be a JSON object, got string", as_user="alice",
            json="alpha")
    refused(people, method, path, 400, "request body is not valid JSON", as_user="alice", body='{"name": ',
            headers={"Content-Type": "application/json"})
    before = snapshot(people.services)
    r = people.call(method, path, "alice", body="name=alpha",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "application/json" in r.json["message"], r.json
    assert snapshot(people.services) == before
    refused(people, method, path, 400, "invalid parameter 'name': must be a string, got number", as_user="alice",
            json={**valid, "name": 5})
    refused(people, method, path, 400, "invalid parameter 'description': must be a string, got object",
            as_user="alice", json={**valid, "description": {"a": 1}})
    refused(people, method, path, 400, "invalid parameter 'name': longer than 64 characters", as_user="alice",
            json={**valid, "name": "a" * 5000})
    refused(people, method, path, 400, "invalid parameter 'description': longer than 256 characters",
            as_user="alice", json={**valid, "description": "a" * 5000})
    list_keys = ("owners", "members") if method == "POST" else ("addOwners", "rmvOwners", "add", "remove")
    for key in list_keys:
        refused(people, method, path, 400, f"invalid parameter '{key}': must be a list of strings, got string",
                as_user="alice", json={**valid, key: "bob"})
        refused(people, method, path, 400, f"invalid parameter '{key}': must be a list of strings, got list",
                as_user="alice", json={**valid, key: ["bob", 5]})
        refused(people, method, path, 400, f"invalid parameter '{key}': an item is longer than 4096 characters",
                as_user="alice", json={**valid, key: ["b" * 5000]})


def test_create_bad_bodies(people):
    refused(people, "POST", "/igor/groups", 400, "required parameter 'name' not found", as_user="alice",
            json={"description": "x", "members": ["bob"]})
    refused(people, "POST", "/igor/groups", 400, "invalid parameter 'isLDAP': must be a boolean, got string",
            as_user="alice", json={"name": "alpha", "isLDAP": "yes"})
    refused(people, "POST", "/igor/groups", 400, "invalid parameter 'members': longer than 10000 items",
            as_user="alice", json={"name": "alpha", "members": ["bob"] * 10001})


def test_unsupported_method(people):
    r = people.put("/igor/groups/team", as_user="alice", json={"name": "x"})
    assert r.status_code == 405
    assert group_row(people, "team") is not None
