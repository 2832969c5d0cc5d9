"""The engine: apply due deadlines, each in its own transaction with what it causes.

Every timer of a case is a :class:`~oncall.db.models.Deadline` row (see
:mod:`oncall.services.cases`). :func:`tick` claims due rows one at a time and applies each in
its own transaction together with the case's state change, its timeline events and the outbox
rows it causes, then marks it done. Nothing that must happen lives in memory: a process that
dies mid-tick rolls back the deadline it was applying, and the next tick (in any process)
applies it again from scratch.

Claiming is safe with several engines: the due deadline **and its case** are selected with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two engines never hold the same deadline, and an
engine never waits on a case that a web request (an ACK, a status) is changing; it moves on
and comes back at the next tick. The state is re-checked under the lock, so a deadline that is
done or cancelled is never applied again. On SQLite (one engine, the single-box default) every
write transaction takes the database lock up front (``BEGIN IMMEDIATE``), which serialises
the same work.

**Lock order** (PostgreSQL): whoever changes a case's deadlines or its outbox rows locks the
case row first. The engine takes deadline and case together and skips what it cannot take,
the use cases in :mod:`oncall.services.commands` and the sender's fallbacks lock the case
before touching its deadlines, so no two transactions wait on each other in a cycle.

Pages are idempotent on their own too: every page is enqueued with
``dedupe_key = page:<case id>:<seq>:<member>``, so even a deadline applied twice could not
send a second SMS for the same step to the same person.

**Unroutable cases.** A case whose team had no rota when it opened has no escalation
snapshot. Such a case must still reach a human: the engine takes the team's policy as soon as
a rota for the team is loaded (checked every 5 minutes, for a day), and until then it pages the
manager of every loaded team once and emails the regular support queue, with an ``unroutable``
event on the timeline and an error in the log. If no team at all is loaded the email to the
support queue is the last resort.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from oncall.cases.store import (
    WORK_DUE,
    add_event,
    cancel_deadlines,
    enqueue,
    schedule,
    sender_address,
)
from oncall.db.models import Case, Deadline, EngineHeartbeat, OutboundMessage
from oncall.db.session import transaction
from oncall.domain import escalation as esc
from oncall.domain import sla
from oncall.domain.eligibility import is_business_hours
from oncall.domain.enums import (
    ESCALATION_KINDS,
    ESCALATION_PURPOSES,
    STATUS_KINDS,
    CaseState,
    DeadlineKind,
    DeadlineState,
    OutboxState,
    Purpose,
)
from oncall.domain.rota.model import Member, Team
from oncall.domain.rota.snapshots import (
    manager_from_snapshot,
    policy_snapshot,
    targets_from_snapshot,
    team_from_snapshot,
)
from oncall.domain.sms_text import page_text, to_gsm7, truncate_words
from oncall.runtime import Runtime

log = logging.getLogger("oncall.engine.tick")

ROUTE_CHECK_EVERY = timedelta(minutes=5)
ROUTE_CHECK_LIMIT = 288  # a day of checks; the managers and the queue were told at once


@dataclass
class TickResult:
    claimed: int = 0  # deadlines taken
    applied: int = 0  # of which something happened
    skipped: int = 0  # of which there was nothing left to do (case acknowledged, closed ...)
    failed: int = 0  # raised; rolled back, retried at the next tick
    lag_seconds: float = 0.0  # now - the oldest due time claimed
    failures: list[int] = field(default_factory=list)


# -- the tick -------------------------------------------------------------------------------
def tick(runtime: Runtime) -> TickResult:
    """Apply every due deadline (up to ``engine.batch_size``) and beat.

    Sends stuck in doubt are reconciled by the outbox worker's own pass
    (:func:`oncall.delivery.outbox.reconcile_stuck`), which the clock runs beside each tick.
    """
    started = time.perf_counter()
    now = runtime.clock.now()
    result = apply_due(runtime, now)
    _heartbeat(runtime, now, result.lag_seconds, time.perf_counter() - started)
    return result


def apply_due(
    runtime: Runtime, now: datetime | None = None, limit: int | None = None
) -> TickResult:
    """Claim and apply due deadlines, each in its own transaction; wake the sender after.

    The engine tick calls this; so does a woken outbox sender (see
    :mod:`oncall.delivery.outbox`), so the first page of a case that just opened leaves at
    once instead of at the next tick. Claiming makes any number of callers safe. ``limit``
    (default ``engine.batch_size``) caps how many are applied in this call.
    """
    now = now or runtime.clock.now()
    result = TickResult()
    oldest_due: datetime | None = None
    for _ in range(limit or runtime.settings.engine.batch_size):
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
                deadline.state = DeadlineState.DONE.value
                deadline.done_at = now
                deadline.done_by = runtime.instance
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
        .where(Deadline.state == DeadlineState.PENDING.value, Deadline.due_at <= now)
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


# -- applying one deadline ------------------------------------------------------------------
def apply_deadline(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    """Do what ``deadline`` means for ``case`` (both locked). True if anything happened."""
    if not case.is_open:
        return False  # resolved or downgraded: every timer stopped with it
    handler = _HANDLERS.get(deadline.kind)
    if handler is None:
        log.error("unknown deadline kind %r (id %s); marking it done", deadline.kind, deadline.id)
        return False
    return handler(session, runtime, deadline, case, now)


def _escalate(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    if case.state != CaseState.OPEN.value:
        return False  # acknowledged: the escalation stopped
    if not case.escalation:
        return _unroutable(session, runtime, case, now, deadline.seq)
    return run_escalation(session, runtime, case, deadline.seq, now)


def run_escalation(session: Session, runtime: Runtime, case: Case, seq: int, now: datetime) -> bool:
    """Page step ``seq`` of the case's snapshotted policy and arm the next one."""
    snapshot = case.escalation
    try:
        plan = esc.Plan.from_policy(team_from_snapshot(snapshot).escalation)
    except (KeyError, ValueError, TypeError):
        log.exception("case %s has an unreadable escalation snapshot", case.number)
        return _unroutable(session, runtime, case, now, seq)
    if plan.steps == 0:
        return _unroutable(session, runtime, case, now, seq)
    if seq > plan.exhausted_seq:
        return False
    step = esc.step_for(plan, case.opened_at, seq)
    if step.exhausted:
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
        return True

    assert step.index is not None
    targets = targets_from_snapshot(snapshot, step.index, now, runtime.rotas.team(case.team))
    case.escalation_round = step.round
    for member in targets:
        page_member(session, runtime, case, member, now, key=str(seq), detail=step.describe(plan))
    # Counted by contact details, not by rows enqueued: a page already enqueued for this step
    # (deduplicated) still reached its person.
    reached = sum(1 for member in targets if member.phone or member.email)
    following = esc.next_step(plan, case.opened_at, seq)
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


