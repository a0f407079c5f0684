"""The load benchmark's generator (:mod:`benchmarks.load` drives Igor with it): a bounded closed loop of client
threads over loopback HTTP/1.1, the statistics of what they measured, and CPU readings from ``/proc``.

* :class:`Conn`: one ``http.client`` keep-alive connection with a bearer token; records which server worker
  answered (``X-Igor-Worker``) and each labelled request.
* :func:`balance`: spread keep-alive connections evenly over the server's workers.
* :func:`drive`: ``C`` threads each running an operation in a loop — priming, warm-up, measured window — with CPU
  counters read at the window's two ends.
* :func:`summarize`: ops/s, p50/p90/p99, errors, CPU per operation of the operations that finished in the window.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from base64 import b64encode
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------- statistics
def quantile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 ≤ q ≤ 1) of ``samples``, linearly interpolated between order statistics (the
    "inclusive" method of :func:`statistics.quantiles`); raises ``ValueError`` on no samples."""
    if not samples:
        raise ValueError("no samples")
    xs = sorted(samples)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Op:
    """One finished operation: when it started (``perf_counter``), how long it took, what went wrong (None: ok)."""

    start: float
    seconds: float
    error: str | None = None


@dataclass
class Window:
    """The measured interval and the CPU counters read at its two ends."""

    start: float
    end: float
    cpu: dict[str, float] = field(default_factory=dict)   # seconds of CPU per consumer over the window
    busy: float | None = None                             # the machine's busy share over the window (0..1)
    prime_s: float = 0.0                                  # how long priming took before the warm-up


def summarize(ops: Sequence[Op], window: Window, parts: dict[str, list[Op]] | None = None) -> dict[str, Any]:
    """Throughput, latency quantiles and errors of the operations that finished inside ``window``, plus CPU per
    operation.

    Counting completions (not operations that also started in the window) keeps slow operations: when an operation
    takes seconds, few would both start and end in a window of ten. ``parts`` (label → operations) adds the
    p50/p99 of each kind of request making up an operation.
    """
    inside = [o for o in ops if window.start <= o.start + o.seconds <= window.end]
    good = [o.seconds for o in inside if o.error is None]
    errors = Counter(o.error for o in inside if o.error is not None)
    span = window.end - window.start
    out: dict[str, Any] = {"ops": len(inside), "window_s": span, "ops_per_s": len(inside) / span if span else 0.0,
                           "errors": sum(errors.values()), "error_kinds": dict(errors.most_common(5)),
                           "p50_s": quantile(good, 0.5) if good else None,
                           "p90_s": quantile(good, 0.9) if good else None,
                           "p99_s": quantile(good, 0.99) if good else None,
                           "max_s": max(good) if good else None,
                           "outside_window": len(ops) - len(inside)}
    for who, seconds in window.cpu.items():
        out[f"{who}_cpu_ms_per_op"] = 1e3 * seconds / len(inside) if inside else None
    out["machine_busy"] = window.busy
    # the cores busy with anything but this run (other users of a shared machine): the noise in the figures
    ours = sum(window.cpu.values()) / span if span else 0.0
    out["other_cores"] = None if window.busy is None else max(0.0, window.busy * (os.cpu_count() or 1) - ours)
    out["prime_s"] = window.prime_s
    for label, part in (parts or {}).items():
        xs = [o.seconds for o in part if o.error is None and window.start <= o.start + o.seconds <= window.end]
        out[f"{label}_p50_s"] = quantile(xs, 0.5) if xs else None
        out[f"{label}_p99_s"] = quantile(xs, 0.99) if xs else None
    return out


