"""What a boot image says about itself: the kernel's version, the OS of the initrd, and the breed they point to
(reference §8.5) — read in Python, without the ``file`` command, and bounded.

* **Kernel.** An x86 bzImage carries its version string in the setup header (magic ``HdrS`` at 0x202; a 16-bit
  pointer at 0x20E, the string at pointer + 0x200). Other kernels (arm64 ``Image``, ELF ``vmlinux``, their
  gzip/xz/... compressed forms, EFI zboot images) are searched for the ``Linux version `` banner.
* **Initrd.** A newc cpio archive (``070701``/``070702``), or several concatenated — typically an uncompressed
  early-microcode archive followed by the compressed main one — each compressed with gzip, xz, lzma, bzip2 or
  zstd (zstd only when the optional ``zstandard`` package is installed), or not at all. The OS comes from
  ``etc/os-release``, ``usr/lib/initrd-release``, ``usr/lib/os-release`` (symlinks followed inside the archive),
  else from the release files Igor v2 read (lsb, redhat, alpine, debian, fedora, centos, SuSE, arch, slackware,
  gentoo) — e.g. ``RHEL 9.2``; else ``unknown``.
* **Breed.** From the initrd's ``ID``/``ID_LIKE`` (rhel, centos, fedora, rocky, alma, ... → redhat; debian; ubuntu;
  sles, opensuse → suse; freebsd), else from a breed word in the kernel's version string (``#101-Ubuntu``,
  ``debian-kernel@``, ``.el9``). The caller uses it only to fill a blank breed.

Bounds (the reading itself is ``igor.initramfs``'s): at most :attr:`Limits.max_output` bytes are read or
decompressed per file and :attr:`Limits.seconds` spent on it; the initrd scan stops as soon as an os-release file
is found. Detection never raises through
:func:`detect_image`: a damaged, unknown or oversized file just gives ``unknown``.
"""

from __future__ import annotations

import logging
import posixpath
import re
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from igor.initramfs import (
    CHUNK,
    DEFAULT_LIMITS,
    Budget,
    Inflater,
    Limits,
    RawReader,
    Reader,
    Stop,
    compression,
    members,
    norm,
)
from igor.initramfs import MAX_MEMBER as MAX_RELEASE_FILE

log = logging.getLogger("igor.images")

UNKNOWN = "unknown"
#: Longest OS description or kernel version stored (the columns hold 255).
MAX_INFO = 64
_BANNER = b"Linux version "

#: Breed words a kernel version string may contain (``generic`` is left out: Ubuntu kernels are "...-generic").
_KERNEL_WORDS = ("debian", "freebsd", "nexenta", "redhat", "suse", "ubuntu", "unix", "vmware", "windows", "xen")
_KERNEL_WORD = re.compile(r"(?<![A-Za-z])(" + "|".join(_KERNEL_WORDS) + r")(?![A-Za-z])", re.IGNORECASE)
#: Red Hat family release tags in a kernel version: ``4.18.0-477.el8.x86_64``, ``6.5.6-300.fc39``.
_RH_TAG = re.compile(r"\.(el|fc)\d")

#: os-release ``ID`` / ``ID_LIKE`` values → breed.
OS_BREEDS = {
    "rhel": "redhat", "redhat": "redhat", "centos": "redhat", "fedora": "redhat", "rocky": "redhat",
    "almalinux": "redhat", "alma": "redhat", "ol": "redhat", "scientific": "redhat", "amzn": "redhat",
    "debian": "debian", "ubuntu": "ubuntu",
    "sles": "suse", "sled": "suse", "sles_sap": "suse", "suse": "suse", "opensuse": "suse",
    "opensuse-leap": "suse", "opensuse-tumbleweed": "suse", "opensuse-microos": "suse",
    "freebsd": "freebsd",
}
#: Shorter spellings of long OS names (v2 wrote RHEL).
_SHORT_NAMES = {"Red Hat Enterprise Linux": "RHEL", "SUSE Linux Enterprise Server": "SLES"}

#: Where an initrd says what it is, best first; any of these ends the scan.
PRIMARY = ("etc/os-release", "usr/lib/initrd-release", "usr/lib/os-release", "etc/initrd-release")


@dataclass(frozen=True)
class KernelInfo:
    """A kernel's version (``""`` when not found) and a breed its version string names (or None)."""

    version: str
    breed: str | None


@dataclass(frozen=True)
class InitrdInfo:
    """An initrd's OS (``RHEL 9.2``; :data:`UNKNOWN` when not found) and the breed it implies (or None)."""

    os: str
    breed: str | None


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`detect_image` found: the kernel version, the initrd OS and the detected breed (or None)."""

    kernel_info: str
    initrd_info: str
    breed: str | None


def _text(raw: bytes | str, limit: int = MAX_INFO) -> str:
    """Printable, one line, single-spaced, at most ``limit`` characters."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit]


