"""Table tests for the rota resolver: the edge cases on-call products get wrong.

Times in the tables are local wall-clock times in the team's zone (America/Toronto unless
stated), written the way a manager would, and converted with the module's own documented rule.
Toronto's DST changes used here: 2026-11-01 02:00 EDT -> 01:00 EST (fall back) and
2027-03-14 02:00 EST -> 03:00 EDT (spring forward).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from oncall.domain.rota.localtime import format_local, to_instant
from oncall.domain.rota.model import (
    EscalationPolicy,
    EscalationStep,
    Member,
    Override,
    Rotation,
    Team,
)
from oncall.domain.rota.resolve import gaps, resolve_targets, shifts, who_is_on_call
from oncall.domain.rota.snapshots import (
    manager_from_snapshot,
    policy_snapshot,
    targets_from_snapshot,
    team_from_snapshot,
)
from oncall.domain.rota.windows import daily_window, make_window, weekly_window
from oncall.domain.timetext import END_OF_DAY

TORONTO = ZoneInfo("America/Toronto")
MEMBERS = {
    key: Member(key, name, f"+1555010010{i}", f"{key}@example.com")
    for i, (key, name) in enumerate(
        [("alice", "Alice Ng"), ("bob", "Bob Roy"), ("carol", "Carol Li"), ("dana", "Dana Ortiz")],
        start=1,
    )
}
WEEK = timedelta(weeks=1)
DAY = timedelta(days=1)


def local(text: str, zone: ZoneInfo = TORONTO) -> datetime:
    """A local wall-clock time as an instant (gap -> end of gap, fold -> first occurrence)."""
    return to_instant(datetime.fromisoformat(text), zone)


def second_pass(text: str, zone: ZoneInfo = TORONTO) -> datetime:
    """The second occurrence of a repeated fall-back time."""
    return datetime.fromisoformat(text).replace(tzinfo=zone, fold=1).astimezone(UTC)


def make_team(*rotations: Rotation, overrides=(), zone="America/Toronto", steps=None, **kw):
    steps = steps or (EscalationStep(timedelta(0), (rotations[0].level,)),)
    return Team(
        "support",
        zone,
        kw.pop("members", MEMBERS),
        tuple(rotations),
        tuple(overrides),
        EscalationPolicy(tuple(steps), kw.pop("repeat", 0)),
        kw.pop("manager", "dana"),
    )


def rot(name, members, shift, start, level="", window=None):
    return Rotation(name, level, tuple(members), shift, datetime.fromisoformat(start), window)


def who(team, level, at):
    current = who_is_on_call(team, level, at)
    return None if current is None else current.member.key


PRIMARY = rot("primary", ["alice", "bob", "carol"], WEEK, "2026-11-02T09:00")


# -- local time -> instant --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "wall", "expected_utc"),
    [
        # Ordinary times.
        ("America/Toronto", "2026-11-02T09:00", "2026-11-02T14:00"),
        ("America/Toronto", "2027-07-05T09:00", "2027-07-05T13:00"),
        # Spring forward: 02:00-02:59 don't exist; they mean 03:00 EDT, when the clocks jump.
        ("America/Toronto", "2027-03-14T02:00", "2027-03-14T07:00"),
        ("America/Toronto", "2027-03-14T02:30", "2027-03-14T07:00"),
        ("America/Toronto", "2027-03-14T03:00", "2027-03-14T07:00"),
        ("Europe/London", "2027-03-28T01:30", "2027-03-28T01:00"),
        ("Australia/Sydney", "2026-10-04T02:15", "2026-10-03T16:00"),
        # Fall back: 01:00-01:59 happen twice; the first occurrence (EDT) is meant.
        ("America/Toronto", "2026-11-01T01:30", "2026-11-01T05:30"),
        ("Europe/London", "2026-10-25T01:30", "2026-10-25T00:30"),
        ("Australia/Sydney", "2027-04-04T02:30", "2027-04-03T15:30"),
    ],
)
def test_local_times_in_dst_gaps_and_folds(zone, wall, expected_utc):
    instant = to_instant(datetime.fromisoformat(wall), ZoneInfo(zone))
    assert instant == datetime.fromisoformat(expected_utc).replace(tzinfo=UTC)


# -- shift boundaries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "member", "start", "end"),
    [
        ("2026-11-02T08:59:59.999999", None, None, None),  # before the rota starts
        ("2026-11-02T09:00", "alice", "2026-11-02T09:00", "2026-11-09T09:00"),  # [start, ...
        ("2026-11-09T08:59:59.999999", "alice", "2026-11-02T09:00", "2026-11-09T09:00"),
        ("2026-11-09T09:00", "bob", "2026-11-09T09:00", "2026-11-16T09:00"),  # ... end)
        ("2026-11-16T09:00", "carol", "2026-11-16T09:00", "2026-11-23T09:00"),
        ("2026-11-23T09:00", "alice", "2026-11-23T09:00", "2026-11-30T09:00"),  # wraps around
        # A handoff in summer is at 09:00 local too (EDT), not 10:00: week 35 is carol's.
        ("2027-07-05T09:00", "carol", "2027-07-05T09:00", "2027-07-12T09:00"),
        ("2027-07-05T08:59", "bob", "2027-06-28T09:00", "2027-07-05T09:00"),
        # Ten years on (week 522): still arithmetic, still exact.
        ("2036-11-03T09:00", "alice", "2036-11-03T09:00", "2036-11-10T09:00"),
    ],
)
def test_weekly_shift_boundaries(at, member, start, end):
    team = make_team(PRIMARY)
    current = who_is_on_call(team, "primary", local(at))
    if member is None:
        assert current is None
        return
    assert (current.member.key, current.start, current.end) == (member, local(start), local(end))
    assert current.override is False and current.rotation == "primary"


def test_weekly_shift_across_dst_is_an_hour_longer_or_shorter_in_elapsed_time():
    team = make_team(PRIMARY)
    fall = who_is_on_call(team, "primary", local("2026-10-28T12:00"))
    assert fall is None  # before start
    team = make_team(rot("primary", ["alice", "bob"], WEEK, "2026-10-26T09:00"))
    fall = who_is_on_call(team, "primary", local("2026-10-28T12:00"))
    assert fall.end - fall.start == timedelta(hours=169)
    spring = who_is_on_call(team, "primary", local("2027-03-10T12:00"))
    assert spring.end - spring.start == timedelta(hours=167)
    assert format_local(spring.end, TORONTO) == "Mon 2027-03-15 09:00 EDT"


def test_naive_instant_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        who_is_on_call(make_team(PRIMARY), "primary", datetime(2026, 11, 3, 9, 0))


def test_unknown_level_is_a_key_error():
    with pytest.raises(KeyError, match="no level or rotation 'tertiary'"):
        who_is_on_call(make_team(PRIMARY), "tertiary", local("2026-11-03T09:00"))


# -- spring forward ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shift", "start", "at", "member", "period"),
    # Members: alice, bob (daily) or alice, bob, carol (shorter shifts).
    [
        # Daily 02:30 handoff: on the spring-forward day it happens at 03:00 EDT (the first
        # valid instant after the gap); the next day it is back at 02:30.
        (
            DAY,
            "2027-03-10T02:30",
            "2027-03-14T01:59",
            "bob",
            ("2027-03-13T02:30", "2027-03-14T03:00"),
        ),
        (
            DAY,
            "2027-03-10T02:30",
            "2027-03-14T03:00",
            "alice",
            ("2027-03-14T03:00", "2027-03-15T02:30"),
        ),
        (
            DAY,
            "2027-03-10T02:30",
            "2027-03-15T02:30",
            "bob",
            ("2027-03-15T02:30", "2027-03-16T02:30"),
        ),
        # 12h shifts stay 09:00/21:00; the night containing the change is 11 hours long
        # (shift 25 is bob's, 26 carol's).
        (
            timedelta(hours=12),
            "2027-03-01T09:00",
            "2027-03-14T08:59",
            "bob",
            ("2027-03-13T21:00", "2027-03-14T09:00"),
        ),
        (
            timedelta(hours=12),
            "2027-03-01T09:00",
            "2027-03-14T09:00",
            "carol",
            ("2027-03-14T09:00", "2027-03-14T21:00"),
        ),
        # Hourly: the 02:00 shift (carol's) never happens - its hour doesn't exist; at 03:00
        # the rota is where the wall clock says it is (the 03:00 shift: alice).
        (
            timedelta(hours=1),
            "2027-03-14T00:00",
            "2027-03-14T01:30",
            "bob",
            ("2027-03-14T01:00", "2027-03-14T03:00"),
        ),
        (
            timedelta(hours=1),
            "2027-03-14T00:00",
            "2027-03-14T03:00",
            "alice",
            ("2027-03-14T03:00", "2027-03-14T04:00"),
        ),
    ],
)
def test_spring_forward(shift, start, at, member, period):
    team = make_team(rot("p", ["alice", "bob", "carol"][: 3 if shift < DAY else 2], shift, start))
    current = who_is_on_call(team, "p", local(at))
    assert current.member.key == member
    assert (current.start, current.end) == (local(period[0]), local(period[1]))


def test_elapsed_time_shift_ignores_the_wall_clock():
    # 7h doesn't divide a day: handoffs every 7 real hours, so after the change they move by
    # an hour on the wall clock (21:00 EST + 7h = 05:00 EDT).
    team = make_team(rot("p", ["alice", "bob"], timedelta(hours=7), "2027-03-13T00:00"))
    current = who_is_on_call(team, "p", local("2027-03-14T01:00"))
    assert (current.start, current.end) == (local("2027-03-13T21:00"), local("2027-03-14T05:00"))
    assert current.end - current.start == timedelta(hours=7)


# -- fall back --------------------------------------------------------------------------------


def test_fall_back_daily_handoff_in_repeated_hour_happens_once_at_first_occurrence():
    team = make_team(rot("p", ["alice", "bob"], DAY, "2026-10-30T01:30"))
    first = who_is_on_call(team, "p", local("2026-11-01T01:30"))  # EDT, first pass
    again = who_is_on_call(team, "p", second_pass("2026-11-01T01:30"))  # EST, second pass
    assert first == again  # no second handoff at the repeated 01:30
    assert first.member.key == "alice"
    assert first.start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert first.end == local("2026-11-02T01:30")
    assert first.end - first.start == timedelta(hours=25)


@pytest.mark.parametrize(
    ("at", "member"),
    [
        (datetime(2026, 11, 1, 5, 0, tzinfo=UTC), "carol"),  # 01:00 EDT
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "dana"),  # 01:30 EDT
        (datetime(2026, 11, 1, 6, 0, tzinfo=UTC), "dana"),  # 01:00 EST: wall clock reads earlier
        (datetime(2026, 11, 1, 6, 45, tzinfo=UTC), "dana"),  # 01:45 EST
        (datetime(2026, 11, 1, 7, 0, tzinfo=UTC), "alice"),  # 02:00 EST
    ],
)
def test_fall_back_short_shifts_in_the_repeated_hour(at, member):
    # 30-minute shifts: handoffs at 01:00 and 01:30 happen at their first occurrence, so dana's
    # 01:30 shift runs until 02:00 EST and covers the whole second pass (1.5 hours).
    team = make_team(
        rot("p", ["alice", "bob", "carol", "dana"], timedelta(minutes=30), "2026-11-01T00:00")
    )
    assert who(team, "p", at) == member


def test_fall_back_twelve_hour_night_is_thirteen_hours():
    team = make_team(rot("p", ["alice", "bob"], timedelta(hours=12), "2026-10-20T09:00"))
    night = who_is_on_call(team, "p", local("2026-11-01T03:00"))
    assert (night.start, night.end) == (local("2026-10-31T21:00"), local("2026-11-01T09:00"))
    assert night.end - night.start == timedelta(hours=13)


# -- a start in the future --------------------------------------------------------------------


def test_future_start_nobody_before_then():
    team = make_team(rot("p", ["alice", "bob"], WEEK, "2027-01-04T09:00"))
    assert who_is_on_call(team, "p", local("2026-12-01T12:00")) is None
    assert shifts(team, "p", local("2026-12-01T00:00"), local("2027-01-04T09:00")) == []
    assert gaps(team, "p", local("2026-12-01T00:00"), local("2027-01-05T00:00")) == [
        (local("2026-12-01T00:00"), local("2027-01-04T09:00"))
    ]
    assert who(team, "p", local("2027-01-04T09:00")) == "alice"


# -- overrides --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "member", "override", "start", "end"),
    [
        ("2026-11-08T17:59", "alice", False, "2026-11-02T09:00", "2026-11-08T18:00"),
        ("2026-11-08T18:00", "carol", True, "2026-11-08T18:00", "2026-11-09T12:00"),
        ("2026-11-09T09:00", "carol", True, "2026-11-08T18:00", "2026-11-09T12:00"),  # handoff
        ("2026-11-09T12:00", "bob", False, "2026-11-09T12:00", "2026-11-16T09:00"),
    ],
)
def test_override_spanning_a_handoff(at, member, override, start, end):
    # Carol covers from Sunday 18:00 until Monday 12:00; the rota hands off (alice -> bob) at
    # Monday 09:00 underneath. Bob's turn is not skipped: he takes over when the override ends.
    carol = Override("primary", "carol", local("2026-11-08T18:00"), local("2026-11-09T12:00"))
    current = who_is_on_call(make_team(PRIMARY, overrides=[carol]), "primary", local(at))
    assert (current.member.key, current.override) == (member, override)
    assert (current.start, current.end) == (local(start), local(end))


def test_later_override_wins_where_overrides_overlap():
    first = Override("primary", "carol", local("2026-11-03T00:00"), local("2026-11-05T00:00"))
    second = Override("primary", "dana", local("2026-11-04T00:00"), local("2026-11-04T12:00"))
    team = make_team(PRIMARY, overrides=[first, second])
    periods = shifts(team, "primary", local("2026-11-03T00:00"), local("2026-11-05T00:00"))
    assert [(p.member.key, p.start, p.end) for p in periods] == [
        ("carol", local("2026-11-03T00:00"), local("2026-11-04T00:00")),
        ("dana", local("2026-11-04T00:00"), local("2026-11-04T12:00")),
        ("carol", local("2026-11-04T12:00"), local("2026-11-05T00:00")),
    ]


def test_override_before_start_and_override_on_a_layer_apply_to_the_level():
    nights = rot(
        "nights",
        ["bob"],
        DAY,
        "2026-11-02T18:00",
        level="primary",
        window=daily_window(range(5), time(18), time(9)),
    )
    early = Override("primary", "dana", local("2026-10-30T09:00"), local("2026-10-31T09:00"))
    layer = Override("nights", "carol", local("2026-11-04T12:00"), local("2026-11-04T13:00"))
    team = make_team(PRIMARY, nights, overrides=[early, layer])
    assert who(team, "primary", local("2026-10-30T12:00")) == "dana"  # before the rota starts
    # An override on the nights layer covers the level even while the base layer is showing.
    midday = who_is_on_call(team, "primary", local("2026-11-04T12:30"))
    assert (midday.member.key, midday.rotation, midday.override) == ("carol", "nights", True)
    # Asked by rotation name, the layer alone: its override, else its own member in window.
    assert who(team, "nights", local("2026-11-04T12:30")) == "carol"
    assert who(team, "nights", local("2026-11-04T14:00")) is None
    assert who(team, "nights", local("2026-11-04T20:00")) == "bob"


# -- layers and windows -----------------------------------------------------------------------


NIGHTS = rot(
    "nights",
    ["bob", "carol"],
    DAY,
    "2026-11-02T18:00",
    level="primary",
    window=daily_window(range(5), time(18), time(9)),
)  # Mon-Fri 18:00 until 09:00
BASE = rot("primary", ["alice"], WEEK, "2026-11-02T09:00")


@pytest.mark.parametrize(
    ("at", "member", "rotation", "start", "end"),
    [
        ("2026-11-02T17:59", "alice", "primary", "2026-11-02T09:00", "2026-11-02T18:00"),
        ("2026-11-02T18:00", "bob", "nights", "2026-11-02T18:00", "2026-11-03T09:00"),
        ("2026-11-03T00:30", "bob", "nights", "2026-11-02T18:00", "2026-11-03T09:00"),  # past 0:00
        ("2026-11-03T09:00", "alice", "primary", "2026-11-03T09:00", "2026-11-03T18:00"),
        ("2026-11-03T20:00", "carol", "nights", "2026-11-03T18:00", "2026-11-04T09:00"),
        # Friday night is in the window (it starts Friday) and runs into Saturday morning.
        ("2026-11-07T08:59", "bob", "nights", "2026-11-06T18:00", "2026-11-07T09:00"),
        # Saturday and Sunday nights aren't: the base layer shows through until Monday 18:00.
        ("2026-11-07T20:00", "alice", "primary", "2026-11-07T09:00", "2026-11-09T09:00"),
        ("2026-11-09T00:30", "alice", "primary", "2026-11-07T09:00", "2026-11-09T09:00"),
    ],
)
def test_weekday_nights_layer_crossing_midnight(at, member, rotation, start, end):
    team = make_team(BASE, NIGHTS)
    current = who_is_on_call(team, "primary", local(at))
    assert (current.member.key, current.rotation) == (member, rotation)
    assert (current.start, current.end) == (local(start), local(end))


def test_weekend_layer_weekly_span_and_order_of_layers():
    weekend = rot(
        "weekend",
        ["dana"],
        WEEK,
        "2026-11-06T18:00",
        level="primary",
        window=weekly_window(4, time(18), 0, time(9)),
    )  # Fri 18:00 until Mon 09:00
    team = make_team(BASE, NIGHTS, weekend)
    assert who(team, "primary", local("2026-11-06T17:00")) == "alice"
    friday = who_is_on_call(team, "primary", local("2026-11-06T18:00"))
    assert (friday.member.key, friday.end) == ("dana", local("2026-11-09T09:00"))
    assert who(team, "primary", local("2026-11-08T13:00")) == "dana"
    # Listed last, the weekend wins over the Friday night layer; listed first, it loses.
    team = make_team(weekend, BASE, NIGHTS)
    assert who(team, "primary", local("2026-11-06T20:00")) == "bob"
    assert who(team, "primary", local("2026-11-07T13:00")) == "alice"


def test_window_edges_follow_the_local_time_rules():
    # A window opening at 02:30 opens at 03:00 EDT on the spring-forward day.
    early = rot(
        "p", ["alice"], DAY, "2027-03-01T00:00", window=daily_window(range(7), time(2, 30), time(6))
    )
    team = make_team(early)
    current = who_is_on_call(team, "p", local("2027-03-14T04:00"))
    assert (current.start, current.end) == (local("2027-03-14T03:00"), local("2027-03-14T06:00"))
    assert current.end - current.start == timedelta(hours=3)


def test_window_normalisation():
    assert daily_window(range(7), time(9), time(9)) is None  # always
    assert weekly_window(0, time(0), 0, time(0)) is None
    joined = daily_window([0, 1], time(0), time(0))  # Mon+Tue whole days: one span of 48h
    assert joined.spans == ((timedelta(0), timedelta(days=2)),)
    wrap = make_window(
        [
            (timedelta(days=6, hours=18), timedelta(hours=15)),
            (timedelta(hours=9), timedelta(hours=3)),
        ]
    )  # Sun 18:00-Mon 12:00
    assert wrap.spans == ((timedelta(days=6, hours=18), timedelta(hours=18)),)
    assert wrap.describe() == "sun 18:00 until mon 12:00"


def test_end_of_day_in_windows_is_midnight_after_that_day():
    # "24:00" (END_OF_DAY) ends the day it is written on; "00:00" starts it.
    assert daily_window([0], time(18), END_OF_DAY) == daily_window([0], time(18), time(0))
    assert daily_window([0], time(0), END_OF_DAY) == daily_window([0], time(0), time(0))
    assert daily_window([0], END_OF_DAY, time(6)).describe() == "tue 00:00 until tue 06:00"
    until_sunday_ends = weekly_window(4, time(18), 6, END_OF_DAY)
    assert until_sunday_ends.describe() == "fri 18:00 until mon 00:00"
    assert weekly_window(4, time(18), 6, time(0)).describe() == "fri 18:00 until sun 00:00"


# -- escalation targets -----------------------------------------------------------------------


def test_resolve_targets_levels_rotations_members_deduplicated():
    secondary = rot("secondary", ["bob", "carol", "alice"], WEEK, "2026-11-02T09:00")
    team = make_team(PRIMARY, secondary)
    at = local("2026-11-03T12:00")  # primary alice, secondary bob
    step = EscalationStep(timedelta(0), ("primary", "alice", "secondary", "dana", "bob"))
    assert [m.key for m in resolve_targets(team, step, at)] == ["alice", "bob", "dana"]
    nobody = EscalationStep(timedelta(0), ("primary",))
    assert resolve_targets(team, nobody, local("2026-11-01T12:00")) == []


# -- snapshots --------------------------------------------------------------------------------


def snapshot_team(overrides=()):
    secondary = rot("secondary", ["bob", "carol", "alice"], WEEK, "2026-11-02T09:00")
    steps = (
        EscalationStep(timedelta(0), ("primary",)),
        EscalationStep(timedelta(minutes=5), ("secondary",)),
        EscalationStep(timedelta(minutes=10), ("dana",)),
    )
    return make_team(PRIMARY, secondary, overrides=overrides, steps=steps, repeat=1)


OPENED = local("2026-11-09T08:58")  # alice primary, bob secondary; at 09:00 bob and carol


def test_snapshot_is_json_and_rebuilds_the_same_team():
    cover = Override(
        "primary", "carol", local("2026-11-24T18:00"), local("2026-11-25T09:00"), "swap"
    )
    nights = rot(
        "nights",
        ["bob"],
        DAY,
        "2026-11-02T18:00",
        level="primary",
        window=daily_window(range(5), time(18), time(9)),
    )
    secondary = snapshot_team().rotations[1]
    team = replace(snapshot_team([cover]), rotations=(PRIMARY, nights, secondary))
    snapshot = json.loads(json.dumps(policy_snapshot(team, OPENED)))
    assert team_from_snapshot(snapshot) == team
    assert snapshot["resolved"] == [
        [{"key": "alice", "name": "Alice Ng"}],
        [{"key": "bob", "name": "Bob Roy"}],
        [{"key": "dana", "name": "Dana Ortiz"}],
    ]
    assert manager_from_snapshot(snapshot) == MEMBERS["dana"]


def test_snapshot_honours_a_normal_handoff_between_open_and_fire():
    snapshot = policy_snapshot(snapshot_team(), OPENED)
    fired = local("2026-11-09T09:03")  # step 1 fires after the 09:00 handoff
    assert [m.key for m in targets_from_snapshot(snapshot, 0, OPENED, None)] == ["alice"]
    assert [m.key for m in targets_from_snapshot(snapshot, 1, fired, None)] == ["carol"]
    assert [m.key for m in targets_from_snapshot(snapshot, 0, fired, None)] == ["bob"]


def test_override_added_after_opening_applies_to_steps_not_yet_fired():
    snapshot = policy_snapshot(snapshot_team(), OPENED)
    live = snapshot_team(
        [Override("secondary", "dana", local("2026-11-09T09:00"), local("2026-11-09T12:00"))]
    )
    fired = local("2026-11-09T09:03")
    assert [m.key for m in targets_from_snapshot(snapshot, 1, fired, live)] == ["dana"]
    # Before the override starts, the rota's person is paged.
    assert [m.key for m in targets_from_snapshot(snapshot, 1, OPENED, live)] == ["bob"]


def test_live_override_naming_a_new_member_uses_the_live_contact_details():
    snapshot = policy_snapshot(snapshot_team(), OPENED)
    erin = Member("erin", "Erin Cho", "+15550100105", "erin@example.com")
    alice_new_phone = replace(MEMBERS["alice"], phone="+15550100199")
    live = replace(
        snapshot_team(),
        members={**MEMBERS, "erin": erin, "alice": alice_new_phone},
        overrides=(
            Override("primary", "erin", local("2026-11-09T08:00"), local("2026-11-09T10:00")),
            Override("secondary", "alice", local("2026-11-09T08:00"), local("2026-11-09T10:00")),
        ),
    )
    assert targets_from_snapshot(snapshot, 0, OPENED, live) == [erin]
    # Alice existed when the case opened: her snapshotted phone number is used.
    assert targets_from_snapshot(snapshot, 1, OPENED, live) == [MEMBERS["alice"]]


def test_structural_edits_after_opening_do_not_apply():
    snapshot = policy_snapshot(snapshot_team(), OPENED)
    dana_new = replace(MEMBERS["dana"], phone="+15550100198")
    edited = make_team(
        rot("primary", ["carol", "bob"], DAY, "2026-11-02T09:00"),  # new order and shift
        members={**MEMBERS, "dana": dana_new},
        steps=(EscalationStep(timedelta(0), ("primary", "dana")),),  # step 2 gone
        manager="alice",
    )
    fired = local("2026-11-09T09:03")
    assert [m.key for m in targets_from_snapshot(snapshot, 0, fired, edited)] == ["bob"]
    assert [m.key for m in targets_from_snapshot(snapshot, 1, fired, edited)] == ["carol"]
    assert targets_from_snapshot(snapshot, 2, fired, edited) == [MEMBERS["dana"]]
    assert manager_from_snapshot(snapshot) == MEMBERS["dana"]
    with pytest.raises(IndexError):
        targets_from_snapshot(snapshot, 3, fired, edited)


def test_override_removed_from_the_live_file_no_longer_applies():
    cover = Override("primary", "carol", local("2026-11-09T08:00"), local("2026-11-09T10:00"))
    snapshot = policy_snapshot(snapshot_team([cover]), OPENED)
    assert snapshot["resolved"][0] == [{"key": "carol", "name": "Carol Li"}]
    # Without a live team (file gone) the snapshotted override applies ...
    assert [m.key for m in targets_from_snapshot(snapshot, 0, OPENED, None)] == ["carol"]
    # ... with the live team, the manager's latest word wins: the override was deleted.
    live = snapshot_team()
    assert [m.key for m in targets_from_snapshot(snapshot, 0, OPENED, live)] == ["alice"]


def test_live_team_must_be_the_same_team():
    snapshot = policy_snapshot(snapshot_team(), OPENED)
    with pytest.raises(ValueError, match="not the snapshotted team"):
        targets_from_snapshot(snapshot, 0, OPENED, replace(snapshot_team(), key="other"))
