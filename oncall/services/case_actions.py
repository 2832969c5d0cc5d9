"""What an engineer does to a case: acknowledge, post a status, resolve, set the severity.

Each use case (:func:`acknowledge`, :func:`post_status`, :func:`resolve`, :func:`set_severity`)
works inside the caller's transaction and returns the reply for the person who acted, whether
they acted by SMS, voice or the dashboard; the caller commits and wakes the sender. Each one
locks the case row first (the lock order described in :mod:`oncall.engine`), so an ACK and an
engine tick on the same case never interleave, and each is safe to repeat: a second ACK, a
second RESOLVE, a second SEV 3 change nothing and say so.

Rules decided here:

* **The status target** is met by a STATUS that reaches the customer *with an ETA*: the text
  has one (``ETA 2h``, ``ETA 04:30``) or an ETA given earlier is still ahead. A status
  without any ETA still goes to the customer (it is true), but the target stays open and the
  reply asks for an ETA. A STATUS implies the acknowledgement.
* **RESOLVE** and **SEV 3/4** on an unacknowledged case also stop the escalation and record
  the acknowledgement (whoever closes or downgrades a case has looked at it). SEV 3/4 is a
  downgrade off the critical line, with its misuse fee: :func:`oncall.services.misuse.downgrade`.
* **Every engineer note is evidence**: the text after ACK, the STATUS text, the RESOLVE note
  and the reason after SEV are kept on the timeline event (``data.note``, with the verb in
  ``data.verb``), which the misuse page and ``report misuse --csv`` show beside a fee.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from oncall.cases.customer import notify_customer
from oncall.cases.deadlines import cancel_deadlines
from oncall.cases.errors import CaseError
from oncall.cases.events import add_event, note_data
from oncall.cases.members import member_of
from oncall.cases.waiting import end_wait, resume_clocks
from oncall.db.models import Case
from oncall.domain.enums import STATUS_KINDS, CaseState, Purpose
from oncall.domain.eta import find_eta_phrase, parse_eta
from oncall.domain.severity import is_critical
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.engine.closure import offer_reopen
from oncall.engine.escalation import stop_escalation
from oncall.engine.paging import notify_people
from oncall.engine.status import arm_status_target, next_status_seq
from oncall.engine.wording import case_zone, hhmm
from oncall.runtime import Runtime
from oncall.services.misuse import add_downgrade_reason, downgrade


def _lock(session: Session, case: Case) -> Case:
    """The case, re-read under a row lock (PostgreSQL): the first thing every use case does."""
    locked = session.get(Case, case.id, with_for_update=True, populate_existing=True)
    if locked is None:
        raise CaseError(f"Case {case.number} does not exist.")
    return locked


def _name(runtime: Runtime, case: Case, member_key: str) -> str:
    member = member_of(runtime, case, member_key)
    return member.name if member is not None else member_key


def _customer_time(runtime: Runtime, at: datetime) -> str:
    """Customers read times in the company's zone, with the zone named."""
    return at.astimezone(runtime.settings.zone).strftime("%H:%M %Z")


def _label(case: Case) -> str:
    return f"{case.number} ({truncate_words(to_gsm7(case.customer_name), 30)}, S{case.severity})"


def _closed_reply(case: Case) -> str:
    if case.state in (CaseState.RESOLVED.value, CaseState.CLOSED.value):
        return f"Case {case.number} is already {case.state}."
    if case.state == CaseState.ASKED.value:
        return (
            f"Case {case.number} waits for the customer to confirm its severity; nobody is "
            "paged until they do."
        )
    return (
        f"Case {case.number} was downgraded to S{case.severity} and left the critical line; "
        "the regular queue has it."
    )


