"""Authorization matrix: every route of the API × every kind of caller gets Igor v2's outcome.

The actors (fixture ``people``): nobody (no token); ``carol``, a plain user with no tie to alice's things; ``bob``,
a member of alice's group ``team``; ``alice``, the owner of ``team`` (and the user herself for
``/igor/users/alice``, and the owner of reservation ``alice-res``); ``dave``, a member of ``admins``, first not
elevated and then elevated; and ``igor-admin``. Each cell adds to ``people`` the host policy ``gpu`` (access group
``team``, on no host) and alice's reservation ``alice-res`` in group ``team`` (dn[9-10], 2 hours a day from now),
unless its row is ``bare``; they are made here, not in ``people``, because other API tests count on a world
without them.

Each cell runs on a fresh ``people`` fixture, so one cell's success (a deletion, an auth-reset) cannot change
another's outcome. Expectations follow the v2 model (reference §2.3, §2.4, §6; messages §8 and per route): no token
→ 401 except on public paths; a non-elevated ``admins`` member → 403 ``elevated access is required ...``; other
users → 403 ``access denied`` on collection routes and ``you cannot access the <kind> '<name>'`` on named ones; a
missing named resource → 404 ``the <kind> '<name>' does not exist`` for a caller who may not act on it, and the
handler's own ``... not found`` for one who may.

``test_cell`` asserts the status, the envelope and every refusal's message; ``test_success_message`` asserts the
message of successful answers where v2 fixes one. The matrix must name every (method, route) in ``ROUTES``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from igor.api.app import ROUTES
from igor.api.envelope import status_word
from igor.services.distros import STAGED_ADMINS_ONLY
from tests.api.forms import multipart

ANON, CAROL, BOB, ALICE, DAVE, DAVE_UP, ROOT = ("anonymous", "carol", "bob", "alice", "dave", "dave-elevated",
                                                "igor-admin")
ACTORS = (ANON, CAROL, BOB, ALICE, DAVE, DAVE_UP, ROOT)
USERS = (CAROL, BOB, ALICE)  # not in admins
ELEVATED = (DAVE_UP, ROOT)
ELEVATE_MINUTES = 10  # auth.elevateTimeout's default


@dataclass(frozen=True)
class Want:
    """An expected answer: the status and, when v2 fixes it, the message (a string or a compiled pattern)."""

    status: int
    message: str | re.Pattern[str] | None = None


@dataclass(frozen=True)
class Row:
    """One request (``path`` fills in the route ``template``) and the answer each actor should get."""

    method: str
    template: str
    outcomes: dict[str, Want]
    path: str = ""
    body: dict[str, Any] | None = field(default=None)
    params: dict[str, str] | None = field(default=None)
    bare: bool = False  # run without ``gpu`` and ``alice-res`` (a policy's access group cannot be deleted)
    form: dict[str, Any] | None = field(default=None)  # a multipart form (tests.api.forms), instead of ``body``
    setup: Callable[[Any], None] | None = field(default=None)  # run before the call (creates what it names)

    @property
    def url(self) -> str:
        path = self.path or self.template
        return path + ("?" + "&".join(f"{k}={v}" for k, v in self.params.items()) if self.params else "")


NO_TOKEN = Want(401, "user authentication failed - verify token failed - no token")
ELEVATE_FIRST = Want(403, "elevated access is required before running this command")
DENIED = Want(403, "access denied")
NO_BASIC = Want(400, "user authentication   failed - problem reading basic auth header")  # sic: 3 spaces
BLOCK_DENIED = "block/unblock hosts requires admin elevated privilege"
DEFAULT_EDIT = ("changes to the default host policy are not permitted; MaxResTime will be auto-updated by changing "
                "the server config setting")
DEFAULT_DELETE = "deleting the default host policy is not permitted"


def cannot(kind: str, name: str) -> Want:
    return Want(403, f"you cannot access the {kind} '{name}'")


def missing(kind: str, name: str) -> Want:
    """The authorization layer's 404 (the caller may not act on the thing, and it does not exist)."""
    return Want(404, f"the {kind} '{name}' does not exist")


def public(ok: Want) -> dict[str, Want]:
    return dict.fromkeys(ACTORS, ok)


def any_user(ok: Want) -> dict[str, Want]:
    return {ANON: NO_TOKEN, **dict.fromkeys(ACTORS[1:], ok)}


def admin_only(ok: Want) -> dict[str, Want]:
    return {ANON: NO_TOKEN, **dict.fromkeys(USERS, DENIED), DAVE: ELEVATE_FIRST, **dict.fromkeys(ELEVATED, ok)}


def elevate(ok_dave: Want, ok_dave_up: Want, ok_root: Want) -> dict[str, Want]:
    return {ANON: NO_TOKEN, **{u: Want(403, f"user '{u}' is not an admin") for u in USERS}, DAVE: ok_dave,
            DAVE_UP: ok_dave_up, ROOT: ok_root}


