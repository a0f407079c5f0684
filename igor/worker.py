"""The lifecycle worker: installs at start, close-outs at end, maintenance, expiry warnings and the email outbox.

Exactly one worker is active across every ``igor-server`` process and host. Each candidate (a thread in every
gunicorn worker, or ``igor-server worker`` on its own) tries to take the lease row (``worker_lease``) every tick;
the holder renews it, a dead holder's lease expires after :data:`LEASE_SECONDS` and the next candidate takes over
(DESIGN.md §3). The holder renews before every job, so a job never runs under an expired lease unless that one job
outlives the lease.

Each tick: :meth:`~igor.services.lifecycle.LifecycleService.plan` writes the work that has become due as
``events`` rows, then the pending rows run, oldest first, step by step (:mod:`igor.services.lifecycle`). Steps are
made safe to repeat after a crash:

* boot files are written and removed atomically and by name — doing it twice is the same as once;
* a switch port is set to the reservation's VLAN, or cleared, with commands that leave it the same when repeated;
* power is never toggled blindly: "off" and "on" first read the driver's state and act only on hosts not already
  there, and a power cycle is "off, then on" as two recorded steps. A worker killed between an action and its
  record finds the host already in the wanted state and does nothing. (Hosts whose driver cannot tell, the
  ``externalCmds`` templates, are acted on again: there is no way to know.)
* an email is marked sent right after the SMTP server accepts it. The one window left — a crash in the
  milliseconds between the server's acceptance and that commit — resends it with the same ``Message-ID``, which
  mail systems use to drop duplicates; a message is never lost.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pony.orm import db_session

from igor.services.lifecycle import Job, LifecycleService

log = logging.getLogger("igor.worker")

#: How long a lease lasts without renewal (seconds): the failover time when a holder dies.
LEASE_SECONDS = float(os.environ.get("IGOR_WORKER_LEASE_SECONDS", "30"))
#: Seconds between ticks.
TICK_SECONDS = float(os.environ.get("IGOR_WORKER_TICK_SECONDS", "5"))


def _wallclock() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class StepFailed(Exception):
    """A job step did not complete; the message says what failed, for ``installError`` and the log."""


class Lease:
    """The ``worker_lease`` row: who runs the lifecycle worker, until when (wall-clock UTC)."""

    def __init__(self, db: Any, holder: str, seconds: float = LEASE_SECONDS,
                 clock: Callable[[], datetime] = _wallclock) -> None:
        self.db = db
        self.holder = holder
        self.seconds = seconds
        self.clock = clock

    @db_session(immediate=True)
    def hold(self) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        row = self.db.WorkerLease.get_for_update(id=1)
        if row is None:
            row = self.db.WorkerLease(id=1)
        now = self.clock()
        if row.holder and row.holder != self.holder and row.expires is not None and row.expires > now:
            return False
        if row.holder != self.holder:
            log.info("lifecycle worker lease taken by %s (was %s)", self.holder, row.holder or "nobody")
        row.holder = self.holder
        row.expires = now + timedelta(seconds=self.seconds)
        return True

    @db_session(immediate=True)
    def release(self) -> None:
        row = self.db.WorkerLease.get_for_update(id=1)
        if row is not None and row.holder == self.holder:
            row.holder = ""
            row.expires = None

    @db_session
    def current(self) -> tuple[str | None, datetime | None]:
        row = self.db.WorkerLease.get(id=1)
        return (row.holder, row.expires) if row is not None else (None, None)


def _fault(point: str) -> None:
    """Test hook: ``IGOR_WORKER_FAULT=<point>[,<point>…]`` kills this process with SIGKILL at that point (the
    crash tests use it to stop the worker exactly between an action and its record)."""
    points = os.environ.get("IGOR_WORKER_FAULT", "")
    if points and point in points.split(","):
        log.warning("IGOR_WORKER_FAULT: killing the worker at %s", point)
        os.kill(os.getpid(), signal.SIGKILL)


class LifecycleWorker:
    """Runs the lifecycle jobs while it holds the lease.

    Args:
        services: the process's :class:`~igor.services.Services`.
        boot: writes and removes boot files (default :class:`igor.pxe.BootWriter` for ``server.tftpRoot``).
        power: a :class:`igor.power.PowerController` (default: the services' one).
        mailer: sends composed messages (default: :class:`igor.mail.Mailer` for ``email.*``).
        vlan: the switch the hosts' ports are on, when ``vlan.network`` is set (default:
            :func:`igor.network.switch_for` ``vlan.*``).
        holder: this candidate's name in the lease row (default ``host:pid:random``).
    """

    def __init__(self, services: Any, *, boot: Any = None, power: Any = None, mailer: Any = None,
                 vlan: Any = None, holder: str | None = None, lease_seconds: float = LEASE_SECONDS,
                 tick_seconds: float = TICK_SECONDS) -> None:
        self.services = services
        self.config = services.config
        self.lifecycle: LifecycleService = services.lifecycle
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = Lease(services.db, self.holder, lease_seconds)
        self.tick_seconds = tick_seconds
        self._boot = boot
        self._power = power
        self._mailer = mailer
        self._vlan = vlan
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- collaborators, built on first use ----------------------------------------------------------------------

    @property
    def boot(self) -> Any:
        if self._boot is None:
            from igor.pxe import BootWriter

            self._boot = BootWriter(self.config)
        return self._boot

    @property
    def power(self) -> Any:
        if self._power is None:
            self._power = self.services.power
        return self._power

    @property
    def mailer(self) -> Any:
        if self._mailer is None:
            from igor.mail import Mailer

            self._mailer = Mailer(self.config.email)
        return self._mailer

    @property
    def vlan(self) -> Any:
        if self._vlan is None:
            from igor.network import switch_for

            self._vlan = switch_for(self.config.vlan)
        return self._vlan

    # -- the loop -------------------------------------------------------------------------------------------------

    def tick(self) -> bool:
        """One round: take the lease, plan, run what is due. False when another process holds the lease."""
        if not self.lease.hold():
            return False
        self.lifecycle.plan()
        for _ in range(3):  # jobs queue more (an install its "has started" mail): those go in the same tick
            jobs = self.lifecycle.pending()
            for job in jobs:
                if self._stop.is_set() or not self.lease.hold():
                    return True
                self.run_job(job)
            if not jobs:
                break
        return True

    def run(self) -> None:
        """Tick until :meth:`stop`; errors are logged and the next tick tries again."""
        log.info("lifecycle worker %s started", self.holder)
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the loop must survive a database blip or a driver bug
                log.exception("lifecycle worker tick failed; retrying in %ss", self.tick_seconds)
            self._stop.wait(self.tick_seconds)
        try:
            self.lease.release()
        except Exception:  # noqa: BLE001 - best effort on the way out
            log.exception("could not release the lifecycle worker lease")

    def start(self) -> threading.Thread:
        """Run in a daemon thread (one per gunicorn worker; the lease picks the active one)."""
        self._thread = threading.Thread(target=self.run, name="igor-lifecycle", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 10) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- jobs -------------------------------------------------------------------------------------------------------

    def run_job(self, job: Job) -> None:
        runner = {"install": self._install, "closeout": self._closeout, "maintenance-end": self._maintenance_end,
                  "email": self._email}.get(job.kind)
        if runner is None:
            log.error("unknown job kind %r (event %s): left as failed", job.kind, job.id)
            self.lifecycle.job_failed(job, f"unknown job kind {job.kind!r}", permanent=True)
            return
        try:
            runner(job)
        except StepFailed as exc:
            if job.kind == "install":
                wait = self.lifecycle.install_failed(job, str(exc))
            else:
                wait = self.lifecycle.job_failed(job, str(exc))
            log.warning("%s %s: %s; retrying in %s min", job.kind, job.key, exc, wait)
        except Exception as exc:  # noqa: BLE001 - a bug in one job must not stop the others
            log.exception("%s %s failed", job.kind, job.key)
            if job.kind == "install":
                self.lifecycle.install_failed(job, f"internal error: {exc}")
            else:
                self.lifecycle.job_failed(job, f"internal error: {exc}")

    def _step(self, job: Job, step: str, action: Callable[[], None]) -> Job:
        """Run ``action`` unless ``step`` is recorded done, then record it."""
        if job.done(step):
            return job
        _fault(f"{job.kind}:{step}:before")
        action()
        _fault(f"{job.kind}:{step}:after")
        return self.lifecycle.step_done(job, step)

    def _install(self, job: Job) -> None:
        target = self.lifecycle.install_target(job)
        if target is None:
            return
        hosts = list(target.hosts)
        spec = target.boot
        vlan = target.vlan
        if vlan and self.config.vlan.enabled:  # v2: the VLAN first, then the boot files and power
            job = self._step(job, "vlan", lambda: self._set_vlan(hosts, vlan))
        if spec is not None:
            job = self._step(job, "boot", lambda: self._write_boot(hosts, spec))
        if target.cycle:
            job = self._step(job, "power-off", lambda: self._ensure_power(hosts, "off"))
            job = self._step(job, "power-on", lambda: self._ensure_power(hosts, "on"))
        _fault("install:finish:before")
        self.lifecycle.install_done(job)
        log.info("reservation %s installed on %d host(s)%s", target.reservation, len(hosts),
                 "" if spec else " (no distro: the hosts boot as they are)")

    def _closeout(self, job: Job) -> None:
        busy = self.lifecycle.busy_elsewhere(job, job.payload["hosts"])
        hosts = [h for h in job.payload["hosts"] if h["name"] not in busy]
        job = self._step(job, "boot-remove", lambda: self._remove_boot(hosts))
        if job.payload.get("vlan") and self.config.vlan.enabled:
            job = self._step(job, "vlan-clear", lambda: self._clear_vlan(hosts))
        job = self._step(job, "power-off", lambda: self._ensure_power(hosts, "off"))
        spec = job.payload.get("maintenance_boot")
        resting = [h for h in job.payload.get("maintenance", []) if h["name"] not in busy]
        if spec and resting:
            job = self._step(job, "maintenance-boot", lambda: self._write_boot(resting, spec))
            job = self._step(job, "maintenance-power-on", lambda: self._ensure_power(resting, "on"))
        _fault("closeout:finish:before")
        self.lifecycle.job_done(job)
        log.info("reservation %s closed out on %d host(s)", job.payload["reservation"], len(hosts))

    def _maintenance_end(self, job: Job) -> None:
        busy = self.lifecycle.busy_elsewhere(job, job.payload["hosts"])
        hosts = [h for h in job.payload["hosts"] if h["name"] not in busy]
        if job.payload.get("power_off"):
            job = self._step(job, "power-off", lambda: self._ensure_power(hosts, "off"))
            job = self._step(job, "boot-remove", lambda: self._remove_boot(hosts))
        released = self.lifecycle.maintenance_done(job)
        log.info("maintenance after %s over: %s available again", job.payload.get("reservation"),
                 ", ".join(released) or "no host")

    def _email(self, job: Job) -> None:
        from igor.mail import MailPermanentError, MailTemplateError, MailTemporaryError, compose

        try:
            message = compose(job.payload, self.config, message_id_seed=f"event-{job.id}")
        except MailTemplateError as exc:
            self.lifecycle.job_failed(job, f"cannot compose: {exc}", permanent=True)
            log.error("email %s (event %s) cannot be composed: %s", job.key, job.id, exc)
            return
        _fault("email:send:before")
        try:
            self.mailer.send(message)
        except MailPermanentError as exc:
            self.lifecycle.job_failed(job, str(exc), permanent=True)
            log.error("email %s to %s refused for good: %s", job.key, ", ".join(job.payload.get("to", [])), exc)
            return
        except (MailTemporaryError, OSError) as exc:
            raise StepFailed(f"mail server: {exc}") from exc
        _fault("email:send:after")
        self.lifecycle.job_done(job)

    # -- the outside world ------------------------------------------------------------------------------------------

    def _write_boot(self, hosts: Sequence[dict[str, str]], spec: dict[str, Any]) -> None:
        errors = []
        for host in hosts:
            try:
                self.boot.write(host, spec)
            except (OSError, ValueError) as exc:
                errors.append(f"{host['name']}: {exc}")
        if errors:
            raise StepFailed("boot files not written for " + "; ".join(errors))

    def _remove_boot(self, hosts: Sequence[dict[str, str]]) -> None:
        errors = []
        for host in hosts:
            try:
                self.boot.remove(host)
            except (OSError, ValueError) as exc:
                errors.append(f"{host['name']}: {exc}")
        if errors:
            raise StepFailed("boot files not removed for " + "; ".join(errors))

    def _set_vlan(self, hosts: Sequence[dict[str, str]], vlan: int) -> None:
        """Put the hosts' switch ports on ``vlan``. A host without a port (``eth``) fails the step: it cannot be
        isolated, and installing it on the shared network instead would be silent."""
        from igor.network import SwitchError
        from igor.nodeset import NodeList

        ports = [h["eth"] for h in hosts if h.get("eth")]
        try:
            if ports:
                self.vlan.set_vlan(ports, vlan)
        except (SwitchError, ValueError) as exc:
            raise StepFailed(f"VLAN {vlan} not set: {exc}") from exc
        missing = [h["name"] for h in hosts if not h.get("eth")]
        if missing:
            raise StepFailed(f"VLAN {vlan} not set on {NodeList(missing)}: no switch port (eth) configured")

    def _clear_vlan(self, hosts: Sequence[dict[str, str]]) -> None:
        """Take the hosts' switch ports off their VLAN (hosts without a port had nothing set)."""
        from igor.network import SwitchError

        ports = [h["eth"] for h in hosts if h.get("eth")]
        if not ports:
            return
        try:
            self.vlan.clear(ports)
        except (SwitchError, ValueError) as exc:
            raise StepFailed(f"VLAN not cleared: {exc}") from exc

    def _ensure_power(self, hosts: Sequence[dict[str, str]], state: str) -> None:
        """Bring every controllable host in ``hosts`` to ``state`` ("on"/"off"), acting only where needed."""
        from igor.power import PowerTarget

        targets = [PowerTarget(h["name"], h["hostname"], h.get("power", "")) for h in hosts]
        targets = [t for t in targets if self.power.configured(t, state)]
        if not targets:
            return
        current = self.power.status(targets)
        todo = [t for t in targets if current.get(t.name) != state]
        if not todo:
            return
        errors = self.power.act(todo, state)
        if errors:
            raise StepFailed(f"power {state} failed: " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())))

