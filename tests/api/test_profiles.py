"""Profiles over the API: ``POST/GET /igor/profiles``, ``PATCH/DELETE /igor/profiles/{profileName}`` (reference
§1.7, §2.4, §8.7), addressed per owner — the regression tests for reference §6's bug (profile facts and look-ups
by name only, so two users with a profile of the same name acted on each other's) — and temporary profiles.
"""

from __future__ import annotations

from typing import Any

import pytest
from pony.orm import db_session

from tests.api.conftest import Api, snapshot
from tests.api.test_distros import ELEVATE_FIRST, ROOT, create, image, ok, refused, reserve


@pytest.fixture
def world(people: Api) -> Api:
    """people + distros: pub-os (public), team-os (alice's, shared with team), carol-os (carol's only)."""
    image(people)
    create(people, "carol", "pub-os", public=True)
    create(people, "alice", "team-os", distroGroups=["team"])
    create(people, "carol", "carol-os")
    return people


def make(api: Api, user: str, name: str, distro: str = "pub-os", **kw: Any) -> dict[str, Any]:
    data = ok(api.post("/igor/profiles", as_user=user, json={"name": name, "distro": distro, **kw}), 201,
              f"profile '{name}' created")
    return data["profile"][0]


def profile(api: Api, owner: str, name: str) -> dict[str, Any] | None:
    with db_session:
        db = api.services.db
        p = db.Profile.get(name=name, owner=db.User.get(name=owner))
        if p is None:
            return None
        return {"distro": p.distro.name if p.distro else None, "description": p.description,
                "kernel_args": p.kernel_args, "temp": p.is_default}


def listed(api: Api, user: str, **params: str) -> list[tuple[str, str]]:
    r = api.get("/igor/profiles", as_user=user, params=params)
    assert r.status_code == 200, r.json
    return [(p["owner"], p["name"]) for p in r.json["data"]["profiles"]]


def facts(api: Api, group: str) -> list[str]:
    with db_session:
        g = api.services.db.Group.get(name=group)
        return sorted(p.fact for p in g.permissions if p.fact.startswith("profiles:"))


# -- create ------------------------------------------------------------------------------------------------------


def test_create(world):
    data = make(world, "bob", "bobprof", "team-os", description="for tests", kernelArgs=" console=ttyS0,115200 ")
    assert data == {"name": "bobprof", "description": "for tests", "owner": "bob", "distro": "team-os",
                    "kernelArgs": "console=ttyS0,115200", "isDefault": False, "reservations": []}
    assert facts(world, "u_bob") == ["profiles:bobprof:delete", "profiles:bobprof:edit:*", "profiles:bobprof:view"]


@pytest.mark.parametrize(("user", "req", "status", "message"), [
    ("alice", {"name": "tpf_abcd", "distro": "pub-os"}, 400,
     "profile name with prefix tpf_ not allowed (reserved for the temporary profiles of reservations)"),
    ("alice", {"name": "p", "distro": "pub-os"}, 400,
     "'p' is not a legal profile name (must be 3-24 characters from letters, digits, '_', '-' and '.', start with "
     "a letter, digit or underscore, and not be all digits or punctuation)"),
    ("alice", {"name": "taken", "distro": "pub-os"}, 409, "profile 'taken' already exists"),
    ("alice", {"name": "prof1", "distro": "nodistro"}, 404, "distro 'nodistro' not found"),
    ("alice", {"name": "prof1", "distro": "carol-os"}, 403, "alice does not have access to distro 'carol-os'"),
    ("carol", {"name": "prof1", "distro": "team-os"}, 403, "carol does not have access to distro 'team-os'"),
    ("alice", {"name": "prof1", "distro": "pub-os", "description": "<b>"}, 400,
     "description field invalid, must be 0-256 characters and may only contain letters, numbers, space and "
     ".,_-():?! characters (found '<')"),
    ("alice", {"name": "prof1", "distro": "pub-os", "kernelArgs": "a\tb"}, 400,
     "kernel args may not contain new lines, tabs or other control characters"),
    ("alice", {"name": "prof1"}, 400, "required parameter 'distro' not found"),
])
def test_create_refusals(world, user, req, status, message):
    make(world, "alice", "taken")
    refused(world, "POST", "/igor/profiles", user, status, message, json=req)


