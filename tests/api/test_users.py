"""``/igor/users`` and ``/igor/users/{userName}`` over the API: create, show, edit, password change, reset and
delete, with Igor v2's messages (reference §3, §5.6, §8), and a database left untouched by every refusal."""

from __future__ import annotations

from typing import Any

import pytest
from pony.orm import db_session

from tests.api.conftest import basic, snapshot

DEFAULT_PW = "changeMe$1"
ELEVATE_MSG = "elevated access is required before running this command"


# -- helpers -------------------------------------------------------------------------------------------------------


def refused(api, method: str, path: str, status: int, message: str, as_user: str | None = None, **kw) -> Any:
    """Call, expect the refusal (status and exact message), and check that the database did not change."""
    before = snapshot(api.services)
    r = api.call(method, path, as_user, **kw)
    assert (r.status_code, r.json["message"]) == (status, message), r.json
    assert r.json["status"] == "fail"
    assert r.json["data"] == {}
    assert snapshot(api.services) == before
    return r


def ok(r, status: int, message: str) -> Any:
    data = r.json["data"]
    if r.json.get("message") == "search returned no results" and message == "":
        # Igor v2 says so whenever a search (GET of users, groups, hosts) finds nothing
        assert isinstance(data, dict) and not any(data.values()), r.json
        message = "search returned no results"
    assert (r.status_code, r.json["message"]) == (status, message), r.json
    assert r.json["status"] == "success"
    return r.json["data"]


def user_row(api, name: str):
    with db_session:
        u = api.services.db.User.get(name=name)
        if u is None:
            return None
        return {"email": u.email, "full_name": u.full_name, "pass_hash": u.pass_hash,
                "groups": sorted(g.name for g in u.groups), "owned": sorted(g.name for g in u.owned_groups)}


def group_facts(api, group: str) -> list[str]:
    with db_session:
        g = api.services.db.Group.get(name=group)
        return sorted(p.fact for p in g.permissions) if g is not None else []


def login_status(api, user: str, password: str) -> tuple[int, str]:
    r = api.client.simulate_get("/igor/login", headers=basic(user, password))
    return r.status_code, r.json["message"]


def token_works(api, token: str) -> bool:
    r = api.client.simulate_get("/igor/users", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 401)
    return r.status_code == 200


# -- create ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("creator", ["dave", "igor-admin"])
def test_create_user_by_admin(people, creator):
    if creator == "dave":
        people.elevate("dave")
    r = people.post("/igor/users", as_user=creator,
                    json={"name": " Erin ", "email": "Erin@Example.COM", "fullName": "Erin E. Smith-Jones"})
    data = ok(r, 201, "igor user 'erin' created")
    (view,) = data["user"]
    assert view["name"] == "erin" and view["email"] == "erin@example.com"
    assert view["fullName"] == "Erin E. Smith-Jones"
    assert view["groups"] is None  # only `all` and the private group, both hidden
    assert isinstance(view["joinDate"], int) and view["joinDate"] > 0
    row = user_row(people, "erin")
    assert row["email"] == "erin@example.com" and row["groups"] == ["all", "u_erin"] and row["owned"] == []
    with db_session:
        pug = people.services.db.Group.get(name="u_erin")
        assert pug.is_user_private
        assert sorted(u.name for u in pug.members) == ["erin"]
        assert sorted(u.name for u in pug.owners) == ["igor-admin"]
    assert group_facts(people, "u_erin") == ["users:erin:edit:email,password,fullName"]
    assert login_status(people, "erin", DEFAULT_PW)[0] == 200
    # the new user can edit themselves straight away
    ok(people.patch("/igor/users/erin", as_user="erin", json={"fullName": "Erin"}), 200, "user 'erin' updated")


def test_create_user_without_full_name(people):
    data = ok(people.post("/igor/users", as_user="igor-admin", json={"name": "frank", "email": "f@example.org"}),
              201, "igor user 'frank' created")
    assert data["user"][0]["fullName"] == ""
    assert user_row(people, "frank")["full_name"] == ""


