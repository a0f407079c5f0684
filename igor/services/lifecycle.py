"""The lifecycle worker's database side: turning due state into persisted jobs, and recording their progress.

The worker (:mod:`igor.worker`) asks :meth:`LifecycleService.plan` each tick to look at the clock and write what
has become due as ``events`` rows (reference §4.8, SPEC §6, house style point 7):

* a reservation whose start has come and that is not installed gets an ``install`` job, and its hosts are marked
  reserved;
* a reservation whose end has come is closed out (:meth:`ReservationService.expire`): the row goes, and a
  ``closeout`` job keeps what the outside world still has to undo;
* a maintenance record whose end has come gets a ``maintenance-end`` job;
* a reservation nearing its end gets its expiry warning emails (the outbox; :mod:`igor.mail` decides when);
* the LDAP user and group sync (:mod:`igor.services.ldapsync`) runs at the first tick and then every
  ``auth.ldap.sync.syncFrequency`` minutes, when enabled. The time of the last run is kept in memory: a worker
  that takes over the lease syncs at its first tick.

Jobs then run step by step: each finished step is recorded (``payload["done"]``) in its own transaction before the
next begins, so a worker killed mid-job resumes where it stopped. A failed step is retried with back-off
(:func:`backoff`); an install failure is also shown on the reservation (``installError``). Reads that find nothing
due never lock or bump the schedule epoch, so an idle tick costs a few indexed queries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pony.orm import db_session, select

from igor.scheduler import Scheduler
from igor.services.closeout import (
    INSTALL,
    MAINTENANCE_END,
    boot_spec,
    default_distro,
    finish_maintenance,
    host_snapshot,
    reservation_mail,
    start_hosts,
)
from igor.services.context import ServiceContext
from igor.services.ldapsync import LdapSync
from igor.services.reservations import ReservationService
from igor.timefmt import to_minutes

log = logging.getLogger("igor.worker")

#: Longest wait between two attempts of a failing job, in minutes.
MAX_BACKOFF = 30
#: Most jobs of one kind planned per tick (a backlog after downtime is worked off over a few ticks).
BATCH = 200
#: Days finished jobs (done, cancelled, failed) are kept in ``events`` before the worker deletes them.
KEEP_DAYS = 30


def backoff(attempts: int) -> int:
    """Minutes to wait before attempt ``attempts + 1``: 1, 2, 4, … up to :data:`MAX_BACKOFF`."""
    return int(min(2 ** max(attempts - 1, 0), MAX_BACKOFF))


@dataclass(frozen=True)
class Job:
    """One pending ``events`` row, as the worker sees it."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int

    def done(self, step: str) -> bool:
        return step in self.payload.get("done", ())


@dataclass(frozen=True)
class InstallTarget:
    """What an install job acts on, read when it runs (the distro may have changed since it was planned)."""

    reservation: str
    hosts: tuple[dict[str, str], ...]
    boot: dict[str, Any] | None
    cycle: bool
    partial: bool = False  # some hosts of an installed reservation (added ones, or a distro change)
    vlan: int = 0  # the VLAN their switch ports go on (0: none)


