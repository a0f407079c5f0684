"""The real ``igor`` executable against a live ``igor-server --demo`` (one per module, with image uploads allowed):
``distro create|show|edit|del`` from every source, public/default/deprecated distros and group sharing,
``profile create|show|edit|del`` per owner, and reservations made with a profile or with a distro plus kernel
args (a temporary ``tpf_`` profile), with exit codes (0 ok, 1 refused, 2 usage) and the table and ``--json``
output.

The server is shared by the module's tests: each makes its own distros and profiles (unique names) and deletes
them; ``carol`` is an extra user outside ``demo-team`` (alice and bob are in it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from igor.services.distros import UPLOAD_DISABLED
from tests.cli.catalog import Demo, image_names, make_pair, ok, refused, unique, upload_demo
from tests.cli.live import ADMIN_PW, ALICE_PW, Igor
from tests.test_server import running_demo

NO_DISTROS = "igor: no distros to show (yet) or no matches based on search criteria"
NO_SOURCE = ("igor: a new distro must have ONE of the following: existing distro, existing image, image ref, or "
             "kernel file AND initrd file")
BAD_NAME = ("is not a legal {what} name (must be 3-24 characters from letters, digits, '_', '-' and '.', start with "
            "a letter, digit or underscore, and not be all digits or punctuation)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with upload_demo(tmp_path_factory.mktemp("server") / "home") as running:
        yield running


@pytest.fixture(scope="module")
def server(demo: Demo) -> str:
    return demo.base


def _runner(demo: Demo, factory: pytest.TempPathFactory, user: str, password: str) -> Igor:
    runner = Igor(demo.base, factory.mktemp(user) / "client")
    runner.login(user, password)
    return runner


@pytest.fixture(scope="module")
def admin(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Igor:
    return _runner(demo, tmp_path_factory, "igor-admin", ADMIN_PW)


@pytest.fixture(scope="module")
def alice(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Igor:
    return _runner(demo, tmp_path_factory, "alice", ALICE_PW)


@pytest.fixture(scope="module")
def bob(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Igor:
    return _runner(demo, tmp_path_factory, "bob", ALICE_PW)


@pytest.fixture(scope="module")
def carol_name(admin: Igor) -> str:
    """A user in no group but her own (a unique name)."""
    name = unique("carol")
    assert ok(admin("user", "create", name, f"{name}@example.org"))
    return name


@pytest.fixture(scope="module")
def carol(demo: Demo, tmp_path_factory: pytest.TempPathFactory, carol_name: str) -> Igor:
    return _runner(demo, tmp_path_factory, carol_name, ALICE_PW)  # new accounts get the demo's default password


@pytest.fixture(scope="module")
def image(admin: Igor, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A netboot image registered once for the module, kept by an admin's distro: deleting the last distro of an
    image deletes the image too (Igor v2)."""
    pair = make_pair(tmp_path_factory.mktemp("image"))
    assert ok(admin("image", "register", "-k", str(pair.kernel), "-i", str(pair.initrd), "--boot", "bios"))
    assert ok(admin("distro", "create", unique("keep"), "--image-ref", pair.name))
    return pair.name


@pytest.fixture(scope="module")
def team(alice: Igor, image: str) -> str:
    """alice's distro shared with demo-team (bob may use it, carol may not)."""
    name = unique("team")
    assert ok(alice("distro", "create", name, "--image-ref", image, "-g", "demo-team", "-k", "console=ttyS0"))
    return name


def distros(runner: Igor, *filters: str) -> list[str]:
    return [d["name"] for d in runner.json("distro", "show", *filters)["distros"]]


def distro(runner: Igor, name: str) -> dict:
    found = runner.json("distro", "show", "-n", name)["distros"]
    assert len(found) == 1, found
    return found[0]


def profiles(runner: Igor, *filters: str) -> dict[tuple[str, str], dict]:
    return {(p["owner"], p["name"]): p for p in runner.json("profile", "show", *filters)["profiles"]}


def temp_profiles(runner: Igor) -> list[dict]:
    return [p for p in runner.json("profile", "show")["profiles"] if p["name"].startswith("tpf_")]


# --- create ---------------------------------------------------------------------------------------------------------


