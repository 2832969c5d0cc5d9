"""Opening a case: the next human case number, the escalation policy frozen on the case, and
the first deadlines (the first escalation step due at once, the triage and status targets).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.cases.contract import snapshot_for
from oncall.cases.deadlines import schedule_all
from oncall.cases.events import add_event
from oncall.cases.live_rota import live_team
from oncall.cases.lookup import find_case_by_intake_key
from oncall.cases.page_link import page_token
from oncall.db.models import Case, Counter
from oncall.domain import sla
from oncall.domain.contract import opening_due
from oncall.domain.enums import CaseState, DeadlineKind, SeveritySource
from oncall.domain.rota.snapshots import policy_snapshot
from oncall.runtime import Runtime

log = logging.getLogger("oncall.cases")


@dataclass(frozen=True)
class NewCase:
    """What intake knows when a case opens."""

    customer_key: str
    customer_name: str
    plan: str
    team: str
    channel: str  # voice | email
    severity: int
    summary: str
    contact_name: str = ""
    contact_phone: str | None = None
    contact_email: str | None = None
    intake_key: str | None = None  # "call:<CallSid>" / "email:<Message-ID>": opens once
    recording_url: str | None = None
    recording_duration: int | None = None
    severity_source: SeveritySource = SeveritySource.STATED  # who chose the severity
    # The customer is told at once (with the case page's link): the link's token is minted
    # into the case's INSERT instead of an UPDATE when the first notice is written.
    page_link: bool = False


def next_case_number(session: Session) -> int:
    """Take the next human case number (1001, 1002, …).

    On PostgreSQL from the ``case_numbers`` sequence: no lock is held, so openings running
    at the same time do not wait for each other (an ``UPDATE`` of a counter row held its lock
    until the opening committed, and a burst of openings queued on it, issue 14). Numbers are
    unique and increasing; an opening that rolls back (it failed, or a duplicate of a webhook
    in flight lost the race) leaves a gap. On SQLite, where writers take turns anyway, the
    counter row: a rolled-back opening gives its number back.
    """
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(_NEXT_FROM_SEQUENCE)
    # One round trip: the incremented value comes back with the UPDATE (SQLite >= 3.35).
    return session.scalar(
        update(Counter)
        .where(Counter.name == "case_number")
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )


def numbers_taken_through(session: Session, number: int) -> None:
    """The next case opened gets ``number + 1`` (for cases written without intake: imports,
    test worlds)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT setval('case_numbers', :n)"), {"n": number})
    else:
        session.execute(update(Counter).where(Counter.name == "case_number").values(value=number))


_NEXT_FROM_SEQUENCE = text("SELECT nextval('case_numbers')")


def open_case(session: Session, runtime: Runtime, new: NewCase, now: datetime) -> Case:
    """Open a case and start paging: the one entry point intake uses.

    Idempotent on ``new.intake_key``: the same CallSid or Message-ID returns the case it
    already opened. The escalation policy and the people it resolves to are snapshotted on the
    case (see :mod:`oncall.domain.rota`), the first escalation step is due at once, and the
    triage and first-status deadlines are armed. The caller commits and wakes the sender.
    """
    if new.intake_key:
        existing = find_case_by_intake_key(session, new.intake_key)
        if existing is not None:
            return existing
    row = new_case_row(session, new, now, CaseState.OPEN)
    # The clocks, targets and policy go into the row's own INSERT (not three UPDATEs after
    # it); only the deadlines need the case's id.
    targets = set_clocks(session, runtime, row, now)
    if new.page_link:
        page_token(runtime, row)
    case = insert_case(session, row)
    if case is not row:
        return case  # another worker opened it a moment ago
    _arm_first_deadlines(session, runtime, case, now, targets)
    add_event(
        session,
        case,
        now,
        "opened",
        f"Case {case.number} opened by {new.channel} from {new.contact_name or 'customer'} "
        f"({new.customer_name}), S{new.severity}: {new.summary[:200]}",
        actor=new.contact_name or new.customer_name,
        channel=new.channel,
        severity=new.severity,
        after_hours=case.after_hours,
    )
    return case


def new_case_row(session: Session, new: NewCase, now: datetime, state: CaseState) -> Case:
    """The case row, numbered; its clocks and policy are set when paging starts."""
    return Case(
        number=next_case_number(session),
        team=new.team,
        customer_key=new.customer_key,
        customer_name=new.customer_name,
        plan=new.plan,
        contact_name=new.contact_name,
        contact_phone=new.contact_phone,
        contact_email=new.contact_email,
        channel=new.channel,
        severity_claimed=new.severity,
        severity=new.severity,
        severity_source=new.severity_source,
        state=state,
        summary=new.summary,
        intake_key=new.intake_key,
        opened_at=now,
        escalation={},
        escalation_round=0,
        recording_url=new.recording_url,
        recording_duration=new.recording_duration,
    )


def insert_case(session: Session, case: Case) -> Case:
    """Insert ``case``; if another worker inserted one with the same intake key between the
    caller's check and this insert, that one is returned instead."""
    session.add(case)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        if case.intake_key:
            existing = find_case_by_intake_key(session, case.intake_key)
            if existing is not None:
                return existing
        raise
    return case


def start_clocks(session: Session, runtime: Runtime, case: Case, now: datetime) -> None:
    """The case is critical from ``now``: its SLA clocks start from the contract snapshotted
    on it (the plan's targets for its severity, in wall or business time, see
    :mod:`oncall.cases.contract`), the escalation policy and the people it resolves to are
    frozen on it, and its first deadlines are armed."""
    targets = set_clocks(session, runtime, case, now)
    _arm_first_deadlines(session, runtime, case, now, targets)


def set_clocks(session: Session, runtime: Runtime, case: Case, now: datetime) -> sla.Targets:
    """What :func:`start_clocks` sets on the case row itself (its deadlines aside): the
    snapshot, the due times, the state and the escalation policy; the due times returned."""
    case.targets = snapshot_for(runtime, case, now)
    due = opening_due(case.targets, now)
    targets = sla.Targets(triage_due=due.triage, first_status_due=due.first_status)
    case.state = CaseState.OPEN
    case.opened_at = now
    case.after_hours = bool(case.targets["after_hours"])
    case.triage_due_at = targets.triage_due
    case.status_due_at = case.first_status_due_at = targets.first_status_due
    case.resolution_due_at = due.resolution
    team = live_team(session, runtime, case.team, now)
    if team is None:
        # No live rota for the customer's team is a configuration error that must still
        # reach a human: open the case anyway; the engine pages the fallback (see engine).
        log.error("no rota for team %r; case opens without an escalation policy", case.team)
        case.escalation = {}
    else:
        case.escalation = policy_snapshot(team, now)
    return targets


def _arm_first_deadlines(
    session: Session, runtime: Runtime, case: Case, now: datetime, targets: sla.Targets
) -> None:
    # The first escalation step is a deadline due now, so paging goes through the same
    # durable path as every later step: a crash right after this commit still pages.
    policy = runtime.settings.sla
    triage, first_status = targets.triage_due, targets.first_status_due
    warn_triage, warn_status = (
        sla.warn_at(triage, policy, now),
        sla.warn_at(first_status, policy, now),
    )
    schedule_all(
        session,
        case,
        now,
        [
            (DeadlineKind.ESCALATE, now, 0),
            (DeadlineKind.TRIAGE_WARN, warn_triage, 0),
            (DeadlineKind.TRIAGE_DUE, triage, 0),
            (DeadlineKind.STATUS_WARN, warn_status, 0),
            (DeadlineKind.STATUS_DUE, first_status, 0),
        ],
    )
