"""Boot images over the API: ``POST /igor/images/register``, ``GET /igor/images``, ``DELETE /igor/images/{name}``
(reference §1.7, §2.4, §8.5, §11 item 12; SPEC §7), and the ``ImageService`` the distro routes call.

Every refusal is checked to leave the database as it was and no file behind (staging folder, image store).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from pony.orm import db_session

from igor.api.resources.images import NO_FILES
from igor.imagedetect import ImageInfo
from tests.api.conftest import snapshot
from tests.api.forms import multipart
from tests.test_imagedetect import OS_RELEASE_RHEL, cpio, dracut_like, fake_bzimage

ROOT = "igor-admin"
ELEVATE_MSG = "elevated access is required before running this command"
KERNEL, INITRD = b"K" * 3000, b"I" * 2000
IMAGE_ID = hashlib.sha1(KERNEL + INITRD).hexdigest()
NAME = "ki" + IMAGE_ID[:8]
UBUNTU_KERNEL = "5.15.0-91-generic (buildd@lcy02) #101-Ubuntu SMP Tue Nov 14 2023"


# -- helpers -------------------------------------------------------------------------------------------------------


def register_pair(services, kernel: bytes, initrd: bytes, *, kernel_name: str = "vmlinuz",
                  initrd_name: str = "initrd.img", **opts: Any):
    """Register a pair through the service as igor-admin (files written to a scratch folder first)."""
    scratch = Path(services.config.igor_home) / "scratch"
    scratch.mkdir(exist_ok=True)
    k, i = scratch / kernel_name, scratch / initrd_name
    k.write_bytes(kernel)
    i.write_bytes(initrd)
    return services.images.register_files(services.auth.principal_for(ROOT), k, i, **opts)


def form(kernel: bytes = KERNEL, initrd: bytes = INITRD, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"kernelFile": ("vmlinuz", kernel), "initrdFile": ("initrd.img", initrd),
                              "boot": "bios"}
    fields.update(extra)
    return multipart({k: v for k, v in fields.items() if v is not None})


def store(api):
    return api.services.images.store


def stage_dir(api) -> Path:
    return store(api).stage_dir


def leftovers(api) -> list[str]:
    """Files in the staging folder and image store other than the store's lock file."""
    out = []
    for root in (store(api).stage_dir, store(api).images_root):
        if root.exists():
            out += [str(p.relative_to(root)) for p in root.rglob("*") if p.name != ".igor-images.lock"]
    return sorted(out)


def rows(api) -> list[tuple[Any, ...]]:
    with db_session:
        return sorted((i.name, i.image_id, i.kernel, i.initrd, i.breed, i.local_boot, i.bios_boot, i.uefi_boot)
                      for i in api.services.db.DistroImage.select())


def refused(api, status: int, message: str, as_user: str | None = ROOT, *, prefix: bool = False,
            path: str = "/igor/images/register", method: str = "POST", **kw) -> Any:
    """Call, expect the refusal, and check that nothing changed: database, staging folder, image store."""
    before, files = snapshot(api.services), leftovers(api)
    r = api.call(method, path, as_user, **kw)
    got = r.json["message"]
    assert r.status_code == status, r.json
    assert got.startswith(message) if prefix else got == message, r.json
    assert r.json["status"] == "fail"
    assert snapshot(api.services) == before
    assert leftovers(api) == files
    return r


def distro(api, name: str, image_name: str) -> None:
    with db_session:
        db = api.services.db
        db.Distro(name=name, image=db.DistroImage.get(name=image_name))


# -- register from an upload ---------------------------------------------------------------------------------------


def test_upload_registers_the_pair_under_its_sha1(people):
    r = people.post("/igor/images/register", ROOT, **form())
    assert r.status_code == 201, r.json
    assert r.json["message"] == f"igor boot image files registered to refID: {NAME}"
    assert r.json["data"]["image"] == {"name": NAME, "image_id": IMAGE_ID, "image_type": "ki",
                                       "kernel": "vmlinuz", "initrd": "initrd.img", "distros": [],
                                       "breed": "generic", "local": "no", "boot": ["bios"]}
    folder = store(people).images_root / IMAGE_ID
    assert (folder / "vmlinuz").read_bytes() == KERNEL
    assert (folder / "initrd.img").read_bytes() == INITRD
    assert folder.parent == Path(people.services.config.server.tftp_root) / "igor_images"
    assert leftovers(people) == [IMAGE_ID, f"{IMAGE_ID}/initrd.img", f"{IMAGE_ID}/vmlinuz"]  # nothing staged


