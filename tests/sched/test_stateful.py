"""Stateful property test: both engines and the brute-force model through the same random operations.

A hypothesis ``RuleBasedStateMachine`` adds, removes, extends and moves reservations, adds and lifts blocks, replaces
the host policies (max times, groups, cron windows) and asks every query (``check``, ``find``, ``speculate`` by count
and by hosts, ``check_extend``, ``max_end``) of the reference engine, the compiled engine and ``model.Model``;
every answer, and every refusal (the exception type, and for ``ConflictError`` its ``rid`` and ``conflict``), must
be identical. A ``build`` rule rebuilds fresh engines from the current reservations (CSR arrays) and checks they
answer like the incrementally maintained ones (and then carries on with them half of the time).

Clusters have 1-70 hosts (64 and 65 included, so one- and two-word bitmaps both occur), times stay within a few
hundred minutes of a realistic epoch minute. ``IGOR_SCHED_PROFILE`` picks the effort: ``quick``, ``default`` (well
under a minute) or ``long`` (a soak run, e.g. before changing an engine).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from model import Model

from igor._sched import ConflictError, Policy
from igor._sched._windows import CHUNK

T = 29_400_000                  # 2025-11-24 16:00 UTC
SPAN = 300                      # reservations start within [t0, t0 + SPAN)
#: Where the machine's times start: a plain day; just before the March 2026 change to daylight saving time in
#: Denver (09:00 UTC on 8 March 2026), so windows in local time shift; just before a 28-day window-expansion chunk.
EPOCHS = [T, 29_549_340 - 120, 729 * CHUNK - 200]

PROFILES = {
    "quick": {"max_examples": 25, "stateful_step_count": 25},
    "default": {"max_examples": 90, "stateful_step_count": 40},
    "long": {"max_examples": 2000, "stateful_step_count": 80},
}
PROFILE = os.environ.get("IGOR_SCHED_PROFILE", "default")

WINDOWS = ["*/20 * * * *:7", "0 * * * *:15", "30 */2 * * *:45", "15 17 * * *:1h", "0 18 * * *:2h",
           "*/30 * * * *:5", "45 * * * *:10"]
GROUPS = [None, frozenset(), frozenset({"a"}), frozenset({"b"}), frozenset({"a", "b"}), frozenset({"c"})]
POLICY_GROUPS = [None, frozenset({"a"}), frozenset({"b"}), frozenset({"a", "b"}), frozenset({"all"}), frozenset()]

offsets = st.integers(-20, SPAN + 50)
lengths = st.one_of(st.integers(1, 30), st.integers(31, 150))
groups_st = st.sampled_from(GROUPS)


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What a call answered, or how it refused: comparable across implementations."""
    try:
        return ("ok", call())
    except ConflictError as exc:
        return ("ConflictError", (exc.rid, exc.conflict))
    except (ValueError, KeyError) as exc:
        return (type(exc).__name__, None)