def test_create_user_needs_an_elevated_admin(people):
    body = {"name": "erin", "email": "erin@example.com"}
    refused(people, "POST", "/igor/users", 403, "access denied", as_user="alice", json=body)
    refused(people, "POST", "/igor/users", 403, ELEVATE_MSG, as_user="dave", json=body)
    assert user_row(people, "erin") is None


def test_create_user_duplicates(people):
    people.elevate("dave")
    refused(people, "POST", "/igor/users", 409, "user 'alice' already exists", as_user="dave",
            json={"name": "alice", "email": "new@example.com"})
    refused(people, "POST", "/igor/users", 409, "user 'alice' already exists", as_user="dave",
            json={"name": " ALICE ", "email": "new@example.com"})
    refused(people, "POST", "/igor/users", 409, "user 'igor-admin' already exists", as_user="dave",
            json={"name": "igor-admin", "email": "new@example.com"})
    refused(people, "POST", "/igor/users", 409, "email 'bob@example.com' already used by 'bob'", as_user="dave",
            json={"name": "erin", "email": " BOB@example.com "})


@pytest.mark.parametrize(("body", "start"), [
    ({"name": "Bad Name", "email": "x@example.com"}, "invalid username 'bad name'"),
    ({"name": "9lives", "email": "x@example.com"}, "invalid username '9lives'"),
    ({"name": "erin", "email": "fhsogmail.com"}, "invalid email address 'fhsogmail.com'"),
    ({"name": "erin", "email": "me..too@gmail.com"}, "invalid email address 'me..too@gmail.com'"),
    ({"name": "erin", "email": "Takeshi.Kovacs@gmail.co1"}, "invalid email address 'takeshi.kovacs@gmail.co1'"),
    ({"name": "erin", "email": "erin@example.com", "fullName": "R2D2"}, "invalid full name 'R2D2'"),
])
def test_create_user_rule_violations(people, body, start):
    before = snapshot(people.services)
    r = people.post("/igor/users", as_user="igor-admin", json=body)
    assert r.status_code == 400 and r.json["message"].startswith(start), r.json
    assert snapshot(people.services) == before


# -- show ----------------------------------------------------------------------------------------------------------


def _by_name(data) -> dict[str, dict]:
    return {u["name"]: u for u in data["users"]}


def test_show_users_as_plain_user(people):
    users = _by_name(ok(people.get("/igor/users", as_user="alice"), 200, ""))
    assert list(users) == ["alice", "bob", "carol", "dave"]  # sorted, igor-admin hidden
    assert users["alice"]["email"] == "alice@example.com" and users["alice"]["groups"] == ["team"]
    assert users["alice"]["fullName"] == "Alice"
    for other in ("bob", "carol", "dave"):
        assert users[other]["email"] == "" and users[other]["groups"] is None
        assert users[other]["fullName"] == other.title()
    users = _by_name(ok(people.get("/igor/users", as_user="carol"), 200, ""))
    assert users["carol"]["email"] == "carol@example.com" and users["carol"]["groups"] is None


def test_show_users_as_unelevated_admin_hides_igor_admin(people):
    users = _by_name(ok(people.get("/igor/users", as_user="dave"), 200, ""))
    assert list(users) == ["alice", "bob", "carol", "dave"]
    assert users["dave"]["groups"] == ["admins"] and users["dave"]["email"] == "dave@example.com"
    assert users["bob"]["email"] == "" and users["bob"]["groups"] is None