class LifecycleService:
    """Planning and book-keeping for the lifecycle worker; every method is one transaction."""

    def __init__(self, ctx: ServiceContext, scheduler: Scheduler, reservations: ReservationService, *,
                 ldap_sync: LdapSync | None = None) -> None:
        self.ctx = ctx
        self.scheduler = scheduler
        self.reservations = reservations
        self.ldap_sync = ldap_sync
        self._pruned = 0  # epoch minute of the last prune
        self._ldap_synced: int | None = None  # epoch minute of the last LDAP sync (None: not yet)

    def now(self) -> int:
        return to_minutes(self.ctx.now())

    # -- planning ---------------------------------------------------------------------------------------------

    def plan(self) -> int:
        """Write the jobs that have become due; returns how many reservations or records it acted on."""
        now = self.now()
        # ends first: a host handed from one reservation to the next is cleaned before it is installed again
        count = self._plan_ends(now) + self._plan_starts(now) + self._plan_maintenance(now)
        self._plan_warnings(now)
        if now - self._pruned >= 60:  # hourly is plenty
            self._prune()
            self._pruned = now
        self._plan_ldap_sync(now)
        return count

    def _plan_ldap_sync(self, now: int) -> None:
        """Run the LDAP sync when it is enabled and due (last in the tick: reservations never wait for LDAP)."""
        sync = self.ldap_sync
        if sync is None or not sync.enabled:
            return
        every = self.ctx.config.auth.ldap.sync.sync_frequency
        if self._ldap_synced is not None and now - self._ldap_synced < every:
            return
        self._ldap_synced = now  # a failed run waits for the next period too: no retry storm against LDAP
        try:
            sync.run()
        except Exception:  # noqa: BLE001 - a bug in the sync must not stop installs and close-outs
            log.exception("LDAP sync failed; next attempt in %d min", every)

    @db_session
    def _prune(self) -> int:
        """Delete finished jobs older than :data:`KEEP_DAYS` (the table would otherwise grow for ever)."""
        db = self.ctx.db
        cutoff = self.ctx.now().replace(tzinfo=None) - timedelta(days=KEEP_DAYS)
        old = select(e for e in db.Event if e.status != "pending" and e.done is not None and e.done < cutoff)
        return int(old.delete(bulk=True) or 0)

    @db_session(immediate=True)
    def _plan_ends(self, now: int) -> int:
        db = self.ctx.db
        if not select(r.id for r in db.Reservation if r.end <= now).exists():
            return 0
        with self.scheduler.writing() as engine:
            due = db.Reservation.select(lambda r: r.end <= now).order_by(db.Reservation.end)[:BATCH]
            for res in due:
                log.info("reservation %s ended: closing out", res.name)
                self.reservations.expire(res, now, engine)
            return len(due)

    @db_session(immediate=True)
    def _plan_starts(self, now: int) -> int:
        db = self.ctx.db

        def due() -> list[Any]:
            pending = set(select(e.key for e in db.Event if e.kind == INSTALL and e.status == "pending"))
            rows = select(r for r in db.Reservation if r.start <= now and r.end > now and not r.installed)
            return [r for r in rows.order_by(db.Reservation.start)[:BATCH] if r.hash not in pending]

        if not due():
            return 0
        with self.scheduler.writing():
            starting = due()
            for res in starting:
                log.info("reservation %s started: installing", res.name)
                start_hosts(res)
                db.Event(kind=INSTALL, key=res.hash, due=now, payload={"reservation": res.name, "done": []})
            return len(starting)

    @db_session
    def _plan_maintenance(self, now: int) -> int:
        db = self.ctx.db
        pending = set(select(e.key for e in db.Event if e.kind == MAINTENANCE_END and e.status != "done"))
        count = 0
        for record in select(m for m in db.MaintenanceRes if m.maintenance_end <= now)[:BATCH]:
            key = f"maintenance:{record.id}"
            if key in pending:
                continue
            hosts = [host_snapshot(h) for h in sorted(record.hosts, key=lambda h: h.sequence_id)]
            db.Event(kind=MAINTENANCE_END, key=key, due=now,
                     payload={"record": record.id, "reservation": record.reservation_name, "hosts": hosts,
                              "power_off": default_distro(self.ctx) is not None, "done": []})
            count += 1
        return count

    @db_session
    def _plan_warnings(self, now: int) -> None:
        from igor.mail import notify_times, warning_due

        times = notify_times(self.ctx.config.email)
        if not times:
            return
        db = self.ctx.db
        horizon = now + times[-1]
        for res in select(r for r in db.Reservation if r.end > now and r.end <= horizon and r.next_notify > 0):
            template, next_notify = warning_due(res.end - now, res.next_notify, times)
            if template is not None:
                reservation_mail(self.ctx, template, res, minutes_left=res.end - now)
            if next_notify != res.next_notify:
                res.next_notify = next_notify

    # -- running jobs -------------------------------------------------------------------------------------------

    @db_session
    def pending(self, limit: int = 100) -> list[Job]:
        """Jobs due now, oldest first."""
        db = self.ctx.db
        now = self.now()
        rows = select(e for e in db.Event if e.status == "pending" and e.due <= now).order_by(db.Event.id)[:limit]
        return [Job(e.id, e.kind, e.key or "", dict(e.payload), e.attempts) for e in rows]

    @db_session
    def step_done(self, job: Job, step: str) -> Job:
        """Record that ``step`` of ``job`` is done (before the next one starts); returns the updated job."""
        row = self.ctx.db.Event[job.id]
        payload = dict(row.payload)
        payload["done"] = [*payload.get("done", []), step]
        row.payload = payload
        return Job(job.id, job.kind, job.key, payload, job.attempts)

    @db_session
    def job_done(self, job: Job, status: str = "done") -> None:
        row = self.ctx.db.Event[job.id]
        row.status = status
        row.done = self.ctx.now().replace(tzinfo=None)
        fields = row.payload.get("fields") if row.kind == "email" else None
        if isinstance(fields, dict) and fields.get("password"):  # sent: the outbox need not keep it
            row.payload = {**row.payload, "fields": {**fields, "password": "(sent)"}}

    @db_session
    def job_failed(self, job: Job, error: str, *, permanent: bool = False) -> int:
        """Record a failed attempt; the job runs again after :func:`backoff` (or never, if ``permanent``).
        Returns the minutes until the next attempt (0 when permanent)."""
        row = self.ctx.db.Event[job.id]
        row.attempts += 1
        row.last_error = error[:1024]
        if permanent:
            row.status = "failed"
            row.done = self.ctx.now().replace(tzinfo=None)
            return 0
        wait = backoff(row.attempts)
        row.due = self.now() + wait
        return wait

    @db_session
    def install_target(self, job: Job) -> InstallTarget | None:
        """What ``job`` installs, or None (and the job cancelled) when its reservation is gone or over."""
        res = self.ctx.db.Reservation.get(hash=job.key)
        if res is None or res.end <= self.now():
            self.job_done(job, "cancelled")
            return None
        only = job.payload.get("only")
        hosts = tuple(host_snapshot(h) for h in sorted(res.hosts, key=lambda h: h.sequence_id)
                      if only is None or h.name in only)
        cycle = bool(res.cycle_on_start) and job.payload.get("power", True)
        return InstallTarget(res.name, hosts, boot_spec(self.ctx, res), cycle, partial=only is not None,
                             vlan=res.vlan or 0)

    @db_session(immediate=True)
    def install_done(self, job: Job) -> None:
        """The reservation is installed: flag it, history ``installed``, the "has started" email."""
        db = self.ctx.db
        with self.scheduler.writing():
            res = db.Reservation.get(hash=job.key)
            if res is not None and "only" in job.payload:
                res.install_error = ""
            elif res is not None:
                res.installed = True
                res.install_error = ""
                self.reservations._history(res, "installed")
                reservation_mail(self.ctx, "reservation-started", res)
            self.job_done(job)

    @db_session(immediate=True)
    def install_failed(self, job: Job, error: str) -> int:
        """Show ``error`` on the reservation and retry later; returns the minutes until the retry."""
        with self.scheduler.writing():
            wait = self.job_failed(job, error)
            res = self.ctx.db.Reservation.get(hash=job.key)
            if res is not None:
                res.install_error = f"{error} (attempt {job.attempts + 1}; retrying in {wait} min)"[:1024]
            return wait

    @db_session
    def busy_elsewhere(self, job: Job, hosts: list[dict[str, str]]) -> set[str]:
        """Names among ``hosts`` now running a reservation other than the one ``job`` is about: a late clean-up
        must not touch what the next reservation installed."""
        db = self.ctx.db
        now = self.now()
        names = [h["name"] for h in hosts]
        mine = job.payload.get("hash", job.key)
        return set(select(h.name for h in db.Host for r in h.reservations
                          if h.name in names and r.start <= now and r.end > now and r.hash != mine))

    @db_session(immediate=True)
    def maintenance_done(self, job: Job) -> list[str]:
        """End the maintenance record of ``job``; returns the hosts released."""
        db = self.ctx.db
        with self.scheduler.writing() as engine:
            record = db.MaintenanceRes.get(id=job.payload["record"])
            released = finish_maintenance(self.ctx, record, self.now(), engine) if record is not None else []
            self.job_done(job)
            return released