def outcomes(impls: list[Any], name: str, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """Call ``name`` on every implementation; assert identical outcomes; return the outcome."""
    results = [outcome(lambda impl=impl: getattr(impl, name)(*args, **kwargs)) for impl in impls]
    for impl, got in zip(impls[1:], results[1:], strict=True):
        assert got == results[0], (f"{name}{args}{kwargs}: {impls[0].implementation} -> {results[0]}, "
                                   f"{impl.implementation} -> {got}")
    return results[0]


class SchedulerMachine(RuleBasedStateMachine):
    """Drives ``engine_classes`` (reference first) and the model in lockstep."""

    classes: list[type] = []

    def __init__(self) -> None:
        super().__init__()
        self.impls: list[Any] = []

    # ------------------------------------------------------------------ plumbing
    def same(self, name: str, *args: Any, **kwargs: Any) -> tuple[str, Any]:
        """Call ``name`` on both engines and the model; assert identical outcomes; return it."""
        return outcomes(self.impls, name, *args, **kwargs)

    @property
    def model(self) -> Model:
        return self.impls[-1]

    def hosts(self, data: st.DataObject, max_size: int = 8) -> list[int]:
        """Some hosts: often among the first few (so requests collide), else anywhere, or a range."""
        n = self.n
        hot = min(n, 6) - 1
        return data.draw(st.one_of(
            st.lists(st.integers(0, hot), min_size=1, max_size=min(n, max_size)),
            st.lists(st.integers(0, n - 1), min_size=1, max_size=min(n, max_size)),
            st.integers(0, n - 1).flatmap(lambda a: st.integers(a, min(n, a + max_size) - 1).map(
                lambda b: list(range(a, b + 1)))),
        ), label="hosts")

    def rid(self, data: st.DataObject) -> int:
        """A reservation id: a known one nine times in ten (when there are any), else any id."""
        known = self.model.ids()
        rid = data.draw(st.sampled_from(known * 9 + [-1]) if known else st.just(-1), label="rid")
        return rid if rid >= 0 else data.draw(st.integers(0, 200), label="any rid")

    def interval(self, data: st.DataObject) -> tuple[int, int]:
        start = self.t0 + data.draw(offsets, label="start")
        return start, start + data.draw(lengths, label="length")

    def query_kw(self, data: st.DataObject) -> dict[str, Any]:
        return {"groups": data.draw(groups_st, label="groups"), "elevated": data.draw(st.booleans(), label="elev")}

    # -------------------------------------------------------------------- set-up
    @initialize(data=st.data())
    def setup(self, data: st.DataObject) -> None:
        self.n = data.draw(st.sampled_from([1, 2, 3, 7, 16, 33, 63, 64, 65, 70]), label="n")
        if data.draw(st.booleans(), label="gaps"):
            steps = data.draw(st.lists(st.sampled_from([1, 1, 1, 2, 5]), min_size=self.n, max_size=self.n))
            seq = [sum(steps[:i + 1]) for i in range(self.n)]
        else:
            seq = None
        pad = data.draw(st.sampled_from([0, 0, 1, 3]), label="pad")
        tz = data.draw(st.sampled_from(["UTC", "UTC", "America/Denver"]), label="tz")
        self.t0 = data.draw(st.sampled_from(EPOCHS), label="t0")
        self.params = {"seq": seq, "pad": pad, "tz": tz}
        self.impls = [cls(self.n, **self.params) for cls in self.classes] + [Model(self.n, **self.params)]
        self.policy_args: tuple[list[Policy], list[int | None]] = ([], [None] * self.n)
        self.fresh = 100                  # new reservation ids count up from here
        if data.draw(st.booleans(), label="initial policies"):
            self.set_policies(data)
        for _ in range(data.draw(st.integers(0, 12), label="initial reservations")):
            self.add(data)

    # ------------------------------------------------------------- reservations
    @rule(data=st.data())
    def add(self, data: st.DataObject) -> None:
        start, end = self.interval(data)
        hosts = self.hosts(data)
        busy_end = data.draw(st.one_of(st.none(), st.none(), st.integers(end - 1, end + 6)), label="busy_end")
        self.fresh += 1
        self.same("add", self.fresh, hosts, start, end, busy_end)

    @rule(data=st.data())
    def add_many(self, data: st.DataObject) -> None:
        for _ in range(data.draw(st.integers(2, 8), label="how many")):
            self.add(data)

    @rule(data=st.data())
    def add_bad(self, data: st.DataObject) -> None:
        start, end = self.interval(data)
        known = self.model.ids()
        rid, hosts, s, e = data.draw(st.sampled_from(
            [(0, [], start, end), (0, [self.n], start, end), (0, [-1], start, end), (0, [0], start, start),
             (0, [0], end, start)] + [(rid, [0], start, end) for rid in known[:3]]), label="bad")
        assert self.same("add", rid, hosts, s, e)[0] == "ValueError"

    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        self.same("remove", self.rid(data))

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data())
    def extend(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(self.model.ids()), label="rid")
        hosts, start, end, _busy = self.model.reservation(rid)
        self.same("replace", rid, hosts, start, end + data.draw(st.integers(1, 90), label="more"))

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        start, end = self.interval(data)
        busy_end = data.draw(st.one_of(st.none(), st.none(), st.integers(end - 1, end + 6)), label="busy_end")
        self.same("replace", self.rid(data), self.hosts(data), start, end, busy_end)

    @rule(data=st.data())
    def build(self, data: st.DataObject) -> None:
        """Fresh engines built from the current reservations must answer like the incremental ones."""
        ids = data.draw(st.permutations(self.model.ids()), label="order")
        args: list[list[int]] = [list(ids), [], [], [], [0], []]
        for rid in ids:
            hosts, start, end, busy = self.model.reservation(rid)
            args[1].append(start)
            args[2].append(end)
            args[3].append(busy)
            hosts = list(hosts)
            args[5].extend(data.draw(st.permutations(hosts), label="host order"))
            args[4].append(len(args[5]))
        fresh = []
        for cls in self.classes:
            e = cls(self.n, **self.params)
            e.set_policies(*self.policy_args)
            for bid, (bhosts, s, t) in sorted(self.model.blocks().items()):
                e.add_block(bid, bhosts, s, t)
            if data.draw(st.booleans(), label="dirty"):   # build over existing state, not just a new engine
                e.add(1000, [0], self.t0 - 500, self.t0 - 400)
            e.build(*args)
            fresh.append(e)
        for e in fresh:
            assert e.ids() == self.model.ids()
            assert all(e.reservation(rid) == self.model.reservation(rid) for rid in ids)
        old = self.impls
        self.impls = [*fresh, self.model]
        for _ in range(3):
            self.find(data)
            self.speculate(data)
            self.check(data)
        if ids:
            self.max_end(data)
        if data.draw(st.booleans(), label="keep old"):
            self.impls = old
        else:                                      # go on with the built engines, and rebuild the old in place
            for e in old[:-1]:
                e.build(*args)

    # ------------------------------------------------------------ blocks, policies
    @rule(data=st.data())
    def add_block(self, data: st.DataObject) -> None:
        start, end = self.interval(data)
        start, end = data.draw(st.sampled_from([(start, end), (start, end), (None, end), (start, None),
                                                (None, None), (end, start)]), label="block times")
        self.same("add_block", data.draw(st.integers(0, 8), label="bid"), self.hosts(data, 12), start, end)

    @rule(data=st.data())
    def remove_block(self, data: st.DataObject) -> None:
        known = sorted(self.model.blocks())
        bid = data.draw(st.sampled_from(known) if known else st.integers(0, 8), label="bid")
        self.same("remove_block", bid)

    @rule(data=st.data())
    def set_policies(self, data: st.DataObject) -> None:
        pids = data.draw(st.lists(st.integers(1, 9), max_size=3, unique=True), label="pids")
        policies = [Policy(pid,
                           max_time=data.draw(st.sampled_from([None, None, 20, 60, 120]), label="max"),
                           groups=data.draw(st.sampled_from(POLICY_GROUPS), label="pgroups"),
                           windows=tuple(data.draw(st.lists(st.sampled_from(WINDOWS), max_size=2, unique=True),
                                                   label="windows")))
                    for pid in pids]
        host_policy = data.draw(st.lists(st.sampled_from([None, *pids]), min_size=self.n, max_size=self.n),
                                label="host policy")
        if self.same("set_policies", policies, host_policy)[0] == "ok":
            self.policy_args = (policies, host_policy)

    # ------------------------------------------------------------------ queries
    @rule(data=st.data())
    def check(self, data: st.DataObject) -> None:
        start, end = self.interval(data)
        self.same("check", self.hosts(data, 12), start, end, **self.query_kw(data))

    @rule(data=st.data())
    def find(self, data: st.DataObject) -> None:
        start, end = self.interval(data)
        count = data.draw(st.one_of(st.integers(1, 4), st.integers(0, self.n + 1)), label="count")
        within = data.draw(st.one_of(st.none(), st.none(), st.lists(st.integers(-1, self.n + 1), max_size=20)),
                           label="within")
        self.same("find", count, start, end, within=within, **self.query_kw(data))

    @rule(data=st.data())
    def speculate(self, data: st.DataObject) -> None:
        duration = data.draw(lengths, label="duration")
        after = self.t0 + data.draw(offsets, label="after")
        until = after + data.draw(st.integers(0, 200), label="until")
        kw = self.query_kw(data)
        kw["limit"] = data.draw(st.integers(1, 6), label="limit")
        if data.draw(st.booleans(), label="by count"):
            kw["count"] = data.draw(st.one_of(st.integers(1, 3), st.integers(1, self.n)), label="count")
            kw["within"] = data.draw(st.one_of(st.none(), st.lists(st.integers(-1, self.n), max_size=20)))
        else:
            kw["hosts"] = self.hosts(data, 4)
        self.same("speculate", duration, after, until, **kw)

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data())
    def check_extend(self, data: st.DataObject) -> None:
        rid = self.rid(data)
        end = self.model.reservation(rid)[2] if rid in self.model else self.t0
        now = self.t0 + data.draw(offsets, label="now")
        self.same("check_extend", rid, end + data.draw(st.integers(-2, 120), label="by"), now=now,
                  **self.query_kw(data))

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data())
    def max_end(self, data: st.DataObject) -> None:
        rid = self.rid(data)
        end = self.model.reservation(rid)[2] if rid in self.model else self.t0
        now = self.t0 + data.draw(offsets, label="now")
        cap = end + data.draw(st.integers(-30, 300), label="cap")
        kw = {"now": now, **self.query_kw(data)}
        kind, m = self.same("max_end", rid, cap=cap, **kw)
        if kind != "ok":
            return
        assert m >= end
        for impl in self.impls:
            if m > end:
                assert impl.check_extend(rid, m, **kw) is None, impl.implementation
            if m < cap:
                assert impl.check_extend(rid, m + 1, **kw) is not None, impl.implementation

    # ---------------------------------------------------------------- invariant
    @invariant()
    def same_state(self) -> None:
        if not self.impls:
            return
        want = [(rid, self.model.reservation(rid)) for rid in self.model.ids()]
        blocks = self.model.blocks()
        for impl in self.impls[:-1]:
            assert len(impl) == len(want)
            assert [(rid, impl.reservation(rid)) for rid in impl.ids()] == want, impl.implementation
            assert impl.blocks() == blocks, impl.implementation