def test_show_users_elevated_sees_everything(people):
    people.elevate("dave")
    users = _by_name(ok(people.get("/igor/users", as_user="dave"), 200, ""))
    assert list(users) == ["alice", "bob", "carol", "dave", "igor-admin"]
    assert users["bob"]["email"] == "bob@example.com" and users["bob"]["groups"] == ["team"]
    assert users["carol"]["groups"] is None
    assert users["igor-admin"]["groups"] == ["admins"]
    users = _by_name(ok(people.get("/igor/users", as_user="igor-admin"), 200, ""))
    assert users["alice"]["email"] == "alice@example.com" and "igor-admin" in users


def test_show_users_name_filter(people):
    users = ok(people.get("/igor/users", as_user="alice", params={"name": "bob,carol"}), 200, "")["users"]
    assert [u["name"] for u in users] == ["bob", "carol"]
    users = ok(people.get("/igor/users", as_user="alice", query_string="name=carol&name=BOB"), 200, "")["users"]
    assert [u["name"] for u in users] == ["bob", "carol"]
    users = ok(people.get("/igor/users", as_user="alice", params={"name": "zed"}), 200, "")["users"]
    assert users == []
    users = ok(people.get("/igor/users", as_user="alice", params={"name": "igor-admin"}), 200, "")["users"]
    assert users == []
    people.elevate("dave")
    users = ok(people.get("/igor/users", as_user="dave", params={"name": "igor-admin"}), 200, "")["users"]
    assert [u["name"] for u in users] == ["igor-admin"]


def test_show_users_bad_query(people):
    refused(people, "GET", "/igor/users", 400, "unknown parameter 'x' received: [1]", as_user="alice",
            params={"x": "1"})
    refused(people, "GET", "/igor/users", 400, "invalid parameter 'name': longer than 4096 characters",
            as_user="alice", params={"name": "a" * 5000})


def test_show_users_needs_a_token(people):
    r = people.get("/igor/users")
    assert r.status_code == 401 and r.json["message"] == "user authentication failed - verify token failed - no token"


# -- edit: email / full name ---------------------------------------------------------------------------------------


def test_edit_self_email_and_full_name(people):
    hash_before = user_row(people, "alice")["pass_hash"]
    ok(people.patch("/igor/users/alice", as_user="alice", json={"email": " Alice2@Example.com ", "fullName": "Al Ice"}),
       200, "user 'alice' updated")
    row = user_row(people, "alice")
    assert row["email"] == "alice2@example.com" and row["full_name"] == "Al Ice" and row["pass_hash"] == hash_before
    ok(people.patch("/igor/users/alice", as_user="alice", json={"fullName": ""}), 200, "user 'alice' updated")
    assert user_row(people, "alice")["full_name"] == "" and user_row(people, "alice")["email"] == "alice2@example.com"
    # keeping one's own email is not a conflict
    ok(people.patch("/igor/users/alice", as_user="alice", json={"email": "alice2@example.com"}), 200,
       "user 'alice' updated")


def test_edit_other_user_refused(people):
    refused(people, "PATCH", "/igor/users/alice", 403, "you cannot access the user 'alice'", as_user="bob",
            json={"email": "evil@example.com"})
    refused(people, "PATCH", "/igor/users/alice", 403, "you cannot access the user 'alice'", as_user="bob",
            json={"fullName": "Evil"})
    refused(people, "PATCH", "/igor/users/igor-admin", 403, "you cannot access the user 'igor-admin'",
            as_user="bob", json={"fullName": "Evil"})
    refused(people, "PATCH", "/igor/users/alice", 403, ELEVATE_MSG, as_user="dave", json={"fullName": "Evil"})


def test_edit_unknown_user(people):
    refused(people, "PATCH", "/igor/users/zed", 404, "the user 'zed' does not exist", as_user="bob",
            json={"fullName": "Zed"})
    people.elevate("dave")
    refused(people, "PATCH", "/igor/users/zed", 404, "user 'zed' not found", as_user="dave",
            json={"fullName": "Zed"})
    refused(people, "PATCH", "/igor/users/zed", 404, "user 'zed' not found", as_user="dave", json={"reset": True})


