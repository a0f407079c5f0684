"""Fixtures for boot files and node callbacks: a tftpRoot, a real TFTP server (tftpy, in a subprocess on loopback)
with curl as the client, and a database world on a settable clock with hosts, distros and reservations."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pony.orm import db_session

from igor.config import demo_clusters
from igor.db import init_db
from igor.services import Services
from igor.services.callbacks import CallbackService
from tests.api.test_reservations import Clock
from tests.power.conftest import free_udp_port

T0 = datetime(2030, 5, 6, 10, 0, tzinfo=UTC)
NOW = int(T0.timestamp()) // 60


class FakeResolver:
    """Hostname → addresses, counting look-ups; unknown names do not resolve."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = dict(table or {})
        self.calls: list[str] = []

    def __call__(self, hostname: str) -> Iterable[str]:
        self.calls.append(hostname)
        if hostname not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[hostname])


@pytest.fixture
def tftp_root(tmp_path: Path) -> Path:
    root = tmp_path / "tftp"
    root.mkdir()
    return root


# -- a real TFTP server ----------------------------------------------------------------------------------------


def _tftp_ready(port: int, timeout: float = 0.1) -> bool:
    """A read request for a missing file; any ERROR packet back means the server answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(b"\x00\x01__probe__\x00octet\x00", ("127.0.0.1", port))
        try:
            return s.recvfrom(516)[0][:2] == b"\x00\x05"
        except OSError:
            return False


@dataclass
class Tftp:
    root: Path
    port: int
    log: Path

    def fetch(self, path: str) -> subprocess.CompletedProcess[bytes]:
        """``curl tftp://…/path`` (bounded); returncode 68 means "file not found"."""
        return subprocess.run(["curl", "-sS", "--max-time", "10", f"tftp://127.0.0.1:{self.port}/{path}"],
                              capture_output=True, timeout=20, check=False)


@pytest.fixture
def tftp(tftp_root: Path, tmp_path: Path) -> Iterator[Tftp]:
    """tftpy serving ``tftp_root`` on a random loopback port, stopped (and waited for) whatever happens."""
    pytest.importorskip("tftpy")
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    port = free_udp_port()
    log = tmp_path / "tftpy.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys, tftpy; tftpy.TftpServer(sys.argv[1]).listen('127.0.0.1', "
             "int(sys.argv[2]))", str(tftp_root), str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not _tftp_ready(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tftpy did not start (exit {proc.poll()}):\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield Tftp(tftp_root, port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# -- a database world ------------------------------------------------------------------------------------------


class World:
    """Services on a settable clock, with the demo cluster's dn1..dn4 (ips 10.0.0.1..4, all BIOS), users alice
    and bob, and helpers to add distros and reservations straight into the database."""

    def __init__(self, services: Services, clock: Clock, resolver: FakeResolver) -> None:
        self.services = services
        self.db = services.db
        self.clock = clock
        self.resolver = resolver
        self.config = services.config
        self.tftp_root = Path(services.config.server.tftp_root)
        # what services/__init__.py will wire: the callback service, here with a fake resolver
        self.callbacks = CallbackService(services.ctx, resolve=resolver)
        services.callbacks = self.callbacks  # type: ignore[attr-defined]

    @db_session
    def set_host(self, name: str, **fields: Any) -> None:
        host = self.db.Host.get(name=name)
        for key, value in fields.items():
            setattr(host, key, value)

    @db_session
    def distro(self, name: str, *, breed: str = "redhat", local_boot: bool = False, kickstart: str | None = None,
               kernel_args: str = "") -> None:
        db = self.db
        image_id = f"{len(db.DistroImage.select()[:]) + 1:08x}" + "0" * 32
        image = db.DistroImage(image_id=image_id, type="ki", name="ki" + image_id[:8], kernel="vmlinuz",
                               initrd="initrd.img", breed=breed, local_boot=local_boot, bios_boot=True,
                               uefi_boot=True)
        ks = db.Kickstart(name=kickstart.split(".")[0], filename=kickstart) if kickstart else None
        db.Distro(name=name, image=image, kickstart=ks, kernel_args=kernel_args, is_public=True)

    @db_session
    def reserve(self, name: str, hosts: list[str], start: int, end: int, *, owner: str = "alice",
                distro: str | None = None, kernel_args: str = "") -> None:
        """A reservation from ``NOW + start`` to ``NOW + end`` (minutes), booting ``distro`` (or nothing)."""
        db = self.db
        user = db.User.get(name=owner)
        group = db.Group.get(name=f"u_{owner}")
        profile = None
        if distro is not None:
            profile = db.Profile(name=f"tpf_{name}"[:24], owner=user, distro=db.Distro.get(name=distro),
                                 is_default=True, kernel_args=kernel_args)
        db.Reservation(name=name, owner=user, group=group, profile=profile, start=NOW + start, end=NOW + end,
                       orig_end=NOW + end, reset_end=NOW + end, hash=uuid.uuid4().hex,
                       hosts=[db.Host.get(name=h) for h in hosts])


@pytest.fixture
def world(make_config, tmp_path: Path) -> Iterator[World]:
    for sub in ("tftp", "scripts"):
        (tmp_path / sub).mkdir(exist_ok=True)
    config = make_config({"server": {"tftpRoot": str(tmp_path / "tftp"), "scriptDir": str(tmp_path / "scripts"),
                                     "cbPort": 18444}})
    clock = Clock(T0)
    services = Services(init_db(config.database.url), config, clock=clock)
    services.bootstrap()
    admin = services.auth.principal_for("igor-admin")
    for user in ("alice", "bob"):
        services.users.create(admin, user, f"{user}@example.com", user.title())
    services.cluster.apply_spec(demo_clusters(count=4), blocked=False)
    yield World(services, clock, FakeResolver())
    services.db.disconnect()


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run the block with the process umask set to ``mask``."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)
