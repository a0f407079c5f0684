"""The benchmark runner: every row of DESIGN.md §4, at sizes M and L, in one table (and the same rows as JSON).

Usage::

    python -m benchmarks.run [--sizes M,L] [--json benchmarks/results.json] [--quick] [--load]

Timings are warm medians: each query list is run once untimed (window caches expanded, code paths warm), then
timed in passes over the whole list (a pass is repeated until it lasts a few milliseconds, timeit-style); a sample
is the mean time per call of one pass and the reported value is the median of the samples. Queries come from
:func:`benchmarks.datagen.queries` (varied start times and owners, mostly non-elevated).

The slow comparisons use fewer queries and repeats (listed in each row's ``notes`` in the JSON): the pure-Python
reference's ``speculate`` at L takes about a second per call, and Igor v2's SQL takes seconds at M and about half a
minute at L per by-count request. Ratios are always taken on the same queries for both sides. ``--quick`` cuts
repeats, runs the reference's speculate at M only and the SQL baseline at M only (the L rows then say so).

Resident memory is measured in a fresh subprocess per size: RSS (``/proc/self/statm``) just before and after
creating the engine, setting the policies, building it from the arrays and asking one find and one speculate (so
windows and scratch buffers exist); the data arrays are generated before the first reading, so only the engine is
counted. The peak RSS during the build (``VmHWM``, reset before the build) and, from a second build under
``tracemalloc`` (which sees the engine's ``PyMem`` buffers and numpy's arrays), the retained and peak traced bytes
are reported in the JSON notes.

``--load`` adds the load benchmark (:mod:`benchmarks.load`: a real ``igor-server`` under a closed-loop generator,
SQLite and PostgreSQL, 2.5–3 minutes, 1–1.5 with ``--quick``) as ``info`` rows: DESIGN.md §4 sets no target
for it.

The exit status is 0 even when a target is missed: this is a report. Misses are marked ``MISS`` in the ``ok``
column and listed after the table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from igor._sched import CEngine, PyEngine

from . import datagen
from .datagen import NOW, dataset, queries

Call = tuple[tuple, dict]
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass
class Row:
    operation: str
    size: str
    measured: str
    target: str
    ok: str
    value: float | None = None
    unit: str = ""
    notes: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------- timing
def per_call(fn: Callable, calls: Sequence[Call], *, repeat: int = 7, min_pass: float = 0.005,
             warm: int | None = None) -> tuple[float, list[float]]:
    """Median seconds per call of ``fn(*args, **kwargs)`` over ``calls``, and the samples.

    ``warm`` limits the untimed warm-up to the first ``warm`` calls (for very slow functions); default all.
    """
    def one_pass() -> float:
        t = time.perf_counter()
        for a, k in calls:
            fn(*a, **k)
        return time.perf_counter() - t

    for a, k in calls[:warm] if warm is not None else calls:
        fn(*a, **k)
    inner = 1
    first = one_pass()
    while first * inner < min_pass:
        inner *= 2
    samples = [first / len(calls)] if inner == 1 else []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        while len(samples) < repeat:
            samples.append(sum(one_pass() for _ in range(inner)) / (inner * len(calls)))
    finally:
        if gc_was:
            gc.enable()
    return statistics.median(samples), samples


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def time_row(op: str, size: str, seconds: float, limit: float | None, target: str, **notes: object) -> Row:
    ok = "info" if limit is None else ("ok" if seconds <= limit else "MISS")
    return Row(op, size, fmt_time(seconds), target, ok, seconds, "s", dict(notes))


def ratio_row(op: str, size: str, ratio: float, limit: float, **notes: object) -> Row:
    return Row(op, size, f"{ratio:,.0f}×", f"≥ {limit:g}×", "ok" if ratio >= limit else "MISS", ratio, "x",
               dict(notes))


def samples_note(samples: list[float]) -> dict:
    return {"samples": len(samples), "min_s": min(samples), "max_s": max(samples)}


# ---------------------------------------------------------------------------------------------------- memory
def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def memory_child(size: str) -> dict:
    """Run in a fresh interpreter: memory taken by one engine of ``size`` (see the module docstring)."""
    import tracemalloc

    data = dataset(size)
    q = queries(size)
    gc.collect()
    rss0 = _rss()
    try:                                      # reset the peak so VmHWM covers the build only (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        hwm_reset = True
    except OSError:
        hwm_reset = False
    hwm0 = _hwm()
    eng = data.engine(CEngine)
    (a, k), (sa, sk) = q.find[0], q.speculate[0]
    eng.find(*a, **k)
    eng.speculate(*sa, **sk)
    gc.collect()
    rss1 = _rss()
    hwm1 = _hwm()
    del eng
    gc.collect()
    tracemalloc.start()
    eng = data.engine(CEngine)
    eng.find(*a, **k)
    eng.speculate(*sa, **sk)
    gc.collect()
    traced, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rss_growth": rss1 - rss0, "hwm_growth": hwm1 - max(hwm0, rss0) if hwm_reset else None,
            "traced": traced, "traced_peak": traced_peak}


def measure_memory(size: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.run", "--memory-child", size], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------- rows
def engine_rows(size: str, quick: bool, log: Callable[[str], None]) -> tuple[list[Row], list[str]]:
    """Every §4 row of one size; also returns the sanity problems found (empty when all is well)."""
    rows: list[Row] = []
    data = dataset(size)
    problems = [f"{size}: data: {p}" for p in data.validate()]
    q = queries(size)
    rep = 3 if quick else 7
    n_res = data.ids.shape[0]
    if CEngine is None:
        raise SystemExit("the Cython engine is not built (pip install -e .): nothing to benchmark")
    c = data.engine(CEngine)

    # by-name check (a mix of free and refused answers, then each kind alone)
    t, s = per_call(c.check, q.check, repeat=rep)
    free = [x for x in q.check if c.check(*x[0], **x[1]) is None]
    refused = [x for x in q.check if c.check(*x[0], **x[1]) is not None]
    rows.append(time_row("by-name check, 16 hosts, one window", size, t, 20e-6, "≤ 20 µs",
                         queries=len(q.check), free=len(free), refused=len(refused), **samples_note(s)))
    if free:
        t, s = per_call(c.check, free, repeat=rep)
        rows.append(time_row("  … of which answer free (fast path)", size, t, 20e-6, "≤ 20 µs",
                             queries=len(free), **samples_note(s)))
    if refused:
        t, s = per_call(c.check, refused, repeat=rep)
        rows.append(time_row("  … of which refused, with the explanation", size, t, 20e-6, "≤ 20 µs",
                             queries=len(refused), **samples_note(s)))
    log(f"{size}: check done")

    # by-count find
    t, s = per_call(c.find, q.find, repeat=rep)
    found = sum(c.find(*a, **k) is not None for a, k in q.find)
    rows.append(time_row("by-count find, 64 hosts, 4 h window", size, t, 1e-3, "≤ 1 ms",
                         queries=len(q.find), found=found, **samples_note(s)))
    # speculate
    t, s = per_call(c.speculate, q.speculate, repeat=rep)
    slots = [len(c.speculate(*a, **k)) for a, k in q.speculate]
    rows.append(time_row("speculate, first 10 windows, 64 hosts × 4 h, 30 days", size, t, 10e-3, "≤ 10 ms",
                         queries=len(q.speculate), slots_min=min(slots), slots_max=max(slots),
                         slots_mean=sum(slots) / len(slots), **samples_note(s)))
    t, s = per_call(c.speculate, q.speculate_scarce, repeat=rep)
    slots = [len(c.speculate(*a, **k)) for a, k in q.speculate_scarce]
    rows.append(time_row("  … 10 windows for a fifth of the cluster × 4 h", size, t, 10e-3, "≤ 10 ms",
                         queries=len(q.speculate_scarce), slots_min=min(slots), slots_max=max(slots),
                         slots_mean=sum(slots) / len(slots), **samples_note(s)))
    # extend-max
    t, s = per_call(c.max_end, q.max_end, repeat=rep)
    rows.append(time_row("extend-max, 64-host reservation", size, t, 50e-6, "≤ 50 µs",
                         queries=len(q.max_end), **samples_note(s)))
    # build (on an engine with policies, replacing its reservations each time)
    t, s = per_call(c.build, [(data.arrays, {})], repeat=3 if quick else 7, min_pass=0)
    rows.append(time_row("build from all reservations (M 5,000 / L 50,000)", size, t, 0.3, "≤ 300 ms",
                         reservations=n_res, host_slots=int(data.host_idx.shape[0]), **samples_note(s)))
    t0 = time.perf_counter()
    p = data.engine(PyEngine)                        # the reference, also used below
    rows.append(time_row("  reference build (pure Python, one run)", size, time.perf_counter() - t0, None, "—",
                         runs=1))
    log(f"{size}: engine rows done")

    # resident memory, fresh subprocess
    mem = measure_memory(size)
    mb = mem["rss_growth"] / 2**20
    rows.append(Row("resident memory of the engine (RSS growth)", size, f"{mb:.1f} MB", "≤ 256 MB",
                    "ok" if mb <= 256 else "MISS", mb, "MB",
                    {"method": "fresh subprocess, RSS before/after build + 1 find + 1 speculate",
                     "peak_rss_growth_during_build_MB": None if mem["hwm_growth"] is None
                     else mem["hwm_growth"] / 2**20,
                     "tracemalloc_retained_MB": mem["traced"] / 2**20,
                     "tracemalloc_peak_MB": mem["traced_peak"] / 2**20}))
    log(f"{size}: memory done")

    # Cython vs the pure-Python reference, same queries
    nf = len(q.find) if size == "M" else (8 if quick else 16)
    fq = q.find[:nf]
    ref = [p.find(*a, **k) for a, k in fq]           # the answers, and the warm-up
    tp, sp = per_call(p.find, fq, repeat=3, min_pass=0, warm=0)
    tc, _ = per_call(c.find, fq, repeat=rep)
    mism = [i for i, (a, k) in enumerate(fq) if ref[i] != c.find(*a, **k)]
    if mism:
        problems.append(f"{size}: C and reference find disagree on queries {mism}")
    rows.append(ratio_row("Cython vs reference: find", size, tp / tc, 50, queries=nf, reference_s=tp, cython_s=tc,
                          answers_agree=not mism))
    rows.append(time_row("  reference find (pure Python)", size, tp, None, "—", queries=nf, **samples_note(sp)))
    if size == "M" or not quick:
        ns = 8 if size == "M" else 3
        sq = q.speculate[:ns]
        ref = [p.speculate(*a, **k) for a, k in sq]
        tp, sp = per_call(p.speculate, sq, repeat=3 if size == "M" else 2, min_pass=0, warm=0)
        tc, _ = per_call(c.speculate, sq, repeat=rep)
        mism = [i for i, (a, k) in enumerate(sq) if ref[i] != c.speculate(*a, **k)]
        if mism:
            problems.append(f"{size}: C and reference speculate disagree on queries {mism}")
        rows.append(ratio_row("Cython vs reference: speculate", size, tp / tc, 50, queries=ns, reference_s=tp,
                              cython_s=tc, answers_agree=not mism))
        rows.append(time_row("  reference speculate (pure Python)", size, tp, None, "—", queries=ns,
                             **samples_note(sp)))
    else:
        rows.append(Row("Cython vs reference: speculate", size, "skipped (--quick)", "≥ 50×", "n/a",
                        notes={"reason": "the reference takes ~1 s per speculate at L; see size M"}))
    del p
    log(f"{size}: reference done")

    # the SQL baseline (Igor v2's dbFindOpenSlots), same queries
    nq = (1 if quick else 3) if size == "M" else (0 if quick else 1)
    if nq:
        from .sql_baseline import SqlBaseline

        t0 = time.perf_counter()
        sql = SqlBaseline(data)
        load = time.perf_counter() - t0
        sq = q.find[1:1 + nq]                 # [0] asks at now, where v2's quirk finds nothing
        times, answered, verified = [], 0, 0
        for a, k in sq:
            t0 = time.perf_counter()
            got = sql.find(*a, **k)
            times.append(time.perf_counter() - t0)
            if got is not None:                      # v2's answer must really be free, by the engine's check
                answered += 1
                bad = c.check(got, a[1], a[2], **k)
                if len(got) != a[0] or bad is not None:
                    problems.append(f"{size}: the SQL baseline's hosts for {a} are not free: {bad}")
                else:
                    verified += 1
        tsql = statistics.median(times)
        tc, _ = per_call(c.find, sq, repeat=rep)
        rows.append(ratio_row("engine vs SQL (v2 dbFindOpenSlots): by-count find", size, tsql / tc, 100,
                              queries=nq, sql_s=tsql, engine_s=tc, sql_answered=answered,
                              sql_answers_verified_free=verified))
        rows.append(time_row("  SQL by-count find (SQLite, v2's queries)", size, tsql, None, "—", queries=nq,
                             load_s=load, per_query_s=times))
        del sql
    else:
        rows.append(Row("engine vs SQL (v2 dbFindOpenSlots): by-count find", size, "skipped (--quick)", "≥ 100×",
                        "n/a", notes={"reason": "about 30-40 s per query at L; see size M"}))
    log(f"{size}: SQL done")
    return rows, problems


API_SHOW = "API GET /igor (show), SQLite"
API_CREATE = "API create-by-count + delete round trip"
API_TARGETS = {API_SHOW: 25e-3, API_CREATE: 20e-3}


def _p50_p90(m: dict) -> str:
    return f"{fmt_time(m['p50_s'])} (p90 {fmt_time(m['p90_s'])})"


def api_rows(sizes: Sequence[str], quick: bool, log: Callable[[str], None]) -> tuple[list[Row], list[str]]:
    """The two API rows (DESIGN.md §4 defines them at M only): measured by :mod:`benchmarks.api` when M is asked,
    skipped with a reason at L; also returns the problems found (a failing ``GET /igor``)."""
    rows: list[Row] = []
    problems: list[str] = []
    if "M" in sizes:
        try:
            from . import api
        except ImportError as exc:                  # the server's dependencies are not installed
            return [Row(op, "M", "not measured", f"≤ {lim * 1e3:g} ms", "n/a", notes={"reason": str(exc)})
                    for op, lim in API_TARGETS.items()], problems
        m = api.measure("M", quick=quick, log=log)
        common = {"build_s": m["build"], "data": m["data"], "load_average": os.getloadavg(),
                  "method": "falcon.testing.TestClient over create_app(services), in process; each call timed "
                            "alone, gc on; see benchmarks/api.py"}
        show = m.get("show")
        if m["show_error"] is not None:
            why = (": Pony 0.7.20's prefetch of a many-to-many Set over more than 2 × 999 objects (SQLite's batches) "
                   "raises it (see benchmarks/api.py raise_sqlite_batch_limit)" if "Phantom object" in m["show_error"]
                   else "")
            problems.append(f"M: GET /igor fails on SQLite with 5,000 reservations ({m['show_error']}){why}")
            rows.append(Row(API_SHOW, "M", m["show_error"].split(":")[0], "≤ 25 ms", "MISS", None, "s",
                            {"error": m["show_error"], **common}))
            if show is None:
                rows.append(Row("  … with the SQLite batch limit raised (workaround)", "M",
                                m.get("show_error_with_workaround", "failed"), "≤ 25 ms", "MISS", None, "s",
                                {"max_params_count": m.get("workaround_max_params_count")}))
            else:
                ok = "ok" if show["p50_s"] <= API_TARGETS[API_SHOW] else "MISS"
                rows.append(Row("  … with the SQLite batch limit raised (workaround)", "M", _p50_p90(show),
                                "≤ 25 ms", ok, show["p50_s"], "s",
                                {**show, "max_params_count": m["workaround_max_params_count"]}))
        else:
            ok = "ok" if show["p50_s"] <= API_TARGETS[API_SHOW] else "MISS"
            rows.append(Row(API_SHOW, "M", _p50_p90(show), "≤ 25 ms", ok, show["p50_s"], "s", {**show, **common}))
        cd = m["create"]
        ok = "ok" if cd["p50_s"] <= API_TARGETS[API_CREATE] else "MISS"
        rows.append(Row(API_CREATE, "M", _p50_p90(cd), "≤ 20 ms", ok, cd["p50_s"], "s", {**cd, **common}))
        rows.append(Row("  … building the SQLite database of M (one run)", "M", fmt_time(m["build"]["total_s"]),
                        "—", "info", m["build"]["total_s"], "s", dict(m["build"])))
    if "L" in sizes:
        rows += [Row(op, "L", "skipped (M only)", f"≤ {lim * 1e3:g} ms", "n/a",
                     notes={"reason": "DESIGN.md §4 sets the API targets at size M only"})
                 for op, lim in API_TARGETS.items()]
    return rows, problems


def shell_rows(quick: bool, log: Callable[[str], None]) -> list[Row]:
    """SPEC.md §2's shell start-up target (time to the first prompt), with the bare prompt_toolkit floor."""
    from . import shell_startup

    log("shell: time to the first igor> prompt")
    try:
        m = shell_startup.measure(runs=7 if quick else 15)
    except (OSError, TimeoutError) as exc:
        return [Row("shell start-up to the first prompt", "-", "not measured", "≤ 300 ms", "n/a",
                    notes={"reason": str(exc)})]
    igor, bare = m["igor"], m["bare prompt_toolkit"]
    ok = "ok" if igor["p50_s"] <= shell_startup.TARGET_S else "MISS"
    return [Row("shell start-up to the first prompt", "-", _p50_p90(igor), "≤ 300 ms", ok, igor["p50_s"], "s",
                {**igor, "load_average": m["load_average"], "method": "pty, see benchmarks/shell_startup.py"}),
            Row("  … bare prompt_toolkit prompt (the floor)", "-", _p50_p90(bare), "—", "info", bare["p50_s"], "s",
                dict(bare))]