# ---------------------------------------------------------------------------------------------------- CPU counters
def _proc_stats() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of ``/proc/<pid>/stat`` after the command name) of every process we can read."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    text = f.read()
            except OSError:
                continue
            yield int(entry.name), text[text.rindex(")") + 2:].split()


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the living processes of process group ``pgid``."""
    return sum(int(f[11]) + int(f[12]) for _pid, f in _proc_stats() if int(f[2]) == pgid) / CLK_TCK


def backend_cpu(database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving ``database`` (their title names it)."""
    total = 0
    for pid, f in _proc_stats():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as c:
                cmd = c.read()
        except OSError:
            continue
        if cmd.startswith(b"postgres:") and f" {database} ".encode() in cmd:
            total += int(f[11]) + int(f[12])
    return total / CLK_TCK


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from ``/proc/stat`` (idle and iowait are not busy)."""
    with open("/proc/stat") as f:
        xs = [int(x) for x in f.readline().split()[1:]]
    return sum(xs) - xs[3] - xs[4], sum(xs)


def client_cpu() -> float:
    t = os.times()
    return t.user + t.system


# ---------------------------------------------------------------------------------------------------- the client
class Conn:
    """One keep-alive HTTP/1.1 connection to the server (so one gunicorn worker), with the user's bearer token.

    Records the ``X-Igor-Worker`` of each answer and, per label, each request's :class:`Op`.
    """

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.workers: Counter = Counter()
        self.last_worker: str | None = None
        self.parts: dict[str, list[Op]] = {}

    def request(self, method: str, path: str, body: dict | None = None, *, label: str = "",
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Send one request, read the whole answer; (status, body). Transport errors propagate (the connection is
        closed first, so the next request reconnects)."""
        h = dict(headers or {})
        if self.token:
            h.setdefault("Authorization", f"Bearer {self.token}")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        t = time.perf_counter()
        try:
            self.http.request(method, path, body=data, headers=h)
            resp = self.http.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException):
            self.http.close()
            raise
        self.last_worker = resp.getheader("X-Igor-Worker")
        self.workers[self.last_worker] += 1
        if label:
            error = None if 200 <= resp.status < 300 else describe(label, resp.status, payload)
            self.parts.setdefault(label, []).append(Op(t, time.perf_counter() - t, error))
        return resp.status, payload

    def login(self, user: str, password: str) -> str:
        creds = b64encode(f"{user}:{password}".encode()).decode()
        status, payload = self.request("GET", "/igor/login", headers={"Authorization": f"Basic {creds}"})
        if status != 200:
            raise RuntimeError(f"login as {user} failed: {describe('login', status, payload)}")
        self.token = json.loads(payload)["data"]["token"]
        return self.token

    def close(self) -> None:
        self.http.close()


def describe(label: str, status: int, payload: bytes) -> str:
    """A short error key: the request label, the status and the start of Igor's message."""
    try:
        message = str(json.loads(payload).get("message", ""))[:80]
    except (ValueError, AttributeError):
        message = payload[:80].decode(errors="replace")
    return f"{label}: HTTP {status} {message}".rstrip()


#: One operation of a scenario: ``op(conn, k, i)`` for connection ``k``'s ``i``-th operation; returns None when
#: every request of it succeeded, else the error key.
Operation = Callable[[Conn, int, int], "str | None"]


@dataclass
class Run:
    """What one scenario produced: every operation, the measured window, the requests by label, the workers."""

    ops: list[Op]
    window: Window
    parts: dict[str, list[Op]]
    workers: Counter                                      # answers per worker
    connections: int
    spread: Counter = field(default_factory=Counter)      # keep-alive connections per worker (when balanced)


