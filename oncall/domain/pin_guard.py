"""PIN guessing, stopped: the limits, and when a caller number's lockout ends.

A wrong PIN names no account, so failures are counted by the two keys an attacker cannot
avoid: the caller's number and the whole line. :data:`PIN_LIMITS` says how many in how long;
:func:`lockout_until` reads a number's failure times (the database rows, so every process
agrees) and says until when that number is not asked for a PIN. Pure: the times and ``now``
come in, nothing is stored here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PinLimits:
    per_number: int  # wrong PINs from one caller number within ``window`` that lock it out
    line_wide: int  # wrong PINs on the whole line within ``window`` that alert the managers
    window: timedelta  # also how long a lockout lasts, and how often managers are alerted


PIN_LIMITS = PinLimits(per_number=5, line_wide=20, window=timedelta(hours=1))


def lockout_until(
    failures: Iterable[datetime], now: datetime, limits: PinLimits = PIN_LIMITS
) -> datetime | None:
    """When the lockout of a number with these failure times ends, or None if it is not locked.

    ``per_number`` failures within ``window`` lock the number for ``window`` from the last of
    them. A locked number is never asked for a PIN, so it cannot add failures meanwhile; once
    the lockout ends, the next failures count with whatever is still within the window.
    """
    times = sorted(failures)
    span = limits.per_number - 1
    ends = [
        times[last] + limits.window
        for last in range(span, len(times))
        if times[last] - times[last - span] <= limits.window
    ]
    until = max(ends, default=None)
    return until if until is not None and until > now else None
