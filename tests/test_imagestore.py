"""``igor.imagestore``: file-name rules, breeds, boot modes, hashing, atomic writes, staging containment, the
image folder layout and the size limit on staged files — without a database (detection: ``test_imagedetect``)."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from pathlib import Path

import pytest

from igor import imagestore as st
from igor.errors import BadInput, NotFound


@pytest.fixture
def store(tmp_path: Path) -> st.ImageStore:
    return st.ImageStore(tmp_path / "tftp", tmp_path / "stage", max_image_bytes=1000, max_kickstart_bytes=100)


# -- names -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vmlinuz", "initrd.img", "vmlinuz-5.15.0-91-generic", "a", "k_1+2~3",
                                  "x" * st.MAX_NAME_LENGTH])
def test_good_names_pass(name):
    assert st.check_file_name(name) == name


@pytest.mark.parametrize(("name", "problem"), [
    ("", "file name cannot be empty"),
    (None, "file name cannot be empty"),
    ("x" * (st.MAX_NAME_LENGTH + 1), "is longer than 128 characters"),
    ("a\0b", "contains a NUL byte"),
    ("../etc/passwd", "must be a plain file name, without '/' or '\\'"),
    ("a/b", "must be a plain file name, without '/' or '\\'"),
    ("a\\b", "must be a plain file name, without '/' or '\\'"),
    ("..", "must not contain '..'"),
    ("a..b", "must not contain '..'"),
    (".", "must not start with '.'"),
    (".bashrc", "must not start with '.'"),
    ("a b", "must not contain spaces or control characters"),
    ("a\tb", "must not contain spaces or control characters"),
    ("a\nb", "must not contain spaces or control characters"),
    ("naïve", "may use only letters, digits and '.', '_', '+', '~', '-'"),
    ("a;b", "may use only letters, digits and '.', '_', '+', '~', '-'"),
    ("$(x)", "may use only letters, digits and '.', '_', '+', '~', '-'"),
])
def test_bad_names_are_refused_with_the_problem_named(name, problem):
    with pytest.raises(BadInput) as err:
        st.check_file_name(name, "kernel file")
    assert str(err.value).endswith(problem), str(err.value)
    assert str(err.value).startswith("kernel file name")


def test_messages_show_unprintable_characters_escaped():
    with pytest.raises(BadInput, match=r"name 'a\\x00b' contains a NUL byte"):
        st.check_file_name("a\0b")


# -- breeds, boot modes, ids -----------------------------------------------------------------------------------


def test_breeds():
    assert st.check_breed(None) is None and st.check_breed("  ") is None
    assert st.check_breed("RedHat") == "redhat"
    assert st.check_breed("generic-linux") == "generic"
    assert set(st.BREEDS) == {"debian", "freebsd", "generic", "nexenta", "redhat", "suse", "ubuntu", "unix",
                              "vmware", "windows", "xen"}
    with pytest.raises(BadInput, match="invalid breed 'centos': must be one of debian, "):
        st.check_breed("centos")


def test_boot_modes():
    assert st.parse_boot(["bios"]) == (True, False)
    assert st.parse_boot(["UEFI"]) == (False, True)
    assert st.parse_boot(["bios,uefi"]) == (True, True)
    assert st.parse_boot(["uefi", "bios"]) == (True, True)
    with pytest.raises(BadInput, match="at least one value required for image boot type"):
        st.parse_boot([])
    with pytest.raises(BadInput, match="invalid boot type 'efi': must be bios or uefi"):
        st.parse_boot(["bios", "efi"])


def test_hash_streams_kernel_then_initrd(tmp_path):
    k, i = tmp_path / "k", tmp_path / "i"
    big = os.urandom(st.CHUNK * 2 + 123)  # several chunks
    k.write_bytes(big)
    i.write_bytes(b"initrd")
    image_id = st.hash_pair(k, i)
    assert image_id == hashlib.sha1(big + b"initrd").hexdigest()
    assert st.image_name(image_id) == "ki" + image_id[:8]
    assert st.hash_pair(i, k) != image_id


def test_image_paths_are_relative_to_tftp_root():
    image_id = "a" * 40
    assert st.image_paths(image_id, "vmlinuz", "initrd.img") == (f"igor_images/{image_id}/vmlinuz",
                                                                  f"igor_images/{image_id}/initrd.img")


def test_stored_ids_are_checked_before_use_in_paths(store):
    with pytest.raises(st.StoreError):
        store.image_dir("../../etc")


# -- writing ---------------------------------------------------------------------------------------------------


def test_write_stream_is_atomic_and_bounded(tmp_path):
    dest = tmp_path / "out"
    assert st.write_stream(io.BytesIO(b"x" * 10), dest, limit=10, what="f") == 10
    assert dest.read_bytes() == b"x" * 10
    with pytest.raises(st.FileTooLarge, match="f is larger than the limit of 10 bytes"):
        st.write_stream(io.BytesIO(b"y" * 11), dest, limit=10, what="f")
    assert dest.read_bytes() == b"x" * 10  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary left


def test_write_stream_failure_in_the_middle_leaves_nothing(tmp_path):
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 1:
                raise OSError(5, "Input/output error")
            return b"partial"

    with pytest.raises(st.StoreError, match="could not store f: Input/output error"):
        st.write_stream(Broken(), tmp_path / "out", limit=100, what="f")
    assert list(tmp_path.iterdir()) == []


def test_place_file_copies_unless_linking_is_allowed(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"data")
    copy, link = tmp_path / "copy", tmp_path / "link"
    st.place_file(src, copy, link=False)
    st.place_file(src, link, link=True)
    assert copy.read_bytes() == link.read_bytes() == b"data"
    assert copy.stat().st_ino != src.stat().st_ino
    assert link.stat().st_ino == src.stat().st_ino
    assert oct(copy.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "link", "src"]


def test_receive_stages_under_a_hidden_name(store):
    up = store.receive(io.BytesIO(b"kernel"), "vmlinuz", field="kernelFile", limit=100)
    assert (up.filename, up.size, up.field) == ("vmlinuz", 6, "kernelFile")
    assert up.path.parent == store.stage_dir and up.path.name.startswith(st.UPLOAD_PREFIX)
    up.discard()
    up.discard()  # twice is fine
    assert list(store.stage_dir.iterdir()) == []
    with pytest.raises(BadInput, match="'kernelFile' file name '../x' must be a plain file name"):
        store.receive(io.BytesIO(b"k"), "../x", field="kernelFile", limit=100)
    with pytest.raises(st.FileTooLarge):
        store.receive(io.BytesIO(b"k" * 101), "k", field="kernelFile", limit=100)
    assert list(store.stage_dir.iterdir()) == []


def test_staged_files_must_be_regular_files_inside_the_stage(store, tmp_path):
    store.stage_dir.mkdir(parents=True)
    (store.stage_dir / "k").write_bytes(b"k")
    (tmp_path / "outside").write_bytes(b"o")
    (store.stage_dir / "escape").symlink_to(tmp_path / "outside")
    (store.stage_dir / "inner").symlink_to(store.stage_dir / "k")  # a link within the stage is fine
    assert store.staged("k", "staged kernel file") == (store.stage_dir / "k").resolve()
    assert store.staged("inner", "staged kernel file") == (store.stage_dir / "k").resolve()
    with pytest.raises(BadInput, match="staged kernel file 'escape' is not inside"):
        store.staged("escape", "staged kernel file")
    with pytest.raises(NotFound, match="staged kernel file 'nope' not found in the staging folder"):
        store.staged("nope", "staged kernel file")
    with pytest.raises(BadInput, match="must be a plain file name"):
        store.staged("../outside", "staged kernel file")


def test_staged_files_over_the_upload_limit_are_413_and_left_in_place(store):
    store.stage_dir.mkdir(parents=True)
    (store.stage_dir / "big").write_bytes(b"x" * 1001)
    (store.stage_dir / "fits").write_bytes(b"x" * 1000)
    with pytest.raises(st.FileTooLarge, match=r"^staged initrd file 'big' is larger than the limit of 1000 bytes "
                                              r"\(1001 bytes\)$") as caught:
        store.staged("big", "staged initrd file")
    assert caught.value.status == 413
    assert (store.stage_dir / "big").stat().st_size == 1001
    assert store.staged("fits", "staged initrd file").name == "fits"


# -- the image folder ------------------------------------------------------------------------------------------


def test_install_and_remove_an_image(store, tmp_path):
    k, i = tmp_path / "k", tmp_path / "i"
    k.write_bytes(b"kernel")
    i.write_bytes(b"initrd")
    image_id = st.hash_pair(k, i)
    written = store.install_image(image_id, [(k, "vmlinuz"), (i, "initrd.img")], link=False)
    folder = store.images_root / image_id
    assert written == [folder / "vmlinuz", folder / "initrd.img"]
    assert store.has_image(image_id, "vmlinuz", "initrd.img")
    kernel, initrd = st.image_paths(image_id, "vmlinuz", "initrd.img")
    assert (store.tftp_root / kernel).read_bytes() == b"kernel"
    assert (store.tftp_root / initrd).read_bytes() == b"initrd"
    # installing again (same names) replaces in place; other names in the folder are left alone
    store.install_image(image_id, [(k, "vmlinuz"), (i, "other")], link=False)
    assert sorted(p.name for p in folder.iterdir()) == ["initrd.img", "other", "vmlinuz"]
    store.remove_image(image_id)
    assert not folder.exists()
    assert [p.name for p in store.images_root.iterdir()] == []
    store.remove_image(image_id)  # already gone: fine


def test_install_refuses_equal_names_and_cleans_up_on_failure(store, tmp_path):
    k = tmp_path / "k"
    k.write_bytes(b"kernel")
    image_id = "b" * 40
    with pytest.raises(BadInput, match="must have different names"):
        store.install_image(image_id, [(k, "same"), (k, "same")], link=False)
    with pytest.raises(st.StoreError, match="could not store the image files"):
        store.install_image(image_id, [(k, "vmlinuz"), (tmp_path / "missing", "initrd")], link=False)
    assert list((store.images_root / image_id).iterdir()) == []


def test_the_lock_excludes_other_threads(store):
    inside, overlaps = [0], []

    def work() -> None:
        with store.lock():
            inside[0] += 1
            overlaps.append(inside[0])
            time.sleep(0.01)
            inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [1] * 6


# -- kickstarts ------------------------------------------------------------------------------------------------


def test_kickstart_files(store, tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"text\n")
    dest = store.write_kickstart("fae.ks", src)
    assert dest == (store.kickstarts_root / "fae.ks").resolve() and dest.read_bytes() == b"text\n"
    store.rename_kickstart("fae.ks", "elf.ks")
    assert [p.name for p in store.kickstarts_root.iterdir()] == ["elf.ks"]
    store.remove_kickstart("elf.ks")
    store.remove_kickstart("elf.ks")
    assert list(store.kickstarts_root.iterdir()) == []
    with pytest.raises(BadInput):
        store.kickstart_path("../x")


def test_kickstart_text_rules(tmp_path):
    p = tmp_path / "k"
    p.write_bytes("# é\n".encode())
    st.check_kickstart_text(p, "k")
    for data, problem in ((b"a\0", "NUL bytes"), (b"\xff\xfe", "not UTF-8 text"), (b" \n", "is empty")):
        p.write_bytes(data)
        with pytest.raises(BadInput, match=problem):
            st.check_kickstart_text(p, "k")
