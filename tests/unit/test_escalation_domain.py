"""The escalation state machine as plain arithmetic: what deadline seq k means."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oncall.domain import escalation as esc
from oncall.domain.rota.model import EscalationPolicy, EscalationStep

OPENED = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def plan(*minutes: int, repeat: int = 0) -> esc.Plan:
    policy = EscalationPolicy(
        tuple(EscalationStep(m * M, (f"level{i}",)) for i, m in enumerate(minutes)), repeat
    )
    return esc.Plan.from_policy(policy)


def offsets(p: esc.Plan) -> list[tuple[int, int | None, int, bool]]:
    """(minutes after opening, step index, round, exhausted) for the whole escalation."""
    return [
        (int((s.due_at - OPENED) / M), s.index, s.round, s.exhausted)
        for s in esc.schedule(p, OPENED)
    ]


def test_the_example_policy_pages_each_step_repeats_once_then_the_manager():
    p = plan(0, 5, 10, repeat=1)
    assert p.cycle == 15 * M
    assert offsets(p) == [
        (0, 0, 0, False),
        (5, 1, 0, False),
        (10, 2, 0, False),
        (15, 0, 1, False),
        (20, 1, 1, False),
        (25, 2, 1, False),
        (30, None, 2, True),
    ]
    assert p.exhausted_seq == 6


def test_the_gap_before_a_new_round_copies_the_last_interval():
    # The manager at 30m had 25 minutes after the secondary: round 2 starts 25m after them.
    assert plan(0, 5, 30).cycle == 55 * M
    # Steps at the same offset: the last positive interval counts.
    assert plan(0, 5, 5).cycle == 10 * M


def test_a_single_step_repeats_every_five_minutes():
    p = plan(0, repeat=2)
    assert [m for m, *_ in offsets(p)] == [0, 5, 10, 15]
    assert offsets(p)[-1][3] is True


def test_no_repeat_means_one_round_then_exhausted():
    p = plan(0, 5)
    assert offsets(p) == [(0, 0, 0, False), (5, 1, 0, False), (10, None, 1, True)]


def test_next_step_ends_after_exhaustion():
    p = plan(0, 5)
    assert esc.next_step(p, OPENED, 0).seq == 1
    assert esc.next_step(p, OPENED, 1).exhausted
    assert esc.next_step(p, OPENED, 2) is None


def test_seq_outside_the_policy_is_an_error():
    with pytest.raises(ValueError):
        esc.step_for(plan(0, 5), OPENED, 3)
    with pytest.raises(ValueError):
        esc.step_for(plan(0, 5), OPENED, -1)


def test_current_is_the_latest_due_step():
    p = plan(0, 5, 10, repeat=1)
    assert esc.current(p, OPENED, OPENED - M) is None
    assert esc.current(p, OPENED, OPENED + 7 * M).seq == 1
    assert esc.current(p, OPENED, OPENED + 99 * M).exhausted


def test_describe_reads_like_the_timeline():
    p = plan(0, 5, 10, repeat=1)
    assert esc.step_for(p, OPENED, 4).describe(p) == "step 2 of 3, round 2 of 2"
    assert esc.step_for(p, OPENED, 6).describe(p) == "escalation exhausted after 2 round(s)"
    assert esc.step_for(plan(0), OPENED, 0).describe(plan(0)) == "step 1 of 1"


def test_an_empty_policy_is_exhausted_at_once():
    p = esc.Plan((), 0)
    assert p.exhausted_seq == 0
    assert esc.step_for(p, OPENED, 0).exhausted


@given(
    st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=4),
)
def test_every_round_starts_after_the_previous_one_and_keeps_the_step_spacing(minutes, repeat):
    minutes = sorted(minutes)
    p = plan(*minutes, repeat=repeat)
    steps = esc.schedule(p, OPENED)
    assert len(steps) == len(minutes) * (repeat + 1) + 1
    assert [s.seq for s in steps] == list(range(len(steps)))
    # Due times never go backwards, and a round never starts before the last step of the
    # previous round.
    assert all(a.due_at <= b.due_at for a, b in itertools.pairwise(steps))
    for s in steps[:-1]:
        assert s.due_at - OPENED == s.round * p.cycle + minutes[s.index] * M
    assert p.cycle > max(minutes) * M
    assert steps[-1].exhausted and steps[-1].due_at == OPENED + (repeat + 1) * p.cycle
