"""Running a case's escalation: page a step of the policy frozen on the case and arm the next
(:mod:`oncall.domain.escalation` says what step ``seq`` means); take the team's live policy for
a case that opened without one; and the controls other parts use: stop the escalation (an
acknowledgement), page the next step now (a voice page failed).

**The first step at once.** Intake calls :func:`start_paging` in the transaction that opens
the case, so the caller and the customer are told what happened: an engineer was paged, or
nobody could be and the managers were alerted at once.

**Unroutable cases.** A case whose team had no rota when it opened has no escalation
snapshot. The engine takes the team's policy as soon as a rota for the team is loaded
(``route_check``: one deadline row, looked at again at every tick), and until then the last
resort (:mod:`oncall.engine.unroutable`) pages the managers and emails the support queue.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oncall.cases.deadlines import cancel_deadlines, schedule
from oncall.cases.events import add_event
from oncall.cases.live_rota import live_team
from oncall.cases.outbox import Reached, mark_work_due, who_was_reached
from oncall.db.models import Case, Deadline, OutboundMessage
from oncall.domain import escalation as esc
from oncall.domain.enums import (
    ESCALATION_KINDS,
    ESCALATION_PURPOSES,
    CaseState,
    DeadlineKind,
    DeadlineState,
    OutboxState,
)
from oncall.domain.rota.snapshots import (
    policy_snapshot,
    targets_from_snapshot,
    team_from_snapshot,
)
from oncall.domain.sms_text import page_text
from oncall.engine.paging import page_manager, page_member
from oncall.engine.unroutable import reach_fallback_humans
from oncall.runtime import Runtime

# The engine's one logger, as before the split: log filters and alerts name it.
log = logging.getLogger("oncall.engine.tick")


# -- the deadlines --------------------------------------------------------------------------
def escalate(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    """The ``escalate`` deadline: page step ``deadline.seq`` unless somebody acknowledged."""
    if case.state != CaseState.OPEN:
        return False  # acknowledged: the escalation stopped
    if not case.escalation:
        return _unroutable(session, runtime, case, now, deadline.seq)
    return run_escalation(session, runtime, case, deadline.seq, now)


def route_check(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    """The ``route_check`` deadline: an unroutable case looks for its team's rota again."""
    if case.state != CaseState.OPEN or case.escalation:
        return False
    team = live_team(session, runtime, case.team, now)
    if team is not None:
        case.escalation = policy_snapshot(team, now)
        add_event(
            session,
            case,
            now,
            "routed",
            f"A rota for team {case.team!r} is loaded now; escalation starts from step 1",
        )
        return run_escalation(session, runtime, case, 0, now)
    # Not yet: look again at the next tick, on this same row (the tick leaves a deadline its
    # handler moved into the future pending), so a case pages within a tick of its rota
    # appearing and a long wait adds no rows.
    deadline.due_at = now + runtime.settings.engine.tick
    return False


def start_paging(session: Session, runtime: Runtime, case: Case, now: datetime) -> Reached:
    """Page the first escalation step of a case that just opened, in its transaction, and
    say who was reached: an engineer, the managers instead, or nobody (only the support
    queue's email).

    When nobody was (no rota, or nobody on call for the first step right now) the managers
    are alerted at once (:mod:`oncall.engine.unroutable`), and the engine goes on as usual:
    the next step, or the team's rota as soon as it is loaded. A first step that fails is
    left to the tick, like any deadline that raises: the case itself must still open.
    """
    first = session.scalar(
        select(Deadline).where(
            Deadline.case_id == case.id,
            Deadline.kind == DeadlineKind.ESCALATE,
            Deadline.seq == 0,
            Deadline.state == DeadlineState.PENDING,
            Deadline.due_at <= now,
        )
    )
    if first is None:  # already applied (a repeated intake request): nothing new to say
        return who_was_reached(session, case)
    reason = f"the first escalation step of team {case.team!r} reaches nobody now"
    try:
        with session.begin_nested():
            escalate(session, runtime, first, case, now)
            first.state, first.done_at, first.done_by = DeadlineState.DONE, now, runtime.instance
    except Exception:
        log.exception("case %s: paging the first step failed; the tick retries", case.number)
        reason = "the first page could not be queued (see the log)"
    reached = who_was_reached(session, case)
    if reached is Reached.ENGINEER:
        return reached
    if case.escalation or first.state == DeadlineState.PENDING:
        # (A case with no rota at all had its managers alerted by the first step itself.)
        reach_fallback_humans(session, runtime, case, now, reason=reason, key="nobody_on_call")
    return who_was_reached(session, case)


