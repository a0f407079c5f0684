"""Explicit cases for the scheduling engine, run against both implementations (``Engine`` fixture: ``py``, ``c``).

Edge cases of the documented API (``igor._sched._engine_py``), regression tests for Igor v2's scheduling bugs
(reference §11.2-§11.4) and its ``findBestSolution`` tests (§5.3) expressed as ``find`` calls. The brute-force model
(``model.py``) answers alongside where it adds something.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from model import Model

from igor._sched import NEG_INF, POS_INF, Conflict, ConflictError, Policy, PyEngine, Slot

T = 29_400_000          # a realistic epoch minute (2025-11-24 16:00 UTC)


def csr(res: dict[int, tuple[list[int], int, int, int]]) -> tuple[list[int], ...]:
    """``build`` arguments for ``{rid: (hosts, start, end, busy_end)}``."""
    ids, starts, ends, busys, ptr, idx = [], [], [], [], [0], []
    for rid, (hosts, s, e, b) in res.items():
        ids.append(rid)
        starts.append(s)
        ends.append(e)
        busys.append(b)
        idx.extend(hosts)
        ptr.append(len(idx))
    return ids, starts, ends, busys, ptr, idx


def state(e: object) -> tuple[object, ...]:
    return tuple((rid, e.reservation(rid)) for rid in e.ids())  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------- construction
def test_constructor(Engine: type) -> None:
    e = Engine(5, pad=3)
    assert (e.n_hosts, e.pad, len(e), e.ids(), e.blocks()) == (5, 3, 0, [], {})
    assert e.implementation in ("py", "c")
    for bad in (dict(n_hosts=-1), dict(n_hosts=2, pad=-1), dict(n_hosts=3, seq=[1, 2]),
                dict(n_hosts=3, seq=[1, 3, 3]), dict(n_hosts=3, seq=[3, 2, 1]), dict(n_hosts=1, tz="No/Where")):
        with pytest.raises(ValueError):
            Engine(**bad)


def test_answers_are_plain_python_values(Engine: type) -> None:
    e = Engine(70, pad=1)
    e.add(1, [3, 65], T, T + 10)
    hosts, start, end, busy = e.reservation(1)
    assert all(type(x) is int for x in (*hosts, start, end, busy))
    assert all(type(x) is int for x in e.find(3, T, T + 10))
    assert all(type(x) is int for x in e.ids())
    (slot,) = e.speculate(10, T, T + 5, count=68)
    assert all(type(x) is int for x in (slot.start, slot.latest_start, *slot.hosts))
    c = e.check([3, 65], T, T + 1)
    assert all(type(x) is int for x in (*c.busy, *c.reservations))
    assert type(e.max_end(1, now=T, cap=T + 50)) is int


# ------------------------------------------------------------------------------ touching and pad
def test_touching_reservations(Engine: type) -> None:
    e = Engine(2)
    e.add(1, [0], T, T + 10)
    assert e.check([0], T + 10, T + 20) is None
    assert e.check([0], T - 10, T) is None
    assert e.check([0], T + 9, T + 20) == Conflict(busy=(0,), reservations=(1,))
    e.add(2, [0], T + 10, T + 20)                 # end == next start is free
    e.add(3, [0], T - 10, T)
    with pytest.raises(ConflictError) as exc:
        e.add(4, [0, 1], T + 19, T + 30)
    assert (exc.value.rid, exc.value.conflict) == (4, Conflict(busy=(0,), reservations=(2,)))
    assert isinstance(exc.value, ValueError)


def test_pad_keeps_reservations_apart(Engine: type) -> None:
    e = Engine(2, pad=5)
    e.add(1, [0], T, T + 10)
    assert e.reservation(1) == ((0,), T, T + 10, T + 15)
    assert e.check([0], T + 10, T + 20) == Conflict(busy=(0,), reservations=(1,))    # inside the pad
    assert e.check([0], T + 15, T + 20) is None
    # a request's own pad must not reach the next reservation either
    assert e.check([0], T - 10, T) == Conflict(busy=(0,), reservations=(1,))
    assert e.check([0], T - 15, T - 5) is None
    with pytest.raises(ConflictError):
        e.add(2, [0], T + 10, T + 20)
    with pytest.raises(ConflictError):
        e.add(2, [0], T - 10, T)
    e.add(2, [0], T + 15, T + 20)
    e.add(3, [0], T - 15, T - 5)
    assert e.find(1, T + 20, T + 30) == [1]
    assert e.find(2, T + 25, T + 30) == [0, 1]


def test_explicit_busy_end(Engine: type) -> None:
    e = Engine(1, pad=5)
    e.add(1, [0], T, T + 10, busy_end=T + 10)     # no pad for this one
    assert e.reservation(1) == ((0,), T, T + 10, T + 10)
    e.add(2, [0], T + 20, T + 30, busy_end=T + 60)
    assert e.reservation(2)[3] == T + 60
    with pytest.raises(ConflictError):
        e.add(3, [0], T + 60 - 1, T + 70)
    with pytest.raises(ValueError):
        e.add(4, [0], T + 100, T + 110, busy_end=T + 109)
    assert e.ids() == [1, 2]


def test_replace_keeps_the_pad(Engine: type) -> None:
    e = Engine(3, pad=5)
    e.add(1, [0], T, T + 10)
    e.replace(1, [0], T, T + 20)
    assert e.reservation(1) == ((0,), T, T + 20, T + 25)
    e.add(2, [1], T, T + 10, busy_end=T + 10)
    e.replace(2, [1, 2], T + 5, T + 30)           # created without pad: stays without
    assert e.reservation(2) == ((1, 2), T + 5, T + 30, T + 30)
    e.replace(2, [1], T, T + 10, busy_end=T + 12)
    assert e.reservation(2) == ((1,), T, T + 10, T + 12)
    with pytest.raises(ValueError):
        e.replace(2, [1], T, T + 10, busy_end=T + 9)
    assert e.reservation(2) == ((1,), T, T + 10, T + 12)


def test_replace_onto_itself_is_not_a_conflict(Engine: type) -> None:
    e = Engine(2)
    e.add(1, [0, 1], T, T + 10)
    e.replace(1, [0, 1], T + 5, T + 15)           # overlaps its old placement only
    assert e.reservation(1) == ((0, 1), T + 5, T + 15, T + 15)


def test_replace_on_conflict_leaves_the_old_placement(Engine: type) -> None:
    e = Engine(4, pad=2)
    e.add(1, [0, 1], T, T + 10)
    e.add(2, [2], T + 20, T + 30)
    with pytest.raises(ConflictError) as exc:
        e.replace(1, [1, 2], T + 15, T + 25)
    assert (exc.value.rid, exc.value.conflict) == (1, Conflict(busy=(2,), reservations=(2,)))
    assert e.reservation(1) == ((0, 1), T, T + 10, T + 12)
    assert e.check([0], T + 5, T + 6) == Conflict(busy=(0,), reservations=(1,))   # still holds its hosts
    assert e.check([1], T + 15, T + 25) is None                                    # and nothing more
    assert e.find(2, T, T + 5) == [2, 3]
    with pytest.raises(ConflictError):
        e.replace(1, [0, 1, 2], T, T + 19)       # its pad would reach reservation 2
    e.replace(1, [0, 1, 2], T, T + 18)
    assert e.reservation(1) == ((0, 1, 2), T, T + 18, T + 20)


# ------------------------------------------------------------------------------------------ build
def test_build_replaces_everything(Engine: type) -> None:
    e = Engine(70, pad=4)
    e.add(99, [0], T, T + 10)
    res = {1: ([0, 64, 65], T, T + 10, T + 14), 2: ([64], T + 14, T + 30, T + 30), 3: ([69, 1], T, T + 5, T + 5)}
    e.build(*csr(res))
    assert e.ids() == [1, 2, 3]
    assert e.reservation(3) == ((1, 69), T, T + 5, T + 5)
    assert e.check([64], T + 13, T + 15) == Conflict(busy=(64,), reservations=(1, 2))
    assert e.find(68, T, T + 10) is None
    assert e.find(65, T, T + 5) is not None
    assert e.find(66, T, T + 5) is None
    e.add(4, [0], T + 14, T + 20)
    e.remove(1)
    assert e.ids() == [2, 3, 4]
    e.build([], [], [], [], [0], [])
    assert len(e) == 0 and e.find(70, T, T + 100) == list(range(70))


def test_build_refuses_overlaps_and_leaves_the_engine_unchanged(Engine: type) -> None:
    e = Engine(4)
    e.add(7, [0, 1], T, T + 10)
    e.add(8, [2], T + 50, T + 60)
    before = state(e)
    bad = {1: ([0, 1], T, T + 10, T + 10), 2: ([1, 3], T + 5, T + 15, T + 15)}
    with pytest.raises(ConflictError):
        e.build(*csr(bad))
    touching_pad = {1: ([0], T, T + 10, T + 12), 2: ([0], T + 11, T + 15, T + 15)}   # overlaps in the pad
    with pytest.raises(ConflictError):
        e.build(*csr(touching_pad))
    for args in (([1], [T], [T + 10], [T + 10], [0, 1, 2], [0, 1]),            # lengths disagree
                 ([1], [T], [T], [T], [0, 1], [0]),                            # empty interval
                 ([1], [T], [T + 10], [T + 9], [0, 1], [0]),                   # busy end before end
                 ([1], [T], [T + 10], [T + 10], [0, 1], [4]),                  # host outside the cluster
                 ([1], [T], [T + 10], [T + 10], [0, 0], []),                   # no host
                 ([1, 1], [T, T + 20], [T + 10, T + 30], [T + 10, T + 30], [0, 1, 2], [0, 1])):  # same id twice
        with pytest.raises(ValueError):
            e.build(*args)
        assert state(e) == before
    assert state(e) == before
    assert e.check([0], T, T + 1) == Conflict(busy=(0,), reservations=(7,))
    assert e.find(4, T + 10, T + 50) == [0, 1, 2, 3]
    e.add(9, [3], T, T + 100)                    # still usable
    assert e.ids() == [7, 8, 9]


def test_build_touching_is_fine(Engine: type) -> None:
    e = Engine(1)
    e.build(*csr({1: ([0], T, T + 10, T + 12), 2: ([0], T + 12, T + 15, T + 15), 3: ([0], T - 5, T, T)}))
    assert e.ids() == [1, 2, 3]
    assert e.speculate(1, T - 10, T + 20, hosts=[0]) == [Slot(T - 10, T - 6, (0,)), Slot(T + 15, T + 20, (0,))]


def test_build_conflict_is_reported_like_the_reference(Engine: type) -> None:
    # Both implementations must answer alike (the compiled one's docstring promises it): the reference adds the
    # reservations in order and reports the first that clashes, with the hosts and the earlier reservations.
    res = {1: ([0, 1], T, T + 10, T + 10), 2: ([0, 1], T + 5, T + 15, T + 15)}
    with pytest.raises(ConflictError) as exc:
        Engine(4).build(*csr(res))
    assert exc.value.rid == 2
    assert exc.value.conflict == Conflict(busy=(0, 1), reservations=(1,))


def build_outcome(e: object, args: tuple[list[int], ...]) -> object:
    try:
        e.build(*args)  # type: ignore[attr-defined]
    except ValueError as exc:
        return type(exc)
    return state(e)


@pytest.mark.parametrize("args", [
    ([1], [T], [T + 10], [T + 10], [0, 2], [0, 0]),      # a host listed twice (add() takes [0, 0] as host 0)
    ([1], [T], [T + 10], [T + 10], [1, 2], [3, 0]),      # host_ptr not starting at 0
    ([1], [T], [T + 10], [T + 10], [0, 1], [0, 3]),      # host_idx longer than host_ptr says
], ids=["host-twice", "ptr-offset", "idx-tail"])
def test_build_input_handling_agrees_with_the_reference(Engine: type, args: tuple[list[int], ...]) -> None:
    # Whether such input is accepted or refused, both implementations must answer alike.
    assert build_outcome(Engine(4), args) == build_outcome(PyEngine(4), args)


# ---------------------------------------------------------------------------------- empty cluster
def test_empty_cluster(Engine: type) -> None:
    e = Engine(0)
    assert e.find(1, T, T + 10) is None
    assert e.speculate(10, T, T + 100, count=1) == []
    assert e.speculate(10, T, T + 100, count=1, within=[0, 1]) == []
    for call in (lambda: e.check([0], T, T + 10), lambda: e.add(1, [0], T, T + 10), lambda: e.add_block(1, [0]),
                 lambda: e.speculate(10, T, T + 10, hosts=[0])):
        with pytest.raises(ValueError):
            call()
    e.set_policies([Policy(1, max_time=5)], [])
    e.build([], [], [], [], [0], [])
    assert len(e) == 0


def test_request_larger_than_the_cluster(Engine: type) -> None:
    e = Engine(3)
    assert e.find(3, T, T + 10) == [0, 1, 2]
    assert e.find(4, T, T + 10) is None
    assert e.find(3, T, T + 10, within=[0, 1, 7, -1]) is None
    assert e.find(2, T, T + 10, within=[0, 1, 7, -1]) == [0, 1]
    assert e.speculate(10, T, T + 100, count=4) == []
    with pytest.raises(ValueError):
        e.check([0, 3], T, T + 10)
    with pytest.raises(ValueError):
        e.check([-1], T, T + 10)


# ------------------------------------------------------------------------------------- bad input
def test_bad_input(Engine: type) -> None:
    e = Engine(3)
    e.add(1, [0], T, T + 10)
    value_errors = [
        lambda: e.find(0, T, T + 10), lambda: e.find(-1, T, T + 10),
        lambda: e.find(1, T, T), lambda: e.find(1, T + 10, T),
        lambda: e.check([], T, T + 10), lambda: e.check([0], T, T), lambda: e.check([0], T + 1, T),
        lambda: e.add(2, [], T, T + 10), lambda: e.add(2, [0], T + 10, T + 10), lambda: e.add(2, [1], T + 5, T),
        lambda: e.add(2, [3], T, T + 10), lambda: e.add(1, [2], T + 100, T + 110),        # id already used
        lambda: e.replace(1, [], T, T + 10), lambda: e.replace(1, [0], T, T - 1),
        lambda: e.add_block(1, []), lambda: e.add_block(1, [0], T, T), lambda: e.add_block(1, [0], T + 1, T),
        lambda: e.add_block(1, [5]),
        lambda: e.speculate(10, T, T + 10), lambda: e.speculate(10, T, T + 10, count=1, hosts=[0]),
        lambda: e.speculate(0, T, T + 10, count=1), lambda: e.speculate(10, T + 1, T, count=1),
        lambda: e.speculate(10, T, T + 10, count=1, limit=0), lambda: e.speculate(10, T, T + 10, count=0),
        lambda: e.speculate(10, T, T + 10, hosts=[]),
        lambda: e.check_extend(1, T + 10, now=T), lambda: e.check_extend(1, T + 5, now=T),
        lambda: e.set_policies([Policy(1), Policy(1)], [None] * 3),
        lambda: e.set_policies([Policy(1)], [1, 1]),
        lambda: e.set_policies([Policy(1)], [1, 2, None]),
        lambda: e.set_policies([Policy(1, windows=("bad",))], [1, 1, 1]),
    ]
    for call in value_errors:
        with pytest.raises(ValueError):
            call()
    key_errors = [lambda: e.remove(2), lambda: e.replace(2, [0], T, T + 10), lambda: e.reservation(2),
                  lambda: e.check_extend(2, T + 20, now=T), lambda: e.max_end(2, now=T, cap=T + 100),
                  lambda: e.remove_block(1)]
    for call in key_errors:
        with pytest.raises(KeyError):
            call()
    with pytest.raises(ValueError):
        Policy(1, max_time=0)
    assert e.ids() == [1] and e.reservation(1) == ((0,), T, T + 10, T + 10) and e.blocks() == {}
    assert e.find(3, T + 10, T + 20) == [0, 1, 2]      # nothing was half-applied


def test_duplicate_block_id(Engine: type) -> None:
    e = Engine(2)
    e.add_block(1, [0], T, T + 10)
    with pytest.raises(ValueError):
        e.add_block(1, [1])
    assert e.blocks() == {1: ((0,), T, T + 10)}


# ------------------------------------------------------------------------------------------ blocks
def test_blocks_for_ever_and_lifting(Engine: type) -> None:
    e = Engine(3)
    e.add_block(5, [1, 2])
    assert e.blocks() == {5: ((1, 2), NEG_INF, POS_INF)}
    for start in (T - 10**6, T, T + 10**7):
        assert e.check([0, 1], start, start + 10) == Conflict(blocked=(1,), blocks=(5,))
        assert e.find(1, start, start + 10) == [0]
        assert e.find(2, start, start + 10) is None
    assert e.speculate(10, T, T + 100, hosts=[1]) == []
    assert e.speculate(10, T, T + 100, count=2) == []
    e.add_block(6, [0], end=T + 50)               # since for ever
    e.add_block(7, [0], start=T + 80)             # from then on
    assert e.blocks()[6] == ((0,), NEG_INF, T + 50) and e.blocks()[7] == ((0,), T + 80, POS_INF)
    assert e.find(1, T + 50, T + 80) == [0]
    assert e.find(1, T + 49, T + 80) is None
    assert e.speculate(10, T, T + 100, count=1) == [Slot(T + 50, T + 70, (0,))]
    assert e.check([0, 1, 2], T, T + 100) == Conflict(blocked=(0, 1, 2), blocks=(5, 6, 7))
    e.remove_block(5)
    assert e.find(3, T + 50, T + 60) == [0, 1, 2]
    assert e.check([1, 2], T - 10**6, T + 10**7) is None
    e.remove_block(6)
    e.remove_block(7)
    assert e.blocks() == {}
    assert e.speculate(10, T, T + 100, count=3) == [Slot(T, T + 100, (0, 1, 2))]


def test_blocks_do_not_touch_reservations(Engine: type) -> None:
    # "Running reservations are not touched": a block does not remove or refuse reservations ...
    e = Engine(2, pad=3)
    e.add(1, [0], T, T + 100)
    e.add_block(1, [0], T + 10, T + 20)
    assert e.ids() == [1]
    e.add(2, [0], T + 103, T + 110)              # add only refuses overlapping reservations
    # ... but a check or an extension over the block is refused
    assert e.check([0], T + 15, T + 16).blocked == (0,)
    assert e.check_extend(2, T + 120, now=T) is None
    e.add_block(2, [0], T + 115, T + 130)
    assert e.check_extend(2, T + 116, now=T) == Conflict(blocked=(0,), blocks=(2,))
    assert e.check_extend(2, T + 115, now=T) is None
    assert e.max_end(2, now=T, cap=T + 1000) == T + 115
    e.add_block(3, [0], T + 100, T + 111)         # overlaps the end of reservation 2: no extension at all
    assert e.max_end(2, now=T, cap=T + 1000) == T + 110
    assert e.check_extend(2, T + 111, now=T) == Conflict(blocked=(0,), blocks=(3,))
    e.add_block(4, [0], T + 90, T + 110)          # ends exactly at its end: not in the way
    assert e.check_extend(2, T + 111, now=T, elevated=True) == Conflict(blocked=(0,), blocks=(3,))


# ---------------------------------------------------------------------------------------- policies
GROUPS_A = frozenset({"a"})


def policed(Engine: type, n: int = 4, **kw: object) -> object:
    """Hosts 0,1: max 60 min, group a, a window at 10:00 every day; hosts 2,3: no policy."""
    e = Engine(n, **kw)
    e.set_policies([Policy(1, max_time=60, groups=GROUPS_A, windows=("0 10 * * *:1h",))],
                   [1, 1] + [None] * (n - 2))
    return e


W10 = T + 18 * 60             # 2025-11-25 10:00 UTC (T is 2025-11-24 16:00 UTC)


def test_elevation_bypasses_max_time_and_windows_not_groups(Engine: type) -> None:
    e = policed(Engine)
    assert datetime.fromtimestamp(W10 * 60, timezone.utc) == datetime(2025, 11, 25, 10, tzinfo=timezone.utc)
    a = {"groups": ["a"]}
    assert e.check([0, 2], T, T + 60, **a) is None
    assert e.check([0, 2], T, T + 61, **a) == Conflict(too_long=(0,))
    assert e.check([0, 2], T, T + 61, elevated=True, **a) is None
    assert e.check([0, 2], W10 + 5, W10 + 10, **a) == Conflict(unavailable=(0,), windows=((1, W10, W10 + 60),))
    assert e.check([0, 2], W10 + 5, W10 + 10, elevated=True, **a) is None
    assert e.check([0, 2], T, T + 10) == Conflict(denied=(0,))
    assert e.check([0, 2], T, T + 10, groups=["b"], elevated=True) == Conflict(denied=(0,))
    assert e.check([0, 1], W10, W10 + 100, groups=["b"]) == Conflict(
        unavailable=(0, 1), windows=((1, W10, W10 + 60),), denied=(0, 1), too_long=(0, 1))
    # find
    assert e.find(4, T, T + 10, **a) == [0, 1, 2, 3]
    assert e.find(4, T, T + 61, **a) is None
    assert e.find(4, T, T + 61, elevated=True, **a) == [0, 1, 2, 3]
    assert e.find(4, W10, W10 + 10, **a) is None
    assert e.find(4, W10, W10 + 10, elevated=True, **a) == [0, 1, 2, 3]
    assert e.find(3, T, T + 10) is None
    assert e.find(3, T, T + 10, groups=["b", "c"], elevated=True) is None
    assert e.find(2, T, T + 10, elevated=True) == [2, 3]
    # speculate
    assert e.speculate(61, T, T + 10, hosts=[0], **a) == []
    assert e.speculate(61, T, T + 10, hosts=[0], elevated=True, **a) == [Slot(T, T + 10, (0,))]
    assert e.speculate(10, T, T + 10, hosts=[0], elevated=True) == []
    assert e.speculate(10, W10 - 30, W10 + 30, hosts=[0], **a) == [Slot(W10 - 30, W10 - 10, (0,))]
    assert e.speculate(10, W10 - 30, W10 + 30, hosts=[0], elevated=True, **a) == [Slot(W10 - 30, W10 + 30, (0,))]


def test_all_group_means_everybody(Engine: type) -> None:
    e = Engine(2)
    e.set_policies([Policy(1, groups=frozenset({"all", "x"})), Policy(2, groups=frozenset())], [1, 2])
    assert e.check([0], T, T + 10) is None
    assert e.check([1], T, T + 10, groups=["x"]) == Conflict(denied=(1,))   # an empty group list: nobody
    assert e.find(1, T, T + 10) == [0]


def test_policies_do_not_stop_add(Engine: type) -> None:
    # add() only refuses overlaps: policies are the callers' check()
    e = policed(Engine)
    e.add(1, [0, 1], W10 - 100, W10 + 100)
    assert e.ids() == [1]


def test_set_policies_replaces(Engine: type) -> None:
    e = policed(Engine)
    e.set_policies([Policy(2, max_time=5)], [None, None, 2, 2])
    assert e.check([0, 1, 2], T, T + 10) == Conflict(too_long=(2,))
    assert e.check([0, 1], W10, W10 + 10) is None
    e.set_policies([], [None] * 4)
    assert e.check([0, 1, 2, 3], W10, W10 + 1000) is None


# --------------------------------------------------------------------------- restricted pool first
def pools(Engine: type) -> object:
    """Hosts 0-3: policy A (group a); 4-7: policy B (group b); 8-15: default."""
    e = Engine(16)
    e.set_policies([Policy(1, groups=frozenset({"a"})), Policy(2, groups=frozenset({"b"}))],
                   [1] * 4 + [2] * 4 + [None] * 8)
    return e


def test_restricted_pool_first(Engine: type) -> None:
    e = pools(Engine)
    assert e.find(3, T, T + 10, groups=["a"]) == [0, 1, 2]
    assert e.find(4, T, T + 10, groups=["a"]) == [0, 1, 2, 3]
    assert e.find(6, T, T + 10, groups=["a"]) == [0, 1, 2, 3, 8, 9]
    assert e.find(13, T, T + 10, groups=["a"]) is None
    assert e.find(2, T, T + 10) == [8, 9]
    assert e.find(2, T, T + 10, groups=["b"]) == [4, 5]
    e.add(1, [0, 1], T, T + 10)
    assert e.find(3, T, T + 10, groups=["a"]) == [2, 3, 8]


def test_two_restricted_policies_are_combined(Engine: type) -> None:
    # Igor v2 (§11.3) served a request from one restricted policy only
    e = pools(Engine)
    ab = {"groups": ["a", "b"]}
    assert e.find(8, T, T + 10, **ab) == list(range(8))
    assert e.find(6, T, T + 10, **ab) == list(range(6))
    assert e.find(10, T, T + 10, **ab) == list(range(10))
    e.add(1, [1, 2, 5], T, T + 10)
    assert e.find(5, T, T + 10, **ab) == [0, 3, 4, 6, 7]
    assert e.find(6, T, T + 10, **ab) == [0, 3, 4, 6, 7, 8]
    assert e.speculate(10, T, T + 20, count=6, **ab) == [Slot(T, T + 20, (0, 3, 4, 6, 7, 8))]


def test_empty_default_pool(Engine: type) -> None:
    # every host restricted (v2 indexed an empty default pool and crashed)
    e = Engine(6)
    e.set_policies([Policy(1, groups=frozenset({"a"})), Policy(2, groups=frozenset({"b"}))], [1, 1, 1, 2, 2, 2])
    assert e.find(4, T, T + 10, groups=["a"]) is None
    assert e.find(3, T, T + 10, groups=["a"]) == [0, 1, 2]
    assert e.find(1, T, T + 10) is None
    assert e.find(5, T, T + 10, groups=["a", "b"]) == [0, 1, 2, 3, 4]
    assert e.speculate(10, T, T + 10, count=4, groups=["a"]) == []


# ---------------------------------------------------------------------------- by-count host choice
def test_gap_before_a_hosts_first_reservation_is_used(Engine: type) -> None:
    # Igor v2 (§11.2) never offered the time before a host's first reservation to by-count requests
    e = Engine(2, pad=5)
    e.add(1, [0], T + 100, T + 200)
    e.add(2, [1], T, T + 300)
    assert e.find(1, T, T + 95) == [0]
    assert e.find(1, T, T + 96) is None          # its pad would reach reservation 1
    assert e.find(1, T + 205, T + 300) == [0]
    assert e.speculate(95, T, T + 400, count=1) == [Slot(T, T, (0,)), Slot(T + 205, T + 400, (0,))]


def test_find_is_deterministic_lowest_sequence_first(Engine: type) -> None:
    e = Engine(10)
    e.add(1, [2, 3, 7], T, T + 10)                # free runs {0,1}, {4,5,6}, {8,9}
    assert e.find(2, T, T + 10) == [0, 1]
    assert e.find(1, T, T + 10) == [0]
    assert e.find(3, T, T + 10) == [4, 5, 6]
    assert e.find(4, T, T + 10) == [0, 4, 5, 6]   # the longest run, then the head of the lowest longer run
    assert e.find(5, T, T + 10) == [0, 1, 4, 5, 6]
    assert e.find(7, T, T + 10) == [0, 1, 4, 5, 6, 8, 9]
    assert e.find(8, T, T + 10) is None
    for _ in range(3):
        assert e.find(4, T, T + 10) == [0, 4, 5, 6]


def test_find_follows_sequence_numbers(Engine: type) -> None:
    e = Engine(6, seq=[1, 2, 3, 10, 11, 20])     # runs {0,1,2}, {3,4}, {5}
    assert e.find(2, T, T + 10) == [3, 4]
    assert e.find(1, T, T + 10) == [5]
    assert e.find(3, T, T + 10) == [0, 1, 2]
    assert e.find(4, T, T + 10) == [0, 1, 2, 5]


KN = {f"kn{i}": i - 1 for i in range(1, 23)}    # cluster kn1..kn22, sequence numbers 1..22


def only_free(Engine: type, free: list[str]) -> object:
    """kn1..kn22 with every host not in ``free`` busy over [T, T + 60)."""
    e = Engine(22)
    busy = sorted(set(range(22)) - {KN[h] for h in free})
    e.add(1, busy, T, T + 60)
    return e


def test_no_contiguous_blocks(Engine: type) -> None:
    # reference §5.3 TestNoContiguousBlocks: free kn9, kn3, kn7, kn12, kn14; need 5 -> all five
    e = only_free(Engine, ["kn9", "kn3", "kn7", "kn12", "kn14"])
    assert e.find(5, T, T + 60) == sorted(KN[h] for h in ("kn3", "kn7", "kn9", "kn12", "kn14"))
    assert e.find(6, T, T + 60) is None
    # the same with a cluster of exactly those hosts
    e = Engine(5, seq=[3, 7, 9, 12, 14])
    assert e.find(5, T, T + 60) == [0, 1, 2, 3, 4]


def test_choose_smaller_contiguous_block(Engine: type) -> None:
    # reference §5.3 TestChooseSmallerContiguousBlock: free kn8, kn9, kn22, kn13, kn12, kn14
    e = only_free(Engine, ["kn8", "kn9", "kn22", "kn13", "kn12", "kn14"])
    assert e.find(4, T, T + 60) == [KN["kn12"], KN["kn13"], KN["kn14"], KN["kn22"]]
    assert e.find(2, T, T + 60) == [KN["kn8"], KN["kn9"]]
    e = Engine(6, seq=[8, 9, 12, 13, 14, 22])
    assert e.find(4, T, T + 60) == [2, 3, 4, 5]
    assert e.find(2, T, T + 60) == [0, 1]


def test_multi_word_runs(Engine: type) -> None:
    # runs that cross the 64-host word boundary
    e = Engine(130)
    e.add(1, list(range(0, 60)) + list(range(70, 120)), T, T + 10)
    assert e.find(10, T, T + 10) == list(range(60, 70))
    assert e.find(11, T, T + 10) == list(range(60, 70)) + [120]
    assert e.find(3, T, T + 10) == list(range(60, 63))
    assert e.find(20, T, T + 10) == list(range(60, 70)) + list(range(120, 130))
    e.add(2, [64, 65], T, T + 10)
    assert e.find(4, T, T + 10) == [60, 61, 62, 63]


# ------------------------------------------------------------------------------------------ extend
def test_extend_a_future_reservation_behind_an_earlier_one(Engine: type) -> None:
    # Igor v2 (§11.4) refused to extend a reservation when an earlier one existed on the same hosts
    e = Engine(2, pad=3)
    e.add(1, [0, 1], T, T + 10)
    e.add(2, [0, 1], T + 100, T + 200)
    assert e.check_extend(2, T + 250, now=T) is None
    assert e.max_end(2, now=T, cap=T + 1000) == T + 1000
    e.replace(2, [0, 1], T + 100, T + 250)
    assert e.reservation(2) == ((0, 1), T + 100, T + 250, T + 253)
    assert e.check_extend(1, T + 97, now=T) is None
    assert e.check_extend(1, T + 98, now=T) == Conflict(busy=(0, 1), reservations=(2,))
    assert e.max_end(1, now=T, cap=T + 1000) == T + 97


def test_max_end_never_shortens(Engine: type) -> None:
    e = Engine(2)
    e.add(1, [0], T, T + 120)
    e.set_policies([Policy(1, max_time=60)], [1, None])     # reduced below the reservation's length
    assert e.max_end(1, now=T, cap=T + 1000) == T + 120
    assert e.max_end(1, now=T + 100, cap=T + 1000) == T + 160   # counted from now once it runs
    assert e.check_extend(1, T + 121, now=T) == Conflict(too_long=(0,))
    assert e.check_extend(1, T + 160, now=T + 100) is None
    assert e.max_end(1, now=T, cap=T + 1000, elevated=True) == T + 1000
    assert e.max_end(1, now=T, cap=T + 50) == T + 120        # a cap before the end does not shorten either
    e.set_policies([Policy(1, max_time=60, groups=frozenset({"x"}))], [1, None])
    assert e.max_end(1, now=T, cap=T + 1000, elevated=True) == T + 120   # denied: elevation does not help
    assert e.check_extend(1, T + 121, now=T, elevated=True) == Conflict(denied=(0,))
    assert e.max_end(1, now=T, cap=T + 1000, groups=["x"], elevated=True) == T + 1000


def test_max_end_stops_at_the_next_reservation_minus_pad(Engine: type) -> None:
    e = Engine(3, pad=5)
    e.add(1, [0, 1], T, T + 10)
    e.add(2, [1], T + 50, T + 60)
    e.add(3, [2], T + 20, T + 30)                # another host: not in the way
    assert e.max_end(1, now=T, cap=T + 1000) == T + 45
    e.replace(1, [0, 1], T, T + 10, busy_end=T + 10)          # no pad of its own
    assert e.max_end(1, now=T, cap=T + 1000) == T + 50
    e.replace(1, [0, 1], T, T + 10, busy_end=T + 30)          # a pad of 20
    assert e.max_end(1, now=T, cap=T + 1000) == T + 30
    e.replace(1, [0, 1], T, T + 10, busy_end=T + 50)          # the pad touches reservation 2
    assert e.max_end(1, now=T, cap=T + 1000) == T + 10


def test_max_end_stops_at_a_block_a_window_and_the_cap(Engine: type) -> None:
    e = policed(Engine)
    e.add(1, [0, 2], W10 - 200, W10 - 190)
    a = {"groups": ["a"], "now": W10 - 200}
    assert e.max_end(1, cap=W10, **a) == W10 - 200 + 60                      # max time
    assert e.max_end(1, cap=W10 - 170, **a) == W10 - 170                     # cap
    assert e.max_end(1, cap=W10 + 500, elevated=True, **a) == W10 + 500
    assert e.max_end(1, cap=W10 + 500, now=W10 - 50, groups=["a"]) == W10    # the window (max time: now + 60)
    e.add_block(1, [2], W10 - 150, W10 - 100)
    assert e.max_end(1, cap=W10 + 500, elevated=True, **a) == W10 - 150
    e.remove_block(1)
    e.add_block(2, [3], W10 - 180, W10 - 100)                                # another host
    assert e.max_end(1, cap=W10 + 500, elevated=True, **a) == W10 + 500
    assert e.max_end(1, cap=W10 + 500, groups=["b"], now=W10 - 200) == W10 - 190   # denied


@pytest.mark.parametrize("pad", [0, 4])
def test_max_end_is_the_last_extension_check_extend_allows(Engine: type, pad: int) -> None:
    e = policed(Engine, n=6, pad=pad)
    e.add(1, [0, 2], W10 - 300, W10 - 280)
    e.add(2, [2, 3], W10 - 200, W10 - 150)
    e.add(3, [4], W10 - 290, W10 - 285)
    e.add_block(1, [4], W10 - 250, W10 - 240)
    e.add_block(2, [5], W10 + 100, W10 + 200)
    e.add(4, [1, 5], W10 - 120, W10 - 100)
    cases = 0
    for rid in (1, 2, 3, 4):
        for now in (W10 - 400, W10 - 150):
            for cap in (W10 - 260, W10 - 100, W10 + 150, W10 + 400):
                for groups, elevated in ((["a"], False), (["a"], True), ([], False), ([], True)):
                    kw = {"now": now, "groups": groups, "elevated": elevated}
                    m = e.max_end(rid, cap=cap, **kw)
                    end = e.reservation(rid)[2]
                    assert m >= end
                    if m > end:
                        assert e.check_extend(rid, m, **kw) is None
                    if m < cap:
                        assert e.check_extend(rid, m + 1, **kw) is not None
                    cases += 1
    assert cases == 4 * 2 * 4 * 4


# ---------------------------------------------------------------------------------------- speculate
def test_speculate_latest_start(Engine: type) -> None:
    e = Engine(2)
    e.add(1, [0], T + 100, T + 200)
    assert e.speculate(30, T, T + 500, hosts=[0]) == [Slot(T, T + 70, (0,)), Slot(T + 200, T + 500, (0,))]
    assert e.speculate(30, T, T + 500, hosts=[0], limit=1) == [Slot(T, T + 70, (0,))]
    assert e.speculate(30, T + 71, T + 199, hosts=[0]) == []
    assert e.speculate(30, T + 71, T + 200, hosts=[0]) == [Slot(T + 200, T + 200, (0,))]
    assert e.speculate(30, T + 70, T + 70, hosts=[0]) == [Slot(T + 70, T + 70, (0,))]
    assert e.speculate(100, T, T + 500, hosts=[0]) == [Slot(T, T, (0,)), Slot(T + 200, T + 500, (0,))]
    assert e.speculate(101, T, T + 500, hosts=[0]) == [Slot(T + 200, T + 500, (0,))]
    # by count: host 1 is always free
    assert e.speculate(30, T, T + 500, count=1) == [Slot(T, T + 500, (0,))]
    assert e.speculate(30, T + 80, T + 500, count=1) == [Slot(T + 80, T + 500, (1,))]
    assert e.speculate(30, T, T + 500, count=2) == [Slot(T, T + 70, (0, 1)), Slot(T + 200, T + 500, (0, 1))]
    assert e.speculate(30, T, T + 500, hosts=[0, 1]) == e.speculate(30, T, T + 500, count=2)
    assert e.speculate(30, T, T + 500, count=1, within=[0]) == e.speculate(30, T, T + 500, hosts=[0])


def test_speculate_with_pad(Engine: type) -> None:
    e = Engine(1, pad=5)
    e.add(1, [0], T + 100, T + 200)               # busy until T + 205
    assert e.speculate(30, T, T + 500, hosts=[0]) == [Slot(T, T + 65, (0,)), Slot(T + 205, T + 500, (0,))]


def test_speculate_earliest_first_and_limit(Engine: type) -> None:
    e = Engine(1)
    for k in range(6):                            # busy [T+10+20k, T+20+20k): free gaps of 10 minutes
        e.add(k, [0], T + 10 + 20 * k, T + 20 + 20 * k)
    full = e.speculate(5, T, T + 1000, hosts=[0], limit=100)
    assert full == ([Slot(T, T + 5, (0,))] + [Slot(T + 20 + 20 * k, T + 25 + 20 * k, (0,)) for k in range(5)]
                    + [Slot(T + 120, T + 1000, (0,))])
    for limit in range(1, 9):
        assert e.speculate(5, T, T + 1000, hosts=[0], limit=limit) == full[:limit]
    assert e.speculate(5, T, T + 1000, hosts=[0]) == full[:7]
    assert e.speculate(11, T, T + 1000, hosts=[0]) == [Slot(T + 120, T + 1000, (0,))]


def test_speculate_nothing_possible(Engine: type) -> None:
    e = Engine(2)
    e.add(1, [0, 1], T, T + 1000)
    assert e.speculate(10, T, T + 990, count=1) == []
    assert e.speculate(10, T, T + 990, hosts=[1]) == []
    assert e.speculate(10, T, T + 1000, hosts=[1]) == [Slot(T + 1000, T + 1000, (1,))]
    assert e.speculate(10, T, T + 1000, count=3) == []


def test_speculate_before_and_after_everything(Engine: type) -> None:
    e = Engine(3, pad=2)
    e.add(1, [0, 1, 2], T, T + 10)
    assert e.speculate(10, T - 100, T - 50, count=3) == [Slot(T - 100, T - 50, (0, 1, 2))]
    assert e.speculate(10, T + 12, T + 20, count=3) == [Slot(T + 12, T + 20, (0, 1, 2))]
    assert e.speculate(10, T - 100, T + 20, count=3) == [Slot(T - 100, T - 12, (0, 1, 2)),
                                                          Slot(T + 12, T + 20, (0, 1, 2))]


def test_speculate_within_a_one_shot_iterable(Engine: type) -> None:
    # within is typed Iterable[int]: a generator must give the same slots, hosts included, as a list
    e = Engine(4)
    e.add(1, [1], T, T + 100)
    want = [Slot(T, T + 50, (2, 3))]
    assert e.speculate(10, T, T + 50, count=2, within=[1, 2, 3]) == want
    assert e.speculate(10, T, T + 50, count=2, within=(h for h in [1, 2, 3])) == want


def test_speculate_by_count_moves_between_hosts(Engine: type) -> None:
    # hosts alternate: no single host is free across the boundary, but some host always is
    e = Engine(2)
    e.add(1, [0], T + 50, T + 100)
    e.add(2, [1], T, T + 50)
    got = e.speculate(20, T, T + 200, count=1)
    assert got == [Slot(T, T + 30, (0,)), Slot(T + 50, T + 200, (1,))]
    assert got == model_speculate(e, 20, T, T + 200, count=1)


def model_speculate(e: object, *args: object, **kw: object) -> list[Slot]:
    """The brute-force model's answer for the same state."""
    m = Model(e.n_hosts, pad=e.pad)  # type: ignore[attr-defined]
    for rid in e.ids():  # type: ignore[attr-defined]
        hosts, start, end, busy = e.reservation(rid)  # type: ignore[attr-defined]
        m.add(rid, hosts, start, end, busy)
    return m.speculate(*args, **kw)  # type: ignore[arg-type]
