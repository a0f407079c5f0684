"""LDAP user and group sync against a real slapd (``igor.services.ldapsync``), and its schedule in the lifecycle
worker's plan."""

from __future__ import annotations

from typing import Any

import pytest
from pony.orm import db_session

from igor.rules import hash_password
from igor.services.ldapsync import LdapSync, SyncReport
from igor.services.users import new_account
from tests.api.conftest import snapshot
from tests.api.test_distros import image
from tests.api.test_reservations import create
from tests.ldap.conftest import ADMIN_NEW_PW, SYNC, Slapd, group_dn, user_dn

LDAP_EDIT = "cannot change details of LDAP-synced group '{}' within igor"


def run(api: Any) -> SyncReport:
    sync = api.services.ldap_sync
    assert isinstance(sync, LdapSync)
    return sync.run()


def users(api: Any) -> dict[str, tuple[str | None, str, bool]]:
    """name → (email, full name, ldap_managed)."""
    with db_session:
        return {u.name: (u.email, u.full_name, u.ldap_managed) for u in api.services.db.User.select()}


def members(api: Any, group: str) -> tuple[set[str], set[str]]:
    with db_session:
        g = api.services.db.Group.get(name=group)
        return {u.name for u in g.members}, {u.name for u in g.owners}


def facts(api: Any, group: str) -> set[str]:
    with db_session:
        return {p.fact for p in api.services.db.Permission.select() if p.group.name == group}


def mails(api: Any, template: str) -> list[dict[str, Any]]:
    with db_session:
        return [dict(e.payload) for e in api.services.db.Event.select() if e.kind == "email" and e.key == template]


def local_account(api: Any, name: str) -> None:
    """An account igor made itself (``user create`` before the sync was on, or imported): never LDAP-managed."""
    with db_session:
        new_account(api.services.ctx, name, f"{name}@local.example", name.title())


def log_in(api: Any) -> Any:
    """Log everyone who has an account in (LDAP passwords; igor-admin's local one), for ``as_user`` calls."""
    for name in users(api):
        api.login(name, ADMIN_NEW_PW if name == "igor-admin" else f"{name}pw")
    return api


def set_admin_email(api: Any, email: str | None) -> None:
    with db_session:
        api.services.db.User.get(name="igor-admin").email = email


# -- user sync -------------------------------------------------------------------------------------------------


def test_user_sync_creates_accounts_for_the_synced_groups(ldap_api: Any) -> None:
    api = ldap_api(sync=SYNC)
    local_account(api, "carol")  # in hpcusers, but igor's own account: left as it is
    report = run(api)
    assert report == SyncReport(created=("alice", "bob", "dave"))
    found = users(api)
    assert found["alice"] == ("alice@example.org", "Alice Adams", True)
    assert found["dave"] == ("dave@example.org", "Dave Davis", True)
    assert found["carol"] == ("carol@local.example", "Carol", False)
    assert "erin" not in found  # only in 'testers', which is not a synced group
    with db_session:
        alice = api.services.db.User.get(name="alice")
        assert alice.pass_hash == "" and {g.name for g in alice.groups} == {"all", "u_alice"}
    assert facts(api, "u_alice") == {"users:alice:edit:email,password,fullName"}
    assert sorted(m["to"][0] for m in mails(api, "user-created")) == [
        "alice@example.org", "bob@example.org", "carol@local.example", "dave@example.org"]
    assert all(m["fields"]["password"] is None for m in mails(api, "user-created"))
    # the account works with the LDAP password
    api.login("alice", "alicepw")
    # a second run changes nothing
    before = snapshot(api.services)
    assert run(api) == SyncReport()
    assert snapshot(api.services) == before


def test_email_from_the_default_suffix_when_ldap_has_none(ldap_api: Any, slapd: Slapd) -> None:
    slapd.add_user("frank", "Frank Fox", None, "frankpw")
    slapd.modify(group_dn("gpu"), memberUid=("add", ["frank"]))
    api = ldap_api(sync=SYNC)
    assert "frank" in run(api).created
    assert users(api)["frank"] == ("frank@example.org", "Frank Fox", True)


def test_member_dns_are_user_names(ldap_api: Any) -> None:
    """groupOfNames lists members as DNs: their first RDN is the user name."""
    api = ldap_api(sync={**SYNC, "groupFilters": ["cn=testers"], "userListAttribute": "member"})
    assert run(api).created == ("alice", "erin")