def named(kind: str, name: str, allowed: dict[str, Want]) -> dict[str, Want]:
    """A named resource: ``allowed`` lists who succeeds (and how); other users are refused by name."""
    out = {ANON: NO_TOKEN, **{u: cannot(kind, name) for u in USERS}, DAVE: ELEVATE_FIRST}
    out.update(allowed)
    return out


def elevated_only(ok: Want) -> dict[str, Want]:
    """``/hosts-ctrl/block``: v2's unassignable ``host-block`` permission; everyone not elevated gets one message."""
    return {ANON: NO_TOKEN, **dict.fromkeys((*USERS, DAVE), Want(403, BLOCK_DENIED)), **dict.fromkeys(ELEVATED, ok)}


NO_ELEVATION_NEEDED = "igor-admin does not require the elevate privilege"
EXTENDED = re.compile(r"reservation 'alice-res' extended from \S+ to \S+")
NOT_PUBLIC = Want(403, "public reservation list is not enabled on igor")  # text/plain, not an envelope

IMAGE_FORM = {"kernelFile": ("vmlinuz", b"kernel"), "initrdFile": ("initrd.img", b"initrd"), "boot": "bios"}


def _image(api) -> None:
    """Image ``ki…`` of IMAGE_FORM's files (its name is fixed: the files are)."""
    from tests.api.test_images import register_pair

    register_pair(api.services, b"kernel", b"initrd")


def _kickstart(api) -> None:
    """Kickstart ``fae`` (``fae.ks``)."""
    from tests.api.test_kickstarts import register_kickstart

    register_kickstart(api.services, "fae.ks", b"text\n")


def _distros(api) -> None:
    """Image ``ki0000beef`` (a row only); distros ``pub-distro`` (public), ``alice-distro`` (alice's, shared with
    ``team``) and ``alice-spare`` (alice's, shared with nobody); alice's profile ``alice-prof`` on alice-distro."""
    from pony.orm import db_session

    services = api.services
    with db_session:
        services.db.DistroImage(image_id="b" * 40, type="ki", name="ki0000beef", kernel="vmlinuz",
                                initrd="initrd.img")
    root, alice = services.auth.principal_for("igor-admin"), services.auth.principal_for("alice")
    services.distros.create(root, {"name": "pub-distro", "imageRef": "ki0000beef", "public": True})
    services.distros.create(alice, {"name": "alice-distro", "imageRef": "ki0000beef", "distroGroups": ["team"]})
    services.distros.create(alice, {"name": "alice-spare", "imageRef": "ki0000beef"})
    services.profiles.create(alice, {"name": "alice-prof", "distro": "alice-distro"})


def _staged(api) -> None:
    """Files ``k`` and ``i`` in the staging folder (``distro create --kstaged k --istaged i``)."""
    folder = api.services.images.store.stage_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "k").write_bytes(b"staged kernel")
    (folder / "i").write_bytes(b"staged initrd")


POWER_DENIED = Want(403, "you cannot run power commands on dn[3-4]: not in an active reservation of yours or of "
                        "your groups")


def _active(api) -> None:
    """Alice's reservation ``alice-now`` on dn[3-4] in group ``team``, running from now for an hour."""
    api.services.reservations.create(api.services.auth.principal_for("alice"), {
        "name": "alice-now", "nodeList": "dn[3-4]", "group": "team", "duration": "1h"})