LOAD_SCENARIOS = {"show": "GET /igor", "speculate": "speculate 64 hosts × 4 h", "create+delete": "create + delete"}


def load_rows(quick: bool, log: Callable[[str], None]) -> tuple[list[Row], list[str]]:
    """The load benchmark (:mod:`benchmarks.load`) as info rows, one per scenario and backend; also returns the
    problems (errors answered under load, a backend that could not be measured)."""
    from . import load

    doc = load.measure(load.Settings.quick() if quick else load.Settings(), log)
    rows: list[Row] = []
    problems: list[str] = []
    for r in doc["results"]:
        op = f"load: {LOAD_SCENARIOS[r['scenario']]}, {r['backend']}"
        if "skipped" in r:
            rows.append(Row(op, "M", "not measured", "—", "n/a", notes={"reason": r["skipped"]}))
            problems.append(f"M: load {r['scenario']} on {r['backend']} not measured: {r['skipped']}")
            continue
        measured = (f"{r['ops_per_s']:.1f}/s, p50 {_fmt_opt(r['p50_s'])}, p99 {_fmt_opt(r['p99_s'])} "
                    f"({r['connections']} conns, {r['workers_answering']}/{r['workers']} workers)")
        rows.append(Row(op, "M", measured, "—", "info", r["ops_per_s"], "ops/s",
                        {**r, "load_average": doc["load_average_before"], "lifecycle_worker": "off",
                         "method": "real igor-server, closed loop over loopback; see benchmarks/load.py"}))
        if r["errors"]:
            problems.append(f"M: load {r['scenario']} on {r['backend']}: {r['errors']} errors {r['error_kinds']}")
    return rows, problems


