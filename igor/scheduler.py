"""The bridge between the database and the scheduling engine: one engine per process, kept coherent with the
database through the ``schedule_epoch`` row (DESIGN.md §3).

* Every change to reservations, host states (blocks), host policies or the host list bumps the epoch in the same
  transaction (``ServiceContext.bump_epoch`` or :meth:`Scheduler.writing`).
* Readers call :meth:`Scheduler.current` inside their ``db_session``: one indexed read of the epoch; when it moved
  (another worker or server wrote), the engine catches up from the change log (``schedule_changes``: the
  reservations each epoch wrote; a few indexed reads) when the log covers every epoch since and names only
  reservations, and is rebuilt from the database otherwise (hosts, blocks or policies changed, a gap, a long
  absence). Writes spread over many workers then cost each other worker a few rows, not a rebuild.
* Writers use :meth:`Scheduler.writing`: inside it the epoch row is locked (``SELECT … FOR UPDATE`` on PostgreSQL
  and MySQL; on SQLite the write transaction itself, started with ``BEGIN IMMEDIATE`` by
  ``db_session(immediate=True)``), the engine is brought up to date, the caller decides and writes (and applies the
  same change to the engine), then the epoch is bumped and the transaction committed. If anything fails the engine
  is marked stale and rebuilt on next use — it never holds a change the database does not.

Within a process, a lock serialises use of the engine (gunicorn's threaded workers share it); it is always taken
before the database lock, so the two cannot deadlock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pony.orm import Database, commit, select

from igor._sched import ConflictError, Engine, Policy
from igor.nodeset import fold_names, fold_sequence

log = logging.getLogger("igor.scheduler")

BLOCKED = 2

#: ``schedule_changes.reservation`` markers: the epoch changed something other than reservations (rebuild), or
#: nothing the engine holds.
FULL_REBUILD = 0
NO_ENGINE_CHANGE = -1

#: A reader further behind than this many epochs rebuilds rather than replays; the log keeps at least this many.
CATCH_UP_LIMIT = 512


@dataclass(frozen=True)
class HostIndex:
    """The cluster's hosts in engine order (sequence order): index ↔ database id ↔ name."""

    ids: tuple[int, ...]
    names: tuple[str, ...]
    hostnames: tuple[str, ...]
    seqs: tuple[int, ...]
    by_id: dict[int, int]
    by_name: dict[str, int]
    prefix: str | None = None  # set when every name is <prefix><seq>: ranges then fold from the numbers

    @classmethod
    def of(cls, rows: list[tuple[int, str, str, int]], prefix: str | None = None) -> HostIndex:
        rows = sorted(rows, key=lambda r: r[3])
        if prefix is not None and any(r[1] != f"{prefix}{r[3]}" for r in rows):
            prefix = None
        return cls(ids=tuple(r[0] for r in rows), names=tuple(r[1] for r in rows),
                   hostnames=tuple(r[2] for r in rows), seqs=tuple(r[3] for r in rows),
                   by_id={r[0]: i for i, r in enumerate(rows)}, by_name={r[1]: i for i, r in enumerate(rows)},
                   prefix=prefix)

    def fold(self, idx: Iterable[int]) -> str:
        """The folded range (``dn[1-4,9]``) of some hosts given by index."""
        idx = list(idx)
        if self.prefix is not None:
            return fold_sequence(self.prefix, (self.seqs[i] for i in idx))
        return fold_names(self.names[i] for i in idx)


def server_timezone() -> str:
    """The IANA zone policy windows are evaluated in: ``$TZ``, else the system's, else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        return tz
    try:
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            return link.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


def engine_policy(row: Any) -> Policy:
    """A ``HostPolicy`` entity as the engine's :class:`Policy`."""
    groups = frozenset(g.name for g in row.access_groups)
    windows = tuple(f"{w['start']}:{w['duration']}" for w in (row.not_available or []))
    return Policy(id=row.id, max_time=row.max_res_time or None, groups=groups or None, windows=windows)