def test_show_lists_images_sorted_with_v2_keys(people):
    r = people.get("/igor/images", ROOT)
    assert (r.status_code, r.json["message"], r.json["data"]) == (200, "search returned no results",
                                                                  {"distroImages": []})
    b = register_pair(people.services, b"b-kernel", b"b-initrd", boot=("bios", "uefi"), breed="redhat",
                      local_boot=True)
    a = register_pair(people.services, b"a-kernel", b"a-initrd")
    distro(people, "d1", b.name)
    r = people.get("/igor/images", ROOT)
    assert r.status_code == 200 and r.json["message"] == ""
    got = r.json["data"]["distroImages"]
    assert [i["name"] for i in got] == sorted([a.name, b.name])
    shown = {i["name"]: i for i in got}[b.name]
    assert shown == {"name": b.name, "image_id": b.image_id, "image_type": "ki", "kernel": "vmlinuz",
                     "initrd": "initrd.img", "distros": ["d1"], "breed": "redhat", "local": "yes",
                     "boot": ["bios", "uefi"]}


def test_identical_upload_returns_the_registered_image(people):
    assert people.post("/igor/images/register", ROOT, **form()).status_code == 201
    r = people.post("/igor/images/register", ROOT, **form(boot="uefi", breed="suse"))
    assert r.status_code == 200, r.json
    assert r.json["message"] == (f"igor boot image files registered to refID: {NAME} "
                                 "(identical files were already registered)")
    assert r.json["data"]["image"]["boot"] == ["bios"]  # the existing image, unchanged
    assert len(rows(people)) == 1
    assert leftovers(people) == [IMAGE_ID, f"{IMAGE_ID}/initrd.img", f"{IMAGE_ID}/vmlinuz"]


def test_same_content_under_other_names_is_the_same_image(people):
    first = register_pair(people.services, KERNEL, INITRD)
    again = register_pair(people.services, KERNEL, INITRD, kernel_name="k2", initrd_name="i2")
    assert (again.name, again.created, again.kernel) == (first.name, False, "vmlinuz")
    assert sorted(p.name for p in (store(people).images_root / IMAGE_ID).iterdir()) == ["initrd.img", "vmlinuz"]


def test_swapping_kernel_and_initrd_is_another_image(people):
    a = register_pair(people.services, KERNEL, INITRD)
    b = register_pair(people.services, INITRD, KERNEL)
    assert a.image_id != b.image_id and len(rows(people)) == 2


# -- register from staged files ------------------------------------------------------------------------------------


def test_staged_files_are_registered_then_removed_from_staging(people):
    stage = stage_dir(people)
    stage.mkdir(parents=True, exist_ok=True)
    (stage / "tiny.kernel").write_bytes(KERNEL)
    (stage / "tiny.initrd").write_bytes(INITRD)
    (stage / "other").write_bytes(b"untouched")
    r = people.post("/igor/images/register", ROOT,
                    **multipart({"kstaged": "tiny.kernel", "istaged": "tiny.initrd", "boot": ["bios", "uefi"]}))
    assert r.status_code == 201, r.json
    assert r.json["data"]["image"]["kernel"] == "tiny.kernel"
    assert r.json["data"]["image"]["boot"] == ["bios", "uefi"]
    assert sorted(p.name for p in stage.iterdir()) == ["other"]
    assert (store(people).images_root / IMAGE_ID / "tiny.initrd").read_bytes() == INITRD
    # registering the same files again: already registered, and the staged copies still go
    (stage / "tiny.kernel").write_bytes(KERNEL)
    (stage / "tiny.initrd").write_bytes(INITRD)
    r = people.post("/igor/images/register", ROOT,
                    **multipart({"kstaged": "tiny.kernel", "istaged": "tiny.initrd", "boot": "bios"}))
    assert r.status_code == 200 and r.json["message"].endswith("(identical files were already registered)")
    assert sorted(p.name for p in stage.iterdir()) == ["other"]


