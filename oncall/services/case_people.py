"""Who has a case right now, for the intake: the engineer who acknowledged it, else whoever
its escalation is paging. A caller joining an open case is put through to them, and a
customer's emailed reply is relayed to their phones."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.cases.live_rota import live_team
from oncall.cases.members import member_of
from oncall.db.models import Case, Deadline
from oncall.domain.enums import DeadlineKind, DeadlineState
from oncall.domain.rota.model import Member
from oncall.domain.rota.snapshots import targets_from_snapshot
from oncall.runtime import Runtime

log = logging.getLogger("oncall.intake")


def case_people(session: Session, runtime: Runtime, case: Case, now: datetime) -> list[Member]:
    """Who has the case: the engineer who acknowledged it, else whoever the escalation step
    paged last is paging now (live overrides honoured)."""
    live = live_team(session, runtime, case.team, now)
    if case.acknowledged_by:
        member = member_of(runtime, case, case.acknowledged_by)
        return [member] if member is not None else []
    step = _current_step(session, case)
    return step_targets(case, step, now, live) or []


def _current_step(session: Session, case: Case) -> int:
    """The escalation step that fired last (``escalate`` deadlines count up one per step and
    round; a repeated round reuses the steps)."""
    steps = len(((case.escalation or {}).get("escalation") or {}).get("steps") or [])
    fired = session.scalar(
        select(func.max(Deadline.seq)).where(
            Deadline.case_id == case.id,
            Deadline.kind == DeadlineKind.ESCALATE,
            Deadline.state == DeadlineState.DONE.value,
        )
    )
    if not steps or fired is None:
        return 0
    rounds = int(((case.escalation or {}).get("escalation") or {}).get("repeat") or 0) + 1
    if fired >= steps * rounds:  # the "nobody acknowledged" page: the last step had it
        return steps - 1
    return int(fired) % steps


def step_targets(case: Case, step: int, now: datetime, live: Any) -> list[Member] | None:
    """Who escalation step ``step`` reaches; None when the policy has no such step."""
    if not case.escalation:
        return None
    try:
        return targets_from_snapshot(case.escalation, step, now, live)
    except IndexError:
        return None
    except (KeyError, ValueError, TypeError) as exc:
        log.error("case %s: cannot resolve escalation step %s: %s", case.number, step, exc)
        return None