# -- kernels ---------------------------------------------------------------------------------------------------


def kernel_breed(text: str) -> str | None:
    """The breed a kernel version string names, or None."""
    word = _KERNEL_WORD.search(text)
    if word:
        return word.group(1).lower()
    return "redhat" if _RH_TAG.search(text) else None


def _kernel_info(text: str) -> KernelInfo:
    text = _text(text, 512)
    version = text.split(" ", 1)[0] if text else ""
    return KernelInfo(version[:MAX_INFO], kernel_breed(text) if text else None)


def bzimage_version(head: bytes) -> str | None:
    """The version string of an x86 bzImage's setup header (``head``: the file's first bytes), or None."""
    if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
        return None
    protocol, = struct.unpack_from("<H", head, 0x206)
    pointer, = struct.unpack_from("<H", head, 0x20E)
    if protocol < 0x200 or pointer == 0:
        return None
    at = pointer + 0x200
    end = head.find(b"\0", at, at + 512)
    if at >= len(head) or end < 0:
        return None
    return head[at:end].decode("ascii", "replace")


def _banner(reader: Reader) -> str | None:
    """The text after ``Linux version `` (up to the line's end) anywhere in what ``reader`` yields."""
    window = b""
    while True:
        chunk = reader.read(CHUNK)
        if not chunk:
            return None
        window = window[-(len(_BANNER) + 512):] + chunk
        at = window.find(_BANNER)
        if at >= 0:
            if len(window) - at < len(_BANNER) + 512:  # the line may go on in the next chunk
                window += reader.read(512)
            line = window[at + len(_BANNER):at + len(_BANNER) + 512]
            return line.split(b"\n", 1)[0].split(b"\0", 1)[0].decode("ascii", "replace")


def detect_kernel(path: Path, limits: Limits = DEFAULT_LIMITS) -> KernelInfo:
    """A kernel's version and breed hint (:class:`KernelInfo` with ``""`` and None when nothing is found).

    Raises:
        OSError: the file cannot be read.
    """
    budget = Budget(limits)
    with open(path, "rb") as fh:
        head = fh.read(0x4000)
        version = bzimage_version(head)
        if version:
            return _kernel_info(version)
        try:
            found = _banner(RawReader(fh, 0, budget))
            if found is None:
                inner = _compressed_payload(fh, head, budget)
                found = _banner(inner) if inner is not None else None
        except Stop as why:
            log.info("kernel %s: no version found (%s)", path, why)
            found = None
    return _kernel_info(found) if found else KernelInfo("", None)


def _compressed_payload(fh: BinaryIO, head: bytes, budget: Budget) -> Reader | None:
    """A reader of the kernel image inside a compressed kernel file (``Image.gz``, an EFI zboot image)."""
    kind = compression(head[:8])
    if kind is not None:
        return Inflater(fh, 0, kind, budget)
    if head[:2] == b"MZ" and head[4:8] == b"zimg" and len(head) >= 0x20:  # EFI zboot: payload offset at 8
        offset, = struct.unpack_from("<I", head, 8)
        fh.seek(offset)
        kind = compression(fh.read(8))
        if kind is not None:
            return Inflater(fh, offset, kind, budget)
    return None


# -- initrds ---------------------------------------------------------------------------------------------------


def parse_os_release(data: bytes) -> dict[str, str]:
    """The ``KEY=value`` pairs of an os-release file (quotes removed, shell escapes undone)."""
    out: dict[str, str] = {}
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = re.sub(r"\\([\\$\"'`])", r"\1", value[1:-1])
        out[key.strip()] = value
    return out


def os_breed(ids: str) -> str | None:
    """The breed of the first os-release ``ID``/``ID_LIKE`` word that names one."""
    for word in ids.lower().split():
        if word in OS_BREEDS:
            return OS_BREEDS[word]
        if word.startswith("opensuse"):
            return "suse"
    return None


def _short(name: str) -> str:
    return _SHORT_NAMES.get(name, name)