def test_create_from_an_image_ref_and_show(alice: Igor, bob: Igor, carol: Igor, image: str) -> None:
    name, plain = unique("d"), unique("d")
    made = alice.json("distro", "create", name, "--image-ref", image, "-g", "demo-team", "-k",
                      " quiet console=ttyS0,115200 ", "--desc", "my OS")["distro"]
    assert len(made) == 1
    assert {k: made[0][k] for k in ("name", "owner", "groups", "imageRef", "kernelArgs", "description", "isPublic",
                                    "isDefault", "kickstart", "localBoot", "kernel", "initrd", "image_type")} == {
        "name": name, "owner": "alice", "groups": ["demo-team"], "imageRef": image,
        "kernelArgs": "quiet console=ttyS0,115200", "description": "my OS", "isPublic": False, "isDefault": False,
        "kickstart": "", "localBoot": False, "kernel": "vmlinuz", "initrd": "initrd.img", "image_type": "ki"}
    assert ok(alice("distro", "create", plain, "--image-ref", image)) == f"igor: distro '{plain}' created"
    assert refused(alice("distro", "create", plain, "--image-ref", image)) == \
        f"igor: distro name already in use: {plain}"

    table = ok(alice("distro", "show", "-n", f"{name},{plain}")).splitlines()
    assert table[0].split() == ["NAME", "DESCRIPTION", "OWNER", "PUBLIC?", "GROUPS", "TYPE", "KERNEL", "INITRD",
                                "KICKSTART", "KERNEL-ARGS"]
    rows = {line.split()[0]: line.split() for line in table[2:]}
    assert rows == {
        name: [name, "my", "OS", "alice", "no", "demo-team", "ki", "vmlinuz", "initrd.img", "quiet",
               "console=ttyS0,115200"],
        plain: [plain, "alice", "no", "ki", "vmlinuz", "initrd.img"]}
    assert [line.split()[0] for line in table[2:]] == sorted([name, plain])
    assert distros(bob, "-n", f"{name},{plain}") == [name]  # shared with demo-team only
    assert distros(carol, "-n", f"{name},{plain}") == []
    assert ok(carol("distro", "show", "-n", name)) == NO_DISTROS
    for each in (name, plain):
        assert ok(alice("distro", "del", each)) == f"igor: distro '{each}' deleted"
    assert refused(alice("distro", "del", plain)) == f"igor: the distro '{plain}' does not exist"


def test_create_from_an_upload(admin: Igor, bob: Igor, demo: Demo, tmp_path: Path) -> None:
    assert bob.json("settings")["igor"]["canUploadImages"] is True  # this module's server.allowImageUpload
    pair = make_pair(tmp_path / "one")
    first, second = unique("up"), unique("up")
    made = bob.json("distro", "create", first, "--kernel", str(pair.kernel), "--initrd", str(pair.initrd))
    assert (made["distro"][0]["imageRef"], made["distro"][0]["owner"]) == (pair.name, "bob")
    shown = {i["name"]: i for i in admin.json("image", "show")["distroImages"]}[pair.name]
    assert (shown["distros"], shown["kernel"], shown["boot"]) == ([first], "vmlinuz", ["bios"])

    copy = make_pair(tmp_path / "copy", "other.kernel", "other.initrd")  # the same bytes: the same image
    copy.kernel.write_bytes(pair.kernel.read_bytes())
    copy.initrd.write_bytes(pair.initrd.read_bytes())
    assert ok(bob("distro", "create", second, "--kernel", str(copy.kernel), "--initrd", str(copy.initrd))) == \
        f"igor: distro '{second}' created"
    assert distro(bob, second)["imageRef"] == pair.name and image_names(admin).count(pair.name) == 1

    assert ok(bob("distro", "del", first)) == f"igor: distro '{first}' deleted"
    assert pair.name in image_names(admin)
    assert ok(bob("distro", "del", second)) == f"igor: distro '{second}' deleted"
    assert pair.name not in image_names(admin)  # its last distro took the uploaded image with it
    assert not (demo.home / "igor_images" / pair.image_id).exists()


def test_uploads_are_refused_unless_the_server_allows_them(tmp_path: Path) -> None:
    """The plain demo (no ``server.allowImageUpload``): refused before the files are stored."""
    with running_demo(tmp_path / "home") as (base, _proc):
        bob = Igor(base, tmp_path / "bob")
        bob.login("bob", ALICE_PW)
        assert bob.json("settings")["igor"]["canUploadImages"] is False
        pair = make_pair(tmp_path / "files")
        name = unique("up")
        assert refused(bob("distro", "create", name, "--kernel", str(pair.kernel), "--initrd", str(pair.initrd))) == \
            f"igor: {UPLOAD_DISABLED}"
        assert bob.json("distro", "show") == {"distros": []}
        assert list((tmp_path / "home" / "igor_staged_images").glob(".upload-*")) == []