#: One row per (method, route) of ``ROUTES``, every actor.
MATRIX: tuple[Row, ...] = (
    Row("GET", "/igor/health", public(Want(200))),
    Row("GET", "/igor/openapi.json", public(Want(200))),
    # Login without HTTP Basic (the token-holders send their Bearer token, which is not Basic).
    Row("GET", "/igor/login", public(NO_BASIC)),
    Row("POST", "/igor/login", public(NO_BASIC)),
    Row("DELETE", "/igor/login", any_user(Want(200))),  # logout: not in v2
    Row("PATCH", "/igor/elevate", elevate(
        Want(200, f"elevate for user 'dave' is active for next {ELEVATE_MINUTES} minutes"),
        Want(200, f"elevate for user 'dave' is active for next {ELEVATE_MINUTES} minutes"),
        Want(202, NO_ELEVATION_NEEDED))),
    # v2 crashes (status 0) for igor-admin on GET/DELETE; Igor answers 200 on purpose (resources/auth.py).
    Row("GET", "/igor/elevate", elevate(
        Want(200, "elevate for user 'dave' has expired"),
        Want(200, re.compile(r"elevate for user 'dave' has (10|9\.9) minutes remaining")),
        Want(200, NO_ELEVATION_NEEDED))),
    Row("DELETE", "/igor/elevate", elevate(
        Want(200, "elevate for user 'dave' is canceled"), Want(200, "elevate for user 'dave' is canceled"),
        Want(200, NO_ELEVATION_NEEDED))),
    Row("PUT", "/igor/authreset", admin_only(Want(200, ""))),
    Row("GET", "/igor/config/public", public(Want(200, ""))),
    Row("GET", "/igor/config", admin_only(Want(200, ""))),
    Row("POST", "/igor/users", admin_only(Want(201, "igor user 'zed' created")),
        body={"name": "zed", "email": "zed@x.org"}),
    Row("GET", "/igor/users", any_user(Want(200, ""))),
    Row("PATCH", "/igor/users/{userName}", path="/igor/users/alice", body={"fullName": "Al"},
        outcomes=named("user", "alice", {ALICE: Want(200, "user 'alice' updated"),
                                         **dict.fromkeys(ELEVATED, Want(200, "user 'alice' updated"))})),
    Row("DELETE", "/igor/users/{userName}", path="/igor/users/carol",
        outcomes=named("user", "carol", dict.fromkeys(ELEVATED, Want(200, "user 'carol' deleted")))),
    Row("POST", "/igor/groups", any_user(Want(201, "igor group 'newgrp' created ")),  # sic: trailing space
        body={"name": "newgrp", "owners": ["alice"]}),
    Row("GET", "/igor/groups", any_user(Want(200, ""))),
    Row("PATCH", "/igor/groups/{groupName}", path="/igor/groups/team", body={"description": "x"},
        outcomes=named("group", "team", dict.fromkeys((ALICE, *ELEVATED), Want(200, "")))),
    Row("DELETE", "/igor/groups/{groupName}", path="/igor/groups/team", bare=True,
        outcomes=named("group", "team", dict.fromkeys((ALICE, *ELEVATED), Want(200, "")))),
    # No igor-clusters.yaml in the test IGOR_HOME: allowed callers get the handler's 404. Its message is not
    # asserted: v2 names the two places it looks, Igor looks in three (config.find_clusters_file).
    Row("POST", "/igor/clusters", admin_only(Want(404))),
    Row("GET", "/igor/clusters", admin_only(Want(200, ""))),
    Row("PATCH", "/igor/clusters/motd", admin_only(Want(200, "")), body={"motd": "hi", "motdUrgent": False}),
    Row("GET", "/igor/hosts", any_user(Want(200, ""))),
    # No igor-clusters.yaml in the test IGOR_HOME: nothing to rewrite, so the message stays v2's empty one.
    Row("PATCH", "/igor/hosts/{hostName}", path="/igor/hosts/dn3", body={"boot": "uefi"},
        outcomes=named("host", "dn3", dict.fromkeys(ELEVATED, Want(200, "")))),
    Row("DELETE", "/igor/hosts/{hostName}", path="/igor/hosts/dn3",
        outcomes=named("host", "dn3", dict.fromkeys(ELEVATED, Want(200, "")))),
    Row("PATCH", "/igor/hosts-ctrl/block", elevated_only(Want(200, "")), body={"hosts": "dn3", "block": True}),
    Row("PATCH", "/igor/hosts-ctrl/policy", admin_only(Want(200, "")), body={"policy": "gpu", "nodeList": "dn[1-2]"}),
    # Power: elevated admins any host; others the hosts of an active reservation they own or share (alice's
    # ``alice-now`` in group ``team``, made by the setup).
    Row("PATCH", "/igor/hosts-ctrl/power", body={"cmd": "off", "hosts": "dn[3-4]"}, setup=_active, outcomes={
        ANON: NO_TOKEN, CAROL: POWER_DENIED, DAVE: ELEVATE_FIRST,
        **dict.fromkeys((ALICE, BOB, DAVE_UP, ROOT), Want(200, ""))}),
    Row("POST", "/igor/hostpolicy", admin_only(Want(201, "")), body={"name": "newpol"}),
    Row("GET", "/igor/hostpolicy", any_user(Want(200, ""))),
    # Named policies are refused like collection routes (services/policies.py): a user outside admins gets
    # ``access denied`` whether or not the policy exists; only a non-elevated admin learns that it does not.
    Row("PATCH", "/igor/hostpolicy/{hostpolicyName}", admin_only(Want(200, "")), path="/igor/hostpolicy/gpu",
        body={"maxResTime": "2h"}),
    Row("DELETE", "/igor/hostpolicy/{hostpolicyName}", admin_only(Want(200, "")), path="/igor/hostpolicy/gpu"),
    Row("POST", "/igor/reservations", any_user(Want(201, "")),
        body={"name": "newres", "nodeList": "dn[3-4]", "duration": "1h"}),
    # Not asserted: the message ("" or "search returned no results") says whether the caller has reservations.
    Row("GET", "/igor/reservations", any_user(Want(200))),
    Row("GET", "/igor/reservations/speculate", any_user(Want(200, "")), params={"nodes": "2"}),
    # Owners may make every edit, group members only extend (and delete).
    Row("PATCH", "/igor/reservations/{resName}", path="/igor/reservations/alice-res", body={"extend": "1h"},
        outcomes=named("reservation", "alice-res", dict.fromkeys((ALICE, BOB, *ELEVATED), Want(200, EXTENDED)))),
    Row("DELETE", "/igor/reservations/{resName}", path="/igor/reservations/alice-res",
        outcomes=named("reservation", "alice-res", dict.fromkeys((ALICE, BOB, *ELEVATED), Want(200, "")))),
    Row("GET", "/igor", any_user(Want(200, ""))),
    Row("GET", "/igor/public", public(NOT_PUBLIC)),  # server.allowPublicShow is off by default
    Row("POST", "/igor/images/register", admin_only(Want(201, re.compile(
        r"igor boot image files registered to refID: ki[0-9a-f]{8}"))), form=IMAGE_FORM),
    Row("GET", "/igor/images", admin_only(Want(200, "search returned no results"))),
    Row("DELETE", "/igor/images/{imageName}", admin_only(Want(200, "")), path="/igor/images/ki61c4d7c2",
        setup=_image),
    Row("POST", "/igor/kickstart/register", admin_only(Want(201, "kickstart file registered successfully as: fae")),
        form={"kickstart": ("fae.ks", b"text\n")}),
    Row("GET", "/igor/kickstart", admin_only(Want(200, "no kickstart file found"))),
    Row("PATCH", "/igor/kickstart/{kickstartName}", admin_only(Want(200, "kickstart file updated successfully: fae")),
        path="/igor/kickstart/fae", form={"name": "elf"}, setup=_kickstart),
    Row("DELETE", "/igor/kickstart/{kickstartName}", admin_only(Want(200, "")), path="/igor/kickstart/fae",
        setup=_kickstart),
    # Distros: anyone creates; owners (and elevated admins) edit and delete; GET is scoped, never refused.
    Row("POST", "/igor/distros", any_user(Want(201, "distro 'newdistro' created")), setup=_distros,
        body={"name": "newdistro", "imageRef": "ki0000beef"}),
    Row("GET", "/igor/distros", any_user(Want(200)), setup=_distros),
    Row("PATCH", "/igor/distros/{distroName}", path="/igor/distros/alice-distro", body={"description": "x"},
        setup=_distros, outcomes=named("distro", "alice-distro", dict.fromkeys(
            (ALICE, *ELEVATED), Want(200, "distro 'alice-distro' updated: description updated")))),
    Row("DELETE", "/igor/distros/{distroName}", path="/igor/distros/alice-spare", setup=_distros,
        outcomes=named("distro", "alice-spare", dict.fromkeys((ALICE, *ELEVATED),
                                                              Want(200, "distro 'alice-spare' deleted")))),
    # Profiles are addressed per owner: ?owner= names someone else's, which only elevated admins may.
    Row("POST", "/igor/profiles", any_user(Want(201, "profile 'newprof' created")), setup=_distros,
        body={"name": "newprof", "distro": "pub-distro"}),
    Row("GET", "/igor/profiles", any_user(Want(200)), setup=_distros),
    Row("PATCH", "/igor/profiles/{profileName}", path="/igor/profiles/alice-prof", params={"owner": "alice"},
        body={"description": "x"}, setup=_distros, outcomes=named("profile", "alice-prof", dict.fromkeys(
            (ALICE, *ELEVATED), Want(200, "profile 'alice-prof' updated: description updated")))),
    Row("DELETE", "/igor/profiles/{profileName}", path="/igor/profiles/alice-prof", params={"owner": "alice"},
        setup=_distros, outcomes=named("profile", "alice-prof", {
            ALICE: Want(200, "profile 'alice-prof' deleted"),
            **dict.fromkeys(ELEVATED, Want(200, "profile 'alice-prof' deleted (owner alice)"))})),
    # VLANs are off in this world: an admin is told there is nothing to sync (v2's 400); tests/vlan has the rest.
    Row("GET", "/igor/sync", admin_only(Want(400, "not doing vlan segmentation, nothing to sync")),
        params={"cmd": "arista"}),
    # v2: stats:*:view is held by no user, so only elevated admins (tests/api/test_stats.py has the numbers).
    Row("GET", "/igor/stats", admin_only(Want(200, "")), params={"duration": "0", "verbose": "true"}),
)

