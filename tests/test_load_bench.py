"""The load benchmark's machinery (``benchmarks/load.py``, ``benchmarks/loadgen.py``): statistics, the table,
the closed-loop generator and connection balancing against a stub HTTP server, and one short run against a real
``igor-server`` on a 16-host SQLite database. Behaviour only: nothing here is timed against a target."""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks import load, loadgen
from benchmarks.load import Settings
from benchmarks.loadgen import Conn, Op, Window


# ---------------------------------------------------------------------------------------------------- statistics
def test_quantile_interpolates_like_statistics_inclusive() -> None:
    xs = [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8]
    assert loadgen.quantile(xs, 0.5) == statistics.median(xs)
    assert loadgen.quantile(xs, 0.0) == 0.1 and loadgen.quantile(xs, 1.0) == 0.9
    ref = statistics.quantiles(xs, n=100, method="inclusive")
    assert loadgen.quantile(xs, 0.99) == pytest.approx(ref[98])
    assert loadgen.quantile(xs, 0.9) == pytest.approx(ref[89])
    assert loadgen.quantile([4.0], 0.99) == 4.0
    with pytest.raises(ValueError):
        loadgen.quantile([], 0.5)


def test_summarize_counts_completions_inside_the_window_and_keys_errors() -> None:
    ops = [Op(0.0, 0.5),                       # finished before the window: warm-up
           Op(0.5, 1.0),                       # started in the warm-up, finished inside: counted
           *[Op(1.0 + i * 0.1, 0.05) for i in range(8)],
           Op(1.2, 0.01, "create: HTTP 409 busy"), Op(1.3, 0.01, "create: HTTP 409 busy"),
           Op(1.4, 0.01, "transport: ConnectionResetError"),
           Op(2.5, 1.0)]                       # finished after the window: not counted
    s = loadgen.summarize(ops, Window(1.0, 3.0, cpu={"server": 0.26, "client": 0.013}, busy=0.5),
                       parts={"create": [Op(1.1, 0.2), Op(1.2, 0.4)], "delete": [Op(0.0, 0.1)]})
    assert s["ops"] == 12 and s["errors"] == 3 and s["outside_window"] == 2
    assert s["ops_per_s"] == 6.0
    assert s["error_kinds"] == {"create: HTTP 409 busy": 2, "transport: ConnectionResetError": 1}
    assert s["p50_s"] == 0.05 and s["max_s"] == 1.0          # latencies of the good operations only
    assert s["server_cpu_ms_per_op"] == pytest.approx(26.0 / 1.2)
    assert s["client_cpu_ms_per_op"] == pytest.approx(13.0 / 12)
    assert s["create_p50_s"] == pytest.approx(0.3) and s["delete_p50_s"] is None
    assert s["machine_busy"] == 0.5
    assert s["other_cores"] == pytest.approx(max(0.0, 0.5 * (os.cpu_count() or 1) - 0.273 / 2))
    empty = loadgen.summarize([], Window(0.0, 1.0))
    assert empty["ops"] == 0 and empty["p50_s"] is None and empty["ops_per_s"] == 0.0


