"""Host-policy "not available" windows: parsing, cron expansion, caching.

A window expression is ``"<5-field cron>:<duration>"`` (Igor v2's syntax): every time the cron fires (in the
server's time zone), the hosts of the policy are unavailable for ``duration`` (days are 24 h, so a window keeps its
length across DST changes). Expansion uses croniter and is the one piece of window logic both engines share:

* :func:`expand_chunk` expands one expression over one fixed 28-day chunk of epoch minutes and is cached, so the
  same expression used by several policies (or re-applied after an edit) is expanded once;
* :class:`WindowIndex` keeps, per policy, the merged instances over a contiguous range of chunks that grows on
  demand — queries never need the whole four-year scheduling horizon expanded up front.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from igor.timefmt import parse_duration

#: Expansion granularity (minutes). 28 days keeps weekly and monthly patterns cheap to expand and cache.
CHUNK = 28 * 24 * 60
#: Refuse expressions that fire more often than this on a day they fire at all (once every 4 minutes on
#: average): such a "window" is a mistake, and expanding it would cost seconds.
MAX_PER_DAY = 360
#: Backstop for the expansion itself (it should never trigger once MAX_PER_DAY is checked).
MAX_PER_CHUNK = MAX_PER_DAY * 28


def parse_window(expr: str) -> tuple[str, int]:
    """Split and validate ``"<cron>:<duration>"``.

    Returns:
        ``(cron, minutes)``.

    Raises:
        ValueError: naming the expression and what is wrong with it.
    """
    if not isinstance(expr, str) or ":" not in expr:
        raise ValueError(f"not-available window {expr!r} must look like '<cron>:<duration>', "
                         "e.g. '0 0 * * 6:2d' (Saturdays from midnight for two days)")
    cron, _, dur = expr.rpartition(":")
    cron = " ".join(cron.split())
    if cron.startswith("@"):
        if cron not in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"):
            raise ValueError(f"not-available window {expr!r}: unknown cron descriptor {cron!r}")
    elif len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise ValueError(f"not-available window {expr!r}: {cron!r} is not a valid 5-field cron expression "
                         "(minute hour day-of-month month day-of-week)")
    per_day = _firings_per_day(cron)
    if per_day > MAX_PER_DAY:
        raise ValueError(f"not-available window {expr!r}: {cron!r} fires {per_day} times a day; a window may "
                         f"start at most {MAX_PER_DAY} times a day (use a longer duration instead)")
    try:
        minutes = parse_duration(dur)
    except ValueError as exc:
        raise ValueError(f"not-available window {expr!r}: {exc}") from None
    if minutes < 1:
        raise ValueError(f"not-available window {expr!r}: the duration must be at least one minute")
    return cron, minutes


def _firings_per_day(cron: str) -> int:
    """How many times ``cron`` fires on a day it fires at all (minute values x hour values)."""
    if cron.startswith("@"):
        return 24 if cron == "@hourly" else 1
    minutes, hours = croniter(cron).expanded[:2]
    return (60 if minutes == ["*"] else len(minutes)) * (24 if hours == ["*"] else len(hours))


def zone(tz: str | ZoneInfo) -> ZoneInfo:
    """Resolve an IANA time-zone name, with a clear error."""
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None


@lru_cache(maxsize=8192)
def expand_chunk(cron: str, tz: str, chunk: int) -> tuple[int, ...]:
    """Start minutes of every firing of ``cron`` (in zone ``tz``) within chunk ``chunk``.

    Chunk ``k`` covers epoch minutes ``[k * CHUNK, (k + 1) * CHUNK)``.
    """
    lo, hi = chunk * CHUNK, (chunk + 1) * CHUNK
    base = datetime.fromtimestamp((lo - 1) * 60, tz=timezone.utc).astimezone(zone(tz))
    it = croniter(cron, base)
    out: list[int] = []
    while True:
        nxt = it.get_next(datetime)
        m = int(nxt.timestamp()) // 60
        if m >= hi:
            return tuple(out)
        if m >= lo and (not out or m > out[-1]):
            out.append(m)
        if len(out) > MAX_PER_CHUNK:
            raise ValueError(f"not-available window cron {cron!r} fires too often "
                             f"(more than {MAX_PER_CHUNK} times in 28 days)")


def expand(windows: Iterable[tuple[str, int]], tz: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Merged ``[start, end)`` instances of ``windows`` that overlap ``[lo, hi)``, in time order.

    Instances that overlap or touch are merged, so the result is a set of disjoint intervals.
    """
    raw: list[tuple[int, int]] = []
    for cron, dur in windows:
        first = (lo - dur) // CHUNK
        last = (hi - 1) // CHUNK
        for k in range(first, last + 1):
            raw.extend((s, s + dur) for s in expand_chunk(cron, tz, k) if s < hi and s + dur > lo)
    raw.sort()
    merged: list[tuple[int, int]] = []
    for s, e in raw:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


