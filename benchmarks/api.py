"""API benchmarks at size M: ``GET /igor`` (show) and a create-by-count + delete round trip, in process.

A real server stack minus the network: :func:`build` fills a fresh SQLite database (in a temporary
``IGOR_HOME``) with the data set of :func:`benchmarks.datagen.dataset` — the same hosts, policies, host→policy
assignment and reservations the engine rows use — and :func:`measure` calls ``create_app(services)`` through
``falcon.testing.TestClient``, so a request costs what the app, Pony, SQLite and the engine cost.

The database (deterministic: fixed seeds, fixed names, MACs and IPs):

* hosts ``dn1..dn1024`` (``ClusterService.apply_spec``, unblocked), each with the policy of the data set or, where
  the data set has none, Igor's ``default`` policy;
* the 20 policies as ``HostPolicy`` rows: ``max_res_time`` (0 = no limit), ``not_available`` from the data set's
  ``"<cron>:<duration>"`` windows (``{"start": cron, "duration": minutes}``) and access groups — the data set's
  ``g0..g9`` as groups ``team-g0..team-g9``;
* 48 users ``user01..user48`` (``UserService.create``: private group, member of ``all``); user *i* is in the
  teams of ``datagen.OWNERS[i % 6]`` (the group mixes the engine's queries use);
* the 5,000 reservations ``r00001..r05000`` with their hosts, each owned by a user drawn from a fixed generator, a
  quarter of them in one of the owner's teams (the rest in the owner's private group), with the permission rows a
  create grants (owner's edit, group's delete/extend and, while active, power) and the hosts of the active ones
  marked reserved. All inserted through Pony in one ``db_session``; then the schedule epoch is bumped.

Time: the services' clock is fixed at the data set's "now" (:data:`benchmarks.datagen.NOW`), so the reservations
are current and future exactly as generated (no shifting) and every run sees the same schedule, weekly windows
included. (``build(url=…, now=…)`` fills another database — a PostgreSQL one, say — and moves the data set to
another minute; :mod:`benchmarks.load` uses both for a server that runs on the real clock.)

Measurements (each call timed alone with ``time.perf_counter``; the garbage collector stays on, as in a server):

* **show**: ``GET /igor`` as ``user01`` (a plain, non-elevated user) after a few untimed calls; p50/p90, response
  bytes, and the SQL statements of one call (counted with ``sqlite3``'s ``set_trace_callback`` on Pony's
  connection; ``BEGIN``/``COMMIT`` included).
* **create + delete**: ``POST /igor/reservations {"name", "nodeCount": 4, "duration": "1h", "start"}`` (starts 3
  to 5 days out, varied) then ``DELETE /igor/reservations/<name>``, as ``user01``; p50/p90 of the pair and of each
  half, SQL statements of one pair.

If ``GET /igor`` fails, :func:`measure` records why and measures it again with :func:`raise_sqlite_batch_limit`
(today it fails: Pony 0.7.20's many-to-many prefetch breaks beyond 2 × 999 objects on SQLite). It also times one
rebuild of the scheduler's engine from the database (what another worker pays after each scheduling write).

Run alone: ``python -m benchmarks.api [--calls N] [--profile show|create] [--profiler cprofile|pyinstrument]``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("IGOR_BCRYPT_ROUNDS", "4")  # 48 users are created: cost 13 would take ~30 s

import falcon.testing  # noqa: E402
import numpy as np  # noqa: E402
from pony.orm import db_session  # noqa: E402

from igor import permissions as perms  # noqa: E402
from igor.api import create_app  # noqa: E402
from igor.clusters import ClusterSpec, HostSpec  # noqa: E402
from igor.config import parse_config  # noqa: E402
from igor.db import init_db  # noqa: E402
from igor.services import Services  # noqa: E402
from igor.services.cluster import RESERVED  # noqa: E402
from igor.timefmt import from_minutes, parse_duration  # noqa: E402

from .datagen import DAY, NOW, OWNERS, Dataset, dataset  # noqa: E402

N_USERS = 48
PLAIN_USER = "user01"
PASSWORD = "bench-password-1"
TEAM_SHARE = 0.25
#: Fewest timed calls (or pairs) of a row; a full run times 40, fewer only when a call is slow (60 s budget).
MIN_CALLS = 20


def team(g: str) -> str:
    """The database group standing for the data set's group ``g`` (``g0`` is too short for a group name)."""
    return f"team-{g}"