def test_table_is_markdown_with_one_row_per_result() -> None:
    results = [{"backend": "sqlite", "scenario": "show", "connections": 8, "reconnect": False,
                "workers_answering": 2, "workers": 2, "ops_per_s": 95.84, "p50_s": 0.0676, "p99_s": 0.2835,
                "errors": 0, "server_cpu_ms_per_op": 11.42, "db_cpu_ms_per_op": None, "client_cpu_ms_per_op": 0.8,
                "machine_busy": 0.995, "other_cores": 0.84},
               {"backend": "postgresql", "scenario": "create+delete", "connections": 8, "reconnect": True,
                "workers_answering": 5, "workers": 5, "ops_per_s": 0.5, "p50_s": 12.5, "p99_s": None,
                "errors": 3, "server_cpu_ms_per_op": 1450.0, "db_cpu_ms_per_op": 395.0,
                "client_cpu_ms_per_op": 15.0, "machine_busy": None, "other_cores": None},
               {"backend": "postgresql", "scenario": "speculate", "skipped": "OperationalError: refused"}]
    lines = load.table(results).splitlines()
    assert len(lines) == 5 and all(line.startswith("|") and line.endswith("|") for line in lines)
    widths = {line.count("|") for line in lines}
    assert widths == {13}                                      # 12 columns everywhere, the skipped row too
    assert "| sqlite | show | 8 | 2/2 | 95.8 | 67.6 ms | 283.5 ms | 0 | 11.4 ms | 0.8 ms | 100 % | 0.8 cores |" in lines
    assert "8 (new per op)" in lines[3] and "12.5 s" in lines[3] and "1450.0 ms + PG 395.0 ms" in lines[3]
    assert "not measured: OperationalError: refused" in lines[4]