def test_staged_names_that_escape_or_do_not_exist_are_refused(people, tmp_path):
    stage = stage_dir(people)
    stage.mkdir(parents=True, exist_ok=True)
    (stage / "k").write_bytes(KERNEL)
    outside = tmp_path / "secret"
    outside.write_bytes(b"secret")
    (stage / "link").symlink_to(outside)
    (stage / "adir").mkdir()
    cases = [
        ("../secret", 400, "staged kernel file name '../secret' must be a plain file name, without '/' or '\\'"),
        ("..", 400, "staged kernel file name '..' must not contain '..'"),
        (".hidden", 400, "staged kernel file name '.hidden' must not start with '.'"),
        ("a b", 400, "staged kernel file name 'a b' must not contain spaces or control characters"),
        ("x" * 129, 400, "invalid parameter 'kstaged': longer than 128 characters"),
        ("link", 400, "staged kernel file 'link' is not inside "),
        ("adir", 400, "staged kernel file 'adir' is not a regular file"),
        ("missing", 404, "staged kernel file 'missing' not found in the staging folder "),
    ]
    for name, status, message in cases:
        refused(people, status, message, prefix=True,
                **multipart({"kstaged": name, "istaged": "k", "boot": "bios"}))
    assert outside.read_bytes() == b"secret"
    assert (stage / "k").exists()


def test_staged_files_over_the_upload_limit_are_413_and_stay_staged(people):
    stage = stage_dir(people)
    stage.mkdir(parents=True, exist_ok=True)
    (stage / "tiny.kernel").write_bytes(b"K" * 100)
    (stage / "huge.initrd").write_bytes(INITRD)
    store(people).max_image_bytes = len(INITRD) - 1
    refused(people, 413, f"staged initrd file 'huge.initrd' is larger than the limit of {len(INITRD) - 1} bytes "
                         f"({len(INITRD)} bytes)",
            **multipart({"kstaged": "tiny.kernel", "istaged": "huge.initrd", "boot": "bios"}))
    assert sorted(p.name for p in stage.iterdir()) == ["huge.initrd", "tiny.kernel"]
    store(people).max_image_bytes = len(INITRD)
    r = people.post("/igor/images/register", ROOT,
                    **multipart({"kstaged": "tiny.kernel", "istaged": "huge.initrd", "boot": "bios"}))
    assert r.status_code == 201, r.json


# -- breeds and boot modes -----------------------------------------------------------------------------------------


def test_detection_fills_a_blank_breed_and_records_kernel_version_and_initrd_os(people):
    view = register_pair(people.services, fake_bzimage(UBUNTU_KERNEL), INITRD)
    assert view.breed == "ubuntu"  # "-generic" in the version is not taken for the generic breed
    assert (view.kernel_info, view.initrd_info) == ("5.15.0-91-generic", "unknown")
    rhel = register_pair(people.services, fake_bzimage(UBUNTU_KERNEL), gzip.compress(dracut_like()))
    assert (rhel.breed, rhel.initrd_info) == ("redhat", "RHEL 9.2")  # the initrd's os-release wins
    with db_session:
        assert people.services.db.DistroImage.get(name=rhel.name).initrd_info == "RHEL 9.2"


def test_distros_show_the_detected_initrd_os(people):
    view = register_pair(people.services, KERNEL, cpio(("etc/os-release", OS_RELEASE_RHEL)))
    r = people.post("/igor/distros", ROOT, json={"name": "rhel92", "imageRef": view.name})
    assert r.status_code == 201, r.json
    assert r.json["data"]["distro"][0]["initrdInfo"] == "RHEL 9.2"


def test_the_breed_given_is_kept_whatever_detection_says(people):
    """v2 overwrote the admin's breed with the detected one (reference §11 item 12)."""
    r = people.post("/igor/images/register", ROOT, **form(kernel=fake_bzimage(UBUNTU_KERNEL), breed="debian"))
    assert r.status_code == 201 and r.json["data"]["image"]["breed"] == "debian"
    r = people.post("/igor/images/register", ROOT, **form(initrd=gzip.compress(dracut_like()), breed="suse"))
    assert r.status_code == 201 and r.json["data"]["image"]["breed"] == "suse"


def test_undetectable_kernel_gets_generic_and_generic_linux_means_generic(people):
    view = register_pair(people.services, b"k1", b"i1")
    assert (view.breed, view.kernel_info, view.initrd_info) == ("generic", "", "unknown")
    r = people.post("/igor/images/register", ROOT, **form(breed="generic-linux"))
    assert r.status_code == 201 and r.json["data"]["image"]["breed"] == "generic"


