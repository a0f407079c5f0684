"""The real ``igor`` executable against a live ``igor-server --demo`` (one per module): ``image register|show|del``
and ``kickstart register|show|edit|del`` — uploads, staged files, dedupe, the file-name rules, refusals while in
use, oversize and wrong-type files, and non-admin refusals, with exit codes (0 ok, 1 refused, 2 usage) and both
the table and the ``--json`` output.

The server is shared by the module's tests: every test uploads freshly generated files (a new image each time),
uses unique kickstart and distro names and deletes what it made.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from igor.cli.commands import NO_IMAGE_FILES
from tests.cli.catalog import Demo, image_names, make_pair, ok, refused, unique, upload_demo
from tests.cli.live import ADMIN_PW, ALICE_PW, Igor

BREEDS = "debian, freebsd, generic, nexenta, redhat, suse, ubuntu, unix, vmware, windows, xen"
KS_TEXT = "# kickstart\nlang en_US\n%post\ncurl http://igor:8444/igor/cb/svc/local\n%end\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with upload_demo(tmp_path_factory.mktemp("server") / "home") as running:
        yield running


@pytest.fixture(scope="module")
def server(demo: Demo) -> str:
    return demo.base


@pytest.fixture(scope="module")
def admin(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Igor:
    runner = Igor(demo.base, tmp_path_factory.mktemp("admin") / "client")
    runner.login("igor-admin", ADMIN_PW)
    return runner


@pytest.fixture(scope="module")
def alice(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Igor:
    runner = Igor(demo.base, tmp_path_factory.mktemp("alice") / "client")
    runner.login("alice", ALICE_PW)
    return runner


def register(runner: Igor, kernel: Path, initrd: Path, *flags: str, boot: str = "bios"):  # noqa: ANN201
    return runner("image", "register", "-k", str(kernel), "-i", str(initrd), "--boot", boot, *flags)


def registered(name: str) -> str:
    return f"igor: igor boot image files registered to refID: {name}"


def uploads_left(demo: Demo) -> list[str]:
    """Uploads being received that were never cleaned up (``<imageStagePath>/.upload-*``)."""
    stage = demo.home / "igor_staged_images"
    return sorted(p.name for p in stage.glob(".upload-*")) if stage.exists() else []


def kickstarts(admin: Igor) -> dict[str, dict]:
    return {k["name"]: k for k in admin.json("kickstart", "show")["kickstarts"]}


# --- images: register, show, dedupe, delete -----------------------------------------------------------------------


def test_register_show_dedupe_and_delete(admin: Igor, demo: Demo, tmp_path: Path) -> None:
    pair = make_pair(tmp_path / "first")
    name, image_id = pair.name, pair.image_id
    assert ok(register(admin, pair.kernel, pair.initrd)) == registered(name)

    shown = {i["name"]: i for i in admin.json("image", "show")["distroImages"]}
    assert shown[name] == {"name": name, "image_id": image_id, "image_type": "ki", "kernel": "vmlinuz",
                           "initrd": "initrd.img", "distros": [], "breed": "generic", "local": "no",
                           "boot": ["bios"]}
    table = ok(admin("image", "show")).splitlines()
    assert table[0].split() == ["NAME", "ID", "TYPE", "KERNEL", "INITRD", "BREED", "BOOT-TYPE", "LOCAL", "DISTROS"]
    assert [line.split() for line in table if line.startswith(name)] == \
        [[name, image_id, "ki", "vmlinuz", "initrd.img", "generic", "bios", "no"]]
    folder = demo.home / "igor_images" / image_id
    assert (folder / "vmlinuz").read_bytes() == pair.kernel.read_bytes()
    assert (folder / "initrd.img").read_bytes() == pair.initrd.read_bytes()
    assert pair.kernel.exists() and pair.initrd.exists()  # the client's files are left alone

    # the same bytes again, under other file names and settings: the registered image comes back unchanged
    again = make_pair(tmp_path / "again", "bzImage", "root.cpio")
    again.kernel.write_bytes(pair.kernel.read_bytes())
    again.initrd.write_bytes(pair.initrd.read_bytes())
    assert ok(register(admin, again.kernel, again.initrd, "-b", "suse", boot="uefi")) == \
        registered(name) + " (identical files were already registered)"
    same = admin.json("image", "register", "-k", str(again.kernel), "-i", str(again.initrd), "--boot", "bios")
    assert (same["image"]["name"], same["image"]["kernel"], same["image"]["boot"], same["image"]["breed"]) == \
        (name, "vmlinuz", ["bios"], "generic")
    assert image_names(admin).count(name) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["initrd.img", "vmlinuz"]

    assert ok(admin("image", "del", name)) == "igor: success"
    assert name not in image_names(admin) and not folder.exists()
    assert refused(admin("image", "del", name)) == f"igor: image '{name}' not found"
    assert refused(admin("image", "del", name, "--json")) == f"igor: image '{name}' not found"
    assert uploads_left(demo) == []


def test_register_boot_modes_breed_and_local_boot_as_json(admin: Igor, tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    image = admin.json("image", "register", "-k", str(pair.kernel), "-i", str(pair.initrd), "--boot", "uefi,bios",
                       "-b", "RedHat", "-l")["image"]
    assert (image["name"], image["boot"], image["breed"], image["local"]) == \
        (pair.name, ["bios", "uefi"], "redhat", "yes")
    generic = make_pair(tmp_path / "generic")
    assert admin.json("image", "register", "-k", str(generic.kernel), "-i", str(generic.initrd), "--boot", "bios",
                      "-b", "generic-linux")["image"]["breed"] == "generic"  # v2's spelling of generic
    row = next(line for line in ok(admin("image", "show")).splitlines() if line.startswith(pair.name))
    assert row.split()[5:] == ["redhat", "bios,uefi", "yes"]
    assert ok(admin("image", "del", pair.name)) == "igor: success"
    assert ok(admin("image", "del", generic.name)) == "igor: success"


def test_delete_refused_while_distros_use_the_image(admin: Igor, alice: Igor, tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    name = pair.name
    assert ok(register(admin, pair.kernel, pair.initrd)) == registered(name)
    first, second = sorted([unique("zz"), unique("aa")], reverse=True)
    for distro in (first, second):
        assert ok(alice("distro", "create", distro, "--image-ref", name)) == f"igor: distro '{distro}' created"

    message = ("igor: cannot delete image while linked to existing distros. Delete the following distros first: "
               f"[{second} {first}]")
    assert refused(admin("image", "del", name)) == message
    assert {i["name"]: i["distros"] for i in admin.json("image", "show")["distroImages"]}[name] == \
        sorted([first, second])
    row = next(line for line in ok(admin("image", "show")).splitlines() if line.startswith(name))
    assert row.split()[-1] == f"{second},{first}"

    assert ok(alice("distro", "del", first)) == f"igor: distro '{first}' deleted"
    assert name in image_names(admin)  # still used by the other distro
    assert ok(alice("distro", "del", second)) == f"igor: distro '{second}' deleted"
    assert name not in image_names(admin)  # the last distro took its orphaned image with it (Igor v2)


# --- images: what the client refuses before sending ---------------------------------------------------------------


def test_missing_files_and_incomplete_requests_are_usage_errors(admin: Igor, demo: Demo, tmp_path: Path) -> None:
    """Exit 2, nothing sent: a file that is missing or a directory, a kernel without its initrd (or staged names
    without their pair), no files at all, no ``--boot`` (the server requires it), clashing sources."""
    pair = make_pair(tmp_path)
    kernel, initrd, missing = str(pair.kernel), str(pair.initrd), str(tmp_path / "nope")
    before = image_names(admin)
    cases = [
        (["-k", missing, "-i", initrd, "--boot", "bios"], f"igor: --kernel: {missing}: no such file"),
        (["-k", kernel, "-i", missing, "--boot", "bios"], f"igor: --initrd: {missing}: no such file"),
        (["-k", str(tmp_path), "-i", initrd, "--boot", "bios"], f"igor: --kernel: {tmp_path}: not a file"),
        (["-k", kernel, "--boot", "bios"], "igor: --kernel needs --initrd: give both"),
        (["-i", initrd, "--boot", "bios"], "igor: --initrd needs --kernel: give both"),
        (["--kstaged", "k1", "--boot", "bios"], "igor: --kstaged needs --istaged: give both"),
        (["--boot", "bios"], f"igor: {NO_IMAGE_FILES}"),
    ]
    for args, message in cases:
        assert refused(admin("image", "register", *args), code=2) == message, args
        assert refused(admin("image", "register", *args, "--json"), code=2) == message, args
    no_boot = refused(admin("image", "register", "-k", kernel, "-i", initrd), code=2)
    assert no_boot.startswith("igor: the following arguments are required: --boot\nusage: igor image register")
    clash = refused(admin("image", "register", "-k", kernel, "--kstaged", "k1", "-i", initrd, "--boot", "bios"),
                    code=2)
    assert clash.startswith("igor: argument --kstaged: not allowed with argument -k/--kernel")
    assert image_names(admin) == before and uploads_left(demo) == []


# --- images: file names, staged files, server rules ---------------------------------------------------------------


@pytest.mark.parametrize(("part", "filename", "problem"), [
    ("kernelFile", "vmlinuz..6", "must not contain '..'"),
    ("kernelFile", "..vmlinuz", "must not contain '..'"),
    ("kernelFile", ".vmlinuz", "must not start with '.'"),
    ("kernelFile", "vm linuz", "must not contain spaces or control characters"),
    ("kernelFile", "vmlinuz;rm", "may use only letters, digits and '.', '_', '+', '~', '-'"),
    ("initrdFile", ".initrd", "must not start with '.'"),
])
def test_odd_file_names_are_refused_by_the_server(admin: Igor, demo: Demo, tmp_path: Path, part: str,
                                                  filename: str, problem: str) -> None:
    """The client sends a file's own name (never its folder): the server refuses names that are unsafe as a
    path component or a PXE config token, and keeps nothing of the upload."""
    pair = make_pair(tmp_path, **({"kernel": filename} if part == "kernelFile" else {"initrd": filename}))
    before = image_names(admin)
    assert refused(register(admin, pair.kernel, pair.initrd)) == f"igor: '{part}' file name '{filename}' {problem}"
    assert image_names(admin) == before and uploads_left(demo) == []


def test_a_path_through_dotdot_uploads_only_the_file_name(admin: Igor, tmp_path: Path) -> None:
    pair = make_pair(tmp_path / "real", "vmlinuz-6.1", "initrd-6.1.img")
    (tmp_path / "other").mkdir()
    image = admin.json("image", "register", "-k", f"{tmp_path}/other/../real/vmlinuz-6.1", "-i",
                       f"{tmp_path}/other/../real/initrd-6.1.img", "--boot", "bios")["image"]
    assert (image["name"], image["kernel"], image["initrd"]) == (pair.name, "vmlinuz-6.1", "initrd-6.1.img")
    assert ok(admin("image", "del", pair.name)) == "igor: success"


def test_staged_registration_consumes_the_staged_files(admin: Igor, demo: Demo) -> None:
    stage = Path(admin.json("settings", "-a")["igor"]["config"]["server"]["imageStagePath"])
    assert stage == demo.home / "igor_staged_images"  # the demo's default: $IGOR_HOME/igor_staged_images
    kname, iname = f"{unique('k')}.kernel", f"{unique('i')}.initrd"
    pair = make_pair(stage, kname, iname)
    kernel, initrd, name, image_id = pair.kernel.read_bytes(), pair.initrd.read_bytes(), pair.name, pair.image_id
    keep = stage / f"{unique('keep')}.txt"
    keep.write_text("not mine\n")
    try:
        image = admin.json("image", "register", "--kstaged", kname, "--istaged", iname, "--boot", "bios,uefi",
                           "-b", "redhat")["image"]
        assert (image["name"], image["image_id"], image["kernel"], image["initrd"], image["boot"],
                image["breed"]) == (name, image_id, kname, iname, ["bios", "uefi"], "redhat")
        assert not pair.kernel.exists() and not pair.initrd.exists() and keep.exists()
        assert (demo.home / "igor_images" / image_id / kname).read_bytes() == kernel

        pair.kernel.write_bytes(kernel)  # staged again: already registered, and the staged copies still go
        pair.initrd.write_bytes(initrd)
        assert ok(admin("image", "register", "--kstaged", kname, "--istaged", iname, "--boot", "bios")) == \
            registered(name) + " (identical files were already registered)"
        assert not pair.kernel.exists() and not pair.initrd.exists()
        assert ok(admin("image", "del", name)) == "igor: success"
    finally:
        keep.unlink()


def test_staged_names_that_escape_or_do_not_exist_are_refused(admin: Igor, demo: Demo, tmp_path: Path) -> None:
    stage = demo.home / "igor_staged_images"
    staged = make_pair(stage, unique("k"), unique("i"))
    initrd = staged.initrd
    secret = demo.home / "secret"  # what ../secret would reach
    secret.write_bytes(b"secret")
    outside = tmp_path / "outside"
    outside.write_bytes(b"outside")
    link, folder = unique("link"), unique("dir")
    (stage / link).symlink_to(outside)
    (stage / folder).mkdir()
    before = image_names(admin)
    cases = [
        ("../secret", "igor: staged kernel file name '../secret' must be a plain file name, without '/' or '\\'"),
        ("..", "igor: staged kernel file name '..' must not contain '..'"),
        (".hidden", "igor: staged kernel file name '.hidden' must not start with '.'"),
        (link, f"igor: staged kernel file '{link}' is not inside {stage}"),
        (folder, f"igor: staged kernel file '{folder}' is not a regular file"),
        ("missing", f"igor: staged kernel file 'missing' not found in the staging folder {stage}"),
    ]
    try:
        for kstaged, message in cases:
            done = admin("image", "register", "--kstaged", kstaged, "--istaged", initrd.name, "--boot", "bios")
            assert refused(done).startswith(message), kstaged
        assert image_names(admin) == before
        assert (secret.read_bytes(), outside.read_bytes()) == (b"secret", b"outside") and initrd.exists()
    finally:
        for path in (staged.kernel, initrd, stage / link, secret):
            path.unlink()
        (stage / folder).rmdir()


def test_registration_rules_of_the_server(admin: Igor, demo: Demo, tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    twin = make_pair(tmp_path / "twin")  # another folder, the same file names
    empty = tmp_path / "empty" / "vmlinuz"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    before = image_names(admin)
    cases = [
        (register(admin, pair.kernel, pair.initrd, boot="bios,pxe"), "igor: invalid boot type 'pxe': must be bios "
                                                                     "or uefi"),
        (register(admin, pair.kernel, pair.initrd, "-b", "plan9"), f"igor: invalid breed 'plan9': must be one of "
                                                                   f"{BREEDS}"),
        (register(admin, empty, pair.initrd), "igor: kernel file 'vmlinuz' is empty"),
        (register(admin, pair.kernel, twin.kernel), "igor: the kernel and initrd files must have different names "
                                                    "(both are 'vmlinuz')"),
        (register(admin, pair.kernel, pair.initrd, "--json", boot=","), "igor: required parameter 'boot' not "
                                                                        "found"),  # an empty list sends none
    ]
    for done, message in cases:
        assert refused(done) == message
    local = refused(register(admin, pair.kernel, pair.initrd, "-l"))  # what is searched for the breed may grow
    assert local.startswith("igor: a local-boot image needs a breed (none was given and none was detected from the "
                            "kernel") and local.endswith(f"): one of {BREEDS}"), local
    assert image_names(admin) == before and uploads_left(demo) == []


# --- kickstarts ---------------------------------------------------------------------------------------------------


def test_kickstart_register_show_edit_delete(admin: Igor, demo: Demo, tmp_path: Path) -> None:
    name = unique("ks")
    first = tmp_path / f"{name}.v1.ks"
    first.write_text(KS_TEXT)
    folder = demo.home / "kickstarts"
    made = admin.json("kickstart", "register", "-k", str(first))
    assert made == {"kickstart": {"name": name, "fileName": first.name, "owner": "igor-admin"}}
    assert kickstarts(admin)[name] == {"name": name, "fileName": first.name, "owner": "igor-admin"}
    table = ok(admin("kickstart", "show")).splitlines()
    assert table[0].split() == ["NAME", "FILE", "NAME", "OWNER"]
    assert [line.split() for line in table if line.startswith(name)] == [[name, first.name, "igor-admin"]]
    assert (folder / first.name).read_text() == KS_TEXT

    assert refused(admin("kickstart", "register", "-k", str(first))) == \
        f"igor: a kickstart file already exists with file name: {first.name}"
    other = tmp_path / f"{name}.cfg"
    other.write_text("other\n")
    assert refused(admin("kickstart", "register", "-k", str(other))) == \
        f"igor: a kickstart named '{name}' already exists"

    # a new file under another file name takes that file name (v2); the old file goes
    updated = f"igor: kickstart file updated successfully: {name}"  # edits name the kickstart as it was
    assert ok(admin("kickstart", "edit", name, "-k", str(other))) == updated
    assert kickstarts(admin)[name]["fileName"] == other.name
    assert not (folder / first.name).exists() and (folder / other.name).read_text() == "other\n"
    other.write_text("replaced in place\n")
    assert ok(admin("kickstart", "edit", name, "-k", str(other))) == updated
    assert (folder / other.name).read_text() == "replaced in place\n"

    renamed = unique("ks")
    assert ok(admin("kickstart", "edit", name, "-n", renamed)) == updated
    assert name not in kickstarts(admin) and kickstarts(admin)[renamed]["fileName"] == other.name
    assert refused(admin("kickstart", "edit", renamed)) == "igor: requested operation had no parameters"
    assert refused(admin("kickstart", "edit", name, "-n", unique("ks"))) == f"igor: kickstart '{name}' not found"
    assert refused(admin("kickstart", "edit", renamed, "-n", "a.b")) == \
        "igor: 'a.b' is not a legal kickstart name (1-64 letters, digits, '_', '+', '~' or '-')"

    assert ok(admin("kickstart", "del", renamed)) == "igor: success"
    assert renamed not in kickstarts(admin) and not (folder / other.name).exists()
    assert refused(admin("kickstart", "del", renamed)) == f"igor: kickstart '{renamed}' not found"


def test_kickstart_delete_refused_while_a_distro_uses_it(admin: Igor, tmp_path: Path) -> None:
    name = unique("ks")
    script = tmp_path / f"{name}.ks"
    script.write_text(KS_TEXT)
    assert ok(admin("kickstart", "register", "-k", str(script))) == \
        f"igor: kickstart file registered successfully as: {name}"
    pair = make_pair(tmp_path)
    assert ok(register(admin, pair.kernel, pair.initrd, "-l", "-b", "redhat")) == registered(pair.name)
    distro = unique("inst")
    made = admin.json("distro", "create", distro, "--image-ref", pair.name, "--kickstart", name)["distro"][0]
    assert (made["kickstart"], made["localBoot"], made["breed"]) == (name, True, "redhat")

    assert refused(admin("kickstart", "del", name)) == ("igor: cannot delete kickstart while linked to existing "
                                                        f"distros. Delete the following distros first: [{distro}]")
    assert name in kickstarts(admin)
    assert ok(admin("distro", "del", distro)) == f"igor: distro '{distro}' deleted"
    assert ok(admin("kickstart", "del", name)) == "igor: success"
    assert name not in kickstarts(admin) and pair.name not in image_names(admin)


@pytest.mark.parametrize(("filename", "content", "message"), [
    ("big.ks", b"#" * (1 << 20) + b"\n", "igor: file 'kickstart' (big.ks) is larger than the limit of 1048576 bytes"),
    ("bin.ks", b"\x7fELF\0\0", "igor: kickstart file 'bin.ks' is not a text file (it contains NUL bytes)"),
    ("latin.ks", b"caf\xe9\n", "igor: kickstart file 'latin.ks' is not UTF-8 text"),
    ("void.ks", b"\n", "igor: kickstart file 'void.ks' is empty"),
    ("x..ks", b"lang en_US\n", "igor: 'kickstart' file name 'x..ks' must not contain '..'"),
    (".ks", b"lang en_US\n", "igor: 'kickstart' file name '.ks' must not start with '.'"),
    ("my ks.cfg", b"lang en_US\n", "igor: 'kickstart' file name 'my ks.cfg' must not contain spaces or control "
                                   "characters"),
    ("register.ks", b"lang en_US\n", "igor: kickstart name cannot be the restricted word 'register'"),
])
def test_kickstart_uploads_refused_by_the_server(admin: Igor, demo: Demo, tmp_path: Path, filename: str,
                                                 content: bytes, message: str) -> None:
    """Oversize (the 1 MiB kickstart limit), not text, empty, and names unsafe as a file or reserved."""
    path = tmp_path / filename
    path.write_bytes(content)
    before = kickstarts(admin)
    on_disk = sorted(p.name for p in (demo.home / "kickstarts").glob("*"))
    assert refused(admin("kickstart", "register", "-k", str(path))) == message
    assert kickstarts(admin) == before and sorted(p.name for p in (demo.home / "kickstarts").glob("*")) == on_disk
    assert uploads_left(demo) == []


def test_kickstart_usage_errors(admin: Igor, tmp_path: Path) -> None:
    missing = tmp_path / "nope.ks"
    assert refused(admin("kickstart", "register", "-k", str(missing)), code=2) == \
        f"igor: --file: {missing}: no such file"
    assert refused(admin("kickstart", "register", "-k", str(tmp_path)), code=2) == \
        f"igor: --file: {tmp_path}: not a file"
    assert refused(admin("kickstart", "register"), code=2).startswith(
        "igor: the following arguments are required: -k/--file")
    assert refused(admin("kickstart", "edit", "anything", "-k", str(missing)), code=2) == \
        f"igor: --file: {missing}: no such file"


# --- who may --------------------------------------------------------------------------------------------------------


def test_non_admins_are_refused_with_the_servers_message(admin: Igor, alice: Igor, igor: Igor,
                                                         tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    assert ok(register(admin, pair.kernel, pair.initrd)) == registered(pair.name)
    name = unique("ks")
    script = tmp_path / f"{name}.ks"
    script.write_text(KS_TEXT)
    assert ok(admin("kickstart", "register", "-k", str(script)))
    other = make_pair(tmp_path / "other")
    other_ks = tmp_path / f"{unique('ks')}.ks"
    other_ks.write_text(KS_TEXT)

    for args in (["image", "register", "-k", str(other.kernel), "-i", str(other.initrd), "--boot", "bios"],
                 ["image", "show"], ["image", "del", pair.name],
                 ["kickstart", "register", "-k", str(other_ks)], ["kickstart", "show"],
                 ["kickstart", "edit", name, "-n", unique("ks")], ["kickstart", "del", name]):
        assert refused(alice(*args)) == "igor: access denied", args
        assert refused(alice(*args, "--json")) == "igor: access denied", args
    not_logged_in = "igor: authentication required (token missing or expired) - log in with 'igor login'"
    assert refused(igor("kickstart", "register", "-k", str(other_ks))) == not_logged_in
    assert refused(igor("image", "show")) == not_logged_in

    assert other.name not in image_names(admin) and pair.name in image_names(admin)
    assert other_ks.stem not in kickstarts(admin) and name in kickstarts(admin)
    assert ok(admin("image", "del", pair.name)) == "igor: success"
    assert ok(admin("kickstart", "del", name)) == "igor: success"


def test_admins_members_must_elevate_first(admin: Igor, demo: Demo, tmp_path: Path) -> None:
    member = unique("u")
    assert ok(admin("user", "create", member, f"{member}@example.org"))
    assert ok(admin("group", "edit", "admins", "-a", member)) == "igor: success"
    runner = Igor(demo.base, tmp_path / member)
    runner.login(member, ALICE_PW)  # a new account gets the demo's default password
    script = tmp_path / f"{unique('ks')}.ks"
    script.write_text(KS_TEXT)
    try:
        assert refused(runner("kickstart", "register", "-k", str(script))) == \
            "igor: elevated access is required before running this command"
        assert refused(runner("image", "show")) == "igor: elevated access is required before running this command"
        assert ok(runner("elevate")).startswith(f"igor: elevate for user '{member}' is active for next ")
        assert ok(runner("kickstart", "register", "-k", str(script))) == \
            f"igor: kickstart file registered successfully as: {script.stem}"
        assert kickstarts(admin)[script.stem]["owner"] == member
        assert ok(runner("kickstart", "del", script.stem)) == "igor: success"
    finally:
        admin("user", "del", member)


def test_image_files_on_the_server_match_the_upload(admin: Igor, demo: Demo, tmp_path: Path) -> None:
    """A binary upload of a few hundred KiB arrives byte for byte (streamed multipart, not text)."""
    pair = make_pair(tmp_path, size=300_000)
    pair.kernel.write_bytes(bytes(range(256)) * 1024 + b"\r\n--boundary\r\n" * 64)
    image = admin.json("image", "register", "-k", str(pair.kernel), "-i", str(pair.initrd), "--boot", "bios")
    image_id = hashlib.sha1(pair.kernel.read_bytes() + pair.initrd.read_bytes()).hexdigest()
    assert image["image"]["image_id"] == image_id
    assert (demo.home / "igor_images" / image_id / "vmlinuz").read_bytes() == pair.kernel.read_bytes()
    assert ok(admin("image", "del", image["image"]["name"])) == "igor: success"