# ---------------------------------------------------------------------------------------------------- a stub server
class Stub:
    """An HTTP/1.1 keep-alive server speaking just enough of Igor: the n-th connection is served by worker
    ``w0`` for n < 3 and then alternately ``w1``/``w0``; every third create is refused with a 409."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections = 0
        self.live: set[str] = set()
        self.created: list[str] = []
        self.deleted: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with stub.lock:
                    n = stub.connections
                    stub.connections += 1
                self.worker = "w0" if n < 3 else f"w{(n - 3 + 1) % 2}"

            def log_message(self, *args: object) -> None:
                pass

            def answer(self, status: int, message: str = "") -> None:
                body = json.dumps({"status": "success" if status < 300 else "fail", "message": message}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Igor-Worker", self.worker)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.answer(200)

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    refuse = len(stub.created) % 3 == 2
                    stub.created.append(body["name"])
                    if not refuse:
                        stub.live.add(body["name"])
                self.answer(409, "hosts busy") if refuse else self.answer(201)

            def do_DELETE(self) -> None:  # noqa: N802
                name = self.path.rsplit("/", 1)[1]
                with stub.lock:
                    known = name in stub.live
                    stub.live.discard(name)
                    stub.deleted.append(name)
                self.answer(200 if known else 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]


@pytest.fixture()
def stub() -> Iterator[Stub]:
    s = Stub()
    thread = threading.Thread(target=s.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield s
    finally:
        s.server.shutdown()
        s.server.server_close()


def test_balance_reconnects_until_each_worker_holds_its_share(stub: Stub) -> None:
    conns = [Conn(stub.port) for _ in range(4)]
    spread = loadgen.balance(conns, workers=2)
    assert spread == Counter({"w0": 2, "w1": 2})
    assert stub.connections == 6                                 # two connections landed on a full w0
    assert [c.last_worker for c in conns] == ["w0", "w0", "w1", "w1"]
    assert all(not c.workers for c in conns)                     # the probes are not counted as answers


class FakeConn:
    """A connection whose accepting worker is the next of a fixed sequence each time it (re)connects."""

    def __init__(self, accepts: Iterator[str]) -> None:
        self.accepts = accepts
        self.last_worker: str | None = None
        self.workers: Counter = Counter()
        self.connects = 0

    def request(self, method: str, path: str) -> tuple[int, bytes]:
        if self.last_worker is None:
            self.last_worker = next(self.accepts)
            self.connects += 1
        self.workers[self.last_worker] += 1
        return 200, b"{}"

    def close(self) -> None:
        self.last_worker = None


def test_balance_fills_every_worker_before_doubling_up() -> None:
    accepts = iter("aaaabbbbbcdecdecdecde" * 3)               # the kernel favours a, then b
    conns = [FakeConn(accepts) for _ in range(8)]
    spread = loadgen.balance(conns, workers=5)                     # type: ignore[arg-type]
    assert sorted(spread.values(), reverse=True) == [2, 2, 2, 1, 1] and set(spread) == set("abcde")
    few = [FakeConn(iter("aaab")) for _ in range(2)]
    assert loadgen.balance(few, workers=5) == Counter({"a": 1, "b": 1})   # type: ignore[arg-type]
    stuck = [FakeConn(iter("a" * 50)) for _ in range(3)]
    assert loadgen.balance(stuck, workers=3, attempts=10) == Counter({"a": 3})   # type: ignore[arg-type]


def test_drive_runs_a_bounded_closed_loop_and_counts_refusals(stub: Stub) -> None:
    t0 = time.perf_counter()
    run = loadgen.drive(stub.port, "token", load.create_delete_op(int(time.time())), connections=3, warmup=0.2,
                     duration=0.6, workers=2)
    assert time.perf_counter() - t0 < 5
    assert run.window.end - run.window.start == pytest.approx(0.6)
    assert all(o.start < run.window.end for o in run.ops)      # nothing started after the window closed
    s = loadgen.summarize(run.ops, run.window, run.parts)
    assert s["ops"] > 3 and 0 < s["errors"] < s["ops"]
    assert set(s["error_kinds"]) == {"create: HTTP 409 hosts busy"}
    # every granted create was deleted, a refused one never: no reservation is left behind
    assert stub.live == set()
    assert set(stub.deleted) == set(stub.created[i] for i in range(len(stub.created)) if i % 3 != 2)
    assert len(set(stub.created)) == len(stub.created)          # names unique per connection and operation
    assert len(run.parts["create"]) == len(stub.created) and len(run.parts["delete"]) == len(stub.deleted)
    assert sum(run.spread.values()) == 3 and max(run.spread.values()) == 2
    assert s["client_cpu_ms_per_op"] is not None and 0 <= s["machine_busy"] <= 1


# ---------------------------------------------------------------------------------------------------- real server
def _seed(url: str, home: Path) -> None:
    """Tables, system accounts, 16 unblocked hosts and ``user01`` (the default password), before the server."""
    from igor.clusters import demo_clusters
    from igor.config import load_config
    from igor.server import build_services

    conf = home / "seed.yaml"
    load.server_config(conf, url, home, 1, 0)
    services = build_services(load_config(conf, env={"IGOR_HOME": str(home), "HOME": str(home)}))
    services.bootstrap()
    services.cluster.apply_spec(demo_clusters(count=16), blocked=False)
    services.users.create(services.auth.principal_for("igor-admin"), "user01", "user01@example.com")
    services.db.disconnect()


def test_every_scenario_runs_without_errors_against_a_real_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db/igor.db"
    _seed(url, tmp_path)
    now_s = int(time.time())
    ops = {"show": load.show_op, "speculate": load.speculate_op(now_s, nodes=4),
           "create+delete": load.create_delete_op(now_s, count=2)}
    settings = Settings(backends=("sqlite",), workers=2, connections=2, warmup=0.3, duration=1.0, prime_cap=10)
    logged: list[str] = []
    with load.igor_server(url, tmp_path, 2, 0) as server:
        token = Conn(server.port).login("user01", "changeMe$1")
        results = load.run_scenarios(server, token, settings, now_s=now_s, db_name=None, log=logged.append,
                                     ops=ops)
        status, payload = Conn(server.port, token).request("GET", "/igor/reservations?all=true")
    assert server.proc.poll() is not None                       # stopped on leaving
    assert [r["scenario"] for r in results] == list(load.SCENARIOS) and len(logged) == 3
    for r in results:
        assert r["errors"] == 0, r["error_kinds"]
        assert r["ops"] > 0 and r["p50_s"] is not None and r["workers"] == 2
        assert r["server_cpu_ms_per_op"] > 0                     # the server's process group was found
    assert results[2]["create_p50_s"] is not None and results[2]["delete_p50_s"] is not None
    assert status == 200 and json.loads(payload)["data"]["reservations"] == []   # every create was deleted
