"""The cluster description: reading, validating and writing ``igor-clusters.yaml``.

This module owns the file that lists the cluster's hosts (reference section 3.2) and the simulated demo cluster.
One cluster per file, as in Igor v2::

    krypton:
      prefix: kn
      displayWidth: 12
      displayHeight: 4
      motd: optional message of the day
      hostmap:
        1: {mac: "00:00:00:00:00:01", ip: 192.168.0.1, bootMode: uefi, eth: Et1/1/1, policy: default,
            hostname: zod, powerUri: "ipmi://admin:secret@bmc1", attributes: {gpu: a100, ram_gb: 256}}

``powerUri`` (``ipmi://USER:PASS@BMC[:PORT]``, ``libvirt+qemu:///system/DOMAIN``, ``sim://``) and ``attributes``
(free ``key: scalar`` pairs used by ``--where``) are additions to v2's format. Problems are collected and raised
together as one :class:`igor.config.ConfigError`, each naming its key path (``krypton.hostmap.7.mac``).
MACs are normalised to lower-case colon form; duplicate IPs are allowed (Igor v2 allowed them and the krypton
example has some) but logged.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import yaml

from igor._configio import Problems, read_yaml_file
from igor.config import CLUSTERS_FILE

__all__ = ["BOOT_MODES", "POWER_SCHEMES", "ClusterSpec", "HostSpec", "demo_clusters", "dump_clusters",
           "load_clusters", "parse_clusters"]  # fmt: skip

log = logging.getLogger("igor.config")

Scalar: TypeAlias = str | int | float | bool
"""A host attribute value."""

BOOT_MODES = ("bios", "uefi")
POWER_SCHEMES = ("ipmi", "libvirt+qemu", "libvirt", "sim")

_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}")
_ETH = re.compile(r"[a-zA-Z][a-zA-Z0-9/]{2,23}")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_ATTR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

# camelCase file keys and the fields they fill, in the order dump_clusters writes them.
_CLUSTER_KEYS = {"prefix": "prefix", "displayWidth": "display_width", "displayHeight": "display_height",
                 "motd": "motd", "hostmap": "hosts"}  # fmt: skip
_HOST_KEYS = {"mac": "mac", "hostname": "hostname", "eth": "eth", "ip": "ip", "policy": "policy",
              "bootMode": "boot_mode", "powerUri": "power_uri", "attributes": "attributes"}  # fmt: skip


@dataclass(frozen=True)
class HostSpec:
    """One ``hostmap`` entry. ``name`` is the Igor node name (prefix + seq); ``hostname`` the real one."""

    seq: int
    name: str
    hostname: str
    mac: str
    ip: str
    eth: str = ""
    policy: str = ""
    boot_mode: str = "bios"
    power_uri: str = ""
    attributes: Mapping[str, Scalar] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.attributes, MappingProxyType):
            object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))


@dataclass(frozen=True)
class ClusterSpec:
    """The whole of ``igor-clusters.yaml``; ``hosts`` are sorted by ``seq``."""

    name: str
    prefix: str
    display_width: int
    display_height: int
    motd: str = ""
    hosts: tuple[HostSpec, ...] = ()


def load_clusters(path: str | Path) -> ClusterSpec:
    """Read and validate an ``igor-clusters.yaml`` file.

    Raises:
        ConfigError: Unreadable, not YAML, or breaking any rule (all listed, one per line).
    """
    return parse_clusters(read_yaml_file(Path(path)), source=str(path))


def parse_clusters(data: Any, source: str = CLUSTERS_FILE) -> ClusterSpec:
    """Validate already-parsed ``igor-clusters.yaml`` data.

    Args:
        data: The file's top level: a mapping with exactly one cluster name.
        source: Prefixes every problem (a file name or path).

    Raises:
        ConfigError: Listing every problem found.
    """
    p = Problems(source)
    if not isinstance(data, Mapping) or not data:
        p.note("must define one cluster as  NAME: {prefix: …, displayWidth: …, displayHeight: …, hostmap: …}")
        p.check()
    if len(data) > 1:
        p.note(f"only one cluster is supported, found {len(data)}: {', '.join(map(str, data))}")
        p.check()
    ((name, body),) = data.items()
    if not isinstance(name, str) or not name.strip():
        p.bad("cluster name", name, "must be a non-empty string")
    if not isinstance(body, Mapping):
        p.bad(str(name), body, "must be a mapping with prefix, displayWidth, displayHeight and hostmap")
        p.check()
    for key in body:
        if key not in _CLUSTER_KEYS:
            p.unknown(f"{name}.{key}", [f"{name}.{k}" for k in _CLUSTER_KEYS])

    prefix = body.get("prefix")
    if prefix is None:
        p.note(f"{name}.prefix is missing: node names are PREFIX + number, e.g. kn")
    elif not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        p.bad(f"{name}.prefix", prefix, "must be a letter followed by letters, digits or -")
        prefix = None
    dims = []
    for key in ("displayWidth", "displayHeight"):
        value = body.get(key)
        if value is None:
            p.note(f"{name}.{key} is missing: the size of the CLI's node grid")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            p.bad(f"{name}.{key}", value, "must be a positive whole number")
        dims.append(value)
    motd = body.get("motd") or ""
    if not isinstance(motd, str):
        p.bad(f"{name}.motd", motd, "must be a string")

    hostmap = body.get("hostmap") or {}
    hosts: dict[int, HostSpec] = {}
    if not isinstance(hostmap, Mapping):
        p.bad(f"{name}.hostmap", hostmap, "must map node numbers to host settings")
        hostmap = {}
    macs: dict[str, str] = {}
    hostnames: dict[str, str] = {}
    for seq_key, entry in hostmap.items():
        path = f"{name}.hostmap.{seq_key}"
        seq = _seq(seq_key)
        if seq is None:
            p.bad(f"{name}.hostmap", seq_key, "node numbers must be whole numbers ≥ 0")
            continue
        if seq in hosts:
            p.note(f"{path}: node number {seq} appears twice")
            continue
        host = _parse_host(p, path, seq, entry, prefix)
        if host is None:
            continue
        for value, seen, what in ((host.mac, macs, "mac"), (host.hostname.lower(), hostnames, "hostname")):
            if value in seen:
                p.bad(f"{path}.{what}", getattr(host, what), f"duplicate of {seen[value]}.{what}")
            seen.setdefault(value, path)
        hosts[seq] = host
    p.check()

    ordered = tuple(hosts[s] for s in sorted(hosts))
    if dims[0] * dims[1] < len(ordered):
        log.warning("%s: %s.displayWidth × displayHeight = %d is less than the %d hosts; the grid will be cut",
                    source, name, dims[0] * dims[1], len(ordered))  # fmt: skip
    ips: dict[str, int] = {}
    for host in ordered:
        if host.ip in ips:
            log.warning("%s: %s.hostmap.%d.ip %s is also host %d's", source, name, host.seq, host.ip, ips[host.ip])
        ips.setdefault(host.ip, host.seq)
    return ClusterSpec(name=name, prefix=str(prefix), display_width=dims[0], display_height=dims[1], motd=motd,
                       hosts=ordered)  # fmt: skip


def _seq(key: Any) -> int | None:
    if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
        return key
    if isinstance(key, str) and key.isdigit() and key.isascii():
        return int(key)
    return None


def _parse_host(p: Problems, path: str, seq: int, entry: Any, prefix: str | None) -> HostSpec | None:
    """Validate one hostmap entry; None (after recording problems) when it is not usable."""
    if not isinstance(entry, Mapping):
        p.bad(path, entry, "must be a mapping with at least mac, ip and bootMode")
        return None
    before = len(p.lines)
    for key in entry:
        if key not in _HOST_KEYS:
            p.unknown(f"{path}.{key}", [f"{path}.{k}" for k in _HOST_KEYS])
    for key in ("mac", "ip", "bootMode"):
        if entry.get(key) is None:
            p.note(f"{path}.{key} is missing: every host needs mac, ip and bootMode")
    text: dict[str, str] = {}
    for key in ("mac", "hostname", "eth", "ip", "policy", "bootMode", "powerUri"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            p.bad(f"{path}.{key}", value, "must be a string")
        elif value is not None:
            text[key] = value.strip()

    mac = text.get("mac", "")
    if "mac" in text and not _MAC.fullmatch(mac):
        p.bad(f"{path}.mac", text["mac"], "not a valid MAC address (six hex pairs, e.g. 52:54:00:12:34:56)")
    ip = text.get("ip", "")
    if "ip" in text:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            p.bad(f"{path}.ip", ip, "not a valid IPv4 or IPv6 address")
    hostname = text.get("hostname") or f"{prefix}{seq}"
    if "hostname" in text and not _HOSTNAME.fullmatch(hostname):
        p.bad(f"{path}.hostname", hostname, "not a valid host name")
    if text.get("eth") and not _ETH.fullmatch(text["eth"]):
        p.bad(f"{path}.eth", text["eth"], "must be a switch port name: a letter, then 2-23 letters, digits or /")
    boot = text.get("bootMode", "").lower()
    if "bootMode" in text and boot not in BOOT_MODES:
        p.bad(f"{path}.bootMode", text["bootMode"], "must be bios or uefi")
    power = text.get("powerUri", "")
    if power:
        rule = _power_uri_problem(power)
        if rule:
            p.bad(f"{path}.powerUri", power, rule)
    attributes = _parse_attributes(p, f"{path}.attributes", entry.get("attributes"))
    if len(p.lines) > before or prefix is None:
        return None
    return HostSpec(seq=seq, name=f"{prefix}{seq}", hostname=hostname, mac=mac.lower().replace("-", ":"), ip=ip,
                    eth=text.get("eth", ""), policy=text.get("policy", ""), boot_mode=boot, power_uri=power,
                    attributes=attributes)  # fmt: skip


def _power_uri_problem(uri: str) -> str | None:
    """The rule ``uri`` breaks, or None."""
    parts = urlsplit(uri)
    if parts.scheme not in POWER_SCHEMES:
        return "the scheme must be one of " + ", ".join(f"{s}://" for s in POWER_SCHEMES)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return "has an invalid port"
    if parts.scheme == "ipmi" and not parts.hostname:
        return "must name the BMC, e.g. ipmi://USER:PASS@BMC-HOST[:PORT]"
    if parts.scheme.startswith("libvirt") and not parts.path.strip("/"):
        return "must name the domain, e.g. libvirt+qemu:///system/DOMAIN"
    return None


def _parse_attributes(p: Problems, path: str, value: Any) -> dict[str, Scalar]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        p.bad(path, value, "must be a mapping of name: value")
        return {}
    out: dict[str, Scalar] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _ATTR_NAME.fullmatch(key):
            p.bad(path, key, "attribute names start with a letter or _ and contain letters, digits, _ . -")
        elif not isinstance(item, (str, int, float, bool)):
            p.bad(f"{path}.{key}", item, "must be a string, number or true/false")
        else:
            out[key] = item
    return out


def dump_clusters(spec: ClusterSpec) -> str:
    """Write ``spec`` as ``igor-clusters.yaml`` text; :func:`parse_clusters` reads it back to an equal spec.

    Optional host keys are written only when set (``hostname`` only when it differs from the node name).
    """
    hostmap: dict[int, dict[str, Any]] = {}
    for host in spec.hosts:
        entry: dict[str, Any] = {}
        for key, attr in _HOST_KEYS.items():
            value = getattr(host, attr)
            if key in ("mac", "ip", "bootMode") or (value and not (key == "hostname" and value == host.name)):
                entry[key] = dict(value) if key == "attributes" else value
        hostmap[host.seq] = entry
    body: dict[str, Any] = {}
    for key, attr in _CLUSTER_KEYS.items():
        if key == "hostmap":
            body[key] = hostmap
        elif key != "motd" or spec.motd:
            body[key] = getattr(spec, attr)
    return yaml.safe_dump({spec.name: body}, sort_keys=False, default_flow_style=False, allow_unicode=True)


def demo_clusters(prefix: str = "dn", count: int = 64) -> ClusterSpec:
    """The simulated demo cluster ``demo``: ``count`` hosts ``<prefix>1..``, 16 to a row, all powered by ``sim://``.

    Every 8th host boots UEFI, the rest BIOS. Attributes for ``--where`` demos: ``rack`` (``r1``, one per row of
    16), ``ram_gb`` (256 on the last 16 hosts, else 128) and ``gpu: a100`` on the last 8.

    Raises:
        ValueError: ``prefix`` is not a valid prefix or ``count`` is not 1-65535.
    """
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"invalid demo prefix {prefix!r}: a letter followed by letters, digits or -")
    if not 1 <= count <= 65535:
        raise ValueError(f"invalid demo host count {count}: must be 1-65535")
    hosts = []
    for seq in range(1, count + 1):
        attributes: dict[str, Scalar] = {"rack": f"r{(seq - 1) // 16 + 1}"}
        attributes["ram_gb"] = 256 if seq > count - 16 else 128
        if seq > count - 8:
            attributes["gpu"] = "a100"
        hosts.append(HostSpec(seq=seq, name=f"{prefix}{seq}", hostname=f"{prefix}{seq}",
                              mac=f"52:54:00:00:{seq >> 8:02x}:{seq & 255:02x}",
                              ip=str(ipaddress.IPv4Address("10.0.0.0") + seq),
                              boot_mode="uefi" if seq % 8 == 0 else "bios", power_uri="sim://",
                              attributes=attributes))  # fmt: skip
    return ClusterSpec(name="demo", prefix=prefix, display_width=16, display_height=math.ceil(count / 16),
                       hosts=tuple(hosts))  # fmt: skip