def test_edit_other_user_by_elevated_admin(people):
    people.elevate("dave")
    ok(people.patch("/igor/users/alice", as_user="dave", json={"email": "boss@example.com", "fullName": "A. Boss"}),
       200, "user 'alice' updated")
    row = user_row(people, "alice")
    assert row["email"] == "boss@example.com" and row["full_name"] == "A. Boss"
    ok(people.patch("/igor/users/bob", as_user="igor-admin", json={"fullName": "Bobby"}), 200, "user 'bob' updated")
    assert user_row(people, "bob")["full_name"] == "Bobby"


def test_edit_email_conflict_and_rules(people):
    refused(people, "PATCH", "/igor/users/alice", 409, "email 'bob@example.com' already used by 'bob'",
            as_user="alice", json={"email": "BOB@example.com"})
    before = snapshot(people.services)
    r = people.patch("/igor/users/alice", as_user="alice", json={"email": "not-an-email"})
    assert r.status_code == 400 and r.json["message"].startswith("invalid email address 'not-an-email'")
    r = people.patch("/igor/users/alice", as_user="alice", json={"fullName": "Alice 2"})
    assert r.status_code == 400 and r.json["message"].startswith("invalid full name 'Alice 2'")
    # a valid field next to an invalid one is not applied either
    r = people.patch("/igor/users/alice", as_user="alice", json={"email": "ok@example.com", "fullName": "Alice 2"})
    assert r.status_code == 400
    assert snapshot(people.services) == before


# -- edit: password ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "message"), [
    ("&fhso", "password must have minimum length of 8 characters"),
    ("*fdhs8adGBDiodcbd", "password cannot exceed maximum length of 16 characters"),
    (" pass$ word1", "password contains characters that are not allowed"),
    ("3$pãssword", "password contains characters that are not allowed"),
    ("1password", "new password is missing at least 1 special character"),
    ("pas$word", "new password is missing at least 1 number"),
    ("436^&#0384", "new password is missing at least 1 letter"),
    ("abcdefgh", "new password is missing at least 1 number, at least 1 special character"),
])
def test_password_rules(people, password, message):
    refused(people, "PATCH", "/igor/users/alice", 400, message, as_user="alice",
            json={"oldPassword": DEFAULT_PW, "password": password})
    # the rules are checked before the old password
    refused(people, "PATCH", "/igor/users/alice", 400, message, as_user="alice",
            json={"oldPassword": "wrong-old-1!", "password": password})


@pytest.mark.parametrize("password", ["*fdhs8`adGBD", '*fdhs8adGBD"'])
def test_password_change(people, password):
    old_token = people.login("alice")
    ok(people.patch("/igor/users/alice", as_user="alice", json={"oldPassword": DEFAULT_PW, "password": password}),
       200, "user 'alice' password changed")
    assert not token_works(people, old_token)  # tokens are revoked
    assert login_status(people, "alice", DEFAULT_PW) == (401, "local login failed - incorrect password")
    assert login_status(people, "alice", password)[0] == 200
    # nobody else's password moved
    assert login_status(people, "bob", DEFAULT_PW)[0] == 200


def test_password_change_wrong_old_password(people):
    refused(people, "PATCH", "/igor/users/alice", 403, "old password was incorrect", as_user="alice",
            json={"oldPassword": "Wrong$123", "password": "N3w$pass"})
    assert login_status(people, "alice", DEFAULT_PW)[0] == 200


def test_password_change_of_someone_else(people):
    msg = "must be signed in as original account to choose new password - admins must use reset password for users"
    people.elevate("dave")
    refused(people, "PATCH", "/igor/users/alice", 400, msg, as_user="dave",
            json={"oldPassword": DEFAULT_PW, "password": "N3w$pass"})
    refused(people, "PATCH", "/igor/users/alice", 400, msg, as_user="igor-admin",
            json={"oldPassword": DEFAULT_PW, "password": "N3w$pass"})
    refused(people, "PATCH", "/igor/users/alice", 403, "you cannot access the user 'alice'", as_user="bob",
            json={"oldPassword": DEFAULT_PW, "password": "N3w$pass"})