def record_ack(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    now: datetime,
    via: str,
    *,
    notice: str | None = None,
    tell_customer: bool = True,
    tell_others: bool = True,
    name: str | None = None,
    note: str = "",
) -> None:
    """The acknowledgement itself: state, timers stopped, the others and the customer told
    (``tell_others=False``: the caller tells them, e.g. once for all the cases of ACK ALL)."""
    name = name or _name(runtime, case, member_key)
    if case.state == CaseState.OPEN.value:
        case.state = CaseState.ACKNOWLEDGED.value
    case.acknowledged_at = now
    case.acknowledged_by = member_key
    case.acknowledged_by_name = name
    stop_escalation(session, case, now)
    met = case.triage_due_at is None or now <= case.triage_due_at
    minutes = int((now - case.opened_at).total_seconds() // 60)
    add_event(
        session,
        case,
        now,
        "acknowledged",
        f"Acknowledged by {name} via {via}, {minutes} min after opening (triage target "
        f"{'met' if met else 'missed'})" + (f": {note}" if note else ""),
        actor=name,
        via=via,
        member=member_key,
        triage_met=met,
        **note_data("ACK", note),
    )
    # So nobody else gets up: everyone else who was paged hears who has it.
    if tell_others:
        notify_people(
            session,
            runtime,
            case,
            now,
            notice or f"{case.number} acknowledged by {name}",
            key="ack_notice",
            exclude=member_key,
        )
    if tell_customer:
        _tell_customer_acknowledged(session, runtime, case, now)


def _tell_customer_acknowledged(
    session: Session, runtime: Runtime, case: Case, now: datetime
) -> None:
    """The customer learns a person has the case, and when the status with an ETA is due."""
    due = case.status_due_at
    notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.ACKNOWLEDGED,
        subject="An engineer is working on it",
        text=(
            f"An engineer is working on your case {case.number}."
            + (
                f" You will get a status update with an estimated time to resolution by "
                f"{_customer_time(runtime, due)}."
                if due
                else ""
            )
        ),
        dedupe_key=f"customer:ack:{case.id}",
    )


def acknowledge(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    now: datetime,
    via: str,
    note: str = "",
    *,
    name: str | None = None,
) -> str:
    """ACK: stop the escalation for everyone. Harmless when repeated. ``note``: whatever the
    engineer wrote after the command (kept on the timeline). ``name``: who acted, when they are
    not a rota member (a manager on the dashboard)."""
    case = _lock(session, case)
    zone = case_zone(runtime, case)
    if not case.is_open:
        return _closed_reply(case)
    if case.acknowledged_at is not None:
        if case.acknowledged_by == member_key:
            due = f" Status due by {hhmm(case.status_due_at, zone)}." if case.status_due_at else ""
            return f"You already acknowledged {case.number}.{due}"
        return (
            f"{case.number} was already acknowledged by {case.acknowledged_by_name} at "
            f"{hhmm(case.acknowledged_at, zone)}."
        )
    record_ack(session, runtime, case, member_key, now, via, note=note.strip(), name=name)
    due = (
        f" Status due to the customer by {hhmm(case.status_due_at, zone)}."
        if case.status_due_at
        else ""
    )
    return f"Acknowledged {_label(case)}.{due}"


def post_status(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    text: str,
    now: datetime,
    *,
    name: str | None = None,
) -> str:
    """STATUS: the text goes to the customer verbatim, with the ETA; it may meet the target."""
    case = _lock(session, case)
    if not case.is_open:
        return _closed_reply(case) + " No status sent."
    text = text.strip()
    if not text:
        return (
            f"STATUS needs a text for the customer, e.g. STATUS {case.number} DB restored, ETA 30m"
        )
    zone = case_zone(runtime, case)
    name = name or _name(runtime, case, member_key)
    if case.acknowledged_at is None:
        record_ack(
            session, runtime, case, member_key, now, "status", tell_customer=False, name=name
        )
    resume_clocks(session, case, now, f"{name} posted a status", name)
    has_eta = _take_eta(case, text, now, zone)
    eta_line = (
        f"\nEstimated time to resolution: {_customer_time(runtime, case.eta_at)}."
        if has_eta and case.eta_at is not None
        else ""
    )
    notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.STATUS,
        subject="Status update",
        text=f"Update on case {case.number} from {name}:\n{text}{eta_line}",
    )
    if case.first_status_at is None:
        case.first_status_at = now
    case.last_status_at = now
    due_before = case.status_due_at
    add_event(
        session,
        case,
        now,
        "status",
        f"Status to the customer from {name}: {text}"
        + (f" (ETA {hhmm(case.eta_at, zone)})" if has_eta and case.eta_at else " (no ETA)"),
        actor=name,
        member=member_key,
        eta=case.eta_at.isoformat() if has_eta and case.eta_at else None,
        **note_data("STATUS", text),
    )
    if not has_eta:
        return (
            f"Sent to {truncate_words(to_gsm7(case.customer_name), 30)}, but with no ETA the "
            f"status target is still open: STATUS {case.number} <text> ETA 2h"
        )
    following = _meet_status_target(session, runtime, case, now, due_before, zone)
    return (
        f"Status sent to {truncate_words(to_gsm7(case.customer_name), 30)} for {case.number}. "
        f"ETA {hhmm(case.eta_at, zone)}. Next update due by {hhmm(following, zone)}."
    )