# -- per-owner addressing (reference §6's bug) ----------------------------------------------------------------------


def test_two_users_with_the_same_profile_name_never_collide(world):
    make(world, "alice", "prof1", "team-os", kernelArgs="alice=1")
    make(world, "bob", "prof1", "pub-os", kernelArgs="bob=1")  # same name, another owner: fine
    assert listed(world, "alice") == [("alice", "prof1")] and listed(world, "bob") == [("bob", "prof1")]
    ok(world.patch("/igor/profiles/prof1", as_user="alice", json={"kernelArgs": "alice=2"}), 200,
       "profile 'prof1' updated: kernel args updated")
    assert profile(world, "bob", "prof1")["kernel_args"] == "bob=1"
    assert profile(world, "alice", "prof1")["kernel_args"] == "alice=2"
    # each reserves with their own prof1
    r = ok(reserve(world, "bob", "bobs", "dn1", profile="prof1"), 201)["reservation"][0]
    assert (r["profile"], r["distro"]) == ("prof1", "pub-os")
    r = ok(reserve(world, "alice", "alices", "dn2", profile="prof1"), 201)["reservation"][0]
    assert (r["profile"], r["distro"]) == ("prof1", "team-os")
    # alice cannot delete hers while her reservation uses it, and it is never bob's that goes
    refused(world, "DELETE", "/igor/profiles/prof1", "alice", 409,
            "cannot delete profile associated with a reservation: 'prof1' is used by alices")
    ok(world.delete("/igor/reservations/alices", as_user="alice"), 200)
    ok(world.delete("/igor/profiles/prof1", as_user="alice"), 200, "profile 'prof1' deleted")
    assert profile(world, "alice", "prof1") is None and profile(world, "bob", "prof1") is not None
    assert facts(world, "u_alice") == []
    assert facts(world, "u_bob") == ["profiles:prof1:delete", "profiles:prof1:edit:*", "profiles:prof1:view"]
    # a user who has no prof1 never reaches someone else's
    refused(world, "PATCH", "/igor/profiles/prof1", "carol", 404, "profile 'prof1' not found",
            json={"description": "x"})
    refused(world, "DELETE", "/igor/profiles/prof1", "alice", 404, "profile 'prof1' not found")
    refused(world, "POST", "/igor/reservations", "carol", 404, "no profiles for user 'carol' match 'prof1'",
            json={"name": "carols", "nodeList": "dn3", "duration": "1h", "profile": "prof1"})


def test_renames_conflict_only_within_one_owner(world):
    make(world, "alice", "mine")
    make(world, "alice", "other")
    make(world, "bob", "bobs")
    refused(world, "PATCH", "/igor/profiles/mine", "alice", 409, "profile name 'other' already in use",
            json={"name": "other"})
    refused(world, "PATCH", "/igor/profiles/mine", "alice", 400,
            "profile name with prefix tpf_ not allowed (reserved for the temporary profiles of reservations)",
            json={"name": "tpf_zzzz"})
    ok(world.patch("/igor/profiles/mine", as_user="alice", json={"name": "bobs"}), 200,
       "profile 'mine' updated: renamed to 'bobs'")
    assert facts(world, "u_alice") == sorted(
        f"profiles:{n}:{a}" for n in ("bobs", "other") for a in ("delete", "edit:*", "view"))
    assert facts(world, "u_bob") == ["profiles:bobs:delete", "profiles:bobs:edit:*", "profiles:bobs:view"]