def test_password_change_shape(people):
    refused(people, "PATCH", "/igor/users/alice", 400, "required parameter 'oldPassword' not found",
            as_user="alice", json={"password": "N3w$pass"})
    refused(people, "PATCH", "/igor/users/alice", 400, "required parameter 'password' not found",
            as_user="alice", json={"oldPassword": DEFAULT_PW})
    refused(people, "PATCH", "/igor/users/alice", 400, "password changes must be done separately from other edits",
            as_user="alice", json={"oldPassword": DEFAULT_PW, "password": "N3w$pass", "email": "x@example.com"})
    refused(people, "PATCH", "/igor/users/alice", 400, "password changes must be done separately from other edits",
            as_user="alice", json={"password": "N3w$pass", "fullName": "Al"})
    refused(people, "PATCH", "/igor/users/alice", 400, "invalid parameter 'password': must be a string, got number",
            as_user="alice", json={"oldPassword": DEFAULT_PW, "password": 12345678})


# -- reset ---------------------------------------------------------------------------------------------------------


def test_reset_by_elevated_admin(people):
    ok(people.patch("/igor/users/bob", as_user="bob", json={"oldPassword": DEFAULT_PW, "password": "B0b$pass"}),
       200, "user 'bob' password changed")
    bob_token = people.login("bob", "B0b$pass")
    people.elevate("dave")
    ok(people.patch("/igor/users/bob", as_user="dave", json={"reset": True}), 200, "user 'bob' password reset")
    assert not token_works(people, bob_token)
    assert login_status(people, "bob", "B0b$pass") == (401, "local login failed - incorrect password")
    assert login_status(people, "bob", DEFAULT_PW)[0] == 200
    row = user_row(people, "bob")
    assert row["email"] == "bob@example.com" and row["groups"] == ["all", "team", "u_bob"]


def test_reset_igor_admin_password(people):
    ok(people.patch("/igor/users/igor-admin", as_user="igor-admin",
                    json={"oldPassword": "igor-admin", "password": "Adm1n$pw"}), 200,
       "user 'igor-admin' password changed")
    people.elevate("dave")
    ok(people.patch("/igor/users/igor-admin", as_user="dave", json={"reset": True}), 200,
       "user 'igor-admin' password reset")
    assert login_status(people, "igor-admin", "igor-admin")[0] == 200


def test_reset_refusals(people):
    refused(people, "PATCH", "/igor/users/bob", 403, "you cannot access the user 'bob'", as_user="alice",
            json={"reset": True})
    refused(people, "PATCH", "/igor/users/alice", 403, "you cannot access the user 'alice'", as_user="alice",
            json={"reset": True})
    refused(people, "PATCH", "/igor/users/bob", 403, ELEVATE_MSG, as_user="dave", json={"reset": True})
    refused(people, "PATCH", "/igor/users/dave", 403, ELEVATE_MSG, as_user="dave", json={"reset": True})
    people.elevate("dave")
    refused(people, "PATCH", "/igor/users/bob", 400, "invalid parameter 'reset': must be boolean=true to have effect",
            as_user="dave", json={"reset": False})
    refused(people, "PATCH", "/igor/users/bob", 400, "invalid parameter 'reset': must be a boolean, got string",
            as_user="dave", json={"reset": "true"})
    for extra in ({"email": "b@example.com"}, {"fullName": "B"}, {"password": "N3w$pass"},
                  {"oldPassword": DEFAULT_PW, "password": "N3w$pass"}):
        refused(people, "PATCH", "/igor/users/bob", 400, "reset password cannot be executed with other user edits",
                as_user="dave", json={"reset": True, **extra})


# -- delete --------------------------------------------------------------------------------------------------------