def test_failed_detection_never_fails_registration(people):
    def broken(kernel, initrd):
        raise RuntimeError("detector bug")

    people.services.images.detect = broken
    r = people.post("/igor/images/register", ROOT, **form(kernel=fake_bzimage(UBUNTU_KERNEL)))
    assert r.status_code == 201, r.json
    with db_session:
        image = people.services.db.DistroImage.get(name=r.json["data"]["image"]["name"])
        assert (image.breed, image.kernel_info, image.initrd_info) == ("generic", "", "unknown")


def test_detection_runs_once_per_new_image(people):
    calls = []

    def detect(kernel, initrd):
        calls.append((kernel.read_bytes(), initrd.read_bytes()))
        return ImageInfo("6.1.0", "Debian GNU/Linux 12", "debian")

    people.services.images.detect = detect
    first = register_pair(people.services, KERNEL, INITRD)
    again = register_pair(people.services, KERNEL, INITRD, breed="redhat")
    assert calls == [(KERNEL, INITRD)]  # read before the files are installed; not again for a known pair
    assert (first.breed, first.kernel_info, first.initrd_info) == ("debian", "6.1.0", "Debian GNU/Linux 12")
    assert (again.created, again.breed) == (False, "debian")


def test_a_local_boot_image_may_take_its_breed_from_detection(people):
    r = people.post("/igor/images/register", ROOT, **form(initrd=gzip.compress(dracut_like()), localBoot="true"))
    assert r.status_code == 201, r.json
    assert (r.json["data"]["image"]["breed"], r.json["data"]["image"]["local"]) == ("redhat", "yes")


def test_breed_and_boot_mode_rules(people):
    refused(people, 400, "invalid breed 'plan9': must be one of debian, freebsd, generic, nexenta, redhat, suse, "
                         "ubuntu, unix, vmware, windows, xen", **form(breed="plan9"))
    refused(people, 400, "invalid boot type 'pxe': must be bios or uefi", **form(boot="bios,pxe"))
    refused(people, 400, "at least one value required for image boot type: bios, uefi", **form(boot=","))
    refused(people, 400, "required parameter 'boot' not found", **form(boot=None))
    refused(people, 400, "a local-boot image needs a breed (none was given and none was detected from the kernel "
                         "or initrd): one of debian, freebsd, generic, nexenta, redhat, suse, ubuntu, unix, vmware, "
                         "windows, xen", **form(localBoot="true"))
    r = people.post("/igor/images/register", ROOT, **form(localBoot="true", breed="RedHat", boot=["uefi", "bios"]))
    assert r.status_code == 201, r.json
    assert (r.json["data"]["image"]["local"], r.json["data"]["image"]["breed"]) == ("yes", "redhat")
    assert rows(people) == [(NAME, IMAGE_ID, "vmlinuz", "initrd.img", "redhat", True, True, True)]


# -- refused uploads -----------------------------------------------------------------------------------------------


def test_wrong_content_type_is_415(people):
    refused(people, 415, "need content-type 'multipart/form-data', but got 'application/json'",
            json={"kstaged": "a", "istaged": "b", "boot": ["bios"]})
    refused(people, 415, "need content-type 'multipart/form-data', but got 'text/plain'",
            body="kernel", headers={"Content-Type": "text/plain"})


def test_missing_or_mixed_parts_are_refused(people):
    refused(people, 400, "required parameter 'initrdFile' not found (an upload needs both kernelFile and "
                         "initrdFile)", **multipart({"kernelFile": ("vmlinuz", KERNEL), "boot": "bios"}))
    refused(people, 400, "required parameter 'kstaged' not found (staged files need both kstaged and istaged)",
            **multipart({"istaged": "i", "boot": "bios"}))
    refused(people, 400, NO_FILES, **multipart({"boot": "bios", "breed": "redhat"}))
    refused(people, 400, "give either kernelFile and initrdFile (uploads) or kstaged and istaged (staged files), "
                         "not both", **form(kstaged="k", istaged="i"))
    refused(people, 400, "requested operation had no parameters")
    refused(people, 400, "invalid parameter 'kernelFile': must be a file, got string",
            **multipart({"kernelFile": "vmlinuz", "initrdFile": ("i", INITRD), "boot": "bios"}))
    refused(people, 400, "invalid parameter: 'kernelFile' cannot have multiple values",
            **multipart({"kernelFile": [("a", KERNEL), ("b", KERNEL)], "initrdFile": ("i", INITRD),
                         "boot": "bios"}))


