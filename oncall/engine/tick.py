"""The tick: claim due deadlines one at a time and apply each in its own transaction.

Every timer of a case is a :class:`~oncall.db.models.Deadline` row (see
:mod:`oncall.cases.deadlines`). :func:`apply_due` claims due rows one at a time and applies
each (:func:`oncall.engine.handlers.apply_deadline`) in its own transaction together with the
case's state change, its timeline events and the outbox rows it causes, then marks it done.
Nothing that must happen lives in memory: a process that dies mid-tick rolls back the
deadline it was applying, and the next tick (in any process) applies it again from scratch.

Claiming is safe with several engines: the due deadline **and its case** are selected with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two engines never hold the same deadline, and an
engine never waits on a case that a web request (an ACK, a status) is changing; it moves on
and comes back at the next tick. The state is re-checked under the lock, so a deadline that is
done or cancelled is never applied again. On SQLite (one engine, the single-box default) every
write transaction takes the database lock up front (``BEGIN IMMEDIATE``), which serialises
the same work.

**Lock order** (PostgreSQL): whoever changes a case's deadlines or its outbox rows locks the
case row first. The engine takes deadline and case together and skips what it cannot take,
the engineers' use cases (:mod:`oncall.services`) and the sender's fallbacks lock the case
before touching its deadlines, so no two transactions wait on each other in a cycle.

Pages are idempotent on their own too: every page is enqueued with
``dedupe_key = page:<case id>:<seq>:<member>``, so even a deadline applied twice could not
send a second SMS for the same step to the same person.

Timers of a team rather than a case (shift notices, :mod:`oncall.engine.shift_notices`) are
armed at the start of each tick and claimed the same way after the cases' deadlines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import Case, Deadline, EngineHeartbeat
from oncall.db.session import transaction
from oncall.domain.enums import DeadlineState
from oncall.engine import crash_points
from oncall.engine.handlers import apply_deadline
from oncall.engine.shift_notices import apply_due_team_deadlines, arm_shift_notices
from oncall.runtime import Runtime

log = logging.getLogger("oncall.engine.tick")


@dataclass
class TickResult:
    claimed: int = 0  # deadlines taken
    applied: int = 0  # of which something happened
    skipped: int = 0  # of which there was nothing left to do (case acknowledged, closed ...)
    failed: int = 0  # raised; rolled back, retried at the next tick
    lag_seconds: float = 0.0  # now - the oldest due time claimed
    failures: list[int] = field(default_factory=list)


def tick(runtime: Runtime) -> TickResult:
    """Apply every due deadline (up to ``engine.batch_size``) and beat.

    Sends stuck in doubt are reconciled by the outbox worker's own pass
    (:func:`oncall.delivery.reconcile.reconcile_stuck`), which the clock runs beside each tick.
    """
    started = time.perf_counter()
    now = runtime.clock.now()
    try:
        arm_shift_notices(runtime, now)
    except Exception:  # notices must never hold up paging: log, and the next tick tries again
        log.exception("arming shift notices failed")
    result = apply_due(runtime, now)
    _heartbeat(runtime, now, result.lag_seconds, time.perf_counter() - started)
    return result


def apply_due(
    runtime: Runtime, now: datetime | None = None, limit: int | None = None
) -> TickResult:
    """Claim and apply due deadlines, each in its own transaction; wake the sender after.

    The engine tick calls this; so does a woken outbox sender (see
    :mod:`oncall.delivery.worker`), so the first page of a case that just opened leaves at
    once instead of at the next tick. Claiming makes any number of callers safe. ``limit``
    (default ``engine.batch_size``) caps how many are applied in this call.
    """
    now = now or runtime.clock.now()
    result = TickResult()
    oldest_due: datetime | None = None
    limit = limit or runtime.settings.engine.batch_size
    for _ in range(limit):
        claimed_id: int | None = None
        try:
            with transaction(runtime.sessions) as session:
                claimed = _claim_one(session, now, result.failures)
                if claimed is None:
                    break
                deadline, case = claimed
                claimed_id = deadline.id
                result.claimed += 1
                oldest_due = (
                    deadline.due_at if oldest_due is None else min(oldest_due, deadline.due_at)
                )
                did = apply_deadline(session, runtime, deadline, case, now)
                crash_points.reached(
                    crash_points.AFTER_DEADLINE_APPLIED, deadline=deadline, case=case
                )
                if deadline.due_at <= now:
                    deadline.state = DeadlineState.DONE
                    deadline.done_at = now
                    deadline.done_by = runtime.instance
                # else the handler re-armed its own row for later (a route check waiting for
                # its team's rota): it stays pending.
        except Exception:
            if claimed_id is None:
                raise  # the claim itself failed (database down): let the scheduler log it
            # This deadline stays pending (rolled back) and is retried at the next tick; it
            # must not block the others in this one.
            log.exception("applying deadline %s failed; retrying at the next tick", claimed_id)
            result.failed += 1
            result.failures.append(claimed_id)
            continue
        if did:
            result.applied += 1
        else:
            result.skipped += 1
    if result.claimed < limit:
        claimed, applied = apply_due_team_deadlines(runtime, now, limit - result.claimed)
        result.claimed += claimed
        result.applied += applied
        result.skipped += claimed - applied
    if result.applied:
        runtime.wake_sender()
    if oldest_due is not None:
        result.lag_seconds = max((now - oldest_due).total_seconds(), 0.0)
    return result


def _claim_one(
    session: Session, now: datetime, skip: Iterable[int]
) -> tuple[Deadline, Case] | None:
    """The most overdue pending deadline and its case, both locked, or None.

    ``SKIP LOCKED`` covers both rows: a deadline another engine holds, or whose case a
    request is changing right now, is passed over rather than waited for.
    """
    query = (
        select(Deadline, Case)
        .join(Case, Case.id == Deadline.case_id)
        .where(Deadline.state == DeadlineState.PENDING, Deadline.due_at <= now)
        .order_by(Deadline.due_at, Deadline.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    skip = list(skip)
    if skip:
        query = query.where(Deadline.id.not_in(skip))
    row = session.execute(query).first()
    if row is None:
        return None
    # On PostgreSQL a locked row is returned as it is now (READ COMMITTED re-checks the WHERE
    # against the latest version), so a deadline another engine just finished never comes back.
    deadline, case = row
    return deadline, case


def _heartbeat(runtime: Runtime, now: datetime, lag: float, duration: float) -> None:
    with transaction(runtime.sessions) as session:
        beat = session.get(EngineHeartbeat, runtime.instance)
        if beat is None:
            beat = EngineHeartbeat(instance=runtime.instance, last_tick_at=now)
            session.add(beat)
        beat.last_tick_at = now
        beat.last_lag_ms = lag * 1000.0
        beat.last_duration_ms = duration * 1000.0
