"""Every conversion between the times people type or read and Igor's integer UTC epoch minutes.

The scheduler counts in whole minutes since 1970-01-01T00:00Z. This module owns the edges:

* durations: Igor v2's ``[Nd][Go duration]`` syntax (``90``, ``3d``, ``5h32m``) in and out;
* datetimes: Igor v2's compact ``Jan-2-06T15:04`` and ISO 8601 in, the compact form and the
  ``Jan 2 2006 15:04:05 MST(-07:00)`` server-time form out, always against an explicit time zone;
* minute arithmetic on datetimes, and "now" read from an injectable clock (the clock is a parameter
  everywhere in Igor, so tests move time instead of sleeping).

Parsers raise :class:`igor.errors.BadInput` naming the text and what is accepted. Passing a naive
datetime where an instant is needed is a programming error and raises a plain ``ValueError``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from igor.errors import BadInput

__all__ = [
    "MAX_DURATION_MINUTES",
    "Clock",
    "floor_minute",
    "format_datetime",
    "format_duration",
    "format_server_time",
    "from_minutes",
    "now_minutes",
    "parse_datetime",
    "parse_datetime_dt",
    "parse_duration",
    "resolve_tz",
    "round_minute",
    "to_minutes",
    "utc_now",
]

Clock = Callable[[], datetime]
"""A zero-argument callable returning the current time as an aware datetime."""

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)

MAX_DURATION_MINUTES = 36525 * 24 * 60
"""100 years: longer durations are typos, and would overflow datetime arithmetic further on."""

# Longer input is never a real duration or datetime; refusing it early also keeps huge digit runs
# away from int() (whose digit limit raises a plain ValueError, not BadInput).
_MAX_TEXT = 64

# ---------------------------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------------------------

_DURATION_HELP = (
    "use a number of minutes (90) or [Nd][Nh][Nm][Ns] with whole days first, "
    "e.g. 3d, 5h32m, 1d12h, 1h30s"
)
_DUR_DAYS = re.compile(r"(\d+)d(.*)", re.ASCII)
_DUR_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([hms])", re.ASCII)
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Parse an Igor duration into whole minutes.

    Grammar (Igor v2's ``common.ParseDuration``): a unit-less integer is minutes (``"90"``);
    otherwise optional whole days ``Nd`` (24 h each, no DST) followed by a Go-style duration made of
    ``h``/``m``/``s`` terms, which may carry decimals (``"1.5h"``) and may repeat, as in Go. All
    whitespace is removed first, so aligned output such as ``"3d 21h  9m"`` parses back. The total
    is rounded to the nearest minute, halves away from zero like Go's ``Duration.Round``
    (``"90s"`` → 2, ``"89s"`` → 1).

    ``"0"``, ``"0m"`` and anything under 30 s parse to 0: whether zero is allowed is the caller's
    rule (a reservation length must be positive; an extension of 0 is simply refused there).

    Unlike Igor v2, a ``d`` without a day count (``"d5h"``), signs, and units other than d/h/m/s
    are rejected rather than silently ignored.

    Args:
        text: What the user typed.

    Returns:
        The duration in minutes, ``0 <= result <= MAX_DURATION_MINUTES``.

    Raises:
        BadInput: The text is empty, malformed, negative, or longer than 100 years.
    """
    squeezed = "".join(text.split())
    if not squeezed:
        raise BadInput(f"empty duration: {_DURATION_HELP}")
    if len(squeezed) > _MAX_TEXT:
        raise BadInput(f"invalid duration {text!r}: too long; {_DURATION_HELP}")
    if squeezed.startswith("-"):
        raise BadInput(f"invalid duration {text!r}: negative durations are not allowed")
    if squeezed.isdigit() and squeezed.isascii():
        return _check_duration_cap(text, Fraction(int(squeezed) * 60))

    seconds = Fraction(0)
    rest = squeezed
    days = _DUR_DAYS.fullmatch(rest)
    if days:
        seconds += int(days.group(1)) * 86400
        rest = days.group(2)
    pos = 0
    while pos < len(rest):
        term = _DUR_PART.match(rest, pos)
        if term is None:
            raise BadInput(f"invalid duration {text!r}: {_DURATION_HELP}")
        seconds += Fraction(term.group(1)) * _UNIT_SECONDS[term.group(2)]
        pos = term.end()
    return _check_duration_cap(text, seconds)