def test_empty_files_and_equal_names_are_refused(people):
    refused(people, 400, "kernel file 'vmlinuz' is empty", **form(kernel=b""))
    refused(people, 400, "the kernel and initrd files must have different names (both are 'same')",
            **multipart({"kernelFile": ("same", KERNEL), "initrdFile": ("same", INITRD), "boot": "bios"}))


@pytest.mark.parametrize(("filename", "problem"), [
    ("../vmlinuz", "must be a plain file name, without '/' or '\\'"),
    ("/boot/vmlinuz", "must be a plain file name, without '/' or '\\'"),
    ("..\\\\vmlinuz", "must be a plain file name, without '/' or '\\'"),
    ("vmlinuz..", "must not contain '..'"),
    (".vmlinuz", "must not start with '.'"),
    ("vm linuz", "must not contain spaces or control characters"),
    ("vmlinuz;rm", "may use only letters, digits and '.', '_', '+', '~', '-'"),
])
def test_unsafe_upload_names_are_refused(people, filename, problem):
    r = refused(people, 400, "'kernelFile' file name '", prefix=True,
                **multipart({"kernelFile": (filename, KERNEL), "initrdFile": ("i", INITRD), "boot": "bios"}))
    assert r.json["message"].endswith(problem), r.json["message"]


def test_absurdly_long_upload_name_is_refused(people):
    r = refused(people, 400, "'kernelFile' file name '", prefix=True,
                **multipart({"kernelFile": ("k" * 300, KERNEL), "initrdFile": ("i", INITRD), "boot": "bios"}))
    assert r.json["message"].endswith("is longer than 128 characters")


def test_oversize_upload_is_413_and_leaves_nothing(people):
    store(people).max_image_bytes = 2500
    refused(people, 413, "file 'kernelFile' (vmlinuz) is larger than the limit of 2500 bytes", **form())
    store(people).max_image_bytes = 1000  # a declared length over two files' worth: refused before reading
    refused(people, 413, "request body is larger than two image files of at most 1000 bytes",
            **form(kernel=b"K" * (1 << 21)))


def test_non_admins_are_refused_before_anything_is_stored(people):
    refused(people, 403, "access denied", "alice", **form())
    refused(people, 403, ELEVATE_MSG, "dave", **form())
    refused(people, 401, "user authentication failed - verify token failed - no token", None, **form())
    refused(people, 403, "access denied", "carol", method="GET", path="/igor/images")
    register_pair(people.services, KERNEL, INITRD)
    refused(people, 403, "access denied", "bob", method="DELETE", path=f"/igor/images/{NAME}")
    people.elevate("dave")
    assert people.post("/igor/images/register", "dave", **form(kernel=b"other")).status_code == 201


# -- concurrency ---------------------------------------------------------------------------------------------------


def _race(n: int, work) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _copies(api, n: int) -> list[tuple[Path, Path]]:
    base = Path(api.services.config.igor_home) / "copies"
    out = []
    for i in range(n):
        d = base / str(i)
        d.mkdir(parents=True)
        (d / "vmlinuz").write_bytes(KERNEL)
        (d / "initrd.img").write_bytes(INITRD)
        out.append((d / "vmlinuz", d / "initrd.img"))
    return out


@pytest.mark.parametrize("locked", [True, False], ids=["store-lock", "unique-constraint-only"])
def test_concurrent_registration_of_one_pair_makes_one_image(people, monkeypatch, locked):
    """Eight threads register the same pair at once: one image, every caller gets it, exactly one created it.
    Without the store's lock (as between two server hosts) the unique image_id column decides."""
    n = 8
    if not locked:
        monkeypatch.setattr(store(people), "lock", nullcontext)
        # Make the race certain: every thread looks for the image before any of them inserts it.
        checked, first = threading.Barrier(n), threading.local()
        look = people.services.images._existing

        def look_then_wait(image_id: str):
            found = look(image_id)
            if not getattr(first, "done", False):
                first.done = True
                checked.wait(30)
            return found

        monkeypatch.setattr(people.services.images, "_existing", look_then_wait)
    copies = _copies(people, n)
    admin = people.services.auth.principal_for(ROOT)
    results = _race(n, lambda i: people.services.images.register_files(admin, *copies[i], consume=True))
    assert all(not isinstance(r, Exception) for r in results), results
    assert {r.name for r in results} == {NAME}
    assert sum(r.created for r in results) == 1
    assert len(rows(people)) == 1
    folder = store(people).images_root / IMAGE_ID
    assert sorted(p.name for p in folder.iterdir()) == ["initrd.img", "vmlinuz"]
    assert (folder / "vmlinuz").read_bytes() == KERNEL
    assert not any(p.exists() for pair in copies for p in pair)  # consumed


