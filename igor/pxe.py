"""PXE boot files under ``server.tftpRoot`` — no database: what a host's pxelinux or grub file says, where it
lives, and how it is written, converted to local boot and removed (SPEC §6, reference §4.10).

Layout (relative to tftpRoot; the TFTP server serves from there)::

    pxelinux.cfg/01-<mac>            a BIOS host's file (<mac> lower case, '-' separated), read by pxelinux
    pxelinux.cfg/igor/<host name>    its master copy (what Igor wrote at install, kept for admins)
    efi/boot/grub.cfg-01-<mac>       a UEFI host's file, read by the grub loaded from efi/boot/
    efi/boot/igor/<host name>        its master copy

The UEFI folder is Igor v2's ``efi/boot`` (``PXEUEFIDir`` in its ``config.go``; reference §4.10 says ``uefi``, the
v2 source does not): grub looks for ``grub.cfg-01-<mac>`` next to itself, and sites moving from v2 keep their grub
where v2 put its files. Kernel and initrd paths are relative to tftpRoot (``igor_images/<id>/<file>``, from
:func:`igor.imagestore.image_paths`), as v2 wrote them.

What is written (v2's ``tftp.go``, with these differences):

* **Kernel args are written**: the distro's, then the profile's, after the auto-install args (v2 2.2 wrote neither
  — the lines building them were left commented out). Last on the line, so a user's own arg wins over Igor's.
* **Auto-install args** for a local-boot image, with v2's words: breed ``redhat`` gets ``inst.ks=<url>`` (and
  ``IPAPPEND 2`` on BIOS), every other breed a preseed ``url=<url>``. The URL is
  ``<cb base>/igor/cb/svc/ks/<file>`` — v2 doubled the slash and always said ``http``; here the base comes from
  :func:`callback_base_url` (``https`` when ``cbUseTLS``, never a wildcard bind address). Runs of spaces v2 left
  in the lines are single spaces, and ``IPAPPEND`` is indented like the other label lines (pxelinux ignores
  indentation).
* **Local boot on UEFI** chainloads the installed system's own grub for breeds whose loader path is known
  (``redhat``, ``ubuntu``, ``debian``); for the others v2 searched for a file named ``+1`` (a BIOS idiom that
  cannot work on UEFI), and here grub ``exit``\\ s back to the firmware, which boots the next entry — what
  ``LOCALBOOT -1`` does on BIOS.
* **Removal** takes a host's per-MAC files and master copies of both boot modes (a host whose boot mode changed
  strands nothing), and nothing else; removing what is not there is fine.

Rules kept here:

* **Nothing from outside builds a path unchecked.** The MAC must be six hex pairs; host names are plain tokens
  (letters, digits, ``. _ + ~ -``, not starting with ``.``); image paths are relative, made of such tokens.
* **Nothing from outside adds a line.** Every value is one line; names are tokens; on UEFI, kernel args cannot use
  grub's script characters (``$ ; { } | & < > \\`` quotes and backquotes), which would run or break grub commands.
* **Atomic writes**: a hidden temporary file in the target folder, renamed into place, so the TFTP server reads
  the old file or the new one, never a part; files are 0644 (TFTP servers such as tftpd-hpa serve as ``nobody``
  and refuse files others cannot read).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from igor.config import Config
from igor.errors import BadInput
from igor.imagestore import BREED_ALIASES, BREEDS, DEFAULT_BREED, StoreError, check_file_name

PXELINUX_DIR = "pxelinux.cfg"
UEFI_DIR = "efi/boot"
MASTER_DIR = "igor"
#: The callback route kickstart and preseed files are served from (:mod:`igor.cbserver`).
KS_ROUTE = "/igor/cb/svc/ks"
BOOT_MODES = ("bios", "uefi")
#: Where the installed system's grub lives on its EFI partition, per breed (others ``exit`` to the firmware).
EFI_LOADERS = {"redhat": "/EFI/redhat/grubx64.efi", "ubuntu": "/EFI/ubuntu/grubx64.efi",
               "debian": "/EFI/debian/grubx64.efi"}
FILE_MODE = 0o644

_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}")
_TOKEN = re.compile(r"[A-Za-z0-9_+~-][A-Za-z0-9._+~-]{0,127}")
_GRUB_SPECIAL = frozenset("$;{}|&<>\\\"'`")
#: Bind addresses that name no particular address (a node cannot call them).
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]", "*")


class BootFileError(StoreError, OSError):
    """A boot file could not be written or removed (disk full, permissions): an ``OSError`` for callers that
    handle the file system, an ``IgorError`` (500) for the API."""


@dataclass(frozen=True)
class BootSpec:
    """What a reservation boots, as the boot files name it.

    Attributes:
        reservation: the reservation's name (the pxelinux label).
        distro: the distro's name (in the grub menu title).
        kernel: the kernel's path relative to tftpRoot (``igor_images/<id>/<file>``).
        initrd: the initrd's path relative to tftpRoot.
        kernel_args: the distro's kernel args, then the profile's, one line.
        breed: the image's breed (:data:`igor.imagestore.BREEDS`).
        local_boot: the image installs to disk, driven by ``kickstart``.
        kickstart: the kickstart (or preseed) file name under ``<tftpRoot>/kickstarts``, or None.
    """

    reservation: str
    distro: str
    kernel: str
    initrd: str
    kernel_args: str = ""
    breed: str = DEFAULT_BREED
    local_boot: bool = False
    kickstart: str | None = None


@dataclass(frozen=True)
class BootHost:
    """The host a boot file is for.

    Attributes:
        name: Igor's name for it (``kn7``): names the master copy and appears in the file.
        hostname: its network host name.
        mac: the MAC address it PXE boots from (``:`` or ``-`` separated).
        boot_mode: ``bios`` (pxelinux) or ``uefi`` (grub).
    """

    name: str
    hostname: str
    mac: str
    boot_mode: str = "bios"


@dataclass(frozen=True)
class BootPaths:
    """A host's boot file and master copy for one boot mode."""

    per_mac: Path
    master: Path