def drive(port: int, token: str, op: Operation, *, connections: int, warmup: float, duration: float,
          counters: dict[str, Callable[[], float]] | None = None, reconnect: bool = False, workers: int = 1,
          prime_cap: float = 30.0) -> Run:
    """Run ``op`` in a closed loop on ``connections`` client threads: priming, ``warmup``, then ``duration`` s.

    Each thread keeps one keep-alive connection, so it stays with the worker that accepted it; with ``reconnect``
    each operation opens a new connection (as each ``igor`` command does) and the kernel spreads the operations
    over the workers. Priming (at most ``prime_cap`` s) lasts until every thread has finished an operation and,
    with ``reconnect``, ``workers`` distinct workers have answered: a worker's first request of a kind builds its
    engine or expands the policy windows over the horizon (seconds at M), a cost the warm-up alone may not
    absorb. Priming and warm-up are not measured. ``counters`` (name → a cumulative CPU-seconds reading) are read
    at both ends of the measured window; the client's own CPU time is always among them.
    """
    counters = {"client": client_cpu, **(counters or {})}
    conns = [Conn(port, token) for _ in range(connections)]
    spread = Counter() if reconnect else balance(conns, workers)
    ops: list[list[Op]] = [[] for _ in range(connections)]
    clock = {"stop": float("inf")}

    def loop(k: int) -> None:
        conn, mine = conns[k], ops[k]
        i = 0
        while (t := time.perf_counter()) < clock["stop"]:
            if reconnect:
                conn.close()                       # http.client connects again on the next request
            try:
                error = op(conn, k, i)
            except (OSError, http.client.HTTPException) as exc:
                error = f"transport: {type(exc).__name__}"
            mine.append(Op(t, time.perf_counter() - t, error))
            i += 1

    def primed() -> bool:
        seen = {w for c in conns for w in list(c.workers)}
        return all(mine for mine in ops) and (not reconnect or len(seen) >= workers)

    threads = [threading.Thread(target=loop, args=(k,), daemon=True) for k in range(connections)]
    started = time.perf_counter()
    for th in threads:
        th.start()
    while not primed() and time.perf_counter() < started + prime_cap:
        time.sleep(0.02)
    t0 = time.perf_counter()
    window = Window(t0 + warmup, t0 + warmup + duration, prime_s=t0 - started)
    clock["stop"] = window.end
    time.sleep(max(0.0, window.start - time.perf_counter()))
    before = {name: read() for name, read in counters.items()}
    ticks = machine_ticks()
    time.sleep(max(0.0, window.end - time.perf_counter()))
    window.cpu = {name: read() - before[name] for name, read in counters.items()}
    busy, total = machine_ticks()
    window.busy = (busy - ticks[0]) / (total - ticks[1]) if total > ticks[1] else None
    for th in threads:
        th.join(timeout=180)
    parts: dict[str, list[Op]] = {}
    answered: Counter = Counter()
    for c in conns:
        c.close()
        answered.update(c.workers)
        for label, xs in c.parts.items():
            parts.setdefault(label, []).extend(xs)
    return Run([o for mine in ops for o in mine], window, parts, answered, connections, spread)


def balance(conns: Sequence[Conn], workers: int, attempts: int = 400) -> Counter:
    """Spread keep-alive connections evenly over the workers: (re)connect each until the worker that accepted it
    (``X-Igor-Worker`` of ``GET /igor/health``) may take one more — at most ``⌈C / W⌉`` connections on a worker,
    and ``⌈C / W⌉`` on no more than ``C mod W`` of them, so that 8 connections on 5 workers end up 2, 2, 2, 1, 1.

    Which worker accepts a connection is the kernel's pick, and a burst of connections to idle workers often lands
    on one or two of them; unbalanced, a run measures whichever workers happened to win. Gives up after
    ``attempts`` connections in all (the spread is then what it is). Returns the connections per worker.
    """
    low, extra = divmod(len(conns), max(1, workers))

    def room(worker: str | None) -> bool:
        have = spread[worker]
        return have < low or (have == low and sum(n > low for n in spread.values()) < extra)

    spread: Counter = Counter()
    for conn in conns:
        while True:
            attempts -= 1
            conn.request("GET", "/igor/health")
            if room(conn.last_worker) or attempts <= 0:
                break
            conn.close()
        spread[conn.last_worker] += 1
    for conn in conns:
        conn.workers.clear()
    return spread