def user_name(i: int) -> str:
    return f"user{i + 1:02d}"


@dataclass
class World:
    """A built database and the client over it."""

    tmp: tempfile.TemporaryDirectory
    services: Services
    client: falcon.testing.TestClient
    data: Dataset
    build_s: dict[str, float] = field(default_factory=dict)
    facts: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, user: str) -> str:
        if user not in self.tokens:
            r = self.client.simulate_post("/igor/login", headers={"Authorization": _basic(user, PASSWORD)})
            assert r.status_code == 200, r.text
            self.tokens[user] = r.json["data"]["token"]
        return self.tokens[user]

    def call(self, method: str, path: str, user: str = PLAIN_USER, **kw: Any) -> falcon.testing.Result:
        return self.client.simulate_request(method, path, headers={"Authorization": f"Bearer {self.token(user)}"},
                                            **kw)

    def close(self) -> None:
        self.services.db.disconnect()
        self.tmp.cleanup()


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---------------------------------------------------------------------------------------------------- building
def build(size: str = "M", *, url: str | None = None, now: int | None = None) -> World:
    """A fresh database holding the data set of ``size`` (see the module docstring), and a client over it.

    Args:
        size: the reference size.
        url: the database to fill (an empty one: a new SQLite file, or a freshly created PostgreSQL database);
            default a SQLite file in the temporary ``IGOR_HOME``.
        now: the epoch minute the data set is moved to (:meth:`Dataset.shifted`) and the services' clock is fixed
            at; default :data:`benchmarks.datagen.NOW` (no shift).
    """
    data = dataset(size) if now is None else dataset(size).shifted(now)
    tmp = tempfile.TemporaryDirectory(prefix="igor-bench-api-")
    home = Path(tmp.name)
    config = parse_config({"database": {"url": url or f"sqlite:///{home}/db/igor.db"},
                           "auth": {"defaultUserPassword": PASSWORD},
                           "maintenance": {"hostMaintenanceDuration": data.pad}},
                          env={"IGOR_HOME": str(home), "HOME": str(home)})
    fixed_now = from_minutes(data.now)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    services = Services(init_db(config.database.url), config, clock=lambda: fixed_now)
    services.bootstrap()
    db = services.db
    admin = services.auth.principal_for("igor-admin")
    times["init_s"] = time.perf_counter() - t0

    # users and teams
    t = time.perf_counter()
    for i in range(N_USERS):
        full_name = f"Bench User {chr(65 + i % 26)}{chr(97 + i // 26)}"  # letters only (check_full_name)
        services.users.create(admin, user_name(i), f"{user_name(i)}@example.com", full_name)
    members: dict[str, list[str]] = {}
    for i in range(N_USERS):
        for g in OWNERS[i % len(OWNERS)]:
            members.setdefault(g, []).append(user_name(i))
    for g in sorted({g for p in data.policies for g in (p.groups or ())} | set(members)):
        who = members.get(g) or [user_name(N_USERS - 1)]
        services.groups.create(admin, team(g), owners=[who[0]], members=who[1:])
    times["users_groups_s"] = time.perf_counter() - t

    # policies, then the hosts (apply_spec looks their policy up by name)
    t = time.perf_counter()
    with db_session:
        for p in data.policies:
            windows = []
            for w in p.windows:
                cron, dur = w.rsplit(":", 1)
                windows.append({"start": cron, "duration": parse_duration(dur)})
            row = db.HostPolicy(name=f"pol{p.id:02d}", max_res_time=p.max_time or 0, not_available=windows)
            for g in sorted(p.groups or ()):
                row.access_groups.add(db.Group.get(name=team(g)))
    n = data.n_hosts
    specs = tuple(HostSpec(seq=i + 1, name=f"dn{i + 1}", hostname=f"dn{i + 1}.bench.example",
                           mac=f"02:42:ac:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}",
                           ip=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", eth=f"Et{i // 48 + 1}/{i % 48 + 1}",
                           policy="" if data.host_policy[i] is None else f"pol{data.host_policy[i]:02d}")
                  for i in range(n))
    services.cluster.apply_spec(ClusterSpec(name="bench", prefix="dn", display_width=32,
                                            display_height=-(-n // 32), hosts=specs), blocked=False)
    times["policies_hosts_s"] = time.perf_counter() - t

    # the reservations, in one session
    t = time.perf_counter()
    rng = np.random.default_rng(data.spec.seed + 2)
    owners = rng.integers(0, N_USERS, size=data.ids.shape[0]).tolist()
    in_team = (rng.random(data.ids.shape[0]) < TEAM_SHARE).tolist()
    picks = rng.integers(0, 1 << 30, size=data.ids.shape[0]).tolist()
    created = from_minutes(data.now - 23 * DAY).replace(tzinfo=None)  # 2025-11-01 16:00 unshifted
    facts = Counter()
    with db_session:
        hosts = list(db.Host.select().order_by(db.Host.sequence_id))
        users = {u.name: u for u in db.User.select()}
        groups = {g.name: g for g in db.Group.select()}
        starts, ends = data.starts.tolist(), data.ends.tolist()
        busy = data.busy_ends.tolist()
        for k, rid in enumerate(data.ids.tolist()):
            uname = user_name(owners[k])
            owner = users[uname]
            private = groups["u_" + uname]
            teams = sorted(OWNERS[owners[k] % len(OWNERS)])
            group = groups[team(teams[picks[k] % len(teams)])] if in_team[k] and teams else private
            name = f"r{rid:05d}"
            hs = [hosts[i] for i in data.hosts_of(k).tolist()]
            active = starts[k] <= data.now < ends[k]
            db.Reservation(name=name, owner=owner, group=group, start=starts[k], end=ends[k], orig_end=ends[k],
                           reset_end=busy[k], installed=active, cycle_on_start=True,
                           hash=hashlib.sha1(f"bench|{name}".encode()).hexdigest(), created=created, hosts=hs)
            for f in perms.reservation_owner_facts(name):
                db.Permission(group=private, fact=f)
                facts[uname] += 1
            for f in perms.reservation_group_facts(name, [h.name for h in hs] if active else None):
                db.Permission(group=group, fact=f)
                facts[group.name] += 1
            if active:
                for h in hs:
                    h.state = RESERVED
        db.ScheduleEpoch[1].epoch += 1
    times["reservations_s"] = time.perf_counter() - t
    times["total_s"] = time.perf_counter() - t0

    client = falcon.testing.TestClient(create_app(services))
    world = World(tmp, services, client, data, times)
    world.facts = {"owner_facts_" + PLAIN_USER: facts[PLAIN_USER],
                   "permission_rows": _count(db, "SELECT COUNT(*) FROM permissions")}
    return world


def _count(db: Any, sql: str) -> int:
    with db_session:
        return int(db.select(sql)[0])


# ---------------------------------------------------------------------------------------------------- measuring
@contextmanager
def sql_counter(db: Any) -> Iterator[Counter]:
    """Count the statements SQLite runs (by first word) on this thread's Pony connection while inside."""
    counts: Counter = Counter()
    with db_session:
        conn = db.get_connection()

    def trace(sql: str) -> None:
        counts[sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"] += 1

    conn.set_trace_callback(trace)
    try:
        yield counts
    finally:
        conn.set_trace_callback(None)


def engine_rebuild(world: World) -> float:
    """Seconds to rebuild the scheduler's engine from the database (what a worker pays when the epoch moves)."""
    sched = world.services.scheduler
    sched.invalidate()
    with db_session:
        t = time.perf_counter()
        with sched.locked():
            pass
        return time.perf_counter() - t


def _stats(samples: list[float]) -> dict[str, float]:
    qs = statistics.quantiles(samples, n=10, method="inclusive")
    return {"p50_s": statistics.median(samples), "p90_s": qs[8], "min_s": min(samples), "max_s": max(samples),
            "samples": len(samples)}


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def probe_show(world: World) -> str | None:
    """One ``GET /igor``: None when it answers 200, else what went wrong (status and message)."""
    world.token(PLAIN_USER)
    caught: list[logging.LogRecord] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(record)

    logger = logging.getLogger("igor.api")
    handler, propagate = Catch(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False                     # the server's traceback is summarised here, not printed
    try:
        r = world.call("GET", "/igor")
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    if r.status_code == 200:
        return None
    causes = [f"{rec.exc_info[0].__name__}: {rec.exc_info[1]}" for rec in caught if rec.exc_info and rec.exc_info[0]]
    return f"HTTP {r.status_code}: " + ("; ".join(causes) or (r.json or {}).get("message", r.text[:200]))


def raise_sqlite_batch_limit(world: World) -> int:
    """Work around Pony 0.7.20's many-to-many prefetch bug on SQLite: let one batch hold every object.

    ``Attribute.prefetch_load_all`` keeps one ``m2m_dict`` across its batches of ``provider.max_params_count``
    (999 on SQLite) objects and re-checks earlier batches against sets it has already emptied, so a prefetch of a
    ``Set`` over more than 2 × 999 objects raises ``UnrepeatableReadError: Phantom object … disappeared``. Raising the
    limit of this ``Database``'s provider to SQLite's real one (``SQLITE_LIMIT_VARIABLE_NUMBER``, 32,766 since SQLite
    3.32) makes the prefetches of M one batch each. Returns the new limit.
    """
    import sqlite3

    db = world.services.db
    with db_session:
        limit = db.get_connection().getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    db.provider.max_params_count = limit
    return limit


def measure_show(world: World, calls: int = 30, warm: int = 3, budget: float | None = None) -> dict[str, Any]:
    """``GET /igor`` as the plain user: p50/p90 over ``calls`` timed calls, bytes, SQL statements per call.

    With ``budget`` (seconds), fewer calls are timed when they are slow (never fewer than :data:`MIN_CALLS`).
    """
    def show() -> falcon.testing.Result:
        r = world.call("GET", "/igor")
        assert r.status_code == 200, r.text
        return r

    world.token(PLAIN_USER)
    world.services.scheduler.invalidate()
    cold, r = _timed(show)                        # includes the engine rebuild from the database
    t_warm = [_timed(show)[0] for _ in range(warm)]
    if budget is not None:
        calls = max(MIN_CALLS, min(calls, int(budget / max(min(t_warm), 1e-9))))
    gc.collect()
    samples = [_timed(show)[0] for _ in range(calls)]
    with sql_counter(world.services.db) as counts:
        show()
    body = r.json["data"]["show"]
    return {**_stats(samples), "cold_first_call_s": cold, "response_bytes": len(r.content),
            "hosts": len(body["hosts"]), "reservations": len(body["reservations"]),
            "sql_statements": sum(counts.values()), "sql_by_kind": dict(counts)}


def measure_create_delete(world: World, pairs: int = 30, warm: int = 3) -> dict[str, Any]:
    """Create-by-count (4 hosts × 1 h, 3-5 days out) + delete as the plain user, ``pairs`` timed pairs."""
    seq = iter(range(10**6))

    def pair() -> tuple[float, float, list[str]]:
        i = next(seq)
        name = f"bench{i:05d}"
        start = (NOW + 3 * DAY + (i * 97) % (2 * DAY)) * 60
        body = {"name": name, "nodeCount": 4, "duration": "1h", "start": start}
        tc, r = _timed(lambda: world.call("POST", "/igor/reservations", json=body))
        assert r.status_code == 201, r.text
        hosts = r.json["data"]["reservation"][0]["hosts"]
        td, r = _timed(lambda: world.call("DELETE", f"/igor/reservations/{name}"))
        assert r.status_code == 200, r.text
        return tc, td, hosts

    world.token(PLAIN_USER)
    for _ in range(warm):
        pair()
    rebuilds = world.services.scheduler.rebuilds
    gc.collect()
    creates, deletes, both = [], [], []
    for _ in range(pairs):
        tc, td, _hosts = pair()
        creates.append(tc)
        deletes.append(td)
        both.append(tc + td)
    with sql_counter(world.services.db) as counts:
        pair()
    c, d = _stats(creates), _stats(deletes)
    return {**_stats(both), "create_p50_s": c["p50_s"], "create_p90_s": c["p90_s"], "delete_p50_s": d["p50_s"],
            "delete_p90_s": d["p90_s"], "engine_rebuilds_during": world.services.scheduler.rebuilds - rebuilds,
            "sql_statements": sum(counts.values()), "sql_by_kind": dict(counts)}


def measure(size: str = "M", *, quick: bool = False, log: Callable[[str], None] = lambda _m: None,
            calls: int | None = None) -> dict[str, Any]:
    """Build the database of ``size`` and measure both rows; returns ``{"build": …, "show": …, "create": …}``."""
    n = calls or (MIN_CALLS if quick else 40)
    world = build(size)
    try:
        log(f"{size}: API database built in {world.build_s['total_s']:.1f}s")
        out: dict[str, Any] = {"build": dict(world.build_s), "data": dict(world.facts)}
        out["build"]["engine_rebuild_from_db_s"] = engine_rebuild(world)
        out["create"] = measure_create_delete(world, pairs=n)
        log(f"{size}: API create + delete done")
        out["show_error"] = probe_show(world)
        if out["show_error"] is not None:
            log(f"{size}: GET /igor fails ({out['show_error']}); measuring it with the SQLite batch limit raised")
            out["workaround_max_params_count"] = raise_sqlite_batch_limit(world)
            still = probe_show(world)
            if still is not None:
                out["show_error_with_workaround"] = still
                return out
        out["show"] = measure_show(world, calls=n, budget=None if calls or quick else 60.0)
        log(f"{size}: API show done")
        return out
    finally:
        world.close()


# ---------------------------------------------------------------------------------------------------- profiling
def profile(world: World, what: str, profiler: str = "cprofile", n: int = 20) -> str:
    """Profile ``n`` warm calls of ``show`` or ``create`` (create + delete pairs); the report as text."""
    if what == "show":
        def work() -> None:
            for _ in range(n):
                world.call("GET", "/igor")
        world.call("GET", "/igor")
    else:
        k = iter(range(10**6))

        def work() -> None:
            for _ in range(n):
                i = next(k)
                name = f"prof{i:05d}"
                start = (NOW + 3 * DAY + (i * 97) % (2 * DAY)) * 60
                r = world.call("POST", "/igor/reservations",
                               json={"name": name, "nodeCount": 4, "duration": "1h", "start": start})
                assert r.status_code == 201, r.text
                world.call("DELETE", f"/igor/reservations/{name}")
        world.token(PLAIN_USER)
    if profiler == "pyinstrument":
        from pyinstrument import Profiler

        p = Profiler(interval=0.0005)
        p.start()
        work()
        p.stop()
        return p.output_text(unicode=True, color=False, show_all=False)
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    work()
    prof.disable()
    s = io.StringIO()
    st = pstats.Stats(prof, stream=s)
    st.sort_stats("cumulative").print_stats(45)
    st.sort_stats("tottime").print_stats(30)
    return s.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.api", description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=40, help="timed calls (and pairs) per row")
    ap.add_argument("--profile", choices=("show", "create"), help="profile one row instead of measuring")
    ap.add_argument("--profiler", choices=("cprofile", "pyinstrument"), default="cprofile")
    ap.add_argument("--profile-calls", type=int, default=20, help="calls (or pairs) profiled")
    args = ap.parse_args(argv)
    if args.profile:
        world = build("M")
        try:
            if probe_show(world) is not None:
                raise_sqlite_batch_limit(world)
            print(profile(world, args.profile, args.profiler, args.profile_calls))
        finally:
            world.close()
        return 0
    import json

    print(json.dumps(measure("M", calls=args.calls, log=lambda m: print(m, file=sys.stderr)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