def _triage_warn(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    if case.state != CaseState.OPEN.value:
        return False
    zone = case_zone(runtime, case)
    due = case.triage_due_at or deadline.due_at
    text = (
        f"Reminder: case {case.number} ({_short(case.customer_name)}, S{case.severity}) is not "
        f"acknowledged. Triage due {hhmm(due, zone)}. Reply ACK {case.number}"
    )
    people = paged_people(session, case)
    for key, (_channel, address) in people.items():
        _remind(session, runtime, case, now, key, address, text, f"triage_warn:{case.id}:{key}")
    add_event(
        session,
        case,
        now,
        "reminder",
        f"Triage reminder sent to {_names(runtime, case, people) or 'nobody (nobody paged yet)'}: "
        f"acknowledgement due {hhmm(due, zone)}",
        target="triage",
    )
    return True


def _triage_due(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    if case.acknowledged_at is not None or case.state != CaseState.OPEN.value:
        return False  # met
    zone = case_zone(runtime, case)
    due = case.triage_due_at or deadline.due_at
    add_event(
        session,
        case,
        now,
        "breach",
        f"Triage target missed: not acknowledged by {hhmm(due, zone)}; manager paged",
        target="triage",
        due_at=due.isoformat(),
    )
    text = (
        f"SLA breach: case {case.number} ({_short(case.customer_name)}, S{case.severity}) not "
        f"acknowledged by {hhmm(due, zone)}. Reply ACK {case.number}"
    )
    page_manager(session, runtime, case, now, text=text, key="breach:triage")
    return True


def _status_warn(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    zone = case_zone(runtime, case)
    due = _status_target(session, case, deadline)
    text = (
        f"Case {case.number} ({_short(case.customer_name)}): status to the customer due by "
        f"{hhmm(due, zone)}. Reply STATUS {case.number} <text> ETA <time>"
    )
    people = status_people(session, runtime, case)
    for key, (_channel, address) in people.items():
        _remind(
            session,
            runtime,
            case,
            now,
            key,
            address,
            text,
            f"status_warn:{case.id}:{deadline.seq}:{key}",
        )
    add_event(
        session,
        case,
        now,
        "reminder",
        f"Status reminder sent to {_names(runtime, case, people) or 'nobody'}: status to the "
        f"customer due {hhmm(due, zone)}",
        target="status",
        seq=deadline.seq,
    )
    return True


def _status_due(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    zone = case_zone(runtime, case)
    due = deadline.due_at
    what = "first status" if deadline.seq == 0 else "status update"
    engineer = case.acknowledged_by_name or "nobody acknowledged"
    add_event(
        session,
        case,
        now,
        "breach",
        f"Status target missed: no {what} with an ETA to the customer by {hhmm(due, zone)}; "
        "manager paged",
        target="status",
        seq=deadline.seq,
        due_at=due.isoformat(),
    )
    text = (
        f"SLA breach: case {case.number} ({_short(case.customer_name)}, S{case.severity}): no "
        f"status to the customer by {hhmm(due, zone)}. Engineer: {_short(engineer)}"
    )
    page_manager(session, runtime, case, now, text=text, key=f"breach:status:{deadline.seq}")
    # The clock keeps running: without a status the next update is still owed, so an
    # acknowledged-then-forgotten case pages the manager again a cadence later.
    arm_status_target(session, runtime, case, now, deadline.seq + 1)
    return True


def _route_check(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    if case.state != CaseState.OPEN.value or case.escalation:
        return False
    team = runtime.rotas.team(case.team)
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
    if deadline.seq < ROUTE_CHECK_LIMIT:
        schedule(
            session,
            case,
            now,
            DeadlineKind.ROUTE_CHECK,
            now + ROUTE_CHECK_EVERY,
            seq=deadline.seq + 1,
        )
    return False


_HANDLERS = {
    DeadlineKind.ESCALATE: _escalate,
    DeadlineKind.TRIAGE_WARN: _triage_warn,
    DeadlineKind.TRIAGE_DUE: _triage_due,
    DeadlineKind.STATUS_WARN: _status_warn,
    DeadlineKind.STATUS_DUE: _status_due,
    DeadlineKind.ROUTE_CHECK: _route_check,
}


def _unroutable(session: Session, runtime: Runtime, case: Case, now: datetime, seq: int) -> bool:
    """No policy for the case: take the live rota if there is one now, else reach a human."""
    team = runtime.rotas.team(case.team)
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
    schedule(session, case, now, DeadlineKind.ROUTE_CHECK, now + ROUTE_CHECK_EVERY, seq=1)
    return True


def reach_fallback_humans(
    session: Session, runtime: Runtime, case: Case, now: datetime, *, reason: str, key: str
) -> list[str]:
    """Last resort when the case has nobody to page: every loaded team's manager, and the
    regular support queue by email. Each only once per case and ``key``."""
    log.error("case %s is unroutable: %s", case.number, reason, extra={"case": case.number})
    reached: list[str] = []
    seen: set[str] = set()
    text = (
        truncate_words(
            to_gsm7(
                f"UNROUTABLE case {case.number} ({case.customer_name}, S{case.severity}): "
                f"{reason}. {case.summary}"
            ),
            140,
        )
        + f" Reply ACK {case.number}"
    )
    for team in runtime.rotas.teams().values():
        manager = team.manager_member()
        if manager is None or not manager.phone or manager.phone in seen:
            continue
        seen.add(manager.phone)
        message = enqueue(
            session,
            now,
            channel="sms",
            purpose=Purpose.MANAGER_PAGE,
            to=manager.phone,
            from_address=runtime.settings.twilio.critical_line,
            body=text,
            case=case,
            recipient=manager.key,
            dedupe_key=f"page:{case.id}:{key}:{manager.key}",
        )
        if message is not None:
            reached.append(manager.name)
    forward = enqueue(
        session,
        now,
        channel="email",
        purpose=Purpose.FORWARD,
        to=runtime.settings.email.forward_to,
        from_address=runtime.settings.email.from_address,
        subject=f"[Case {case.number}] UNROUTABLE: {case.customer_name} S{case.severity}",
        body=(
            f"Case {case.number} from {case.customer_name} ({case.contact_name or 'unknown'}, "
            f"{case.contact_phone or case.contact_email or 'no contact'}) cannot be paged: "
            f"{reason}.\nSeverity S{case.severity}. Summary:\n{case.summary}\n\n"
            "Somebody must pick this case up by hand."
        ),
        case=case,
        dedupe_key=f"{key}:{case.id}:queue",
    )
    if reached or forward is not None:
        who = ", ".join(reached) or "no manager (no team loaded)"
        add_event(
            session,
            case,
            now,
            "unroutable",
            f"Cannot page anyone for this case ({reason}): paged {who} and emailed the support "
            "queue",
            reason=reason,
            managers=reached,
        )
    return reached


# -- status targets -------------------------------------------------------------------------
def arm_status_target(
    session: Session, runtime: Runtime, case: Case, now: datetime, seq: int
) -> datetime:
    """The next status is due a cadence (``sla.status_every`` for the severity) from now."""
    settings = runtime.settings
    after_hours = not is_business_hours(settings.business_hours, now, settings.zone)
    due = sla.next_status_due(now, case.severity, settings.sla, after_hours)
    schedule(
        session, case, now, DeadlineKind.STATUS_WARN, sla.warn_at(due, settings.sla, now), seq=seq
    )
    schedule(session, case, now, DeadlineKind.STATUS_DUE, due, seq=seq)
    case.status_due_at = due
    return due


def next_status_seq(session: Session, case: Case) -> int:
    latest = session.scalar(
        select(func.max(Deadline.seq)).where(
            Deadline.case_id == case.id, Deadline.kind.in_(STATUS_KINDS)
        )
    )
    return 0 if latest is None else latest + 1


def _status_target(session: Session, case: Case, deadline: Deadline) -> datetime:
    due = session.scalar(
        select(Deadline.due_at).where(
            Deadline.case_id == case.id,
            Deadline.kind == DeadlineKind.STATUS_DUE,
            Deadline.seq == deadline.seq,
        )
    )
    return due or case.status_due_at or deadline.due_at


# -- who, where, when -----------------------------------------------------------------------
def case_team(runtime: Runtime, case: Case) -> Team | None:
    """The team as snapshotted on the case, else the live rota."""
    if case.escalation:
        try:
            return team_from_snapshot(case.escalation)
        except (KeyError, ValueError, TypeError):
            log.warning("case %s: unreadable escalation snapshot", case.number)
    return runtime.rotas.team(case.team)


def case_zone(runtime: Runtime, case: Case) -> ZoneInfo:
    """Engineers read times in their team's zone; the company zone when there is no team."""
    zone = (case.escalation or {}).get("timezone")
    if not zone:
        team = runtime.rotas.team(case.team)
        zone = team.timezone if team is not None else None
    try:
        return ZoneInfo(zone) if zone else runtime.settings.zone
    except (KeyError, ValueError):
        return runtime.settings.zone


def member_of(runtime: Runtime, case: Case, key: str | None) -> Member | None:
    if not key:
        return None
    # Straight from the snapshot's JSON: building the whole team just for a name is costly,
    # and this runs for every message the sender records.
    data = ((case.escalation or {}).get("members") or {}).get(key)
    if isinstance(data, dict) and data.get("name"):
        return Member(key, data["name"], data.get("phone"), data.get("email"))
    live = runtime.rotas.team(case.team)
    if live is not None and key in live.members:
        return live.members[key]
    for other in runtime.rotas.teams().values():  # a manager paged as a fallback
        if key in other.members:
            return other.members[key]
    return None


def hhmm(at: datetime, zone: ZoneInfo) -> str:
    """A clock time in ``zone`` with the zone named (``03:56 EST``): the engineer reading it
    may be elsewhere, and a bare 03:56 is ambiguous around a DST change."""
    return at.astimezone(zone).strftime("%H:%M %Z")


def _short(text: str, limit: int = 30) -> str:
    return truncate_words(to_gsm7(text), limit)


def paged_people(session: Session, case: Case) -> dict[str, tuple[str, str]]:
    """Everyone paged for ``case`` so far: member key -> (channel, address), SMS preferred."""
    rows = session.execute(
        select(OutboundMessage.recipient, OutboundMessage.channel, OutboundMessage.to_address)
        .where(
            OutboundMessage.case_id == case.id,
            OutboundMessage.purpose.in_((Purpose.PAGE, Purpose.PAGE_VOICE, Purpose.MANAGER_PAGE)),
            OutboundMessage.recipient != "",
        )
        .order_by(OutboundMessage.id)
    ).all()
    people: dict[str, tuple[str, str]] = {}
    for key, channel, address in rows:
        if key not in people or (channel in ("sms", "voice") and people[key][0] == "email"):
            people[key] = ("sms" if channel == "voice" else channel, address)
    return people


def status_people(session: Session, runtime: Runtime, case: Case) -> dict[str, tuple[str, str]]:
    """Who owes the customer a status: the acknowledging engineer, else everyone paged."""
    member = member_of(runtime, case, case.acknowledged_by)
    if member is not None and member.phone:
        return {member.key: ("sms", member.phone)}
    if member is not None and member.email:
        return {member.key: ("email", member.email)}
    return paged_people(session, case)


def _names(runtime: Runtime, case: Case, people: dict[str, Any]) -> str:
    names = []
    for key in people:
        member = member_of(runtime, case, key)
        names.append(member.name if member else key)
    return ", ".join(names)


# -- sending --------------------------------------------------------------------------------
def page_member(
    session: Session,
    runtime: Runtime,
    case: Case,
    member: Member,
    now: datetime,
    *,
    key: str,
    detail: str = "",
    purpose: str = Purpose.PAGE,
    text: str | None = None,
) -> OutboundMessage | None:
    """Page one person for ``case`` (SMS; email if they have no phone), once per ``key``."""
    settings = runtime.settings
    body = text or page_text(case.number, case.severity, case.customer_name, case.summary)
    dedupe = f"page:{case.id}:{key}:{member.key}"
    if member.phone:
        message = enqueue(
            session,
            now,
            channel="sms",
            purpose=purpose,
            to=member.phone,
            from_address=settings.twilio.critical_line,
            body=body,
            case=case,
            recipient=member.key,
            dedupe_key=dedupe,
        )
        how = f"SMS to {member.phone}"
    elif member.email:
        message = enqueue(
            session,
            now,
            channel="email",
            purpose=purpose,
            to=member.email,
            from_address=settings.email.from_address,
            subject=f"[Case {case.number}] PAGE",
            body=body,
            case=case,
            recipient=member.key,
            dedupe_key=dedupe,
        )
        how = f"email to {member.email} (no phone number)"
    else:
        add_event(
            session,
            case,
            now,
            "unreachable",
            f"{member.name} has neither a phone number nor an email: not paged",
            member=member.key,
        )
        return None
    if message is not None:
        kind = "paged" if purpose in (Purpose.PAGE, Purpose.MANAGER_PAGE) else purpose
        add_event(
            session,
            case,
            now,
            kind,
            f"Paged {member.name} by {how}" + (f" ({detail})" if detail else ""),
            member=member.key,
            outbox_id=message.id,
            purpose=purpose,
        )
    return message


def page_manager(
    session: Session, runtime: Runtime, case: Case, now: datetime, *, text: str, key: str
) -> OutboundMessage | None:
    """Page the case's manager (as snapshotted; else the live team's), or the fallbacks."""
    manager = manager_from_snapshot(case.escalation) if case.escalation else None
    if manager is None:
        live = runtime.rotas.team(case.team)
        manager = live.manager_member() if live is not None else None
    if manager is None:
        reach_fallback_humans(
            session, runtime, case, now, reason=f"team {case.team!r} has no manager", key=key
        )
        return None
    return page_member(
        session,
        runtime,
        case,
        manager,
        now,
        key=key,
        detail="manager",
        purpose=Purpose.MANAGER_PAGE,
        text=text,
    )


def _remind(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    key: str,
    address: str,
    text: str,
    dedupe: str,
) -> None:
    channel = "email" if "@" in address else "sms"
    _to_engineer(
        session, runtime, case, now, purpose=Purpose.REMINDER, channel=channel, address=address,
        subject="Reminder", text=text, recipient=key, dedupe=dedupe,
    )  # fmt: skip


def _to_engineer(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    *,
    purpose: str,
    channel: str,
    address: str,
    subject: str,
    text: str,
    recipient: str,
    dedupe: str,
) -> OutboundMessage | None:
    """A message about ``case`` to an engineer by SMS or email (threaded under [Case N])."""
    return enqueue(
        session,
        now,
        channel=channel,
        purpose=purpose,
        to=address,
        from_address=sender_address(runtime, channel),
        subject=f"[Case {case.number}] {subject}" if channel == "email" else None,
        body=text,
        case=case,
        recipient=recipient,
        dedupe_key=dedupe,
    )


def notify_people(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    text: str,
    *,
    key: str,
    exclude: str | None = None,
) -> list[str]:
    """A short notice to everyone paged for the case (but ``exclude``), once per ``key``."""
    told = []
    for member_key, (channel, address) in paged_people(session, case).items():
        if member_key == exclude:
            continue
        message = _to_engineer(
            session, runtime, case, now, purpose=Purpose.NOTICE, channel=channel, address=address,
            subject=text, text=text, recipient=member_key, dedupe=f"{key}:{case.id}:{member_key}",
        )  # fmt: skip
        if message is not None:
            told.append(member_key)
    return told


def cancel_pending_pages(session: Session, case: Case, now: datetime) -> int:
    """Pages not yet sent for a case that no longer needs them (acknowledged, closed).

    Rows riding in a bundle are left alone: the bundle is one SMS for several cases.
    """
    result = session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.case_id == case.id,
            OutboundMessage.state == OutboxState.PENDING.value,
            OutboundMessage.purpose.in_(ESCALATION_PURPOSES),
            OutboundMessage.bundled_into.is_(None),
        )
        .values(state=OutboxState.CANCELLED.value, last_error=f"cancelled at {now.isoformat()}"),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount or 0


def stop_escalation(session: Session, case: Case, now: datetime) -> None:
    cancel_deadlines(session, case, now, ESCALATION_KINDS)
    cancel_pending_pages(session, case, now)


def escalate_now(session: Session, case: Case, now: datetime, reason: str) -> bool:
    """Pull the case's next escalation step forward to ``now`` (the caller locked the case).

    Used when a voice page failed: the person cannot be reached, so the next target is paged
    at once instead of at the step's time. Later steps keep their times.
    """
    if case.state != CaseState.OPEN.value:
        return False
    pending = session.scalar(
        select(Deadline)
        .where(
            Deadline.case_id == case.id,
            Deadline.kind.in_((DeadlineKind.ESCALATE, DeadlineKind.ROUTE_CHECK)),
            Deadline.state == DeadlineState.PENDING.value,
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
    session.info[WORK_DUE] = True
    add_event(
        session,
        case,
        now,
        "fallback",
        f"{reason}; paging the next escalation step now",
        seq=pending.seq,
    )
    return True


def voice_script(case: Case, lead: str = "") -> str:
    """What a voice page says: case number digit by digit, severity, customer, summary."""
    digits = " ".join(str(case.number))
    summary = truncate_words(" ".join(case.summary.split()), 300)
    text = (
        f"{lead} Critical support page. Case {digits}. Severity {case.severity}. "
        f"Customer: {case.customer_name}. {summary}"
    )
    return " ".join(text.split())