def test_concurrent_uploads_through_the_api_make_one_image(people):
    people.login(ROOT)
    results = _race(6, lambda i: people.post("/igor/images/register", ROOT, **form()))
    assert sorted(r.status_code for r in results) == [200] * 5 + [201], [r.json for r in results]
    assert len(rows(people)) == 1
    assert leftovers(people) == [IMAGE_ID, f"{IMAGE_ID}/initrd.img", f"{IMAGE_ID}/vmlinuz"]


# -- delete --------------------------------------------------------------------------------------------------------


def test_delete_removes_the_row_and_the_files(people):
    view = register_pair(people.services, KERNEL, INITRD)
    folder = store(people).images_root / view.image_id
    assert folder.is_dir()
    r = people.delete(f"/igor/images/{view.name}", ROOT)
    assert (r.status_code, r.json["message"]) == (200, "")
    assert rows(people) == [] and not folder.exists()
    refused(people, 404, f"image '{view.name}' not found", method="DELETE", path=f"/igor/images/{view.name}")
    refused(people, 404, "image '..' not found", method="DELETE", path="/igor/images/..")


def test_delete_is_refused_while_distros_use_the_image(people):
    view = register_pair(people.services, KERNEL, INITRD)
    distro(people, "zeta", view.name)
    distro(people, "alpha", view.name)
    refused(people, 409, "cannot delete image while linked to existing distros. Delete the following distros "
                         "first: [alpha zeta]", method="DELETE", path=f"/igor/images/{view.name}")
    assert (store(people).images_root / view.image_id / "vmlinuz").exists()


def test_remove_if_orphan_keeps_used_images(people):
    images = people.services.images
    view = register_pair(people.services, KERNEL, INITRD)
    distro(people, "d1", view.name)
    assert images.remove_if_orphan(view.name) is False
    with db_session:
        people.services.db.Distro.get(name="d1").delete()
    assert images.remove_if_orphan(view.name) is True
    assert rows(people) == [] and not (store(people).images_root / view.image_id).exists()
    assert images.remove_if_orphan(view.name) is False


# -- the service as the distro routes use it -----------------------------------------------------------------------


def test_register_files_without_principal_copies_and_keeps_sources(people, tmp_path):
    k, i = tmp_path / "my.kernel", tmp_path / "my.initrd"
    k.write_bytes(KERNEL)
    i.write_bytes(INITRD)
    view = people.services.images.register_files(None, k, i, boot=("uefi",), breed="xen")
    assert (view.name, view.created, view.kernel, view.boot, view.breed) == (NAME, True, "my.kernel", ("uefi",),
                                                                               "xen")
    assert (view.kernel_path, view.initrd_path) == (f"igor_images/{IMAGE_ID}/my.kernel",
                                                    f"igor_images/{IMAGE_ID}/my.initrd")
    assert k.exists() and i.exists()
    installed = store(people).tftp_root / view.kernel_path
    assert installed.read_bytes() == KERNEL and installed.stat().st_ino != k.stat().st_ino
    assert people.services.images.get(NAME) == view
    assert people.services.images.get("ki00000000") is None


def test_register_files_checks_the_caller_when_given(people, tmp_path):
    from igor.errors import Forbidden

    k, i = tmp_path / "k", tmp_path / "i"
    k.write_bytes(KERNEL)
    i.write_bytes(INITRD)
    with pytest.raises(Forbidden, match="access denied"):
        people.services.images.register_files(people.services.auth.principal_for("alice"), k, i)
    assert rows(people) == []


def test_openapi_documents_the_multipart_forms(people):
    doc = people.get("/igor/openapi.json").json
    body = doc["paths"]["/igor/images/register"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["kernelFile"]["format"] == "binary"
    assert schema["properties"]["localBoot"]["type"] == "boolean"
    assert schema["required"] == ["boot"]
    assert "201" in doc["paths"]["/igor/images/register"]["post"]["responses"]
    ks = doc["paths"]["/igor/kickstart/{kickstartName}"]["patch"]["requestBody"]["content"]
    assert set(ks["multipart/form-data"]["schema"]["properties"]) == {"kickstart", "name"}
