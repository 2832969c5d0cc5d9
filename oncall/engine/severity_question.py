"""The ``severity_question_timeout`` deadline: the customer did not answer the severity question
in time (``email.severity_question_timeout``). A mail whose words leaned critical is paged
anyway, as the severity it leaned to (a true emergency never waits for office hours; the
severity is the service's guess, so a downgrade carries no fee); any other goes to the regular
support queue and the customer is told so."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from oncall.cases.asking import customer_time, leave_critical_line, line_of, make_critical
from oncall.cases.events import add_event
from oncall.db.models import Case, Deadline
from oncall.domain.enums import CaseState, SeveritySource
from oncall.domain.severity import LOW_PHRASE_SEVERITY, is_critical
from oncall.domain.severity_question import unanswered_forwarded_text, unanswered_paged_how
from oncall.engine.escalation import start_paging
from oncall.runtime import Runtime


def severity_question_timeout(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    if case.state != CaseState.ASKED:
        return False  # answered in time
    data = deadline.data or {}
    lean, why = data.get("lean"), data.get("why") or "nothing found"
    until = customer_time(runtime, deadline.due_at)
    if is_critical(lean):
        add_event(
            session,
            case,
            now,
            "severity_unanswered",
            f"No answer to the severity question by {until}: paged as S{lean}, as the email "
            f"leaned critical ({why})",
            lean=lean,
        )
        make_critical(
            session,
            runtime,
            case,
            now,
            severity=int(lean),
            source=SeveritySource.TIMEOUT,
            how=f"no answer by {until}; the email leaned critical",
            told=unanswered_paged_how(until),
            page_first=start_paging,
        )
        return True
    add_event(
        session,
        case,
        now,
        "severity_unanswered",
        f"No answer to the severity question by {until}: forwarded to the regular support "
        f"queue, as nothing in the email leaned critical ({why})",
    )
    leave_critical_line(
        session,
        runtime,
        case,
        now,
        severity=LOW_PHRASE_SEVERITY,
        source=SeveritySource.TIMEOUT,
        why=f"the customer did not answer the severity question by {until}, and nothing in "
        f"the email leaned critical ({why})",
        told=unanswered_forwarded_text(
            line_of(runtime), case.number, until, sms=bool(case.contact_phone)
        ),
    )
    return True
