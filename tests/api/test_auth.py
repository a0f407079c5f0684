"""Login, tokens, logout, elevation and auth-reset over the API."""

from __future__ import annotations

from datetime import timedelta

from pony.orm import db_session, select

from tests.api.conftest import basic


def test_login_returns_a_token_and_cookie_and_stores_only_its_hash(api):
    r = api.client.simulate_get("/igor/login", headers=basic("igor-admin", "igor-admin"))
    assert r.status_code == 200
    assert r.json["status"] == "success" and set(r.json) == {"status", "message", "serverTime", "data"}
    token = r.json["data"]["token"]
    assert r.cookies["auth_token"].value == token
    with db_session:
        digests = select(t.digest for t in api.services.db.Token)[:]
    assert token not in digests and len(digests) == 1


def test_post_login_works_too(api):
    r = api.client.simulate_post("/igor/login", headers=basic("igor-admin", "igor-admin"))
    assert r.status_code == 200 and r.json["data"]["token"]


def test_login_refusals(api):
    cases = [
        ({}, 400, "user authentication   failed - problem reading basic auth header"),
        ({"Authorization": "Bearer abc"}, 400, "user authentication   failed - problem reading basic auth header"),
        ({"Authorization": "Basic !!!"}, 400, "user authentication failed - problem reading basic auth header"),
        (basic(" ", "x"), 400, "user authentication failed - username or password are blank"),
        (basic("igor-admin", "wrong"), 401, "local login failed - incorrect password"),
        (basic("Nobody", "igor-admin"), 401, "user 'Nobody' not found"),
    ]
    for headers, status, message in cases:
        r = api.client.simulate_get("/igor/login", headers=headers)
        assert (r.status_code, r.json["message"]) == (status, message), headers
        assert r.json["status"] == "fail"
    with db_session:
        assert api.services.db.Token.select().count() == 0


def test_username_is_trimmed_and_lowercased(api):
    r = api.client.simulate_get("/igor/login", headers=basic("  IGOR-Admin ", "igor-admin"))
    assert r.status_code == 200


def test_protected_routes_need_a_token(api):
    for path in ("/igor/users", "/igor/groups", "/igor/hosts", "/igor/config", "/igor/clusters"):
        r = api.client.simulate_get(path)
        assert r.status_code == 401, path
        assert r.json["status"] == "fail"


def test_cli_user_agent_is_redirected_to_login(api):
    r = api.client.simulate_get("/igor/hosts", headers={"User-Agent": "IgorCLI/2.2.1"})
    assert r.status_code == 307 and r.headers["location"].endswith("/igor/login")


def test_token_cookie_is_accepted(api):
    token = api.login("igor-admin")
    r = api.client.simulate_get("/igor/users", cookies={"auth_token": token})
    assert r.status_code == 200


def test_token_expires_after_token_duration(people):
    api = people
    token = api.login("alice")
    real = api.services.ctx.clock
    later = real() + timedelta(hours=api.services.config.auth.token_duration, minutes=1)
    api.services.ctx.clock = lambda: later
    try:
        r = api.client.simulate_get("/igor/users", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
    finally:
        api.services.ctx.clock = real


def test_logout_revokes_the_token(people):
    api = people
    token = api.login("alice")
    r = api.client.simulate_delete("/igor/login", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json["message"] == "auth session closed"
    r = api.client.simulate_get("/igor/users", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    r = api.client.simulate_delete("/igor/login", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_password_change_revokes_every_token_of_that_user(people):
    api = people
    first = api.login("alice")
    second = api.login("alice")
    other = api.login("bob")
    r = api.patch("/igor/users/alice", headers={"Authorization": f"Bearer {first}"},
                  json={"oldPassword": "changeMe$1", "password": "n3w-Pass!"})
    assert r.status_code == 200, r.json
    for token in (first, second):
        assert api.client.simulate_get("/igor/users", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert api.client.simulate_get("/igor/users", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    assert api.client.simulate_get("/igor/login", headers=basic("alice", "changeMe$1")).status_code == 401
    assert api.client.simulate_get("/igor/login", headers=basic("alice", "n3w-Pass!")).status_code == 200


def test_auth_reset_revokes_every_token(people):
    api = people
    alice = api.login("alice")
    r = api.put("/igor/authreset", as_user="igor-admin")
    assert r.status_code == 200 and r.json["data"]["result"] == "token secret refreshed successfully"
    assert api.client.simulate_get("/igor/users", headers={"Authorization": f"Bearer {alice}"}).status_code == 401
    assert api.get("/igor/users", headers={"Authorization": f"Bearer {api.tokens['igor-admin']}"}).status_code == 401


def test_auth_reset_is_admin_only(people):
    api = people
    r = api.put("/igor/authreset", as_user="alice")
    assert r.status_code == 403
    r = api.put("/igor/authreset", as_user="dave")
    assert r.status_code == 403 and r.json["message"] == "elevated access is required before running this command"
    with db_session:
        assert api.services.db.Token.select().count() == 2


def test_elevate_cycle(people):
    api = people
    r = api.get("/igor/elevate", as_user="dave")
    assert r.json["message"] == "elevate for user 'dave' has expired"
    assert r.json["data"] == {"elevatedUntil": 0}
    r = api.patch("/igor/elevate", as_user="dave")
    minutes = api.services.config.auth.elevate_timeout
    assert r.status_code == 200 and r.json["message"] == f"elevate for user 'dave' is active for next {minutes} minutes"
    r = api.get("/igor/elevate", as_user="dave")
    assert r.json["message"].startswith("elevate for user 'dave' has ") and "remaining" in r.json["message"]
    left = r.json["data"]["elevatedUntil"] - api.services.ctx.now().timestamp()
    assert minutes * 60 - 5 <= left <= minutes * 60
    assert api.put("/igor/authreset", as_user="dave").status_code == 200
    api.tokens.clear()
    api.elevate("dave")
    r = api.delete("/igor/elevate", as_user="dave")
    assert r.json["message"] == "elevate for user 'dave' is canceled"
    assert api.get("/igor/config", as_user="dave").status_code == 403


def test_elevation_times_out(people):
    api = people
    api.elevate("dave")
    real = api.services.ctx.clock
    later = real() + timedelta(minutes=api.services.config.auth.elevate_timeout, seconds=1)
    api.services.ctx.clock = lambda: later
    try:
        assert api.get("/igor/config", as_user="dave").status_code == 403
        assert api.get("/igor/elevate", as_user="dave").json["message"] == "elevate for user 'dave' has expired"
    finally:
        api.services.ctx.clock = real


def test_login_cancels_elevation(people):
    api = people
    api.elevate("dave")
    assert api.get("/igor/config", as_user="dave").status_code == 200
    api.login("dave")
    assert api.get("/igor/config", as_user="dave").status_code == 403


def test_elevate_refusals(people):
    api = people
    r = api.patch("/igor/elevate", as_user="alice")
    assert r.status_code == 403 and r.json["message"] == "user 'alice' is not an admin"
    r = api.patch("/igor/elevate", as_user="igor-admin")
    assert r.status_code == 202 and r.json["message"] == "igor-admin does not require the elevate privilege"
    assert api.get("/igor/elevate", as_user="igor-admin").status_code == 200