def as_boot_host(host: BootHost | Mapping[str, Any]) -> BootHost:
    """A :class:`BootHost`, also from the plain mapping the lifecycle events store (``name, hostname, mac,
    boot``)."""
    if isinstance(host, BootHost):
        return host
    return BootHost(name=str(host.get("name", "")), hostname=str(host.get("hostname", "")),
                    mac=str(host.get("mac", "")), boot_mode=str(host.get("boot") or host.get("boot_mode") or "bios"))


def as_boot_spec(spec: BootSpec | Mapping[str, Any]) -> BootSpec:
    """A :class:`BootSpec`, also from the plain mapping the lifecycle events store (its field names)."""
    if isinstance(spec, BootSpec):
        return spec
    breed = str(spec.get("breed") or DEFAULT_BREED).lower()
    return BootSpec(reservation=str(spec.get("reservation", "")), distro=str(spec.get("distro", "")),
                    kernel=str(spec.get("kernel", "")), initrd=str(spec.get("initrd", "")),
                    kernel_args=str(spec.get("kernel_args") or ""), breed=BREED_ALIASES.get(breed, breed),
                    local_boot=bool(spec.get("local_boot")), kickstart=spec.get("kickstart") or None)


# -- rules -----------------------------------------------------------------------------------------------------


def pxe_mac(mac: str) -> str:
    """The per-MAC file name part, ``01-`` + the MAC in lower case with ``-`` (``01-52-54-00-12-34-56``).

    Raises:
        BadInput: ``mac`` is not six hex pairs separated by ``:`` or ``-``.
    """
    if not isinstance(mac, str) or not _MAC.fullmatch(mac):
        raise BadInput(f"invalid MAC address '{_shown(mac)}': six hex pairs separated by ':' or '-' expected")
    return "01-" + mac.lower().replace(":", "-")


def _shown(value: object) -> str:
    text = str(value).encode("unicode_escape").decode("ascii")
    return text if len(text) <= 64 else text[:61] + "..."


def _token(value: str, what: str) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise BadInput(f"invalid {what} '{_shown(value)}': letters, digits and '.', '_', '+', '~', '-' only, "
                       "not starting with '.'")
    return value


def _relative_path(value: str, what: str) -> str:
    if not isinstance(value, str) or not value or value.startswith("/"):
        raise BadInput(f"invalid {what} path '{_shown(value)}': a path relative to tftpRoot expected")
    for part in value.split("/"):
        _token(part, f"{what} path component")
    return value