def test_removal_only_of_ldap_created_accounts_in_no_group(ldap_api: Any, slapd: Slapd) -> None:
    api = ldap_api(sync=SYNC)
    local_account(api, "zed")  # in no LDAP group at all, never LDAP-managed
    local_account(api, "carol")
    assert run(api).created == ("alice", "bob", "dave")
    # bob leaves hpcusers but is still in gpu: kept; carol leaves hpcusers: never LDAP-managed, kept
    slapd.modify(group_dn("hpcusers"), memberUid=("delete", ["bob", "carol"]))
    assert run(api) == SyncReport()
    # now bob leaves every synced group: removed; so does dave, but dave stays in the owner list only
    slapd.modify(group_dn("gpu"), memberUid=("delete", ["bob"]))
    report = run(api)
    assert report.removed == ("bob",) and report.created == ()
    assert set(users(api)) == {"igor-admin", "alice", "carol", "dave", "zed"}
    with db_session:
        assert api.services.db.Group.get(name="u_bob") is None


def test_removed_users_resources_go_to_igor_admin_with_a_review_mail(ldap_api: Any, slapd: Slapd) -> None:
    api = ldap_api(sync=SYNC)
    set_admin_email(api, "root@example.org")
    run(api)
    log_in(api)
    image(api, "ki0000beef")
    r = api.post("/igor/distros", as_user="igor-admin", json={"name": "bobos", "imageRef": "ki0000beef"})
    assert r.status_code == 201, r.json
    r = api.patch("/igor/distros/bobos", as_user="igor-admin", json={"owner": "bob"})
    assert r.status_code == 200, r.json
    r = api.post("/igor/groups", as_user="bob", json={"name": "bobteam", "members": ["alice"]})
    assert r.status_code == 201, r.json
    r = api.post("/igor/groups", as_user="bob", json={"name": "pair", "owners": ["alice"]})
    assert r.status_code == 201, r.json
    res = create(api, "bob", "bobres", nodeCount=2, distro="bobos")
    with db_session:
        profile = api.services.db.Reservation.get(name="bobres").profile.name

    slapd.modify(group_dn("hpcusers"), memberUid=("delete", ["bob"]))
    slapd.modify(group_dn("gpu"), memberUid=("delete", ["bob"]))
    assert run(api).removed == ("bob",)

    with db_session:
        db = api.services.db
        row = db.Reservation.get(name="bobres")
        assert (row.owner.name, row.group.name, row.profile.name, row.profile.owner.name) == \
            ("igor-admin", "u_igor-admin", profile, "igor-admin")
        assert sorted(h.name for h in row.hosts) == sorted(res["hosts"])
        distro = db.Distro.get(name="bobos")
        assert distro.owner.name == "igor-admin" and {g.name for g in distro.groups} == {"u_igor-admin"}
        assert [h.status for h in db.HistoryRecord.select(lambda h: h.name == "bobres")][-1] == "updated:owner"
        assert not db.Profile.select(lambda p: p.owner.name == "bob").exists()
    assert members(api, "bobteam") == ({"alice"}, {"igor-admin"})  # solely bob's: igor-admin's now
    assert members(api, "pair") == ({"alice"}, {"alice"})  # alice still owns it: nothing to review
    admin_facts = facts(api, "u_igor-admin")
    assert {"reservations:bobres:edit:*", "reservations:bobres:delete", "groups:bobteam:edit:*",
            "distros:bobos:edit:*"} <= admin_facts
    with db_session:  # nothing of bob's is left: no grant to him, no membership, no token
        db = api.services.db
        assert not db.Permission.select(lambda p: p.fact.startswith("users:bob:")).exists()
        assert not db.Token.select(lambda t: t.user.name == "bob").exists()
    (mail,) = mails(api, "user-removal-review")
    assert mail["to"] == ["root@example.org"]
    assert mail["fields"] == {"user": "bob", "reservations": ["bobres"], "groups": ["bobteam"],
                              "distros": ["bobos"]}
    # igor-admin can act on what it was given
    r = api.delete("/igor/reservations/bobres", as_user="igor-admin")
    assert r.status_code == 200, r.json


def test_no_review_mail_without_an_admin_email_or_without_resources(ldap_api: Any, slapd: Slapd) -> None:
    api = ldap_api(sync=SYNC)
    run(api)
    log_in(api)
    create(api, "bob", "bobres", nodeCount=1)
    slapd.modify(group_dn("hpcusers"), memberUid=("delete", ["bob", "alice"]))
    slapd.modify(group_dn("gpu"), memberUid=("delete", ["bob"]))
    assert run(api).removed == ("alice", "bob")  # igor-admin has no email address: no mail
    assert mails(api, "user-removal-review") == []
    with db_session:
        assert api.services.db.Reservation.get(name="bobres").owner.name == "igor-admin"
    set_admin_email(api, "root@example.org")
    slapd.modify(group_dn("gpu"), memberUid=("replace", ["carol"]))
    report = run(api)
    assert report.removed == ("dave",) and report.created == ()
    assert mails(api, "user-removal-review") == []  # dave owned nothing