class _Tracked:
    """The engine as a writer sees it: every call passes through; mutating calls are noted, so that a refusal
    raised before any change keeps the (unchanged) engine instead of forcing a rebuild, and so that the change log
    can name the reservations written (anything else a writer changes is logged as a rebuild)."""

    MUTATORS = frozenset({"add", "remove", "replace", "build", "add_block", "remove_block", "set_policies"})
    PER_RESERVATION = frozenset({"add", "remove", "replace"})

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.dirty = False
        self.touched: set[int] = set()
        self.full = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._engine, name)
        if name not in self.MUTATORS:
            return method
        self.dirty = True
        if name not in self.PER_RESERVATION:
            self.full = True
            return method

        def noted(rid: int, *args: Any, **kwargs: Any) -> Any:
            self.touched.add(int(rid))
            return method(rid, *args, **kwargs)

        return noted

    def changes(self) -> list[int]:
        """What the change log records for this write."""
        if self.full:
            return [FULL_REBUILD]
        return sorted(self.touched) or [NO_ENGINE_CHANGE]

    def __contains__(self, rid: object) -> bool:
        return rid in self._engine

    def __len__(self) -> int:
        return len(self._engine)


class Rollback(Exception):  # noqa: N818 - not an error: "write nothing" (dry runs)
    """Raised inside :meth:`Scheduler.writing` by a caller that has undone its own engine changes: the
    transaction is rolled back, the epoch stays, and the engine (equal to the database again) is kept."""


