"""Shared by the CLI end-to-end tests of images, kickstarts, distros and profiles (``test_images_cli.py``,
``test_distros_cli.py``): a live ``igor-server --demo`` whose config also allows image uploads at distro create
(``server.allowImageUpload``), the runners' result checks, and small generated kernel/initrd/kickstart files.

The demo config is written before the server starts (``--demo`` keeps an existing config), so the port is chosen
here rather than by ``tests.test_server.running_demo``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from igor.server import DEMO_CONFIG
from tests.test_server import free_port, stop, wait_up


@dataclass(frozen=True)
class Demo:
    """A running demo server: its base URL and its ``IGOR_HOME`` (also its ``server.tftpRoot``)."""

    base: str
    home: Path


@contextmanager
def upload_demo(home: Path) -> Iterator[Demo]:
    """``igor-server --demo`` on a free loopback port, with ``server.allowImageUpload: true``."""
    port = free_port()
    conf = home / "conf"
    conf.mkdir(parents=True)
    text = DEMO_CONFIG.format(port=port, home=home)
    assert "\nserver:\n" in text
    (conf / "igor-server.yaml").write_text(text.replace("\nserver:\n", "\nserver:\n  allowImageUpload: true\n"))
    env = {**os.environ, "IGOR_HOME": str(home), "IGOR_BCRYPT_ROUNDS": "4"}
    env.pop("IGOR_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--demo", "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base, proc)
        yield Demo(base, home)
    finally:
        stop(proc)


def unique(prefix: str) -> str:
    """A fresh name legal for distros, profiles and kickstarts (3-24 characters)."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def refused(done: subprocess.CompletedProcess[str], *, code: int = 1) -> str:
    """The message of a refused command (``igor: ...`` on stderr, nothing on stdout, no traceback)."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.startswith("igor: ") and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""
    return done.stderr.strip()


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that succeeded."""
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout.strip()


@dataclass(frozen=True)
class Pair:
    """A generated kernel and initrd: their paths, and the image name and id the server gives them."""

    kernel: Path
    initrd: Path

    @property
    def image_id(self) -> str:
        return hashlib.sha1(self.kernel.read_bytes() + self.initrd.read_bytes()).hexdigest()

    @property
    def name(self) -> str:
        return "ki" + self.image_id[:8]


def make_pair(folder: Path, kernel: str = "vmlinuz", initrd: str = "initrd.img", size: int = 3000) -> Pair:
    """Two small files of random bytes (a new image each time) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    pair = Pair(folder / kernel, folder / initrd)
    pair.kernel.write_bytes(b"IGORTEST" + os.urandom(size))  # no file(1) magic: no breed is detected
    pair.initrd.write_bytes(b"IGORTEST" + os.urandom(size * 2 // 3))
    return pair


def image_names(admin) -> list[str]:  # noqa: ANN001 - an Igor runner
    return [i["name"] for i in admin.json("image", "show")["distroImages"]]
