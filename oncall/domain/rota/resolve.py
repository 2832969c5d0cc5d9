"""Who is on call at an instant, the on-call periods over a span, gaps, and who a step pages.

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

Levels and layers
=================

Each rotation belongs to a *level* (by default a level named like the rotation). Escalation
steps name levels: "page whoever is primary". Several rotations may share a level; they are
*layers*, and a **later-listed rotation wins while it is active**: its ``start`` has passed and
its window (if any, :mod:`oncall.domain.rota.windows`) covers the instant. Outside that, the
earlier layers show through (weekend cover over a weekly rota; follow-the-sun).

Overrides
=========

An :class:`~oncall.domain.rota.model.Override` puts a member on call for a rotation for
``[start, end)``, whatever the rotations say, and it applies to the whole *level* of that
rotation (it replaces whichever layer is showing, and it covers times no layer covers). When
overrides on one level overlap, the later-listed one wins. An override never changes the
rotation's order: when it ends, the rotation continues with whoever's shift it is.

Every :class:`~oncall.domain.rota.model.OnCall` period ends at the first of: the next handoff
(even a handoff to the same person), a window edge, a later layer becoming active, an override
starting or ending. The periods returned by :func:`shifts` are exactly the ones
:func:`who_is_on_call` returns for the instants inside them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from oncall.domain.rota.localtime import require_aware, to_instant
from oncall.domain.rota.model import EscalationStep, Member, OnCall, Rotation, Stack, Team
from oncall.domain.rota.windows import last_window_end, next_window_start, window_span


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
        return next_window_start(rotation.window, zone, first)
    return next_window_start(rotation.window, zone, at)


def _last_deactivation(rotation: Rotation, zone: ZoneInfo, at: datetime) -> datetime | None:
    """When ``rotation``, inactive at ``at``, last stopped being active (None: never was)."""
    first = _handoff(rotation, zone, 0)
    if rotation.window is None or first > at:
        return None
    end = last_window_end(rotation.window, zone, at)
    return end if end is not None and end > first else None


def _resolve(team: Team, stack: Stack, at: datetime) -> OnCall | None:
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


def who_is_on_call(team: Team, level: str, at: datetime) -> OnCall | None:
    """Who is on call for ``level`` at ``at`` (None: nobody), and for which period.

    ``level`` may also name a single rotation that is a layer of another level: then only that
    rotation and its overrides count. Raises KeyError for a name the team doesn't have.
    """
    require_aware(at)
    return _resolve(team, team.stack(level), at.astimezone(UTC))


def _next_change(team: Team, stack: Stack, at: datetime) -> datetime | None:
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
    require_aware(start)
    require_aware(end)
    stack = team.stack(level)
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