def test_delete_user(people):
    bob_token = people.login("bob")
    people.elevate("dave")
    ok(people.delete("/igor/users/bob", as_user="dave"), 200, "user 'bob' deleted")
    assert user_row(people, "bob") is None
    snap = snapshot(people.services)
    assert not any(name == "u_bob" for name, _ in snap["groups"])
    assert not any(user == "bob" for _, user in snap["members"] + snap["owners"])
    assert not any(group == "u_bob" or ":bob:" in fact for group, fact in snap["permissions"])
    assert ("team", "alice") in snap["members"]
    assert not token_works(people, bob_token)
    assert login_status(people, "bob", DEFAULT_PW) == (401, "user 'bob' not found")
    users = ok(people.get("/igor/users", as_user="alice"), 200, "")["users"]
    assert [u["name"] for u in users] == ["alice", "carol", "dave"]
    # the name is free again, with a fresh private group
    ok(people.post("/igor/users", as_user="dave", json={"name": "bob", "email": "bob@example.com"}), 201,
       "igor user 'bob' created")
    assert user_row(people, "bob")["groups"] == ["all", "u_bob"]


def test_delete_co_owner(people):
    ok(people.patch("/igor/groups/team", as_user="alice", json={"addOwners": ["carol"]}), 200, "")
    ok(people.delete("/igor/users/carol", as_user="igor-admin"), 200, "user 'carol' deleted")
    with db_session:
        team = people.services.db.Group.get(name="team")
        assert sorted(u.name for u in team.owners) == ["alice"]
        assert sorted(u.name for u in team.members) == ["alice", "bob"]
    assert group_facts(people, "u_alice") == ["groups:team:delete", "groups:team:edit:*",
                                              "users:alice:edit:email,password,fullName"]


def test_delete_refusals_in_order(people):
    people.elevate("dave")
    refused(people, "DELETE", "/igor/users/igor-admin", 403, "user 'igor-admin' deletion not allowed",
            as_user="dave")
    refused(people, "DELETE", "/igor/users/igor-admin", 403, "user 'igor-admin' deletion not allowed",
            as_user="igor-admin")
    refused(people, "DELETE", "/igor/users/dave", 403,
            "user not allowed to delete self - do this as igor-admin or another admin", as_user="dave")
    refused(people, "DELETE", "/igor/users/zed", 404, "user 'zed' not found", as_user="dave")
    refused(people, "DELETE", "/igor/users/alice", 409,
            "cannot delete user - remove or transfer ownership of groups in list first: [team]", as_user="dave")
    ok(people.post("/igor/groups", as_user="alice", json={"name": "alpha"}), 201, "igor group 'alpha' created ")
    ok(people.post("/igor/groups", as_user="alice", json={"name": "shared", "owners": ["bob"]}), 201,
       "igor group 'shared' created ")
    refused(people, "DELETE", "/igor/users/alice", 409,
            "cannot delete user - remove or transfer ownership of groups in list first: [alpha team]", as_user="dave")


def test_delete_needs_an_elevated_admin(people):
    refused(people, "DELETE", "/igor/users/bob", 403, "you cannot access the user 'bob'", as_user="alice")
    refused(people, "DELETE", "/igor/users/alice", 403, "you cannot access the user 'alice'", as_user="alice")
    refused(people, "DELETE", "/igor/users/igor-admin", 403, "you cannot access the user 'igor-admin'",
            as_user="alice")
    refused(people, "DELETE", "/igor/users/zed", 404, "the user 'zed' does not exist", as_user="alice")
    refused(people, "DELETE", "/igor/users/bob", 403, ELEVATE_MSG, as_user="dave")


# -- bad input on every route --------------------------------------------------------------------------------------

ROUTES = [("POST", "/igor/users", "igor-admin"), ("PATCH", "/igor/users/alice", "alice")]
VALID = {"POST": {"name": "erin", "email": "erin@example.com"}, "PATCH": {"fullName": "Al"}}


