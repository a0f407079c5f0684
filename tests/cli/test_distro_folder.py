"""``igor distro create NAME -d FOLDER`` (the folder's one kernel and one initrd, uploaded exactly as ``--kernel K
--initrd I``; Igor v2's client sent a ``dPath`` its server refused, reference §11 item 13), ``--kstaged/--istaged``
on ``distro create``, and the GROUPS column of ``distro show`` for public distros. No live server: requests are
built as the batch CLI builds them, and one is sent to a capturing HTTP server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from igor.cli import render
from igor.cli.commands import UsageError, build_request, execute, prepare
from igor.cli.grammar import lookup
from igor.cli.main import build_parser, main
from igor.client import IgorClient, TokenStore
from tests.cli.test_upload import _parts, received, server  # noqa: F401 - server is a fixture

CREATE = lookup("distro", "create")


def parsed(*args: str) -> dict[str, Any]:
    return vars(build_parser().parse_args(["distro", "create", *args]))


def request_for(*args: str):
    return build_request(CREATE, prepare("distro create", CREATE, parsed(*args), user="alice"))


def folder(tmp_path: Path, *names: str) -> Path:
    d = tmp_path / "dist"
    d.mkdir()
    for name in names:
        (d / name).write_bytes(name.encode() * 10)
    return d


@pytest.mark.parametrize(("names", "kernel", "initrd"), [
    (("tiny.kernel", "tiny.initrd", "README"), "tiny.kernel", "tiny.initrd"),
    (("vmlinuz-6.1.0-18-amd64", "initrd.img-6.1.0-18-amd64", "System.map-6.1.0", "config-6.1.0"),
     "vmlinuz-6.1.0-18-amd64", "initrd.img-6.1.0-18-amd64"),
    (("bzImage", "initramfs.cpio.gz"), "bzImage", "initramfs.cpio.gz"),
    (("linux", "linux.initrd"), "linux", "linux.initrd"),  # the suffix decides before the prefix
    (("VMLINUZ", "INITRD.IMG", ".vmlinuz.hmac"), "VMLINUZ", "INITRD.IMG"),  # hidden files are not looked at
])
def test_a_folder_gives_the_same_request_as_kernel_and_initrd(tmp_path, names, kernel, initrd):
    d = folder(tmp_path, *names)
    by_folder = request_for("os1", "-d", str(d), "-g", "team")
    explicit = request_for("os1", "--kernel", str(d / kernel), "--initrd", str(d / initrd), "-g", "team")
    assert by_folder == explicit
    assert by_folder.files == {"kernelFile": d / kernel, "initrdFile": d / initrd}
    assert by_folder.body == {"name": "os1", "distroGroups": ["team"]}  # no v2 'dPath' field


@pytest.mark.parametrize(("names", "found"), [
    ((), "found kernels: none; initrds: none"),
    (("vmlinuz", "README"), "found kernels: vmlinuz; initrds: none"),
    (("vmlinuz-6.1", "vmlinuz-6.2", "initrd.img-6.1"),
     "found kernels: vmlinuz-6.1, vmlinuz-6.2; initrds: initrd.img-6.1"),
    (("a.kernel", "initrd", "initramfs"), "found kernels: a.kernel; initrds: initramfs, initrd"),
])
def test_a_folder_without_exactly_one_kernel_and_one_initrd_is_a_usage_error(tmp_path, names, found):
    d = folder(tmp_path, *names)
    (d / "initrd.d").mkdir()  # a sub-folder is not a candidate
    with pytest.raises(UsageError) as caught:
        request_for("os1", "-d", str(d))
    assert str(caught.value) == (
        f"-d/--distro: {d} must hold exactly one kernel (*.kernel, vmlinuz*, vmlinux*, bzImage*, linux*) and one "
        f"initrd (*.initrd, initrd*, initramfs*); {found} (use --kernel and --initrd)")


def test_folder_errors(tmp_path):
    with pytest.raises(UsageError, match=r"^-d/--distro: .*nope: no such folder$"):
        request_for("os1", "-d", str(tmp_path / "nope"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=r"^-d/--distro: .*file: not a folder$"):
        request_for("os1", "-d", str(tmp_path / "file"))
    d = folder(tmp_path, "vmlinuz", "initrd.img")
    with pytest.raises(UsageError, match=r"^-d/--distro cannot be combined with --kernel: the folder gives"):
        request_for("os1", "-d", str(d), "--kernel", str(d / "vmlinuz"))
    with pytest.raises(UsageError, match="argument --image-ref: not allowed with argument -d/--distro"):
        parsed("os1", "-d", str(d), "--image-ref", "ki12345678")


def test_the_cli_exits_2_before_contacting_any_server(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IGOR_HOME", str(tmp_path / "home"))
    d = folder(tmp_path, "vmlinuz")
    assert main(["distro", "create", "os1", "-d", str(d)]) == 2
    assert capsys.readouterr().err.startswith(f"igor: -d/--distro: {d} must hold exactly one kernel")


def test_the_folder_upload_on_the_wire(server, tmp_path):  # noqa: F811 - the fixture
    d = folder(tmp_path, "vmlinuz", "initrd.img")
    client = IgorClient(server, TokenStore(tmp_path / "client"))
    execute(client, "distro create", CREATE, parsed("os1", "-d", str(d)))
    headers, raw = received[0]
    assert headers["content-type"].startswith("multipart/form-data")
    assert _parts(headers, raw) == [("name", None, b"os1"), ("kernelFile", "vmlinuz", b"vmlinuz" * 10),
                                    ("initrdFile", "initrd.img", b"initrd.img" * 10)]


def test_staged_files_on_distro_create():
    request = request_for("os1", "--kstaged", "tiny.kernel", "--istaged", "tiny.initrd")
    assert (request.body, request.files) == ({"name": "os1", "kstaged": "tiny.kernel", "istaged": "tiny.initrd"},
                                             None)
    with pytest.raises(UsageError, match="^--kstaged needs --istaged: give both$"):
        request_for("os1", "--kstaged", "tiny.kernel")


def test_public_distros_show_groups_all():
    data = {"distros": [
        {"name": "pub", "owner": "igor-admin", "isPublic": True, "groups": [], "image_type": "ki"},
        {"name": "team-os", "owner": "alice", "isPublic": False, "groups": ["team", "ops"], "image_type": "ki"},
        {"name": "mine", "owner": "alice", "isPublic": False, "groups": [], "image_type": "ki"},
    ]}
    lines = render.distros(data, tz=None, now=0).splitlines()
    start, end = lines[0].index("GROUPS"), lines[0].index("TYPE")
    groups = {line.split()[0]: line[start:end].strip() for line in lines[2:]}
    assert groups == {"pub": "all", "team-os": "team,ops", "mine": ""}  # a private distro shared with nobody
