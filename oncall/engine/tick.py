"""The tick: claim due deadlines in batches and apply each under its own savepoint.

Every timer of a case is a :class:`~oncall.db.models.Deadline` row (see
:mod:`oncall.cases.deadlines`). :func:`apply_due` claims up to ``engine.batch_size`` due rows
in one query and applies each (:func:`oncall.engine.handlers.apply_deadline`) inside one
transaction, together with the case's state change, its timeline events and the outbox rows it
causes, under savepoints (a few deadlines a savepoint; a group that raises is rolled back and
applied again a deadline a savepoint); the rows applied are marked done together, and the
transaction commits once for the batch. Nothing that must happen lives in memory: a
process that dies mid-batch rolls back the whole batch, and the next tick (in any process)
applies every one of its deadlines again from scratch. A deadline that raises rolls back to its
savepoint only: it stays pending, is retried at the next tick, and the rest of the batch commits.

Why batches: one claim query and one commit per deadline cost more round trips than the work
itself (issue 14 measured ~190 steps/s). Within a batch the timeline events are written in one
multi-row INSERT at the end (:func:`oncall.cases.events.buffered_events`) and each team's live
rota is resolved once (:func:`oncall.cases.live_rota.batch_cache`): neither changes what a
step does, only how many times the database is asked.

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
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from oncall.cases.batch_writes import batch_mark, batched_writes, drop_queued_since, unbatched
from oncall.cases.deadlines import armed_due
from oncall.cases.events import buffered_events, drop_events_since, events_mark
from oncall.cases.live_rota import batch_cache
from oncall.db.models import Case, Deadline, EngineHeartbeat
from oncall.db.session import transaction
from oncall.domain.enums import DeadlineState
from oncall.engine import crash_points
from oncall.engine.handlers import apply_deadline
from oncall.engine.shift_notices import apply_due_team_deadlines, arm_shift_notices
from oncall.engine.status import forget_read_ahead, read_ahead
from oncall.runtime import Runtime

log = logging.getLogger("oncall.engine.tick")

#: Deadlines applied under one savepoint. A savepoint costs two round trips (SAVEPOINT and
#: RELEASE), as much as a step's own work; one per group keeps "one failure does not roll back
#: the others" (a group that fails is applied again a deadline at a time) at a fraction of it.
SAVEPOINT_GROUP = 25


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
    """Claim and apply due deadlines in batches (a transaction each); wake the sender after.

    The engine tick calls this; so does a woken outbox sender (see
    :mod:`oncall.delivery.worker`), so the first page of a case that just opened leaves at
    once instead of at the next tick. Claiming makes any number of callers safe. ``limit``
    (default ``engine.batch_size``) caps how many are applied in this call.
    """
    now = now or runtime.clock.now()
    result = TickResult()
    limit = limit or runtime.settings.engine.batch_size
    # Batches until nothing is due or ``limit`` are applied: a step may arm its case's next
    # step already due (an engine that was down), which the next batch then takes in order.
    while result.claimed < limit and _apply_batch(runtime, now, limit - result.claimed, result):
        pass
    if result.claimed < limit:
        claimed, applied = apply_due_team_deadlines(runtime, now, limit - result.claimed)
        result.claimed += claimed
        result.applied += applied
        result.skipped += claimed - applied
    if result.applied:
        runtime.wake_sender()
    return result


def _apply_batch(runtime: Runtime, now: datetime, limit: int, result: TickResult) -> bool:
    """One transaction: claim up to ``limit`` due deadlines with their cases, apply them under
    savepoints (:func:`_apply_group`), mark the applied ones done, commit once. False when
    nothing was due."""
    with (
        transaction(runtime.sessions) as session,
        buffered_events(session),
        batch_cache(session),
    ):
        claimed = _claim_batch(session, now, limit, result.failures)
        if not claimed:
            return False
        claimed = _not_overtaken(session, claimed, now, result.failures)
        if not claimed:
            return True  # the next batch claims the steps that came first, then these
        read_ahead(session, claimed)
        oldest_due = min(deadline.due_at for deadline, _case in claimed)
        result.lag_seconds = max(result.lag_seconds, (now - oldest_due).total_seconds(), 0.0)
        done: list[int] = []
        with batched_writes(session, {case.id for _deadline, case in claimed}):
            for start in range(0, len(claimed), SAVEPOINT_GROUP):
                group = claimed[start : start + SAVEPOINT_GROUP]
                _apply_group(session, runtime, group, now, result, done)
        forget_read_ahead(session)
        if done:
            # One UPDATE for the batch instead of one per row; the ORM objects are not read
            # again in this transaction, so they need not be refreshed.
            session.execute(
                update(Deadline)
                .where(Deadline.id.in_(done))
                .values(state=DeadlineState.DONE, done_at=now, done_by=runtime.instance),
                execution_options={"synchronize_session": False},
            )
    return True


def _apply_group(
    session: Session,
    runtime: Runtime,
    group: list[tuple[Deadline, Case]],
    now: datetime,
    result: TickResult,
    done: list[int],
) -> None:
    """Apply a few claimed deadlines under one savepoint; if any raises, roll the group back
    and apply its deadlines again one by one, each under its own savepoint, so only the one
    that fails stays undone. Handlers read everything they decide on from the database, so a
    deadline applied again after a rollback does exactly what it would have done the first time.
    """
    mark, queued = events_mark(session), batch_mark(session)
    armed_before = set(armed_due(session))
    outcomes: list[tuple[Deadline, bool]] = []
    try:
        with session.begin_nested():
            for deadline, case in group:
                if case.id in armed_due(session):
                    continue  # see _apply_one
                did = apply_deadline(session, runtime, deadline, case, now)
                crash_points.reached(
                    crash_points.AFTER_DEADLINE_APPLIED, deadline=deadline, case=case
                )
                outcomes.append((deadline, did))
    except Exception:
        # The group's rows were rolled back: so are its buffered events and queued rows. Applied
        # again one at a time, each row is written at once (ON CONFLICT): a group can fail
        # because another transaction wrote a row under one of its keys meanwhile.
        drop_events_since(session, mark)
        drop_queued_since(session, queued)
        armed_due(session).intersection_update(armed_before)
        with unbatched(session):
            for deadline, case in group:
                _apply_one(session, runtime, deadline, case, now, result, done)
        return
    for deadline, did in outcomes:
        _count(deadline, did, now, result, done)


def _apply_one(
    session: Session,
    runtime: Runtime,
    deadline: Deadline,
    case: Case,
    now: datetime,
    result: TickResult,
    done: list[int],
) -> None:
    """Apply one claimed deadline under its own savepoint; if it raises, everything it wrote
    (its buffered events too) is rolled back and it stays pending for the next tick."""
    if case.id in armed_due(session):
        # An earlier step of this case armed a timer that is due already and may come before
        # this one: leave this one pending for the next batch, which takes them in due order.
        return
    mark = events_mark(session)
    deadline_id = deadline.id
    try:
        with session.begin_nested():
            did = apply_deadline(session, runtime, deadline, case, now)
            crash_points.reached(crash_points.AFTER_DEADLINE_APPLIED, deadline=deadline, case=case)
    except Exception:
        # This deadline stays pending and is retried at the next tick; it must not take the
        # rest of the batch down with it.
        drop_events_since(session, mark)
        log.exception("applying deadline %s failed; retrying at the next tick", deadline_id)
        result.claimed += 1
        result.failed += 1
        result.failures.append(deadline_id)
        return
    _count(deadline, did, now, result, done)


def _count(deadline: Deadline, did: bool, now: datetime, result: TickResult, done: list[int]):
    result.claimed += 1
    if deadline.due_at <= now:
        done.append(deadline.id)
    # else the handler re-armed its own row for later (a route check waiting for its team's
    # rota): it stays pending.
    if did:
        result.applied += 1
    else:
        result.skipped += 1


def _claim_batch(
    session: Session, now: datetime, limit: int, skip: list[int]
) -> list[tuple[Deadline, Case]]:
    """The most overdue pending deadlines (at most ``limit``) with their cases, all locked.

    ``SKIP LOCKED`` covers both rows: a deadline another engine holds, or whose case a
    request is changing right now, is passed over rather than waited for. Two deadlines of one
    case in the same batch lock the case once; they are applied in due order.
    """
    query = (
        select(Deadline, Case)
        .join(Case, Case.id == Deadline.case_id)
        .where(Deadline.state == DeadlineState.PENDING, Deadline.due_at <= now)
        .order_by(Deadline.due_at, Deadline.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if skip:  # failed in this call already: retried at the next tick, not again now
        query = query.where(Deadline.id.not_in(skip))
    # On PostgreSQL a locked row is returned as it is now (READ COMMITTED re-checks the WHERE
    # against the latest version), so a deadline another engine just finished never comes back.
    return [(deadline, case) for deadline, case in session.execute(query).all()]


def _not_overtaken(
    session: Session, claimed: list[tuple[Deadline, Case]], now: datetime, skip: list[int]
) -> list[tuple[Deadline, Case]]:
    """The claimed deadlines that no unclaimed due deadline of their case comes before.

    The claim query reads the deadlines as they were when it started; another engine that
    committed meanwhile may have armed a step of one of these cases already due (an engine
    that was down) which the claim did not see, while it still locked the case's later
    deadlines. Applied now, a triage reminder would go out before the page it should remind
    about. With the cases locked, nobody can arm another timer of theirs, so one more look
    finds every such step; the deadlines it overtakes are left pending for the next batch,
    which takes them in due order.
    """
    claimed_ids = [deadline.id for deadline, _case in claimed]
    earliest = dict(
        session.execute(
            select(Deadline.case_id, func.min(Deadline.due_at))
            .where(
                Deadline.case_id.in_({case.id for _deadline, case in claimed}),
                Deadline.state == DeadlineState.PENDING,
                Deadline.due_at <= now,
                Deadline.id.not_in(claimed_ids + skip),
            )
            .group_by(Deadline.case_id)
        ).all()
    )
    return [
        (deadline, case)
        for deadline, case in claimed
        if case.id not in earliest or deadline.due_at <= earliest[case.id]
    ]


def _heartbeat(runtime: Runtime, now: datetime, lag: float, duration: float) -> None:
    with transaction(runtime.sessions) as session:
        beat = session.get(EngineHeartbeat, runtime.instance)
        if beat is None:
            beat = EngineHeartbeat(instance=runtime.instance, last_tick_at=now)
            session.add(beat)
        beat.last_tick_at = now
        beat.last_lag_ms = lag * 1000.0
        beat.last_duration_ms = duration * 1000.0
