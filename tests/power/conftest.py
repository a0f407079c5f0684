"""Fixtures of the power tests: a real IPMI BMC simulator (OpenIPMI's ``ipmi_sim``) on loopback, started fresh per
test from shared/RECIPES.md §2, and a libvirt test-driver node file (RECIPES.md §4).

The simulator runs from a new temporary directory on a random UDP port, is waited for with a bounded RMCP ping,
and is always stopped (and reaped) when the test ends. Tests that need ``ipmi_sim``/``ipmitool``/``virsh`` skip,
saying which program is missing, only when it is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHASSIS_SCRIPT = """#!/bin/sh
# ipmi_sim chassis_control: $1 = state dir, then "get PARM..." or "set PARM VAL ...".
# Power is kept in $1/power (1/0); every call is appended to $1/calls.log.
dir=$1; op=$2; shift 2
echo "$op $*" >> "$dir/calls.log"
case $op in
  get) for parm in "$@"; do
         case $parm in
           power) echo "power:$(cat "$dir/power" 2>/dev/null || echo 0)" ;;
           boot)  echo "boot:$(cat "$dir/boot" 2>/dev/null || echo default)" ;;
           *) echo "Invalid parameter: $parm"; exit 1 ;;
         esac
       done ;;
  set) while [ $# -gt 0 ]; do
         parm=$1; val=$2; shift 2
         case $parm in
           power) echo "$val" > "$dir/power" ;;
           shutdown) echo 0 > "$dir/power" ;;
           reset) ;;
           boot) echo "$val" > "$dir/boot" ;;
           identify) shift ;;
           *) echo "Invalid parameter: $parm"; exit 1 ;;
         esac
       done ;;
  *) exit 1 ;;
esac
"""

LAN_CONF = """name "testbmc"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "{dir}/chassis.sh {dir}"
  user 2 true "admin" "secret" admin 10 none md2 md5 straight
"""

BMC_EMU = """mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
mc_enable 0x20
"""

READY_SECONDS = 10


def require_programs(*names: str) -> None:
    """Skip the test, naming them, when some of these programs are not installed."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian packages: openipmi for ipmi_sim, ipmitool, "
                    "libvirt-clients for virsh)")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rmcp_ping(port: int, timeout: float = 0.05) -> bool:
    """An RMCP/ASF presence ping; True when the BMC answers with a pong."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(bytes.fromhex("0600ff06000011be80000000"), ("127.0.0.1", port))
        try:
            return s.recvfrom(512)[0][8:9] == b"\x40"
        except OSError:
            return False


@dataclass
class Bmc:
    """A running ``ipmi_sim``: its port, its directory (``power`` holds 1/0, ``calls.log`` every chassis call)."""

    port: int
    dir: Path
    proc: subprocess.Popen[bytes]

    @property
    def uri(self) -> str:
        return f"ipmi://admin:secret@127.0.0.1:{self.port}"

    @property
    def power(self) -> str:
        return (self.dir / "power").read_text().strip()

    def set_power(self, value: str) -> None:
        (self.dir / "power").write_text(value + "\n")

    def calls(self) -> list[str]:
        path = self.dir / "calls.log"
        return path.read_text().splitlines() if path.exists() else []

    def sets(self) -> list[str]:
        """The ``set power N`` calls, in order."""
        return [c for c in self.calls() if c.startswith("set power")]


@pytest.fixture
def bmc(tmp_path: Path) -> Iterator[Bmc]:
    """A fresh ``ipmi_sim`` on a random loopback UDP port, chassis off, user admin/secret."""
    require_programs("ipmi_sim", "ipmitool")
    root = tmp_path / "bmc"
    (root / "state").mkdir(parents=True)
    (root / "power").write_text("0\n")
    script = root / "chassis.sh"
    script.write_text(CHASSIS_SCRIPT)
    script.chmod(0o755)
    port = free_udp_port()
    (root / "lan.conf").write_text(LAN_CONF.format(port=port, dir=root))
    (root / "bmc.emu").write_text(BMC_EMU)
    log = open(root / "ipmi_sim.log", "wb")  # closed below, after the process
    proc = subprocess.Popen(["ipmi_sim", "-n", "-c", str(root / "lan.conf"), "-f", str(root / "bmc.emu"),
                             "-s", str(root / "state")], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            env={**os.environ, "LC_ALL": "C"})
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not rmcp_ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise AssertionError(f"ipmi_sim did not start (exit {proc.poll()}): "
                                     f"{(root / 'ipmi_sim.log').read_text(errors='replace')}")
            time.sleep(0.05)
        yield Bmc(port, root, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_for(predicate, timeout: float = 5.0, step: float = 0.05) -> bool:  # noqa: ANN001
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return bool(value)
        time.sleep(step)


NODE_XML = """<node>
  <domain type="test" xmlns:test="http://libvirt.org/schemas/domain/test/1.0">
    <name>kn1</name><memory>1048576</memory><os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
  <domain type="test"><name>kn2</name><memory>1048576</memory><os><type>hvm</type></os></domain>
</node>
"""


@pytest.fixture
def node_xml(tmp_path: Path) -> Path:
    """A libvirt test-driver node file: domain ``kn1`` shut off, ``kn2`` running (virsh must be installed)."""
    require_programs("virsh")
    path = tmp_path / "node.xml"
    path.write_text(NODE_XML)
    return path