def _kernel_args(value: str, boot_mode: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadInput("kernel args may not contain new lines, tabs or other control characters")
    if boot_mode == "uefi":
        bad = sorted(set(value) & _GRUB_SPECIAL)
        if bad:
            raise BadInput(f"kernel args for a UEFI host may not use grub's special characters: {' '.join(bad)}")
    return " ".join(value.split())


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if (parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment
            or any(c.isspace() or not c.isprintable() for c in value)):
        raise BadInput(f"invalid callback base URL '{_shown(value)}': http(s)://host:port expected")
    return value.rstrip("/")


def _check_host(host: BootHost) -> str:
    """The host's boot mode, after checking everything a path or a line is made from."""
    if host.boot_mode not in BOOT_MODES:
        raise BadInput(f"host '{_shown(host.name)}': unknown boot mode '{_shown(host.boot_mode)}' "
                       "(bios or uefi expected)")
    _token(host.name, "host name")
    pxe_mac(host.mac)
    return host.boot_mode


def boot_paths(tftp_root: Path, host: BootHost, boot_mode: str | None = None) -> BootPaths:
    """Where ``host``'s boot file and master copy live for ``boot_mode`` (default: the host's)."""
    mode = boot_mode or _check_host(host)
    mac = pxe_mac(host.mac)
    name = _token(host.name, "host name")
    root = Path(tftp_root)
    if mode == "bios":
        return BootPaths(root / PXELINUX_DIR / mac, root / PXELINUX_DIR / MASTER_DIR / name)
    return BootPaths(root / UEFI_DIR / f"grub.cfg-{mac}", root / UEFI_DIR / MASTER_DIR / name)


def url_host(host: str) -> str:
    """``host`` as the host part of a URL (an IPv6 address in brackets)."""
    bare = host.strip().strip("[]")
    try:
        return f"[{bare}]" if ipaddress.ip_address(bare).version == 6 else bare
    except ValueError:
        return bare


def callback_base_url(config: Config, fqdn: Callable[[], str] = socket.getfqdn) -> str:
    """``http(s)://<host>:<cbPort>``: the callback server as nodes should reach it, for kickstart URLs.

    ``https`` when ``server.cbUseTLS``, else ``http``. The host is ``server.cbHost``, unless it is a wildcard
    (``0.0.0.0``, ``::``: a bind address, not one a node can call) — then ``server.host``, and when that is a
    wildcard too, this machine's fully qualified name (v2's default for a blank ``cbHost``). Nodes must reach,
    and with TLS verify, that name: set ``cbHost`` to the server's address on the nodes' network.
    """
    server = config.server
    scheme = "https" if server.cb_use_tls else "http"
    host = server.cb_host.strip()
    if host in WILDCARD_HOSTS:
        host = server.host.strip()
    if host in WILDCARD_HOSTS:
        host = fqdn()
    return f"{scheme}://{url_host(host)}:{server.cb_port}"


# -- contents --------------------------------------------------------------------------------------------------


def kickstart_url(cb_base_url: str, kickstart: str) -> str:
    """``<cb base>/igor/cb/svc/ks/<file>`` (one slash, unlike v2)."""
    return f"{_base_url(cb_base_url)}{KS_ROUTE}/{check_file_name(kickstart, 'kickstart file')}"


def _auto_install(host: BootHost, spec: BootSpec, mode: str, cb_base_url: str) -> str:
    if not spec.local_boot:
        return ""
    if not spec.kickstart:
        raise BadInput(f"distro '{spec.distro}' boots a local-boot image but has no kickstart")
    url = kickstart_url(cb_base_url, spec.kickstart)
    mac = host.mac.lower().replace("-", ":")
    if spec.breed == "redhat":
        if mode == "bios":
            return f"inst.lang= inst.kssendmac text inst.ksdevice=bootif inst.ks={url}"
        return f"lang= inst.kssendmac inst.text inst.ksdevice=bootif inst.ks={url}"
    if mode == "bios":
        return (f"lang= netcfg/choose_interface={mac} text auto-install/enable=true priority=critical "
                f"hostname={host.name} url={url} domain=local.lan")
    return f"lang= netcfg/choose_interface={mac} text auto-install/enable=true priority=critical url={url}"


def render_boot_file(host: BootHost, spec: BootSpec, cb_base_url: str) -> str:
    """The text of ``host``'s install boot file (pxelinux for BIOS, grub for UEFI).

    Raises:
        BadInput: a value breaks a rule of the module docstring, the breed is unknown, or a local-boot image has
            no kickstart.
    """
    mode = _check_host(host)
    res = _token(spec.reservation, "reservation name")
    distro = _token(spec.distro, "distro name")
    kernel = _relative_path(spec.kernel, "kernel")
    initrd = _relative_path(spec.initrd, "initrd")
    if spec.breed not in BREEDS:
        raise BadInput(f"unknown breed '{_shown(spec.breed)}' of distro '{distro}'")
    args = " ".join(a for a in (_auto_install(host, spec, mode, cb_base_url),
                                _kernel_args(spec.kernel_args, mode)) if a)
    tail = f" {args}" if args else ""
    if mode == "bios":
        ipappend = "\tIPAPPEND 2\n" if spec.local_boot and spec.breed == "redhat" else ""
        return (f"DEFAULT {res}\n\nLABEL {res}\n\tKERNEL {kernel}\n{ipappend}"
                f"\tAPPEND initrd={initrd}{tail}\n")
    return ("set default=install-menu\nset timeout=6\n\n"
            f'menuentry "Reservation: {res} netbooting {distro} on host {host.name}" --id install-menu {{\n'
            f"    linuxefi {kernel}{tail}\n"
            f"    initrdefi {initrd}\n"
            "}\n")


def render_local_boot(host: BootHost, spec: BootSpec | None = None) -> str:
    """The text that makes ``host`` boot from its own disk (after an install, or with no spec at all)."""
    mode = _check_host(host)
    if mode == "bios":
        return ("DEFAULT local\nPROMPT 0\nTIMEOUT 0\nTOTALTIMEOUT 0\nONTIMEOUT local\n"
                "LABEL local\n\tLOCALBOOT -1\n")
    if spec is not None:
        title = (f"Reservation: {_token(spec.reservation, 'reservation name')} booting "
                 f"{_token(spec.distro, 'distro name')} locally on host {host.name}")
    else:
        title = f"Host {host.name} booting locally"
    loader = EFI_LOADERS.get(spec.breed) if spec is not None else None
    if loader is None:
        body = "    exit\n"
    else:
        body = (f"    insmod part_gpt\n    insmod fat\n    search --no-floppy --set=root --file {loader}\n"
                f"    chainloader {loader}\n")
    return f'set default=install-menu\nset timeout=6\n\nmenuentry "{title}" --id install-menu {{\n{body}}}\n'


# -- files -----------------------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0644 whatever the umask."""
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            os.fchmod(fh.fileno(), FILE_MODE)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise BootFileError(f"could not write the boot file {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _root(tftp_root: Path) -> Path:
    root = Path(tftp_root)
    if not root.is_dir():
        raise BootFileError(f"server.tftpRoot {root} is not a directory")
    return root


def write_boot_files(tftp_root: Path, host: BootHost, spec: BootSpec, cb_base_url: str) -> BootPaths:
    """Write ``host``'s install boot file and its master copy (master first, as v2).

    Args:
        tftp_root: ``server.tftpRoot`` (must exist; the sub-folders are created).
        host: the host.
        spec: what it boots.
        cb_base_url: the callback server's base URL as nodes reach it (``http://10.0.0.1:8444``), for the
            kickstart URL of a local-boot image.

    Returns:
        The paths written.

    Raises:
        BadInput: see :func:`render_boot_file`; nothing is written.
        BootFileError: a file could not be written.
    """
    text = render_boot_file(host, spec, cb_base_url)
    paths = boot_paths(_root(tftp_root), host)
    _write(paths.master, text)
    _write(paths.per_mac, text)
    return paths


def write_local_boot(tftp_root: Path, host: BootHost, spec: BootSpec | None = None) -> Path:
    """Replace ``host``'s per-MAC boot file by one that boots the local disk; the master copy keeps the install
    file. ``spec`` (the reservation's) names the grub entry and picks the loader to chainload on UEFI.

    Returns:
        The path written.
    """
    text = render_local_boot(host, spec)
    path = boot_paths(_root(tftp_root), host).per_mac
    _write(path, text)
    return path


def remove_boot_files(tftp_root: Path, host: BootHost) -> list[Path]:
    """Remove ``host``'s per-MAC files and master copies (both boot modes) and nothing else; idempotent.

    Returns:
        The paths that were there and are now gone.

    Raises:
        BadInput: the host's MAC or name is invalid.
        BootFileError: a file exists but could not be removed.
    """
    _token(host.name, "host name")
    pxe_mac(host.mac)
    removed: list[Path] = []
    for mode in BOOT_MODES:
        paths = boot_paths(Path(tftp_root), host, mode)
        for path in (paths.per_mac, paths.master):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise BootFileError(f"could not remove the boot file {path}: {exc.strerror or exc}") from None
            removed.append(path)
    return removed


class BootWriter:
    """The boot files of one server: :func:`write_boot_files`, :func:`write_local_boot` and
    :func:`remove_boot_files` bound to ``server.tftpRoot`` and the callback base URL. Hosts and specs may be
    :class:`BootHost`/:class:`BootSpec` or the plain mappings the lifecycle events store.

    Args:
        config: the server configuration.
        cb_base_url: the callback server's URL as nodes reach it (default :func:`callback_base_url`).
    """

    def __init__(self, config: Config, *, cb_base_url: str | None = None) -> None:
        self.tftp_root = Path(config.server.tftp_root)
        self.cb_base_url = cb_base_url or callback_base_url(config)

    def write(self, host: BootHost | Mapping[str, Any], spec: BootSpec | Mapping[str, Any]) -> BootPaths:
        return write_boot_files(self.tftp_root, as_boot_host(host), as_boot_spec(spec), self.cb_base_url)

    def local(self, host: BootHost | Mapping[str, Any], spec: BootSpec | Mapping[str, Any] | None = None) -> Path:
        return write_local_boot(self.tftp_root, as_boot_host(host), as_boot_spec(spec) if spec is not None else None)

    def remove(self, host: BootHost | Mapping[str, Any]) -> list[Path]:
        return remove_boot_files(self.tftp_root, as_boot_host(host))
