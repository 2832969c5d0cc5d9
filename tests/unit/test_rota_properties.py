"""Property tests for the rota resolver (hypothesis).

Rotation starts and lookup instants are drawn both anywhere in a few years and, on purpose,
close to the DST changes of America/Toronto, Europe/London and Australia/Sydney, at the hours
where the changes happen.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.domain.rota.localtime import to_instant
from oncall.domain.rota.model import (
    EscalationPolicy,
    EscalationStep,
    Member,
    Override,
    Rotation,
    Team,
)
from oncall.domain.rota.resolve import shifts, who_is_on_call
from oncall.domain.rota.windows import daily_window, weekly_window

KEYS = ["alice", "bob", "carol", "dana"]
MEMBERS = {k: Member(k, k.title(), f"+1555010010{i}", None) for i, k in enumerate(KEYS, 1)}
DAY = timedelta(days=1)
MICRO = timedelta(microseconds=1)
SHIFTS = [
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=8),
    timedelta(hours=12),
    DAY,
    2 * DAY,
    timedelta(weeks=1),
    timedelta(weeks=2),
    # Lengths that don't fit the day: elapsed time.
    timedelta(hours=7),
    timedelta(hours=36),
    timedelta(minutes=90),
]
# Days on which the clocks change, per zone (both directions).
DST_DAYS = {
    "America/Toronto": [date(2026, 3, 8), date(2026, 11, 1), date(2027, 3, 14), date(2027, 11, 7)],
    "Europe/London": [date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)],
    "Australia/Sydney": [date(2026, 4, 5), date(2026, 10, 4), date(2027, 4, 4), date(2027, 10, 3)],
}
ZONES = list(DST_DAYS)
FAST = settings(max_examples=150, deadline=None)


@st.composite
def local_times(draw, zone: str) -> datetime:
    """A naive local time: near a DST change (at night, where the changes are) or anywhere."""
    if draw(st.booleans()):
        day = draw(st.sampled_from(DST_DAYS[zone])) + timedelta(days=draw(st.integers(-3, 1)))
        clock = time(draw(st.integers(0, 4)), draw(st.sampled_from([0, 15, 30, 45])))
        return datetime.combine(day, clock)
    minutes = draw(st.integers(0, 3 * 365 * 24 * 4)) * 15
    return datetime(2025, 6, 1) + timedelta(minutes=minutes)  # naive: a local time


@st.composite
def windows(draw):
    kind = draw(st.sampled_from(["none", "daily", "weekly"]))
    if kind == "none":
        return None
    start = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
    end = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
    if kind == "daily":
        days = draw(st.sets(st.integers(0, 6), min_size=1))
        return daily_window(days, start, end)
    return weekly_window(draw(st.integers(0, 6)), start, draw(st.integers(0, 6)), end)


@st.composite
def rotations(draw, zone: str, name: str, level: str = "", window: bool = False) -> Rotation:
    return Rotation(
        name,
        level,
        tuple(draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4))),
        draw(st.sampled_from(SHIFTS)),
        draw(local_times(zone)),
        draw(windows()) if window else None,
    )


def make_team(zone, rotations, overrides=()):
    policy = EscalationPolicy((EscalationStep(timedelta(0), (rotations[0].level,)),))
    return Team("t", zone, MEMBERS, tuple(rotations), tuple(overrides), policy)


@st.composite
def single_rotation(draw):
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        rotation = draw(rotations(zone, "p"))
        team = make_team(zone, [rotation])
        origin = to_instant(rotation.start, team.zone)
        return team, rotation, origin + timedelta(seconds=draw(st.integers(-86400, 10**8)))
    # Aimed at the night of a DST change: a rota with handoffs at night, looked up to the
    # second during the gap or the repeated hour.
    change = draw(st.sampled_from(DST_DAYS[zone]))
    start = datetime.combine(
        change - timedelta(days=draw(st.integers(0, 10))),
        time(draw(st.integers(0, 3)), draw(st.sampled_from([0, 15, 30, 45]))),
    )
    shift = draw(st.sampled_from([timedelta(minutes=m) for m in (15, 30, 60, 90, 120)] + [DAY]))
    rotation = Rotation("p", "", tuple(draw(st.permutations(KEYS))), shift, start)
    team = make_team(zone, [rotation])
    night = to_instant(datetime.combine(change, time()), team.zone)
    # (The hour is sampled uniformly: integer draws cluster at the edges of their range.)
    hour, second = draw(st.sampled_from(range(5))), draw(st.integers(0, 3599))
    return team, rotation, night + timedelta(hours=hour, seconds=second)


def expected_handoffs(
    team: Team, rotation: Rotation, at: datetime
) -> tuple[int, datetime, datetime]:
    """The definition, computed the slow way: scan the handoffs around ``at`` and take the last
    one at or before it. Wall-clock handoffs differ from elapsed time by at most the DST
    offset (1 hour in these zones), which bounds the scan."""
    zone = team.zone
    origin = to_instant(rotation.start, zone)

    def handoff(j: int) -> datetime:
        if rotation.wall_clock:
            return to_instant(rotation.start + j * rotation.shift, zone)
        return origin + j * rotation.shift

    estimate = math.floor((at - origin) / rotation.shift)
    slack = math.ceil(timedelta(hours=1) / rotation.shift) + 2
    candidates = [j for j in range(estimate - slack, estimate + slack + 1) if handoff(j) <= at]
    k = max(candidates)
    return k, handoff(k), handoff(k + 1)


@FAST
@given(single_rotation())
def test_exactly_one_member_per_rotation_at_every_instant_it_covers(case):
    team, rotation, at = case
    current = who_is_on_call(team, "p", at)
    if at < to_instant(rotation.start, team.zone):
        assert current is None
        return
    k, start, end = expected_handoffs(team, rotation, at)
    assert current is not None
    assert current.member.key == rotation.members[k % len(rotation.members)]
    assert (current.start, current.end) == (start, end)
    assert current.start <= at < current.end
    # Half-open and contiguous: the last microsecond is still this shift, its end is the next.
    assert who_is_on_call(team, "p", current.end - MICRO) == current
    following = who_is_on_call(team, "p", current.end)
    assert following.start == current.end and following != current


@st.composite
def layered_team(draw):
    zone = draw(st.sampled_from(ZONES))
    base = draw(rotations(zone, "primary", window=draw(st.booleans())))
    layers = [
        draw(rotations(zone, f"layer{i}", level="primary", window=True))
        for i in range(draw(st.integers(0, 2)))
    ]
    team = make_team(zone, [base, *layers])
    origin = to_instant(base.start, team.zone) + timedelta(hours=draw(st.integers(-72, 24 * 60)))
    overrides = []
    for _ in range(draw(st.integers(0, 3))):
        begin = origin + timedelta(minutes=draw(st.integers(0, 14 * 24 * 4)) * 15)
        length = timedelta(minutes=draw(st.integers(1, 3 * 24 * 4)) * 15)
        overrides.append(
            Override(
                draw(st.sampled_from([r.name for r in team.rotations])),
                draw(st.sampled_from(KEYS)),
                begin,
                begin + length,
            )
        )
    return make_team(zone, [base, *layers], overrides), origin


@FAST
@given(layered_team(), st.data())
def test_overrides_win(case, data):
    team, origin = case
    if not team.overrides:
        return
    at = origin + timedelta(minutes=data.draw(st.integers(0, 16 * 24 * 60)))
    covering = [o for o in team.overrides if o.start <= at < o.end]
    current = who_is_on_call(team, "primary", at)
    if covering:
        winner = covering[-1]  # the later-listed override wins
        assert current is not None and current.override
        assert (current.member.key, current.rotation) == (winner.member, winner.rotation)
    else:
        assert current is None or not current.override


@FAST
@given(layered_team(), st.integers(1, 10), st.data())
def test_day_by_day_equals_whole_range_equals_direct_lookup(case, days, data):
    team, origin = case
    start, end = origin, origin + timedelta(days=days)
    whole = shifts(team, "primary", start, end)
    by_day: list = []
    for day in range(days):
        for period in shifts(team, "primary", start + day * DAY, start + (day + 1) * DAY):
            if not by_day or by_day[-1] != period:
                by_day.append(period)
    assert by_day == whole
    for before, after in itertools.pairwise(whole):
        assert before.end <= after.start  # ordered, never overlapping
        if before.end == after.start:
            assert before != after
    for period in whole:
        assert who_is_on_call(team, "primary", period.start) == period
        assert who_is_on_call(team, "primary", period.end - MICRO) == period
    for _ in range(5):
        at = start + timedelta(seconds=data.draw(st.integers(0, days * 86400 - 1)))
        inside = [p for p in whole if p.start <= at < p.end]
        assert who_is_on_call(team, "primary", at) == (inside[0] if inside else None)


@st.composite
def dst_crossing(draw):
    zone = draw(st.sampled_from(ZONES))
    change = draw(st.sampled_from(DST_DAYS[zone]))
    shift = draw(
        st.sampled_from(
            [timedelta(hours=h) for h in (1, 2, 3, 6, 8, 12)] + [DAY, 2 * DAY, timedelta(weeks=1)]
        )
    )
    begin = datetime.combine(
        change - timedelta(days=draw(st.integers(1, 20))),
        time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30]))),
    )
    return zone, Rotation("p", "", ("alice", "bob", "carol"), shift, begin), change


@FAST
@given(dst_crossing())
def test_handoffs_keep_local_wall_clock_time_across_dst(case):
    zone_name, rotation, change = case
    zone = ZoneInfo(zone_name)
    team = make_team(zone_name, [rotation])
    first = to_instant(rotation.start, zone)
    last = to_instant(datetime.combine(change + timedelta(days=9), time()), zone)
    periods = shifts(team, "p", first, last)
    assert periods[0].start == first
    for period in periods:
        local = period.start.astimezone(zone)
        wall = local.replace(tzinfo=None)
        assert local.fold == 0  # a handoff in a repeated hour is at its first occurrence
        if (wall - rotation.start) % rotation.shift:
            # Not on the wall-clock grid: only allowed at the end of a spring-forward gap,
            # standing in for a grid time that didn't exist that night.
            assert to_instant(wall - timedelta(minutes=1), zone) == period.start
            an_hour_before = (period.start - timedelta(hours=1)).astimezone(zone)
            assert local.utcoffset() > an_hour_before.utcoffset()
        elif rotation.shift % DAY == timedelta(0):
            assert wall.time() == rotation.start.time()  # same time of day, winter and summer
    assert any(
        p.start.astimezone(zone).utcoffset() != periods[0].start.astimezone(zone).utcoffset()
        for p in periods
    ), "the generated range should cross the DST change"
    assert all(p.start.tzinfo is UTC or p.start.utcoffset() == timedelta(0) for p in periods)
