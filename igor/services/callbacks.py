"""Node callbacks, database side: which host is calling, its active reservation, and turning its boot file to
local boot (``/igor/cb/svc/info`` and ``/igor/cb/svc/local``, SPEC §6, reference §8.4). The HTTP side is
:mod:`igor.cbserver`; the boot files are :mod:`igor.pxe`.

**Who is calling.** A node is known by the source address of its request, IPv4 or IPv6. The address is parsed,
never split on ``:`` (v2 split on ``:`` and so could not know an IPv6 node, §11 item 18): an IPv4-mapped IPv6
address (``::ffff:10.0.0.5``, what a dual-stack listener reports for an IPv4 client) is the IPv4 address, and an
IPv6 zone (``%eth0``) is dropped. It is matched first against every host's ``ip`` field (compared as addresses, so
``2001:DB8::5`` and ``2001:db8:0::5`` are one address); only when no ``ip`` field matches are the hosts'
hostnames resolved (forward, every address they have) and matched — a node whose ``ip`` is blank or stale is
still known by its name. Resolutions are cached for ``cache_ttl`` seconds, failures too, so a stranger calling
repeatedly costs one round of look-ups per period. An address matching two hosts is refused (409) rather than
guessed. v2 matched the ``ip`` field only.

**Which reservation.** The host's *active* reservation: ``start <= now < end`` (v2's ``/info`` answered the
host's first reservation, possibly a future one). No active reservation is a 404 for both routes (v2's
``/local`` panicked).

**Local boot.** ``local`` rewrites the host's per-MAC file to boot its disk (:func:`igor.pxe.write_local_boot`),
with the reservation's boot spec as the lifecycle worker installed it (:func:`igor.services.closeout.boot_spec`:
the profile's distro, else the default distro); a reservation that boots no distro has no boot file to convert,
so nothing is written and the answer says so. The file is written after the read transaction, never inside it.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pony.orm import db_session, select

from igor.errors import BadInput, Conflict, NotFound
from igor.pxe import BootHost, BootSpec, as_boot_host, as_boot_spec, write_local_boot
from igor.services.closeout import boot_spec, host_snapshot
from igor.services.context import ServiceContext
from igor.timefmt import now_minutes

log = logging.getLogger("igor.callbacks")

Resolver = Callable[[str], Iterable[str]]
#: How long a hostname's resolved addresses (or its failure to resolve) are trusted, in seconds.
CACHE_TTL = 300.0
#: Seconds a callback waits for hostname lookups before answering with what it knows.
RESOLVE_WAIT = 3.0


def normalise_address(address: str) -> str:
    """An address in the form hosts are compared in: IPv4 dotted quad, or compressed lower-case IPv6.

    Raises:
        BadInput: ``address`` is not an IP address.
    """
    text = (address or "").strip().strip("[]").split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise BadInput(f"'{address}' is not an IP address") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _normalised_or_none(address: str | None) -> str | None:
    try:
        return normalise_address(address) if address else None
    except BadInput:
        return None


def resolve_hostname(hostname: str) -> list[str]:
    """Every address ``hostname`` resolves to (the system resolver: /etc/hosts, DNS, ...)."""
    infos = socket.getaddrinfo(hostname, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _ResolvedCache:
    """Hostname → normalised addresses, each kept ``ttl`` seconds (an empty set when it did not resolve).

    Lookups run in parallel on a small pool and a caller waits at most ``wait`` seconds for them: a slow or
    absent DNS must not hold a callback for (hosts × resolver timeout). A lookup still running when the wait
    ends finishes in the background and is cached for the next call.
    """

    def __init__(self, resolve: Resolver, ttl: float, monotonic: Callable[[], float],
                 wait: float = RESOLVE_WAIT) -> None:
        self.resolve = resolve
        self.ttl = ttl
        self.monotonic = monotonic
        self.wait = wait
        self._entries: dict[str, tuple[float, frozenset[str]]] = {}
        self._running: dict[str, Future[frozenset[str]]] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def _lookup(self, hostname: str) -> frozenset[str]:
        try:
            found = frozenset(a for a in map(_normalised_or_none, self.resolve(hostname)) if a)
        except (OSError, UnicodeError) as exc:
            log.debug("could not resolve %s: %s", hostname, exc)
            found = frozenset()
        with self._lock:
            self._entries[hostname] = (self.monotonic() + self.ttl, found)
            self._running.pop(hostname, None)
        return found

    def addresses(self, hostname: str) -> frozenset[str]:
        return self.many([hostname]).get(hostname, frozenset())

    def many(self, hostnames: Iterable[str]) -> dict[str, frozenset[str]]:
        """The addresses of each of ``hostnames`` known within the wait (names still resolving are left out)."""
        now = self.monotonic()
        out: dict[str, frozenset[str]] = {}
        waiting: dict[Future[frozenset[str]], str] = {}
        with self._lock:
            for name in dict.fromkeys(hostnames):
                entry = self._entries.get(name)
                if entry is not None and entry[0] > now:
                    out[name] = entry[1]
                    continue
                future = self._running.get(name)
                if future is None:
                    if self._pool is None:
                        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="igor-resolve")
                    future = self._running[name] = self._pool.submit(self._lookup, name)
                waiting[future] = name
        if waiting:
            done, _ = wait(waiting, timeout=self.wait)
            for future in done:
                out[waiting[future]] = future.result()
        return out


# -- views -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackInfo:
    """``/info``: the calling host's active reservation, its owner and its hosts (in sequence order)."""

    reservation: str
    owner: str
    hosts: tuple[str, ...]

    def to_text(self) -> str:
        """v2's answer: ``<reservation> <owner> <host> <host> ...`` and a new line."""
        return " ".join((self.reservation, self.owner, *self.hosts)) + "\n"


