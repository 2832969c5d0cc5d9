"""Who is on call: rotations, layers, windows, overrides and escalation policies (pure code).

Nothing here reads files, talks to a database or asks a clock: every function takes the instant
it is about (``at``, timezone-aware) and returns plain values. Loading and validating the YAML
lives in :mod:`oncall.rotas`.

Time model
==========

*Instants* (``at``, override ``start``/``end``, every ``OnCall.start``/``end``) are aware
datetimes; results are in UTC. *Local times* (a rotation's ``start``, window edges) are naive
datetimes read as wall-clock time in the team's zone.

Local time -> instant (:func:`to_instant`), used for every handoff, window edge and override:

* a local time that does not exist (it falls in the spring-forward gap, like 02:30 on the
  second Sunday of March in Toronto) means **the first valid instant after the gap** (03:00
  local, the moment the clocks jump). Nobody is left "between" shifts: the shift that would have
  started inside the gap starts at the end of it;
* a local time that happens twice (the fall-back hour) means **its first occurrence** (fold=0).

Shifts and handoffs
===================

A rotation hands off at ``start + k * shift`` for k = 0, 1, 2 ... and member ``k % len(members)``
holds shift k. Shifts are half-open ``[handoff k, handoff k+1)``; before ``start`` the rotation
covers nothing. How ``start + k * shift`` is read depends on the shift length:

* **wall-clock shifts** -- a whole number of days (``1d``, ``1w``, ``2w``) or a length that
  divides a day exactly (``12h``, ``8h``, ``6h``, ``1h``, ``30m``): the sum is taken in *local
  wall-clock time*, so a weekly 09:00 handoff is 09:00 in January and in July and a 12h rota
  stays 09:00/21:00. The shift that contains a DST change is an hour shorter or longer in
  elapsed time. A handoff that lands in the spring-forward gap happens at the end of the gap
  (a daily 02:30 handoff happens at 03:00 that day); if several handoffs of a very short shift
  (1h or less) land in the same gap they all happen at 03:00, so the shifts between them are
  empty and the rota resumes with the member whose wall-clock shift contains 03:00. A handoff
  in the repeated fall-back hour happens at its first occurrence, so the shift that starts then
  also covers the repeated hour.
* **elapsed-time shifts** -- every other length (``7h``, ``36h``, ``1d12h``): handoffs are every
  ``shift`` of real elapsed time from the instant of ``start``. Such shifts do not line up
  with the day anyway (their handoff times walk around the clock), so there is no local time to
  keep, and counting elapsed time gives everyone exactly equal shifts with no DST anomalies.

Lookups are arithmetic: the shift index is computed by division, so asking about a date ten
years after ``start`` costs the same as asking about tomorrow (the only loop is a correction
step over the handoffs inside one repeated fall-back hour).

Levels, layers and windows
==========================

Each rotation belongs to a *level* (by default a level named like the rotation). Escalation
steps name levels: "page whoever is primary". Several rotations may share a level; they are
*layers*, and a **later-listed rotation wins while it is active**: its ``start`` has passed and
its window (if any) covers the instant. Outside that, the earlier layers show through (weekend
cover over a weekly rota; follow-the-sun).

A :class:`Window` is a set of weekly spans of local wall-clock time, e.g. weekday nights (Mon-Fri
18:00 until 09:00 the next morning) or one span "Fri 18:00 until Mon 09:00". Window edges follow
the same local-time rules as handoffs. A window and a rotation's shifts are independent: the
rotation's member is still ``k % len(members)`` for the shift that contains the instant.

Overrides
=========

An :class:`Override` puts a member on call for a rotation for ``[start, end)``, whatever the
rotations say, and it applies to the whole *level* of that rotation (it replaces whichever layer
is showing, and it covers times no layer covers). When overrides on one level overlap, the
later-listed one wins. An override never changes the rotation's order: when it ends, the
rotation continues with whoever's shift it is.

Every :class:`OnCall` period ends at the first of: the next handoff (even a handoff to the same
person), a window edge, a later layer becoming active, an override starting or ending. The
periods returned by :func:`shifts` are exactly the ones :func:`who_is_on_call` returns for the
instants inside them.

Escalation snapshots
====================

When a case opens, :func:`policy_snapshot` stores the team's policy on the case. The rule:

* **The structure is frozen at open time**: steps, delays, ``repeat``, the rotations (members,
  order, shift, start, windows, layers), the members and their phone numbers and emails, and
  the manager. A rota edit after the case opened never changes an escalation already running.
* **The person is resolved when a step fires**, at that instant, from the snapshotted
  rotations: a normal handoff between opening and firing is honoured (a case opened at 08:58
  whose second step fires at 09:03 pages the engineer who took over at 09:00).
* **Overrides come from the live team** when it is available (:func:`targets_from_snapshot`
  ``live_team``): an override in the live file for a snapshotted rotation that covers the firing
  instant wins, so "Carol takes tonight" added after the case opened applies to every step that
  has not fired yet, and an override deleted since no longer applies. The member it names is
  taken from the snapshot (frozen contact details) or, if the member was added to the team after
  the case opened, from the live team. Overrides for rotations the snapshot doesn't have are
  ignored. Without a live team (the file was removed or never loaded) the snapshotted overrides
  apply.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SNAPSHOT_VERSION = 1


# ---------------------------------------------------------------------------------------------
# Local time <-> instants
# ---------------------------------------------------------------------------------------------


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
    for cached in (_to_instant, _gap_end, _week_instances, _three_weeks):
        cached.cache_clear()


def local_time(at: datetime, zone: ZoneInfo) -> datetime:
    """``at`` as an aware datetime in ``zone`` (for display)."""
    return _require_aware(at).astimezone(zone)


def format_local(at: datetime, zone: ZoneInfo) -> str:
    """``Mon 2026-11-30 09:00 EST``: how times are shown to people."""
    return local_time(at, zone).strftime("%a %Y-%m-%d %H:%M %Z")


def _require_aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("expected a timezone-aware datetime")
    return at


# ---------------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """When a rotation is active, as spans of local wall-clock time repeating every week.

    ``spans`` holds ``(offset, length)`` pairs: the span starts ``offset`` after Monday 00:00
    local and lasts ``length`` of wall-clock time. Build windows with :func:`daily_window`,
    :func:`weekly_window` and :func:`combine_windows`, which sort and merge the spans so that
    they never overlap or touch (also across the end of the week); a window that would cover
    the whole week is ``None`` (no window).
    """

    spans: tuple[tuple[timedelta, timedelta], ...]

    def describe(self) -> str:
        parts = []
        for offset, length in self.spans:
            parts.append(f"{_week_position(offset)} until {_week_position(offset + length)}")
        return ", ".join(parts)


def _week_position(offset: timedelta) -> str:
    offset = offset % WEEK
    day, rest = divmod(offset, DAY)
    minutes = int(rest.total_seconds() // 60)
    return f"{DAY_NAMES[day]} {minutes // 60:02d}:{minutes % 60:02d}"


def _time_offset(value: time) -> timedelta:
    return timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)


def make_window(spans: Iterable[tuple[timedelta, timedelta]]) -> Window | None:
    """Normalise weekly spans (offset from Monday 00:00, length) into a :class:`Window`.

    Returns None when the spans cover the whole week: such a rotation is simply always active.
    """
    intervals = []
    for offset, length in spans:
        if length <= timedelta(0):
            raise ValueError("a window span must be longer than zero")
        if length >= WEEK:
            return None
        start = offset % WEEK
        intervals.append((start, start + length))
    if not intervals:
        raise ValueError("a window needs at least one span")
    intervals.sort()
    merged: list[tuple[timedelta, timedelta]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    # Spans that run past Sunday night continue into next week's first spans: join them, so
    # that instances of the window never touch (a touching pair would be one period, not two).
    while len(merged) > 1 and merged[-1][1] >= merged[0][0] + WEEK:
        first = merged.pop(0)
        merged[-1] = (merged[-1][0], max(merged[-1][1], first[1] + WEEK))
    if any(end - start >= WEEK for start, end in merged):
        return None
    return Window(tuple((start, end - start) for start, end in merged))


def daily_window(days: Iterable[int], start: time, end: time) -> Window | None:
    """Every listed day (0 = Monday) from ``start`` until ``end`` local time.

    ``end`` at or before ``start`` means the next day: ``(mon-fri, 18:00, 09:00)`` is weekday
    nights, Friday night running into Saturday 09:00. ``end == start`` is 24 hours. The days are
    the days the span *starts*.
    """
    begin = _time_offset(start)
    length = (_time_offset(end) - begin) % DAY or DAY
    return make_window((day * DAY + begin, length) for day in sorted(set(days)))


def weekly_window(start_day: int, start: time, end_day: int, end: time) -> Window | None:
    """One span a week, e.g. Friday 18:00 until Monday 09:00 (``(4, 18:00, 0, 09:00)``)."""
    begin = start_day * DAY + _time_offset(start)
    length = (end_day * DAY + _time_offset(end) - begin) % WEEK or WEEK
    return make_window([(begin, length)])


def combine_windows(windows: Iterable[Window | None]) -> Window | None:
    """The union of windows (None, "always", absorbs everything)."""
    spans: list[tuple[timedelta, timedelta]] = []
    for window in windows:
        if window is None:
            return None
        spans.extend(window.spans)
    return make_window(spans)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@functools.lru_cache(maxsize=4096)
def _week_instances(
    window: Window, zone: ZoneInfo, monday: date
) -> tuple[tuple[datetime, datetime], ...]:
    """The window's spans in the week starting ``monday``, as instants; empty ones dropped.

    A span can only become empty if it lies wholly inside a spring-forward gap: those local
    times never happen, so neither does the span.
    """
    base = datetime.combine(monday, time())
    out = []
    for offset, length in window.spans:
        start = to_instant(base + offset, zone)
        end = to_instant(base + offset + length, zone)
        if start < end:
            out.append((start, end))
    return tuple(out)


def _instances_around(
    window: Window, zone: ZoneInfo, at: datetime
) -> tuple[tuple[datetime, datetime], ...]:
    return _three_weeks(window, zone, _monday(at.astimezone(zone).date()))


@functools.lru_cache(maxsize=1024)
def _three_weeks(
    window: Window, zone: ZoneInfo, monday: date
) -> tuple[tuple[datetime, datetime], ...]:
    # A span is shorter than a week, so one covering an instant of this week starts this week
    # or last week; next week is included so a continuation across a DST gap can be joined.
    return tuple(
        instance
        for weeks in (-1, 0, 1)
        for instance in _week_instances(window, zone, monday + timedelta(weeks=weeks))
    )


def window_span(window: Window, zone: ZoneInfo, at: datetime) -> tuple[datetime, datetime] | None:
    """The window period containing ``at`` as ``(start, end)`` instants, or None if outside."""
    instances = _instances_around(window, zone, at)
    for index, (start, end) in enumerate(instances):
        if start <= at < end:
            # Spans never touch in wall-clock time, but two can touch as instants when the
            # wall-clock time between them lies inside a DST gap; then they are one period.
            after = index
            while after + 1 < len(instances) and instances[after + 1][0] == end:
                after += 1
                end = instances[after][1]
            before = index
            while before > 0 and instances[before - 1][1] == start:
                before -= 1
                start = instances[before][0]
            return start, end
    return None


def _next_window_start(window: Window, zone: ZoneInfo, after: datetime) -> datetime:
    """The first window period starting strictly after ``after``."""
    monday = _monday(after.astimezone(zone).date())
    for weeks in range(-1, 60):  # normally found within two weeks; empty weeks are gap freaks
        for start, _end in _week_instances(window, zone, monday + timedelta(weeks=weeks)):
            if start > after:
                return start
    raise ValueError("window never opens")  # pragma: no cover - every span is non-empty


def _last_window_end(window: Window, zone: ZoneInfo, at: datetime) -> datetime | None:
    """The end of the last window period that ended at or before ``at``."""
    monday = _monday(at.astimezone(zone).date())
    for weeks in range(0, -60, -1):
        for _start, end in reversed(_week_instances(window, zone, monday + timedelta(weeks=weeks))):
            if end <= at:
                return end
    return None  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    key: str
    name: str
    phone: str | None  # E.164, e.g. +15550100101
    email: str | None


@dataclass(frozen=True)
class Rotation:
    """A list of members taking turns, each for ``shift``, from ``start`` (local time).

    ``level`` is the escalation level this rotation serves ("" means its own name); rotations
    sharing a level are layers, later ones on top. See the module docstring for the DST rules.
    """

    name: str
    level: str
    members: tuple[str, ...]
    shift: timedelta
    start: datetime  # naive, local wall-clock time in the team's zone
    window: Window | None = None
    # True when handoffs keep their local wall-clock time (see the module docstring).
    wall_clock: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "wall_clock",
            self.shift > timedelta(0)
            and (self.shift % DAY == timedelta(0) or DAY % self.shift == timedelta(0)),
        )
        if not self.level:
            object.__setattr__(self, "level", self.name)
        if not self.members:
            raise ValueError(f"rotation {self.name!r} has no members")
        if self.shift <= timedelta(0):
            raise ValueError(f"rotation {self.name!r}: shift must be longer than zero")
        if self.start.tzinfo is not None:
            raise ValueError(f"rotation {self.name!r}: start is a naive local time")


@dataclass(frozen=True)
class Override:
    """``member`` is on call for ``rotation`` (and so for its level) during ``[start, end)``."""

    rotation: str
    member: str
    start: datetime  # aware
    end: datetime  # aware
    note: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self.start)
        _require_aware(self.end)
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")


@dataclass(frozen=True)
class EscalationStep:
    after: timedelta  # since the case opened
    notify: tuple[str, ...]  # level, rotation or member names


@dataclass(frozen=True)
class EscalationPolicy:
    steps: tuple[EscalationStep, ...]
    repeat: int = 0  # run the steps this many more times if nobody acknowledges

    def names(self) -> list[str]:
        """Every name the policy notifies, first use first."""
        return list(dict.fromkeys(name for step in self.steps for name in step.notify))


class _Stack(NamedTuple):
    """What decides who is on call for one name: layers (bottom first) and their overrides."""

    level: str
    rotations: tuple[Rotation, ...]
    overrides: tuple[Override, ...]
    starts: tuple[datetime, ...]  # override starts, sorted: for "next override begins"
    ends: tuple[datetime, ...]  # override ends, sorted: for "last override ended"

    @classmethod
    def of(cls, level: str, rotations: tuple[Rotation, ...], overrides: tuple[Override, ...]):
        starts = tuple(sorted(o.start for o in overrides))
        return cls(level, rotations, overrides, starts, tuple(sorted(o.end for o in overrides)))

    def next_override_start(self, at: datetime) -> datetime | None:
        index = bisect.bisect_right(self.starts, at)
        return self.starts[index] if index < len(self.starts) else None

    def last_override_end(self, at: datetime) -> datetime | None:
        index = bisect.bisect_right(self.ends, at)
        return self.ends[index - 1] if index else None


@dataclass(frozen=True)
class Team:
    key: str
    timezone: str
    members: Mapping[str, Member]
    rotations: tuple[Rotation, ...]
    overrides: tuple[Override, ...]
    escalation: EscalationPolicy
    manager: str | None = None
    # Where the team came from, for messages about it (file name, "key.path" -> line).
    source: str = field(default="", compare=False)
    source_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    _zone: ZoneInfo = field(init=False, compare=False, repr=False)
    _stacks: dict[str, _Stack] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))  # raises for an unknown zone
        by_name = {r.name: r for r in self.rotations}
        if len(by_name) != len(self.rotations):
            raise ValueError("rotation names must be unique")
        for rotation in self.rotations:
            unknown = [m for m in rotation.members if m not in self.members]
            if unknown:
                raise ValueError(f"rotation {rotation.name!r}: unknown members {unknown}")
        for override in self.overrides:
            if override.rotation not in by_name:
                raise ValueError(f"override for unknown rotation {override.rotation!r}")
            if override.member not in self.members:
                raise ValueError(f"override names unknown member {override.member!r}")
        if self.manager is not None and self.manager not in self.members:
            raise ValueError(f"manager {self.manager!r} is not a member")
        stacks: dict[str, _Stack] = {}
        for level in dict.fromkeys(r.level for r in self.rotations):
            layers = tuple(r for r in self.rotations if r.level == level)
            names = {r.name for r in layers}
            overrides = tuple(o for o in self.overrides if o.rotation in names)
            stacks[level] = _Stack.of(level, layers, overrides)
        for rotation in self.rotations:
            # A layer is also reachable by its own name: just that rotation and its overrides.
            # A level's name wins over a rotation of another level with the same name (the
            # loader rejects that ambiguity).
            if rotation.name not in stacks:
                overrides = tuple(o for o in self.overrides if o.rotation == rotation.name)
                stacks[rotation.name] = _Stack.of(rotation.level, (rotation,), overrides)
        object.__setattr__(self, "_stacks", stacks)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def levels(self) -> list[str]:
        """Level names in the order their first rotation is listed."""
        return list(dict.fromkeys(r.level for r in self.rotations))

    def rotation(self, name: str) -> Rotation | None:
        return next((r for r in self.rotations if r.name == name), None)

    def is_schedule(self, name: str) -> bool:
        """Whether ``name`` is a level or rotation (pages whoever is on call)."""
        return name in self._stacks

    def manager_member(self) -> Member | None:
        return self.members.get(self.manager) if self.manager else None


@dataclass(frozen=True)
class OnCall:
    member: Member
    level: str
    rotation: str  # the rotation whose shift (or override) this is
    start: datetime  # UTC; the period is [start, end)
    end: datetime
    override: bool
    note: str | None = None  # the override's note, if any


# ---------------------------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------------------------


def _handoff(rotation: Rotation, zone: ZoneInfo, k: int) -> datetime:
    """The instant shift ``k`` of ``rotation`` starts."""
    if rotation.wall_clock:
        return to_instant(rotation.start + k * rotation.shift, zone)
    return to_instant(rotation.start, zone) + k * rotation.shift


def _shift_bounds(
    rotation: Rotation, zone: ZoneInfo, at: datetime
) -> tuple[int, datetime, datetime] | None:
    """``(k, start, end)`` of the shift containing ``at``; None before the rotation starts."""
    if rotation.wall_clock:
        wall = at.astimezone(zone).replace(tzinfo=None)
        k = (wall - rotation.start) // rotation.shift
        start, end = _handoff(rotation, zone, k), _handoff(rotation, zone, k + 1)
        # The wall-clock estimate is exact except in the second pass of a repeated fall-back
        # hour: the clock then reads earlier than handoffs that already happened (at their
        # first occurrence). Step over those; there are at most (repeated hour / shift).
        while end <= at:
            k, start, end = k + 1, end, _handoff(rotation, zone, k + 2)
        while start > at:  # defensive: the mapping never puts a handoff after its wall time
            k, start, end = k - 1, _handoff(rotation, zone, k - 1), start
    else:
        origin = to_instant(rotation.start, zone)
        k = (at - origin) // rotation.shift
        start = origin + k * rotation.shift
        end = start + rotation.shift
    return (k, start, end) if k >= 0 else None


def _active_span(
    rotation: Rotation, zone: ZoneInfo, at: datetime
) -> tuple[int, datetime, datetime] | None:
    """``(shift index, period start, period end)`` if ``rotation`` is active at ``at``."""
    bounds = _shift_bounds(rotation, zone, at)
    if bounds is None:
        return None
    k, start, end = bounds
    if rotation.window is not None:
        span = window_span(rotation.window, zone, at)
        if span is None:
            return None
        start, end = max(start, span[0]), min(end, span[1])
    return k, start, end


def _next_activation(rotation: Rotation, zone: ZoneInfo, at: datetime) -> datetime | None:
    """When ``rotation``, inactive at ``at``, next becomes active (None: never again)."""
    first = _handoff(rotation, zone, 0)
    if rotation.window is None:
        return first if first > at else None
    if first > at:
        if window_span(rotation.window, zone, first) is not None:
            return first
        return _next_window_start(rotation.window, zone, first)
    return _next_window_start(rotation.window, zone, at)


def _last_deactivation(rotation: Rotation, zone: ZoneInfo, at: datetime) -> datetime | None:
    """When ``rotation``, inactive at ``at``, last stopped being active (None: never was)."""
    first = _handoff(rotation, zone, 0)
    if rotation.window is None or first > at:
        return None
    end = _last_window_end(rotation.window, zone, at)
    return end if end is not None and end > first else None


def _resolve(team: Team, stack: _Stack, at: datetime) -> OnCall | None:
    zone = team.zone
    overrides = stack.overrides
    # Overrides beat every layer; among overlapping overrides the later-listed one wins.
    for index in range(len(overrides) - 1, -1, -1):
        override = overrides[index]
        if override.start <= at < override.end:
            start, end = override.start, override.end
            for later in overrides[index + 1 :]:  # these would win while they apply
                if later.end <= at:
                    start = max(start, later.end)
                elif later.start > at:
                    end = min(end, later.start)
            member = team.members[override.member]
            return OnCall(member, stack.level, override.rotation, start, end, True, override.note)
    layers = stack.rotations
    for index in range(len(layers) - 1, -1, -1):
        rotation = layers[index]
        active = _active_span(rotation, zone, at)
        if active is None:
            continue
        k, start, end = active
        # The period also starts/ends where a higher layer stopped/starts, or an override.
        for later in layers[index + 1 :]:
            starts = _next_activation(later, zone, at)
            if starts is not None:
                end = min(end, starts)
            stopped = _last_deactivation(later, zone, at)
            if stopped is not None:
                start = max(start, stopped)
        following, previous = stack.next_override_start(at), stack.last_override_end(at)
        if following is not None:
            end = min(end, following)
        if previous is not None:
            start = max(start, previous)
        member = team.members[rotation.members[k % len(rotation.members)]]
        return OnCall(member, stack.level, rotation.name, start, end, False)
    return None


def _stack(team: Team, name: str) -> _Stack:
    try:
        return team._stacks[name]
    except KeyError:
        raise KeyError(f"team {team.key!r} has no level or rotation {name!r}") from None


def who_is_on_call(team: Team, level: str, at: datetime) -> OnCall | None:
    """Who is on call for ``level`` at ``at`` (None: nobody), and for which period.

    ``level`` may also name a single rotation that is a layer of another level: then only that
    rotation and its overrides count. Raises KeyError for a name the team doesn't have.
    """
    _require_aware(at)
    return _resolve(team, _stack(team, level), at.astimezone(UTC))


def _next_change(team: Team, stack: _Stack, at: datetime) -> datetime | None:
    """When somebody next comes on call, from an instant when nobody is."""
    following = stack.next_override_start(at)
    candidates = [following] if following is not None else []
    for rotation in stack.rotations:
        starts = _next_activation(rotation, team.zone, at)
        if starts is not None:
            candidates.append(starts)
    return min(candidates, default=None)


def shifts(team: Team, level: str, start: datetime, end: datetime) -> list[OnCall]:
    """The on-call periods for ``level`` that overlap ``[start, end)``, in order.

    Periods keep their true bounds (the first may start before ``start``, the last end after
    ``end``); times when nobody is on call are left out, so a gap shows as ``a.end < b.start``.
    """
    _require_aware(start)
    _require_aware(end)
    stack = _stack(team, level)
    out: list[OnCall] = []
    at, end = start.astimezone(UTC), end.astimezone(UTC)
    while at < end:
        current = _resolve(team, stack, at)
        if current is not None:
            out.append(current)
            at = current.end
        else:
            following = _next_change(team, stack, at)
            if following is None:
                break
            at = following
    return out


def gaps(team: Team, level: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The parts of ``[start, end)`` when nobody is on call for ``level``."""
    out = []
    cursor = start.astimezone(UTC)
    end = end.astimezone(UTC)
    for period in shifts(team, level, start, end):
        if period.start > cursor:
            out.append((cursor, min(period.start, end)))
        cursor = max(cursor, period.end)
    if cursor < end:
        out.append((cursor, end))
    return out


