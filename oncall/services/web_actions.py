"""Acting on a case from the web: the dashboard's case page and the JSON API (``POST
/api/cases/<n>/ack|status|escalate|resolve|wait``) call :func:`act_on_case`, which owns the
transaction and calls the very use cases the SMS commands call (acknowledge, post a status,
escalate, downgrade, resolve, wait for the customer).

Rules decided here:

* **Who may act**: a manager, or a signed-in user whose ``member:`` is on the case's team
  (the live rota, or as snapshotted on the case); an API token with ``scope: act``. Everyone
  else is refused, and nothing changes.
* **Who is named**: the rota member the user (or token) is, by their name; else the user's or
  token's own name. The timeline says it came from the dashboard or the API.
* **Input**: a status needs a text; the ETA field, when it is one the SMS grammar reads, is
  added as ``ETA <eta>`` (one it can't read is left out, and the answer says the status target
  is still open, as a STATUS without an ETA would; the dashboard refuses it before it gets
  here: :func:`readable_eta`). A downgrade needs a reason, which goes on the timeline and the
  misuse flag. Waiting for the customer needs the question to send them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.cases.live_rota import live_team
from oncall.cases.lookup import case_by_number
from oncall.cases.members import member_of
from oncall.db.models import Case
from oncall.db.session import transaction
from oncall.domain.eta import find_eta_phrase
from oncall.runtime import Runtime
from oncall.services.case_actions import acknowledge, post_status, resolve, set_severity
from oncall.services.escalate_case import escalate_case
from oncall.services.waiting import wait_for_customer

MAX_TEXT = 1600  # what one (multi-part) SMS to the customer can carry
MAX_NOTE = 500
MAX_ETA = 40


class Action(StrEnum):
    ACK = "ack"
    STATUS = "status"
    ESCALATE = "escalate"
    DOWNGRADE = "downgrade"
    RESOLVE = "resolve"
    WAIT = "wait"


class Result(StrEnum):
    DONE = "done"
    INVALID = "invalid"  # the input is wrong: nothing changed
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CLOSED = "closed"  # resolved or downgraded already: nothing changed


@dataclass(frozen=True)
class Actor:
    """Who acts: a dashboard user or an API token."""

    name: str  # the user's or token's own name
    via: str  # "dashboard" | "api"
    member: str | None = None  # the rota member they are, if any
    manager: bool = False  # may act on any case


@dataclass(frozen=True)
class Request:
    action: Action
    text: str = ""  # status text; resolve or escalate note; downgrade reason
    eta: str = ""  # status: "2h", "04:30", "tomorrow 9am"
    severity: int | None = None  # downgrade: 3 or 4


@dataclass(frozen=True)
class Outcome:
    result: Result
    message: str


def check_request(request: Request) -> str | None:
    """Why ``request`` can't be done as given (None: it can)."""
    text = request.text.strip()
    if request.action is Action.STATUS:
        if not text:
            return "A status needs a text for the customer."
        if len(text) > MAX_TEXT:
            return f"Keep the status under {MAX_TEXT} characters."
        if len(request.eta) > MAX_ETA:
            return f"Keep the ETA under {MAX_ETA} characters (2h, 04:30, tomorrow 9am)."
    elif len(text) > MAX_NOTE:
        return f"Keep it under {MAX_NOTE} characters."
    if request.action is Action.WAIT and not text:
        return "A question for the customer is needed to wait for them."
    if request.action is Action.DOWNGRADE:
        if request.severity not in (3, 4):
            return "Downgrade to S3 or S4."
        if not text:
            return "Give the reason for the downgrade."
    return None


def readable_eta(eta: str) -> str | None:
    """Why the ETA field can't be read as an ETA (None: it can, or it is empty)."""
    eta = eta.strip()
    if eta and find_eta_phrase(f"ETA {eta}") is None:
        return f"ETA {eta!r} is not a time like 2h, 45m, 04:30 or tomorrow 9am."
    return None


def act_on_case(
    runtime: Runtime, number: int, request: Request, actor: Actor, now: datetime
) -> Outcome:
    """Do ``request`` to case ``number`` as ``actor`` (see the module docstring)."""
    problem = check_request(request)
    if problem is not None:
        return Outcome(Result.INVALID, problem)
    with transaction(runtime.sessions) as session:
        case = case_by_number(session, number)
        if case is None:
            return Outcome(Result.NOT_FOUND, f"No case {number}.")
        if not may_act(session, runtime, case, actor, now):
            return Outcome(
                Result.FORBIDDEN,
                f"Only a manager or a member of team {case.team} may act on case {number}.",
            )
        if not case.is_open:
            return Outcome(Result.CLOSED, f"Case {number} is {case.state}: nothing changed.")
        message = _dispatch(session, runtime, case, request, actor, now)
    runtime.wake_sender()
    return Outcome(Result.DONE, message)


def may_act(session: Session, runtime: Runtime, case: Case, actor: Actor, now: datetime) -> bool:
    if actor.manager:
        return True
    if not actor.member:
        return False
    team = live_team(session, runtime, case.team, now)
    on_team = team is not None and actor.member in team.members
    return on_team or actor.member in ((case.escalation or {}).get("members") or {})


def _dispatch(
    session: Session, runtime: Runtime, case: Case, request: Request, actor: Actor, now: datetime
) -> str:
    member = member_of(runtime, case, actor.member) if actor.member else None
    key = member.key if member is not None else f"{actor.via}:{actor.name}"
    name = member.name if member is not None else actor.name
    text = request.text.strip()
    if request.action is Action.ACK:
        return acknowledge(
            session, runtime, case, key, now, f"{actor.via} ({actor.name})", name=name
        )
    if request.action is Action.STATUS:
        eta = request.eta.strip()
        if eta and readable_eta(eta) is None and find_eta_phrase(text) is None:
            text = f"{text} ETA {eta}"
        return post_status(session, runtime, case, key, text, now, name=name)
    if request.action is Action.ESCALATE:
        return escalate_case(session, runtime, case, key, now, note=text, name=name)
    if request.action is Action.RESOLVE:
        return resolve(session, runtime, case, key, text, now, name=name)
    if request.action is Action.WAIT:
        return wait_for_customer(session, runtime, case, key, text, now, name=name)
    assert request.severity is not None
    reply = set_severity(session, runtime, case, key, request.severity, now, note=text, name=name)
    _record_reason(session, case, name, text, now)
    return reply


def _record_reason(session: Session, case: Case, name: str, reason: str, now: datetime) -> None:
    """Why the case left the critical line, named on its timeline (the reason is also the
    downgrade's note: the evidence on its misuse flag, see ``services.misuse``)."""
    add_event(
        session,
        case,
        now,
        "downgrade_reason",
        f"Reason for the downgrade, from {name}: {reason}",
        actor=name,
        reason=reason,
    )
