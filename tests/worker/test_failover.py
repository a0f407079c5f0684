"""Lease failover: two ``igor-server`` instances share one PostgreSQL database; exactly one runs the lifecycle
worker, and when that whole server is killed (SIGKILL, no goodbye) the other takes the lease within the lease
timeout and installs the next reservation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pony.orm import db_session

from igor.config import load_config
from igor.db import init_db
from tests.test_race import _backend, _seed
from tests.test_server import free_port, wait_up

LEASE = 3.0


def _start(tmp: Path, name: str, url: str, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    port = free_port()
    conf = tmp / f"{name}.yaml"
    conf.write_text(f"server:\n  host: 127.0.0.1\n  port: {port}\n  workers: 1\n  tftpRoot: {tmp / 'tftp'}\n"
                    f"database:\n  url: {url}\nlog:\n  dir: {tmp / 'log'}\n")
    proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--config", str(conf)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    wait_up(f"http://127.0.0.1:{port}", proc)
    return proc, conf


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the server's whole process group: master, gunicorn workers, callback server."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _wait(predicate, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s")


def test_killing_the_lease_holder_hands_the_work_to_the_other_server(tmp_path: Path) -> None:
    url, pg_base = _backend("postgresql", tmp_path)
    env = {**os.environ, "IGOR_HOME": str(tmp_path), "IGOR_BCRYPT_ROUNDS": "4",
           "IGOR_WORKER_LEASE_SECONDS": str(LEASE), "IGOR_WORKER_TICK_SECONDS": "0.3"}
    (tmp_path / "tftp").mkdir()
    seed_conf = tmp_path / "seed.yaml"
    seed_conf.write_text(f"database:\n  url: {url}\n")
    _seed(seed_conf, env)
    procs: list[subprocess.Popen] = []
    try:
        a, conf = _start(tmp_path, "a", url, env)
        b, _ = _start(tmp_path, "b", url, env)
        procs += [a, b]
        config = load_config(str(conf), env=env)
        db = init_db(config.database.url)

        @db_session
        def holder() -> str:
            row = db.WorkerLease.get(id=1)
            return row.holder or "" if row is not None else ""

        def holder_pid() -> int | None:
            text = holder()
            return int(text.split(":")[1]) if text.count(":") == 2 else None

        _wait(lambda: holder_pid() is not None, 30)
        first = holder_pid()
        children = {p.pid: p for p in procs}
        # the holder is a gunicorn worker: find which server it belongs to by its process group
        owner = children[os.getpgid(first)]
        survivor = b if owner is a else a

        from igor.services import Services

        services = Services(db, config)
        principal = services.auth.principal_for("racer0")
        services.reservations.create(principal, {"name": "before", "nodeList": "dn1", "duration": "1h"})

        @db_session
        def installed(name: str) -> bool:
            res = db.Reservation.get(name=name)
            return bool(res is not None and res.installed)

        _wait(lambda: installed("before"), 20)
        _kill(owner)
        procs.remove(owner)
        services.reservations.create(principal, {"name": "after", "nodeList": "dn2", "duration": "1h"})
        took = _wait(lambda: installed("after"), LEASE + 15)
        print(f"failover: the survivor installed the next reservation {took:.1f}s after the kill (lease {LEASE}s)")
        assert took <= LEASE + 5, f"the survivor took {took:.1f}s to install (lease {LEASE}s)"
        new = holder_pid()
        assert new is not None and new != first and os.getpgid(new) == survivor.pid
        db.disconnect()
    finally:
        for proc in procs:
            _kill(proc)
        if pg_base:
            from tests.conftest import _pg_drop

            _pg_drop(pg_base, url.rsplit("/", 1)[1])
