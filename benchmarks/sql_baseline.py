"""The baseline: answering "find N hosts free over [start, end)" the way Igor v2 does, with SQL over SQLite.

The data of a :class:`benchmarks.datagen.Dataset` is loaded into an in-memory SQLite database with the shape of Igor
v2's schema (shared/reference/igor2-behaviour.md §9.2), reduced to the columns the by-count path reads:

* ``hosts(id PK, name UNIQUE, host_name UNIQUE, sequence_id, state, cluster_id, host_policy_id,
  UNIQUE(sequence_id, cluster_id))`` — every host ``available`` (state 0);
* ``host_policies(id PK, name UNIQUE, max_res_time, notavailable)`` and ``groups_policies`` — the engine's
  policies, plus a ``default`` policy (everybody, no limit) for the hosts without one;
* ``reservations(id PK, name UNIQUE, start, end, orig_end, reset_end, hash UNIQUE)`` with
  ``reset_end = end + maintenance pad`` (the engine's ``busy_end``);
* ``reservations_hosts(host_id, reservation_id, PRIMARY KEY(host_id, reservation_id))``.

Indexes: exactly Igor v2's — the primary keys, the UNIQUE constraints and ``(sequence_id, cluster_id)``. There is
**no index on start, end or reset_end** (v2 has none); ``reservations_hosts``' primary key gives the per-host lookup.
Times are integer epoch minutes instead of v2's text datetimes, so ``l.reset_end + :dur < r.start`` replaces
``DATETIME(l.reset_end, '+N minutes') < DATETIME(r.start)`` — cheaper than v2, so the baseline, if anything, flatters
SQL.

:func:`find` follows v2's ``scheduleHostsByAvailability`` (igor2-behaviour.md §4.4):

1. ``dbGetAccessibleHosts``: policies admitting the owner's groups; unless elevated, those whose ``max_res_time`` is
   shorter than the request are dropped, and (for non-default ones) those with a not-available window overlapping
   the request;
2. per surviving policy, ``dbFindOpenSlots`` — the three queries below, verbatim in shape:
   ``free_slots`` (hosts with no reservation row at all; if there are at least N of them, that is all it returns),
   ``last_res_slots`` (from the ``reset_end`` of each host's latest-starting reservation on), ``gap_slots``
   (between two reservations ``l``, ``r`` of a host with ``l.reset_end + paddedDur < r.start`` and no reservation
   of the host starting in between — a correlated ``NOT EXISTS``);
3. the slots are kept when ``begin <= start`` and ``start + paddedDur <= slot end``;
4. N hosts are picked from them with Igor's contiguous-run rule, restricted pool first
   (:func:`igor._sched._select.choose`, the engine's deterministic version of v2's ``findBestSolution``).

One deliberate correction: v2's gap query excludes reservations starting *strictly* after ``l.reset_end``, so a
reservation starting exactly at ``l.reset_end`` (back to back, which v2 itself allows) does not close the gap and
v2 can offer a busy host. Here the comparison is ``l.reset_end <= x.start`` so the answer is always correct; the
cost is the same. v2's other quirk is kept: by count, a host is never offered in the time *before* its first
reservation, so the baseline may find fewer hosts than the engine (it then answers None).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from igor._sched._select import choose
from igor._sched._windows import expand, parse_window

from .datagen import Dataset

HOST_BLOCKED = 2          # v2's host state "blocked": hosts with state < blocked are reservable
DEFAULT_POLICY = 0        # id of v2's "default" policy (the hosts without an engine policy)

SCHEMA = """
CREATE TABLE hosts (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, host_name TEXT NOT NULL UNIQUE,
                    sequence_id INTEGER NOT NULL, state INTEGER, cluster_id INTEGER NOT NULL,
                    host_policy_id INTEGER);
CREATE UNIQUE INDEX idx_cluster_seq ON hosts(sequence_id, cluster_id);
CREATE TABLE host_policies (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, max_res_time INTEGER,
                            notavailable TEXT);
CREATE TABLE groups_policies (host_policy_id INTEGER, group_name TEXT, PRIMARY KEY (host_policy_id, group_name));
CREATE TABLE reservations (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, start INTEGER, "end" INTEGER,
                           orig_end INTEGER, reset_end INTEGER, hash TEXT NOT NULL UNIQUE);
CREATE TABLE reservations_hosts (host_id INTEGER, reservation_id INTEGER, PRIMARY KEY (host_id, reservation_id));
"""

# dbFindOpenSlots, query 1: hosts without any reservation row -> slot [start, max_end]
# (parameters: start, max_end, blocked, *names)
FREE_SLOTS = """
SELECT h.name AS hostname, h.sequence_id AS hostnum, NULL AS res_name, NULL AS res_start,
       ? AS avail_slot_begin, NULL AS next_res_name, ? AS avail_slot_end
FROM hosts h LEFT OUTER JOIN reservations_hosts rh ON h.id = rh.host_id
WHERE rh.host_id IS NULL AND h.state < ? AND h.name IN ({names})
"""

# query 2: after each host's latest-starting reservation -> slot [reset_end, max_end]
# (parameters: max_end, blocked, *names)
LAST_RES_SLOTS = """
SELECT h.name AS hostname, h.sequence_id AS hostnum, l.name AS res_name, max(l.start) AS res_start,
       l.reset_end AS avail_slot_begin, NULL AS next_res_name, ? AS avail_slot_end
FROM reservations l, hosts h
INNER JOIN reservations_hosts rhl ON l.id = rhl.reservation_id AND h.id = rhl.host_id
WHERE h.state < ? AND h.name IN ({names})
GROUP BY h.name
"""

# query 3: gaps between consecutive reservations of a host, long enough for the padded request
# (parameters: blocked, *names, padded duration)
GAP_SLOTS = """
SELECT h.name AS hostname, h.sequence_id AS hostnum, l.name AS res_name, l.start AS res_start,
       l.reset_end AS avail_slot_begin, r.name AS next_res_name, r.start AS avail_slot_end
