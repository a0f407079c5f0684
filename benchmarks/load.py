"""Load benchmark: a real ``igor-server`` (gunicorn, ``server.workers`` workers) at size M, driven over loopback by a
bounded closed-loop generator, on SQLite and on PostgreSQL.

For each backend:

1. A fresh database is filled with the M data set by :func:`benchmarks.api.build` (a SQLite file in a temporary
   directory, or a PostgreSQL database created for the run and dropped after it). A real server uses the real
   clock and this module cannot fix it, so the data set is **moved to the current minute**
   (:meth:`benchmarks.datagen.Dataset.shifted`): the reservations are running and future exactly as generated;
   the weekly policy windows keep their wall-clock place, so their phase relative to the reservations differs from
   the engine rows' (irrelevant to a load figure).
2. ``python -m igor.server --config FILE --no-lifecycle --workers W`` starts on free loopback ports in a process
   group of its own. ``--no-lifecycle``: no lifecycle worker installs, closes out or prunes anything while the
   generator runs (it would otherwise start closing out whatever ends during the run, and compete for the CPU).
3. Each scenario runs ``C`` client threads (default 8), each sending its next request as soon as the previous
   answer is read (a closed loop: the offered load adapts to the server). Each thread keeps one keep-alive
   connection (``http.client``), and the connections are **balanced over the workers** first (reconnected until no
   worker holds more than ``⌈C / W⌉``, going by the ``X-Igor-Worker`` header): the kernel's pick of the accepting
   worker otherwise often puts a burst of connections on one or two of them. ``--reconnect`` opens a new
   connection per operation instead (as each ``igor`` command does). A run is priming (until every thread has
   finished an operation: a worker's first request of a kind builds its engine or expands the policy windows over
   the scheduling horizon, seconds at M), a warm-up, then the measured window; an operation counts when it
   *finishes* inside the window (so operations of several seconds still count); ops/s = those ÷ the window.

   * ``GET /igor``: the whole show (1,024 hosts, 5,000 reservations, ~3 MB of JSON), as the plain ``user01``
     with a bearer token from ``GET /igor/login``; bodies are read, not parsed.
   * ``speculate``: ``GET /igor/reservations/speculate?nodes=64&duration=4h&limit=10&after=…`` with ``after``
     varied over the next 14 days.
   * ``create + delete``: ``POST /igor/reservations {"name", "nodeCount": 4, "duration": "1h", "start"}`` with
     starts spread 2–7 days out (names unique per connection), then ``DELETE /igor/reservations/<name>``; one
     operation = the pair, the JSON also has each half.

   Errors are non-2xx answers and transport failures (both listed in the JSON); a 409 on create would mean the
   generator asked for something the data cannot give. The generator's own cost is measured: the client's CPU
   time over the window (``os.times``) per operation, next to the server's (every process of its group, from
   ``/proc``), PostgreSQL's backends for the run's database, and the machine's busy share (``/proc/stat``).

Run: ``python -m benchmarks.load [--quick] [--backends sqlite,postgresql] [--workers W] [--connections C]
[--reconnect]`` (2.5–3 minutes; ``--quick`` 1–1.5, a quarter of it building the PostgreSQL database). ``--pg
URL`` or ``$IGOR_BENCH_PG`` names the PostgreSQL server, default ``postgresql://postgres@127.0.0.1:5432/postgres``;
without one the PostgreSQL rows say why.
Prints a markdown table, writes ``benchmarks/load-results.json`` (not committed); ``python -m benchmarks.run
--load`` adds the same figures to the runner's table. The generator and its statistics are
:mod:`benchmarks.loadgen`; this module holds the Igor side: scenarios, databases, the server, the table.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import api
from .loadgen import Conn, Operation, backend_cpu, describe, drive, group_cpu, summarize

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZE = "M"
BACKENDS = ("sqlite", "postgresql")
#: The scenarios, in run order (the writes last, so the reads see the data set as built).
SCENARIOS = ("show", "speculate", "create+delete")
PG_BASE = "postgresql://postgres@127.0.0.1:5432/postgres"


# ---------------------------------------------------------------------------------------------------- the table
def fmt_ms(s: float | None) -> str:
    return "—" if s is None else f"{s * 1e3:.1f} ms" if s < 10 else f"{s:.1f} s"


def table(results: Sequence[dict[str, Any]]) -> str:
    """The results (one dict per backend × scenario, as :func:`measure` returns them) as a markdown table."""
    head = ("backend", "scenario", "conns", "workers used/run", "ops/s", "p50", "p99", "errors", "server CPU/op",
            "client CPU/op", "machine busy", "others' CPU")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['backend']} | {r['scenario']} | | | not measured: {r['skipped']} | | | | | | | |")
            continue
        busy = "—" if r.get("machine_busy") is None else f"{100 * r['machine_busy']:.0f} %"
        conns = f"{r['connections']}" + (" (new per op)" if r.get("reconnect") else "")
        cells = (r["backend"], r["scenario"], conns, f"{r['workers_answering']}/{r['workers']}",
                 f"{r['ops_per_s']:.1f}", fmt_ms(r["p50_s"]), fmt_ms(r["p99_s"]), str(r["errors"]),
                 fmt_cpu(r.get("server_cpu_ms_per_op"), r.get("db_cpu_ms_per_op")),
                 fmt_cpu(r.get("client_cpu_ms_per_op")), busy,
                 "—" if r.get("other_cores") is None else f"{r['other_cores']:.1f} cores")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt_cpu(ms: float | None, db_ms: float | None = None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.1f} ms" + ("" if db_ms is None else f" + PG {db_ms:.1f} ms")


# ---------------------------------------------------------------------------------------------------- scenarios
def show_op(conn: Conn, _k: int, _i: int) -> str | None:
    status, payload = conn.request("GET", "/igor", label="show")
    return None if status == 200 else describe("show", status, payload)


def speculate_op(now_s: int, nodes: int = 64) -> Operation:
    """``nodes`` hosts × 4 h, the first 10 windows, ``after`` varied over 14 days from ``now_s`` (epoch seconds)."""
    def op(conn: Conn, k: int, i: int) -> str | None:
        after = now_s + 3600 * ((k * 37 + i * 11) % (14 * 24))
        status, payload = conn.request("GET", f"/igor/reservations/speculate?nodes={nodes}&duration=4h&limit=10"
                                       f"&after={after}", label="speculate")
        return None if status == 200 else describe("speculate", status, payload)
    return op


def create_delete_op(now_s: int, count: int = 4, tag: str = "ld") -> Operation:
    """Create ``count`` hosts by count for 1 h, 2–7 days after ``now_s``, then delete it; names ``<tag><k>-<i>``
    (unique per connection ``k`` and operation ``i``)."""
    def op(conn: Conn, k: int, i: int) -> str | None:
        name = f"{tag}{k}-{i}"
        start = now_s + 2 * 86400 + 60 * ((k * 1009 + i * 7919) % (5 * 1440))
        status, payload = conn.request("POST", "/igor/reservations", {"name": name, "nodeCount": count,
                                                                      "duration": "1h", "start": start},
                                       label="create")
        if status != 201:
            return describe("create", status, payload)
        status, payload = conn.request("DELETE", f"/igor/reservations/{name}", label="delete")
        return None if status == 200 else describe("delete", status, payload)
    return op


# ---------------------------------------------------------------------------------------------------- the server
def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (held open together while picked, so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def server_config(path: Path, url: str, home: Path, workers: int, pad: int) -> int:
    """Write an ``igor-server.yaml`` for loopback (API and callback ports free), returns the API port."""
    port, cb_port = free_ports(2)
    path.write_text(f"server:\n  host: 127.0.0.1\n  port: {port}\n  cbPort: {cb_port}\n  workers: {workers}\n"
                    f"database:\n  url: {url}\nmaintenance:\n  hostMaintenanceDuration: {pad}\n"
                    f"log:\n  dir: {home / 'log'}\n")
    return port


@dataclass
class Server:
    port: int
    proc: subprocess.Popen
    workers: int
    log: Path

    @property
    def pgid(self) -> int:
        return self.proc.pid


def wait_up(server: Server, deadline: float = 90) -> None:
    """Until ``GET /igor/health`` answers 200; raises (with the end of the server's log) if it exits or hangs."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if server.proc.poll() is not None:
            raise RuntimeError(f"igor-server exited with {server.proc.returncode}:\n{tail(server.log)}")
        try:
            conn = Conn(server.port)
            try:
                if conn.request("GET", "/igor/health")[0] == 200:
                    return
            finally:
                conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"igor-server did not come up in {deadline:.0f}s:\n{tail(server.log)}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def igor_server(url: str, home: Path, workers: int, pad: int) -> Iterator[Server]:
    """``python -m igor.server --no-lifecycle`` on ``url`` in its own process group; always stopped on leaving
    (SIGTERM to the group — gunicorn's graceful stop — then SIGKILL after 20 s)."""
    conf = home / "igor-server.yaml"
    port = server_config(conf, url, home, workers, pad)
    log = home / "server.out"
    env = {**os.environ, "IGOR_HOME": str(home), "HOME": str(home)}
    env.pop("IGOR_CONFIG", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--config", str(conf), "--no-lifecycle",
                                 "--workers", str(workers)], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(port, proc, workers, log)
    try:
        wait_up(server)
        yield server
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen) -> None:
    """Stop the process group led by ``proc`` (the server, its gunicorn workers and its callback server)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:                                           # stragglers of the group (the master waited, a child may not)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------------------------------- databases
def _pg(base: str, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(base)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextmanager
def database(backend: str, tmp: Path, pg_base: str = PG_BASE) -> Iterator[tuple[str, str | None]]:
    """An empty database for one run: ``(url, PostgreSQL database name or None)``. A SQLite file under ``tmp``; a
    PostgreSQL database created on ``pg_base``'s server and dropped (``WITH (FORCE)``) on leaving."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp}/db/igor.db", None
        return
    name = f"igor_load_{uuid.uuid4().hex[:10]}"
    _pg(pg_base, f'CREATE DATABASE "{name}"')
    try:
        yield pg_base.rsplit("/", 1)[0] + "/" + name, name
    finally:
        _pg(pg_base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------------------------- measuring
@dataclass
class Settings:
    """How to run: backends, server workers, client connections, seconds of warm-up and of measurement."""

    backends: tuple[str, ...] = BACKENDS
    scenarios: tuple[str, ...] = SCENARIOS
    workers: int | None = None          # None: server.workers' default
    connections: int = 8
    reconnect: bool = False
    warmup: float = 3.0
    duration: float = 12.0
    prime_cap: float = 30.0             # the longest priming (see drive)
    pg_base: str = PG_BASE

    @classmethod
    def quick(cls, **kw: Any) -> Settings:
        return cls(**{"warmup": 0.5, "duration": 3.0, "prime_cap": 15.0, **kw})


def default_workers() -> int:
    """``server.workers``' default on this machine (the config computes it from the CPU count)."""
    from igor.config import parse_config

    with tempfile.TemporaryDirectory() as home:
        return parse_config({}, env={"IGOR_HOME": home, "HOME": home}).server.workers


def operations(now_s: int) -> dict[str, Operation]:
    return {"show": show_op, "speculate": speculate_op(now_s), "create+delete": create_delete_op(now_s)}


def run_scenarios(server: Server, token: str, settings: Settings, *, now_s: int, db_name: str | None,
                  log: Callable[[str], None], ops: dict[str, Operation] | None = None) -> list[dict[str, Any]]:
    """Every scenario of ``settings`` against a running server; one summary dict each."""
    counters: dict[str, Callable[[], float]] = {"server": lambda: group_cpu(server.pgid)}
    if db_name:
        counters["db"] = lambda: backend_cpu(db_name)
    ops = ops or operations(now_s)
    out = []
    for name in settings.scenarios:
        run = drive(server.port, token, ops[name], connections=settings.connections, warmup=settings.warmup,
                    duration=settings.duration, counters=counters, reconnect=settings.reconnect,
                    workers=server.workers, prime_cap=settings.prime_cap)
        parts = run.parts if len(run.parts) > 1 else None
        summary = {"scenario": name, "connections": run.connections, "reconnect": settings.reconnect,
                   "connections_per_worker": sorted(run.spread.values(), reverse=True), "workers": server.workers,
                   "workers_answering": len(run.workers), **summarize(run.ops, run.window, parts)}
        log(f"  {name}: {summary['ops_per_s']:.1f} ops/s, p50 {fmt_ms(summary['p50_s'])}, "
            f"p99 {fmt_ms(summary['p99_s'])}, {summary['errors']} errors")
        out.append(summary)
    return out


def measure_backend(backend: str, settings: Settings, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Build the M database on ``backend``, start a server on it, run the scenarios; the summaries (or one
    ``skipped`` entry saying why PostgreSQL could not be used)."""
    workers = settings.workers or default_workers()
    with tempfile.TemporaryDirectory(prefix=f"igor-load-{backend}-") as tmp, ExitStack() as stack:
        try:
            url, db_name = stack.enter_context(database(backend, Path(tmp), settings.pg_base))
        except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: say so, measure the rest
            log(f"{backend}: no database ({exc})")
            return [{"backend": backend, "scenario": s, "skipped": f"{type(exc).__name__}: {exc}".splitlines()[0]}
                    for s in settings.scenarios]
        now_min = int(time.time() // 60)
        t = time.perf_counter()
        world = api.build(SIZE, url=url, now=now_min)
        world.close()
        build_s = time.perf_counter() - t
        log(f"{backend}: M database built in {build_s:.1f}s (data set moved to now); starting igor-server "
            f"--no-lifecycle with {workers} workers")
        with igor_server(url, Path(tmp), workers, world.data.pad) as server:
            token = Conn(server.port).login(api.PLAIN_USER, api.PASSWORD)
            results = run_scenarios(server, token, settings, now_s=now_min * 60, db_name=db_name, log=log)
    return [{"backend": backend, "build_s": build_s, **r} for r in results]


def measure(settings: Settings, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Every backend of ``settings``; the JSON document (``results``: one dict per backend × scenario)."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    results = [r for b in settings.backends for r in measure_backend(b, settings, log)]
    return {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "size": SIZE, "settings": asdict(settings),
            "lifecycle_worker": "off (--no-lifecycle)", "cpus": os.cpu_count(), "load_average_before": load_before,
            "load_average_after": os.getloadavg(), "total_s": time.perf_counter() - started, "results": results}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="0.5 s warm-up + 3 s per scenario (default 3 + 12)")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: sqlite, postgresql")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated: " + ", ".join(SCENARIOS))
    ap.add_argument("--workers", type=int, help="gunicorn workers (default server.workers' default)")
    ap.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections (default 8)")
    ap.add_argument("--reconnect", action="store_true", help="a new connection per operation (spreads the load "
                    "over the workers) instead of one keep-alive connection per client thread")
    ap.add_argument("--duration", type=float, help="measured seconds per scenario")
    ap.add_argument("--warmup", type=float, help="warm-up seconds per scenario (not measured)")
    ap.add_argument("--pg", default=os.environ.get("IGOR_BENCH_PG", PG_BASE),
                    help="a PostgreSQL database URL to create the run's database from (default $IGOR_BENCH_PG or "
                         f"{PG_BASE})")
    ap.add_argument("--json", default=str(HERE / "load-results.json"), help="where to write the results")
    args = ap.parse_args(argv)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    if set(backends) - set(BACKENDS) or set(scenarios) - set(SCENARIOS) or not backends or not scenarios:
        ap.error(f"backends from {BACKENDS}, scenarios from {SCENARIOS}")
    kw: dict[str, Any] = {"backends": backends, "scenarios": scenarios, "workers": args.workers,
                          "connections": args.connections, "reconnect": args.reconnect, "pg_base": args.pg}
    kw.update({k: v for k, v in (("duration", args.duration), ("warmup", args.warmup)) if v is not None})
    settings = Settings.quick(**kw) if args.quick else Settings(**kw)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    doc = measure(settings, log)
    print(table(doc["results"]))
    print(f"\nsize {SIZE}, lifecycle worker off (--no-lifecycle), data set moved to the current minute; "
          f"{settings.warmup:g} s warm-up + {settings.duration:g} s per scenario; {os.cpu_count()} CPUs, load "
          f"average {doc['load_average_before'][0]:.2f} before, {doc['load_average_after'][0]:.2f} after; "
          f"total {doc['total_s']:.0f} s")
    for r in doc["results"]:
        for kind, n in r.get("error_kinds", {}).items():
            print(f"ERRORS: {r['backend']} {r['scenario']}: {n} × {kind}")
    Path(args.json).write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"wrote {args.json}")
    return 0                                       # a report, like benchmarks.run: errors are printed above


if __name__ == "__main__":
    sys.exit(main())