@dataclass(frozen=True)
class LocalBootResult:
    """``/local``: which host was switched to local boot, for which reservation, and the file written (None
    when the reservation boots no distro, so there was no boot file to convert)."""

    host: str
    reservation: str
    path: Path | None

    @property
    def message(self) -> str:
        if self.path is None:
            return (f"reservation '{self.reservation}' boots no distro: host '{self.host}' has no boot file to "
                    "convert")
        return f"host '{self.host}' of reservation '{self.reservation}' now boots from its local disk"


@dataclass(frozen=True)
class _HostRow:
    id: int
    name: str
    hostname: str
    ip: str | None


# -- helpers (inside a db_session) ----------------------------------------------------------------------------


def active_reservation(host: Any, now: int) -> Any | None:
    """``host``'s reservation with ``start <= now < end`` (epoch minutes), or None."""
    running = [r for r in host.reservations if r.start <= now < r.end]
    return min(running, key=lambda r: (r.start, r.name)) if running else None


# -- the service -----------------------------------------------------------------------------------------------


class CallbackService:
    """What the callback routes ask of the database.

    Args:
        ctx: the shared service context (database, configuration, clock).
        resolve: hostname → addresses (default: the system resolver); tests pass their own.
        cache_ttl: seconds a resolution is kept.
        monotonic: the cache's clock.
    """

    def __init__(self, ctx: ServiceContext, *, resolve: Resolver | None = None, cache_ttl: float = CACHE_TTL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ctx = ctx
        self._resolved = _ResolvedCache(resolve or resolve_hostname, cache_ttl, monotonic)

    # -- who is calling ---------------------------------------------------------------------------

    @db_session
    def _host_rows(self) -> list[_HostRow]:
        db = self.ctx.db
        return [_HostRow(*row) for row in select((h.id, h.name, h.hostname, h.ip) for h in db.Host)]

    def _match(self, address: str) -> _HostRow:
        addr = normalise_address(address)
        rows = self._host_rows()
        found = [r for r in rows if _normalised_or_none(r.ip) == addr]
        if not found:
            known = self._resolved.many(r.hostname for r in rows if r.hostname)
            found = [r for r in rows if r.hostname and addr in known.get(r.hostname, ())]
        if not found:
            raise NotFound(f"no host has the address {addr}")
        if len(found) > 1:
            raise Conflict(f"the address {addr} matches several hosts: {', '.join(sorted(r.name for r in found))}")
        return found[0]

    def identify(self, address: str) -> str:
        """The name of the host calling from ``address``.

        Raises:
            BadInput: ``address`` is not an IP address.
            NotFound: no host has it.
            Conflict: several hosts have it.
        """
        return self._match(address).name

    @db_session
    def _active(self, host_id: int) -> tuple[Any, Any]:
        db = self.ctx.db
        host = db.Host.get(id=host_id)
        if host is None:  # deleted between the two reads
            raise NotFound("the calling host no longer exists")
        res = active_reservation(host, now_minutes(self.ctx.clock))
        if res is None:
            raise NotFound(f"host '{host.name}' has no active reservation")
        return host, res

    # -- the routes -------------------------------------------------------------------------------

    def info(self, address: str) -> CallbackInfo:
        """The active reservation of the host calling from ``address``.

        Raises:
            NotFound: unknown address, or the host has no active reservation.
            BadInput / Conflict: as :meth:`identify`.
        """
        row = self._match(address)
        return self._info(row.id)

    @db_session
    def _info(self, host_id: int) -> CallbackInfo:
        _, res = self._active(host_id)
        hosts = tuple(h.name for h in sorted(res.hosts, key=lambda h: h.sequence_id))
        return CallbackInfo(reservation=res.name, owner=res.owner.name, hosts=hosts)

    def local(self, address: str) -> LocalBootResult:
        """Switch the host calling from ``address`` to local boot (its install has finished).

        Raises:
            NotFound: unknown address, or the host has no active reservation.
            BadInput / Conflict: as :meth:`identify`.
            StoreError: the boot file could not be written.
        """
        row = self._match(address)
        host, spec, res_name = self._local_target(row.id)
        if spec is None:
            log.info("local boot callback from %s (%s): reservation %s boots no distro, nothing to convert",
                     host.name, address, res_name)
            return LocalBootResult(host.name, res_name, None)
        path = write_local_boot(self.ctx.config.server.tftp_root, host, spec)
        log.info("host %s (%s) of reservation %s switched to local boot: %s", host.name, address, res_name, path)
        return LocalBootResult(host.name, res_name, path)

    @db_session
    def _local_target(self, host_id: int) -> tuple[BootHost, BootSpec | None, str]:
        host, res = self._active(host_id)
        spec = boot_spec(self.ctx, res)
        return as_boot_host(host_snapshot(host)), as_boot_spec(spec) if spec is not None else None, res.name