def test_upload_refusals(admin: Igor, bob: Igor, demo: Demo, image: str, tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    odd = make_pair(tmp_path / "odd", ".vmlinuz", "vm..initrd")
    kernel, initrd, missing = str(pair.kernel), str(pair.initrd), str(tmp_path / "nope")
    name = unique("up")
    usage = [
        (["--kernel", kernel], "igor: --kernel needs --initrd: give both"),
        (["--initrd", initrd, "-g", "demo-team"], "igor: --initrd needs --kernel: give both"),
        (["--kernel", missing, "--initrd", initrd], f"igor: --kernel: {missing}: no such file"),
        (["--kernel", kernel, "--initrd", str(tmp_path)], f"igor: --initrd: {tmp_path}: not a file"),
    ]
    for args, message in usage:
        assert refused(bob("distro", "create", name, *args), code=2) == message, args
    server = [
        (["--kernel", kernel, "--initrd", initrd, "--kickstart", "anyks"],
         "igor: distro image intended for local install/boot must be registered as a separate step (by an admin: "
         "igor image register --local-boot), not uploaded with a kickstart"),
        (["--kernel", kernel, "--initrd", initrd, "--image-ref", image],
         "igor: a new distro takes ONE source; got imageRef and kernelFile+initrdFile"),
        (["--kernel", str(odd.kernel), "--initrd", initrd],
         "igor: 'kernelFile' file name '.vmlinuz' must not start with '.'"),
        (["--kernel", kernel, "--initrd", str(odd.initrd)],
         "igor: 'initrdFile' file name 'vm..initrd' must not contain '..'"),
        (["--kernel", kernel, "--initrd", initrd, "-g", "nogroup"],
         "igor: error finding group(s) for distro: nogroup"),
    ]
    for args, message in server:
        assert refused(bob("distro", "create", name, *args)) == message, args
    assert distros(bob, "-n", name) == [] and pair.name not in image_names(admin)
    assert sorted(p.name for p in (demo.home / "igor_staged_images").glob(".upload-*")) == []


def test_copy_distro_and_use_distro_image(alice: Igor, bob: Igor, image: str) -> None:
    base, copy, args, img = unique("base"), unique("copy"), unique("args"), unique("img")
    assert ok(alice("distro", "create", base, "--image-ref", image, "-k", "quiet", "--desc", "the base"))
    copied = alice.json("distro", "create", copy, "--copy-distro", base)["distro"][0]
    assert (copied["description"], copied["kernelArgs"], copied["imageRef"]) == ("the base", "quiet", image)
    own_args = alice.json("distro", "create", args, "--copy-distro", base, "-k", "debug")["distro"][0]
    assert (own_args["description"], own_args["kernelArgs"]) == ("the base", "debug")  # given values win
    image_only = alice.json("distro", "create", img, "--use-distro-image", base)["distro"][0]
    assert (image_only["description"], image_only["kernelArgs"], image_only["imageRef"]) == ("", "", image)

    other = unique("bobs")
    assert refused(bob("distro", "create", other, "--copy-distro", base)) == \
        f"igor: must be the owner of the existing distro {base} when using to create new"
    assert refused(bob("distro", "create", other, "--use-distro-image", base)) == \
        f"igor: must be the owner of the existing distro {base} to use its image in a new distro"
    assert refused(bob("distro", "create", other, "--copy-distro", unique("none"))).endswith("' not found")
    clash = refused(alice("distro", "create", other, "--image-ref", image, "--copy-distro", base), code=2)
    assert clash.startswith("igor: argument --copy-distro: not allowed with argument --image-ref")
    for name in (base, copy, args, img):
        assert ok(alice("distro", "del", name))


def test_public_distro(admin: Igor, alice: Igor, carol: Igor, image: str) -> None:
    name = unique("pub")
    assert refused(alice("distro", "create", name, "--image-ref", image, "-p", "-g", "demo-team")) == \
        "igor: a public distro cannot be assigned to specific groups: demo-team"
    made = alice.json("distro", "create", name, "--image-ref", image, "--public")["distro"][0]
    assert (made["owner"], made["isPublic"], made["groups"]) == ("igor-admin", True, [])
    assert name in distros(carol)  # everyone may use it
    line = next(line for line in ok(carol("distro", "show", "-n", name)).splitlines() if line.startswith(name))
    assert line.split()[1:3] == ["igor-admin", "yes"]
    # alice gave it away: igor-admin owns it now
    assert refused(alice("distro", "edit", name, "--desc", "mine")) == f"igor: you cannot access the distro '{name}'"
    assert refused(alice("distro", "del", name)) == f"igor: you cannot access the distro '{name}'"
    assert ok(admin("distro", "del", name)) == f"igor: distro '{name}' deleted"


def test_default_distro(admin: Igor, alice: Igor, image: str) -> None:
    name = unique("def")
    assert refused(alice("distro", "create", name, "--image-ref", image, "--default")) == \
        "igor: setting a Distro as default is restricted to admins"
    assert refused(admin("distro", "create", name, "--image-ref", image, "--default", "-p")) == (
        "igor: a distro cannot be both public and the default distro (the default distro belongs to igor-admin and "
        "is shared with nobody)")
    made = admin.json("distro", "create", name, "--image-ref", image, "--default", "--desc", "maintenance")
    try:
        assert (made["distro"][0]["isDefault"], made["distro"][0]["owner"]) == (True, "igor-admin")
        assert distros(admin, "--default") == [name]
        table = ok(admin("distro", "show", "--default")).splitlines()
        assert table[2].startswith(f"{name} *")  # the default distro is marked
        assert refused(alice("distro", "show", "--default")) == "igor: must be elevated to search for default distro"
        assert name not in distros(alice)  # shared with nobody
        # a reservation naming no distro gets the default one (SPEC §7)
        res = unique("res")
        made_res = alice.json("res", "create", res, "-n", "1", "-e", "1h")["reservation"][0]
        assert (made_res["distro"], made_res["profile"]) == (name, "")
        assert ok(alice("res", "del", res)) == "igor: success"
        assert refused(admin("distro", "edit", name, "--default", "--default-remove"), code=2).startswith(
            "igor: argument --default-remove: not allowed with argument --default")
        assert ok(admin("distro", "edit", name, "--default-remove")) == \
            f"igor: distro '{name}' updated: it is no longer the default distro"
        assert distros(admin, "--default") == []
    finally:  # another default distro would boot every reservation of the module's other tests
        admin("distro", "edit", name, "--default-remove")
        admin("distro", "del", name)
    assert distros(admin, "-n", name) == []


def test_local_boot_image_needs_a_kickstart_and_an_admin(admin: Igor, alice: Igor, image: str,
                                                         tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    assert ok(admin("image", "register", "-k", str(pair.kernel), "-i", str(pair.initrd), "--boot", "bios", "-l",
                    "-b", "redhat"))
    ks = unique("ks")
    (tmp_path / f"{ks}.ks").write_text("lang en_US\n")
    assert ok(admin("kickstart", "register", "-k", str(tmp_path / f"{ks}.ks")))
    name = unique("inst")
    assert refused(admin("distro", "create", name, "--image-ref", pair.name)) == \
        "igor: kickstart file name required when creating a local boot distro"
    assert refused(alice("distro", "create", name, "--image-ref", pair.name, "--kickstart", ks)) == \
        "igor: creation of local boot Distro is restricted to admins"
    assert refused(admin("distro", "create", name, "--image-ref", pair.name, "--kickstart", "nosuchks")) == \
        "igor: kickstart 'nosuchks' not found"
    assert refused(admin("distro", "create", name, "--image-ref", image, "--kickstart", ks)) == (
        f"igor: kickstart script can only be assigned to a distro with a local boot image (image '{image}' is "
        "netboot only)")
    made = admin.json("distro", "create", name, "--image-ref", pair.name, "--kickstart", ks)["distro"][0]
    assert (made["localBoot"], made["kickstart"], made["breed"]) == (True, ks, "redhat")
    line = next(line for line in ok(admin("distro", "show", "-n", name)).splitlines() if line.startswith(name))
    assert ks in line.split()
    assert ok(admin("distro", "del", name))
    assert ok(admin("kickstart", "del", ks)) == "igor: success"


def test_create_refusals(alice: Igor, carol: Igor, image: str) -> None:
    name = unique("d")
    cases = [
        ([], NO_SOURCE),
        (["--image-ref", "kinothere"], "igor: invalid image reference 'kinothere': must be 'ki' or 'iso' followed "
                                       "by 8 letters or digits (e.g. kid942c59b)"),
        (["--image-ref", "ki00000000"], "igor: image 'ki00000000' not found"),
        (["--image-ref", image, "-g", "all"], "igor: cannot add group 'all' to a non-public distro (make it public "
                                              "instead)"),
        (["--image-ref", image, "-g", "demo-team,nogroup"], "igor: error finding group(s) for distro: nogroup"),
        (["--image-ref", image, "--desc", "no <html>"], "igor: description field invalid, must be 0-256 characters "
                                                        "and may only contain letters, numbers, space and "
                                                        ".,_-():?! characters (found '<')"),
        (["--image-ref", image, "-k", "quiet\nAPPEND evil"], "igor: kernel args may not contain new lines, tabs or "
                                                             "other control characters"),
    ]
    for args, message in cases:
        assert refused(alice("distro", "create", name, *args)) == message, args
    assert refused(alice("distro", "create", "dd", "--image-ref", image)) == \
        f"igor: 'dd' {BAD_NAME.format(what='distro')}"
    assert refused(carol("distro", "create", name, "--image-ref", image, "-g", "demo-team")) == \
        "igor: user is not a member of group demo-team to include in new distro"
    assert distros(alice, "-n", name) == []
    assert refused(alice("distro", "create", "--image-ref", image), code=2).startswith(
        "igor: the following arguments are required: NAME")


# --- show, edit, delete -------------------------------------------------------------------------------------------


def test_show_filters(admin: Igor, alice: Igor, bob: Igor, image: str, tmp_path: Path) -> None:
    kname, iname = unique("bz"), unique("cpio")
    other = make_pair(tmp_path, kname, iname)
    assert ok(admin("image", "register", "-k", str(other.kernel), "-i", str(other.initrd), "--boot", "bios"))
    mine, mine2, bobs = unique("a1"), unique("a2"), unique("b1")
    assert ok(alice("distro", "create", mine, "--image-ref", image, "-g", "demo-team"))
    assert ok(alice("distro", "create", mine2, "--image-ref", other.name))
    assert ok(bob("distro", "create", bobs, "--image-ref", other.name, "-g", "demo-team"))
    ours = f"{mine},{mine2},{bobs}"
    assert distros(alice, "-n", ours) == sorted([mine, mine2, bobs])
    assert distros(bob, "-n", ours) == sorted([mine, bobs])  # mine2 is not shared with bob
    assert distros(alice, "-n", ours, "-o", "bob") == [bobs]
    assert distros(alice, "-n", ours, "-g", "demo-team") == sorted([mine, bobs])
    assert distros(alice, "--image-ids", other.name) == sorted([mine2, bobs])
    assert distros(alice, "--image-ids", other.image_id) == sorted([mine2, bobs])  # the id works too
    assert distros(alice, "--kernels", kname) == sorted([mine2, bobs])
    assert distros(alice, "--initrds", iname, "-o", "alice") == [mine2]
    assert distros(alice, "--kernels", kname, "--initrds", "initrd.img") == []
    assert alice.json("distro", "show", "-n", unique("none")) == {"distros": []}
    assert ok(alice("distro", "show", "-n", unique("none"))) == NO_DISTROS
    simple = ok(alice("distro", "show", "-n", ours, "-x"))
    assert mine in simple and bobs in simple
    for runner, name in ((alice, mine), (alice, mine2), (bob, bobs)):
        assert ok(runner("distro", "del", name))
    assert other.name not in image_names(admin)


def test_edit_description_kernel_args_groups_name_and_owner(admin: Igor, alice: Igor, bob: Igor, carol_name: str,
                                                            image: str) -> None:
    name, renamed = unique("ed"), unique("ed")
    assert ok(alice("distro", "create", name, "--image-ref", image, "-k", "quiet"))
    assert ok(alice("distro", "edit", name, "--desc", "new desc", "-k", "debug")) == \
        f"igor: distro '{name}' updated: description updated; kernel args updated"
    shown = distro(alice, name)
    assert (shown["description"], shown["kernelArgs"]) == ("new desc", "debug")
    assert ok(alice("distro", "edit", name, "-a", "demo-team")) == \
        f"igor: distro '{name}' updated: groups are now demo-team"
    assert distros(bob, "-n", name) == [name]
    assert refused(bob("distro", "edit", name, "--desc", "x")) == f"igor: you cannot access the distro '{name}'"
    assert ok(alice("distro", "edit", name, "-r", "demo-team")) == f"igor: distro '{name}' updated: groups are now none"
    assert distros(bob, "-n", name) == []
    assert refused(alice("distro", "edit", name, "-r", "demo-team")) == \
        f'igor: target distro "{name}" does not contain group "demo-team" - edit operation aborted'
    assert refused(alice("distro", "edit", name, "-a", "all")) == \
        "igor: cannot add the group 'all' to a non-public distro (make it public instead)"
    assert refused(alice("distro", "edit", name)) == "igor: requested operation had no parameters"
    assert refused(alice("distro", "edit", unique("none"), "--desc", "x")).endswith("' does not exist")

    assert ok(alice("distro", "edit", name, "-n", renamed)) == f"igor: distro '{name}' updated: renamed to '{renamed}'"
    assert distros(alice, "-n", f"{name},{renamed}") == [renamed]
    # kernel args are frozen while a reservation uses the distro
    res = unique("res")
    assert ok(alice("res", "create", res, "-n", "1", "-e", "1h", "-d", renamed))
    assert refused(alice("distro", "edit", renamed, "-k", "other")) == \
        f"igor: distro kernel args cannot be updated while associated to active Reservations: [{res}]"
    assert ok(alice("distro", "edit", renamed, "--desc", "still editable")) == \
        f"igor: distro '{renamed}' updated: description updated"
    assert ok(alice("res", "del", res)) == "igor: success"
    assert ok(alice("distro", "edit", renamed, "-k", "other")) == \
        f"igor: distro '{renamed}' updated: kernel args updated"

    assert refused(alice("distro", "edit", renamed, "-i", "RHEL 9.2")) == \
        "igor: only admins can change the OS info of a distro's image"
    assert ok(admin("distro", "edit", renamed, "-i", "RHEL 9.2")) == \
        f"igor: distro '{renamed}' updated: image OS info updated"
    assert distro(alice, renamed)["initrdInfo"] == "RHEL 9.2"
    # a new owner must be a member of every group the distro is shared with
    assert ok(alice("distro", "edit", renamed, "-a", "demo-team"))
    assert refused(alice("distro", "edit", renamed, "-o", carol_name)) == \
        f"igor: intended distro owner {carol_name} is not a member of group(s) demo-team"
    assert ok(alice("distro", "edit", renamed, "-o", "bob")) == \
        f"igor: distro '{renamed}' updated: owner is now 'bob'; groups are now demo-team"
    assert distro(bob, renamed)["owner"] == "bob"
    assert refused(alice("distro", "edit", renamed, "--desc", "mine")) == \
        f"igor: you cannot access the distro '{renamed}'"
    assert ok(bob("distro", "del", renamed)) == f"igor: distro '{renamed}' deleted"


def test_deprecate(admin: Igor, alice: Igor, carol: Igor, carol_name: str, image: str) -> None:
    public, private = unique("old"), unique("priv")
    assert ok(alice("distro", "create", public, "--image-ref", image, "-p"))
    assert ok(alice("distro", "create", private, "--image-ref", image))
    assert refused(alice("distro", "edit", private, "-d")) == "igor: deprecating a distro is restricted to admins"
    assert refused(admin("distro", "edit", private, "-d")) == "igor: cannot deprecate a non-public distro"
    assert refused(admin("distro", "edit", public, "-d", "--desc", "x")) == \
        "igor: deprecate must be given alone; found also description"
    assert public in distros(carol)
    assert ok(admin("distro", "edit", public, "--deprecate")) == \
        f"igor: distro '{public}' deprecated: only admins can see and use it now"
    assert public not in distros(carol) and public not in distros(alice)
    shown = distro(admin, public)
    assert (shown["groups"], shown["isPublic"], shown["deprecated"]) == (["admins"], False, True)
    assert refused(carol("res", "create", unique("res"), "-n", "1", "-e", "1h", "-d", public)) == \
        f"igor: {carol_name} does not have access to distro '{public}'"
    assert ok(admin("distro", "del", public)) and ok(alice("distro", "del", private))


def test_delete_refused_while_profiles_use_the_distro(alice: Igor, bob: Igor, image: str) -> None:
    name, prof, res = unique("del"), unique("p"), unique("res")
    assert ok(alice("distro", "create", name, "--image-ref", image, "-g", "demo-team"))
    assert ok(bob("profile", "create", prof, name)) == f"igor: profile '{prof}' created"
    assert ok(alice("res", "create", res, "-n", "1", "-e", "1h", "-d", name))
    temp = [p["name"] for p in temp_profiles(alice) if p["distro"] == name]
    assert len(temp) == 1
    assert refused(alice("distro", "del", name)) == (
        f"igor: cannot delete distro, currently attached to profile(s) {prof} of bob; {temp[0]} of alice "
        f"(reservation {res}). Delete these profile(s) (or the reservations using them) before deleting this distro")
    assert refused(bob("distro", "del", name)) == f"igor: you cannot access the distro '{name}'"
    assert ok(alice("res", "del", res)) == "igor: success"  # its temporary profile goes with it
    assert refused(alice("distro", "del", name)).startswith(f"igor: cannot delete distro, currently attached to "
                                                            f"profile(s) {prof} of bob. ")
    assert ok(bob("profile", "del", prof)) == f"igor: profile '{prof}' deleted"
    assert ok(alice("distro", "del", name)) == f"igor: distro '{name}' deleted"
    assert distros(alice, "-n", name) == []


# --- profiles -------------------------------------------------------------------------------------------------------


def test_profile_create_show_edit_delete(alice: Igor, team: str) -> None:
    name, renamed = unique("p"), unique("p")
    made = alice.json("profile", "create", name, team, "-k", " console=ttyS0,115200 ", "--desc", "for tests")
    assert made == {"profile": [{"name": name, "description": "for tests", "owner": "alice", "distro": team,
                                 "kernelArgs": "console=ttyS0,115200", "isDefault": False, "reservations": []}]}
    table = ok(alice("profile", "show", "-n", name)).splitlines()
    assert table[0].split() == ["NAME", "OWNER", "DISTRO", "KERNEL-ARGS", "DESCRIPTION"]
    assert table[2].split() == [name, "alice", team, "console=ttyS0,115200", "for", "tests"]

    assert ok(alice("profile", "edit", name, "-k", "a=2", "--desc", "edited")) == \
        f"igor: profile '{name}' updated: description updated; kernel args updated"
    assert ok(alice("profile", "edit", name, "-n", renamed)) == \
        f"igor: profile '{name}' updated: renamed to '{renamed}'"
    assert list(profiles(alice, "-n", f"{name},{renamed}")) == [("alice", renamed)]
    shown = profiles(alice, "-n", renamed)[("alice", renamed)]
    assert (shown["kernelArgs"], shown["description"]) == ("a=2", "edited")
    assert list(profiles(alice, "-k", "a=2", "-d", team)) == [("alice", renamed)]
    assert ok(alice("profile", "show", "-n", unique("none"))) == \
        "igor: no profiles to show (yet) or no matches based on search criteria"

    assert ok(alice("profile", "del", renamed)) == f"igor: profile '{renamed}' deleted"
    assert refused(alice("profile", "del", renamed)) == f"igor: profile '{renamed}' not found"
    assert refused(alice("profile", "edit", renamed, "-k", "x")) == f"igor: profile '{renamed}' not found"


def test_profile_refusals(alice: Igor, carol: Igor, carol_name: str, team: str) -> None:
    taken = unique("p")
    assert ok(alice("profile", "create", taken, team))
    name = unique("p")
    cases = [
        (alice, ["tpf_abcd", team], "igor: profile name with prefix tpf_ not allowed (reserved for the temporary "
                                    "profiles of reservations)"),
        (alice, ["p", team], f"igor: 'p' {BAD_NAME.format(what='profile')}"),
        (alice, [taken, team], f"igor: profile '{taken}' already exists"),
        (alice, [name, "nodistro"], "igor: distro 'nodistro' not found"),
        (carol, [name, team], f"igor: {carol_name} does not have access to distro '{team}'"),
        (alice, [name, team, "--desc", "<b>"], "igor: description field invalid, must be 0-256 characters and may "
                                               "only contain letters, numbers, space and .,_-():?! characters "
                                               "(found '<')"),
    ]
    for runner, args, message in cases:
        assert refused(runner("profile", "create", *args)) == message, args
    assert refused(alice("profile", "create", name), code=2).startswith(
        "igor: the following arguments are required: DISTRO")
    assert refused(alice("profile", "show", "-o", "bob")) == "igor: user cannot search other user's profiles"
    assert refused(alice("profile", "edit", taken, "-n", "tpf_zzzz")) == (
        "igor: profile name with prefix tpf_ not allowed (reserved for the temporary profiles of reservations)")
    assert list(profiles(alice, "-n", f"{taken},{name}")) == [("alice", taken)]
    assert ok(alice("profile", "del", taken))


def test_two_users_with_the_same_profile_name_do_not_collide(admin: Igor, alice: Igor, bob: Igor,
                                                            team: str) -> None:
    name, ares, bres = unique("p"), unique("res"), unique("res")
    assert ok(alice("profile", "create", name, team, "-k", "alice=1"))
    assert ok(bob("profile", "create", name, team, "-k", "bob=1")) == f"igor: profile '{name}' created"
    assert list(profiles(alice, "-n", name)) == [("alice", name)]
    assert list(profiles(bob, "-n", name)) == [("bob", name)]
    assert sorted(profiles(admin, "-n", name)) == [("alice", name), ("bob", name)]
    assert ok(alice("profile", "edit", name, "-k", "alice=2"))
    assert profiles(bob, "-n", name)[("bob", name)]["kernelArgs"] == "bob=1"
    # an admin says whose profile with -o when several users have one of that name
    assert refused(admin("profile", "edit", name, "--desc", "x")) == \
        f"igor: several users have a profile named '{name}' (alice, bob): say whose with owner=NAME"
    assert ok(admin("profile", "edit", name, "-o", "bob", "--desc", "by root")) == \
        f"igor: profile '{name}' updated: description updated"
    assert profiles(bob, "-n", name)[("bob", name)]["description"] == "by root"
    assert profiles(alice, "-n", name)[("alice", name)]["description"] == ""
    assert refused(alice("profile", "edit", name, "-o", "bob", "--desc", "x")) == \
        f"igor: you cannot access the profile '{name}'"

    assert refused(alice("res", "create", ares, "-n", "1", "-e", "1h", "-p", name, "-k", "x"), code=2) == (
        "igor: kernel args cannot be added to an existing profile when creating a new reservation -- edit the "
        "profile first")
    made = alice.json("res", "create", ares, "-n", "1", "-e", "1h", "-p", name)["reservation"][0]
    assert (made["profile"], made["distro"]) == (name, team)
    assert ok(bob("res", "create", bres, "-n", "1", "-e", "1h", "-p", name)).startswith(
        f"igor: reservation '{bres}' created: ")
    assert profiles(bob, "-n", name)[("bob", name)]["reservations"] == [bres]
    assert profiles(alice, "-n", name)[("alice", name)]["reservations"] == [ares]

    assert refused(alice("profile", "del", name)) == \
        f"igor: cannot delete profile associated with a reservation: '{name}' is used by {ares}"
    assert ok(alice("res", "del", ares)) == "igor: success"
    assert ok(alice("profile", "del", name)) == f"igor: profile '{name}' deleted"
    assert list(profiles(bob, "-n", name)) == [("bob", name)]  # never bob's that goes
    assert refused(alice("profile", "del", name)) == f"igor: profile '{name}' not found"
    assert ok(bob("res", "del", bres))
    assert ok(admin("profile", "del", name, "-o", "bob")) == f"igor: profile '{name}' deleted (owner bob)"
    assert list(profiles(admin, "-n", name)) == []


def test_reservation_with_a_distro_and_kernel_args_gets_a_temporary_profile(alice: Igor, bob: Igor,
                                                                             team: str) -> None:
    res = unique("res")
    before = temp_profiles(alice)
    made = alice.json("res", "create", res, "-n", "1", "-e", "1h", "-d", team, "-k", "extra=1")["reservation"][0]
    assert (made["distro"], made["profile"]) == (team, "")  # a temporary profile is not shown as the profile
    new = [p for p in temp_profiles(alice) if p not in before]
    assert len(new) == 1
    temp = new[0]
    assert (temp["owner"], temp["distro"], temp["kernelArgs"], temp["isDefault"], temp["reservations"]) == \
        ("alice", team, "extra=1", True, [res])
    assert temp["description"] == f"Default profile for distro {team} for reservation {res}"
    assert len(temp["name"]) == 8 and temp["name"][4:].isalpha()
    assert temp["name"] in ok(alice("profile", "show"))
    assert all(p["name"] != temp["name"] for p in temp_profiles(bob))  # the owner's only

    assert ok(alice("res", "del", res)) == "igor: success"
    assert all(p["name"] != temp["name"] for p in temp_profiles(alice))  # gone with its reservation
    assert refused(alice("res", "create", unique("res"), "-n", "1", "-e", "1h", "-k", "quiet")) == \
        "igor: kernelArgs need a distro to boot with: give a distro (or a profile) too"


def test_editing_a_temporary_profile_makes_it_permanent(alice: Igor, team: str) -> None:
    res, keeper = unique("res"), unique("keep")
    assert ok(alice("res", "create", res, "-n", "1", "-e", "1h", "-d", team))
    temp = next(p["name"] for p in temp_profiles(alice) if p["reservations"] == [res])
    assert ok(alice("profile", "edit", temp, "-n", keeper)) == \
        f"igor: profile '{temp}' updated: renamed to '{keeper}'; it is now a permanent profile"
    assert alice.json("res", "show", "-n", res)["reservations"][0]["profile"] == keeper
    assert ok(alice("res", "del", res)) == "igor: success"
    kept = profiles(alice, "-n", keeper)[("alice", keeper)]
    assert (kept["isDefault"], kept["distro"], kept["reservations"]) == (False, team, [])
    assert ok(alice("profile", "del", keeper)) == f"igor: profile '{keeper}' deleted"