#: Further cells: names that do not exist, system and private groups, the actions only admins may take.
EXTRA: tuple[Row, ...] = (
    Row("PATCH", "/igor/users/{userName}", path="/igor/users/nobody", body={"fullName": "Al"}, outcomes={
        CAROL: missing("user", "nobody"), DAVE: missing("user", "nobody"),
        **dict.fromkeys(ELEVATED, Want(404, "user 'nobody' not found"))}),
    Row("PATCH", "/igor/users/{userName}", path="/igor/users/alice", body={"reset": True}, outcomes={
        ALICE: cannot("user", "alice"), CAROL: cannot("user", "alice"), DAVE: ELEVATE_FIRST,
        **dict.fromkeys(ELEVATED, Want(200, "user 'alice' password reset"))}),
    Row("PATCH", "/igor/users/{userName}", path="/igor/users/carol", body={"email": "c2@example.com"}, outcomes={
        CAROL: Want(200, "user 'carol' updated"), ALICE: cannot("user", "carol"), BOB: cannot("user", "carol")}),
    Row("PATCH", "/igor/users/{userName}", path="/igor/users/igor-admin", body={"fullName": "Root"}, outcomes={
        CAROL: cannot("user", "igor-admin"), DAVE: ELEVATE_FIRST, ROOT: Want(200, "user 'igor-admin' updated")}),
    Row("DELETE", "/igor/users/{userName}", path="/igor/users/nobody", outcomes={
        CAROL: missing("user", "nobody"), DAVE: missing("user", "nobody"),
        **dict.fromkeys(ELEVATED, Want(404, "user 'nobody' not found"))}),
    Row("DELETE", "/igor/users/{userName}", path="/igor/users/igor-admin", outcomes={
        CAROL: cannot("user", "igor-admin"), DAVE: ELEVATE_FIRST,
        **dict.fromkeys(ELEVATED, Want(403, "user 'igor-admin' deletion not allowed"))}),
    Row("DELETE", "/igor/users/{userName}", path="/igor/users/dave", outcomes={
        DAVE: ELEVATE_FIRST,
        DAVE_UP: Want(403, "user not allowed to delete self - do this as igor-admin or another admin")}),
    Row("PATCH", "/igor/groups/{groupName}", path="/igor/groups/nogroup", body={"description": "x"}, outcomes={
        CAROL: missing("group", "nogroup"), DAVE: missing("group", "nogroup"),
        **dict.fromkeys(ELEVATED, Want(404, "group 'nogroup' not found"))}),
    Row("PATCH", "/igor/groups/{groupName}", path="/igor/groups/u_alice", body={"description": "x"}, outcomes={
        ALICE: missing("group", "u_alice"), CAROL: missing("group", "u_alice"), DAVE: missing("group", "u_alice"),
        **dict.fromkeys(ELEVATED, Want(404, "group 'u_alice' not found"))}),
    Row("PATCH", "/igor/groups/{groupName}", path="/igor/groups/all", body={"description": "x"}, outcomes={
        CAROL: cannot("group", "all"), DAVE: ELEVATE_FIRST, DAVE_UP: Want(200, "")}),
    Row("PATCH", "/igor/groups/{groupName}", path="/igor/groups/admins", body={"description": "x"}, outcomes={
        CAROL: cannot("group", "admins"), DAVE: ELEVATE_FIRST, ROOT: Want(200, "")}),
    Row("DELETE", "/igor/groups/{groupName}", path="/igor/groups/nogroup", outcomes={
        CAROL: missing("group", "nogroup"), DAVE: missing("group", "nogroup"),
        **dict.fromkeys(ELEVATED, Want(404, "group 'nogroup' not found"))}),
    Row("DELETE", "/igor/groups/{groupName}", path="/igor/groups/u_alice", outcomes={
        ALICE: missing("group", "u_alice"), DAVE: missing("group", "u_alice"),
        **dict.fromkeys(ELEVATED, Want(403, "cannot directly delete private group 'u_alice'; delete user instead"))}),
    Row("DELETE", "/igor/groups/{groupName}", path="/igor/groups/u_igor-admin", outcomes={
        CAROL: missing("group", "u_igor-admin"),
        **dict.fromkeys(ELEVATED, Want(403, "group 'u_igor-admin' deletion not allowed"))}),
    Row("DELETE", "/igor/groups/{groupName}", path="/igor/groups/admins", outcomes={
        CAROL: cannot("group", "admins"), DAVE: ELEVATE_FIRST,
        **dict.fromkeys(ELEVATED, Want(403, "group 'admins' deletion not allowed"))}),
    Row("DELETE", "/igor/groups/{groupName}", path="/igor/groups/team", outcomes={  # team: gpu's access group
        BOB: cannot("group", "team"), DAVE: ELEVATE_FIRST, **dict.fromkeys((ALICE, *ELEVATED), Want(409, (
            "cannot delete 'team' - must edit or remove host policies defining access for this group (gpu)")))}),
    Row("DELETE", "/igor/groups/{groupName}", path="/igor/groups/all", outcomes={
        BOB: cannot("group", "all"), DAVE_UP: Want(403, "group 'all' deletion not allowed")}),
    # v2 makes igor-admin the owner of a group it creates; Igor refuses (igor-admin may not be in any group,
    # reference §8.9) and says so in the message — followed here as a deliberate change.
    Row("POST", "/igor/groups", body={"name": "solo"}, outcomes={
        ROOT: Want(400, "a group needs at least one owner (igor-admin cannot own groups it creates)"),
        DAVE: Want(201, "igor group 'solo' created ")}),
    Row("PATCH", "/igor/hosts/{hostName}", path="/igor/hosts/dn99", body={"boot": "uefi"}, outcomes={
        CAROL: missing("host", "dn99"), DAVE: missing("host", "dn99"),
        **dict.fromkeys(ELEVATED, Want(404, "host 'dn99' not found"))}),
    Row("DELETE", "/igor/hosts/{hostName}", path="/igor/hosts/dn99", outcomes={
        CAROL: missing("host", "dn99"), DAVE: missing("host", "dn99"),
        **dict.fromkeys(ELEVATED, Want(404, "host 'dn99' not found"))}),
    Row("DELETE", "/igor/hosts/{hostName}", path="/igor/hosts/dn9", outcomes={
        CAROL: cannot("host", "dn9"), DAVE: ELEVATE_FIRST,
        DAVE_UP: Want(409, "cannot delete a node with an active reservation: host 'dn9' is in current or future "
                           "reservation(s) alice-res")}),
    Row("PATCH", "/igor/hosts-ctrl/block", body={"hosts": "dn3", "block": False}, outcomes={
        CAROL: Want(403, BLOCK_DENIED), DAVE: Want(403, BLOCK_DENIED),
        **dict.fromkeys(ELEVATED, Want(409, "cannot un-block a non-blocked host: 'dn3'"))}),
    # alice-res starts a day from now: not even its owner may power it yet; elevated admins may.
    Row("PATCH", "/igor/hosts-ctrl/power", body={"cmd": "on", "resName": "alice-res"}, outcomes={
        **dict.fromkeys((ALICE, BOB), Want(403, re.compile(
            r"reservation 'alice-res' is not active until \S+ UTC \(power commands are allowed only while it is "
            r"active\)"))),
        CAROL: Want(403, "you cannot run power commands on reservation 'alice-res': only its owner, the members of "
                         "its group and elevated admins may"),
        DAVE: ELEVATE_FIRST, **dict.fromkeys(ELEVATED, Want(200, ""))}),
    Row("PATCH", "/igor/hosts-ctrl/power", body={"cmd": "on", "hosts": "dn99"}, outcomes={
        **dict.fromkeys((CAROL, DAVE, ROOT), Want(404, "host 'dn99' not found"))}),
    Row("PATCH", "/igor/hostpolicy/{hostpolicyName}", path="/igor/hostpolicy/nopolicy", body={"maxResTime": "2h"},
        outcomes={CAROL: DENIED, DAVE: missing("policy", "nopolicy"),
                  **dict.fromkeys(ELEVATED, Want(404, "policy(s) 'nopolicy' not found"))}),
    Row("DELETE", "/igor/hostpolicy/{hostpolicyName}", path="/igor/hostpolicy/nopolicy", outcomes={
        CAROL: DENIED, DAVE: missing("policy", "nopolicy"),
        **dict.fromkeys(ELEVATED, Want(404, "policy(s) 'nopolicy' not found"))}),
    Row("PATCH", "/igor/hostpolicy/{hostpolicyName}", path="/igor/hostpolicy/default", body={"maxResTime": "2h"},
        outcomes={CAROL: DENIED, DAVE: ELEVATE_FIRST, **dict.fromkeys(ELEVATED, Want(403, DEFAULT_EDIT))}),
    Row("DELETE", "/igor/hostpolicy/{hostpolicyName}", path="/igor/hostpolicy/default", outcomes={
        CAROL: DENIED, DAVE: ELEVATE_FIRST, **dict.fromkeys(ELEVATED, Want(403, DEFAULT_DELETE))}),
    Row("POST", "/igor/hostpolicy", body={"name": "Default"}, outcomes={
        CAROL: DENIED, DAVE: ELEVATE_FIRST,
        **dict.fromkeys(ELEVATED, Want(409, "'Default' is the system default host policy name"))}),
    Row("PATCH", "/igor/reservations/{resName}", path="/igor/reservations/alice-res", body={"description": "x"},
        outcomes={ALICE: Want(200), BOB: cannot("reservation", "alice-res"), CAROL: cannot("reservation", "alice-res"),
                  DAVE: ELEVATE_FIRST, DAVE_UP: Want(200)}),
    Row("PATCH", "/igor/reservations/{resName}", path="/igor/reservations/nores", body={"extend": "1h"}, outcomes={
        CAROL: missing("reservation", "nores"), DAVE: missing("reservation", "nores"),
        **dict.fromkeys(ELEVATED, Want(404, "reservation 'nores' not found"))}),
    Row("DELETE", "/igor/reservations/{resName}", path="/igor/reservations/nores", outcomes={
        CAROL: missing("reservation", "nores"), DAVE: missing("reservation", "nores"),
        **dict.fromkeys(ELEVATED, Want(404, "reservation 'nores' not found"))}),
    # Images and kickstarts are refused like collection routes: only an elevated admin learns what exists.
    Row("DELETE", "/igor/images/{imageName}", path="/igor/images/ki00000000", outcomes={
        CAROL: DENIED, DAVE: ELEVATE_FIRST, **dict.fromkeys(ELEVATED, Want(404, "image 'ki00000000' not found"))}),
    Row("PATCH", "/igor/kickstart/{kickstartName}", path="/igor/kickstart/noks", form={"name": "elf"}, outcomes={
        CAROL: DENIED, DAVE: ELEVATE_FIRST, **dict.fromkeys(ELEVATED, Want(404, "kickstart 'noks' not found"))}),
    Row("DELETE", "/igor/kickstart/{kickstartName}", path="/igor/kickstart/noks", outcomes={
        CAROL: DENIED, DAVE: ELEVATE_FIRST, **dict.fromkeys(ELEVATED, Want(404, "kickstart 'noks' not found"))}),
    Row("PATCH", "/igor/distros/{distroName}", path="/igor/distros/nodistro", body={"description": "x"}, outcomes={
        CAROL: missing("distro", "nodistro"), DAVE: missing("distro", "nodistro"),
        **dict.fromkeys(ELEVATED, Want(404, "distro 'nodistro' not found"))}),
    Row("DELETE", "/igor/distros/{distroName}", path="/igor/distros/alice-distro", setup=_distros, outcomes={
        BOB: cannot("distro", "alice-distro"), DAVE: ELEVATE_FIRST, **dict.fromkeys((ALICE, *ELEVATED), Want(409, (
            "cannot delete distro, currently attached to profile(s) alice-prof of alice. Delete these profile(s) "
            "(or the reservations using them) before deleting this distro")))}),
    Row("PATCH", "/igor/distros/{distroName}", path="/igor/distros/pub-distro", body={"deprecate": True},
        setup=_distros, outcomes={
            ALICE: cannot("distro", "pub-distro"), DAVE: ELEVATE_FIRST, **dict.fromkeys(ELEVATED, Want(
                200, "distro 'pub-distro' deprecated: only admins can see and use it now"))}),
    # Staged files are the admins': a distro is made from them by elevated admins only (as image register).
    Row("POST", "/igor/distros", body={"name": "stagedos", "kstaged": "k", "istaged": "i"}, setup=_staged,
        outcomes={ANON: NO_TOKEN, **dict.fromkeys(USERS, Want(403, STAGED_ADMINS_ONLY)), DAVE: ELEVATE_FIRST,
                  **dict.fromkeys(ELEVATED, Want(201, "distro 'stagedos' created"))}),
    Row("GET", "/igor/distros", params={"default": "true"}, outcomes={
        CAROL: Want(403, "must be elevated to search for default distro"),
        DAVE: Want(403, "must be elevated to search for default distro"),
        **dict.fromkeys(ELEVATED, Want(200, "search returned no results"))}),
    # Without ?owner= a user addresses only their own profile: alice's is not in carol's namespace.
    Row("PATCH", "/igor/profiles/{profileName}", path="/igor/profiles/alice-prof", body={"description": "x"},
        setup=_distros, outcomes={
            CAROL: Want(404, "profile 'alice-prof' not found"), DAVE: Want(404, "profile 'alice-prof' not found"),
            **dict.fromkeys((ALICE, *ELEVATED), Want(200, "profile 'alice-prof' updated: description updated"))}),
    Row("DELETE", "/igor/profiles/{profileName}", path="/igor/profiles/alice-prof", params={"owner": "nobody"},
        setup=_distros, outcomes={
            CAROL: missing("profile", "alice-prof"),
            **dict.fromkeys(ELEVATED, Want(404, "user 'nobody' not found"))}),
)