# -- running the policy ---------------------------------------------------------------------
def run_escalation(session: Session, runtime: Runtime, case: Case, seq: int, now: datetime) -> bool:
    """Page step ``seq`` of the case's snapshotted policy and arm the next one."""
    snapshot = case.escalation
    try:
        policy = team_from_snapshot(snapshot).escalation
        plan = esc.Plan.from_policy(policy)
    except (KeyError, ValueError, TypeError):
        log.exception("case %s has an unreadable escalation snapshot", case.number)
        return _unroutable(session, runtime, case, now, seq)
    if plan.steps == 0:
        return _unroutable(session, runtime, case, now, seq)
    if seq > plan.exhausted_seq:
        return False
    # A case the customer reopened runs its policy again from the reopen.
    started = case.reopened_at or case.opened_at
    step = esc.step_for(plan, started, seq)
    if step.exhausted:
        _page_manager_exhausted(session, runtime, case, now, plan, seq)
        return True

    assert step.index is not None
    live = live_team(session, runtime, case.team, now)
    targets = targets_from_snapshot(snapshot, step.index, now, live)
    case.escalation_round = step.round
    via = policy.steps[step.index].via
    for member in targets:
        page_member(
            session, runtime, case, member, now, key=str(seq), detail=step.describe(plan), via=via
        )
    # Counted by contact details, not by rows enqueued: a page already enqueued for this step
    # (deduplicated) still reached its person.
    reached = sum(1 for member in targets if member.phone or member.email)
    following = esc.next_step(plan, started, seq)
    if not reached:
        add_event(
            session,
            case,
            now,
            "step_empty",
            f"Escalation {step.describe(plan)} reaches nobody (no one on call or no contact "
            "details); moving to the next step now",
            seq=seq,
        )
    if following is not None:
        # A step that reached nobody must not hold the escalation up until its time.
        due = following.due_at if reached else min(following.due_at, now)
        schedule(session, case, now, DeadlineKind.ESCALATE, due, seq=following.seq)
    return True


def _page_manager_exhausted(
    session: Session, runtime: Runtime, case: Case, now: datetime, plan: esc.Plan, seq: int
) -> None:
    add_event(
        session,
        case,
        now,
        "exhausted",
        f"Nobody acknowledged after {plan.rounds} round(s) of the escalation policy; "
        "paging the manager",
        seq=seq,
    )
    prefix = "No ACK after escalation. "
    text = prefix + page_text(
        case.number, case.severity, case.customer_name, case.summary, limit=160 - len(prefix)
    )
    page_manager(session, runtime, case, now, text=text, key=f"exhausted:{seq}")


def _unroutable(session: Session, runtime: Runtime, case: Case, now: datetime, seq: int) -> bool:
    """No policy for the case: take the live rota if there is one now, else reach a human."""
    team = live_team(session, runtime, case.team, now)
    if team is not None and team.escalation.steps:
        case.escalation = policy_snapshot(team, now)
        add_event(
            session,
            case,
            now,
            "routed",
            f"No escalation policy was snapshotted when the case opened; using team "
            f"{case.team!r}'s rota as loaded now",
        )
        return run_escalation(session, runtime, case, seq, now)
    reach_fallback_humans(
        session, runtime, case, now, reason=f"no rota for team {case.team!r}", key="unroutable"
    )
    schedule(
        session, case, now, DeadlineKind.ROUTE_CHECK, now + runtime.settings.engine.tick, seq=1
    )
    return True


# -- controls for the other parts -----------------------------------------------------------
def stop_escalation(session: Session, case: Case, now: datetime) -> None:
    """Somebody acknowledged (or the case closed): no more steps, reminders or unsent pages."""
    cancel_deadlines(session, case, now, ESCALATION_KINDS)
    cancel_pending_pages(session, case, now)


def cancel_pending_pages(session: Session, case: Case, now: datetime) -> int:
    """Pages not yet sent for a case that no longer needs them (acknowledged, closed).

    Rows riding in a bundle are left alone: the bundle is one SMS for several cases.
    """
    result = session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.case_id == case.id,
            OutboundMessage.state == OutboxState.PENDING,
            OutboundMessage.purpose.in_(ESCALATION_PURPOSES),
            OutboundMessage.bundled_into.is_(None),
        )
        .values(state=OutboxState.CANCELLED, last_error=f"cancelled at {now.isoformat()}"),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount or 0


def escalate_now(session: Session, case: Case, now: datetime, reason: str) -> bool:
    """Pull the case's next escalation step forward to ``now`` (the caller locked the case).

    Used when a voice page failed: the person cannot be reached, so the next target is paged
    at once instead of at the step's time. Later steps keep their times.
    """
    if case.state != CaseState.OPEN:
        return False
    pending = session.scalar(
        select(Deadline)
        .where(
            Deadline.case_id == case.id,
            Deadline.kind.in_((DeadlineKind.ESCALATE, DeadlineKind.ROUTE_CHECK)),
            Deadline.state == DeadlineState.PENDING,
        )
        .order_by(Deadline.seq)
        .limit(1)
    )
    if pending is None:
        add_event(
            session,
            case,
            now,
            "fallback",
            f"{reason}; the escalation has no further step (the manager was paged)",
        )
        return False
    if pending.due_at > now:
        pending.due_at = now
    mark_work_due(session)
    add_event(
        session,
        case,
        now,
        "fallback",
        f"{reason}; paging the next escalation step now",
        seq=pending.seq,
    )
    return True