def _fmt_opt(s: float | None) -> str:
    return "—" if s is None else fmt_time(s)


def order(rows: list[Row]) -> list[Row]:
    """Rows grouped by operation (in the order they first appear), sizes in run order; sub-rows stay with theirs."""
    blocks: list[tuple[str, list[Row]]] = []
    for r in rows:
        if r.operation.startswith("  ") and blocks:
            blocks[-1][1].append(r)
        else:
            blocks.append((r.operation, [r]))
    first: dict[str, int] = {}
    for i, (op, _) in enumerate(blocks):
        first.setdefault(op, i)
    blocks.sort(key=lambda b: first[b[0]])
    return [r for _, rs in blocks for r in rs]


def table(rows: list[Row]) -> str:
    cols = ("operation", "size", "measured", "target", "ok")
    cells = [cols] + [tuple(str(getattr(r, c)) for c in cols) for r in rows]
    width = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    line = "-+-".join("-" * w for w in width)
    out = [" | ".join(c.ljust(w) for c, w in zip(cells[0], width, strict=True)), line]
    out += [" | ".join(c.ljust(w) for c, w in zip(cell, width, strict=True)) for cell in cells[1:]]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="M,L", help="comma-separated reference sizes (M, L)")
    ap.add_argument("--json", default=str(HERE / "results.json"), help="where to write the rows as JSON")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, skip the slowest comparisons at L")
    ap.add_argument("--load", action="store_true", help="add the load benchmark against a real igor-server "
                    "(benchmarks/load.py: SQLite and PostgreSQL, ~3 min, 1-1.5 min with --quick)")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child)))
        return 0
    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in datagen.SIZES]
    if unknown:
        ap.error(f"unknown size(s) {unknown}: choose from {sorted(datagen.SIZES)}")
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    rows: list[Row] = []
    problems: list[str] = []
    for size in sizes:
        t0 = time.perf_counter()
        dataset(size)
        queries(size)
        log(f"{size}: data generated in {time.perf_counter() - t0:.2f}s {dataset(size).stats()}")
        r, p = engine_rows(size, args.quick, log)
        rows += r
        problems += p
    r, p = api_rows(sizes, args.quick, log)
    rows += r
    problems += p
    rows += shell_rows(args.quick, log)
    if args.load:
        r, p = load_rows(args.quick, log)
        rows += r
        problems += p
    rows = order(rows)
    total = time.perf_counter() - started
    print(table(rows))
    misses = [r for r in rows if r.ok == "MISS"]
    print(f"\n{len(rows)} rows, {len(misses)} target(s) missed, total {total:.1f}s"
          f"{' (--quick)' if args.quick else ''}; now = epoch minute {NOW}")
    for r in misses:
        print(f"MISS: {r.operation.strip()} at {r.size}: {r.measured} (target {r.target})")
    for p in problems:
        print(f"PROBLEM: {p}")
    doc = {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "quick": args.quick, "sizes": sizes,
           "total_s": total, "python": sys.version.split()[0], "problems": problems,
           "data": {s: dataset(s).stats() for s in sizes}, "rows": [asdict(r) for r in rows]}
    Path(args.json).write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
