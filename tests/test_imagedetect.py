"""Kernel and initrd detection (``igor.imagedetect``, reading through ``igor.initramfs``) on kernels and initrds
built here: a fake x86 setup header, banner-carrying raw and compressed kernels, newc cpio archives (plain, gzip,
xz, lzma, bzip2, zstd, concatenated after an early-microcode archive, with symlinked os-release files), and damaged
or oversized ones."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
from pathlib import Path

import pytest

from igor import imagedetect as det
from igor import initramfs

OS_RELEASE_RHEL = (b'NAME="Red Hat Enterprise Linux"\nVERSION="9.2 (Plow)"\nID="rhel"\nID_LIKE="fedora"\n'
                   b'VERSION_ID="9.2"\n')


# -- builders (also used by the API tests) -----------------------------------------------------------------------


def fake_bzimage(version: str, *, protocol: int = 0x020F, size: int = 0x4000) -> bytes:
    """An x86 boot sector and setup header (``HdrS``) whose ``kernel_version`` points at ``version``."""
    buf = bytearray(size)
    buf[0x1FE:0x200] = b"\x55\xaa"
    buf[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", buf, 0x206, protocol)
    text = version.encode() + b"\0"
    buf[0x1000:0x1000 + len(text)] = text
    struct.pack_into("<H", buf, 0x20E, 0x1000 - 0x200)
    buf[0x211] = 1
    return bytes(buf)


def cpio(*members: tuple[str, bytes] | tuple[str, bytes, int], pad: int = 512) -> bytes:
    """A newc cpio archive of ``(name, data[, mode])`` members (mode: a regular file by default; ``0o120777`` a
    symlink whose data is its target), then the trailer, padded to ``pad`` bytes like the kernel's tools do."""
    out = bytearray()

    def member(name: str, data: bytes, mode: int, ino: int) -> None:
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(raw), 0)
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + raw)
        out.extend(b"\0" * ((-len(out)) % 4))
        out.extend(data)
        out.extend(b"\0" * ((-len(out)) % 4))

    for ino, m in enumerate(members, start=1):
        name, data, *mode = m
        member(name, data, mode[0] if mode else 0o100644, ino)
    member("TRAILER!!!", b"", 0, 0)
    out.extend(b"\0" * ((-len(out)) % pad))
    return bytes(out)


def link(name: str, target: str) -> tuple[str, bytes, int]:
    return name, target.encode(), 0o120777


def dracut_like(os_release: bytes = OS_RELEASE_RHEL, *, filler: int = 0) -> bytes:
    """A main archive laid out like dracut's: ``etc/os-release`` a symlink to ``initrd-release``, which links to
    ``usr/lib/initrd-release``; ``filler`` bytes of incompressible module data before it."""
    return cpio(("bin", b"", 0o040755), ("bin/sh", b"\x7fELF" + b"\0" * 100), ("etc", b"", 0o040755),
                link("etc/initrd-release", "../usr/lib/initrd-release"), link("etc/os-release", "initrd-release"),
                ("usr/lib/modules/big.ko", os.urandom(filler)), ("usr/lib/initrd-release", os_release))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- kernels ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "breed", "short"), [
    ("5.15.0-91-generic (buildd@lcy02-amd64-045) #101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023", "ubuntu",
     "5.15.0-91-generic"),
    ("6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1", "debian",
     "6.1.0-18-amd64"),
    ("4.18.0-477.el8.x86_64 (mockbuild@x86-vm-07.build.eng.bos.redhat.com) #1 SMP", "redhat",
     "4.18.0-477.el8.x86_64"),
    ("5.14.0-284.11.1.el9_2.x86_64 (mockbuild@iad1-prod-build001.bld.equ.rockylinux.org) #1 SMP", "redhat",
     "5.14.0-284.11.1.el9_2.x86_64"),
    ("5.14.21-150500.55.19-default (geeko@buildhost) #1 SMP PREEMPT_DYNAMIC", None, "5.14.21-150500.55.19-default"),
])
def test_bzimage_header_gives_version_and_breed(tmp_path, version, breed, short):
    info = det.detect_kernel(write(tmp_path, "vmlinuz", fake_bzimage(version)))
    assert info == det.KernelInfo(short, breed)