def _take_eta(case: Case, text: str, now: datetime, zone: ZoneInfo) -> bool:
    """Record the ETA in ``text``, if any; whether the customer now has an ETA still ahead."""
    eta = parse_eta(text, now, zone)
    if eta is not None:
        case.eta_at = eta
        case.eta_text = (find_eta_phrase(text) or "")[:200] or None
    return eta is not None or (case.eta_at is not None and case.eta_at > now)


def _meet_status_target(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    due_before: datetime | None,
    zone: ZoneInfo,
) -> datetime:
    """A status with an ETA met the target: stop its timers, arm the next one (returned)."""
    on_time = due_before is None or now <= due_before
    cancel_deadlines(session, case, now, STATUS_KINDS)
    add_event(
        session,
        case,
        now,
        "target_met",
        f"Status target {'met' if on_time else 'met late'}"
        + (f" (due {hhmm(due_before, zone)})" if due_before else ""),
        target="status",
        on_time=on_time,
    )
    return arm_status_target(session, runtime, case, now, next_status_seq(session, case))


def resolve(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    note: str,
    now: datetime,
    *,
    name: str | None = None,
) -> str:
    """RESOLVE: the case is closed, every timer stops, the customer is told."""
    case = _lock(session, case)
    if not case.is_open:
        return _closed_reply(case)
    name = name or _name(runtime, case, member_key)
    note = (note or "").strip()
    if case.acknowledged_at is None:
        record_ack(
            session,
            runtime,
            case,
            member_key,
            now,
            "resolve",
            notice=f"{case.number} resolved by {name}",
            tell_customer=False,
            name=name,
        )
    end_wait(case, now)
    case.state = CaseState.RESOLVED.value
    case.resolved_at = now
    case.resolution_note = note or None
    cancel_deadlines(session, case, now)
    stop_escalation(session, case, now)
    add_event(
        session,
        case,
        now,
        "resolved",
        f"Resolved by {name}" + (f": {note}" if note else ""),
        actor=name,
        member=member_key,
        **note_data("RESOLVE", note),
    )
    told = f"Your case {case.number} has been resolved." + (f"\n{note}" if note else "")
    by_email, by_sms = offer_reopen(session, runtime, case, now)
    notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.RESOLVED,
        subject="Resolved",
        text=told + by_email,
        sms_text=told + by_sms,
        dedupe_key=f"customer:resolved:{case.id}",
    )
    return f"Resolved {_label(case)}. The customer has been told."


def set_severity(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    severity: int,
    now: datetime,
    note: str = "",
    *,
    name: str | None = None,
) -> str:
    """SEV: 1/2 re-rate and keep going; 3/4 take the case off the critical line with a fee.

    ``note`` is the engineer's reason (``SEV 3 1042 customer asked about a password reset``):
    the evidence for the fee. A reason sent again for a case already downgraded to that level
    is added to the record (a forgotten reason can still be given); nothing else changes.
    """
    case = _lock(session, case)
    note = " ".join((note or "").split())
    if severity not in (1, 2, 3, 4):
        return "Severity must be 1, 2, 3 or 4."
    if not case.is_open:
        if note and case.state == CaseState.DOWNGRADED.value and case.severity == severity:
            return add_downgrade_reason(session, runtime, case, member_key, note, now)
        return _closed_reply(case)
    name = name or _name(runtime, case, member_key)
    old = case.severity
    if is_critical(severity):
        if severity == old:
            return f"{case.number} is already S{severity}."
        case.severity = severity
        add_event(
            session,
            case,
            now,
            "severity_changed",
            f"Severity changed S{old} -> S{severity} by {name}" + (f": {note}" if note else ""),
            actor=name,
            old=old,
            new=severity,
            **note_data(f"SEV {severity}", note),
        )
        tail = "" if case.acknowledged_at else f" Not acknowledged yet: reply ACK {case.number}."
        return f"{case.number} is now S{severity}.{tail}"
    end_wait(case, now)
    return downgrade(session, runtime, case, member_key, name, severity, now, note=note)


# The helpers other engineer actions (WAIT: oncall.services.waiting) share.
lock_case, member_name, closed_reply = _lock, _name, _closed_reply