def _check_duration_cap(text: str, seconds: Fraction) -> int:
    # Non-negative here, so "half away from zero" is "half up".
    minutes = int((seconds + 30) // 60)
    if minutes > MAX_DURATION_MINUTES:
        raise BadInput(
            f"invalid duration {text!r}: longer than 100 years ({MAX_DURATION_MINUTES // 1440}d); "
            "no reservation or policy can be that long"
        )
    return minutes


def format_duration(value: int | timedelta, *, align: bool = False) -> str:
    """Render a duration the way Igor v2's ``common.FormatDuration`` does.

    Fields are days, hours, minutes. Days appear only when non-zero; hours appear when non-zero or
    when there are days (an inner zero is kept: ``1d0h5m``); minutes always appear (``2h0m``,
    ``45m``, ``0m``). With ``align=True`` the fields are separated by single spaces and hours and
    minutes are right-aligned to two digits (``3d 21h  9m``), the shape of ``igor show -t``; leading
    blanks are stripped as in Go, so ``9m`` stays ``9m``.

    A timedelta's sub-minute remainder is dropped (time left is never overstated), except that a
    positive duration shorter than a minute renders as ``< 1m``. (Igor v2 printed ``< 1m`` for any
    value with a seconds remainder, e.g. 3 days and 10 seconds; that was a bug.)

    ``parse_duration(format_duration(m)) == m`` for every ``m`` in ``[0, MAX_DURATION_MINUTES]``,
    aligned or not.

    Args:
        value: Whole minutes, or a timedelta.
        align: Produce the fixed-width column form.

    Returns:
        The rendered duration.

    Raises:
        ValueError: The duration is negative.
    """
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"cannot format a negative duration: {value}")
        if value < _MINUTE and value:
            return "< 1m"
        minutes = value // _MINUTE
    else:
        if value < 0:
            raise ValueError(f"cannot format a negative duration: {value} minutes")
        minutes = value
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    fields = []
    if days:
        fields.append(f"{days}d")
    if hours or days:
        fields.append(f"{hours:2d}h" if align else f"{hours}h")
    fields.append(f"{mins:2d}m" if align else f"{mins}m")
    return " ".join(fields).strip() if align else "".join(fields)


# ---------------------------------------------------------------------------------------------
# Time zones and minute helpers
# ---------------------------------------------------------------------------------------------


def go_duration(minutes: int) -> str:
    """Whole minutes as Go's ``time.Duration.String()`` prints them (``720h0m0s``, ``30m0s``): the form of
    Igor v2's messages and of a policy's ``maxResTime``."""
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60}m0s"
    return f"{minutes}m0s"


def resolve_tz(tz: str | tzinfo | None = None) -> tzinfo:
    """Turn a time zone argument into a tzinfo.

    Args:
        tz: An IANA name (``"Europe/Berlin"``, ``"UTC"``), a tzinfo (e.g. a ``ZoneInfo``) returned
            unchanged, or ``None`` for UTC.

    Returns:
        The time zone.

    Raises:
        BadInput: The name is not a known IANA time zone.
    """
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(
            f"unknown time zone {tz!r}: use an IANA name such as UTC or America/Denver"
        ) from None


def _require_aware(dt: datetime) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no time zone; attach one first")


def to_minutes(dt: datetime) -> int:
    """Convert an aware datetime to UTC epoch minutes, truncating seconds (floor, also before 1970).

    Raises:
        ValueError: ``dt`` is naive.
    """
    _require_aware(dt)
    return (dt - _EPOCH) // _MINUTE


def from_minutes(minutes: int) -> datetime:
    """Convert UTC epoch minutes to an aware datetime in UTC."""
    return _EPOCH + timedelta(minutes=minutes)


def floor_minute(dt: datetime) -> datetime:
    """Drop seconds and microseconds (Go's ``Truncate(time.Minute)``); keeps the time zone."""
    if dt.tzinfo is None:
        return dt.replace(second=0, microsecond=0)
    return from_minutes(to_minutes(dt)).astimezone(dt.tzinfo)


def round_minute(dt: datetime) -> datetime:
    """Round to the nearest minute, a half minute rounding up (Go's ``Round(time.Minute)``).

    Aware datetimes are rounded on the UTC timeline, so the result is never a wall-clock time that
    a DST jump skipped; it keeps ``dt``'s time zone.
    """
    if dt.tzinfo is None:
        base = dt.replace(second=0, microsecond=0)
        return base + _MINUTE if dt - base >= _MINUTE / 2 else base
    # Subtract first: adding a timedelta to an aware datetime resets fold, which would move a
    # time in the repeated fall-back hour to its first occurrence.
    return from_minutes((dt - _EPOCH + _MINUTE / 2) // _MINUTE).astimezone(dt.tzinfo)


def utc_now() -> datetime:
    """The system clock as an aware UTC datetime: Igor's default :data:`Clock`."""
    return datetime.now(UTC)


def now_minutes(clock: Clock = utc_now) -> int:
    """The current UTC epoch minute (seconds truncated) according to ``clock``.

    Raises:
        ValueError: The clock returned a naive datetime.
    """
    return to_minutes(clock())


# ---------------------------------------------------------------------------------------------
# Datetimes
# ---------------------------------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.lower(): number for number, name in enumerate(_MONTHS, start=1)}

# Go layout "Jan-2-06T15:04": Go accepts a one- or two-digit day and hour, two-digit minutes.
_COMPACT = re.compile(r"([A-Za-z]{3})-(\d{1,2})-(\d{2})[Tt](\d{1,2}):(\d{2})", re.ASCII)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?",
    re.ASCII,
)