def test_bzimage_header_rules():
    assert det.bzimage_version(fake_bzimage("6.1.0")) == "6.1.0"
    assert det.bzimage_version(fake_bzimage("6.1.0", protocol=0x0106)) is None  # no kernel_version field then
    assert det.bzimage_version(fake_bzimage("6.1.0")[:0x300]) is None  # pointer past what was read
    no_magic = bytearray(fake_bzimage("6.1.0"))
    no_magic[0x202:0x206] = b"HdrX"
    assert det.bzimage_version(bytes(no_magic)) is None
    assert det.bzimage_version(b"short") is None


BANNER = (b"Linux version 6.1.0-18-arm64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) "
          b"#1 SMP Debian 6.1.76-1 (2024-02-01)\n\0")


@pytest.mark.parametrize("wrap", ["raw", "gzip", "xz"])
def test_other_kernels_are_searched_for_the_banner(tmp_path, wrap):
    image = b"ARMd" + os.urandom(det.CHUNK + 1000) + BANNER + b"\0" * 5000  # the banner across a chunk border
    data = {"raw": image, "gzip": gzip.compress(image), "xz": lzma.compress(image)}[wrap]
    assert det.detect_kernel(write(tmp_path, "Image", data)) == det.KernelInfo("6.1.0-18-arm64", "debian")


def test_efi_zboot_kernel(tmp_path):
    payload = gzip.compress(b"\0" * 1000 + BANNER)
    head = bytearray(0x200)
    head[0:2], head[4:8] = b"MZ", b"zimg"
    struct.pack_into("<II", head, 8, len(head), len(payload))
    assert det.detect_kernel(write(tmp_path, "vmlinuz.efi", bytes(head) + payload)).version == "6.1.0-18-arm64"


def test_unknown_kernels(tmp_path):
    assert det.detect_kernel(write(tmp_path, "k", b"nothing here")) == det.KernelInfo("", None)
    assert det.detect_kernel(write(tmp_path, "k", b"\x1f\x8b garbage")) == det.KernelInfo("", None)
    assert det.detect_kernel(write(tmp_path, "k", b"")) == det.KernelInfo("", None)


def test_kernel_scan_is_bounded(tmp_path):
    path = write(tmp_path, "Image", b"\0" * (3 * det.CHUNK) + BANNER)
    assert det.detect_kernel(path, det.Limits(max_output=2 * det.CHUNK)) == det.KernelInfo("", None)
    assert det.detect_kernel(path).version == "6.1.0-18-arm64"


# -- initrds ---------------------------------------------------------------------------------------------------


COMPRESS = {
    "none": lambda b: b,
    "gzip": gzip.compress,
    "xz": lambda b: lzma.compress(b, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),  # as the kernel wants it
    "lzma": lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE),
    "bzip2": bz2.compress,
}


@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_initrd_os_release_in_every_compression(tmp_path, kind):
    data = COMPRESS[kind](cpio(("etc", b"", 0o040755), ("etc/os-release", OS_RELEASE_RHEL)))
    assert det.detect_initrd(write(tmp_path, "initrd", data)) == det.InitrdInfo("RHEL 9.2", "redhat")