@pytest.mark.parametrize(("method", "path", "caller"), ROUTES)
def test_bad_bodies(people, method, path, caller):
    valid = VALID[method]
    refused(people, method, path, 400, "unknown parameter 'x' received: 1", as_user=caller, json={**valid, "x": 1})
    refused(people, method, path, 400, "requested operation had no parameters", as_user=caller)
    refused(people, method, path, 400, "requested operation had no parameters", as_user=caller, json={})
    refused(people, method, path, 400, "request body must be a JSON object, got list", as_user=caller,
            json=["name"])
    refused(people, method, path, 400, "request body is not valid JSON", as_user=caller,
            body="{not json", headers={"Content-Type": "application/json"})
    before = snapshot(people.services)
    r = people.call(method, path, caller, body="name=erin", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json["status"] == "fail"
    assert "application/json" in r.json["message"] and "text/plain" in r.json["message"]
    assert snapshot(people.services) == before
    for key in ("email", "fullName"):
        refused(people, method, path, 400, f"invalid parameter '{key}': must be a string, got number",
                as_user=caller, json={**valid, key: 5})
        refused(people, method, path, 400, f"invalid parameter '{key}': must be a string, got boolean",
                as_user=caller, json={**valid, key: True})
        refused(people, method, path, 400, f"invalid parameter '{key}': must be a string, got list",
                as_user=caller, json={**valid, key: ["a"]})
        refused(people, method, path, 400, f"invalid parameter '{key}': must be a string, got null",
                as_user=caller, json={**valid, key: None})
    limits = {"email": 255, "fullName": 64}
    for key, limit in limits.items():
        refused(people, method, path, 400, f"invalid parameter '{key}': longer than {limit} characters",
                as_user=caller, json={**valid, key: "a" * 5000})


def test_create_bad_bodies(people):
    post = ("POST", "/igor/users")
    refused(people, *post, 400, "invalid parameter 'name': must be a string, got number", as_user="igor-admin",
            json={"name": 5, "email": "x@example.com"})
    refused(people, *post, 400, "required parameter 'name' not found", as_user="igor-admin",
            json={"email": "x@example.com"})
    refused(people, *post, 400, "required parameter 'email' not found", as_user="igor-admin",
            json={"name": "erin"})
    refused(people, *post, 400, "invalid parameter 'name': longer than 32 characters", as_user="igor-admin",
            json={"name": "a" * 5000, "email": "x@example.com"})
    refused(people, *post, 400, "unknown parameter 'password' received: x", as_user="igor-admin",
            json={"name": "erin", "email": "x@example.com", "password": "x"})


def test_edit_bad_bodies(people):
    patch = ("PATCH", "/igor/users/alice")
    refused(people, *patch, 400, "unknown parameter 'name' received: bob", as_user="alice", json={"name": "bob"})
    refused(people, *patch, 400, "invalid parameter 'oldPassword': longer than 64 characters", as_user="alice",
            json={"oldPassword": "a" * 5000, "password": "N3w$pass"})
    refused(people, *patch, 400, "invalid parameter 'password': longer than 64 characters", as_user="alice",
            json={"oldPassword": DEFAULT_PW, "password": "a" * 5000})


def test_overlong_names_in_paths_and_queries_name_nothing(people):
    long = "a" * 300
    refused(people, "PATCH", f"/igor/users/{long}", 404, f"the user '{long}' does not exist", as_user="alice",
            json={"fullName": "X"})
    refused(people, "DELETE", f"/igor/users/{long}", 404, f"the user '{long}' does not exist", as_user="alice")
    people.elevate("dave")
    refused(people, "DELETE", f"/igor/users/{long}", 404, f"user '{long}' not found", as_user="dave")
    users = ok(people.get("/igor/users", as_user="alice", params={"name": long}), 200, "")["users"]
    assert users == []
