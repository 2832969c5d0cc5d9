"""The escalation state machine: what the ``escalate`` deadline with sequence number k means.

Pure arithmetic over a policy snapshot and instants; no database, no clock (``now`` and the
case's opening time are arguments).

The rules
=========

A team's policy is a list of steps, each ``after`` some offset from the case opening, and
``repeat``: how many more times the whole list runs if nobody acknowledges. The engine keeps
exactly one pending ``escalate`` deadline per unacknowledged case; its ``seq`` is k:

* ``n`` steps, ``rounds = repeat + 1``. For ``k < n * rounds``: **step index** ``k % n``,
  **round** ``k // n``, due at ``opened_at + round * cycle + steps[index].after``.
* ``k == n * rounds`` is the **exhausted** deadline, due at ``opened_at + rounds * cycle``: the
  policy ran out, so the team's manager is paged once ("exhausted"). There is nothing after it.

The **cycle** is the time one round takes before the next round starts over with step 0::

    cycle = last step's after + gap
    gap   = the last positive interval between consecutive steps, else 5 minutes

so the last step's people get as long to answer as the step before them got. With the example
policy (0m primary, 5m secondary, 10m dana; repeat 1): cycle = 15m; pages at 0, 5, 10, then
15, 20, 25; exhausted (manager) at 30m. A one-step policy (0m) with repeat 2 pages at 0, 5 and
10 minutes, exhausted at 15.

Due times are absolute (from the opening), never "from the previous page": a step pulled
forward (a voice page failed, so the next person is paged now) does not shift later steps, and
a restarted engine catches up on what was due while it was down instead of replaying a
timeline that drifts later with each outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall.domain.rota.model import EscalationPolicy

#: The gap before the next round when the policy has no interval to copy (a single step, or
#: every step at the same offset).
DEFAULT_GAP = timedelta(minutes=5)


@dataclass(frozen=True)
class Plan:
    """The timing part of an escalation policy: step offsets and how many rounds."""

    offsets: tuple[timedelta, ...]
    repeat: int = 0

    @classmethod
    def from_policy(cls, policy: EscalationPolicy) -> Plan:
        return cls(tuple(step.after for step in policy.steps), max(0, policy.repeat))

    @property
    def steps(self) -> int:
        return len(self.offsets)

    @property
    def rounds(self) -> int:
        return max(0, self.repeat) + 1

    @property
    def exhausted_seq(self) -> int:
        """The seq of the deadline that pages the manager because nobody acknowledged."""
        return self.steps * self.rounds

    @property
    def cycle(self) -> timedelta:
        return cycle_length(self.offsets)


@dataclass(frozen=True)
class Escalation:
    """What deadline ``seq`` means: which step of which round (or exhaustion), and when."""

    seq: int
    index: int | None  # step index in the policy; None for the exhausted deadline
    round: int  # 0 for the first run through the steps
    due_at: datetime
    exhausted: bool

    def describe(self, plan: Plan) -> str:
        if self.exhausted:
            return f"escalation exhausted after {plan.rounds} round(s)"
        assert self.index is not None
        text = f"step {self.index + 1} of {plan.steps}"
        if plan.rounds > 1:
            text += f", round {self.round + 1} of {plan.rounds}"
        return text


def cycle_length(offsets: tuple[timedelta, ...]) -> timedelta:
    """How long one round of the steps takes (see the module docstring)."""
    if not offsets:
        return DEFAULT_GAP
    ordered = sorted(offsets)
    gap = DEFAULT_GAP
    for earlier, later in zip(reversed(ordered[:-1]), reversed(ordered[1:]), strict=True):
        if later > earlier:
            gap = later - earlier
            break
    return ordered[-1] + gap


def step_for(plan: Plan, opened_at: datetime, seq: int) -> Escalation:
    """The meaning of ``escalate`` deadline ``seq``. Raises ValueError past exhaustion."""
    if seq < 0 or seq > plan.exhausted_seq:
        raise ValueError(f"escalation seq {seq} is outside 0..{plan.exhausted_seq}")
    if seq == plan.exhausted_seq:
        return Escalation(seq, None, plan.rounds, opened_at + plan.rounds * plan.cycle, True)
    index, round_ = seq % plan.steps, seq // plan.steps
    due = opened_at + round_ * plan.cycle + plan.offsets[index]
    return Escalation(seq, index, round_, due, False)


def due_at(plan: Plan, opened_at: datetime, seq: int) -> datetime:
    return step_for(plan, opened_at, seq).due_at


def next_step(plan: Plan, opened_at: datetime, seq: int) -> Escalation | None:
    """What comes after ``seq``: the next step, the exhausted page, or None after that."""
    if seq >= plan.exhausted_seq:
        return None
    return step_for(plan, opened_at, seq + 1)


def schedule(plan: Plan, opened_at: datetime) -> list[Escalation]:
    """The whole escalation as it will run if nobody acknowledges (for display and tests)."""
    return [step_for(plan, opened_at, seq) for seq in range(plan.exhausted_seq + 1)]


def current(plan: Plan, opened_at: datetime, now: datetime) -> Escalation | None:
    """The latest deadline already due at ``now`` (None before the first one)."""
    latest = None
    for escalation in schedule(plan, opened_at):
        if escalation.due_at <= now:
            latest = escalation
    return latest