def resolve_targets(team: Team, step: EscalationStep, at: datetime) -> list[Member]:
    """The people a step pages at ``at``: whoever is on call for each level or rotation it
    names, and each member it names; duplicates dropped, order kept. A level with nobody on
    call contributes nobody (the coverage check reports such gaps ahead of time)."""
    out: dict[str, Member] = {}
    for name in step.notify:
        if team.is_schedule(name):
            current = who_is_on_call(team, name, at)
            if current is not None:
                out.setdefault(current.member.key, current.member)
        elif name in team.members:
            out.setdefault(name, team.members[name])
    return list(out.values())


# ---------------------------------------------------------------------------------------------
# Snapshots (see "Escalation snapshots" in the module docstring)
# ---------------------------------------------------------------------------------------------


def _td(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _member_json(member: Member) -> dict[str, Any]:
    return {"name": member.name, "phone": member.phone, "email": member.email}


def policy_snapshot(team: Team, at: datetime) -> dict[str, Any]:
    """Everything needed to run this team's escalation later, as JSON-serialisable data.

    ``resolved`` lists, per step, who that step would page at ``at`` (for display: "will page
    Alice Ng, then Bob Roy"); the people actually paged are resolved when each step fires.
    """
    _require_aware(at)
    return {
        "version": SNAPSHOT_VERSION,
        "team": team.key,
        "timezone": team.timezone,
        "taken_at": at.astimezone(UTC).isoformat(),
        "members": {key: _member_json(m) for key, m in team.members.items()},
        "rotations": [
            {
                "name": r.name,
                "level": r.level,
                "members": list(r.members),
                "shift_seconds": r.shift.total_seconds(),
                "start": r.start.isoformat(),
                "window": (
                    None
                    if r.window is None
                    else [[o.total_seconds(), n.total_seconds()] for o, n in r.window.spans]
                ),
            }
            for r in team.rotations
        ],
        "overrides": [
            {
                "rotation": o.rotation,
                "member": o.member,
                "start": o.start.astimezone(UTC).isoformat(),
                "end": o.end.astimezone(UTC).isoformat(),
                "note": o.note,
            }
            for o in team.overrides
        ],
        "escalation": {
            "repeat": team.escalation.repeat,
            "steps": [
                {"after_seconds": s.after.total_seconds(), "notify": list(s.notify)}
                for s in team.escalation.steps
            ],
        },
        "manager": team.manager,
        "resolved": [
            [{"key": m.key, "name": m.name} for m in resolve_targets(team, step, at)]
            for step in team.escalation.steps
        ],
    }


def team_from_snapshot(snapshot: Mapping[str, Any]) -> Team:
    """The team exactly as it was when the snapshot was taken."""
    if snapshot.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"unsupported rota snapshot version {snapshot.get('version')!r}")
    members = {
        key: Member(key, m["name"], m.get("phone"), m.get("email"))
        for key, m in snapshot["members"].items()
    }
    rotations = tuple(
        Rotation(
            name=r["name"],
            level=r["level"],
            members=tuple(r["members"]),
            shift=_td(r["shift_seconds"]),
            start=datetime.fromisoformat(r["start"]),
            window=(
                None
                if r["window"] is None
                else Window(tuple((_td(o), _td(n)) for o, n in r["window"]))
            ),
        )
        for r in snapshot["rotations"]
    )
    overrides = tuple(
        Override(
            o["rotation"],
            o["member"],
            datetime.fromisoformat(o["start"]),
            datetime.fromisoformat(o["end"]),
            o.get("note"),
        )
        for o in snapshot["overrides"]
    )
    escalation = EscalationPolicy(
        tuple(
            EscalationStep(_td(s["after_seconds"]), tuple(s["notify"]))
            for s in snapshot["escalation"]["steps"]
        ),
        snapshot["escalation"]["repeat"],
    )
    return Team(
        snapshot["team"],
        snapshot["timezone"],
        members,
        rotations,
        overrides,
        escalation,
        snapshot.get("manager"),
    )