class WindowIndex:
    """Per-policy merged not-available windows over a lazily grown range of chunks.

    ``starts(pid)``/``ends(pid)`` are parallel sorted lists of disjoint intervals that are complete for every
    query inside ``[lo, hi)`` after :meth:`ensure` (and possibly beyond).
    """

    def __init__(self, tz: str = "UTC") -> None:
        zone(tz)
        self.tz = tz
        self._exprs: dict[int, tuple[tuple[str, int], ...]] = {}
        self._lo = 0
        self._hi = 0
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        self.version = 0

    def set(self, policies: Sequence[tuple[int, Sequence[str]]]) -> None:
        """Replace the window expressions of every policy (validating them all first)."""
        exprs = {pid: tuple(parse_window(w) for w in ws) for pid, ws in policies if ws}  # validates frequency too
        self._exprs = exprs
        self._lo = self._hi = 0
        self._starts = {pid: [] for pid in exprs}
        self._ends = {pid: [] for pid in exprs}
        self.version += 1

    @property
    def policies(self) -> tuple[int, ...]:
        """Ids of the policies that have windows."""
        return tuple(self._exprs)

    def ensure(self, lo: int, hi: int) -> bool:
        """Make the index complete for queries within ``[lo, hi)``. Returns True when it changed."""
        if not self._exprs or (self._lo < self._hi and self._lo <= lo and hi <= self._hi):
            return False
        if self._lo < self._hi:
            lo, hi = min(lo, self._lo), max(hi, self._hi)
        lo = (lo // CHUNK) * CHUNK
        hi = -(-hi // CHUNK) * CHUNK
        for pid, parsed in self._exprs.items():
            merged = expand(parsed, self.tz, lo, hi)
            self._starts[pid] = [s for s, _ in merged]
            self._ends[pid] = [e for _, e in merged]
        self._lo, self._hi = lo, hi
        self.version += 1
        return True

    def starts(self, pid: int) -> list[int]:
        return self._starts.get(pid, [])

    def ends(self, pid: int) -> list[int]:
        return self._ends.get(pid, [])

    def instances(self, pid: int, start: int, end: int) -> list[tuple[int, int]]:
        """The single firings ``[s, s + duration)`` of ``pid``'s expressions that overlap ``[start, end)``.

        Used to explain refusals: unlike the merged windows the index keeps for decisions (whose ends depend on
        how far the index has grown), an instance is the same whatever was asked before.
        """
        out: set[tuple[int, int]] = set()
        for cron, dur in self._exprs.get(pid, ()):
            for k in range((start - dur) // CHUNK, (end - 1) // CHUNK + 1):
                out.update((s, s + dur) for s in expand_chunk(cron, self.tz, k) if s < end and s + dur > start)
        return sorted(out)

    def overlapping(self, pid: int, start: int, end: int) -> list[tuple[int, int]]:
        """Merged windows of ``pid`` that overlap ``[start, end)`` (call :meth:`ensure` first)."""
        ends = self._ends.get(pid)
        if not ends:
            return []
        starts = self._starts[pid]
        i = bisect.bisect_right(ends, start)
        out = []
        while i < len(starts) and starts[i] < end:
            out.append((starts[i], ends[i]))
            i += 1
        return out
