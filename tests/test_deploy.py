"""The files in ``deploy/`` as an admin installs them: the systemd units verify without a warning, their
``ExecStart`` lines are valid ``igor-server`` command lines, and the server does what ``igor-server.service``
promises systemd — ``Type=notify`` (it says ``READY=1`` once it serves) and ``ExecReload`` (SIGHUP restarts the
workers while the API and the node callback server keep answering)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.test_server import free_port, stop, wait_up

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNITS = ("igor-server.service", "igor-worker.service")
INSTALLED = "/usr/local/bin/igor-server"


def _exec_start(unit: str) -> list[str]:
    lines = [line.split("=", 1)[1] for line in (DEPLOY / unit).read_text().splitlines()
             if line.startswith("ExecStart=") and line.split("=", 1)[1].strip()]
    assert len(lines) == 1, lines
    return shlex.split(lines[0])


@pytest.mark.parametrize("unit", UNITS)
def test_the_unit_files_verify_without_a_warning(unit: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    here = Path(sys.executable).parent / "igor-server"
    assert here.exists(), f"{here}: igor-server is not installed beside this Python"
    text = (DEPLOY / unit).read_text()
    assert INSTALLED in text
    (tmp_path / unit).write_text(text.replace(INSTALLED, str(here)))
    done = subprocess.run([analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_exec_start_is_an_igor_server_command_line(unit: str) -> None:
    argv = _exec_start(unit)
    assert argv[0] == INSTALLED
    done = subprocess.run([sys.executable, "-m", "igor.server", *argv[1:], "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage: "), done.stderr


def test_type_notify_and_reload_as_the_unit_uses_them(tmp_path: Path) -> None:
    """READY=1 on $NOTIFY_SOCKET once the server listens; then SIGHUP (the unit's ExecReload) replaces the
    workers, and both the API and the callback server go on answering."""
    notify = tmp_path / "notify"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify))
    listener.settimeout(60)
    port = free_port()
    env = {**os.environ, "IGOR_HOME": str(tmp_path / "home"), "IGOR_BCRYPT_ROUNDS": "4",
           "NOTIFY_SOCKET": str(notify)}
    env.pop("IGOR_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--demo", "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        message = listener.recv(4096)
        assert b"READY=1" in message, message
        wait_up(base, proc)
        workers_before = _workers(base)
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while True:
            try:
                seen = _workers(base)
            except OSError:
                seen = set()
            if seen and not seen & workers_before:
                break
            assert time.monotonic() < deadline, f"workers not replaced after SIGHUP: {workers_before} -> {seen}"
            time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError) as caught:  # the callback server: 127.0.0.1 is no host
            urllib.request.urlopen(f"http://127.0.0.1:{port + 1}/igor/cb/svc/info", timeout=10)
        assert caught.value.code == 404
        assert proc.poll() is None
    finally:
        listener.close()
        stop(proc)


def _workers(base: str) -> set[str]:
    """The server processes that answer a handful of fresh connections."""
    seen = set()
    for _ in range(8):
        with urllib.request.urlopen(base + "/igor/health", timeout=10) as resp:
            seen.add(resp.headers["X-Igor-Worker"])
    return seen
