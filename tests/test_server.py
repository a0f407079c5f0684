"""``igor-server`` as a user runs it: the demo from an empty IGOR_HOME, under gunicorn, over real HTTP."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    """A free loopback port whose successor is free too: a demo server's callback server takes port + 1."""
    for _ in range(50):
        with socket.socket() as s, socket.socket() as t:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            try:
                t.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise AssertionError("no free pair of loopback ports")


def http(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def wait_up(base: str, proc: subprocess.Popen, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"igor-server exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            status, _ = http("GET", base + "/igor/health")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("igor-server did not come up")


def seed_server(conf: Path, env: dict[str, str], users: list[str], *, admins: list[str] | None = None,
                hosts: int = 16) -> None:
    """Before a server starts on ``conf``: tables, system accounts, ``hosts`` unblocked demo hosts, and ``users``
    (``<name>@example.com``), those in ``admins`` added to the admins group — in a process of its own, as an
    admin preparing the database would."""
    code = (
        "import sys\n"
        "from igor.config import load_config\n"
        "from igor.clusters import demo_clusters\n"
        "from igor.server import build_services\n"
        "s = build_services(load_config(sys.argv[1]))\n"
        "s.bootstrap()\n"
        f"s.cluster.apply_spec(demo_clusters(count={hosts}), blocked=False)\n"
        "root = s.auth.principal_for('igor-admin')\n"
        f"for name in {users!r}:\n"
        "    s.users.create(root, name, name + '@example.com')\n"
        f"if {admins or []!r}:\n"
        f"    s.groups.edit(root, 'admins', {{'add': {admins or []!r}}})\n"
    )
    subprocess.run([sys.executable, "-c", code, str(conf)], env=env, check=True, timeout=120)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL if it lingers: a test's server never outlives it."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def running_demo(home: Path, workers: int = 2) -> Iterator[tuple[str, subprocess.Popen]]:
    """``igor-server --demo`` on a free loopback port with ``IGOR_HOME=home``, stopped on leaving."""
    port = free_port()
    env = {**os.environ, "IGOR_HOME": str(home), "IGOR_BCRYPT_ROUNDS": "4"}
    env.pop("IGOR_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--demo", "--port", str(port), "--workers",
                             str(workers)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base, proc)
        yield base, proc
    finally:
        stop(proc)


@pytest.fixture
def demo_server(tmp_path: Path):
    with running_demo(tmp_path / "home") as (base, proc):
        yield base, proc, tmp_path / "home"


def test_demo_server_serves_login_and_the_64_demo_hosts(demo_server):
    base, _proc, home = demo_server
    assert (home / "conf" / "igor-server.yaml").exists()
    assert (home / ".database" / "igor.db").exists()
    creds = base64.b64encode(b"alice:changeMe$1").decode()
    status, answer = http("GET", base + "/igor/login", {"Authorization": f"Basic {creds}"})
    assert status == 200 and answer["status"] == "success"
    token = answer["data"]["token"]
    status, answer = http("GET", base + "/igor/hosts", {"Authorization": f"Bearer {token}"})
    assert status == 200
    hosts = answer["data"]["hosts"]
    assert len(hosts) == 64
    assert {h["state"] for h in hosts} == {"available"}
    # the token works on every worker: several requests, all accepted
    for _ in range(6):
        assert http("GET", base + "/igor/users", {"Authorization": f"Bearer {token}"})[0] == 200
    status, answer = http("GET", base + "/igor/hosts", {"Authorization": "Bearer not-a-token"})
    assert status == 401 and answer["status"] == "fail"


def test_demo_server_runs_the_callback_server_and_the_lifecycle_worker(demo_server):
    """Beside the API: the callback server answers on cbPort (port + 1), and the lifecycle worker installs a
    reservation made now (its hosts booting as they are: the demo has no distro)."""
    base, _proc, _home = demo_server
    cb = f"http://127.0.0.1:{int(base.rsplit(':', 1)[1]) + 1}/igor/cb/svc/info"
    req = urllib.request.Request(cb)
    with pytest.raises(urllib.error.HTTPError) as caught:  # 127.0.0.1 is no cluster host
        urllib.request.urlopen(req, timeout=10)
    assert caught.value.code == 404 and b"127.0.0.1" in caught.value.read()
    creds = base64.b64encode(b"alice:changeMe$1").decode()
    token = http("GET", base + "/igor/login", {"Authorization": f"Basic {creds}"})[1]["data"]["token"]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, answer = http("POST", base + "/igor/reservations", auth,
                          json.dumps({"name": "bootnow", "nodeList": "dn7", "duration": "1h"}).encode())
    assert status == 201, answer
    deadline = time.monotonic() + 30
    while True:
        res = http("GET", base + "/igor/reservations", auth)[1]["data"]["reservations"][0]
        if res["installed"]:
            break
        assert time.monotonic() < deadline, f"not installed within 30 s: {res}"
        time.sleep(0.2)
    assert res["installError"] == ""


def test_demo_restart_keeps_state(tmp_path: Path):
    """A second `--demo` start on the same home reuses config, database and users (no duplicates, no errors)."""
    env = {**os.environ, "IGOR_HOME": str(tmp_path / "home"), "IGOR_BCRYPT_ROUNDS": "4"}
    from igor.config import load_config
    from igor.server import seed_demo, write_demo_home

    cfg_path = write_demo_home(tmp_path / "home", free_port())
    config = load_config(cfg_path, env=env)
    first = seed_demo(config)
    second = seed_demo(config)
    assert first == second


def test_bad_config_stops_the_server_naming_the_key(tmp_path: Path):
    conf = tmp_path / "igor-server.yaml"
    conf.write_text("scheduler:\n  minReserveTime: -5\nserver:\n  port: http\n")
    env = {**os.environ, "IGOR_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "igor.server", "--config", str(conf), "check-config"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "scheduler.minReserveTime" in out.stderr and "-5" in out.stderr
    assert "server.port" in out.stderr and "http" in out.stderr


def test_import_igor2_command_then_login_over_the_api(tmp_path: Path):
    sample = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "igor2-v2-sample.db"
    conf = tmp_path / "igor-server.yaml"
    conf.write_text(f"database:\n  url: sqlite:///{tmp_path}/db/igor.db\n")
    env = {**os.environ, "IGOR_HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "igor.server", "--config", str(conf), "import-igor2", str(sample)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "imported" in out.stdout
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "not empty" in again.stderr

    import falcon.testing

    from igor.api import create_app
    from igor.config import load_config
    from igor.server import build_services

    services = build_services(load_config(conf, env=env))
    client = falcon.testing.TestClient(create_app(services))
    creds = base64.b64encode(b"tombomb:changeMe$1").decode()
    r = client.simulate_get("/igor/login", headers={"Authorization": f"Basic {creds}"})
    assert r.status_code == 200, r.json
    r = client.simulate_get("/igor/hosts", headers={"Authorization": f"Bearer {r.json['data']['token']}"})
    assert r.status_code == 200 and len(r.json["data"]["hosts"]) > 0


def test_a_killed_server_leaves_no_callback_server_behind(tmp_path: Path):
    """SIGKILL of igor-server (no clean-up at all): its callback server notices and exits, so a restart can take
    cbPort again."""
    port = free_port()
    env = {**os.environ, "IGOR_HOME": str(tmp_path / "home"), "IGOR_BCRYPT_ROUNDS": "4"}
    env.pop("IGOR_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--demo", "--port", str(port), "--workers", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_up(f"http://127.0.0.1:{port}", proc)
        proc.kill()  # the master only; its workers and the callback process are left to fend for themselves
        proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        while True:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 1))
                    break  # cbPort is free again
                except OSError:
                    assert time.monotonic() < deadline, "the callback server outlived igor-server"
                    time.sleep(0.2)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_worker_leaving_does_not_stop_the_callback_server(tmp_path: Path):
    """gunicorn's workers are forks of the master and unwind through its start-up code when they exit: one
    stopping (here SIGTERM, as on a timeout or a reload) must leave the master's callback server serving, and a
    clean stop of the whole server must not trip over the workers (no 'can only join a child process')."""
    with running_demo(tmp_path / "home") as (base, proc):
        cb = f"http://127.0.0.1:{int(base.rsplit(':', 1)[1]) + 1}/igor/cb/svc/info"
        with urllib.request.urlopen(base + "/igor/health", timeout=10) as resp:
            worker = int(resp.headers["X-Igor-Worker"].rsplit(":", 1)[-1])
        assert worker != proc.pid
        os.kill(worker, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while Path(f"/proc/{worker}").exists():
            assert time.monotonic() < deadline, "the worker did not exit"
            time.sleep(0.1)
        time.sleep(1)
        with pytest.raises(urllib.error.HTTPError) as caught:  # still answering: 127.0.0.1 is no cluster host
            urllib.request.urlopen(cb, timeout=10)
        assert caught.value.code == 404
    output = proc.stdout.read()
    assert "can only join a child process" not in output and "exited with code 1" not in output, output
