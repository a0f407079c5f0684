"""Concurrency against a real ``igor-server`` with 4 gunicorn workers, on SQLite and on PostgreSQL:

* the race test: 200 concurrent creates (by name and by count) fight over overlapping hosts and times; every one
  is answered 201 or 409, and an invariant check over the database finds no host reserved twice at once;
* the same race split across two ``igor-server`` instances (2 workers each) on one PostgreSQL database, as two
  server hosts behind a load balancer would run: requests alternate between them;
* the coherence test: a reservation created through one server process blocks, at once, a request served by
  another process on the same database (and its delete frees the hosts there at once).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import time
from base64 import b64encode
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.test_server import free_port, seed_server, stop, wait_up

WORKERS = 4
REQUESTS = 200
USERS = [f"racer{i}" for i in range(8)]


def _backend(kind: str, tmp_path: Path):
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/db/igor.db", None
    base = os.environ.get("IGOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    from tests.conftest import _pg_database

    try:
        return _pg_database(base)[0], base
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {base} is needed for this test: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path: Path):
    url, pg_base = _backend(request.param, tmp_path)
    port = free_port()
    conf = tmp_path / "igor-server.yaml"
    conf.write_text(f"server:\n  host: 127.0.0.1\n  port: {port}\n  workers: {WORKERS}\ndatabase:\n  url: {url}\n"
                    f"log:\n  dir: {tmp_path / 'log'}\n")
    env = {**os.environ, "IGOR_HOME": str(tmp_path), "IGOR_BCRYPT_ROUNDS": "4"}
    _seed(conf, env)
    proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--config", str(conf)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_up(f"http://127.0.0.1:{port}", proc)
        yield port, url, conf, env
    finally:
        stop(proc)
        if pg_base:
            from tests.conftest import _pg_drop

            _pg_drop(pg_base, url.rsplit("/", 1)[1])


def _seed(conf: Path, env: dict[str, str]) -> None:
    """Tables, system accounts, 16 unblocked hosts and the racing users, written before the server starts."""
    seed_server(conf, env, USERS)


class Client:
    """One keep-alive connection (so one worker) speaking the API."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=h)
        resp = self.conn.getresponse()
        payload = resp.read()
        return resp.status, json.loads(payload or b"{}"), resp.getheader("X-Igor-Worker")

    def login(self, user: str, password: str = "changeMe$1") -> str:
        creds = b64encode(f"{user}:{password}".encode()).decode()
        status, body, _ = self.call("GET", "/igor/login", headers={"Authorization": f"Basic {creds}"})
        assert status == 200, body
        self.token = body["data"]["token"]
        return self.token


def _overlaps(url: str) -> list[tuple]:
    """Pairs of reservations holding one host at overlapping times: the invariant is that there are none."""
    query = ("SELECT a.name, b.name, ha.host FROM reservations a JOIN reservations_hosts ha ON ha.reservation = a.id "
             "JOIN reservations_hosts hb ON hb.host = ha.host JOIN reservations b ON b.id = hb.reservation "
             "WHERE a.id < b.id AND a.start < b.reset_end AND b.start < a.reset_end")
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split("sqlite:///", 1)[1])
        rows = conn.execute(query).fetchall()
        count = conn.execute("SELECT count(*) FROM reservations").fetchone()[0]
    else:
        import psycopg2

        conn = psycopg2.connect(url)
        cur = conn.cursor()
        cur.execute(query)
        rows = cur.fetchall()
        cur.execute("SELECT count(*) FROM reservations")
        count = cur.fetchone()[0]
    conn.close()
    assert count > 0
    return rows