CELLS = [(row, actor) for row in MATRIX + EXTRA for actor in ACTORS if actor in row.outcomes]


def _furnish(api) -> None:
    """Host policy ``gpu`` (access group ``team``, on no host) and alice's reservation ``alice-res`` (group
    ``team``, dn[9-10], 2 hours starting a day from now)."""
    services = api.services
    services.policies.create(services.auth.principal_for("igor-admin"), {"name": "gpu", "accessGroups": ["team"]})
    services.reservations.create(services.auth.principal_for("alice"), {
        "name": "alice-res", "nodeList": "dn[9-10]", "group": "team", "duration": "2h",
        "start": services.ctx.now().timestamp() + 86400})


def _id(cell: tuple[Row, str]) -> str:
    row, actor = cell
    body = f" {json.dumps(row.body, separators=(',', ':'))}" if row.body is not None else ""
    return f"{row.method} {row.url}{body} as {actor}"


def _routes() -> dict[tuple[str, str], Any]:
    return {(method.upper(), path): cls.OPS[method] for path, cls in ROUTES for method in cls.OPS}


def test_the_matrix_covers_every_route_and_every_actor():
    rows = {(row.method, row.template) for row in MATRIX}
    assert len(rows) == len(MATRIX), "a (method, route) appears twice in MATRIX"
    assert rows == set(_routes()), "MATRIX must have exactly one row per (method, route) of ROUTES"
    for row in MATRIX:
        assert set(row.outcomes) == set(ACTORS), f"{row.method} {row.template}: every actor needs an outcome"
    for row in EXTRA:
        assert (row.method, row.template) in rows, f"{row.method} {row.template}: not a route"


