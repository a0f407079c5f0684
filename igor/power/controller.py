"""The power controller: picks each host's driver, runs actions in parallel with retries, reads states in parallel
within a time bound, and remembers what it last saw.

* **Driver per host**, by the scheme of its ``power_uri``: ``ipmi`` → :class:`~igor.power.ipmi.IpmiDriver`,
  ``libvirt``/``libvirt+…`` → :class:`~igor.power.libvirt.LibvirtDriver`, ``sim`` →
  :class:`~igor.power.sim.SimDriver` (state files under the controller's state directory), none →
  :class:`~igor.power.external.ExternalCommands` (``externalCmds`` templates).
* **Actions** (:meth:`PowerController.act`) run at most ``externalCmds.concurrencyLimit`` hosts at a time, each
  tried ``1 + externalCmds.commandRetries`` times with a pause between tries (Igor v2: 1 s). A host without any
  way to do the action is not retried. The answer maps each failed host to its message; nothing is raised.
* **States** (:meth:`PowerController.status`) are read in parallel and the whole read ends after
  ``status_timeout`` seconds whatever the drivers do: a host that has not answered by then is ``unknown``, as is
  one whose read failed. A host whose previous read is still running is not asked again (a dead BMC does not
  pile up threads); it reports its last known state.
* **What was last seen** is kept per process: :meth:`cached_status` reads only what is older than ``max_age``
  (``host show``; drivers that read instantly, the simulator, are always read, so another process's action shows
  at once), :meth:`peek` never waits — it answers from memory and refreshes stale entries in a background thread
  (``GET /igor``, whose latency must not depend on BMCs). Successful actions update it at once. Another server
  process's action on a real BMC shows here after at most ``max_age`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from urllib.parse import urlsplit

from igor.config import Config
from igor.power.base import ACTIONS, CYCLE, OFF, ON, UNKNOWN, PowerConfigError, PowerDriver, PowerError, PowerTarget
from igor.power.external import ExternalCommands, not_configured
from igor.power.ipmi import IpmiDriver
from igor.power.libvirt import LibvirtDriver
from igor.power.sim import SimDriver

log = logging.getLogger("igor.power")

#: The driver keys of :meth:`PowerController.driver_for`; ``""`` is the external command templates.
DRIVER_KEYS = ("ipmi", "libvirt", "sim", "")


class PowerController:
    """Power actions and states for a set of hosts (see the module docstring).

    Args:
        config: The server configuration (``externalCmds`` is read from it).
        state_dir: Where drivers keep state shared between processes (the simulator's files).
        drivers: Drivers to use instead of the defaults, by key (``ipmi``, ``libvirt``, ``sim``, ``""``).
        retry_delay: Seconds between the tries of one host.
        status_timeout: Upper bound in seconds of one :meth:`status` call.
        status_parallel: How many hosts' states are read at the same time.
        clock: Monotonic seconds (a parameter for tests).
    """

    def __init__(self, config: Config, state_dir: Path, *, drivers: Mapping[str, PowerDriver] | None = None,
                 retry_delay: float = 1.0, status_timeout: float = 5.0, status_parallel: int = 32,
                 clock: Callable[[], float] = time.monotonic) -> None:
        cmds = config.external_cmds
        self.state_dir = Path(state_dir)
        self.concurrency = max(1, cmds.concurrency_limit)
        self.retries = max(0, cmds.command_retries)
        self.retry_delay = retry_delay
        self.status_timeout = status_timeout
        self.status_parallel = max(1, status_parallel)
        self.clock = clock
        self.drivers: dict[str, PowerDriver] = {
            "ipmi": IpmiDriver(), "libvirt": LibvirtDriver(), "sim": SimDriver(self.state_dir),
            "": ExternalCommands(cmds)}
        self.drivers.update(drivers or {})
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, str]] = {}  # host name -> (when, state)
        self._inflight: set[str] = set()
        self._refreshing = False
        self._instant_uris: dict[str, bool] = {}

    # -- drivers --------------------------------------------------------------------------------------

    def driver_for(self, target: PowerTarget) -> PowerDriver:
        """The driver of ``target``, by the scheme of its ``power_uri``.

        Raises:
            PowerConfigError: the scheme is not one Igor knows.
        """
        scheme = urlsplit(target.power_uri).scheme.lower() if target.power_uri else ""
        key = "libvirt" if scheme == "libvirt" or scheme.startswith("libvirt+") else scheme
        if key not in self.drivers:
            raise PowerConfigError(target.name, f"power URI scheme '{scheme}://' is not supported (use ipmi://, "
                                   "libvirt+qemu://, sim://, or leave powerUri empty for externalCmds)")
        return self.drivers[key]

    def problem(self, target: PowerTarget, action: str) -> str | None:
        """Why ``action`` cannot even be tried on ``target`` (an unknown URI scheme, or no ``powerUri`` and no
        ``externalCmds`` template for it), or None. Nothing is run."""
        try:
            driver = self.driver_for(target)
        except PowerConfigError as exc:
            return str(exc)
        if isinstance(driver, ExternalCommands) and not driver.configured(action):
            return str(not_configured(target, action))
        return None

    def configured(self, target: PowerTarget, action: str) -> bool:
        """Whether ``action`` can be tried on ``target`` at all (see :meth:`problem`)."""
        return self.problem(target, action) is None

    # -- actions --------------------------------------------------------------------------------------

    def act(self, targets: Iterable[PowerTarget], action: str) -> dict[str, str]:
        """Power every target on, off or through a cycle.

        Args:
            targets: The hosts (a name given twice is acted on once).
            action: ``on``, ``off`` or ``cycle``.

        Returns:
            Host name → error message for each host that failed; empty when every host succeeded.

        Raises:
            ValueError: ``action`` is not one of on, off, cycle.
        """
        if action not in ACTIONS:
            raise ValueError(f"power command '{action}' not recognized (use on, off or cycle)")
        unique = list({t.name: t for t in targets}.values())
        if not unique:
            return {}
        log.info("power %s: %s", action, ", ".join(t.name for t in unique))
        errors: dict[str, str] = {}
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(unique)),
                                thread_name_prefix="igor-power") as pool:
            futures = {pool.submit(self._act_one, t, action): t for t in unique}
            for future, target in futures.items():
                problem = future.result()
                if problem is not None:
                    errors[target.name] = problem
        return errors

    def _act_one(self, target: PowerTarget, action: str) -> str | None:
        """One host, with retries: None when done, else the last error's message."""
        problem = ""
        for attempt in range(1 + self.retries):
            if attempt:
                time.sleep(self.retry_delay)
            try:
                driver = self.driver_for(target)
                driver.act(target, action)
            except PowerConfigError as exc:  # trying again cannot help
                log.warning("power %s %s: %s", action, target.name, exc)
                return str(exc)
            except PowerError as exc:
                problem = str(exc)
            except Exception as exc:  # noqa: BLE001 - a driver bug must not take the other hosts down
                log.exception("power %s %s: unexpected error", action, target.name)
                problem = f"{target.name}: unexpected error ({type(exc).__name__}: {exc})"
            else:
                self._remember({target.name: self._state_after(driver, action)})
                return None
            log.warning("power %s %s (try %d of %d): %s", action, target.name, attempt + 1, 1 + self.retries,
                        problem)
        with self._lock:  # a failed action may have left it anywhere: read it afresh next time
            self._known.pop(target.name, None)
        return problem

    def _state_after(self, driver: PowerDriver, action: str) -> str:
        if isinstance(driver, ExternalCommands):  # templates cannot read the state back
            return UNKNOWN
        return OFF if action == OFF else ON if action in (ON, CYCLE) else UNKNOWN

    # -- states ---------------------------------------------------------------------------------------

    def status(self, targets: Iterable[PowerTarget]) -> dict[str, str]:
        """Read the power state of every target (``on``, ``off`` or ``unknown``); never raises, and returns
        within about ``status_timeout`` seconds."""
        unique = list({t.name: t for t in targets}.values())
        out: dict[str, str] = {}
        asked: list[PowerTarget] = []
        unknowable: dict[str, str] = {}
        with self._lock:
            for target in unique:
                if target.name in self._inflight:
                    known = self._known.get(target.name)
                    out[target.name] = known[1] if known else UNKNOWN
                elif not self._can_tell(target):
                    out[target.name] = unknowable[target.name] = UNKNOWN
                else:
                    asked.append(target)
                    self._inflight.add(target.name)
        self._remember(unknowable)
        if not asked:
            return out
        pool = ThreadPoolExecutor(max_workers=min(self.status_parallel, len(asked)),
                                  thread_name_prefix="igor-power-status")
        futures: dict[Future[str], PowerTarget] = {pool.submit(self._status_one, t): t for t in asked}
        done, _pending = wait(futures, timeout=self.status_timeout)
        # Stragglers are not waited for: they end within their driver's own timeout and record what they read.
        pool.shutdown(wait=False, cancel_futures=True)
        for future, target in futures.items():
            if future in done and not future.cancelled():
                out[target.name] = future.result()
            else:
                out[target.name] = UNKNOWN
                if future.cancel():  # never started: no longer in flight
                    self._done(target.name)
        return {t.name: out[t.name] for t in unique}

    def _can_tell(self, target: PowerTarget) -> bool:
        """Whether the target's driver can read a state at all (the externalCmds templates cannot)."""
        try:
            return not isinstance(self.driver_for(target), ExternalCommands)
        except PowerConfigError:
            return False

    def _status_one(self, target: PowerTarget) -> str:
        state = UNKNOWN
        try:
            state = self.driver_for(target).status(target)
        except PowerError as exc:
            log.debug("power status %s: %s", target.name, exc)
        except Exception:  # noqa: BLE001 - never raises: a broken driver reads as unknown
            log.exception("power status %s: unexpected error", target.name)
        finally:
            self._remember({target.name: state})
            self._done(target.name)
        return state

    def _done(self, name: str) -> None:
        with self._lock:
            self._inflight.discard(name)

    def _remember(self, states: Mapping[str, str]) -> None:
        now = self.clock()
        with self._lock:
            for name, state in states.items():
                self._known[name] = (now, state)

    def _instant(self, target: PowerTarget) -> bool:
        """Whether the target's driver reads its state at no real cost (``instant``: the simulator's files).
        Memoised per URI: ``GET /igor`` asks it for every host."""
        known = self._instant_uris.get(target.power_uri)
        if known is None:
            try:
                known = bool(getattr(self.driver_for(target), "instant", False))
            except PowerConfigError:
                known = False
            self._instant_uris[target.power_uri] = known
        return known

    def _split(self, targets: Iterable[PowerTarget], age: Callable[[PowerTarget], float | None]
               ) -> tuple[dict[str, str], list[PowerTarget]]:
        """What is known and fresh, and the targets that need reading; ``age(target)`` is how old (seconds) its
        state may be, None meaning it must always be read."""
        now = self.clock()
        fresh: dict[str, str] = {}
        stale: list[PowerTarget] = []
        with self._lock:
            for target in {t.name: t for t in targets}.values():
                known = self._known.get(target.name)
                limit = age(target) if known is not None else None
                if known is not None and limit is not None and now - known[0] <= limit:
                    fresh[target.name] = known[1]
                else:
                    stale.append(target)
        return fresh, stale

    def cached_status(self, targets: Iterable[PowerTarget], max_age: float = 3.0) -> dict[str, str]:
        """Like :meth:`status`, but hosts read less than ``max_age`` seconds ago answer from memory (except those
        whose driver reads instantly, which are always read: what another process did shows at once)."""
        targets = list(targets)
        fresh, stale = self._split(targets, lambda t: None if self._instant(t) else max_age)
        if stale:
            fresh.update(self.status(stale))
        return {t.name: fresh[t.name] for t in targets}

    def peek(self, targets: Iterable[PowerTarget], max_age: float = 3.0,
             slow_max_age: float = 60.0) -> dict[str, str]:
        """The last known state of each target (``unknown`` when never read), without waiting for any driver.

        Targets read more than ``max_age`` seconds ago (``slow_max_age`` for drivers that do not read instantly:
        a BMC or hypervisor round trip per host) are read again in a background thread, one refresh at a time
        per controller, so a later call sees their state. The slow bound keeps a busy ``GET /igor`` from
        running ipmitool against every BMC every few seconds in every server process.
        """
        now, slow = self.clock(), max(max_age, slow_max_age)
        known: dict[str, str] = {}
        stale: list[PowerTarget] = []
        with self._lock:  # one pass: this runs for every host on every GET /igor
            for target in targets:
                seen = self._known.get(target.name)
                if seen is None:
                    known[target.name] = UNKNOWN
                    stale.append(target)
                    continue
                known[target.name] = seen[1]
                if now - seen[0] > (max_age if self._instant(target) else slow):
                    stale.append(target)
            start = bool(stale) and not self._refreshing
            if start:
                self._refreshing = True
        if start:
            threading.Thread(target=self._refresh, args=(stale,), name="igor-power-refresh", daemon=True).start()
        return known

    def _refresh(self, targets: list[PowerTarget]) -> None:
        try:
            self.status(targets)
        finally:
            with self._lock:
                self._refreshing = False