def _race(ports: list[int], url: str) -> list[tuple[int, str, str]]:
    """200 concurrent creates (alternating over ``ports``) by 8 users over overlapping hosts and times; checks
    that each is answered 201 or 409, both outcomes happen, and no host is reserved twice at once."""
    tokens = {u: Client(ports[0]).login(u) for u in USERS}
    rng = random.Random(1234)
    now = int(time.time())
    jobs = []
    for i in range(REQUESTS):
        start = now + 60 * rng.randrange(1, 720)
        body = {"name": f"race{i:03d}", "start": start, "duration": f"{rng.randrange(30, 180)}m"}
        if i % 2:
            lo = rng.randrange(1, 14)
            body["nodeList"] = f"dn[{lo}-{lo + rng.randrange(0, 3)}]"
        else:
            body["nodeCount"] = rng.randrange(1, 7)
        jobs.append((USERS[i % len(USERS)], ports[(i // 2) % len(ports)], body))

    def run(job):
        user, port, body = job
        client = Client(port, tokens[user])
        status, answer, worker = client.call("POST", "/igor/reservations", body)
        return status, answer.get("message", ""), f"{port}/{worker}"

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(run, jobs))
    statuses = [s for s, _m, _w in results]
    assert set(statuses) <= {201, 409}, [(s, m) for s, m, _w in results if s not in (201, 409)][:5]
    print(f"201: {statuses.count(201)}, 409: {statuses.count(409)}")
    assert statuses.count(201) >= 10 and statuses.count(409) >= 10  # a real fight, both outcomes
    assert len({w for _s, _m, w in results}) > len(ports)  # several workers answered on each server
    assert _overlaps(url) == []
    return results


def test_200_concurrent_creates_never_double_book(server):
    port, url, _conf, _env = server
    _race([port], url)


def test_200_concurrent_creates_across_two_servers_on_one_postgresql(tmp_path: Path):
    """Two igor-server instances (2 gunicorn workers each) on one PostgreSQL database share the race: both
    grant and refuse, and the database never holds a double booking."""
    url, pg_base = _backend("postgresql", tmp_path)
    procs = []
    try:
        ports = []
        for n in (1, 2):
            port = free_port()
            conf = tmp_path / f"igor-server-{n}.yaml"
            conf.write_text(f"server:\n  host: 127.0.0.1\n  port: {port}\n  workers: 2\ndatabase:\n  url: {url}\n"
                            f"log:\n  dir: {tmp_path / f'log{n}'}\n")
            env = {**os.environ, "IGOR_HOME": str(tmp_path / f"home{n}"), "IGOR_BCRYPT_ROUNDS": "4"}
            if n == 1:
                _seed(conf, env)
            procs.append(subprocess.Popen([sys.executable, "-m", "igor.server", "--config", str(conf)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            ports.append(port)
        for port, proc in zip(ports, procs, strict=True):
            wait_up(f"http://127.0.0.1:{port}", proc)
        results = _race(ports, url)
        for port in ports:
            granted = [s for s, _m, w in results if w.startswith(f"{port}/") and s == 201]
            refused = [s for s, _m, w in results if w.startswith(f"{port}/") and s == 409]
            assert granted and refused, f"server on {port}: {len(granted)} granted, {len(refused)} refused"
    finally:
        for proc in procs:
            stop(proc)
        from tests.conftest import _pg_drop

        _pg_drop(pg_base, url.rsplit("/", 1)[1])


def _second_server(conf: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """Another igor-server process on the same database (its own port, one worker): a different process for
    certain, as a second worker or a second server host would be."""
    port = free_port()
    text = conf.read_text().replace("workers: 4", "workers: 1")
    text = "\n".join(f"  port: {port}" if line.startswith("  port:") else line for line in text.splitlines())
    other = conf.with_name("igor-server-2.yaml")
    other.write_text(text + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--config", str(other)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_up(f"http://127.0.0.1:{port}", proc)
    return proc, port


def test_a_reservation_made_through_one_worker_blocks_another_at_once(server):
    """A create answered by one process is seen, and refuses a conflicting request, in another process at once;
    after its delete the other process grants the request at once."""
    port, _url, conf, env = server
    proc, port_b = _second_server(conf, env)
    try:
        a, b = Client(port), Client(port_b)
        a.login(USERS[0])
        b.login(USERS[1])
        _, _, worker_b = b.call("GET", "/igor/health")
        status, body, worker_a = a.call("POST", "/igor/reservations",
                                        {"name": "coherent", "nodeList": "dn[1-4]", "duration": "1h"})
        assert status == 201, body
        assert worker_a != worker_b
        status, body, worker = b.call("GET", "/igor/reservations?all=true")
        assert status == 200 and worker == worker_b
        assert [r["name"] for r in body["data"]["reservations"]] == ["coherent"]
        status, body, worker = b.call("POST", "/igor/reservations",
                                      {"name": "loser", "nodeList": "dn[3-5]", "duration": "1h"})
        assert worker == worker_b and status == 409 and "coherent" in body["message"], body
        status, body, _ = a.call("DELETE", "/igor/reservations/coherent")
        assert status == 200, body
        status, body, worker = b.call("POST", "/igor/reservations",
                                      {"name": "winner", "nodeList": "dn[3-5]", "duration": "1h"})
        assert worker == worker_b and status == 201, body
        status, body, _ = a.call("POST", "/igor/reservations",
                                 {"name": "late", "nodeList": "dn5", "duration": "1h"})
        assert status == 409 and "winner" in body["message"], body
    finally:
        stop(proc)
