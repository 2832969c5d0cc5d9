"""The customer's case page, ``/c/<token>``: what they may see of their case, and the two
things they may do there, add information (relayed to whoever has the case, like an emailed
reply) and escalate to the duty manager (:mod:`oncall.services.customer_escalation`).

What the page shows is chosen here, not filtered in the template: the case number, severity,
state, who is working on it (a first name, never a phone number), the latest status in the
engineer's words with its ETA, when the next update is due, and a timeline built only from the
events a customer may read (:data:`VISIBLE`), each in words written for them. Internal notes,
pages, deliveries, breaches, fees and engineers' phones never reach it.

Posts are idempotent on the form's one-time id (a double click acts once) and limited per
token: :data:`POSTS_PER_WINDOW` in :data:`POST_WINDOW`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.customer import notify_customer
from oncall.cases.events import add_event
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.page_link import case_for_token, token_hash
from oncall.db.models import Case, CaseEvent
from oncall.domain.customer_side import first_name
from oncall.domain.enums import Purpose
from oncall.runtime import Runtime
from oncall.services.customer_escalation import escalate_for_customer
from oncall.services.customer_relay import relay_to_case_people
from oncall.services.receipts import DEDUPE_MAX, Repeat, act_once, bounded_key

POST_WINDOW = timedelta(minutes=10)
POSTS_PER_WINDOW = 5
MAX_NOTE = 4000
PAGE_VIA = "case page"
STATE_WORDS = {
    "asked": "Waiting for your answer about the severity",
    "open": "Open: an engineer has been paged",
    "acknowledged": "Being worked on",
    # States another branch adds (WAIT, the closure after RESOLVE): words ready for the merge.
    "waiting_customer": "Waiting for your answer",
    "resolved": "Resolved",
    "closed": "Closed",
    "downgraded": "Passed to regular support",
}
CHANNEL_WORDS = {"voice": "by phone", "email": "by email", "sms": "by SMS"}


@dataclass(frozen=True)
class Line:
    at: datetime
    text: str


@dataclass(frozen=True)
class CasePage:
    number: int
    customer: str
    severity: int
    state: str
    state_words: str
    is_open: bool
    opened_at: datetime
    working: str  # "Alice is working on it" / "An engineer has been paged" / ""
    status: str | None
    status_by: str
    status_at: datetime | None
    eta_at: datetime | None
    next_update_at: datetime | None
    closed_at: datetime | None
    timeline: list[Line] = field(default_factory=list)


def read_case_page(runtime: Runtime, token: str, now: datetime) -> CasePage | None:
    """The page for ``token``; None for an unknown token or one past ``retention.case_page``."""
    with runtime.sessions() as session:
        case = case_for_token(session, runtime, token, now)
        if case is None:
            return None
        events = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            )
        )
        return _page(case, events)


def _page(case: Case, events: list[CaseEvent]) -> CasePage:
    status = next((e for e in reversed(events) if e.kind == "status"), None)
    engineer = first_name(case.acknowledged_by_name or "")
    if not case.is_open:
        working = ""
    elif engineer:
        working = f"{engineer} is working on it"
    else:
        working = "An engineer has been paged"
    return CasePage(
        number=case.number,
        customer=case.customer_name,
        severity=case.severity,
        state=case.state,
        state_words=STATE_WORDS.get(case.state, case.state),
        is_open=case.is_open,
        opened_at=case.opened_at,
        working=working,
        status=((status.data or {}).get("note") or None) if status is not None else None,
        status_by=first_name(status.actor) if status is not None else "",
        status_at=status.at if status is not None else None,
        eta_at=case.eta_at,
        next_update_at=case.status_due_at if case.is_open else None,
        closed_at=case.resolved_at,
        timeline=[line for e in events if (line := visible_line(case, e)) is not None],
    )


def visible_line(case: Case, event: CaseEvent) -> Line | None:
    """``event`` as the customer may read it, or None when it is not theirs to see."""
    data = event.data or {}
    who = first_name(event.actor)
    said = _quote(data.get("note") or "")
    kind = event.kind
    if kind == "opened":
        text = f"Case {case.number} opened {CHANNEL_WORDS.get(case.channel, '')}".strip()
    elif kind == "customer_called":
        text = "You called the critical line again"
    elif kind in ("email_received", "email_joined"):
        text = f"Email from {event.actor} added to the case"
    elif kind == "customer_reply":
        text = f"Reply from {event.actor} added to the case"
    elif kind == "customer_note":
        text = f"Note from {event.actor}" + (
            f": {said}" if data.get("via") == "page" else " (voice)"
        )
    elif kind == "acknowledged":
        text = f"{who} is working on it"
    elif kind == "status":
        text = f"Update from {who}: {said}"
    elif kind == "customer_escalated":
        text = (
            f"Escalated to the duty manager ({data.get('alerted') or 'the support team'} alerted)"
            if data.get("paged")
            else "Escalation noted (the duty manager had already been alerted)"
        )
    elif kind == "resolved":
        text = f"Resolved by {who}" + (f": {said}" if said else "")
    elif kind == "severity_answered":
        text = "Severity confirmed"
    elif kind == "waiting_customer":
        text = f"{who} asked you: {_quote(data.get('question') or '')}"
    elif kind == "wait_ended":
        text = "Work continues (no longer waiting for your answer)"
    elif kind == "reopened":
        text = "Reopened at your request: the on-call engineer has been paged again"
    elif kind == "closed":
        text = "Closed"
    elif kind == "follows":
        text = f"Follows case {data.get('follows')}"
    elif kind == "reopen_after_close":
        text = f"You asked to reopen it after it closed: case {data.get('new_case')} follows it"
    else:
        return None
    return Line(event.at, text)


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 500 else text[:497] + "..."


# -- acting ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PageAnswer:
    """What the customer is told after a post (the page shows it as a notice)."""

    outcome: str  # added | escalated | already_escalated | limited | closed | empty | unknown
    message: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def add_note(runtime: Runtime, token: str, text: str, form_id: str, now: datetime) -> PageAnswer:
    """The customer adds information: on the timeline, relayed to whoever has the case."""
    text = text.strip()[:MAX_NOTE]
    if not text:
        return PageAnswer("empty", "Please write something to add.")

    def act(session: Session, case: Case) -> PageAnswer:
        add_event(
            session, case, now, "customer_note", f"{case.contact_name or case.customer_name} "
            f"added on the case page: {text}", actor=case.contact_name or case.customer_name,
            via="page", note=text,
        )  # fmt: skip
        who = case.contact_name or case.customer_name
        key = bounded_key("page:", f"{case.number}:{form_id}", DEDUPE_MAX)
        if case.is_open and relay_to_case_people(
            session, runtime, case, f"{who} added on the case page: {text}", key, now
        ):
            return PageAnswer("added", "Thank you: your information was passed to the engineer.")
        forward_to_support_queue(
            session, runtime, now, subject=f"Case page note on case {case.number}",
            body=f"{who} ({case.customer_name}) added on the case page of case {case.number}:"
            f"\n\n{text}", dedupe_key=bounded_key("forward:", key, DEDUPE_MAX), case=case,
        )  # fmt: skip
        return PageAnswer("added", "Thank you: your information was passed to our support team.")

    return _post(runtime, token, form_id, now, act)


def escalate(runtime: Runtime, token: str, reason: str, form_id: str, now: datetime) -> PageAnswer:
    """The customer escalates from the page (the duty manager paged once per 30 minutes)."""
    reason = reason.strip()[:1000]

    def act(session: Session, case: Case) -> PageAnswer:
        if not case.is_open:
            return PageAnswer("closed", f"Case {case.number} is closed; it cannot be escalated.")
        who = case.contact_name or case.customer_name
        done = escalate_for_customer(
            session, runtime, case, now, via=PAGE_VIA, by=who, reason=reason,
            key=f"page:{case.number}:{form_id}",
        )  # fmt: skip
        told = done.acknowledgement(runtime)
        notify_customer(
            session, runtime, case, now, purpose=Purpose.ESCALATED, text=told,
            subject="Your escalation",
            dedupe_key=bounded_key("escalated:", f"page:{case.number}:{form_id}", DEDUPE_MAX),
        )  # fmt: skip
        return PageAnswer("escalated" if done.paged else "already_escalated", told)

    return _post(runtime, token, form_id, now, act)


def _post(runtime: Runtime, token: str, form_id: str, now: datetime, act) -> PageAnswer:
    form_id = "".join(c for c in form_id if c.isalnum())[:64] or "none"
    with runtime.sessions() as session:
        if case_for_token(session, runtime, token, now) is None:
            return PageAnswer("unknown", "")  # no receipt is written for a token of nothing
    key = bounded_key("page:", f"{token_hash(token)}:{form_id}")

    def once(session: Session) -> PageAnswer:
        case = case_for_token(session, runtime, token, now, for_update=True)
        if case is None:
            return PageAnswer("unknown", "")
        if _recent_posts(session, case, now) >= POSTS_PER_WINDOW:
            return PageAnswer(
                "limited", "You have added a lot in a short time; please wait a few minutes."
            )
        return act(session, case)

    result = act_once(runtime, key, now, once, lambda answer: answer.to_json())
    if isinstance(result, Repeat):
        return PageAnswer(**json.loads(result.response or "{}"))
    runtime.wake_sender()
    return result


def _recent_posts(session: Session, case: Case, now: datetime) -> int:
    """Notes and escalations from the case page within the window (the per-token limit)."""
    recent = session.scalars(
        select(CaseEvent).where(
            CaseEvent.case_id == case.id,
            CaseEvent.kind.in_(("customer_note", "customer_escalated")),
            CaseEvent.at > now - POST_WINDOW,
        )
    )
    return sum(1 for e in recent if (e.data or {}).get("via") in ("page", PAGE_VIA))