def _from_os_release(data: bytes) -> InitrdInfo | None:
    fields = parse_os_release(data)
    name = fields.get("NAME") or fields.get("ID") or ""
    if not name:
        return None
    version = fields.get("VERSION_ID") or (fields.get("VERSION") or "").split(" ", 1)[0]
    text = _text(f"{_short(name)} {version}")
    return InitrdInfo(text or UNKNOWN, os_breed(f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}"))


def _plain(prefix: str, breed: str | None) -> Callable[[bytes], InitrdInfo | None]:
    """A release file holding a version or a one-line description (``prefix`` added unless already there)."""

    def parse(data: bytes) -> InitrdInfo | None:
        line = _text(data.split(b"\n", 1)[0], 200)
        for long, short in _SHORT_NAMES.items():
            line = line.replace(long, short)
        if prefix and not line.lower().startswith(prefix.lower()):
            line = f"{prefix} {line}"
        line = _text(line)
        return InitrdInfo(line, breed) if line else None

    return parse


def _from_lsb(data: bytes) -> InitrdInfo | None:
    fields = parse_os_release(data)
    text = _text(fields.get("DISTRIB_DESCRIPTION") or
                 f"{fields.get('DISTRIB_ID', '')} {fields.get('DISTRIB_RELEASE', '')}")
    return InitrdInfo(text, os_breed(fields.get("DISTRIB_ID", ""))) if text else None


#: The release files Igor v2 looked at after the os-release ones, in its order, with how to read each.
SECONDARY: tuple[tuple[str, Callable[[bytes], InitrdInfo | None]], ...] = (
    ("etc/lsb-release", _from_lsb),
    ("etc/redhat-release", _plain("", "redhat")),
    ("etc/alpine-release", _plain("Alpine Linux", None)),
    ("etc/debian_version", _plain("Debian", "debian")),
    ("etc/fedora-release", _plain("", "redhat")),
    ("etc/centos-release", _plain("", "redhat")),
    ("etc/SuSE-release", _plain("", "suse")),
    ("etc/arch-release", _plain("Arch Linux", None)),
    ("etc/slackware-version", _plain("Slackware", None)),
    ("etc/gentoo-release", _plain("Gentoo", None)),
)


class _Finder:
    """Collects the release files (and symlinks to them) met in the archives, and says when it has enough."""

    def __init__(self) -> None:
        self.wanted = set(PRIMARY) | {name for name, _ in SECONDARY}
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}

    def see(self, path: str, mode: int, data: bytes) -> None:
        if stat.S_ISLNK(mode):
            target = data.decode("utf-8", "replace").rstrip("\0")
            resolved = norm(target if target.startswith("/") else posixpath.join(posixpath.dirname(path), target))
            self.links[path] = resolved
            self.wanted.add(resolved)
        else:
            self.files[path] = data

    def _content(self, path: str) -> bytes | None:
        for _ in range(8):  # symlink hops
            if path in self.files:
                return self.files[path]
            if path not in self.links:
                return None
            path = self.links[path]
        return None

    def primary(self) -> InitrdInfo | None:
        for path in PRIMARY:
            data = self._content(path)
            if data is not None:
                info = _from_os_release(data)
                if info is not None:
                    return info
        return None

    def result(self) -> InitrdInfo:
        info = self.primary()
        if info is not None:
            return info
        for path, parse in SECONDARY:
            data = self._content(path)
            if data is not None:
                info = parse(data)
                if info is not None:
                    return info
        return InitrdInfo(UNKNOWN, None)


def detect_initrd(path: Path, limits: Limits = DEFAULT_LIMITS) -> InitrdInfo:
    """The OS an initrd was built from (:data:`UNKNOWN` when not found) and the breed it implies; the walk stops
    at the first os-release file found.

    Raises:
        OSError: the file cannot be opened.
    """
    finder = _Finder()
    for member, mode, data in members(path, finder.wanted.__contains__, limits):
        finder.see(member, mode, data)
        if finder.primary() is not None:
            break
    return finder.result()


# -- both ------------------------------------------------------------------------------------------------------


def detect_image(kernel: Path, initrd: Path, limits: Limits = DEFAULT_LIMITS) -> ImageInfo:
    """Detect what a kernel+initrd pair is; never raises (what cannot be read is unknown)."""
    try:
        k = detect_kernel(kernel, limits)
    except Exception as exc:  # noqa: BLE001 - detection must never fail a registration
        log.warning("kernel detection failed on %s: %s", kernel, exc)
        k = KernelInfo("", None)
    try:
        i = detect_initrd(initrd, limits)
    except Exception as exc:  # noqa: BLE001 - likewise
        log.warning("initrd detection failed on %s: %s", initrd, exc)
        i = InitrdInfo(UNKNOWN, None)
    return ImageInfo(kernel_info=k.version, initrd_info=i.os, breed=i.breed or k.breed)


__all__ = ["DEFAULT_LIMITS", "MAX_RELEASE_FILE", "UNKNOWN", "ImageInfo", "InitrdInfo", "KernelInfo", "Limits",
           "bzimage_version", "detect_image", "detect_initrd", "detect_kernel", "kernel_breed", "os_breed",
           "parse_os_release"]