FROM reservations l, reservations r, hosts h
INNER JOIN reservations_hosts rhl ON l.id = rhl.reservation_id AND h.id = rhl.host_id
INNER JOIN reservations_hosts rhr ON r.id = rhr.reservation_id AND h.id = rhr.host_id
WHERE h.state < ? AND h.name IN ({names}) AND l.reset_end + ? < r.start
  AND NOT EXISTS (SELECT x.id FROM reservations x
                  INNER JOIN reservations_hosts rhi ON x.id = rhi.reservation_id AND h.id = rhi.host_id
                  WHERE l.reset_end <= x.start AND x.start < r.start)
"""


def host_name(h: int) -> str:
    return f"kn{h + 1}"


class SqlBaseline:
    """An in-memory SQLite copy of a data set, answering by-count requests like Igor v2."""

    def __init__(self, data: Dataset) -> None:
        self.data = data
        self.pad = data.pad
        self.db = sqlite3.connect(":memory:")
        self.db.executescript(SCHEMA)
        self._load()
        pols = {DEFAULT_POLICY: (None, None, ())}
        pols.update({p.id: (p.max_time, p.groups, tuple(parse_window(w) for w in p.windows))
                     for p in data.policies})
        self._pols = pols
        self._hosts_of: dict[int, list[str]] = {}
        for h, pid in enumerate(data.host_policy):
            self._hosts_of.setdefault(DEFAULT_POLICY if pid is None else pid, []).append(host_name(h))
        self._seq = list(range(1, data.n_hosts + 1))
        self._restricted = {h for h, pid in enumerate(data.host_policy) if pid is not None and pols[pid][1]}

    def _load(self) -> None:
        d = self.data
        db = self.db
        db.execute("INSERT INTO host_policies VALUES (?, 'default', NULL, '[]')", (DEFAULT_POLICY,))
        db.executemany("INSERT INTO host_policies VALUES (?, ?, ?, ?)",
                       [(p.id, f"policy{p.id}", p.max_time, repr(list(p.windows))) for p in d.policies])
        db.executemany("INSERT INTO groups_policies VALUES (?, ?)",
                       [(p.id, g) for p in d.policies for g in sorted(p.groups or {"all"})]
                       + [(DEFAULT_POLICY, "all")])
        db.executemany("INSERT INTO hosts VALUES (?, ?, ?, ?, 0, 1, ?)",
                       [(h + 1, host_name(h), host_name(h), h + 1, DEFAULT_POLICY if pid is None else pid)
                        for h, pid in enumerate(d.host_policy)])
        db.executemany("INSERT INTO reservations VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(rid, f"res{rid}", s, e, e, b, f"h{rid}")
                        for rid, s, e, b in zip(d.ids.tolist(), d.starts.tolist(), d.ends.tolist(),
                                                d.busy_ends.tolist(), strict=True)])
        db.executemany("INSERT INTO reservations_hosts VALUES (?, ?)",
                       [(h + 1, rid) for i, rid in enumerate(d.ids.tolist()) for h in d.hosts_of(i).tolist()])
        db.commit()                               # no ANALYZE: v2 never runs it

    # ------------------------------------------------------------------------------------------ v2's steps
    def accessible(self, start: int, end: int, groups: frozenset[str], elevated: bool) -> list[int]:
        """``dbGetAccessibleHosts``: the policies whose hosts the request may use."""
        out = []
        for pid, (max_time, pgroups, windows) in self._pols.items():
            if pid not in self._hosts_of:
                continue
            if pgroups is not None and pgroups.isdisjoint(groups):
                continue
            if not elevated and max_time is not None and end - start > max_time:
                continue
            if not elevated and windows and expand(windows, "UTC", start, end):
                continue
            out.append(pid)
        return out

    def open_slots(self, names: list[str], start: int, padded: int, max_end: int,
                   need: int) -> list[tuple]:
        """``dbFindOpenSlots``: candidate slots ``(hostname, hostnum, res_name, res_start, begin, next, end)``."""
        marks = ",".join("?" * len(names))
        db = self.db
        slots = db.execute(FREE_SLOTS.format(names=marks), [start, max_end, HOST_BLOCKED, *names]).fetchall()
        if len(slots) < need:
            slots += db.execute(LAST_RES_SLOTS.format(names=marks), [max_end, HOST_BLOCKED, *names]).fetchall()
            slots += db.execute(GAP_SLOTS.format(names=marks), [HOST_BLOCKED, *names, padded]).fetchall()
        return sorted(slots, key=lambda s: (s[4], s[6], s[1]))

    def find(self, count: int, start: int, end: int, *, groups: Iterable[str] | None = None,
             elevated: bool = False, max_end: int | None = None) -> list[int] | None:
        """Choose ``count`` hosts free over ``[start, end)`` like Igor v2 (None if it finds too few)."""
        g = frozenset(groups or ())
        padded = end + self.pad - start
        max_end = start + 4 * 365 * 24 * 60 if max_end is None else max_end
        free: set[int] = set()
        for pid in self.accessible(start, end, g, elevated):
            for slot in self.open_slots(self._hosts_of[pid], start, padded, max_end, count):
                begin, slot_end = slot[4], slot[6]
                if begin <= start and padded <= slot_end - start:
                    free.add(slot[1] - 1)               # sequence_id - 1 = host index
        if len(free) < count:
            return None
        prefer = {h for h in free if h in self._restricted}
        return choose(sorted(free), prefer, count, self._seq)