def _datetime_help(zone: tzinfo) -> str:
    return (
        "use Jan-2-06T15:04 (e.g. Mar-5-26T08:00) or ISO 8601 (e.g. 2026-03-05T08:00, "
        f"2026-03-05 08:00:00+01:00); times without an offset are read in {_zone_name(zone)}"
    )


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone.tzname(None) or zone)


def parse_datetime(text: str, tz: str | tzinfo | None = None) -> int:
    """Parse a datetime into UTC epoch minutes.

    See :func:`parse_datetime_dt` for the accepted forms and the DST rules.

    Args:
        text: What the user typed.
        tz: Zone for times without an offset (IANA name or tzinfo; default UTC).

    Returns:
        Minutes since 1970-01-01T00:00Z.

    Raises:
        BadInput: Unrecognised format, impossible date, unknown zone, or a time skipped by DST.
    """
    return to_minutes(parse_datetime_dt(text, tz))


def parse_datetime_dt(text: str, tz: str | tzinfo | None = None) -> datetime:
    """Parse a datetime into an aware datetime in ``tz``, on a whole minute.

    Accepted forms:

    * Igor v2's compact ``Jan-2-06T15:04``: three-letter English month, any case; day with or
      without a leading zero; two-digit year meaning 2000-2099 (Go maps 69-99 to the 1900s, which
      a scheduler never wants); 24-hour time.
    * ISO 8601 ``YYYY-MM-DDTHH:MM`` with ``T`` or a space, optional ``:SS`` and fraction, optional
      ``Z`` or ``±HH:MM`` / ``±HHMM`` / ``±HH`` offset. An explicit offset fixes the instant and
      ``tz`` only chooses the zone of the returned datetime.

    Seconds and fractions are truncated to the minute (Igor schedules in minutes; a start typed as
    ``08:00:59`` means the 08:00 slot). Local times are resolved in ``tz`` deliberately:
    a wall time skipped by a spring-forward DST jump is rejected, naming the gap; a wall time that
    occurs twice at fall-back means its first (earlier) occurrence, ``fold=0``.

    Args:
        text: What the user typed.
        tz: Zone for times without an offset (IANA name or tzinfo; default UTC).

    Returns:
        An aware datetime in ``tz`` with zero seconds.

    Raises:
        BadInput: Unrecognised format, impossible date, unknown zone, or a time skipped by DST.
    """
    zone = resolve_tz(tz)
    stripped = text.strip()
    offset: timezone | None = None
    compact = _COMPACT.fullmatch(stripped) if len(stripped) <= _MAX_TEXT else None
    iso = _ISO.fullmatch(stripped) if compact is None and len(stripped) <= _MAX_TEXT else None
    if compact:
        mon, day, yy, hour, minute = compact.groups()
        month = _MONTH_NUMBER.get(mon.lower())
        if month is None:
            raise BadInput(
                f"invalid datetime {text!r}: unknown month {mon!r} "
                f"(use one of {', '.join(_MONTHS)}); {_datetime_help(zone)}"
            )
        fields = (2000 + int(yy), month, int(day), int(hour), int(minute), 0)
    elif iso:
        year, month_s, day, hour, minute, second, zulu, sign, off_h, off_m = iso.groups()
        fields = (int(year), int(month_s), int(day), int(hour), int(minute), int(second or 0))
        if zulu:
            offset = UTC
        elif sign:
            delta = timedelta(hours=int(off_h), minutes=int(off_m or 0))
            if delta >= timedelta(hours=24) or int(off_m or 0) > 59:
                raise BadInput(
                    f"invalid datetime {text!r}: UTC offset {sign}{off_h}:"
                    f"{off_m or '00'} is out of range"
                )
            offset = timezone(-delta if sign == "-" else delta)
    else:
        raise BadInput(f"invalid datetime {text!r}: {_datetime_help(zone)}")

    naive = _build_naive(text, *fields)
    if offset is None:
        return _localize(text, naive, zone)
    try:
        return naive.replace(tzinfo=offset).astimezone(zone)
    except OverflowError:
        raise BadInput(f"invalid datetime {text!r}: out of the supported range") from None