@pytest.mark.parametrize("row", MATRIX, ids=lambda r: f"{r.method} {r.template}")
def test_documented_auth_agrees_with_the_matrix(row: Row):
    """Each operation's declared ``auth`` (which the OpenAPI document publishes) matches who gets in."""
    op = _routes()[(row.method, row.template)]
    anonymous = row.outcomes[ANON].status
    if op.auth in ("none", "basic"):
        assert anonymous != 401
    else:
        assert anonymous == 401
    if op.auth == "admin":
        assert all(row.outcomes[a].status == 403 for a in (*USERS, DAVE))
        assert all(row.outcomes[a].status != 403 for a in ELEVATED)


def _call(api, row: Row, actor: str):
    if not row.bare:
        _furnish(api)
    if actor == DAVE_UP:
        api.elevate("dave")
    user = None if actor == ANON else "dave" if actor == DAVE_UP else actor
    kwargs: dict[str, Any] = {"json": row.body} if row.body is not None else {}
    if row.form is not None:
        kwargs = multipart(row.form)
    if row.setup is not None:
        row.setup(api)
    if row.params:
        kwargs["params"] = row.params
    return api.call(row.method, row.path or row.template, as_user=user, **kwargs)


def _matches(want: str | re.Pattern[str], got: str) -> bool:
    return bool(want.fullmatch(got)) if isinstance(want, re.Pattern) else want == got


