"""The real ``igor`` executable, account and admin commands, against a live ``igor-server --demo`` (one per module):
password change, auth-reset, elevate, users, groups, host policies, cluster/motd, hosts, settings and last.

The server is shared by the module's tests, so each test makes its own users, groups and policies (unique names)
and touches hosts no other test here uses; hosts, policies and the motd are put back even when a test fails.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.live import ADMIN_PW, ALICE_PW, Igor

DEFAULT_PW = ALICE_PW  # the demo's auth.defaultUserPassword: what new and reset accounts get
NEW_PW = "n3w-Pass#1"


def unique(prefix: str) -> str:
    """A fresh legal user/group/policy/reservation name (lower case, 3-24 characters)."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def refused(done, *, code: int = 1) -> str:  # noqa: ANN001 - a CompletedProcess
    """The message of a refused command (``igor: ...`` on stderr, nothing on stdout, no traceback)."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.startswith("igor: ") and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""
    return done.stderr.strip()


def ok(done) -> str:  # noqa: ANN001
    """The stdout of a command that succeeded."""
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout.strip()


@pytest.fixture
def admin(server: str, tmp_path: Path) -> Igor:
    """igor-admin (always elevated), logged in with its own client home."""
    runner = Igor(server, tmp_path / "admin")
    runner.login("igor-admin", ADMIN_PW)
    return runner


@pytest.fixture
def alice(igor: Igor) -> Igor:
    igor.login()
    return igor


@pytest.fixture
def bob(server: str, tmp_path: Path) -> Igor:
    runner = Igor(server, tmp_path / "bob")
    runner.login("bob", ALICE_PW)
    return runner


def new_user(admin: Igor, server: str, home: Path, *, login: bool = True) -> tuple[str, Igor]:
    """A fresh account created by igor-admin and a client for it (logged in with the default password)."""
    name = unique("u")
    assert ok(admin("user", "create", name, f"{name}@example.org")) == f"igor: igor user '{name}' created"
    runner = Igor(server, home / name)
    if login:
        runner.login(name, DEFAULT_PW)
    return name, runner


def change_password(runner: Igor, old: str, new: str, again: str | None = None) -> tuple[int, str]:
    """``igor user edit --password``, answering its three prompts; returns (exit status, last line).

    The command only prompts (getpass, no ``--password-stdin``); without a controlling terminal getpass warns
    that it cannot hide the input and reads standard input, so the prompts and warnings precede the result.
    """
    done = runner("user", "edit", "--password", stdin=f"{old}\n{new}\n{again or new}\n")
    assert "Traceback" not in done.stderr and "current password: " in done.stderr, done.stderr
    out = done.stdout.strip() if done.returncode == 0 else done.stderr.strip().splitlines()[-1]
    assert out.startswith("igor: ") and (done.returncode == 0 or done.stdout == ""), (done.stdout, done.stderr)
    return done.returncode, out


def login(runner: Igor, user: str, password: str):  # noqa: ANN201
    return runner("login", "-u", user, "--password-stdin", stdin=password + "\n")


# --- password, auth-reset, elevate -------------------------------------------------------------------------------


def test_user_changes_own_password(admin: Igor, server: str, tmp_path: Path) -> None:
    name, user = new_user(admin, server, tmp_path)
    other = Igor(server, tmp_path / "other-session")
    other.login(name, DEFAULT_PW)

    assert change_password(user, DEFAULT_PW, NEW_PW, again="n3w-Pass#2") == \
        (2, "igor: the new passwords do not match")
    assert change_password(user, "not-it-1!", NEW_PW) == (1, "igor: old password was incorrect")
    code, weak = change_password(user, DEFAULT_PW, "short1!")
    assert code == 1 and "minimum length of 8 characters" in weak
    assert ok(user("res", "show"))  # refusals leave the session alone

    assert change_password(user, DEFAULT_PW, NEW_PW) == (0, f"igor: user '{name}' password changed")
    assert not (user.home / "auth_token").exists()  # a changed password ends the session (Igor v2)
    assert "igor login" in refused(user("res", "show"))
    assert "igor login" in refused(other("res", "show"))  # the server revoked every token of the user

    assert refused(login(user, name, DEFAULT_PW)) == "igor: local login failed - incorrect password"
    assert ok(login(user, name, NEW_PW)) == f"igor: login successful for user '{name}'"
    assert [u["name"] for u in user.json("user", "show")["users"]] == [name]


def test_auth_reset_revokes_every_token(admin: Igor, alice: Igor, bob: Igor) -> None:
    assert refused(alice("auth-reset")) == "igor: access denied"
    assert ok(alice("res", "show"))  # a refused reset revokes nothing

    assert ok(admin("auth-reset")) == "igor: success"  # v2: empty message; the result is in data
    for runner in (alice, bob, admin):  # everyone's token, the caller's too
        assert refused(runner("res", "show")) == \
            "igor: authentication required (token missing or expired) - log in with 'igor login'"
    alice.login()
    assert alice.json("res", "show") == {"reservations": []}

    admin.login("igor-admin", ADMIN_PW)
    assert admin.json("auth-reset") == {"result": "token secret refreshed successfully"}
    assert "igor login" in refused(alice("res", "show"))


def test_elevate_as_igor_admin_is_not_needed(admin: Igor) -> None:
    note = "igor: igor-admin does not require the elevate privilege"
    for args in (["elevate"], ["elevate", "-s"], ["elevate", "-c"]):
        assert ok(admin(*args)) == note
    assert admin.json("elevate", "-s") == {"elevatedUntil": 0}
    assert ok(admin("user", "show", "-a"))  # and it is admin all along


def test_elevate_status_cancel_as_admins_member(admin: Igor, server: str, tmp_path: Path) -> None:
    name, member = new_user(admin, server, tmp_path, login=False)
    assert ok(admin("group", "edit", "admins", "-a", name)) == "igor: success"
    member.login(name, DEFAULT_PW)
    timeout = admin.json("settings", "-a")["igor"]["config"]["auth"]["elevateTimeout"]
    target = unique("t")

    assert refused(member("user", "create", target, f"{target}@example.org")) == \
        "igor: elevated access is required before running this command"
    assert ok(member("elevate", "-s")) == f"igor: elevate for user '{name}' has expired"
    assert member.json("elevate", "-s") == {"elevatedUntil": 0}

    assert ok(member("elevate")) == f"igor: elevate for user '{name}' is active for next {timeout} minutes"
    until = member.json("elevate", "-s")["elevatedUntil"]
    assert timeout * 60 - 30 <= until - time.time() <= timeout * 60 + 5
    assert ok(member("elevate", "-s")).startswith(f"igor: elevate for user '{name}' has ")
    assert ok(member("user", "create", target, f"{target}@example.org")) == f"igor: igor user '{target}' created"

    assert ok(member("elevate", "-c")) == f"igor: elevate for user '{name}' is canceled"
    assert ok(member("elevate", "-s")) == f"igor: elevate for user '{name}' has expired"
    assert "elevated access is required" in refused(member("user", "del", target))
    assert [u["name"] for u in admin.json("user", "show", "-n", target)["users"]] == [target]

    assert ok(member("elevate")) == f"igor: elevate for user '{name}' is active for next {timeout} minutes"
    member.login(name, DEFAULT_PW)  # a login cancels the elevation (Igor v2)
    assert member.json("elevate", "-s") == {"elevatedUntil": 0}
    assert "not allowed with argument" in refused(member("elevate", "-s", "-c"), code=2)


@pytest.mark.parametrize("flags", [[], ["-s"], ["-c"]])
def test_elevate_refused_to_non_admins(alice: Igor, flags: list[str]) -> None:
    assert refused(alice("elevate", *flags)) == "igor: user 'alice' is not an admin"
    assert refused(alice("elevate", *flags, "--json")) == "igor: user 'alice' is not an admin"


# --- users -------------------------------------------------------------------------------------------------------


def test_user_create_show_reset_delete(admin: Igor, alice: Igor, server: str, tmp_path: Path) -> None:
    name = unique("u")
    created = admin.json("user", "create", name, f"{name}@example.org", "-f", "Test Person")["user"]
    assert [(u["name"], u["email"], u["fullName"]) for u in created] == [(name, f"{name}@example.org",
                                                                           "Test Person")]
    assert refused(admin("user", "create", name, f"{name}2@example.org")) == f"igor: user '{name}' already exists"

    mine = admin.json("user", "show", "-n", name)["users"]
    assert [(u["name"], u["email"], u["fullName"]) for u in mine] == [(name, f"{name}@example.org", "Test Person")]
    theirs = alice.json("user", "show", "-n", name)["users"]
    assert [(u["name"], u["email"], u["groups"]) for u in theirs] == [(name, "", None)]  # hidden from others
    listed = [u["name"] for u in alice.json("user", "show", "-a")["users"]]
    assert name in listed and "alice" in listed and "igor-admin" not in listed
    assert [u["name"] for u in alice.json("user", "show")["users"]] == ["alice"]  # default: yourself
    table = ok(admin("user", "show", "-n", name))
    assert "FULL NAME" in table and "Test Person" in table and f"{name}@example.org" in table

    user = Igor(server, tmp_path / name)
    user.login(name, DEFAULT_PW)  # a new account gets the default password
    assert ok(user("user", "edit", "-e", f"new.{name}@example.org", "-f", "Other Person")) == \
        f"igor: user '{name}' updated"
    assert [(u["email"], u["fullName"]) for u in admin.json("user", "show", "-n", name)["users"]] == \
        [(f"new.{name}@example.org", "Other Person")]
    assert change_password(user, DEFAULT_PW, NEW_PW) == (0, f"igor: user '{name}' password changed")
    user.login(name, NEW_PW)

    third = unique("u")
    assert refused(alice("user", "create", third, f"{third}@example.org")) == "igor: access denied"
    assert admin.json("user", "show", "-n", third)["users"] == []
    assert refused(alice("user", "reset", name)).startswith("igor: ")
    assert ok(login(Igor(server, tmp_path / "check1"), name, NEW_PW))  # alice's reset did nothing
    assert refused(alice("user", "del", name)).startswith("igor: ")
    assert [u["name"] for u in admin.json("user", "show", "-n", name)["users"]] == [name]

    assert ok(admin("user", "reset", name)) == f"igor: user '{name}' password reset"
    assert "igor login" in refused(user("res", "show"))  # the reset revoked the user's tokens
    assert refused(login(user, name, NEW_PW)) == "igor: local login failed - incorrect password"
    user.login(name, DEFAULT_PW)

    assert refused(admin("user", "del", "igor-admin")) == "igor: user 'igor-admin' deletion not allowed"
    assert ok(admin("user", "del", name)) == f"igor: user '{name}' deleted"
    assert admin.json("user", "show", "-n", name)["users"] == []
    assert refused(login(user, name, DEFAULT_PW)) == f"igor: user '{name}' not found"
    assert refused(admin("user", "del", name)).startswith("igor: ")


# --- groups ------------------------------------------------------------------------------------------------------


def _group(runner: Igor, name: str) -> tuple[str, dict] | None:
    """(``owner`` or ``member``, the group) as ``runner`` sees it, or None when it cannot see it."""
    found = runner.json("group", "show", "-n", name, "-m")
    hits = [(side, g) for side in ("owner", "member") for g in found[side] if g["name"] == name]
    assert len(hits) <= 1
    return hits[0] if hits else None


def test_group_create_show_edit_delete(alice: Igor, bob: Igor, admin: Igor, server: str, tmp_path: Path) -> None:
    name = unique("g")
    carol, _ = new_user(admin, server, tmp_path, login=False)
    created = alice.json("group", "create", name, "-m", "bob", "--desc", "a test group")["group"][0]
    assert (created["name"], created["owners"], created["members"], created["description"]) == \
        (name, ["alice"], ["alice", "bob"], "a test group")
    assert refused(alice("group", "create", name)) == f"igor: group '{name}' already exists"

    side, seen = _group(bob, name) or ("", {})
    assert side == "member" and seen["owners"] == ["alice"]
    assert "OWNER OF" in ok(alice("group", "show", "-n", name)) and name in ok(bob("group", "show"))
    assert refused(bob("group", "edit", name, "--desc", "mine now")).startswith("igor: ")  # not an owner
    assert refused(bob("group", "del", name)).startswith("igor: ")

    assert ok(alice("group", "edit", name, "-a", carol)) == "igor: success"
    assert _group(alice, name)[1]["members"] == sorted(["alice", "bob", carol])
    assert ok(alice("group", "edit", name, "-r", "bob")) == "igor: success"
    assert _group(alice, name)[1]["members"] == sorted(["alice", carol])
    assert _group(bob, name) is None  # no longer a member: cannot see it
    assert "separate commands" in refused(alice("group", "edit", name, "-a", "bob", "-o", "bob"))
    assert refused(alice("group", "edit", name, "-a", "nosuchuser")) == "igor: user 'nosuchuser' not found"

    assert ok(alice("group", "edit", name, "-o", "bob")) == "igor: success"
    side, seen = _group(bob, name) or ("", {})
    assert side == "owner" and seen["owners"] == ["alice", "bob"] and "bob" in seen["members"]
    assert ok(bob("group", "edit", name, "--desc", "shared now")) == "igor: success"  # owners may edit
    assert _group(alice, name)[1]["description"] == "shared now"

    renamed = unique("g")
    assert ok(alice("group", "edit", name, "-n", renamed)) == "igor: success"
    assert _group(alice, name) is None and _group(alice, renamed) is not None
    res = unique("res")
    assert ok(alice("res", "create", res, "-n", "1", "-e", "1h", "-g", renamed))
    assert alice.json("res", "show", "-n", res)["reservations"][0]["group"] == renamed

    end = alice.json("res", "show", "-n", res)["reservations"][0]["end"]
    assert ok(bob("res", "edit", res, "--extend", "30m"))  # a member of the reservation's group may extend
    assert ok(bob("group", "del", renamed)) == "igor: success"
    assert _group(alice, renamed) is None and _group(admin, renamed) is None
    assert alice.json("res", "show", "-n", res)["reservations"][0]["group"] == ""  # back to the owner's own
    assert refused(bob("res", "edit", res, "--extend", "30m")).startswith("igor: ")  # bob's access went with it
    assert refused(bob("res", "del", res)).startswith("igor: ")
    assert ok(alice("res", "edit", res, "--extend", "30m"))  # the owner keeps extend and delete
    assert alice.json("res", "show", "-n", res)["reservations"][0]["end"] == end + 3600
    assert ok(alice("res", "del", res)) == "igor: success"
    assert refused(alice("group", "del", renamed)).startswith("igor: ")


# --- host policies -----------------------------------------------------------------------------------------------


@pytest.fixture
def policy_hosts(admin: Igor) -> Iterator[str]:
    """dn[40-41], given back to the default policy after the test."""
    yield "dn[40-41]"
    admin("policy", "apply", "default", "dn[40-41]")


def _policy(runner: Igor, name: str) -> dict | None:
    found = runner.json("policy", "show", "-n", name)["hostPolicies"]
    return found[0] if found else None


def test_policy_create_apply_edit_delete(admin: Igor, alice: Igor, bob: Igor, policy_hosts: str) -> None:
    group, name = unique("g"), unique("p")
    assert ok(alice("group", "create", group))
    created = admin.json("policy", "create", name, "-t", "2d", "-g", group)["hostPolicy"][0]
    assert (created["name"], created["hosts"], created["maxResTime"], created["accessGroups"]) == \
        (name, "", "48h0m0s", [group])
    assert refused(admin("policy", "create", name)) == f"igor: host policy '{name}' already exists"
    assert refused(alice("policy", "create", unique("p"))) == "igor: access denied"

    assert ok(admin("policy", "apply", name, policy_hosts)) == "igor: success"
    assert _policy(bob, name)["hosts"] == "dn[40-41]"  # any user may look
    hosts = {h["name"]: h for h in bob.json("host", "show", "-n", policy_hosts)["hosts"]}
    assert {(h["hostPolicy"], tuple(h["accessGroups"]), h["restricted"]) for h in hosts.values()} == \
        {(name, (group,), True)}
    assert {h["restricted"] for h in alice.json("host", "show", "-n", policy_hosts)["hosts"]} == {False}
    assert name in ok(admin("policy", "show", "-n", name)) and "48h0m0s" in ok(admin("policy", "show", "-n", name))

    # bob is not in the policy's group: a by-name reservation is refused with the server's reason
    message = "igor: the following host(s) are group-restricted and unavailable to the user: [dn40]"
    assert refused(bob("res", "create", unique("res"), "-n", "dn40", "-e", "1h")) == message
    assert refused(bob("res", "create", unique("res"), "-n", "dn40", "-e", "1h", "--json")) == message
    assert bob.json("res", "show")["reservations"] == []
    assert not set(bob.json("res", "create", unique("res"), "-n", "60", "-e", "1h", "--dry-run")
                   ["reservation"][0]["hosts"]) & {"dn40", "dn41"}  # by count: the restricted hosts are skipped
    assert ok(alice("res", "create", unique("res"), "-n", "dn40", "-e", "1h", "--dry-run")).startswith("igor: dry")
    assert "exceeds maximum" in refused(alice("res", "create", unique("res"), "-n", "dn40", "-e", "3d"))

    assert ok(admin("policy", "edit", name, "-g", "demo-team", "-t", "3d")) == "igor: success"
    edited = _policy(admin, name)
    assert (edited["accessGroups"], edited["maxResTime"]) == (sorted(["demo-team", group]), "72h0m0s")
    res = unique("res")
    assert bob.json("res", "create", res, "-n", "dn40", "-e", "1h")["reservation"][0]["hosts"] == ["dn40"]
    assert ok(bob("res", "del", res)) == "igor: success"

    assert ok(admin("policy", "edit", name, "-u", "0 * * * *:1h")) == "igor: success"
    assert _policy(admin, name)["scheduleBlock"] == [{"start": "0 * * * *", "duration": "1h0m"}]
    assert "scheduling conflict" in refused(bob("res", "create", unique("res"), "-n", "dn41", "-e", "1h"))
    assert ok(admin("policy", "edit", name, "-x", "0 * * * *:1h0m")) == "igor: success"
    assert _policy(admin, name)["scheduleBlock"] == []
    assert ok(bob("res", "create", unique("res"), "-n", "dn41", "-e", "1h", "--dry-run"))
    assert ok(admin("policy", "edit", name, "-r", "demo-team"))
    assert "group-restricted" in refused(bob("res", "create", unique("res"), "-n", "dn41", "-e", "1h"))

    assert refused(alice("policy", "edit", name, "-t", "1d")) == "igor: access denied"
    assert "not permitted" in refused(admin("policy", "edit", "default", "-t", "1d"))
    renamed = unique("p")
    assert ok(admin("policy", "edit", name, "-n", renamed)) == "igor: success"
    assert _policy(admin, name) is None
    assert {h["hostPolicy"] for h in admin.json("host", "show", "-n", policy_hosts)["hosts"]} == {renamed}

    assert "host policies" in refused(alice("group", "del", group))  # in use by the policy
    assert "still assigned to a host" in refused(admin("policy", "del", renamed))
    assert ok(admin("policy", "apply", "default", policy_hosts)) == "igor: success"
    assert {h["hostPolicy"] for h in bob.json("host", "show", "-n", policy_hosts)["hosts"]} == {"default"}
    assert refused(alice("policy", "del", renamed)) == "igor: access denied"
    assert ok(admin("policy", "del", renamed)) == "igor: success"
    assert _policy(admin, renamed) is None
    assert ok(alice("group", "del", group))  # no policy uses it now
    assert ok(bob("res", "create", unique("res"), "-n", "dn40", "-e", "1h", "--dry-run"))


# --- cluster, motd, hosts ----------------------------------------------------------------------------------------


@pytest.fixture
def motd_cleared(admin: Igor) -> Iterator[None]:
    yield
    admin("cluster", "motd", "")


def test_cluster_show_and_motd(admin: Igor, alice: Igor, motd_cleared: None) -> None:
    cluster = admin.json("cluster", "show")["clusters"]
    assert [(c["name"], c["prefix"], len(c["hosts"])) for c in cluster] == [("demo", "dn", 64)]
    assert cluster[0]["displayWidth"] * cluster[0]["displayHeight"] >= 64
    table = ok(admin("cluster", "show"))
    assert "MOTD-URGENT" in table and "demo" in table
    assert "prefix: dn" in ok(admin("cluster", "show", "-y"))
    assert refused(alice("cluster", "show")) == "igor: access denied"

    assert ok(admin("cluster", "motd", "maintenance friday", "-u")) == "igor: success"
    shown = alice.json("show")["show"]["cluster"]
    assert (shown["motd"], shown["motdUrgent"]) == ("maintenance friday", True)
    assert "MOTD:  IMPORTANT! - maintenance friday" in ok(alice("show"))
    assert admin.json("cluster", "show")["clusters"][0]["motd"] == "maintenance friday"

    assert ok(admin("cluster", "motd", "coffee in the lobby")) == "igor: success"
    shown = alice.json("show")["show"]["cluster"]
    assert (shown["motd"], shown["motdUrgent"]) == ("coffee in the lobby", False)
    text = ok(alice("show"))
    assert "MOTD: coffee in the lobby" in text and "IMPORTANT" not in text

    assert refused(alice("cluster", "motd", "hijacked")) == "igor: access denied"
    assert alice.json("show")["show"]["cluster"]["motd"] == "coffee in the lobby"

    assert ok(admin("cluster", "motd", "", "-u")) == "igor: success"
    shown = alice.json("show")["show"]["cluster"]
    assert (shown["motd"], shown["motdUrgent"]) == ("", False)  # urgent is forced off when clearing
    assert "MOTD" not in ok(alice("show"))


@pytest.fixture
def host_restored(admin: Igor) -> Iterator[dict]:
    """dn50 as it was; its network settings and boot mode are put back after the test."""
    before = admin.json("host", "show", "-n", "dn50")["hosts"][0]
    yield before
    admin("host", "edit", "dn50", "-d", before["hostName"], "-b", before["bootMode"], "-i", before["ip"],
          "-m", before["mac"], *(["-e", before["eth"]] if before["eth"] else []))
    admin("host", "unblock", "dn51")


def test_host_show_edit_unblock(admin: Igor, alice: Igor, host_restored: dict) -> None:
    before = host_restored
    assert (before["name"], before["state"], before["hostPolicy"]) == ("dn50", "available", "default")
    table = ok(alice("host", "show", "-n", "dn[50-51]"))
    assert table.splitlines()[0].split()[:3] == ["NODE", "STATE", "POWER"]
    assert [line.split()[0] for line in table.splitlines()[2:]] == ["dn50", "dn51"]

    edited = admin("host", "edit", "dn50", "-d", "node50.test", "-b", "uefi", "-i", "10.9.0.50", "-e", "Et9/50",
                   "-m", "52:54:00:09:00:32")
    assert ok(edited) == "igor: success"
    after = alice.json("host", "show", "-n", "dn50")["hosts"][0]
    assert (after["hostName"], after["bootMode"], after["ip"], after["eth"], after["mac"]) == \
        ("node50.test", "uefi", "10.9.0.50", "Et9/50", "52:54:00:09:00:32")
    assert "node50.test" in ok(admin("cluster", "show", "-y"))  # igor-clusters.yaml rewritten too
    assert [h["name"] for h in alice.json("host", "show", "-i", "10.9.0.50")["hosts"]] == ["dn50"]

    assert refused(alice("host", "edit", "dn50", "-b", "bios")) == "igor: you cannot access the host 'dn50'"
    assert refused(admin("host", "edit", "dn50", "-p", "nosuchpolicy")) == \
        "igor: no host policy found with name nosuchpolicy"
    assert "invalid choice" in refused(admin("host", "edit", "dn50", "-b", "floppy"), code=2)
    assert alice.json("host", "show", "-n", "dn50")["hosts"][0]["bootMode"] == "uefi"

    assert ok(admin("host", "block", "dn51"))
    assert [h["name"] for h in alice.json("host", "show", "-s", "blocked")["hosts"]] == ["dn51"]
    assert refused(alice("host", "unblock", "dn51")) == \
        "igor: block/unblock hosts requires admin elevated privilege"
    assert alice.json("host", "show", "-n", "dn51")["hosts"][0]["state"] == "blocked"
    assert admin.json("host", "unblock", "dn51") == {"hosts": ["dn51"]}
    assert alice.json("host", "show", "-n", "dn51")["hosts"][0]["state"] == "available"
    assert alice.json("host", "show", "-s", "blocked")["hosts"] == []
    assert refused(admin("host", "unblock", "dn51")) == "igor: cannot un-block a non-blocked host: 'dn51'"
    res = unique("res")
    assert alice.json("res", "create", res, "-n", "dn51", "-e", "1h")["reservation"][0]["hosts"] == ["dn51"]
    assert ok(alice("res", "del", res))


# --- settings, last ----------------------------------------------------------------------------------------------


def test_settings_public_and_all(igor: Igor, admin: Igor) -> None:
    public = igor.json("settings")["igor"]  # no login needed
    assert public["localAuthEnabled"] is True
    assert {"defaultReserveMinutes", "maxReserveMinutes", "minReserveMinutes", "nodeReservationLimit"} <= set(public)
    plain = ok(igor("settings"))
    assert plain.startswith("{") and '"defaultReserveMinutes"' in plain  # settings always prints JSON

    igor.login()
    res = unique("res")
    made = igor.json("res", "create", res, "-n", "1")["reservation"][0]  # no -d: the default length
    assert made["end"] - made["start"] == public["defaultReserveMinutes"] * 60
    assert ok(igor("res", "del", res))
    assert refused(igor("settings", "-a")) == "igor: access denied"

    full = admin.json("settings", "-a")["igor"]
    assert full["clusterConfPath"].endswith("igor-clusters.yaml")
    assert full["config"]["auth"]["defaultUserPassword"] not in ("", DEFAULT_PW)  # passwords are not shown
    assert full["config"]["scheduler"]["defaultReserveTime"] == public["defaultReserveMinutes"]


def test_last_shows_the_last_login_on_this_client(igor: Igor) -> None:
    assert ok(igor("last")) == "no login recorded on this client yet"
    assert igor.json("last") == {}

    before = int(time.time()) - 1
    igor.login()
    text = ok(igor("last"))
    assert " as 'alice' at " in text and text.endswith("else igor asks you to log in.")
    last = igor.json("last")
    assert last["user"] == "alice" and before <= last["lastAccess"] <= time.time() + 1

    igor.login("bob", ALICE_PW)
    assert igor.json("last")["user"] == "bob" and " as 'bob' at " in ok(igor("last"))


def test_password_change_for_scripts(admin: Igor, server: str, tmp_path: Path) -> None:
    name, user = new_user(admin, server, tmp_path)
    done = user("user", "edit", "--password-stdin", stdin=f"{DEFAULT_PW}\n")
    assert (done.returncode, done.stderr.strip()) == (
        2, "igor: --password-stdin needs two lines on standard input: the current and the new password")
    both = user("user", "edit", "--password", "--password-stdin", stdin=f"{DEFAULT_PW}\n{NEW_PW}\n")
    assert (both.returncode, both.stderr.strip()) == (2, "igor: use one of --password and --password-stdin")
    assert ok(user("res", "show"))  # nothing changed so far
    done = user("user", "edit", "--password-stdin", "--json", stdin=f"{DEFAULT_PW}\n{NEW_PW}\n")
    assert done.returncode == 0 and done.stderr == "", done.stderr  # no prompts, no getpass warnings
    assert not (user.home / "auth_token").exists()
    assert refused(login(user, name, DEFAULT_PW)) == "igor: local login failed - incorrect password"
    assert ok(login(user, name, NEW_PW)) == f"igor: login successful for user '{name}'"


def test_last_follows_each_answered_command_and_survives_logout(igor: Igor) -> None:
    igor.login()
    stamp = igor.home / "lastaccess"
    os.utime(stamp, (1_000_000_000, 1_000_000_000))  # pretend the login was long ago
    assert igor.json("last")["lastAccess"] == 1_000_000_000
    before = int(time.time()) - 1
    assert ok(igor("res", "show"))
    assert igor.json("last")["lastAccess"] >= before  # the answered command counts as an access
    assert ok(igor("logout"))
    last = igor.json("last")
    assert last["user"] == "alice" and last["lastAccess"] >= before  # still known after logout, as in Igor v2
