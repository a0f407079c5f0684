"""Tests for igor._sched._windows: window syntax, cron expansion (DST, month ends), merging and the lazy index,
and how both engines apply windows (half-open, before-the-range instances, time zones)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model import cron_instances, merge

from igor._sched import Conflict, Policy, Slot, parse_window
from igor._sched._windows import CHUNK, WindowIndex, expand, expand_chunk

DENVER = "America/Denver"


def minute(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    """UTC epoch minute of a UTC wall-clock time."""
    return int(datetime(y, mo, d, h, mi, tzinfo=timezone.utc).timestamp()) // 60


def windows(exprs: list[str], tz: str, lo: int, hi: int) -> list[tuple[int, int]]:
    return expand([parse_window(e) for e in exprs], tz, lo, hi)


# ------------------------------------------------------------------------------------ parse_window
@pytest.mark.parametrize(("expr", "parsed"), [
    ("0 0 * * 6:2d", ("0 0 * * 6", 2 * 24 * 60)),
    ("  0   0 * *  6 :2d", ("0 0 * * 6", 2 * 24 * 60)),      # whitespace is normalised
    ("*/20 * * * *:7", ("*/20 * * * *", 7)),
    ("0 * * * *:15m", ("0 * * * *", 15)),
    ("0 17 * * 1-5:1h30m", ("0 17 * * 1-5", 90)),
    ("0 0 1 * *:1d12h", ("0 0 1 * *", 36 * 60)),
    ("@weekly:1h", ("@weekly", 60)),
    ("@daily:30", ("@daily", 30)),
    ("@hourly:5m", ("@hourly", 5)),
])
def test_parse_window_accepts(expr: str, parsed: tuple[str, int]) -> None:
    assert parse_window(expr) == parsed


@pytest.mark.parametrize("expr", [
    "0 0 * * 6",             # no colon, no duration
    "0 0 * * * 6:1h",        # 6-field cron (seconds or year field)
    "0 0 * *:1h",            # 4 fields
    "61 0 * * *:1h",         # minute out of range
    "0 0 * * 6:xyz",         # bad duration
    "0 0 * * 6:d5h",         # a 'd' without a day count
    "0 0 * * 6:-1h",         # negative
    "0 0 * * 6:0",           # zero duration
    "0 0 * * 6:0m",
    "0 0 * * 6:20s",         # rounds to zero minutes
    "0 0 * * 6:",            # empty duration
    ":1h",                   # empty cron
    "@reboot:1h",            # not a time
    "@fortnightly:1h",       # unknown descriptor
])
def test_parse_window_rejects(expr: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_window(expr)
    assert repr(expr) in str(exc.value) or "window" in str(exc.value)


def test_parse_window_rejects_non_strings() -> None:
    with pytest.raises(ValueError):
        parse_window(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("cron", ["* * * * *", "*/2 * * * *", "* 0-7 * * *", "*/3 * * * 1-5", "* * * 6 *"])
def test_too_frequent_cron_rejected(cron: str) -> None:
    # a "window" starting every minute or two (even if only some hours, days or months) is a mistake
    index = WindowIndex("UTC")
    with pytest.raises(ValueError, match="fires"):
        index.set([(1, [f"{cron}:1"])])
    assert index.policies == ()


def test_too_frequent_seasonal_cron_rejected_when_set(Engine: type) -> None:
    # Every minute of June fires 40320 times in a 28-day chunk: like '* * * * *' it must be refused when the
    # policies are set ("validate frequency now, not at the first query"), not accepted and then make every query
    # in June raise.
    june = minute(2026, 6, 10)
    e = Engine(1)
    try:
        e.set_policies([Policy(1, windows=("* * * 6 *:1",))], [1])
    except ValueError:
        return
    e.check([0], june, june + 10)       # accepted: then queries in June must work
    e.find(1, june, june + 10)


def test_every_five_minutes_is_allowed() -> None:
    index = WindowIndex("UTC")
    index.set([(1, ["*/5 * * * *:1"])])
    index.ensure(0, 60)
    assert index.overlapping(1, 0, 11) == [(0, 1), (5, 6), (10, 11)]


def test_engine_refuses_too_frequent_windows_and_keeps_its_policies(Engine: type) -> None:
    e = Engine(2)
    e.set_policies([Policy(1, max_time=10)], [1, None])
    with pytest.raises(ValueError):
        e.set_policies([Policy(2, windows=("* * * * *:1",))], [2, 2])
    with pytest.raises(ValueError):
        e.set_policies([Policy(2, windows=("0 0 * * *",))], [2, 2])
    assert e.check([0], 0, 20) == Conflict(too_long=(0,))   # the old policy still applies
    assert e.check([1], 0, 20) is None


# ------------------------------------------------------------------------------------ expansion
def test_dst_march_2026_denver() -> None:
    # 17:00 MST (UTC-7) is 00:00 UTC the next day; from Sunday 8 March 2026 it is 17:00 MDT (UTC-6) = 23:00 UTC.
    got = windows(["0 17 * * *:2h"], DENVER, minute(2026, 3, 6), minute(2026, 3, 10))
    assert got == [
        (minute(2026, 3, 6), minute(2026, 3, 6, 2)),           # Thu 5 Mar 17:00 MST
        (minute(2026, 3, 7), minute(2026, 3, 7, 2)),           # Fri 6 Mar
        (minute(2026, 3, 8), minute(2026, 3, 8, 2)),           # Sat 7 Mar, the last MST evening
        (minute(2026, 3, 8, 23), minute(2026, 3, 9, 1)),       # Sun 8 Mar 17:00 MDT
        (minute(2026, 3, 9, 23), minute(2026, 3, 10, 1)),
    ]


def test_dst_november_2026_denver() -> None:
    # back to MST on Sunday 1 November 2026: 17:00 local moves from 23:00 UTC to 00:00 UTC the next day
    got = windows(["0 17 * * *:2h"], DENVER, minute(2026, 10, 30), minute(2026, 11, 3))
    assert got == [
        (minute(2026, 10, 29, 23), minute(2026, 10, 30, 1)),   # Thu 29 Oct 17:00 MDT, still overlapping lo
        (minute(2026, 10, 30, 23), minute(2026, 10, 31, 1)),
        (minute(2026, 10, 31, 23), minute(2026, 11, 1, 1)),    # Sat 31 Oct, the last MDT evening
        (minute(2026, 11, 2), minute(2026, 11, 2, 2)),         # Sun 1 Nov 17:00 MST
    ]


def test_day_long_window_keeps_its_length_across_dst() -> None:
    # days are 24 h: a one-day window starting at local midnight ends at 23:00 local on the short day
    got = windows(["0 0 8 3 *:1d"], DENVER, minute(2026, 3, 1), minute(2026, 3, 20))
    assert got == [(minute(2026, 3, 8, 7), minute(2026, 3, 9, 7))]   # 00:00 MST = 07:00 UTC, +24 h


def test_month_ends() -> None:
    got = windows(["0 0 31 * *:1d"], "UTC", minute(2026, 1, 1), minute(2027, 1, 1))
    assert [datetime.fromtimestamp(s * 60, timezone.utc).month for s, _ in got] == [1, 3, 5, 7, 8, 10, 12]
    assert all(e - s == 24 * 60 for s, e in got)
    assert got[1] == (minute(2026, 3, 31), minute(2026, 4, 1))


def test_february_29_only_in_leap_years() -> None:
    got = windows(["0 0 29 2 *:1h"], "UTC", minute(2026, 1, 1), minute(2030, 1, 1))
    assert got == [(minute(2028, 2, 29), minute(2028, 2, 29, 1))]


def test_instance_started_before_the_range_is_found() -> None:
    lo = minute(2026, 5, 5, 1)
    assert windows(["0 0 * * *:3h"], "UTC", lo, lo + 30) == [(minute(2026, 5, 5), minute(2026, 5, 5, 3))]
    assert windows(["0 0 * * *:1h"], "UTC", lo, lo + 30) == []          # ended exactly at lo
    assert windows(["0 0 * * *:1h"], "UTC", lo - 1, lo) == [(lo - 60, lo)]


def test_instance_from_the_previous_chunk_is_found() -> None:
    boundary = 1000 * CHUNK                                   # chunks start at midnight UTC
    index = WindowIndex("UTC")
    index.set([(7, ["0 23 * * *:3h"])])                       # 23:00 -> 02:00, across the chunk boundary
    index.ensure(boundary, boundary + 60)
    assert index.overlapping(7, boundary, boundary + 60) == [(boundary - 60, boundary + 120)]
    assert expand_chunk("0 23 * * *", "UTC", 999)[-1] == boundary - 60


def test_overlapping_instances_merge() -> None:
    lo = minute(2026, 5, 5)
    assert windows(["0 * * * *:30", "15 * * * *:30"], "UTC", lo, lo + 120) == [(lo, lo + 45), (lo + 60, lo + 105)]
    # touching instances merge too
    assert windows(["0 * * * *:30", "30 * * * *:10"], "UTC", lo, lo + 60) == [(lo, lo + 40)]
    # a one-minute gap keeps them apart
    assert windows(["0 * * * *:30", "31 * * * *:10"], "UTC", lo, lo + 60) == [(lo, lo + 30), (lo + 31, lo + 41)]
    # one expression whose instances overlap each other: one hour every 20 minutes -> a single stretch
    assert windows(["0 10 * * *:10", "*/20 10 * * *:25"], "UTC", lo, lo + 24 * 60) == [
        (lo + 600, lo + 665)]


def test_reported_window_does_not_depend_on_earlier_queries(Engine: type) -> None:
    # "Wed 18:00 for a day" and "Thu 18:00 for an hour" touch. Chunks start on Thursdays 00:00 UTC; a query just
    # before such a boundary expands only the chunk before it, so a merged window would be reported as ending at
    # Thu 18:00 until some query after the boundary grows the index. Refusals therefore name the single firing
    # that overlaps (Wed 18:00 - Thu 18:00), which is the same whatever was asked before.
    boundary = 729 * CHUNK                                       # Thu 2025-11-20 00:00 UTC
    wed_18, thu_18 = boundary - 6 * 60, boundary + 18 * 60
    e = Engine(1)
    e.set_policies([Policy(1, windows=("0 18 * * 3:1d", "0 18 * * 4:1h"))], [1])
    first = e.check([0], boundary - 60, boundary - 59)
    e.check([0], boundary + 60, boundary + 61)
    again = e.check([0], boundary - 60, boundary - 59)
    assert again == Conflict(unavailable=(0,), windows=((1, wed_18, thu_18),))
    assert first == again
    # a request spanning both firings names both
    both = e.check([0], thu_18 - 5, thu_18 + 5)
    assert both is not None and both.windows == ((1, wed_18, thu_18), (1, thu_18, thu_18 + 60))


def test_index_growth_keeps_answers() -> None:
    exprs = ["*/20 * * * *:7", "0 17 * * *:2h", "0 0 * * 6:2d"]
    base = minute(2026, 2, 20)
    queries = [(base + k * 97, base + k * 97 + 45 + k) for k in range(40)]
    index = WindowIndex(DENVER)
    index.set([(1, exprs[:1]), (2, exprs[1:]), (3, [])])
    assert index.ensure(base, base + 60)
    assert not index.ensure(base + 5, base + 50)             # already covered
    before = {(pid, q): index.overlapping(pid, *q) for pid in (1, 2, 3) for q in queries if q[1] <= base + 60}
    assert index.ensure(base - 5 * CHUNK, base + 6 * CHUNK)  # grow on both sides, several chunks
    for (pid, q), got in before.items():
        assert index.overlapping(pid, *q) == got
    fresh = WindowIndex(DENVER)
    fresh.set([(1, exprs[:1]), (2, exprs[1:]), (3, [])])
    fresh.ensure(base - 5 * CHUNK, base + 6 * CHUNK)
    far = queries + [(base - 4 * CHUNK + 11, base - 4 * CHUNK + 3000), (base + 5 * CHUNK, base + 5 * CHUNK + 5000)]
    for pid, pexprs in ((1, exprs[:1]), (2, exprs[1:])):
        for q in far:
            assert index.overlapping(pid, *q) == fresh.overlapping(pid, *q) == windows(pexprs, DENVER, *q)
    assert all(index.overlapping(3, *q) == [] for q in far)


def test_index_set_resets() -> None:
    index = WindowIndex("UTC")
    index.set([(1, ["0 0 * * *:1h"])])
    index.ensure(0, 3 * 24 * 60)
    assert index.overlapping(1, 0, 3 * 24 * 60) == [(0, 60), (1440, 1500), (2880, 2940)]
    index.set([(1, ["0 12 * * *:1h"])])
    index.ensure(0, 3 * 24 * 60)
    assert index.overlapping(1, 0, 24 * 60) == [(720, 780)]
    with pytest.raises(ValueError):
        WindowIndex("Mars/Olympus_Mons")


EXPRS = ["*/20 * * * *:7", "0 * * * *:15", "30 */2 * * *:45", "0 17 * * *:2h", "0 0 * * 6:2d", "0 0 31 * *:1d",
         "15 2 * * *:1h", "30 1 * * 0:90", "@weekly:1h", "0 9-17 * * 1-5:20"]


@settings(max_examples=60, deadline=None)
@given(exprs=st.lists(st.sampled_from(EXPRS), min_size=1, max_size=3, unique=True),
       tz=st.sampled_from(["UTC", DENVER, "Europe/Paris", "Australia/Lord_Howe"]),
       lo=st.integers(minute(2025, 1, 1), minute(2028, 12, 31)), span=st.integers(1, 4 * 24 * 60))
def test_chunked_expansion_matches_croniter_directly(exprs: list[str], tz: str, lo: int, span: int) -> None:
    hi = lo + span
    parsed = [parse_window(e) for e in exprs]
    # expand() merges the instances that overlap [lo, hi) ...
    direct = merge(iv for cron, dur in parsed for iv in cron_instances(cron, dur, tz, lo, hi))
    assert expand(parsed, tz, lo, hi) == direct
    # ... while the index merges over whole chunks, so a window may extend through touching neighbours
    wide = merge(iv for cron, dur in parsed for iv in cron_instances(cron, dur, tz, lo - 3000, hi + 3000))
    index = WindowIndex(tz)
    index.set([(5, exprs)])
    index.ensure(lo, hi)
    assert index.overlapping(5, lo, hi) == [(s, e) for s, e in wide if s < hi and e > lo]


# ------------------------------------------------------------------------- windows in the engines
W0 = minute(2026, 5, 5, 10)          # "0 10 * * *:1h" -> [W0, W1)
W1 = W0 + 60


def windowed(Engine: type, **kw: object) -> object:
    e = Engine(3, **kw)
    e.set_policies([Policy(4, windows=("0 10 * * *:1h",))], [4, 4, None])
    return e


def test_half_open_windows(Engine: type) -> None:
    e = windowed(Engine)
    assert e.check([0], W0 - 30, W0) is None                      # ends exactly where the window starts
    assert e.check([0], W1, W1 + 30) is None                      # starts exactly where it ends
    hit = Conflict(unavailable=(0,), windows=((4, W0, W1),))
    assert e.check([0], W0 - 30, W0 + 1) == hit
    assert e.check([0], W1 - 1, W1 + 30) == hit
    assert e.check([0, 1, 2], W0 + 10, W0 + 20) == Conflict(unavailable=(0, 1), windows=((4, W0, W1),))
    assert e.check([0], W0 + 10, W0 + 20, elevated=True) is None
    assert e.find(3, W0 - 30, W0) == [0, 1, 2]
    assert e.find(3, W1, W1 + 5) == [0, 1, 2]
    assert e.find(1, W0 - 30, W0 + 1) == [2]
    assert e.find(2, W0 - 30, W0 + 1) is None
    assert e.find(2, W0 - 30, W0 + 1, elevated=True) == [0, 1]


def test_half_open_windows_and_pad(Engine: type) -> None:
    # the pad only keeps reservations apart: it does not reach into a window
    e = windowed(Engine, pad=15)
    assert e.check([0], W0 - 30, W0) is None
    e.add(1, [0], W0 - 30, W0)
    assert e.reservation(1) == ((0,), W0 - 30, W0, W0 + 15)


def test_extension_into_a_window(Engine: type) -> None:
    e = windowed(Engine)
    e.add(1, [0], W0 - 30, W0 - 10)
    assert e.check_extend(1, W0, now=W0 - 60) is None
    assert e.check_extend(1, W0 + 1, now=W0 - 60) == Conflict(unavailable=(0,), windows=((4, W0, W1),))
    assert e.check_extend(1, W0 + 1, now=W0 - 60, elevated=True) is None
    assert e.max_end(1, now=W0 - 60, cap=W0 + 500) == W0
    assert e.max_end(1, now=W0 - 60, cap=W0 + 500, elevated=True) == W0 + 500
    e.add(2, [1], W1, W1 + 10)                                    # starts exactly at the window's end
    assert e.reservation(2)[1] == W1


def test_window_in_progress_at_the_query_start(Engine: type) -> None:
    e = windowed(Engine)
    assert e.check([1], W0 + 59, W0 + 70) == Conflict(unavailable=(1,), windows=((4, W0, W1),))
    assert e.speculate(10, W0 + 30, W0 + 120, hosts=[1]) == [Slot(W1, W0 + 120, (1,))]


def test_engine_time_zone(Engine: type) -> None:
    e = Engine(1, tz=DENVER)
    e.set_policies([Policy(1, windows=("0 17 * * *:2h",))], [1])
    winter, summer = minute(2026, 3, 8), minute(2026, 3, 8, 23)   # 17:00 MST / 17:00 MDT, in UTC
    assert e.check([0], winter, winter + 1) == Conflict(unavailable=(0,), windows=((1, winter, winter + 120),))
    assert e.check([0], winter + 120, summer) is None
    assert e.check([0], summer - 1, summer + 1) == Conflict(unavailable=(0,), windows=((1, summer, summer + 120),))
    assert e.find(1, winter + 120, summer) == [0]
    with pytest.raises(ValueError):
        Engine(1, tz="Nowhere/Special")
