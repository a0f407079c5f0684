"""Usage statistics from the reservation history — ``GET /igor/stats``, ``igor stats`` (reference §8.1, SPEC §7).

The window is ``[end − duration days, end]``: ``end`` is the ``start`` parameter (a day, ``2021-Jan-02`` as in Igor
v2 or ISO ``2021-01-02``, meaning that day's 00:00 UTC — v2's "latest point of the window") or now; ``duration``
is 7 days by default and 0 means "from the beginning". Unlike v2, which applied its query parameters in Go's
random map order (so ``duration`` was sometimes counted back from *now* before ``start`` moved the end), the end
is always fixed first.

The records are the history rows written in the window; the last one of each reservation (its hash) is that
reservation's summary. A reservation that runs into the window without writing a record in it (made before, ending
after the window starts) counts too, from its last earlier record — v2 left it out. A reservation starting after
the window's end is left out, and times are clipped to the window. Per owner, as v2: ``ResCount``,
``NodesUsedCount`` (hosts of each summary, not unique), ``CancelledEarly``, ``NumExtensions`` and
``TotalResTime`` (wall time). Added here: ``NodeHours``, hosts × hours inside the window,
following the host list through drops and additions (each host change writes a history row).

The JSON keeps v2's ``StatsData`` shape and keys (``option``, ``verbose``, ``start``, ``end``, ``records``,
``by_user``, ``global``; Go field names inside, times as RFC 3339, ``TotalResTime`` in nanoseconds as Go encodes a
``time.Duration``), so v2's clients can read it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pony.orm import db_session, select

from igor.errors import BadInput
from igor.services.context import Principal, ServiceContext, naive, require_elevated
from igor.services.history import DELETED
from igor.timefmt import from_minutes, parse_datetime_dt, to_minutes

#: Days the window spans when the caller does not say (v2's default).
DEFAULT_DAYS = 7
#: Longest window accepted, in days (100 years; longer is a typo, and would overflow datetime arithmetic).
MAX_DAYS = 36525
#: The only stats option Igor v2 ever had.
OPTIONS = ("default",)

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), start=1)}
_V2_DAY = re.compile(r"(\d{4})-([A-Za-z]{3})-(\d{1,2})", re.ASCII)
_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})", re.ASCII)
#: Go's zero ``time.Time``: v2's window start for "all history".
_GO_ZERO = "0001-01-01T00:00:00Z"
_NS_PER_MINUTE = 60 * 10**9


def parse_day(text: str) -> datetime:
    """The ``start`` parameter: ``2021-Jan-02`` (v2), ``2021-01-02``, or a datetime Igor reads elsewhere
    (``Jan-2-21T15:04``, ISO 8601 with a time), as an aware UTC datetime (a day means its 00:00 UTC).

    Raises:
        BadInput: none of those, or no such day.
    """
    value = text.strip()
    day = _day(value)
    if day is not None:
        try:
            return datetime(*day, tzinfo=UTC)
        except ValueError:
            raise BadInput(f"invalid parameter 'start': '{text}' is not a date (no such day)") from None
    try:
        return parse_datetime_dt(value).astimezone(UTC)
    except BadInput:
        raise BadInput(f"invalid parameter 'start': '{text}' is not a date: use 2006-Jan-02 (e.g. 2021-Jan-02) or "
                       "2006-01-02") from None


def _day(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) of ``2021-Jan-02`` or ``2021-01-02`` (month 0: not a month name), else None."""
    if match := _V2_DAY.fullmatch(text):
        return int(match[1]), _MONTHS.get(match[2].lower(), 0), int(match[3])
    if match := _ISO_DAY.fullmatch(text):
        return int(match[1]), int(match[2]), int(match[3])
    return None


def _rfc3339(value: datetime | int) -> str:
    """Go's RFC 3339 rendering of a UTC instant (``time.Time`` in JSON); ints are epoch minutes."""
    moment = from_minutes(value) if isinstance(value, int) else value.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hosts(text: str | None) -> tuple[str, ...]:
    # comma lists (v2 and Igor); older Igor rows used spaces
    return tuple(h for h in re.split(r"[,\s]+", text or "") if h)


@dataclass(frozen=True)
class HistoryEntry:
    """One history row (v2's ``ResHistory``), with when it was written."""

    order: int
    hash: str
    status: str
    name: str
    owner: str
    group: str
    profile: str
    distro: str
    vlan: int
    start: int
    end: int
    orig_end: int
    extend_count: int
    hosts: tuple[str, ...]
    created: datetime  # aware UTC

    def to_json(self) -> dict[str, Any]:
        return {"Order": self.order, "Hash": self.hash, "Status": self.status, "Name": self.name,
                "Owner": self.owner, "ResGroup": self.group, "Profile": self.profile, "Distro": self.distro,
                "Vlan": self.vlan, "Start": _rfc3339(self.start), "End": _rfc3339(self.end),
                "OrigEnd": _rfc3339(self.orig_end), "ExtendCount": self.extend_count, "Hosts": ",".join(self.hosts),
                "Created": _rfc3339(self.created)}


