"""The expiry-warning schedule: which notice a reservation is owed as its end approaches (reference §7, fixed).

``T`` is ``email.resNotifyTimes`` ascending (minutes before the end; default 1d, 3d). Each reservation keeps one
integer, ``next_notify`` (``reservations.next_notify``), the minutes-before-the-end at which its next notice is due:

* ``0``: nothing more is owed;
* ``0 < n <= T[0]``: the FINAL NOTICE (``reservation-final``) is owed, due once ``minutes_left <= n``;
* ``n > T[0]``: an "is nearing expiration" warning (``reservation-warning``) is owed, due once ``minutes_left <= n``.

Rules, and where they differ from Igor v2 (``scheduling.go:sendExpirationWarnings``):

1. A warning threshold ``T[i]`` (``i >= 1``) is owed only when it lies strictly inside the time the reservation is
   held, ``held = end - max(start, now)``: a 2-day reservation gets no "3 days left" mail, a reservation of exactly
   3 days none on its first tick, and a future reservation nothing before it starts.
2. Every reservation gets exactly one FINAL NOTICE, ``T[0]`` before its end; when that would be its first notice it
   is never sent in the first half of the held time, so a reservation shorter than (or not much longer than)
   ``T[0]`` gets it halfway through: ``min(T[0], held // 2)``, at least 1 minute before the end. (v2 sent it on the
   first tick, right after the reservation was made.)
3. When ticks were missed (the worker was down), one notice goes out for the tightest threshold passed, never a
   burst of stale ones, and no FINAL NOTICE once the reservation has ended (its "expired" mail says it all).
4. After an extension, ``next_notify`` is recomputed exactly as at creation from the new end
   (:func:`initial_next_notify`), so the reservation gets a fresh final notice for its new end. (v2 set 0, no final
   notice at all, when the new end was within ``T[0]``.)

Each notice lowers ``next_notify`` strictly below the current ``minutes_left``, so as time runs forward no threshold
is mailed twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from igor.config import EmailConfig

__all__ = ["FINAL", "WARNING", "initial_next_notify", "notify_times", "warning_due"]

WARNING = "reservation-warning"
FINAL = "reservation-final"


def notify_times(email: EmailConfig) -> tuple[int, ...]:
    """The thresholds in force, ascending and distinct: none when email or reservation notices are off."""
    return _thresholds(email.res_notify_times) if email.enabled and email.res_notify_on else ()


def _thresholds(times: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted({t for t in times if t > 0}))


def initial_next_notify(minutes_left: int, times: Iterable[int], *, held: int | None = None) -> int:
    """``next_notify`` for a reservation just created, or just extended (rule 4: the same computation).

    Args:
        minutes_left: Minutes from now to the reservation's end.
        times: The notify thresholds (:func:`notify_times`); empty means no notices.
        held: Minutes from ``max(start, now)`` to the end; defaults to ``minutes_left`` (it has started).

    Returns:
        The largest warning threshold strictly inside the held time, else the final-notice point
        ``min(T[0], held // 2)`` (at least 1); 0 when no notice is owed.
    """
    ts = _thresholds(times)
    held = minutes_left if held is None else min(held, minutes_left)
    if not ts or held <= 0:
        return 0
    warnings = [t for t in ts[1:] if t < held]
    if warnings:
        return warnings[-1]
    return max(1, min(ts[0], held // 2))


def warning_due(minutes_left: int, next_notify: int, times: Iterable[int]) -> tuple[str | None, int]:
    """Decide, on a worker tick, whether a reservation is owed a notice now.

    Args:
        minutes_left: Minutes from now to the reservation's end.
        next_notify: Its stored ``next_notify``.
        times: The notify thresholds (:func:`notify_times`).

    Returns:
        ``(template, new_next_notify)``: ``template`` is :data:`WARNING`, :data:`FINAL` or None (nothing to send);
        store ``new_next_notify`` in the same transaction that queues the mail.
    """
    ts = _thresholds(times)
    if not ts or next_notify <= 0 or minutes_left <= 0:
        return None, 0
    if minutes_left > next_notify:
        return None, next_notify
    if next_notify <= ts[0] or minutes_left <= ts[0]:
        return FINAL, 0
    return WARNING, max(t for t in ts if t < minutes_left)