def test_admins_address_another_owner_explicitly(world):
    make(world, "alice", "prof1")
    make(world, "bob", "prof1")
    make(world, "bob", "onlybob")
    refused(world, "PATCH", "/igor/profiles/prof1", "carol", 403, "you cannot access the profile 'prof1'",
            params={"owner": "bob"}, json={"description": "x"})
    refused(world, "PATCH", "/igor/profiles/prof1", "dave", 403, ELEVATE_FIRST, params={"owner": "bob"},
            json={"description": "x"})
    refused(world, "DELETE", "/igor/profiles/nope", "carol", 404, "the profile 'nope' does not exist",
            params={"owner": "bob"})
    ok(world.patch("/igor/profiles/prof1", as_user="alice", params={"owner": "alice"}, json={"description": "me"}),
       200)  # naming yourself is always fine
    refused(world, "PATCH", "/igor/profiles/prof1", ROOT, 409,
            "several users have a profile named 'prof1' (alice, bob): say whose with owner=NAME",
            json={"description": "x"})
    refused(world, "PATCH", "/igor/profiles/prof1", ROOT, 404, "user 'nobody' not found", params={"owner": "nobody"},
            json={"description": "x"})
    refused(world, "PATCH", "/igor/profiles/prof1", ROOT, 404, "profile 'prof1' of user 'carol' not found",
            params={"owner": "carol"}, json={"description": "x"})
    ok(world.patch("/igor/profiles/prof1", as_user=ROOT, params={"owner": "bob"}, json={"description": "by root"}),
       200, "profile 'prof1' updated: description updated")
    assert (profile(world, "bob", "prof1")["description"], profile(world, "alice", "prof1")["description"]) == (
        "by root", "me")
    # a name only one user has needs no owner
    ok(world.delete("/igor/profiles/onlybob", as_user=ROOT), 200, "profile 'onlybob' deleted (owner bob)")
    world.elevate("dave")
    ok(world.delete("/igor/profiles/prof1", as_user="dave", params={"owner": "alice"}), 200,
       "profile 'prof1' deleted (owner alice)")
    assert profile(world, "alice", "prof1") is None and profile(world, "bob", "prof1") is not None


# -- show ----------------------------------------------------------------------------------------------------------


def test_show_scoping_and_filters(world):
    make(world, "alice", "prof1", "team-os", kernelArgs="quiet")
    make(world, "alice", "prof2", "pub-os", kernelArgs="console=ttyS0,115200")
    make(world, "bob", "prof1", "pub-os")
    ok(reserve(world, "carol", "carols", "dn1", distro="carol-os"), 201)
    with db_session:
        temp = world.services.db.Reservation.get(name="carols").profile.name
    assert listed(world, "alice") == [("alice", "prof1"), ("alice", "prof2")]
    assert listed(world, "carol") == [("carol", temp)]  # a user's temporary profiles are theirs too
    assert listed(world, "alice", owner="alice") == [("alice", "prof1"), ("alice", "prof2")]
    refused(world, "GET", "/igor/profiles", "alice", 403, "user cannot search other user's profiles",
            params={"owner": "bob"})
    refused(world, "GET", "/igor/profiles", "dave", 403, ELEVATE_FIRST, params={"owner": "bob"})
    assert listed(world, ROOT) == [("alice", "prof1"), ("bob", "prof1"), ("alice", "prof2"), ("carol", temp)]
    assert listed(world, ROOT, owner="bob") == [("bob", "prof1")]
    assert listed(world, ROOT, name="prof1") == [("alice", "prof1"), ("bob", "prof1")]
    assert listed(world, ROOT, distro="pub-os") == [("bob", "prof1"), ("alice", "prof2")]
    assert listed(world, "alice", kernelArgs="console=ttyS0,115200") == [("alice", "prof2")]  # commas kept
    r = world.get("/igor/profiles", as_user="bob", params={"name": "none"})
    assert (r.json["message"], r.json["data"]) == ("search returned no results", {"profiles": []})


def test_landing_view_lists_the_callers_profiles(world):
    make(world, "alice", "prof1")
    make(world, "bob", "prof1")
    show = world.get("/igor", as_user="alice").json["data"]["show"]
    assert [(p["owner"], p["name"]) for p in show["profiles"]] == [("alice", "prof1")]
    everyone = world.get("/igor", as_user=ROOT).json["data"]["show"]["profiles"]
    assert [(p["owner"], p["name"]) for p in everyone] == [("alice", "prof1"), ("bob", "prof1")]


# -- temporary profiles ----------------------------------------------------------------------------------------------