@dataclass(frozen=True)
class Summary:
    """One reservation in the window: its last record there and what it used inside the window."""

    record: HistoryEntry
    minutes: int
    node_minutes: int
    cancelled_early: bool

    def to_json(self) -> dict[str, Any]:
        return {**self.record.to_json(), "NodeHours": _hours(self.node_minutes)}


@dataclass(frozen=True)
class UsageCount:
    """v2's ``ResStatCount`` for one owner or for everyone, plus node-hours."""

    unique_users: int
    res_count: int
    nodes_used: int
    cancelled_early: int
    extensions: int
    minutes: int
    node_minutes: int
    entries: tuple[Summary, ...] = ()

    @property
    def node_hours(self) -> float:
        return _hours(self.node_minutes)

    def to_json(self) -> dict[str, Any]:
        return {"UniqueUsers": self.unique_users, "NodesUsedCount": self.nodes_used, "ResCount": self.res_count,
                "CancelledEarly": self.cancelled_early, "NumExtensions": self.extensions,
                "TotalResTime": self.minutes * _NS_PER_MINUTE, "NodeHours": self.node_hours,
                "Entries": [e.to_json() for e in self.entries]}


@dataclass(frozen=True)
class StatsView:
    """The answer of one stats request (v2's ``StatsData``)."""

    option: str
    verbose: bool
    start: datetime | None  # None: from the beginning
    end: datetime
    records: tuple[HistoryEntry, ...]
    by_user: tuple[tuple[str, UsageCount], ...]
    total: UsageCount

    def to_json(self) -> dict[str, Any]:
        return {"option": self.option, "verbose": self.verbose,
                "start": _rfc3339(self.start) if self.start is not None else _GO_ZERO, "end": _rfc3339(self.end),
                "records": [r.to_json() for r in self.records],
                "by_user": {user: count.to_json() for user, count in self.by_user},
                "global": self.total.to_json()}


def _hours(node_minutes: int) -> float:
    return round(node_minutes / 60, 2)


