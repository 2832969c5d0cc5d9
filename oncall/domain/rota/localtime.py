"""Local wall-clock time and instants: how a rota's local times become UTC instants.

Local time -> instant (:func:`to_instant`) is used for every handoff, window edge and override:

* a local time that does not exist (it falls in the spring-forward gap, like 02:30 on the
  second Sunday of March in Toronto) means **the first valid instant after the gap** (03:00
  local, the moment the clocks jump). Nobody is left "between" shifts: the shift that would have
  started inside the gap starts at the end of it;
* a local time that happens twice (the fall-back hour) means **its first occurrence** (fold=0).
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def to_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive local wall-clock time in ``zone``.

    A time in the spring-forward gap becomes the first valid instant after the gap; a time in
    the repeated fall-back hour becomes its first occurrence (fold=0).
    """
    if local.tzinfo is not None:
        raise ValueError("to_instant takes a naive local time")
    return _to_instant(local.replace(fold=0), zone)


# Lookups cluster around "now", so the same handoffs and window edges are converted again and
# again; the conversion is a pure function of immutable values, so remember recent ones.
@functools.lru_cache(maxsize=16384)
def _to_instant(local: datetime, zone: ZoneInfo) -> datetime:
    instant = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    # A round trip that gives back the same wall-clock time means the time exists; with fold=0
    # an ambiguous time maps to its first occurrence, which is the rule.
    if instant.astimezone(zone).replace(tzinfo=None) == local:
        return instant
    return _gap_end(local, zone)


@functools.lru_cache(maxsize=1024)
def _gap_end(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jump over the gap that swallows ``local``.

    zoneinfo has no API for transitions, but PEP 495 tells us which offsets bracket a gap:
    fold=0 reads a gap time with the offset before the change, fold=1 with the one after. The
    transition lies between the two readings; tzdata transitions fall on whole seconds, so a
    binary search over seconds finds it exactly. Cached: a rota hits the same gap every year.
    """
    before = local.replace(tzinfo=zone, fold=0).utcoffset()
    after = local.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    # Reading with the later offset gives an instant before the jump, with the earlier one after.
    lo = math.floor(((local - after).replace(tzinfo=UTC) - epoch).total_seconds())
    hi = math.ceil(((local - before).replace(tzinfo=UTC) - epoch).total_seconds())

    def offset_at(second: int) -> timedelta | None:
        return (epoch + timedelta(seconds=second)).astimezone(zone).utcoffset()

    old = offset_at(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if offset_at(mid) == old:
            lo = mid
        else:
            hi = mid
    return epoch + timedelta(seconds=hi)


def clear_caches() -> None:
    """Forget memoised conversions (benchmarks measure the cold path with it)."""
    for cached in (_to_instant, _gap_end):
        cached.cache_clear()


def local_time(at: datetime, zone: ZoneInfo) -> datetime:
    """``at`` as an aware datetime in ``zone`` (for display)."""
    return require_aware(at).astimezone(zone)


def format_local(at: datetime, zone: ZoneInfo) -> str:
    """``Mon 2026-11-30 09:00 EST``: how times are shown to people."""
    return local_time(at, zone).strftime("%a %Y-%m-%d %H:%M %Z")


def require_aware(at: datetime) -> datetime:
    """``at`` itself; a naive datetime is a bug in the caller, so it raises ValueError."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("expected a timezone-aware datetime")
    return at