def test_zstd_initrd(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    data = zstandard.ZstdCompressor().compress(dracut_like())
    assert det.detect_initrd(write(tmp_path, "initrd", data)) == det.InitrdInfo("RHEL 9.2", "redhat")


def test_zstd_without_the_library_is_unknown(tmp_path, monkeypatch):
    zstandard = pytest.importorskip("zstandard")
    path = write(tmp_path, "initrd", zstandard.ZstdCompressor().compress(dracut_like()))
    monkeypatch.setitem(__import__("sys").modules, "zstandard", None)  # import zstandard now fails
    assert det.detect_initrd(path) == det.InitrdInfo("unknown", None)


@pytest.mark.parametrize("kind", ["gzip", "xz", "none"])
def test_early_microcode_archive_then_compressed_main_archive(tmp_path, kind):
    early = cpio(("kernel", b"", 0o040755), ("kernel/x86/microcode/GenuineIntel.bin", os.urandom(3000)))
    data = early + COMPRESS[kind](dracut_like())
    assert det.detect_initrd(write(tmp_path, "initrd", data)) == det.InitrdInfo("RHEL 9.2", "redhat")


def test_segments_after_a_compressed_one_are_read_too(tmp_path):
    data = gzip.compress(cpio(("etc/hostname", b"node\n"))) + b"\0" * 16 + lzma.compress(dracut_like())
    assert det.detect_initrd(write(tmp_path, "initrd", data)).os == "RHEL 9.2"


@pytest.mark.parametrize(("files", "want"), [
    ({"etc/os-release": b'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n'},
     det.InitrdInfo("Ubuntu 22.04", "ubuntu")),
    ({"usr/lib/os-release": b"NAME='Debian GNU/Linux'\nVERSION_ID=\"12\"\nID=debian\n"},
     det.InitrdInfo("Debian GNU/Linux 12", "debian")),
    ({"etc/os-release": b'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"'},
     det.InitrdInfo("Rocky Linux 9.3", "redhat")),
    ({"etc/os-release": b'NAME="SLES"\nVERSION_ID="15.5"\nID="sles"\nID_LIKE="suse"\n'},
     det.InitrdInfo("SLES 15.5", "suse")),
    ({"etc/os-release": b'NAME="openSUSE Leap"\nVERSION_ID="15.5"\nID="opensuse-leap"\n'},
     det.InitrdInfo("openSUSE Leap 15.5", "suse")),
    ({"etc/os-release": b'NAME="Linux Mint"\nVERSION_ID="21"\nID=linuxmint\nID_LIKE="ubuntu debian"\n'},
     det.InitrdInfo("Linux Mint 21", "ubuntu")),
    ({"etc/os-release": b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'},
     det.InitrdInfo("Alpine Linux 3.19.1", None)),
    ({"etc/os-release": b"# no NAME here\nHOME_URL=x\n", "etc/debian_version": b"12.5\n"},
     det.InitrdInfo("Debian 12.5", "debian")),
    ({"etc/redhat-release": b"Red Hat Enterprise Linux release 8.8 (Ootpa)\n"},
     det.InitrdInfo("RHEL release 8.8 (Ootpa)", "redhat")),
    ({"etc/lsb-release": b'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=20.04\nDISTRIB_DESCRIPTION="Ubuntu 20.04.6 LTS"\n'},
     det.InitrdInfo("Ubuntu 20.04.6 LTS", "ubuntu")),
    ({"etc/alpine-release": b"3.18.4\n"}, det.InitrdInfo("Alpine Linux 3.18.4", None)),
    ({"etc/SuSE-release": b"SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\n"},
     det.InitrdInfo("SLES 11 (x86_64)", "suse")),
    ({"etc/hostname": b"nothing useful\n"}, det.InitrdInfo("unknown", None)),
])
def test_release_files(tmp_path, files, want):
    data = gzip.compress(cpio(*files.items()))
    assert det.detect_initrd(write(tmp_path, "initrd", data)) == want


def test_members_named_with_dot_slash_and_absolute_symlinks(tmp_path):
    data = cpio(("./etc/os-release", b"", 0o120777), link("./etc/os-release", "/usr/lib/os-release"),
                ("./usr/lib/os-release", b'NAME="Fedora Linux"\nVERSION_ID=39\nID=fedora\n'))
    assert det.detect_initrd(write(tmp_path, "initrd", data)) == det.InitrdInfo("Fedora Linux 39", "redhat")


def test_a_symlink_loop_is_unknown(tmp_path):
    data = cpio(link("etc/os-release", "a"), link("etc/a", "os-release"))
    assert det.detect_initrd(write(tmp_path, "initrd", data)) == det.InitrdInfo("unknown", None)


DAMAGED = {
    "empty": b"",
    "zeros": b"\0" * 4096,
    "text": b"not an initrd at all",
    "header not hex": b"070701" + b"Z" * 104,
    "cut in a member": cpio(("etc/os-release", OS_RELEASE_RHEL))[:150],
    "cut gzip": gzip.compress(cpio(("etc/os-release", OS_RELEASE_RHEL)), mtime=0)[:40],
    "gzip garbage": b"\x1f\x8b\x08\x00" + b"\xff" * 100,
    "xz garbage": b"\xfd7zXZ\x00" + b"\0" * 100,
    "absurd name length": b"070701" + b"%08X" % 1 * 11 + b"%08X" % 0xFFFFFF + b"%08X" % 0,
}


@pytest.mark.parametrize("data", DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_initrds_are_unknown(tmp_path, data):
    assert det.detect_initrd(write(tmp_path, "initrd", data)) == det.InitrdInfo("unknown", None)


def test_initrd_scan_stops_at_the_output_limit(tmp_path):
    big = gzip.compress(cpio(("usr/lib/firmware/blob", b"\0" * (4 << 20)), ("etc/os-release", OS_RELEASE_RHEL)))
    path = write(tmp_path, "initrd", big)
    assert det.detect_initrd(path, det.Limits(max_output=1 << 20)).os == "unknown"
    assert det.detect_initrd(path).os == "RHEL 9.2"


def test_initrd_scan_stops_at_the_time_limit(tmp_path):
    path = write(tmp_path, "initrd", gzip.compress(dracut_like(filler=1 << 20)))
    assert det.detect_initrd(path, det.Limits(seconds=-1)).os == "unknown"


def test_scan_stops_as_soon_as_os_release_is_found(tmp_path, monkeypatch):
    """Nothing much after the os-release file is decompressed (here 8 MiB of modules follow it)."""
    charged: list[int] = []
    real = initramfs.Budget.charge
    monkeypatch.setattr(initramfs.Budget, "charge", lambda self, n: (charged.append(n), real(self, n)))
    data = gzip.compress(cpio(("etc/os-release", OS_RELEASE_RHEL), ("usr/lib/modules/big", b"\0" * (8 << 20))))
    assert det.detect_initrd(write(tmp_path, "initrd", data)).os == "RHEL 9.2"
    assert sum(charged) <= 2 * det.CHUNK


def test_a_huge_release_file_is_not_read(tmp_path):
    data = cpio(("etc/os-release", b"NAME=x\n" + b"#" * det.MAX_RELEASE_FILE))
    assert det.detect_initrd(write(tmp_path, "initrd", data)).os == "unknown"


def test_detected_text_is_one_printable_line_of_bounded_length(tmp_path):
    data = cpio(("etc/os-release", b'NAME="Evil\x1b[31m\tOS ' + b"x" * 200 + b'"\nVERSION_ID=1\n'))
    info = det.detect_initrd(write(tmp_path, "initrd", data)).os
    assert info.startswith("Evil [31m OS xxx") and len(info) == det.MAX_INFO and info.isprintable()


# -- both ------------------------------------------------------------------------------------------------------


def test_detect_image_prefers_the_initrd_breed_and_never_raises(tmp_path):
    k = write(tmp_path, "k", fake_bzimage("6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian"))
    i = write(tmp_path, "i", gzip.compress(dracut_like()))
    assert det.detect_image(k, i) == det.ImageInfo("6.1.0-18-amd64", "RHEL 9.2", "redhat")
    unknown_initrd = write(tmp_path, "i2", b"junk")
    assert det.detect_image(k, unknown_initrd) == det.ImageInfo("6.1.0-18-amd64", "unknown", "debian")
    assert det.detect_image(tmp_path / "missing", tmp_path / "gone") == det.ImageInfo("", "unknown", None)