class Scheduler:
    """The per-process engine and what it takes to keep it equal to the database."""

    def __init__(self, db: Database, *, pad: int = 0, tz: str | None = None) -> None:
        self.db = db
        self.pad = pad
        self.tz = tz or server_timezone()
        self._lock = threading.RLock()
        self._epoch = -1
        self.engine: Any = None
        self.hosts = HostIndex.of([])
        self.rebuilds = 0
        self.catch_ups = 0
        self._write: _Tracked | None = None  # the write in progress (inside :meth:`writing`)

    # -- reading ------------------------------------------------------------------------------------

    def current(self) -> Any:
        """The engine, up to date with the database (call inside a ``db_session``, holding :meth:`locked`)."""
        epoch = self.db.ScheduleEpoch[1].epoch
        if epoch != self._epoch or self.engine is None:
            self._catch_up(epoch)
        return self.engine

    @contextmanager
    def locked(self) -> Iterator[Any]:
        """Hold the process lock and get the current engine (for reads)."""
        with self._lock:
            yield self.current()

    @property
    def epoch(self) -> int:
        """The epoch the engine is current with (-1 when stale): a cache key for anything derived from it."""
        return self._epoch

    def hosts_of(self) -> dict[int, tuple[int, ...]]:
        """Every scheduled reservation's hosts (engine indices, ascending), by reservation id (hold the lock)."""
        engine = self.engine
        return {rid: tuple(engine.reservation(rid)[0]) for rid in engine.ids()}

    def host_rows(self, idx: Iterable[int]) -> list[Any]:
        """The ``Host`` rows of some engine indices, in the order given, read in a query per 500 hosts rather than
        one per host (a 64-host reservation is written inside the serialised write section). Call inside a
        ``db_session``, with the engine current."""
        ids = [self.hosts.ids[i] for i in idx]
        host = self.db.Host
        for at in range(0, len(ids), 500):
            chunk = ids[at:at + 500]
            select(h for h in host if h.id in chunk)[:]  # into the session's cache: host[i] below reads it there
        return [host[i] for i in ids]

    def invalidate(self) -> None:
        """Forget the engine: the next use rebuilds it. Inside :meth:`writing` (a change the engine cannot apply
        itself: hosts added or deleted, a host's policy or name), the change log records a full rebuild, so that
        every other process rebuilds too."""
        self._epoch = -1
        self.engine = None
        if self._write is not None:
            self._write.dirty = self._write.full = True

    # -- writing ------------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[Any]:
        """Serialise a scheduling change across every process, then commit it with a bumped epoch.

        Use inside ``db_session(immediate=True)``. Yields the up-to-date engine; the caller checks, writes rows and
        applies the same change to the engine. On leaving, the epoch is bumped and the transaction committed. On an
        exception the session rolls back and the exception propagates; the engine is kept if nothing had changed
        it (a refusal) or the caller undid its change (:class:`Rollback`), and is otherwise rebuilt on next use.
        """
        with self._lock:
            row = self.db.ScheduleEpoch.get_for_update(id=1)
            tracked: _Tracked | None = None
            try:
                if row.epoch != self._epoch or self.engine is None:
                    self._catch_up(row.epoch)
                tracked = self._write = _Tracked(self.engine)
                yield tracked
                row.epoch += 1
                new_epoch = row.epoch
                self._log(new_epoch, tracked.changes())
                commit()
            except Rollback:
                raise
            except BaseException:
                if tracked is None or tracked.dirty:
                    self.invalidate()
                raise
            finally:
                self._write = None
            self._epoch = new_epoch if self.engine is not None else -1

    # -- catching up --------------------------------------------------------------------------------

    def _log(self, epoch: int, changes: list[int]) -> None:
        """Record what ``epoch`` changed; now and then drop what no reader can still use."""
        for rid in changes:
            self.db.ScheduleChange(epoch=epoch, reservation=rid)
        if epoch % CATCH_UP_LIMIT == 0:
            self.db.execute("DELETE FROM schedule_changes WHERE epoch <= $cutoff",
                            {"cutoff": epoch - 2 * CATCH_UP_LIMIT})

    def _catch_up(self, epoch: int) -> None:
        """Bring the engine to ``epoch``: replay the change log when it allows, else rebuild."""
        if self.engine is None or not 0 <= self._epoch < epoch or epoch - self._epoch > CATCH_UP_LIMIT \
                or not self._replay(epoch):
            self._rebuild()
        self._epoch = epoch

    def _replay(self, epoch: int) -> bool:
        """Apply the reservations written in epochs ``self._epoch + 1 .. epoch`` as the database holds them now;
        False (the engine may be half-changed: the caller rebuilds) when the log does not cover every one of those
        epochs, names a change other than reservations, or does not fit the engine."""
        db, since = self.db, self._epoch
        logged = select((c.epoch, c.reservation) for c in db.ScheduleChange if c.epoch > since and c.epoch <= epoch)
        rows = list(logged)
        if len({e for e, _ in rows}) != epoch - since:
            return False
        rids = {rid for _, rid in rows} - {NO_ENGINE_CHANGE}
        if FULL_REBUILD in rids:
            return False
        wanted = sorted(rids)
        now: dict[int, tuple[int, int, int, list[int]]] = {}
        if wanted:
            for rid, start, end, reset_end, host in select((r.id, r.start, r.end, r.reset_end, h.id)
                                                           for r in db.Reservation for h in r.hosts
                                                           if r.id in wanted):
                if host not in self.hosts.by_id:
                    return False  # a host this engine does not know: its change was logged as a rebuild
                now.setdefault(rid, (start, end, max(reset_end, end), []))[3].append(self.hosts.by_id[host])
        try:
            for rid in wanted:
                if rid in self.engine:
                    self.engine.remove(rid)
            for rid, (start, end, busy, idx) in sorted(now.items()):
                self.engine.add(rid, sorted(idx), start, end, busy)
        except (ConflictError, KeyError, ValueError) as exc:
            log.warning("schedule change log could not be replayed (%s): rebuilding the engine", exc)
            return False
        self.catch_ups += 1
        return True

    # -- building -----------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        db = self.db
        cluster = db.Cluster.select().first()
        hosts = HostIndex.of(list(select((h.id, h.name, h.hostname, h.sequence_id) for h in db.Host)),
                             cluster.prefix if cluster is not None else None)
        engine = Engine(len(hosts.ids), seq=hosts.seqs, pad=self.pad, tz=self.tz)
        rows = sorted(select((r.id, r.start, r.end, r.reset_end, h.id) for r in db.Reservation for h in r.hosts))
        ids: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        busy: list[int] = []
        ptr = [0]
        idx: list[int] = []
        for rid, start, end, reset_end, host in rows:
            if not ids or ids[-1] != rid:
                if ids:
                    ptr.append(len(idx))
                ids.append(rid)
                starts.append(start)
                ends.append(end)
                busy.append(max(reset_end, end))
            idx.append(hosts.by_id[host])
        if ids:
            ptr.append(len(idx))
        try:
            engine.build(ids, starts, ends, busy, ptr, idx)
        except ConflictError as exc:  # overlapping rows (an import, a manual edit): keep what fits, say so
            log.error("reservations overlap in the database (%s); scheduling around the first of each", exc)
            for i, rid in enumerate(ids):
                try:
                    engine.add(rid, idx[ptr[i]:ptr[i + 1]], starts[i], ends[i], busy[i])
                except ConflictError:
                    log.error("reservation id %s overlaps another and is ignored by the scheduler", rid)
        host_policy: list[int | None] = [None] * len(hosts.ids)
        for hid, state, pid in select((h.id, h.state, h.policy.id) for h in db.Host):
            i = hosts.by_id[hid]
            host_policy[i] = pid
            if state == BLOCKED:
                engine.add_block(hid, [i])
        policies = [engine_policy(p) for p in db.HostPolicy.select()]
        engine.set_policies(policies, host_policy)
        self.engine = engine
        self.hosts = hosts
        self.rebuilds += 1
