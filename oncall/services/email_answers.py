"""The customer's answer to the severity question (:mod:`oncall.services.email_question`), by
email (the first line of their reply: ``1``, ``2``, ``3``, ``S1``, ``Sev 2`` ...) or by SMS to
the critical line's number from the contact's phone. 1 or 2 makes the case critical and pages
at once (the triage clock starts then); 3 or 4 sends it to the regular support queue with no
fee. A reply without a number is read with the severity rules: a severity it states, or a
clear one, counts; otherwise the customer is asked again.

Rules decided here:

* **Who may answer**: by email, whoever the intake threads to the case (our Message-ID in the
  reply, or ``[Case N]`` from someone of that customer); by SMS, the contact's phone the case
  was opened with. A customer's SMS never reaches an engineer's commands.
* **Until when**: while the case is asked, and after the timeout forwarded it (1 or 2 then
  still pages: a true emergency never waits), for a day.
* **Which case, by SMS**: the only one waiting for that phone, else the one whose number the
  SMS names (``1 1042``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.asking import (
    awaits_answer,
    customer_time,
    leave_critical_line,
    line_of,
    make_critical,
)
from oncall.cases.customer import notify_customer
from oncall.cases.events import add_event
from oncall.db.models import Case
from oncall.domain.enums import CaseState, Purpose, SeveritySource
from oncall.domain.mail.inbound import InboundEmail
from oncall.domain.severity import Decision, classify_severity, is_critical
from oncall.domain.severity_context import new_text
from oncall.domain.severity_markers import first_line, parse_answer, parse_sms_answer
from oncall.domain.severity_question import MENU, forwarded_text, sms_reply
from oncall.engine.escalation import start_paging
from oncall.runtime import Runtime

ANSWER_WINDOW = timedelta(days=1)  # a late answer still counts for this long


def answer_by_email(
    session: Session, runtime: Runtime, case: Case, mail: InboundEmail, key: str, now: datetime
) -> str | None:
    """Apply the answer in ``mail``, a reply to ``case`` (which awaits one): ``"critical"``,
    ``"not_critical"``, ``"unclear"`` (asked again), or None when the reply is no answer and
    the case is no longer asked (the caller attaches it as an ordinary reply)."""
    case = _lock(session, case)
    words = new_text(mail.text)
    severity, source = _read_answer(runtime, words)
    if severity is None and case.state != CaseState.ASKED:
        return None
    add_event(
        session,
        case,
        now,
        "customer_reply",
        f"Customer replied by email ({mail.from_address}): {words[:4000]}",
        actor=mail.from_name or mail.from_address,
        message_id=mail.message_id,
        subject=mail.subject,
    )
    if severity is None:
        notify_customer(
            session,
            runtime,
            case,
            now,
            purpose=Purpose.SEVERITY_QUESTION,
            text=f"We could not read an answer in your reply about case {case.number}. {MENU} "
            "Please put only the number on the first line.",
            subject="How severe is it?",
            dedupe_key=f"question-again:{key}"[:200],
        )
        return "unclear"
    paged = apply_answer(session, runtime, case, severity, source, "email", now)
    return "critical" if paged else "not_critical"


def _read_answer(runtime: Runtime, words: str) -> tuple[int | None, SeveritySource]:
    """The number on the first line; else what the reply's words state or make clear."""
    severity = parse_answer(first_line(words))
    if severity is not None:
        return severity, SeveritySource.ANSWERED
    verdict = classify_severity(None, words, runtime.settings.email.severity_rules)
    if verdict.stated:
        return verdict.severity, SeveritySource.ANSWERED
    if verdict.decision is Decision.PAGE:
        return verdict.severity, SeveritySource.PHRASES  # their words, our reading: no fee
    return None, SeveritySource.ANSWERED


def waiting_for_answer(session: Session, phone: str, now: datetime) -> list[Case]:
    """The cases whose severity question the contact with ``phone`` may still answer, newest
    first."""
    cases = session.scalars(
        select(Case)
        .where(
            Case.contact_phone == phone,
            Case.severity_asked_at >= now - ANSWER_WINDOW,
            Case.severity_answered_at.is_(None),
            Case.state.in_((CaseState.ASKED, CaseState.DOWNGRADED)),
        )
        .order_by(Case.severity_asked_at.desc(), Case.id.desc())
    )
    return [case for case in cases if awaits_answer(case)]


def answer_by_sms(
    session: Session, runtime: Runtime, waiting: list[Case], body: str, now: datetime
) -> tuple[str, bool]:
    """Apply an SMS answer to one of ``waiting``; ``(reply, is_error)``."""
    line = line_of(runtime)
    parsed = parse_sms_answer(body)
    if parsed is None:
        return sms_reply(waiting[0].number, None, False, line), True
    severity, number = parsed
    chosen = [c for c in waiting if number is None or c.number == number]
    if len(chosen) != 1:
        listed = ", ".join(str(c.number) for c in waiting[:5])
        return (
            f"Which case? Waiting for your answer: {listed}. Reply e.g. 1 {waiting[0].number}",
            True,
        )
    case = _lock(session, chosen[0])
    if not awaits_answer(case):
        return f"Case {case.number} already has its answer.", False
    if case.state == CaseState.DOWNGRADED and not is_critical(severity):
        return f"Case {case.number} is with our regular support queue already.", False
    paged = apply_answer(session, runtime, case, severity, SeveritySource.ANSWERED, "SMS", now)
    return sms_reply(case.number, severity, paged, line), False


def apply_answer(
    session: Session,
    runtime: Runtime,
    case: Case,
    severity: int,
    source: SeveritySource,
    via: str,
    now: datetime,
) -> bool:
    """The customer's answer, on a locked case that awaits one; True if it paged."""
    when = customer_time(runtime, now)
    asked = customer_time(runtime, case.severity_asked_at or now)
    who = case.contact_name or case.contact_email or "the customer"
    add_event(
        session,
        case,
        now,
        "severity_answered",
        f"{who} answered {severity} by {via} at {when} (asked at {asked})",
        actor=who,
        severity=severity,
        via=via,
        asked_at=(case.severity_asked_at or now).isoformat(),
    )
    if is_critical(severity):
        make_critical(
            session,
            runtime,
            case,
            now,
            severity=severity,
            source=source,
            how=f"answered {severity} by {via}, asked at {asked}",
            told=f"Thank you. You answered {severity} at {when}.",
            page_first=start_paging,
        )
        return True
    leave_critical_line(
        session,
        runtime,
        case,
        now,
        severity=severity,
        source=source,
        why=f"the customer answered {severity} by {via} to the severity question",
        told=forwarded_text(line_of(runtime), case.number, severity, when),
    )
    return False


def _lock(session: Session, case: Case) -> Case:
    """The case, re-read under a row lock (the lock order of :mod:`oncall.engine`)."""
    locked = session.get(Case, case.id, with_for_update=True, populate_existing=True)
    return locked if locked is not None else case