def test_nobody_is_removed_when_a_group_filter_finds_nothing(ldap_api: Any, slapd: Slapd) -> None:
    api = ldap_api(sync=SYNC)
    assert run(api).created == ("alice", "bob", "carol", "dave")
    slapd.modify(group_dn("gpu"), memberUid=("delete", []))  # emptied (by mistake, or mid-migration)
    before = snapshot(api.services)
    report = run(api)
    assert report.removed == () and report.kept == ("dave",)
    assert "group filter (cn=gpu) found no group with members" in report.problems
    assert snapshot(api.services) == before


def test_nobody_is_removed_when_a_group_filter_finds_no_group(ldap_api: Any) -> None:
    """A renamed group: its filter finds nothing at all."""
    api = ldap_api(sync={**SYNC, "groupFilters": ["cn=hpcusers", "cn=renamed"]})
    with db_session:
        new_account(api.services.ctx, "dave", "dave@example.org", "Dave", ldap_managed=True)
    report = run(api)
    assert report.kept == ("dave",) and report.created == ("alice", "bob", "carol")
    assert "dave" in users(api)


def test_sync_with_ldap_down_changes_nothing(ldap_api: Any, slapd: Slapd) -> None:
    api = ldap_api(sync=SYNC)
    run(api)
    log_in(api)
    r = api.post("/igor/groups", as_user="alice", json={"name": "hpcusers", "isLDAP": True})
    assert r.status_code == 201, r.json
    slapd.stop()
    before = snapshot(api.services)
    report = run(api)
    assert report.skipped.startswith(f"cannot connect to the LDAP server ldap://127.0.0.1:{slapd.port}")
    assert snapshot(api.services) == before
    # and through the worker's plan: logged, nothing raised, nothing changed
    api.services.lifecycle.plan()
    assert snapshot(api.services) == before


@pytest.mark.parametrize("setup, why", [
    ("default-admin-password", "igor-admin's password is still the default one"),
    ("no-cluster", "no cluster is configured yet"),
])
def test_precheck_failures_skip_the_run(ldap_api: Any, setup: str, why: str) -> None:
    api = ldap_api(sync=SYNC)
    with db_session:
        db = api.services.db
        if setup == "default-admin-password":
            db.User.get(name="igor-admin").pass_hash = hash_password("igor-admin")
        else:
            for host in db.Host.select():
                host.delete()
            for cluster in db.Cluster.select():
                cluster.delete()
    report = run(api)
    assert why in report.skipped and report.created == ()
    assert set(users(api)) == {"igor-admin"}


# -- group sync ------------------------------------------------------------------------------------------------


def test_ldap_synced_groups_follow_ldap(ldap_api: Any, slapd: Slapd) -> None:
    api = ldap_api(sync=SYNC)
    run(api)
    log_in(api)
    # alice owns hpcusers in LDAP: she may create its synced group; bob (not an owner of gpu) may not; admins may
    r = api.post("/igor/groups", as_user="alice", json={"name": "hpcusers", "isLDAP": True})
    assert r.status_code == 201, r.json
    group = r.json["data"]["group"][0]
    assert (group["owners"], group["members"], group["isLDAP"]) == (["alice"], ["alice", "bob", "carol"], True)
    r = api.post("/igor/groups", as_user="bob", json={"name": "gpu", "isLDAP": True})
    assert (r.status_code, r.json["message"]) == (403, "only an owner or delegate of the LDAP group 'gpu', or an "
                                                       "elevated admin, may create its synced igor group")
    r = api.post("/igor/groups", as_user="igor-admin", json={"name": "gpu", "isLDAP": True})
    assert r.status_code == 201 and r.json["data"]["group"][0]["owners"] == ["dave"], r.json
    assert facts(api, "u_alice") >= {"groups:hpcusers:delete"}
    assert "groups:hpcusers:edit:*" not in facts(api, "u_alice")  # read-only in igor
    # read-only: no edit, not even by an admin
    for change in ({"add": ["dave"]}, {"description": "x"}, {"name": "hpc"}):
        r = api.patch("/igor/groups/hpcusers", as_user="igor-admin", json=change)
        assert (r.status_code, r.json["message"]) == (403, LDAP_EDIT.format("hpcusers")), r.json

    # LDAP changes: dave joins hpcusers, erin too (a new account), bob becomes its owner (a member as owner)
    slapd.modify(group_dn("hpcusers"), memberUid=("replace", ["alice", "carol", "dave", "erin"]),
                 owner=("replace", [user_dn("bob")]))
    # gpu's only owner becomes someone without an igor account: igor-admin takes over
    slapd.modify(group_dn("gpu"), owner=("replace", [user_dn("ghost")]))
    report = run(api)
    assert report.created == ("erin",) and report.groups == ("gpu", "hpcusers")
    assert members(api, "hpcusers") == ({"alice", "bob", "carol", "dave", "erin"}, {"bob"})
    assert members(api, "gpu") == ({"bob", "dave"}, {"igor-admin"})
    assert "groups:hpcusers:delete" in facts(api, "u_bob") and "groups:hpcusers:delete" not in facts(api, "u_alice")
    # owners and admins can delete a synced group
    assert api.delete("/igor/groups/hpcusers", as_user="bob").status_code == 200