def _message(row: Row, r) -> str | None:
    """The answer's message: the envelope's, or the text of a text answer (``/igor/public``)."""
    if row.template == "/igor/public":
        return r.text.removesuffix("\n")
    return r.json.get("message") if isinstance(r.json, dict) else None


@pytest.mark.parametrize("cell", CELLS, ids=_id)
def test_cell(people, cell: tuple[Row, str]):
    row, actor = cell
    want = row.outcomes[actor]
    r = _call(people, row, actor)
    if row.template == "/igor/openapi.json" and r.status_code == 200:
        assert r.json["openapi"].startswith("3.") and "/igor/users" in r.json["paths"]
    elif row.template == "/igor/public":  # CSV when enabled, else a line of text: never an envelope
        kind = "text/csv" if r.status_code == 200 else "text/plain"
        assert r.headers["content-type"].startswith(kind), r.headers["content-type"]
    else:
        body = r.json
        assert isinstance(body, dict) and set(body) == {"status", "message", "serverTime", "data"}, body
        assert body["status"] == status_word(r.status_code), body
        assert isinstance(body["message"], str) and isinstance(body["data"], dict)
        assert isinstance(body["serverTime"], str) and body["serverTime"]
    got = (r.status_code, _message(row, r))
    if want.status >= 400 and want.message is not None:
        assert _matches(want.message, got[1] or "") and got[0] == want.status, \
            f"want {want.status} {want.message!r}, got {got[0]} {got[1]!r}"
    else:
        assert got[0] == want.status, f"want {want.status}, got {got[0]} {got[1]!r}"


SUCCESS_CELLS = [(row, actor) for row, actor in CELLS
                 if row.outcomes[actor].status < 400 and row.outcomes[actor].message is not None]


@pytest.mark.parametrize("cell", SUCCESS_CELLS, ids=_id)
def test_success_message(people, cell: tuple[Row, str]):
    row, actor = cell
    want = row.outcomes[actor]
    r = _call(people, row, actor)
    got = _message(row, r)
    assert r.status_code == want.status, got
    assert _matches(want.message, got or ""), f"want {want.message!r}, got {got!r}"
