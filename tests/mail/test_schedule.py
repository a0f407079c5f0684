"""Tests for igor.mail.schedule: the expiry-warning schedule, table-driven and as properties over whole lives."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igor.config import Config
from igor.mail import FINAL, WARNING, initial_next_notify, notify_times, warning_due

DAY, HOUR = 1440, 60
T = (DAY, 3 * DAY)  # v2's default resNotifyTimes


def life(minutes_left: int, times: Sequence[int], *, held: int | None = None, until: int = 0,
         next_notify: int | None = None) -> tuple[list[tuple[str, int]], int]:
    """Tick every minute from ``minutes_left`` down to ``until``: the notices sent (template, minutes left) and the
    final ``next_notify``. A fresh reservation unless ``next_notify`` is given."""
    nn = initial_next_notify(minutes_left, times, held=held) if next_notify is None else next_notify
    sent = []
    for left in range(minutes_left, until - 1, -1):
        template, nn = warning_due(left, nn, times)
        if template:
            sent.append((template, left))
    return sent, nn


# -- initial_next_notify ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes_left, held, times, expected", [
    (5 * DAY, None, T, 3 * DAY),        # owes the 3-day warning first
    (3 * DAY + 1, None, T, 3 * DAY),
    (3 * DAY, None, T, DAY),            # exactly 3 days: no "3 days left" right away (v2 sent it)
    (2 * DAY, None, T, DAY),
    (DAY + DAY // 2, None, T, 18 * HOUR),  # final never in the first half when it is the first notice
    (DAY, None, T, 12 * HOUR),          # created inside T[0]: one final notice, halfway (v2: immediately)
    (HOUR, None, T, 30),
    (3, None, T, 1),
    (1, None, T, 1),
    (0, None, T, 0),
    (-10, None, T, 0),
    (5 * DAY, None, (), 0),             # notices off
    (7 * DAY + HOUR, HOUR, T, 30),      # 1-hour reservation starting in a week: nothing before it starts
    (10 * DAY, 5 * DAY, T, 3 * DAY),
    (HOUR, 10 * DAY, T, 30),            # held is capped by the time left
    (5 * DAY, None, (3 * DAY, DAY, DAY, 0), 3 * DAY),  # unsorted, repeated, non-positive thresholds are tidied
    (5 * DAY, None, (HOUR, DAY, 3 * DAY), 3 * DAY),
    (2 * HOUR, None, (HOUR, DAY, 3 * DAY), HOUR),
])
def test_initial_next_notify(minutes_left: int, held: int | None, times: Sequence[int], expected: int) -> None:
    assert initial_next_notify(minutes_left, times, held=held) == expected


# -- warning_due --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes_left, next_notify, times, expected", [
    (5000, 3 * DAY, T, (None, 3 * DAY)),
    (3 * DAY, 3 * DAY, T, (WARNING, DAY)),
    (4000, 3 * DAY, T, (WARNING, DAY)),         # a late tick still sends the warning, once
    (DAY + 1, DAY, T, (None, DAY)),
    (DAY, DAY, T, (FINAL, 0)),
    (1000, 3 * DAY, T, (FINAL, 0)),             # missed the 3-day mark and T[0]: only the final, no stale warning
    (31, 30, T, (None, 30)),
    (30, 30, T, (FINAL, 0)),
    (1, 1, T, (FINAL, 0)),
    (0, 30, T, (None, 0)),                      # ended: no late FINAL NOTICE (the expired mail follows)
    (-5, DAY, T, (None, 0)),
    (100, 0, T, (None, 0)),                     # nothing owed
    (100, 100, (), (None, 0)),                  # notices switched off meanwhile
    (2000, 3 * DAY, (HOUR, DAY, 3 * DAY), (WARNING, DAY)),
    (DAY, DAY, (HOUR, DAY, 3 * DAY), (WARNING, HOUR)),
    (500, 3 * DAY, (HOUR, DAY, 3 * DAY), (WARNING, HOUR)),  # one mail for the tightest threshold passed
    (50, 3 * DAY, (HOUR, DAY, 3 * DAY), (FINAL, 0)),
])
def test_warning_due(minutes_left: int, next_notify: int, times: Sequence[int],
                     expected: tuple[str | None, int]) -> None:
    assert warning_due(minutes_left, next_notify, times) == expected


# -- whole lives --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes_left, held, expected", [
    (5 * DAY, None, [(WARNING, 3 * DAY), (FINAL, DAY)]),
    (3 * DAY, None, [(FINAL, DAY)]),
    (2 * DAY, None, [(FINAL, DAY)]),
    (HOUR, None, [(FINAL, 30)]),                    # v2: FINAL NOTICE on the first tick
    (7 * DAY + HOUR, HOUR, [(FINAL, 30)]),          # future reservation: nothing before it starts
    (10 * DAY, 5 * DAY, [(WARNING, 3 * DAY), (FINAL, DAY)]),
])
def test_lives_with_default_times(minutes_left: int, held: int | None, expected: list[tuple[str, int]]) -> None:
    assert life(minutes_left, T, held=held)[0] == expected


def test_extension_recomputes_as_at_create() -> None:
    # a 5-hour reservation gets its final notice at 2.5 h left ...
    sent, nn = life(5 * HOUR, T, until=100)
    assert sent == [(FINAL, 150)] and nn == 0
    # ... extended by 3 days at 100 minutes left, it is owed what a new reservation of that length is owed
    assert initial_next_notify(100 + 3 * DAY, T) == 3 * DAY
    assert life(100 + 3 * DAY, T)[0] == [(WARNING, 3 * DAY), (FINAL, DAY)]
    # extended by just 1 hour, it still gets one final notice for its new end (v2: none at all)
    assert life(160, T)[0] == [(FINAL, 80)]


def test_extension_before_any_notice_keeps_each_mail_single() -> None:
    sent, nn = life(5 * DAY, T, until=4400)
    assert sent == [] and nn == 3 * DAY
    assert life(4400 + DAY, T)[0] == [(WARNING, 3 * DAY), (FINAL, DAY)]


def test_notify_times(make_mail_config: Callable[..., Config]) -> None:
    config = make_mail_config(resNotifyTimes=["3d", "1d", "1d"])
    assert notify_times(config.email) == (DAY, 3 * DAY)
    assert notify_times(dataclasses.replace(config.email, res_notify_on=False)) == ()
    assert notify_times(dataclasses.replace(config.email, smtp_server="")) == ()


# -- properties ---------------------------------------------------------------------------------------------------

thresholds = st.lists(st.integers(1, 600), min_size=1, max_size=4, unique=True)


def threshold_of(left: int, times: Sequence[int]) -> int:
    """The threshold a warning sent at ``left`` minutes left stands for: the tightest one passed."""
    return min(t for t in times if t >= left)


@settings(max_examples=150, deadline=None)
@given(times=thresholds, held=st.integers(1, 2000), wait=st.integers(0, 1500), notify_on=st.booleans())
def test_every_minute_of_a_life(times: list[int], held: int, wait: int, notify_on: bool) -> None:
    active = times if notify_on else []
    sent, nn = life(held + wait, active, held=held)
    assert nn == 0
    if not notify_on:
        assert sent == []
        return
    ts = sorted(times)
    finals = [left for template, left in sent if template == FINAL]
    warnings = [left for template, left in sent if template == WARNING]
    assert len(finals) == 1 and sent[-1] == (FINAL, finals[0])   # exactly one final notice, and it comes last
    assert 1 <= finals[0] <= ts[0]
    assert all(left <= held for _, left in sent)                  # nothing before the reservation starts
    if not warnings:                                              # a first notice never in the first half
        assert finals[0] <= max(1, held // 2)
    passed = [threshold_of(left, ts) for left in warnings]
    assert len(set(passed)) == len(passed)                        # each threshold's mail at most once
    assert all(ts[0] < t < held for t in passed)                  # only thresholds inside the held time
    assert warnings == [t for t in passed]                        # ticking every minute: sent right on the mark
    assert passed == sorted((t for t in ts[1:] if t < held), reverse=True)


@settings(max_examples=150, deadline=None)
@given(times=thresholds, held=st.integers(1, 2000), gaps=st.lists(st.integers(1, 400), max_size=60))
def test_missed_ticks_never_repeat_a_mail(times: list[int], held: int, gaps: list[int]) -> None:
    ts = sorted(times)
    nn, left, sent = initial_next_notify(held, ts), held, []
    for gap in [0, *gaps]:
        left -= gap
        template, nn = warning_due(left, nn, ts)
        if template:
            sent.append((template, left))
    finals = [x for x in sent if x[0] == FINAL]
    warned = [threshold_of(left, ts) for template, left in sent if template == WARNING]
    assert len(finals) <= 1 and (not finals or sent[-1] == finals[0])
    assert len(set(warned)) == len(warned)
    assert all(left >= 1 for _, left in sent)