class StatsService:
    """``igor stats``: admins only (v2's ``stats:*:view`` is held by no user; the CLI calls it admin-only)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def window(self, start: str | None, duration: int | None) -> tuple[datetime | None, datetime]:
        """The window ``(first, last)`` (aware UTC; ``first`` None: from the beginning): ``start`` fixes the end
        first, then ``duration`` counts back from it — whatever order the caller gave them in.

        Raises:
            BadInput: ``start`` is not a date; ``duration`` is negative or longer than :data:`MAX_DAYS`.
        """
        end = parse_day(start) if start is not None else self.ctx.now().astimezone(UTC)
        days = DEFAULT_DAYS if duration is None else duration
        if days < 0:
            raise BadInput(f"invalid value received for stats duration: {days}")
        if days > MAX_DAYS:
            raise BadInput(f"invalid value received for stats duration: {days} (at most {MAX_DAYS} days; 0 means "
                           "all history)")
        if days == 0:
            return None, end
        try:
            return end - timedelta(days=days), end
        except OverflowError:
            raise BadInput(f"invalid value received for stats duration: {days} (reaches before year 1; 0 means "
                           "all history)") from None

    @db_session
    def stats(self, principal: Principal, *, start: str | None = None, duration: int | None = None,
              verbose: bool = False, option: str | None = None) -> StatsView:
        """Usage in the window (see the module docstring).

        Args:
            start: the window's last day (``2021-Jan-02`` or ``2021-01-02``), default now.
            duration: days back from ``start`` (default 7; 0 = all history).
            verbose: also return the raw records and each owner's reservations.
            option: v2's ``option``; only ``default``.

        Raises:
            Forbidden: the caller is not an elevated admin.
            BadInput: a bad ``start``, ``duration`` or ``option``.
        """
        require_elevated(principal)
        if option is not None and option not in OPTIONS:
            raise BadInput(f"invalid parameter 'option': '{option}' is not a stats option (only 'default')")
        first, last = self.window(start, duration)
        records = self._records(first, last)
        lo, hi = (to_minutes(first) if first is not None else None), to_minutes(last)
        summaries = {r.hash: r for r in records}  # the last record of each reservation in the window
        timelines = self._timelines(first, last, records)
        for rec in self._carried(first, last, set(summaries)):  # running through the window, no event in it
            summaries[rec.hash] = rec
            timelines[rec.hash] = [rec]
        by_user: dict[str, list[Summary]] = defaultdict(list)
        for rec in summaries.values():
            if rec.start > hi:  # starts after the window: not counted (v2)
                continue
            span_start = rec.start if lo is None else max(rec.start, lo)
            span_end = max(span_start, min(rec.end, hi))
            timeline = timelines.get(rec.hash) or [rec]
            by_user[rec.owner].append(Summary(
                rec, span_end - span_start, _node_minutes(timeline, span_start, span_end),
                rec.status == DELETED and _before_end(rec, timeline)))
        counts = {user: _count(items, verbose) for user, items in sorted(by_user.items())}
        total = UsageCount(
            unique_users=len(counts), res_count=sum(c.res_count for c in counts.values()),
            nodes_used=sum(c.nodes_used for c in counts.values()),
            cancelled_early=sum(c.cancelled_early for c in counts.values()),
            extensions=sum(c.extensions for c in counts.values()), minutes=sum(c.minutes for c in counts.values()),
            node_minutes=sum(c.node_minutes for c in counts.values()))
        return StatsView(option or OPTIONS[0], verbose, first, last, tuple(records) if verbose else (),
                         tuple(counts.items()), total)

    def _records(self, first: datetime | None, last: datetime) -> list[HistoryEntry]:
        db = self.ctx.db
        hi = naive(last)
        if first is None:
            rows = select(h for h in db.HistoryRecord if h.created <= hi)
        else:
            lo = naive(first)
            rows = select(h for h in db.HistoryRecord if h.created >= lo and h.created <= hi)
        return [_entry(i, h) for i, h in enumerate(rows.order_by(db.HistoryRecord.created, db.HistoryRecord.id),
                                                   start=1)]

    def _carried(self, first: datetime | None, last: datetime, seen: set[str]) -> list[HistoryEntry]:
        """The last record, from before the window, of each reservation that runs into the window without
        writing a record in it (v2 left these out: a week-long reservation made the week before counted as no
        use at all)."""
        if first is None:
            return []
        db = self.ctx.db
        lo, lo_m, hi_m = naive(first), to_minutes(first), to_minutes(last)
        rows = select(h for h in db.HistoryRecord if h.created < lo and h.hash in select(
            w.hash for w in db.HistoryRecord if w.created < lo and w.start < hi_m and w.end > lo_m))
        latest: dict[str, Any] = {}
        for h in rows.order_by(db.HistoryRecord.created, db.HistoryRecord.id):
            latest[h.hash] = h
        return [_entry(0, h) for key, h in sorted(latest.items())
                if key not in seen and h.start < hi_m and h.end > lo_m]

    def _timelines(self, first: datetime | None, last: datetime,
                   records: list[HistoryEntry]) -> dict[str, list[HistoryEntry]]:
        """Every record up to the window's end of the reservations with a record in the window, oldest first: how
        their hosts changed (for node-hours) and what each was scheduled to end at before it was deleted."""
        out: dict[str, list[HistoryEntry]] = defaultdict(list)
        if first is None:  # all history: the records are the timelines
            for rec in records:
                out[rec.hash].append(rec)
            return out
        db = self.ctx.db
        lo, hi = naive(first), naive(last)
        # a subquery, not a list of hashes: a long window can name more reservations than SQL parameters allow
        rows = select(h for h in db.HistoryRecord if h.created <= hi and h.hash in select(
            w.hash for w in db.HistoryRecord if w.created >= lo and w.created <= hi))
        for h in rows.order_by(db.HistoryRecord.created, db.HistoryRecord.id):
            out[h.hash].append(_entry(0, h))
        return out


def _entry(order: int, h: Any) -> HistoryEntry:
    return HistoryEntry(order, h.hash, h.status, h.name, h.owner or "", h.group or "", h.profile or "",
                        h.distro or "", h.vlan, h.start, h.end, h.orig_end, h.extend_count, _hosts(h.hosts),
                        h.created.replace(tzinfo=UTC))


def _node_minutes(timeline: list[HistoryEntry], start: int, end: int) -> int:
    """Hosts × minutes over ``[start, end)``: at each moment, the hosts of the latest record written by then
    (before the first record, the first record's hosts)."""
    total = 0
    count = len(timeline[0].hosts)
    at = start
    for rec in timeline[1:]:
        written = to_minutes(rec.created)
        if written >= end:
            break
        if written > at:
            total += count * (written - at)
            at = written
        count = len(rec.hosts)
    return total + count * max(0, end - at)


def _before_end(deleted: HistoryEntry, timeline: list[HistoryEntry]) -> bool:
    """Whether a deletion came before the reservation's scheduled end (the end of the record before it; a
    deletion records ``min(end, now)``, so it ended early exactly when that is earlier)."""
    before = [r for r in timeline if r.status != DELETED and r.created <= deleted.created]
    return not before or deleted.end < before[-1].end


def _count(items: list[Summary], verbose: bool) -> UsageCount:
    ordered = sorted(items, key=lambda s: (s.record.start, s.record.name))
    return UsageCount(
        unique_users=1, res_count=len(items), nodes_used=sum(len(s.record.hosts) for s in items),
        cancelled_early=sum(s.cancelled_early for s in items), extensions=sum(s.record.extend_count for s in items),
        minutes=sum(s.minutes for s in items), node_minutes=sum(s.node_minutes for s in items),
        entries=tuple(ordered) if verbose else ())