def _with_live_overrides(team: Team, live: Team) -> Team:
    """The snapshotted team with the live team's overrides for the snapshotted rotations."""
    if live.key != team.key:
        raise ValueError(f"live team {live.key!r} is not the snapshotted team {team.key!r}")
    names = {r.name for r in team.rotations}
    overrides = tuple(o for o in live.overrides if o.rotation in names)
    members = dict(team.members)
    for override in overrides:
        # A member added to the team after the case opened: only the live file knows them.
        if override.member not in members:
            members[override.member] = live.members[override.member]
    return replace(team, members=members, overrides=overrides)


def targets_from_snapshot(
    snapshot: Mapping[str, Any], step_index: int, at: datetime, live_team: Team | None
) -> list[Member]:
    """Who step ``step_index`` (its position in ``steps``; repeats reuse it) pages at ``at``.

    Follows the snapshot rule in the module docstring: frozen structure, rotations resolved at
    ``at``, live overrides win.
    """
    team = team_from_snapshot(snapshot)
    if live_team is not None:
        team = _with_live_overrides(team, live_team)
    steps = team.escalation.steps
    if not 0 <= step_index < len(steps):
        raise IndexError(f"the policy has {len(steps)} steps; there is no step {step_index}")
    return resolve_targets(team, steps[step_index], at)


def manager_from_snapshot(snapshot: Mapping[str, Any]) -> Member | None:
    """The manager as snapshotted (SLA breaches page them), with frozen contact details."""
    key = snapshot.get("manager")
    if not key or key not in snapshot.get("members", {}):
        return None
    data = snapshot["members"][key]
    return Member(key, data["name"], data.get("phone"), data.get("email"))