def test_engines_agree_with_the_model(engine_classes: list[type]) -> None:
    machine = type("Machine", (SchedulerMachine,), {"classes": engine_classes})
    run_state_machine_as_test(machine, settings=settings(
        **PROFILES[PROFILE], deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]))


@pytest.mark.parametrize("seed", range(4))
def test_bulk_churn_agrees(engine_classes: list[type], seed: int) -> None:
    """Hundreds of reservations over 130 hosts (three bitmap words), with churn: the compiled engine's tables,
    breakpoints and host pool grow, compact and are rebuilt; all answers must still match."""
    rnd = random.Random(seed)
    n, pad = 130, rnd.choice([0, 2])
    impls = [cls(n, pad=pad) for cls in engine_classes] + [Model(n, pad=pad)]
    policies = [Policy(1, max_time=240, groups=frozenset({"a"}), windows=("0 */3 * * *:20",)), Policy(2, max_time=90)]
    host_policy = [1 if h < 20 else 2 if h >= 110 else None for h in range(n)]
    outcomes(impls, "set_policies", policies, host_policy)

    def some_hosts() -> list[int]:
        first = rnd.choice([0, 60, 62, 120, rnd.randrange(n)])
        return sorted({min(n - 1, first + rnd.randrange(12)) for _ in range(rnd.randint(1, 10))})

    def compare_queries() -> None:
        model = impls[-1]
        for _ in range(12):
            start = T + rnd.randrange(-50, 3000)
            end = start + rnd.randint(1, 240)
            kw = {"groups": rnd.choice([None, ["a"]]), "elevated": rnd.random() < 0.3}
            outcomes(impls, "find", rnd.randint(1, 40), start, end, **kw)
            outcomes(impls, "check", some_hosts(), start, end, **kw)
        for _ in range(3):
            after = T + rnd.randrange(-50, 3000)
            kw = {"groups": rnd.choice([None, ["a"]]), "elevated": rnd.random() < 0.3, "limit": rnd.randint(1, 8)}
            if rnd.random() < 0.5:
                kw["count"] = rnd.randint(1, 60)
            else:
                kw["hosts"] = some_hosts()
            outcomes(impls, "speculate", rnd.randint(1, 120), after, after + rnd.randrange(300), **kw)
        for rid in rnd.sample(model.ids(), min(2, len(model))):
            end = model.reservation(rid)[2]
            kw = {"now": T + rnd.randrange(3000), "groups": rnd.choice([None, ["a"]]), "elevated": rnd.random() < 0.5}
            outcomes(impls, "max_end", rid, cap=end + rnd.randrange(-10, 300), **kw)
            outcomes(impls, "check_extend", rid, end + rnd.randint(1, 100), **kw)

    next_id = 0
    for step in range(900):
        roll = rnd.random()
        ids = impls[-1].ids()
        if roll < 0.6 or not ids:
            next_id += 1
            start = T + rnd.randrange(3000)
            outcomes(impls, "add", next_id, some_hosts(), start, start + rnd.randint(5, 200))
        elif roll < 0.8:
            outcomes(impls, "remove", rnd.choice(ids))
        else:
            rid = rnd.choice(ids)
            hosts, start, end, _busy = impls[-1].reservation(rid)
            if rnd.random() < 0.5:
                outcomes(impls, "replace", rid, hosts, start, end + rnd.randint(1, 60))
            else:
                start = T + rnd.randrange(3000)
                outcomes(impls, "replace", rid, some_hosts(), start, start + rnd.randint(5, 200))
        if step % 150 == 149:
            if rnd.random() < 0.5:
                outcomes(impls, "add_block", step, some_hosts(), T + rnd.randrange(3000), T + 3000 + rnd.randrange(500))
            compare_queries()
    model = impls[-1]
    assert len(model) > 70                          # more than the initial tables of the compiled engine
    for impl in impls[:-1]:
        assert [impl.reservation(rid) for rid in impl.ids()] == [model.reservation(rid) for rid in model.ids()]
    # rebuild from CSR arrays and compare again
    ids = model.ids()
    rnd.shuffle(ids)
    ptr, idx = [0], []
    for rid in ids:
        idx.extend(model.reservation(rid)[0])
        ptr.append(len(idx))
    args = (ids, [model.reservation(r)[1] for r in ids], [model.reservation(r)[2] for r in ids],
            [model.reservation(r)[3] for r in ids], ptr, idx)
    for impl in impls[:-1]:
        impl.build(*args)
    compare_queries()