def test_synced_group_missing_or_empty_in_ldap_is_left_alone(ldap_api: Any, slapd: Slapd) -> None:
    api = ldap_api(sync=SYNC)
    run(api)
    log_in(api)
    assert api.post("/igor/groups", as_user="dave", json={"name": "gpu", "isLDAP": True}).status_code == 201
    before = members(api, "gpu")
    slapd.modify(group_dn("gpu"), memberUid=("delete", []), owner=("delete", []))
    report = run(api)
    assert report.groups == () and members(api, "gpu") == before
    assert any("synced group 'gpu' left unchanged" in p for p in report.problems)


def test_group_create_ldap_refusals(ldap_api: Any) -> None:
    api = ldap_api(sync=SYNC)
    run(api)
    log_in(api)
    cases = [
        ({"name": "nosuch", "isLDAP": True}, 404,
         "LDAP has no group 'nosuch' (searched (cn=nosuch) under auth.ldap.baseDN)"),
        ({"name": "empty", "isLDAP": True}, 400, "the LDAP group 'empty' has no members"),
        ({"name": "gpu", "isLDAP": True, "members": ["bob"]}, 400,
         "an LDAP-synced group takes its owners and members from LDAP: give neither"),
    ]
    for body, status, message in cases:
        before = snapshot(api.services)
        r = api.post("/igor/groups", as_user="dave", json=body)
        assert (r.status_code, r.json["message"]) == (status, message), r.json
        assert snapshot(api.services) == before
    assert api.post("/igor/groups", as_user="dave", json={"name": "gpu", "isLDAP": True}).status_code == 201
    r = api.post("/igor/groups", as_user="dave", json={"name": "gpu", "isLDAP": True})
    assert (r.status_code, r.json["message"]) == (409, "group 'gpu' already exists")


def test_group_create_ldap_needs_group_sync(ldap_api: Any) -> None:
    api = ldap_api(sync={**SYNC, "enableGroupSync": False})
    run(api)
    log_in(api)
    r = api.post("/igor/groups", as_user="alice", json={"name": "hpcusers", "isLDAP": True})
    assert r.status_code == 400 and "auth.ldap.sync.enableGroupSync" in r.json["message"]


# -- the schedule ----------------------------------------------------------------------------------------------


def test_lifecycle_plan_syncs_at_start_then_every_sync_frequency(ldap_api: Any, slapd: Slapd) -> None:
    api = ldap_api(sync={**SYNC, "syncFrequency": 30})
    lifecycle, clock = api.services.lifecycle, api.services.ctx.clock
    lifecycle.plan()  # the first tick: start-up sync
    assert {"alice", "bob", "dave"} <= set(users(api))
    slapd.modify(group_dn("hpcusers"), memberUid=("add", ["erin"]))
    clock.move(29)
    lifecycle.plan()
    assert "erin" not in users(api)
    clock.move(1)
    lifecycle.plan()
    assert "erin" in users(api)


def test_lifecycle_plan_without_sync_enabled_never_asks_ldap(ldap_api: Any) -> None:
    api = ldap_api(sync={**SYNC, "enableUserSync": False, "enableGroupSync": False})
    assert api.services.ldap_sync is not None and not api.services.ldap_sync.enabled
    api.services.lifecycle.plan()
    assert set(users(api)) == {"igor-admin"}