def _build_naive(
    text: str, year: int, month: int, day: int, hour: int, minute: int, second: int
) -> datetime:
    if not 1 <= year <= 9999:
        raise BadInput(f"invalid datetime {text!r}: year {year} is not 0001-9999")
    if not 1 <= month <= 12:
        raise BadInput(f"invalid datetime {text!r}: month {month} is not 1-12")
    last_day = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last_day:
        raise BadInput(
            f"invalid datetime {text!r}: {_MONTHS[month - 1]} {year} has days 1-{last_day}, "
            f"not {day}"
        )
    if hour > 23 or minute > 59 or second > 59:
        raise BadInput(
            f"invalid datetime {text!r}: time of day must be 00:00-23:59 (seconds 00-59)"
        )
    # Seconds were range-checked above and are now dropped on purpose (truncation).
    return datetime(year, month, day, hour, minute)


def _localize(text: str, naive: datetime, zone: tzinfo) -> datetime:
    """Attach ``zone`` to a wall time: gap → BadInput, overlap → first occurrence (fold=0)."""
    local = naive.replace(tzinfo=zone, fold=0)
    try:
        back = local.astimezone(UTC).astimezone(zone)
    except OverflowError:
        raise BadInput(f"invalid datetime {text!r}: out of the supported range") from None
    if back.replace(tzinfo=None) == naive:
        return local
    start, end = _gap_bounds(naive, zone)
    raise BadInput(
        f"invalid datetime {text!r}: {naive:%H:%M} does not exist on "
        f"{_MONTHS[naive.month - 1]} {naive.day} {naive.year} in "
        f"{_zone_name(zone)}, where clocks jump forward from {start:%H:%M} to {end:%H:%M}; "
        "pick a time outside that gap"
    )


def _gap_bounds(naive: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The wall-clock interval [start, end) skipped by the transition that swallowed ``naive``."""
    before = naive.replace(tzinfo=zone, fold=0).utcoffset() or timedelta(0)
    after = naive.replace(tzinfo=zone, fold=1).utcoffset() or timedelta(0)
    # The transition instant T satisfies naive - after < T <= naive - before (UTC, naive form);
    # bisect to the second for it.
    lo, hi = naive - after, naive - before
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) // 2
        if mid.replace(tzinfo=UTC).astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi + before, hi + after


def _as_local(value: int | datetime, tz: str | tzinfo | None) -> datetime:
    if isinstance(value, datetime):
        _require_aware(value)
        instant = value
    else:
        instant = from_minutes(value)
    return instant.astimezone(resolve_tz(tz))


def format_datetime(value: int | datetime, tz: str | tzinfo | None = None) -> str:
    """Render an instant in Igor v2's compact form, e.g. ``Mar-5-26T08:00``, in ``tz``.

    Seconds are truncated. Years outside 2000-2099 cannot be written with a two-digit year, so
    they are rendered as ISO ``YYYY-MM-DDTHH:MM`` instead; either way the text parses back with
    :func:`parse_datetime` in the same ``tz`` to the same minute (except the second occurrence of
    a fall-back hour, which reads back as the first).

    Args:
        value: UTC epoch minutes or an aware datetime.
        tz: Zone to render in (IANA name or tzinfo; default UTC).

    Raises:
        ValueError: ``value`` is a naive datetime.
        BadInput: ``tz`` is an unknown zone name.
    """
    local = _as_local(value, tz)
    if 2000 <= local.year <= 2099:
        return (
            f"{_MONTHS[local.month - 1]}-{local.day}-{local.year % 100:02d}"
            f"T{local.hour:02d}:{local.minute:02d}"
        )
    return f"{local:%Y-%m-%dT%H:%M}"


def format_server_time(value: int | datetime, tz: str | tzinfo | None = None) -> str:
    """Render an instant as ``igor show`` prints server time: ``Mar 5 2026 08:00:00 MST(-07:00)``.

    Go layout ``Jan 2 2006 15:04:05 MST(-07:00)`` (day not padded, as in Igor v2's
    ``DateTimeServerFormat``). The abbreviation is the zone's own (``CET``, ``MDT``, ``UTC``,
    ``+03``); zones without one show the numeric offset ``+0100`` as Go does.

    Args:
        value: UTC epoch minutes or an aware datetime (seconds kept, microseconds dropped).
        tz: Zone to render in (IANA name or tzinfo; default UTC).

    Raises:
        ValueError: ``value`` is a naive datetime.
        BadInput: ``tz`` is an unknown zone name.
    """
    local = _as_local(value, tz)
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    off_min = abs(offset) // _MINUTE
    abbrev = local.tzname() or ""
    if not abbrev or (abbrev.startswith("UTC") and abbrev != "UTC"):
        abbrev = f"{sign}{off_min // 60:02d}{off_min % 60:02d}"
    return (
        f"{_MONTHS[local.month - 1]} {local.day} {local.year} {local:%H:%M:%S} "
        f"{abbrev}({sign}{off_min // 60:02d}:{off_min % 60:02d})"
    )
