"""Logging in under ``auth.scheme: ldap|ldaps|ldapi`` through the API, against a real slapd; the password
commands under LDAP."""

from __future__ import annotations

from typing import Any

import pytest
from pony.orm import db_session

from tests.api.conftest import basic
from tests.ldap.conftest import ADMIN_NEW_PW, Slapd

EXTERNAL = ("not allowed - igor authentication is being managed externally: passwords are checked by LDAP "
            "(auth.scheme ldap), so change or reset them there; only igor-admin's password is kept by igor")


def login(api: Any, user: str, password: str):  # noqa: ANN201
    return api.client.simulate_get("/igor/login", headers=basic(user, password))


def with_accounts(api: Any, *names: str) -> Any:
    admin = api.services.auth.principal_for("igor-admin")
    for name in names:
        api.services.users.create(admin, name, f"{name}@example.org", name.title())
    return api


@pytest.mark.parametrize("scheme", ["ldap", "ldaps", "ldapi"])
def test_ldap_user_logs_in_with_the_ldap_password(ldap_api: Any, scheme: str) -> None:
    api = with_accounts(ldap_api(scheme=scheme), "alice")
    r = login(api, "alice", "alicepw")
    assert r.status_code == 200, r.json
    token = r.json["data"]["token"]
    me = api.client.simulate_get("/igor/users", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["data"]["users"][0]["name"] == "alice"
    with db_session:
        assert api.services.db.User.get(name="alice").pass_hash == ""  # nothing local to fall back on


def test_starttls_login(ldap_api: Any) -> None:
    api = with_accounts(ldap_api(useTLS=True), "bob")
    assert login(api, " Bob ", "bobpw").status_code == 200  # trimmed and lower-cased, as in v2


def test_wrong_password_is_refused(ldap_api: Any) -> None:
    api = with_accounts(ldap_api(), "alice")
    r = login(api, "alice", "alicepw-not")
    assert (r.status_code, r.json["message"]) == (401, "ldap login failed - incorrect username or password")
    # the Igor account of a person LDAP does not know cannot log in either
    with_accounts(api, "zed")
    r = login(api, "zed", "anything")
    assert (r.status_code, r.json["message"]) == (401, "ldap login failed - incorrect username or password")


def test_ldap_user_without_an_igor_account_is_refused(ldap_api: Any) -> None:
    """v2 (LdapAuth.authenticate → findUserForAuthN) refuses before asking LDAP; no account is made."""
    api = ldap_api()
    r = login(api, "erin", "erinpw")
    assert (r.status_code, r.json["message"]) == (401, "user 'erin' not found")
    with db_session:
        assert api.services.db.User.get(name="erin") is None


def test_igor_admin_always_logs_in_locally(ldap_api: Any, slapd: Slapd) -> None:
    api = ldap_api()
    assert login(api, "igor-admin", ADMIN_NEW_PW).status_code == 200
    slapd.stop()  # ... even with LDAP down
    assert login(api, "igor-admin", ADMIN_NEW_PW).status_code == 200
    assert login(api, "igor-admin", "wrong").status_code == 401


def test_ldap_down_is_503_and_issues_nothing(ldap_api: Any, slapd: Slapd) -> None:
    api = with_accounts(ldap_api(), "alice")
    slapd.stop()
    r = login(api, "alice", "alicepw")
    assert r.status_code == 503, r.json
    assert r.json["message"].startswith(f"cannot connect to the LDAP server ldap://127.0.0.1:{slapd.port}")
    with db_session:
        assert not api.services.db.Token.select().exists()


def test_ldaps_without_the_ca_is_refused(ldap_api: Any, slapd: Slapd) -> None:
    api = with_accounts(ldap_api(scheme="ldaps", tlsConfig={"cert": str(slapd.certs.other_ca)}), "alice")
    r = login(api, "alice", "alicepw")
    assert r.status_code == 503 and "certificate verify failed" in r.json["message"], r.json


def test_password_commands_are_refused_under_ldap(ldap_api: Any) -> None:
    api = with_accounts(ldap_api(), "alice")
    api.login("alice", "alicepw")
    api.login("igor-admin", ADMIN_NEW_PW)
    r = api.patch("/igor/users/alice", as_user="alice", json={"oldPassword": "alicepw", "password": "N3w-pass!"})
    assert (r.status_code, r.json["message"]) == (403, EXTERNAL)
    r = api.patch("/igor/users/alice", as_user="igor-admin", json={"reset": True})
    assert (r.status_code, r.json["message"]) == (403, EXTERNAL)
    # igor-admin's own password stays igor's to change
    r = api.patch("/igor/users/igor-admin", as_user="igor-admin",
                  json={"oldPassword": ADMIN_NEW_PW, "password": "0ther-Pass!"})
    assert r.status_code == 200, r.json
    assert login(api, "igor-admin", "0ther-Pass!").status_code == 200
    # email and full name are still the user's to edit
    r = api.patch("/igor/users/alice", as_user="alice", json={"email": "alice@elsewhere.org"})
    assert r.status_code == 200, r.json


def test_user_create_under_ldap_mails_no_password(ldap_api: Any) -> None:
    api = with_accounts(ldap_api(), "carol")
    with db_session:
        (mail,) = [e.payload for e in api.services.db.Event.select() if e.key == "user-created"]
    assert mail["to"] == ["carol@example.org"] and mail["fields"] == {"user": "carol", "password": None}
