"""Tests for igor.timefmt: durations, datetimes, time zones and minute helpers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from igor.errors import BadInput
from igor.timefmt import (
    MAX_DURATION_MINUTES,
    floor_minute,
    format_datetime,
    format_duration,
    format_server_time,
    from_minutes,
    now_minutes,
    parse_datetime,
    parse_datetime_dt,
    parse_duration,
    resolve_tz,
    round_minute,
    to_minutes,
    utc_now,
)

UTC = timezone.utc
DENVER = ZoneInfo("America/Denver")
BERLIN = ZoneInfo("Europe/Berlin")
ZONES = [
    "UTC",
    "America/Denver",
    "Europe/Berlin",
    "Asia/Kolkata",  # +05:30, no DST
    "America/St_Johns",  # -03:30 with DST
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Pacific/Chatham",  # +12:45 / +13:45
]


def minutes_of(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    *,
    tz: timezone | ZoneInfo = UTC,
    fold: int = 0,
) -> int:
    """Epoch minutes of a wall time in ``tz`` (test oracle built on datetime, not on timefmt)."""
    dt = datetime(year, month, day, hour, minute, tzinfo=tz, fold=fold)
    return int(dt.timestamp()) // 60


# ---------------------------------------------------------------------------------------------
# parse_duration
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("90", 90),
        ("3d", 4320),
        ("5h32m", 332),
        ("12d2m", 12 * 1440 + 2),
        ("1d12h", 2160),
        ("1h30s", 61),  # 61.5 min rounds half up
        ("90s", 2),  # 1.5 min: half away from zero, like Go's Round
        ("89s", 1),
        ("29s", 0),
        ("30s", 1),
        ("1d 12h", 2160),
        (" 3d 21h  9m ", 3 * 1440 + 21 * 60 + 9),  # aligned output parses back
        ("1d\t2h", 1560),
        ("0090", 90),
        ("45m", 45),
        ("2h", 120),
        ("1.5h", 90),
        (".5h", 30),
        ("1h1h", 120),  # Go sums repeated terms
        ("30m1h", 90),  # ...in any order
        ("1d0h0m", 1440),
        ("0", 0),
        ("0m", 0),
        ("0d", 0),
        ("0d0h0m0s", 0),
        ("36525d", MAX_DURATION_MINUTES),
    ],
)
def test_parse_duration(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["empty duration", "5h32m"]),
        ("   ", ["empty duration"]),
        ("abc", ["'abc'", "minutes (90)", "3d"]),
        ("d5h", ["'d5h'", "whole days first"]),  # Igor v2 silently dropped the 'd'
        ("3dd", ["'3dd'"]),
        ("1d1d", ["'1d1d'"]),
        ("5h3d", ["'5h3d'", "whole days first"]),
        ("1.5d", ["'1.5d'"]),
        ("-5", ["'-5'", "negative"]),
        ("-1h", ["negative"]),
        ("1d-5h", ["'1d-5h'"]),
        ("+5", ["'+5'"]),
        ("5ms", ["'5ms'"]),
        ("5us", ["'5us'"]),
        ("5x", ["'5x'"]),
        ("h", ["'h'"]),
        (".h", ["'.h'"]),
        ("5 h 3", ["'5 h 3'"]),
        ("٣", ["'٣'"]),  # non-ASCII digits are not numbers here
        ("٣d", ["'٣d'"]),
        ("36526d", ["100 years", "36525d"]),
        ("99999999999999999999", ["100 years"]),
        ("876600h1m", ["100 years"]),
        ("1" * 80, ["too long"]),
    ],
)
def test_parse_duration_rejects(text: str, words: list[str]) -> None:
    with pytest.raises(BadInput) as info:
        parse_duration(text)
    assert isinstance(info.value, ValueError)
    assert info.value.status == 400
    for word in words:
        assert word in str(info.value)


@given(st.integers(min_value=0, max_value=MAX_DURATION_MINUTES), st.booleans())
@example(0, False)
@example(1440, True)
@example(MAX_DURATION_MINUTES, True)
def test_duration_round_trip(minutes: int, align: bool) -> None:
    assert parse_duration(format_duration(minutes, align=align)) == minutes


@given(st.integers(0, 999), st.integers(0, 99), st.integers(0, 99), st.integers(0, 9999))
def test_parse_duration_composed(days: int, hours: int, mins: int, secs: int) -> None:
    text = f"{days}d{hours}h{mins}m{secs}s"
    total_seconds = ((days * 24 + hours) * 60 + mins) * 60 + secs
    assert parse_duration(text) == (total_seconds + 30) // 60


@given(st.text(max_size=30))
def test_parse_duration_only_raises_bad_input(text: str) -> None:
    try:
        result = parse_duration(text)
    except BadInput:
        return
    assert 0 <= result <= MAX_DURATION_MINUTES


# ---------------------------------------------------------------------------------------------
# format_duration
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "plain", "aligned"),
    [
        (3 * 1440 + 21 * 60 + 9, "3d21h9m", "3d 21h  9m"),
        (0, "0m", "0m"),
        (9, "9m", "9m"),
        (45, "45m", "45m"),
        (60, "1h0m", "1h  0m"),
        (125, "2h5m", "2h  5m"),
        (21 * 60 + 9, "21h9m", "21h  9m"),
        (1440, "1d0h0m", "1d  0h  0m"),
        (1445, "1d0h5m", "1d  0h  5m"),
        (12 * 1440 + 2, "12d0h2m", "12d  0h  2m"),
        (100 * 1440 + 23 * 60 + 59, "100d23h59m", "100d 23h 59m"),
        (timedelta(days=3, hours=21, minutes=9), "3d21h9m", "3d 21h  9m"),
        (timedelta(seconds=30), "< 1m", "< 1m"),
        (timedelta(microseconds=1), "< 1m", "< 1m"),
        (timedelta(0), "0m", "0m"),
        (timedelta(minutes=1), "1m", "1m"),
        # Sub-minute remainders are dropped; Igor v2 printed "< 1m" here (bug).
        (timedelta(days=3, seconds=10), "3d0h0m", "3d  0h  0m"),
        (timedelta(minutes=9, seconds=59), "9m", "9m"),
    ],
)
def test_format_duration(value: int | timedelta, plain: str, aligned: str) -> None:
    assert format_duration(value) == plain
    assert format_duration(value, align=True) == aligned


@pytest.mark.parametrize("value", [-1, timedelta(seconds=-1), timedelta(days=-1)])
def test_format_duration_rejects_negative(value: int | timedelta) -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(value)


@given(st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=36525)))
def test_format_duration_floors_timedeltas(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value // timedelta(minutes=1)


# ---------------------------------------------------------------------------------------------
# parse_datetime
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("Mar-5-26T08:00", "UTC", minutes_of(2026, 3, 5, 8, 0)),
        ("Mar-05-26T08:00", "UTC", minutes_of(2026, 3, 5, 8, 0)),  # padded day
        ("mar-5-26t08:00", "UTC", minutes_of(2026, 3, 5, 8, 0)),  # any case
        ("MAR-5-26T8:00", "UTC", minutes_of(2026, 3, 5, 8, 0)),  # one-digit hour, as Go
        ("  Jan-2-06T15:04 ", "UTC", minutes_of(2006, 1, 2, 15, 4)),
        ("Dec-31-99T23:59", "UTC", minutes_of(2099, 12, 31, 23, 59)),  # 20yy, not 1999
        ("Jan-1-00T00:00", "UTC", minutes_of(2000, 1, 1, 0, 0)),
        ("Mar-5-26T08:00", None, minutes_of(2026, 3, 5, 8, 0)),  # default zone is UTC
        ("Mar-5-26T08:00", "America/Denver", minutes_of(2026, 3, 5, 15, 0)),
        ("Jul-5-26T08:00", "America/Denver", minutes_of(2026, 7, 5, 14, 0)),
        ("Mar-5-26T08:00", BERLIN, minutes_of(2026, 3, 5, 7, 0)),
        ("Mar-5-26T08:00", timezone(timedelta(hours=-3)), minutes_of(2026, 3, 5, 11, 0)),
        ("2026-03-05T08:00", "UTC", minutes_of(2026, 3, 5, 8, 0)),
        ("2026-03-05 08:00", "UTC", minutes_of(2026, 3, 5, 8, 0)),
        ("2026-03-05t08:00", "UTC", minutes_of(2026, 3, 5, 8, 0)),
        ("2026-03-05T08:00:59", "UTC", minutes_of(2026, 3, 5, 8, 0)),  # seconds truncated
        ("2026-03-05T08:00:59.999", "UTC", minutes_of(2026, 3, 5, 8, 0)),
        ("2026-03-05T08:00:30,5", "UTC", minutes_of(2026, 3, 5, 8, 0)),
        ("2026-03-05T08:00", "America/Denver", minutes_of(2026, 3, 5, 15, 0)),
        # An explicit offset wins over tz.
        ("2026-03-05T08:00Z", "America/Denver", minutes_of(2026, 3, 5, 8, 0)),
        ("2026-03-05T08:00z", "Europe/Berlin", minutes_of(2026, 3, 5, 8, 0)),
        ("2026-03-05T08:00+01:00", "America/Denver", minutes_of(2026, 3, 5, 7, 0)),
        ("2026-03-05 08:00:00+0100", "UTC", minutes_of(2026, 3, 5, 7, 0)),
        ("2026-03-05T08:00-07", "Europe/Berlin", minutes_of(2026, 3, 5, 15, 0)),
        ("2026-03-05T08:00+05:30", "UTC", minutes_of(2026, 3, 5, 2, 30)),
        ("1969-12-31T23:59Z", "UTC", -1),
        ("1970-01-01T00:00:00Z", "UTC", 0),
    ],
)
def test_parse_datetime(text: str, tz: str | timezone | ZoneInfo | None, expected: int) -> None:
    assert parse_datetime(text, tz) == expected


def test_parse_datetime_dt_is_aware_in_tz_on_a_whole_minute() -> None:
    dt = parse_datetime_dt("2026-03-05T08:00:42+01:00", "America/Denver")
    assert dt.tzinfo == DENVER
    assert (dt.hour, dt.minute, dt.second, dt.microsecond) == (0, 0, 0, 0)
    assert to_minutes(dt) == minutes_of(2026, 3, 5, 7, 0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["invalid datetime ''", "Jan-2-06T15:04", "Mar-5-26T08:00", "2026-03-05T08:00"]),
        ("tomorrow", ["'tomorrow'", "Jan-2-06T15:04", "ISO 8601", "2026-03-05T08:00"]),
        ("Mar-5-2026T08:00", ["'Mar-5-2026T08:00'", "Jan-2-06T15:04"]),  # 4-digit year
        ("March-5-26T08:00", ["Jan-2-06T15:04"]),  # full month name
        ("Mar-5-26 08:00", ["Jan-2-06T15:04"]),
        ("Mar-5-26T8", ["Jan-2-06T15:04"]),
        ("Mar-5-26T08:0", ["Jan-2-06T15:04"]),
        ("2026-03-05", ["'2026-03-05'", "2026-03-05T08:00"]),  # a date alone is not an instant
        ("2026-3-5T08:00", ["ISO 8601"]),
        ("26-03-05T08:00", ["ISO 8601"]),
        ("2026-03-05T08:00 +01:00", ["ISO 8601"]),
        ("2026-03-05T08:00EST", ["ISO 8601"]),
        ("Foo-5-26T08:00", ["'Foo-5-26T08:00'", "unknown month 'Foo'", "Jan, Feb"]),
        ("Feb-29-27T00:00", ["'Feb-29-27T00:00'", "Feb 2027 has days 1-28", "not 29"]),
        ("Apr-31-26T00:00", ["Apr 2026 has days 1-30"]),
        ("Jan-0-26T00:00", ["Jan 2026 has days 1-31", "not 0"]),
        ("2027-02-29T00:00", ["Feb 2027 has days 1-28"]),
        ("2100-02-29T00:00", ["Feb 2100 has days 1-28"]),  # century rule
        ("2026-13-01T00:00", ["month 13"]),
        ("2026-00-01T00:00", ["month 0"]),
        ("0000-01-01T00:00", ["year 0"]),
        ("Mar-5-26T24:00", ["00:00-23:59"]),
        ("Mar-5-26T12:60", ["00:00-23:59"]),
        ("2026-03-05T08:00:60", ["seconds 00-59"]),  # no leap seconds
        ("2026-03-05T08:00+24:00", ["UTC offset +24:00", "out of range"]),
        ("2026-03-05T08:00+01:60", ["UTC offset"]),
        ("9999-12-31T23:59-05:00", ["out of the supported range"]),
        ("2026-03-05T08:00" + "0" * 80, ["Jan-2-06T15:04"]),
    ],
)
def test_parse_datetime_rejects(text: str, words: list[str]) -> None:
    with pytest.raises(BadInput) as info:
        parse_datetime(text, "UTC")
    for word in words:
        assert word in str(info.value)


def test_parse_datetime_error_names_the_zone() -> None:
    with pytest.raises(BadInput, match="read in America/Denver"):
        parse_datetime("soon", "America/Denver")


def test_parse_datetime_out_of_range_local_time() -> None:
    with pytest.raises(BadInput, match="out of the supported range"):
        parse_datetime("0001-01-01T00:00", "Asia/Tokyo")  # UTC would be in year 0


@pytest.mark.parametrize(
    ("text", "tz", "gap"),
    [
        ("Mar-8-26T02:00", "America/Denver", "from 02:00 to 03:00"),
        ("Mar-8-26T02:30", "America/Denver", "from 02:00 to 03:00"),
        ("2026-03-08T02:59", "America/Denver", "from 02:00 to 03:00"),
        ("Mar-29-26T02:30", "Europe/Berlin", "from 02:00 to 03:00"),
        ("Oct-4-26T02:15", "Australia/Lord_Howe", "from 02:00 to 02:30"),
    ],
)
def test_parse_datetime_rejects_dst_gap(text: str, tz: str, gap: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_datetime(text, tz)
    message = str(info.value)
    assert f"'{text}'" in message
    assert "does not exist" in message
    assert tz in message
    assert gap in message


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("Mar-8-26T01:59", "America/Denver", minutes_of(2026, 3, 8, 8, 59)),  # before the gap
        ("Mar-8-26T03:00", "America/Denver", minutes_of(2026, 3, 8, 9, 0)),  # after it
        ("Mar-29-26T01:59", "Europe/Berlin", minutes_of(2026, 3, 29, 0, 59)),
        ("Mar-29-26T03:00", "Europe/Berlin", minutes_of(2026, 3, 29, 1, 0)),
        # Ambiguous fall-back wall times mean the first (earlier, still-summer) instant.
        ("Nov-1-26T01:30", "America/Denver", minutes_of(2026, 11, 1, 7, 30)),  # MDT, not MST
        ("Nov-1-26T01:00", "America/Denver", minutes_of(2026, 11, 1, 7, 0)),
        ("Oct-25-26T02:30", "Europe/Berlin", minutes_of(2026, 10, 25, 0, 30)),  # CEST, not CET
        ("2026-10-25T02:00", "Europe/Berlin", minutes_of(2026, 10, 25, 0, 0)),
        ("Oct-25-26T03:00", "Europe/Berlin", minutes_of(2026, 10, 25, 2, 0)),  # unambiguous
        # An explicit offset picks either occurrence.
        ("2026-10-25T02:30+01:00", "Europe/Berlin", minutes_of(2026, 10, 25, 1, 30)),
        ("2026-03-29T02:30+01:00", "Europe/Berlin", minutes_of(2026, 3, 29, 1, 30)),
    ],
)
def test_parse_datetime_dst_edges(text: str, tz: str, expected: int) -> None:
    assert parse_datetime(text, tz) == expected


def test_ambiguous_time_is_the_earlier_of_two() -> None:
    first = parse_datetime("Nov-1-26T01:30", "America/Denver")
    second = minutes_of(2026, 11, 1, 1, 30, tz=DENVER, fold=1)
    assert second - first == 60


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Feb-29-28T00:00", minutes_of(2028, 2, 29, 0, 0)),
        ("Feb-29-00T12:00", minutes_of(2000, 2, 29, 12, 0)),  # 2000 is a leap year
        ("Feb-28-27T23:59", minutes_of(2027, 2, 28, 23, 59)),
        ("Jan-31-26T00:00", minutes_of(2026, 1, 31, 0, 0)),
        ("Apr-30-26T00:00", minutes_of(2026, 4, 30, 0, 0)),
        ("Dec-31-26T23:59", minutes_of(2026, 12, 31, 23, 59)),
        ("2028-02-29T00:00", minutes_of(2028, 2, 29, 0, 0)),
    ],
)
def test_parse_datetime_month_ends_and_leap_days(text: str, expected: int) -> None:
    assert parse_datetime(text, "UTC") == expected


@given(st.text(max_size=40), st.sampled_from(ZONES))
def test_parse_datetime_only_raises_bad_input(text: str, tz: str) -> None:
    try:
        parse_datetime(text, tz)
    except BadInput:
        pass


# ---------------------------------------------------------------------------------------------
# format_datetime / format_server_time
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        (minutes_of(2026, 3, 5, 8, 0), "UTC", "Mar-5-26T08:00"),
        (minutes_of(2026, 3, 5, 15, 0), "America/Denver", "Mar-5-26T08:00"),
        (minutes_of(2026, 12, 25, 0, 5), "UTC", "Dec-25-26T00:05"),
        (minutes_of(2006, 1, 2, 22, 4), DENVER, "Jan-2-06T15:04"),
        (minutes_of(2026, 3, 5, 8, 0), None, "Mar-5-26T08:00"),
        (datetime(2026, 3, 5, 8, 0, 59, tzinfo=UTC), "UTC", "Mar-5-26T08:00"),
        (datetime(2026, 3, 5, 8, 0, tzinfo=BERLIN), "UTC", "Mar-5-26T07:00"),
        # Outside 2000-2099 a two-digit year would mislead; ISO is used (and parses back).
        (0, "UTC", "1970-01-01T00:00"),
        (minutes_of(1999, 12, 31, 23, 59), "UTC", "1999-12-31T23:59"),
        (minutes_of(2100, 1, 1, 0, 0), "UTC", "2100-01-01T00:00"),
        (minutes_of(2000, 1, 1, 0, 0), "UTC", "Jan-1-00T00:00"),
    ],
)
def test_format_datetime(value: int | datetime, tz: str | ZoneInfo | None, expected: str) -> None:
    assert format_datetime(value, tz) == expected
    assert parse_datetime(expected, tz) == to_minutes(floor_minute(from_value(value)))


def from_value(value: int | datetime) -> datetime:
    return value if isinstance(value, datetime) else from_minutes(value)


@given(
    st.integers(minutes_of(1970, 1, 1, 0, 0), minutes_of(2200, 1, 1, 0, 0)),
    st.sampled_from(ZONES),
)
@example(minutes_of(2026, 11, 1, 7, 30), "America/Denver")  # first 01:30
@example(minutes_of(2026, 11, 1, 8, 30), "America/Denver")  # second 01:30
@example(minutes_of(2026, 3, 8, 9, 0), "America/Denver")  # 03:00 right after the gap
def test_datetime_round_trip(minutes: int, tz: str) -> None:
    text = format_datetime(minutes, tz)
    parsed = parse_datetime(text, tz)
    assert format_datetime(parsed, tz) == text
    if parsed != minutes:
        # Only the second occurrence of a fall-back wall time reads back as the first.
        assert from_minutes(minutes).astimezone(ZoneInfo(tz)).fold == 1
        assert parsed < minutes


@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)),
    st.sampled_from(ZONES),
)
def test_datetime_round_trip_from_aware_datetimes(naive: datetime, tz: str) -> None:
    instant = naive.replace(tzinfo=UTC)
    assert parse_datetime(format_datetime(instant, tz), tz) in (
        to_minutes(instant),
        to_minutes(instant) - 30,  # Lord Howe's half-hour fall-back
        to_minutes(instant) - 60,
    )


def test_format_datetime_rejects_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2026, 3, 5, 8, 0), "UTC")


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        (minutes_of(2026, 1, 5, 15, 4), "America/Denver", "Jan 5 2026 08:04:00 MST(-07:00)"),
        (minutes_of(2026, 7, 5, 15, 4), "America/Denver", "Jul 5 2026 09:04:00 MDT(-06:00)"),
        (minutes_of(2026, 3, 15, 8, 0), "UTC", "Mar 15 2026 08:00:00 UTC(+00:00)"),
        (minutes_of(2026, 3, 15, 8, 0), None, "Mar 15 2026 08:00:00 UTC(+00:00)"),
        (minutes_of(2026, 3, 5, 8, 0), "Europe/Berlin", "Mar 5 2026 09:00:00 CET(+01:00)"),
        (minutes_of(2026, 8, 5, 8, 0), BERLIN, "Aug 5 2026 10:00:00 CEST(+02:00)"),
        (minutes_of(2026, 3, 5, 8, 0), "Asia/Kolkata", "Mar 5 2026 13:30:00 IST(+05:30)"),
        (minutes_of(2026, 3, 5, 8, 0), "America/St_Johns", "Mar 5 2026 04:30:00 NST(-03:30)"),
        (minutes_of(2026, 3, 5, 8, 0), "Asia/Dubai", "Mar 5 2026 12:00:00 +04(+04:00)"),
        (
            minutes_of(2026, 3, 5, 8, 0),
            timezone(timedelta(hours=-2, minutes=-30)),
            "Mar 5 2026 05:30:00 -0230(-02:30)",
        ),
        (
            datetime(2026, 3, 5, 8, 0, 7, 999999, tzinfo=UTC),
            "America/Denver",
            "Mar 5 2026 01:00:07 MST(-07:00)",
        ),
    ],
)
def test_format_server_time(
    value: int | datetime, tz: str | timezone | ZoneInfo | None, expected: str
) -> None:
    assert format_server_time(value, tz) == expected


def test_format_server_time_rejects_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_server_time(datetime(2026, 3, 5, 8, 0))


# ---------------------------------------------------------------------------------------------
# Time zones
# ---------------------------------------------------------------------------------------------


def test_resolve_tz() -> None:
    assert resolve_tz(None) is UTC
    assert resolve_tz("Europe/Berlin") == BERLIN
    fixed = timezone(timedelta(hours=2))
    assert resolve_tz(fixed) is fixed
    assert resolve_tz(DENVER) is DENVER


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "EST5"])
def test_resolve_tz_rejects_unknown(name: str) -> None:
    with pytest.raises(BadInput) as info:
        resolve_tz(name)
    assert "unknown time zone" in str(info.value)
    assert "America/Denver" in str(info.value)


def test_unknown_tz_is_bad_input_everywhere() -> None:
    with pytest.raises(BadInput, match="unknown time zone 'Nowhere'"):
        parse_datetime("Mar-5-26T08:00", "Nowhere")
    with pytest.raises(BadInput, match="unknown time zone"):
        format_datetime(0, "Nowhere")
    with pytest.raises(BadInput, match="unknown time zone"):
        format_server_time(0, "Nowhere")


# ---------------------------------------------------------------------------------------------
# Minute helpers and the clock
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dt", "minutes"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (datetime(1970, 1, 1, 0, 1, tzinfo=UTC), 1),
        (datetime(1970, 1, 1, 0, 0, 59, 999999, tzinfo=UTC), 0),
        (datetime(1969, 12, 31, 23, 59, 30, tzinfo=UTC), -1),  # floor, not toward zero
        (datetime(2026, 3, 5, 8, 0, tzinfo=BERLIN), minutes_of(2026, 3, 5, 7, 0)),
        (datetime(2026, 11, 1, 1, 30, tzinfo=DENVER, fold=1), minutes_of(2026, 11, 1, 8, 30)),
    ],
)
def test_to_minutes(dt: datetime, minutes: int) -> None:
    assert to_minutes(dt) == minutes


def test_to_minutes_rejects_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_minutes(datetime(2026, 3, 5, 8, 0))


def test_from_minutes() -> None:
    assert from_minutes(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert from_minutes(-1) == datetime(1969, 12, 31, 23, 59, tzinfo=UTC)
    assert from_minutes(minutes_of(2026, 3, 5, 8, 0)).utcoffset() == timedelta(0)


@given(st.integers(-(10**7), 10**8))
def test_from_minutes_inverts_to_minutes(minutes: int) -> None:
    assert to_minutes(from_minutes(minutes)) == minutes


@pytest.mark.parametrize(
    ("dt", "floored", "rounded"),
    [
        (
            datetime(2026, 3, 5, 8, 0, 29, 999999, tzinfo=UTC),
            datetime(2026, 3, 5, 8, 0, tzinfo=UTC),
            datetime(2026, 3, 5, 8, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 3, 5, 8, 0, 30, tzinfo=UTC),  # a half rounds up
            datetime(2026, 3, 5, 8, 0, tzinfo=UTC),
            datetime(2026, 3, 5, 8, 1, tzinfo=UTC),
        ),
        (
            datetime(2026, 3, 5, 23, 59, 59, tzinfo=UTC),
            datetime(2026, 3, 5, 23, 59, tzinfo=UTC),
            datetime(2026, 3, 6, 0, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 3, 5, 8, 0, 45),  # naive works on the wall clock
            datetime(2026, 3, 5, 8, 0),
            datetime(2026, 3, 5, 8, 1),
        ),
        (
            datetime(2026, 3, 5, 8, 0, 15),
            datetime(2026, 3, 5, 8, 0),
            datetime(2026, 3, 5, 8, 0),
        ),
    ],
)
def test_floor_and_round_minute(dt: datetime, floored: datetime, rounded: datetime) -> None:
    assert floor_minute(dt) == floored
    assert round_minute(dt) == rounded
    assert floor_minute(dt).tzinfo is dt.tzinfo
    assert round_minute(dt).tzinfo is dt.tzinfo


def test_round_minute_across_a_dst_jump_stays_real() -> None:
    # 01:59:45 MST rounds to the instant 09:00Z, which Denver's clocks call 03:00 MDT.
    dt = datetime(2026, 3, 8, 1, 59, 45, tzinfo=DENVER)
    rounded = round_minute(dt)
    assert rounded.tzinfo is DENVER
    assert (rounded.hour, rounded.minute) == (3, 0)
    assert to_minutes(rounded) == minutes_of(2026, 3, 8, 9, 0)


def test_round_minute_in_the_second_fall_back_hour() -> None:
    dt = datetime(2026, 11, 1, 1, 30, 40, tzinfo=DENVER, fold=1)
    assert to_minutes(round_minute(dt)) == minutes_of(2026, 11, 1, 8, 31)
    assert to_minutes(floor_minute(dt)) == minutes_of(2026, 11, 1, 8, 30)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)))
def test_round_is_floor_or_next_minute(naive: datetime) -> None:
    dt = naive.replace(tzinfo=UTC)
    floor = to_minutes(floor_minute(dt))
    assert floor == to_minutes(dt)
    expected = floor + (1 if (dt.second, dt.microsecond) >= (30, 0) else 0)
    assert to_minutes(round_minute(dt)) == expected


def test_now_minutes_reads_the_injected_clock() -> None:
    fixed = datetime(2026, 3, 5, 8, 0, 59, tzinfo=UTC)
    assert now_minutes(lambda: fixed) == minutes_of(2026, 3, 5, 8, 0)
    in_denver = datetime(2026, 3, 5, 1, 0, tzinfo=DENVER)
    assert now_minutes(lambda: in_denver) == minutes_of(2026, 3, 5, 8, 0)


def test_now_minutes_rejects_a_naive_clock() -> None:
    with pytest.raises(ValueError, match="naive"):
        now_minutes(lambda: datetime(2026, 3, 5, 8, 0))


def test_default_clock_is_the_aware_system_clock() -> None:
    before = datetime.now(UTC)
    now = utc_now()
    after = datetime.now(UTC)
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after
    assert to_minutes(before) <= now_minutes() <= to_minutes(after) + 1
