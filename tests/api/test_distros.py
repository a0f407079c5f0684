"""Distros over the API: ``POST/GET /igor/distros``, ``PATCH/DELETE /igor/distros/{distroName}`` (reference
§1.7, §2.4, §6, §8.6; seed "Image Management"), and their use by reservations and ``GET /igor``.

Images and kickstarts are made as rows here (the image tests cover registration); an upload goes through the real
image store. Every refusal is checked to leave the database as it was.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from pony.orm import db_session

from igor.services.distros import LOCAL_SEPARATELY, NO_SOURCE, STAGED_ADMINS_ONLY, UPLOAD_DISABLED
from tests.api.conftest import Api, seed_people, snapshot
from tests.api.forms import multipart

ROOT = "igor-admin"
ELEVATE_FIRST = "elevated access is required before running this command"
IMG = "ki0000beef"


# -- helpers -------------------------------------------------------------------------------------------------------


def image(api: Api, name: str = IMG, *, local: bool = False, kernel: str = "vmlinuz",
          initrd: str = "initrd.img") -> str:
    with db_session:
        api.services.db.DistroImage(image_id=hashlib.sha1(name.encode()).hexdigest(), type="ki", name=name,
                                    kernel=kernel, initrd=initrd, local_boot=local,
                                    breed="redhat" if local else "generic", kernel_info="5.14.0")
    return name


def kickstart(api: Api, name: str = "fae") -> str:
    with db_session:
        db = api.services.db
        db.Kickstart(name=name, filename=f"{name}.ks", owner=db.User.get(name=ROOT))
    return name


def ok(r, status: int = 200, message: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.json
    if message is not None:
        assert r.json["message"] == message, r.json
    return r.json["data"]


def refused(api: Api, method: str, path: str, as_user: str, status: int, message: str, **kw: Any) -> None:
    """Call, expect the refusal (status and exact message), and check that nothing changed."""
    before = snapshot(api.services)
    r = api.call(method, path, as_user, **kw)
    assert (r.status_code, r.json["message"]) == (status, message), r.json
    assert r.json["status"] == "fail"
    assert snapshot(api.services) == before


def create(api: Api, user: str, name: str, **req: Any) -> dict[str, Any]:
    req.setdefault("imageRef", IMG)
    body = {k: v for k, v in req.items() if v is not None}
    data = ok(api.post("/igor/distros", as_user=user, json={"name": name, **body}), 201,
              f"distro '{name}' created")
    return data["distro"][0]


def row(api: Api, name: str) -> dict[str, Any] | None:
    with db_session:
        d = api.services.db.Distro.get(name=name)
        if d is None:
            return None
        return {"owner": d.owner.name if d.owner else None, "groups": sorted(g.name for g in d.groups),
                "public": d.is_public, "default": d.is_default, "deprecated": d.deprecated,
                "description": d.description, "kernel_args": d.kernel_args,
                "image": d.image.name if d.image else None, "kickstart": d.kickstart.name if d.kickstart else None}


def facts(api: Api, about: str) -> set[tuple[str, str]]:
    with db_session:
        return {(p.group.name, p.fact) for p in api.services.db.Permission.select() if p.fact.startswith(about)}


def names(api: Api, user: str, **params: str) -> list[str]:
    r = api.get("/igor/distros", as_user=user, params=params)
    assert r.status_code == 200, r.json
    return [d["name"] for d in r.json["data"].get("distros", [])]


def reserve(api: Api, user: str, name: str, host: str, **kw: Any):
    return api.post("/igor/reservations", as_user=user, json={"name": name, "nodeList": host, "duration": "1h",
                                                               **kw})


@pytest.fixture
def world(people: Api) -> Api:
    """people + image ki0000beef (netboot)."""
    image(people)
    return people


# -- create ------------------------------------------------------------------------------------------------------


def test_create_private_from_an_image_ref(world):
    data = create(world, "alice", "alice-os", distroGroups=["team"], description="my OS", kernelArgs=" quiet ")
    assert data == {"name": "alice-os", "isDefault": False, "description": "my OS", "owner": "alice",
                    "groups": ["team"], "image_type": "ki", "kernel": "vmlinuz", "initrd": "initrd.img",
                    "kernelArgs": "quiet", "kickstart": "", "isPublic": False, "imageRef": IMG,
                    "imageID": hashlib.sha1(IMG.encode()).hexdigest(), "kernelInfo": "5.14.0", "initrdInfo": "",
                    "breed": "generic", "localBoot": False, "deprecated": False}
    assert row(world, "alice-os")["groups"] == ["team", "u_alice"]  # the owner's private group is always in
    assert facts(world, "distros:alice-os:") == {
        ("u_alice", "distros:alice-os:edit:*"), ("u_alice", "distros:alice-os:delete,view"),
        ("u_alice", "distros:alice-os:view"), ("team", "distros:alice-os:view")}


def test_create_as_igor_v2_sends_it_a_multipart_form(world):
    r = world.post("/igor/distros", as_user="alice", **multipart(
        {"name": "formos", "imageRef": IMG, "distroGroups": ["team"], "kernelArgs": "console=ttyS0,115200"}))
    data = ok(r, 201, "distro 'formos' created")["distro"][0]
    assert (data["groups"], data["kernelArgs"]) == (["team"], "console=ttyS0,115200")


def test_create_public(world):
    data = create(world, "alice", "pubos", public=True)
    assert (data["owner"], data["isPublic"], data["groups"]) == (ROOT, True, [])
    assert row(world, "pubos")["groups"] == ["all"]
    assert ("all", "distros:pubos:view") in facts(world, "distros:pubos:")
    # alice gave it away: igor-admin owns it now, she can no longer edit it
    refused(world, "PATCH", "/igor/distros/pubos", "alice", 403, "you cannot access the distro 'pubos'",
            json={"description": "x"})


@pytest.mark.parametrize(("user", "req", "status", "message"), [
    ("alice", {"name": "dis1"}, 400, NO_SOURCE),
    ("alice", {"name": "dis1", "imageRef": IMG, "copyDistro": "x"}, 400,
     "a new distro takes ONE source; got copyDistro and imageRef"),
    ("alice", {"name": "d", "imageRef": IMG}, 400,
     "'d' is not a legal distro name (must be 3-24 characters from letters, digits, '_', '-' and '.', start with a "
     "letter, digit or underscore, and not be all digits or punctuation)"),
    ("alice", {"name": "taken", "imageRef": IMG}, 409, "distro name already in use: taken"),
    ("alice", {"name": "dis1", "imageRef": "kinothere"}, 400,
     "invalid image reference 'kinothere': must be 'ki' or 'iso' followed by 8 letters or digits (e.g. kid942c59b)"),
    ("alice", {"name": "dis1", "imageRef": "ki00000000"}, 404, "image 'ki00000000' not found"),
    ("alice", {"name": "dis1", "imageRef": IMG, "distroGroups": ["all"]}, 400,
     "cannot add group 'all' to a non-public distro (make it public instead)"),
    ("alice", {"name": "dis1", "imageRef": IMG, "distroGroups": ["team", "nogroup", "nope"]}, 404,
     "error finding group(s) for distro: nogroup,nope"),
    ("carol", {"name": "dis1", "imageRef": IMG, "distroGroups": ["team"]}, 403,
     "user is not a member of group team to include in new distro"),
    ("alice", {"name": "dis1", "imageRef": IMG, "public": True, "distroGroups": ["team"]}, 400,
     "a public distro cannot be assigned to specific groups: team"),
    ("alice", {"name": "dis1", "imageRef": IMG, "default": True}, 403,
     "setting a Distro as default is restricted to admins"),
    (ROOT, {"name": "dis1", "imageRef": IMG, "default": True, "public": True}, 400,
     "a distro cannot be both public and the default distro (the default distro belongs to igor-admin and is "
     "shared with nobody)"),
    (ROOT, {"name": "dis1", "imageRef": IMG, "default": True, "distroGroups": ["admins"]}, 400,
     "the default distro cannot be assigned to groups: admins"),
    ("alice", {"name": "dis1", "imageRef": IMG, "kickstart": "fae"}, 400,
     "kickstart script can only be assigned to a distro with a local boot image (image 'ki0000beef' is netboot "
     "only)"),
    ("alice", {"name": "dis1", "imageRef": IMG, "description": "no <html>"}, 400,
     "description field invalid, must be 0-256 characters and may only contain letters, numbers, space and "
     ".,_-():?! characters (found '<')"),
    ("alice", {"name": "dis1", "imageRef": IMG, "kernelArgs": "quiet\nAPPEND evil"}, 400,
     "kernel args may not contain new lines, tabs or other control characters"),
    ("alice", {"name": "dis1", "copyDistro": "nodistro"}, 404, "distro 'nodistro' not found"),
    ("carol", {"name": "dis1", "copyDistro": "taken"}, 403,
     "must be the owner of the existing distro taken when using to create new"),
    ("carol", {"name": "dis1", "useDistroImage": "taken"}, 403,
     "must be the owner of the existing distro taken to use its image in a new distro"),
])
def test_create_refusals(world, user, req, status, message):
    create(world, "alice", "taken", distroGroups=["team"])
    kickstart(world)
    refused(world, "POST", "/igor/distros", user, status, message, json=req)


def test_copy_distro_copies_and_given_values_win(world):
    """v2 overwrote the copied description and kernel args with the (empty) form values; here they are kept
    unless new ones are given."""
    image(world, "kilocal001", local=True)
    kickstart(world)
    create(world, ROOT, "base", imageRef="kilocal001", kickstart="fae", description="the base", kernelArgs="quiet")
    copy = create(world, ROOT, "copy1", copyDistro="base", imageRef=None)
    assert (copy["description"], copy["kernelArgs"], copy["kickstart"], copy["imageRef"]) == (
        "the base", "quiet", "fae", "kilocal001")
    other = create(world, ROOT, "copy2", copyDistro="base", imageRef=None, kernelArgs="debug", description="")
    assert (other["description"], other["kernelArgs"]) == ("", "debug")
    # useDistroImage takes the image only
    mine = create(world, ROOT, "imgonly", useDistroImage="base", imageRef=None, kickstart="fae")
    assert (mine["description"], mine["kernelArgs"], mine["imageRef"]) == ("", "", "kilocal001")


def test_copy_needs_ownership_but_not_from_an_admin(world):
    create(world, "alice", "alices", kernelArgs="a=1")
    refused(world, "POST", "/igor/distros", "bob", 403,
            "must be the owner of the existing distro alices when using to create new",
            json={"name": "bobs", "copyDistro": "alices"})
    world.elevate("dave")
    assert create(world, "dave", "daves", copyDistro="alices", imageRef=None)["kernelArgs"] == "a=1"


def test_local_boot_distros(world, make_config):
    image(world, "kilocal001", local=True)
    kickstart(world)
    refused(world, "POST", "/igor/distros", "alice", 403, "creation of local boot Distro is restricted to admins",
            json={"name": "inst", "imageRef": "kilocal001", "kickstart": "fae"})
    refused(world, "POST", "/igor/distros", ROOT, 400,
            "kickstart file name required when creating a local boot distro",
            json={"name": "inst", "imageRef": "kilocal001"})
    refused(world, "POST", "/igor/distros", ROOT, 404, "kickstart 'nofile' not found",
            json={"name": "inst", "imageRef": "kilocal001", "kickstart": "nofile"})
    assert create(world, ROOT, "inst", imageRef="kilocal001", kickstart="fae.ks")["kickstart"] == "fae"  # file name


def test_users_may_create_local_boot_distros_with_user_local_boot_dc(make_config):
    from igor.db import init_db
    from igor.services import Services

    config = make_config({"server": {"userLocalBootDC": True}})
    services = Services(init_db(config.database.url), config)
    services.bootstrap()
    api = seed_people(Api(services))
    image(api, "kilocal001", local=True)
    kickstart(api)
    assert create(api, "alice", "inst", imageRef="kilocal001", kickstart="fae")["localBoot"] is True
    services.db.disconnect()


def test_default_distro_is_single_and_belongs_to_igor_admin(world):
    first = create(world, ROOT, "def1", default=True)
    assert (first["isDefault"], first["owner"], first["groups"]) == (True, ROOT, [])
    assert row(world, "def1")["groups"] == ["u_igor-admin"]
    world.elevate("dave")
    create(world, "dave", "def2", default=True)
    assert (row(world, "def1")["default"], row(world, "def2")["default"]) == (False, True)
    assert names(world, ROOT, default="true") == ["def2"]
    assert names(world, "alice") == []  # the default distro is shared with nobody
    refused(world, "GET", "/igor/distros", "alice", 403, "must be elevated to search for default distro",
            params={"default": "true"})


# -- uploads -------------------------------------------------------------------------------------------------------


KERNEL, INITRD = b"K" * 3000, b"I" * 2000
UPLOAD_NAME = "ki" + hashlib.sha1(KERNEL + INITRD).hexdigest()[:8]


def upload_form(**extra: Any) -> dict[str, Any]:
    return multipart({"name": "upos", "kernelFile": ("vmlinuz", KERNEL), "initrdFile": ("initrd.img", INITRD),
                      **extra})


def leftovers(api: Api) -> list[str]:
    store = api.services.images.store
    out = []
    for root in (store.stage_dir, store.images_root):
        if root.exists():
            out += [str(p.relative_to(root)) for p in root.rglob("*") if p.name != ".igor-images.lock"]
    return sorted(out)


@pytest.fixture
def uploads(make_config):
    """people on a server with ``server.allowImageUpload``."""
    from igor.db import init_db
    from igor.services import Services

    config = make_config({"server": {"allowImageUpload": True}})
    services = Services(init_db(config.database.url), config)
    services.bootstrap()
    yield seed_people(Api(services))
    services.db.disconnect()


def test_uploads_are_refused_unless_allowed(world):
    refused(world, "POST", "/igor/distros", "alice", 403, UPLOAD_DISABLED, **upload_form())
    assert leftovers(world) == []


def test_upload_registers_the_image_with_the_distro(uploads):
    data = ok(uploads.post("/igor/distros", as_user="alice", **upload_form(boot="uefi")), 201,
              "distro 'upos' created")["distro"][0]
    assert (data["imageRef"], data["owner"], data["localBoot"]) == (UPLOAD_NAME, "alice", False)
    with db_session:
        img = uploads.services.db.DistroImage.get(name=UPLOAD_NAME)
        assert (img.kernel, img.initrd, img.uefi_boot, img.bios_boot) == ("vmlinuz", "initrd.img", True, False)
    image_dir = uploads.services.images.store.image_dir(img.image_id)
    assert sorted(p.name for p in image_dir.iterdir()) == ["initrd.img", "vmlinuz"]
    assert not [p for p in leftovers(uploads) if not p.startswith(img.image_id)]  # nothing left in staging
    # the same files again: the image is shared, not registered twice
    ok(uploads.post("/igor/distros", as_user="bob", **upload_form(name="upos2")), 201)
    assert row(uploads, "upos2")["image"] == UPLOAD_NAME
    # deleting one keeps the image; deleting the last removes it with its files
    ok(uploads.delete("/igor/distros/upos", as_user="alice"), 200, "distro 'upos' deleted")
    assert image_dir.is_dir()
    ok(uploads.delete("/igor/distros/upos2", as_user="bob"), 200)
    with db_session:
        assert uploads.services.db.DistroImage.get(name=UPLOAD_NAME) is None
    assert not image_dir.exists() and leftovers(uploads) == []


@pytest.mark.parametrize(("extra", "status", "message"), [
    ({"kickstart": "fae"}, 400, "distro image intended for local install/boot must be registered as a separate "
                                "step (by an admin: igor image register --local-boot), not uploaded with a kickstart"),
    ({"name": "taken"}, 409, "distro name already in use: taken"),
    ({"distroGroups": "nogroup"}, 404, "error finding group(s) for distro: nogroup"),
    ({"imageRef": IMG}, 400, "a new distro takes ONE source; got imageRef and kernelFile+initrdFile"),
])
def test_refused_uploads_leave_no_image_and_no_file(uploads, extra, status, message):
    image(uploads)
    create(uploads, "alice", "taken")
    refused(uploads, "POST", "/igor/distros", "alice", status, message, **upload_form(**extra))
    assert leftovers(uploads) == []


def test_an_upload_needs_both_files(uploads):
    form = multipart({"name": "upos", "kernelFile": ("vmlinuz", KERNEL)})
    refused(uploads, "POST", "/igor/distros", "alice", 400,
            "required parameter 'initrdFile' not found (an upload needs both kernelFile and initrdFile)", **form)
    assert leftovers(uploads) == []


# -- create from staged files ------------------------------------------------------------------------------------

STAGED = {"kstaged": "tiny.kernel", "istaged": "tiny.initrd"}


def stage(api: Api, files: dict[str, bytes] | None = None) -> Path:
    folder = api.services.images.store.stage_dir
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (files or {"tiny.kernel": KERNEL, "tiny.initrd": INITRD}).items():
        (folder / name).write_bytes(data)
    return folder


def test_admins_create_a_distro_from_staged_files(world):
    """No allowImageUpload needed: nothing is uploaded. The staged files go once the distro exists (v2's rule for
    staged files)."""
    folder = stage(world, {"tiny.kernel": KERNEL, "tiny.initrd": INITRD, "other": b"untouched"})
    data = ok(world.post("/igor/distros", as_user=ROOT, json={"name": "stagedos", **STAGED, "boot": ["uefi"]}),
              201, "distro 'stagedos' created")["distro"][0]
    assert (data["imageRef"], data["kernel"], data["initrd"], data["owner"]) == (UPLOAD_NAME, "tiny.kernel",
                                                                                 "tiny.initrd", ROOT)
    assert sorted(p.name for p in folder.iterdir()) == ["other"]
    with db_session:
        img = world.services.db.DistroImage.get(name=UPLOAD_NAME)
        assert (img.uefi_boot, img.bios_boot, img.initrd_info) == (True, False, "unknown")
    assert (world.services.images.store.image_dir(img.image_id) / "tiny.initrd").read_bytes() == INITRD
    # an elevated admins member, as v2's client sends it (a form); the same files again share the image
    world.elevate("dave")
    stage(world)
    ok(world.post("/igor/distros", as_user="dave", **multipart({"name": "stagedos2", **STAGED})), 201)
    assert row(world, "stagedos2")["image"] == UPLOAD_NAME
    assert sorted(p.name for p in folder.iterdir()) == ["other"]


def test_staged_files_are_for_elevated_admins(world):
    folder = stage(world)
    refused(world, "POST", "/igor/distros", "alice", 403, STAGED_ADMINS_ONLY, json={"name": "stg1", **STAGED})
    refused(world, "POST", "/igor/distros", "dave", 403, ELEVATE_FIRST, json={"name": "stg1", **STAGED})
    assert sorted(p.name for p in folder.iterdir()) == ["tiny.initrd", "tiny.kernel"]


@pytest.mark.parametrize(("req", "status", "message"), [
    ({"kstaged": "tiny.kernel"}, 400,
     "required parameter 'istaged' not found (staged files need both kstaged and istaged)"),
    ({"istaged": "tiny.initrd"}, 400,
     "required parameter 'kstaged' not found (staged files need both kstaged and istaged)"),
    ({**STAGED, "imageRef": IMG}, 400, "a new distro takes ONE source; got imageRef and kstaged+istaged"),
    ({**STAGED, "kickstart": "fae"}, 400, LOCAL_SEPARATELY.format("staged")),
    ({**STAGED, "name": "taken"}, 409, "distro name already in use: taken"),
    ({**STAGED, "distroGroups": ["nogroup"]}, 404, "error finding group(s) for distro: nogroup"),
    ({**STAGED, "boot": ["pxe"]}, 400, "invalid boot type 'pxe': must be bios or uefi"),
    ({"kstaged": "../tiny.kernel", "istaged": "tiny.initrd"}, 400,
     "staged kernel file name '../tiny.kernel' must be a plain file name, without '/' or '\\'"),
    ({"kstaged": "tiny.kernel", "istaged": "missing"}, 404,
     "staged initrd file 'missing' not found in the staging folder {stage}"),
])
def test_refused_staged_creates_change_nothing_and_keep_the_files(world, req, status, message):
    create(world, "alice", "taken")
    kickstart(world)
    folder = stage(world)
    before = leftovers(world)
    refused(world, "POST", "/igor/distros", ROOT, status, message.format(stage=folder),
            json={"name": "stg1", **req})
    assert leftovers(world) == before


def test_a_staged_file_over_the_upload_limit_is_413_and_stays(world):
    folder = stage(world)
    world.services.images.store.max_image_bytes = len(KERNEL) - 1
    refused(world, "POST", "/igor/distros", ROOT, 413,
            f"staged kernel file 'tiny.kernel' is larger than the limit of {len(KERNEL) - 1} bytes "
            f"({len(KERNEL)} bytes)", json={"name": "stg1", **STAGED})
    assert sorted(p.name for p in folder.iterdir()) == ["tiny.initrd", "tiny.kernel"]


def test_a_create_failing_after_registration_drops_the_image_and_keeps_the_staged_files(world, monkeypatch):
    """Another server host may take the name between the checks and the insert: the new image goes again, and
    the staged files — linked, not moved, into the image store — are still staged."""
    from igor.errors import Conflict

    folder = stage(world)
    distros = world.services.distros
    real = distros._create

    def racing(principal, req, uploaded, *, check_only=False):
        if uploaded is not None:
            raise Conflict("distro name already in use: stg1")
        return real(principal, req, uploaded, check_only=check_only)

    monkeypatch.setattr(distros, "_create", racing)
    refused(world, "POST", "/igor/distros", ROOT, 409, "distro name already in use: stg1",
            json={"name": "stg1", **STAGED})
    assert (folder / "tiny.kernel").read_bytes() == KERNEL and (folder / "tiny.initrd").read_bytes() == INITRD
    assert leftovers(world) == ["tiny.initrd", "tiny.kernel"]  # no image folder left


# -- show ----------------------------------------------------------------------------------------------------------


def test_show_is_scoped_to_what_the_caller_may_use(world):
    create(world, "alice", "team-os", distroGroups=["team"])
    create(world, "alice", "alice-only")
    create(world, "carol", "pub-os", public=True)
    create(world, ROOT, "def-os", default=True)
    assert names(world, "alice") == ["alice-only", "pub-os", "team-os"]
    assert names(world, "bob") == ["pub-os", "team-os"]
    assert names(world, "carol") == ["pub-os"]
    assert names(world, "dave") == ["pub-os"]  # not elevated: an admin sees what anyone sees
    world.elevate("dave")
    assert names(world, "dave") == ["alice-only", "def-os", "pub-os", "team-os"]
    r = world.get("/igor/distros", as_user="carol", params={"name": "team-os"})
    assert (r.status_code, r.json["message"], r.json["data"]) == (200, "search returned no results", {"distros": []})


def test_show_filters(world):
    image(world, "kiother001", kernel="bzImage", initrd="root.cpio")
    create(world, "alice", "team-os", distroGroups=["team"])
    create(world, "alice", "other-os", imageRef="kiother001")
    create(world, "bob", "bobs-os", imageRef="kiother001", distroGroups=["team"])
    other_id = hashlib.sha1(b"kiother001").hexdigest()
    assert names(world, "alice", name="team-os,bobs-os") == ["bobs-os", "team-os"]
    assert names(world, "alice", owner="bob") == ["bobs-os"]
    assert names(world, "alice", group="team") == ["bobs-os", "team-os"]
    assert names(world, "alice", group="u_alice") == ["other-os", "team-os"]
    assert names(world, "alice", imageID=other_id) == ["bobs-os", "other-os"]  # v2 rejected imageID (§11.13)
    assert names(world, "alice", imageID="kiother001") == ["bobs-os", "other-os"]  # an image name works too
    assert names(world, "alice", kernel="bzImage") == ["bobs-os", "other-os"]  # v2 queried a missing column
    assert names(world, "alice", initrd="initrd.img") == ["team-os"]
    assert names(world, "bob", owner="alice") == ["team-os"]  # other-os is not shared with bob


def test_landing_view_lists_the_distros_the_caller_may_use(world):
    create(world, "alice", "team-os", distroGroups=["team"])
    create(world, "alice", "alice-only")
    create(world, "carol", "pub-os", public=True)
    show = world.get("/igor", as_user="bob").json["data"]["show"]
    assert show["distros"] == ["pub-os", "team-os"]
    assert world.get("/igor", as_user="carol").json["data"]["show"]["distros"] == ["pub-os"]
    assert world.get("/igor", as_user=ROOT).json["data"]["show"]["distros"] == ["alice-only", "pub-os", "team-os"]


# -- edit ----------------------------------------------------------------------------------------------------------


def test_rename_moves_facts_and_records_history(world):
    create(world, "alice", "old-os", distroGroups=["team"])
    create(world, "alice", "other-os")
    ok(reserve(world, "alice", "res1", "dn1", distro="old-os"), 201)
    refused(world, "PATCH", "/igor/distros/old-os", "alice", 409, "other-os already in use as distro name",
            json={"name": "other-os"})
    ok(world.patch("/igor/distros/old-os", as_user="alice", json={"name": "new-os"}), 200,
       "distro 'old-os' updated: renamed to 'new-os'")
    assert facts(world, "distros:old-os:") == set()
    assert ("team", "distros:new-os:view") in facts(world, "distros:new-os:")
    res = world.get("/igor/reservations", as_user="alice").json["data"]["reservations"][0]
    assert res["distro"] == "new-os"
    with db_session:
        statuses = [h.status for h in world.services.db.HistoryRecord.select(lambda h: h.name == "res1")]
    assert statuses == ["created", "updated:distro-rename"]


def test_kernel_args_and_kickstart_are_frozen_while_a_reservation_uses_the_distro(world):
    image(world, "kilocal001", local=True)
    kickstart(world)
    kickstart(world, "elf")
    world.elevate("dave")
    create(world, "alice", "net-os", kernelArgs="quiet")
    create(world, "dave", "inst-os", imageRef="kilocal001", kickstart="fae")
    ok(world.patch("/igor/distros/net-os", as_user="alice", json={"kernelArgs": "debug"}), 200,
       "distro 'net-os' updated: kernel args updated")
    ok(reserve(world, "alice", "res1", "dn1", distro="net-os"), 201)
    ok(reserve(world, "dave", "res2", "dn2", distro="inst-os"), 201)
    refused(world, "PATCH", "/igor/distros/net-os", "alice", 409,
            "distro kernel args cannot be updated while associated to active Reservations: [res1]",
            json={"kernelArgs": "quiet"})
    ok(world.patch("/igor/distros/net-os", as_user="alice", json={"kernelArgs": "debug"}), 200)  # no change: fine
    refused(world, "PATCH", "/igor/distros/inst-os", "dave", 409,
            "distro kickstart cannot be updated while associated to active Reservations: [res2]",
            json={"kickstart": "elf"})
    refused(world, "PATCH", "/igor/distros/net-os", "alice", 400,
            "kickstart script can only be assigned to a distro with a local boot image", json={"kickstart": "elf"})
    ok(world.delete("/igor/reservations/res2", as_user="dave"), 200)
    refused(world, "PATCH", "/igor/distros/inst-os", "dave", 404, "kickstart 'nope' not found",
            json={"kickstart": "nope"})
    ok(world.patch("/igor/distros/inst-os", as_user="dave", json={"kickstart": "elf"}), 200,
       "distro 'inst-os' updated: kickstart is now 'elf'")


def test_public_rules(world):
    create(world, "alice", "team-os", distroGroups=["team"])
    refused(world, "PATCH", "/igor/distros/team-os", "alice", 400,
            "public cannot be combined with addGroup: a public distro belongs to igor-admin and is shared with "
            "everyone", json={"public": True, "addGroup": ["team"]})
    refused(world, "PATCH", "/igor/distros/team-os", "alice", 400,
            "'false' is not an acceptable value for parameter \"public\" (must be 'true')", json={"public": False})
    ok(world.patch("/igor/distros/team-os", as_user="alice", json={"public": True}), 200,
       "distro 'team-os' updated: it is now public; owner is now 'igor-admin'; groups are now none")
    assert (row(world, "team-os")["owner"], row(world, "team-os")["groups"]) == (ROOT, ["all"])
    assert names(world, "carol") == ["team-os"]
    refused(world, "PATCH", "/igor/distros/team-os", ROOT, 400,
            "a public distro cannot be assigned to specific groups: [team]", json={"addGroup": ["team"]})
    refused(world, "PATCH", "/igor/distros/team-os", ROOT, 400,
            "cannot remove the 'all' group from a public distro", json={"removeGroup": ["all"]})
    refused(world, "PATCH", "/igor/distros/team-os", ROOT, 400,
            "a public distro belongs to igor-admin: its owner cannot be changed", json={"owner": "alice"})


def test_owner_change(world):
    create(world, "alice", "team-os", distroGroups=["team"])
    refused(world, "PATCH", "/igor/distros/team-os", "alice", 400,
            "intended distro owner carol is not a member of group(s) team", json={"owner": "carol"})
    refused(world, "PATCH", "/igor/distros/team-os", "alice", 400,
            "non-elevated user cannot transfer ownership of a distro to 'igor-admin'", json={"owner": ROOT})
    refused(world, "PATCH", "/igor/distros/team-os", "alice", 404, "user 'nobody' not found",
            json={"owner": "nobody"})
    ok(world.patch("/igor/distros/team-os", as_user="alice", json={"owner": "bob"}), 200,
       "distro 'team-os' updated: owner is now 'bob'; groups are now team")
    assert row(world, "team-os")["groups"] == ["team", "u_bob"]
    assert facts(world, "distros:team-os:") == {
        ("u_bob", "distros:team-os:edit:*"), ("u_bob", "distros:team-os:delete,view"),
        ("u_bob", "distros:team-os:view"), ("team", "distros:team-os:view")}
    refused(world, "PATCH", "/igor/distros/team-os", "alice", 403, "you cannot access the distro 'team-os'",
            json={"description": "mine again"})
    assert names(world, "alice") == ["team-os"]  # still shared with her through team


def test_group_changes(world):
    with db_session:  # a group alice is not in
        db = world.services.db
        g = db.Group(name="others")
        g.members.add(db.User.get(name="carol"))
    create(world, "alice", "my-os")
    refused(world, "PATCH", "/igor/distros/my-os", "alice", 403,
            "cannot add the group 'all' to a non-public distro (make it public instead)", json={"addGroup": ["all"]})
    refused(world, "PATCH", "/igor/distros/my-os", "alice", 404, "group(s) 'nogroup' not found",
            json={"addGroup": ["team", "nogroup"]})
    refused(world, "PATCH", "/igor/distros/my-os", "alice", 400,
            "intended distro owner alice is not a member of group(s) others", json={"addGroup": ["others"]})
    refused(world, "PATCH", "/igor/distros/my-os", "alice", 400,
            "target distro \"my-os\" does not contain group \"team\" - edit operation aborted",
            json={"removeGroup": ["team"]})
    refused(world, "PATCH", "/igor/distros/my-os", "alice", 400,
            "the private group of the owner 'alice' cannot be removed from the distro",
            json={"removeGroup": ["u_alice"]})
    ok(world.patch("/igor/distros/my-os", as_user="alice", **multipart({"addGroup": ["team"]})), 200,
       "distro 'my-os' updated: groups are now team")
    assert names(world, "bob") == ["my-os"]
    ok(world.patch("/igor/distros/my-os", as_user="alice", json={"removeGroup": ["team"]}), 200,
       "distro 'my-os' updated: groups are now none")
    assert names(world, "bob") == [] and facts(world, "distros:my-os:") == {
        ("u_alice", "distros:my-os:edit:*"), ("u_alice", "distros:my-os:delete,view"),
        ("u_alice", "distros:my-os:view")}


def test_deprecate(world):
    create(world, "carol", "old-pub", public=True)
    create(world, "alice", "alices")
    create(world, "dave", "daves")
    ok(reserve(world, "carol", "before", "dn1", distro="old-pub"), 201)
    refused(world, "PATCH", "/igor/distros/old-pub", "dave", 403, ELEVATE_FIRST, json={"deprecate": True})
    refused(world, "PATCH", "/igor/distros/alices", "alice", 403, "deprecating a distro is restricted to admins",
            json={"deprecate": True})
    refused(world, "PATCH", "/igor/distros/daves", "dave", 403, "non-elevated user cannot deprecate a distro",
            json={"deprecate": True})
    world.elevate("dave")
    refused(world, "PATCH", "/igor/distros/old-pub", "dave", 400,
            "deprecate must be given alone; found also description", json={"deprecate": True, "description": "x"})
    refused(world, "PATCH", "/igor/distros/daves", "dave", 400, "cannot deprecate a non-public distro",
            json={"deprecate": True})
    ok(world.patch("/igor/distros/old-pub", as_user="dave", **multipart({"deprecate": "true"})), 200,
       "distro 'old-pub' deprecated: only admins can see and use it now")
    r = row(world, "old-pub")
    assert (r["groups"], r["public"], r["deprecated"]) == (["admins"], False, True)
    assert names(world, "carol") == [] and "old-pub" in names(world, "dave")
    refused(world, "POST", "/igor/reservations", "carol", 403, "carol does not have access to distro 'old-pub'",
            json={"name": "after", "nodeList": "dn2", "duration": "1h", "distro": "old-pub"})
    assert world.get("/igor/reservations", as_user="carol").json["data"]["reservations"][0]["distro"] == "old-pub"
    # an admin may publish it again
    ok(world.patch("/igor/distros/old-pub", as_user=ROOT, json={"public": True}), 200)
    assert (row(world, "old-pub")["deprecated"], names(world, "carol")) == (False, ["old-pub"])


def test_default_by_edit(world):
    create(world, ROOT, "def1", default=True)
    create(world, "alice", "team-os", distroGroups=["team"])
    create(world, "carol", "pub-os", public=True)
    refused(world, "PATCH", "/igor/distros/team-os", "alice", 403,
            "setting a Distro as default is restricted to admins", json={"default": True})
    refused(world, "PATCH", "/igor/distros/team-os", ROOT, 400, "default and default_remove cannot be combined",
            json={"default": True, "default_remove": True})
    refused(world, "PATCH", "/igor/distros/pub-os", ROOT, 400,
            "a public distro cannot be made the default distro: copy it into a new distro (copyDistro) and make "
            "that one the default", json={"default": True})
    refused(world, "PATCH", "/igor/distros/team-os", ROOT, 400, "distro 'team-os' is not the default distro",
            json={"default_remove": True})
    ok(world.patch("/igor/distros/team-os", as_user=ROOT, json={"default": True}), 200,
       "distro 'team-os' updated: it is now the default distro; owner is now 'igor-admin'; groups are now none")
    assert (row(world, "team-os")["owner"], row(world, "team-os")["groups"]) == (ROOT, ["u_igor-admin"])
    assert (row(world, "def1")["default"], row(world, "team-os")["default"]) == (False, True)
    ok(world.patch("/igor/distros/team-os", as_user=ROOT, json={"default_remove": True}), 200,
       "distro 'team-os' updated: it is no longer the default distro")
    assert row(world, "team-os")["default"] is False


def test_description_and_image_os_info(world):
    create(world, "alice", "my-os")
    refused(world, "PATCH", "/igor/distros/my-os", "alice", 403,
            "only admins can change the OS info of a distro's image", json={"initrdInfo": "RHEL 9.2"})
    refused(world, "PATCH", "/igor/distros/my-os", ROOT, 400,
            "invalid initrd info 'x': must be 3-30 characters and may only contain letters, numbers, space and "
            ".,_-()[]:?! characters", json={"initrdInfo": "x"})
    ok(world.patch("/igor/distros/my-os", as_user=ROOT, json={"initrdInfo": "RHEL 9.2", "description": "hello"}),
       200, "distro 'my-os' updated: description updated; image OS info updated")
    data = world.get("/igor/distros", as_user="alice").json["data"]["distros"][0]
    assert (data["initrdInfo"], data["description"]) == ("RHEL 9.2", "hello")


def test_edit_refusals_by_name(world):
    create(world, "alice", "my-os")
    refused(world, "PATCH", "/igor/distros/my-os", "bob", 403, "you cannot access the distro 'my-os'",
            json={"description": "x"})
    refused(world, "PATCH", "/igor/distros/nope", "bob", 404, "the distro 'nope' does not exist",
            json={"description": "x"})
    refused(world, "PATCH", "/igor/distros/nope", ROOT, 404, "distro 'nope' not found", json={"description": "x"})
    refused(world, "PATCH", "/igor/distros/my-os", "alice", 400, "requested operation had no parameters", json={})


# -- delete --------------------------------------------------------------------------------------------------------


def test_delete_refused_while_profiles_use_it(world):
    create(world, "alice", "team-os", distroGroups=["team"])
    ok(world.post("/igor/profiles", as_user="bob", json={"name": "bobprof", "distro": "team-os"}), 201)
    ok(reserve(world, "alice", "res1", "dn1", distro="team-os"), 201)
    with db_session:
        temp = world.services.db.Reservation.get(name="res1").profile.name
    refused(world, "DELETE", "/igor/distros/team-os", "alice", 409,
            f"cannot delete distro, currently attached to profile(s) bobprof of bob; {temp} of alice (reservation "
            "res1). Delete these profile(s) (or the reservations using them) before deleting this distro")
    refused(world, "DELETE", "/igor/distros/team-os", "bob", 403, "you cannot access the distro 'team-os'")
    ok(world.delete("/igor/reservations/res1", as_user="alice"), 200)  # its temporary profile goes with it
    ok(world.delete("/igor/profiles/bobprof", as_user="bob"), 200)
    ok(world.delete("/igor/distros/team-os", as_user="alice"), 200, "distro 'team-os' deleted")
    assert row(world, "team-os") is None and facts(world, "distros:team-os:") == set()
    with db_session:  # the image was a row only here; no other distro used it
        assert world.services.db.DistroImage.get(name=IMG) is None


def test_delete_keeps_an_image_other_distros_use(world):
    create(world, "alice", "one")
    create(world, "alice", "two")
    ok(world.delete("/igor/distros/one", as_user="alice"), 200)
    with db_session:
        assert world.services.db.DistroImage.get(name=IMG) is not None


# -- reservations use distros --------------------------------------------------------------------------------------


def test_reservations_need_access_to_the_distro(world):
    create(world, "alice", "team-os", distroGroups=["team"])
    refused(world, "POST", "/igor/reservations", "carol", 403, "carol does not have access to distro 'team-os'",
            json={"name": "carols", "nodeList": "dn1", "duration": "1h", "distro": "team-os"})
    ok(reserve(world, "bob", "bobs", "dn1", distro="team-os"), 201)
    ok(reserve(world, "carol", "carols", "dn2"), 201)
    refused(world, "PATCH", "/igor/reservations/carols", "carol", 403,
            "carol does not have access to distro 'team-os'", json={"distro": "team-os"})
    refused(world, "POST", "/igor/reservations", "carol", 400,
            "kernelArgs need a distro to boot with: give a distro (or a profile) too",
            json={"name": "args", "nodeList": "dn3", "duration": "1h", "kernelArgs": "quiet"})


def test_reservations_naming_no_distro_get_the_default_one(world):
    ok(reserve(world, "carol", "bare", "dn1"), 201)
    with db_session:
        assert world.services.db.Reservation.get(name="bare").profile is None  # no default: nothing to boot
    create(world, ROOT, "def-os", default=True)
    data = ok(reserve(world, "carol", "booted", "dn2", kernelArgs="quiet"), 201)["reservation"][0]
    assert (data["distro"], data["profile"]) == ("def-os", "")
    with db_session:
        profile = world.services.db.Reservation.get(name="booted").profile
        assert (profile.is_default, profile.name[:4], profile.kernel_args) == (True, "tpf_", "quiet")


# -- the Igor v2 sample --------------------------------------------------------------------------------------------


def test_igor_v2_sample_distros_are_shown_and_usable(make_config):
    from igor.db import init_db
    from igor.importer import import_igor2
    from igor.services import Services
    from igor.services.context import ServiceContext
    from tests.test_importer import SAMPLE

    if not SAMPLE.exists():
        pytest.skip(f"Igor v2 sample database not found at {SAMPLE}")
    config = make_config()
    db = init_db(config.database.url)
    import_igor2(SAMPLE, ServiceContext(db, config), log=lambda _line: None)
    services = Services(db, config)
    services.bootstrap()
    api = Api(services)
    try:
        api.login(ROOT, "igor-admin")
        api.login("chell", "changeMe$1")
        api.login("wheatley", "changeMe$1")
        assert names(api, ROOT) == ["BadDistro", "myDistro1", "myDistro2"]
        assert names(api, "chell") == ["myDistro1"]  # shared with TheGoodGuys
        assert names(api, "wheatley") == []
        mine = api.get("/igor/distros", as_user=ROOT, params={"name": "myDistro1"}).json["data"]["distros"][0]
        assert (mine["owner"], mine["groups"], mine["imageRef"], mine["isPublic"]) == (
            "afbagwe", ["TheGoodGuys"], "kiad0b6d0d", False)
        data = ok(reserve(api, "chell", "sample-res", "kn1", distro="myDistro1"), 201)["reservation"][0]
        assert data["distro"] == "myDistro1"
        assert reserve(api, "wheatley", "nope-res", "kn2", distro="myDistro1").status_code == 403
        # its owner may still edit it, and it cannot be deleted while the reservation's profile uses it
        api.login("afbagwe", "changeMe$1")
        ok(api.patch("/igor/distros/myDistro1", as_user="afbagwe", json={"description": "imported"}), 200)
        assert api.delete("/igor/distros/myDistro1", as_user="afbagwe").status_code == 409
    finally:
        db.disconnect()