def test_editing_a_temporary_profile_makes_it_permanent(world):
    data = ok(reserve(world, "alice", "res1", "dn1", distro="team-os", kernelArgs="quiet"), 201)["reservation"][0]
    assert data["profile"] == ""  # a temporary profile is not shown as the reservation's profile
    with db_session:
        temp = world.services.db.Reservation.get(name="res1").profile.name
    assert temp.startswith("tpf_") and len(temp) == 8 and temp[4:].isalpha() and temp[4:].islower()
    assert profile(world, "alice", temp)["temp"] is True
    refused(world, "POST", "/igor/reservations", "alice", 400,
            "cannot use a temp profile in more than 1 reservation. Make the profile permanent first by editing its "
            "name, then try again", json={"name": "res2", "nodeList": "dn2", "duration": "1h", "profile": temp})
    ok(world.patch(f"/igor/profiles/{temp}", as_user="alice", json={"name": "keeper"}), 200,
       f"profile '{temp}' updated: renamed to 'keeper'; it is now a permanent profile")
    assert profile(world, "alice", "keeper") == {"distro": "team-os", "description":
                                                 "Default profile for distro team-os for reservation res1",
                                                 "kernel_args": "quiet", "temp": False}
    res = world.get("/igor/reservations", as_user="alice").json["data"]["reservations"][0]
    assert res["profile"] == "keeper"
    with db_session:
        assert [h.status for h in world.services.db.HistoryRecord.select(lambda h: h.name == "res1")] == [
            "created", "updated:profile-rename"]
    # permanent now: it outlives the reservation and can be used again
    ok(world.delete("/igor/reservations/res1", as_user="alice"), 200)
    assert profile(world, "alice", "keeper") is not None
    ok(reserve(world, "alice", "res2", "dn2", profile="keeper"), 201)


def test_any_edit_of_a_temporary_profile_makes_it_permanent(world):
    ok(reserve(world, "bob", "res1", "dn1", distro="pub-os"), 201)
    with db_session:
        temp = world.services.db.Reservation.get(name="res1").profile.name
    ok(world.patch(f"/igor/profiles/{temp}", as_user="bob", json={"description": "keep me"}), 200,
       f"profile '{temp}' updated: description updated; it is now a permanent profile")
    assert profile(world, "bob", temp)["temp"] is False
    refused(world, "DELETE", f"/igor/profiles/{temp}", "bob", 409,
            f"cannot delete profile associated with a reservation: '{temp}' is used by res1")
    ok(world.delete("/igor/reservations/res1", as_user="bob"), 200)
    ok(world.delete(f"/igor/profiles/{temp}", as_user="bob"), 200)


def test_temporary_profile_names_are_unique_per_owner(world):
    for i in range(30):
        ok(reserve(world, "alice", f"res{i:02d}", f"dn{i % 16 + 1}", distro="pub-os", duration="1h",
                   start=world.services.ctx.now().timestamp() + 7200 * (i // 16)), 201)
    with db_session:
        temps = [p.name for p in world.services.db.User.get(name="alice").profiles]
    assert len(temps) == len(set(temps)) == 30


def test_reservations_use_only_profiles_whose_distro_is_still_shared(world):
    make(world, "bob", "bobprof", "team-os")
    ok(world.patch("/igor/distros/team-os", as_user="alice", json={"removeGroup": ["team"]}), 200)
    refused(world, "POST", "/igor/reservations", "bob", 403,
            "bob does not currently have access to distro 'team-os' in profile 'bobprof'",
            json={"name": "bobs", "nodeList": "dn1", "duration": "1h", "profile": "bobprof"})


def test_profile_edit_refusals(world):
    make(world, "alice", "prof1")
    before = snapshot(world.services)
    r = world.patch("/igor/profiles/prof1", as_user="alice", json={})
    assert (r.status_code, r.json["message"]) == (400, "requested operation had no parameters")
    assert snapshot(world.services) == before
    refused(world, "PATCH", "/igor/profiles/prof1", "alice", 400,
            "description field invalid, must be 0-256 characters and may only contain letters, numbers, space and "
            ".,_-():?! characters (found '<')", json={"description": "<x>"})
    refused(world, "PATCH", "/igor/profiles/prof1", "alice", 400,
            "kernel args may not contain new lines, tabs or other control characters",
            json={"kernelArgs": "a\nb"})
