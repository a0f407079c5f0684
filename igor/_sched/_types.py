"""Value types shared by both engine implementations.

Both :mod:`igor._sched._engine_py` and :mod:`igor._sched._engine_c` accept and return exactly these types, so
callers (and the tests that hold the two to each other) never see which one answered.

Conventions used everywhere in the engine:

* time is integer UTC epoch minutes; every interval is half-open ``[start, end)``;
* hosts are dense indices ``0..n_hosts-1`` in cluster sequence order;
* a reservation occupies its hosts over ``[start, busy_end)`` where ``busy_end = end + pad`` (the maintenance
  pad) unless the caller gives ``busy_end`` explicitly (a stored reservation keeps the pad it was created with);
* blocks and policy not-available windows are checked against the user's time ``[start, end)``; the pad only
  keeps reservations apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: Sentinels for "since forever" / "until forever" (blocks without a time range).
NEG_INF = -(2**62)
POS_INF = 2**62


@dataclass(frozen=True)
class Policy:
    """A host policy as the engine needs it.

    Attributes:
        id: the caller's identifier (an int; the engine only compares them).
        max_time: longest reservation in minutes on hosts of this policy, ``None`` for no limit.
        groups: names of the groups allowed to use the hosts; ``None`` means everybody (Igor's ``all``).
        windows: not-available windows, each ``"<5-field cron>:<duration>"`` (e.g. ``"0 0 * * 6:2d"``).
    """

    id: int
    max_time: int | None = None
    groups: frozenset[str] | None = None
    windows: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_time is not None and self.max_time < 1:
            raise ValueError(f"policy {self.id}: max_time must be at least 1 minute, not {self.max_time}")
        if self.groups is not None:
            groups = frozenset(self.groups)
            # Igor's group "all" means everybody: the same as no restriction.
            object.__setattr__(self, "groups", None if "all" in groups else groups)
        object.__setattr__(self, "windows", tuple(self.windows))

    @property
    def restricted(self) -> bool:
        """True when only named groups may use the hosts (they are used first by those groups)."""
        return self.groups is not None

    def admits(self, groups: frozenset[str]) -> bool:
        """Whether an owner belonging to ``groups`` may use hosts of this policy."""
        return self.groups is None or not self.groups.isdisjoint(groups)


@dataclass(frozen=True)
class Conflict:
    """Why a placement is refused; empty (falsy) when nothing stands in the way.

    Every field lists host indices (sorted) except ``reservations`` (ids of the reservations holding hosts over
    the window, sorted), ``blocks`` (block ids, sorted) and ``windows`` (``(policy id, start, end)`` of each
    firing of a not-available window expression that overlaps, sorted).
    """

    busy: tuple[int, ...] = ()
    reservations: tuple[int, ...] = ()
    blocked: tuple[int, ...] = ()
    blocks: tuple[int, ...] = ()
    unavailable: tuple[int, ...] = ()
    windows: tuple[tuple[int, int, int], ...] = ()
    denied: tuple[int, ...] = ()
    too_long: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.busy or self.blocked or self.unavailable or self.denied or self.too_long)

    @property
    def hosts(self) -> tuple[int, ...]:
        """Every host that stands in the way, for whatever reason."""
        return tuple(sorted(set(self.busy) | set(self.blocked) | set(self.unavailable)
                            | set(self.denied) | set(self.too_long)))


@dataclass(frozen=True)
class Slot:
    """One answer of ``speculate``: a stretch of start times at which the request would be granted.

    Attributes:
        start: the earliest start of the stretch (the answer to "when can I have it").
        latest_start: the last start minute of the same stretch (capped at the ``until`` of the query).
        hosts: the hosts ``find`` (by count) or the named hosts would get when starting at ``start``.
    """

    start: int
    latest_start: int
    hosts: tuple[int, ...] = field(default=())


class ConflictError(ValueError):
    """Raised by ``add``/``replace`` when a reservation would overlap another one on some host."""

    def __init__(self, rid: int, conflict: Conflict) -> None:
        others = ", ".join(str(r) for r in conflict.reservations) or "?"
        super().__init__(f"reservation {rid} overlaps reservation(s) {others} on host(s) "
                         f"{list(conflict.busy)}")
        self.rid = rid
        self.conflict = conflict


def host_tuple(hosts: Iterable[int], n_hosts: int) -> tuple[int, ...]:
    """Normalise a host collection: sorted, unique, validated against the cluster size."""
    out = tuple(sorted({int(h) for h in hosts}))
    if not out:
        raise ValueError("at least one host is required")
    if out[0] < 0 or out[-1] >= n_hosts:
        bad = out[0] if out[0] < 0 else out[-1]
        raise ValueError(f"host index {bad} is outside the cluster (0..{n_hosts - 1})")
    return out


def check_window(start: int, end: int) -> None:
    """Refuse empty or inverted intervals with a message naming them."""
    if end <= start:
        raise ValueError(f"empty time interval [{start}, {end}): the end must be after the start")


def check_csr(n_res: int, host_ptr: Sequence[int], n_idx: int) -> None:
    """Validate the CSR host lists given to ``build``."""
    if len(host_ptr) != n_res + 1:
        raise ValueError("build: ids, starts, ends and busy_ends need one entry per reservation and host_ptr one more")
    if host_ptr[0] != 0 or host_ptr[n_res] != n_idx or any(host_ptr[i + 1] <= host_ptr[i] for i in range(n_res)):
        raise ValueError("build: host_ptr must start at 0, grow by at least one host per reservation and end at "
                         "len(host_idx)")


def check_speculate(duration: int, after: int, until: int, count: int | None, hosts: object, limit: int) -> None:
    """Validate the arguments of ``speculate`` (both engines give the same errors)."""
    if (count is None) == (hosts is None):
        raise ValueError("speculate needs either a count or a list of hosts")
    if duration < 1:
        raise ValueError(f"the duration must be at least one minute, not {duration}")
    if until < after:
        raise ValueError(f"until ({until}) is before after ({after})")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
