"""The names the parts agree on: case states, deadline states and kinds, outbox states and
purposes. They are stored as their string values; compare with the members, never with a bare
string.
"""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    ASKED = "asked"  # an email whose severity the customer is asked: nobody paged yet
    OPEN = "open"  # paging, nobody has acknowledged
    ACKNOWLEDGED = "acknowledged"  # triaged; status targets running
    # WAIT: an engineer asked the customer a question; the status clocks are paused (their
    # deadline rows suspended) until the customer answers or the engineer posts a STATUS.
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"  # the customer may still REOPEN it (closure.reopen_within)
    CLOSED = "closed"  # resolved and past the reopen window: final, never reopened
    DOWNGRADED = "downgraded"  # SEV 3/4: left the critical line for the regular queue


#: Open work: somebody owes the customer something. A case waiting for the customer is still
#: open (engineers act on it, a second call joins it, it is listed with the open cases); only
#: its status clocks are paused.
OPEN_STATES = (CaseState.OPEN, CaseState.ACKNOWLEDGED, CaseState.WAITING_CUSTOMER)
#: Finished with: what retention may delete and the dashboard lists as ended.
FINISHED_STATES = (CaseState.RESOLVED, CaseState.CLOSED, CaseState.DOWNGRADED)


class SeveritySource(StrEnum):
    """How a case's severity was set. A downgrade carries the misuse fee only when the customer
    chose the severity: never on one the service guessed."""

    STATED = "stated"  # the customer's marker in the email, or the phone menu
    ANSWERED = "answered"  # the customer's answer to the severity question
    PHRASES = "phrases"  # the email's words made it clear (guessed)
    TIMEOUT = "timeout"  # the question went unanswered; the words leaned critical (guessed)


GUESSED_SEVERITIES = (SeveritySource.PHRASES, SeveritySource.TIMEOUT)


class FeeState(StrEnum):
    """Where a misuse fee stands (``misuse_flags.state``); the billing export shows it."""

    FLAGGED = "flagged"  # charged; the customer may DISPUTE it within penalties.dispute_within
    DISPUTED = "disputed"  # the customer disputed it in time: a manager confirms or waives
    CONFIRMED = "confirmed"  # a manager upheld it
    WAIVED = "waived"  # a manager waived it


class DeadlineState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"
    # A status timer of a case waiting for the customer: not claimed by the tick; when the
    # customer answers it is pending again, due later by exactly the time waited.
    SUSPENDED = "suspended"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Purpose(StrEnum):
    """Why an outbox row exists (the dashboard, reports and fallbacks read it)."""

    PAGE = "page"  # SMS page to an escalation target
    PAGE_VOICE = "page_voice"  # voice call: the fallback of a failed SMS page or reminder
    PAGE_BUNDLE = "page_bundle"  # one SMS carrying several cases' pages to one person
    MANAGER_PAGE = "manager_page"  # breach, exhausted escalation, unroutable case
    REMINDER = "reminder"  # triage/status reminders to engineers
    NOTICE = "notice"  # "1042 acknowledged by Alice Ng" to the others who were paged
    FORWARD = "forward"  # email to the regular support queue
    CUSTOMER_REPLY = "customer_reply"  # a customer's emailed reply, relayed to the engineers
    REFUSAL = "refusal"  # the answer to an email the critical line does not take
    SECURITY_ALERT = "security_alert"  # SMS to the managers: PINs are being guessed
    # What the customer is told about their case (recipient ``customer``):
    OPENED = "opened"  # the case number, and when they will hear from us
    ACKNOWLEDGED = "acknowledged"  # an engineer is working on it
    STATUS = "status"  # the engineer's status, with its ETA
    RESOLVED = "resolved"
    DOWNGRADED = "downgraded"  # not critical after all: the regular queue takes it
    SEVERITY_QUESTION = "severity_question"  # the severity menu, by email and SMS
    WAIT_QUESTION = "wait_question"  # WAIT: the engineer's question, by email and SMS
    CLOSURE_REMINDER = "closure_reminder"  # a resolved case closes soon unless they REOPEN
    CLOSED = "closed"  # the case is closed for good
    REOPENED = "reopened"  # their REOPEN: the case is open again, or a new case follows it
    FEE_NOTICE = "fee_notice"  # a misuse fee, its reason, and how to DISPUTE it
    DISPUTE_REPLY = "dispute_reply"  # a dispute received, refused (late) or decided
    JOINED = "joined"  # your email was added to the case you already have open
    ESCALATED = "escalated"  # your escalation reached (or was already with) the duty manager
    # What engineers are told about the rota (no case):
    SHIFT_NOTICE = "shift_notice"  # your shift starts (or starts soon)
    ROTA_CHANGE = "rota_change"  # somebody TAKEs your shift; your TAKE was removed


#: Messages that make their recipient someone "paged for the case" (may act on it by SMS).
PAGING_PURPOSES = (Purpose.PAGE, Purpose.PAGE_VOICE, Purpose.MANAGER_PAGE, Purpose.REMINDER)
#: Engineer pages that are pointless once somebody has acknowledged.
ESCALATION_PURPOSES = (Purpose.PAGE, Purpose.PAGE_VOICE, Purpose.REMINDER)
#: Pages to engineers on the escalation: by SMS, by call, or riding in a bundle.
ENGINEER_PAGE_PURPOSES = (Purpose.PAGE, Purpose.PAGE_VOICE, Purpose.PAGE_BUNDLE)
#: Every page, the manager's included (what the metrics count as pages).
PAGE_PURPOSES = (*ENGINEER_PAGE_PURPOSES, Purpose.MANAGER_PAGE)


class DeadlineKind(StrEnum):
    """What the engine does when a deadline row falls due."""

    ESCALATE = "escalate"
    TRIAGE_WARN = "triage_warn"
    TRIAGE_DUE = "triage_due"
    STATUS_WARN = "status_warn"
    STATUS_DUE = "status_due"
    ROUTE_CHECK = "route_check"  # an unroutable case looks for its team's rota again
    # Timers of a team rather than a case (no case_id; a unique key):
    SHIFT_START = "shift_start"  # tell a member their shift on a level has started
    SHIFT_REMINDER = "shift_reminder"  # remind a member their shift starts soon
    # The customer did not answer the severity question in time (email.severity_question_timeout)
    SEVERITY_QUESTION_TIMEOUT = "severity_question_timeout"
    # A resolved case: remind the customer at half of closure.reopen_within, close at the end.
    CLOSE_REMINDER = "close_reminder"
    CLOSE = "close"


#: Stopped by an acknowledgement.
ESCALATION_KINDS = (
    DeadlineKind.ESCALATE,
    DeadlineKind.TRIAGE_WARN,
    DeadlineKind.TRIAGE_DUE,
    DeadlineKind.ROUTE_CHECK,
)
STATUS_KINDS = (DeadlineKind.STATUS_WARN, DeadlineKind.STATUS_DUE)
#: The timers of a resolved case (applied while it is resolved; stopped by a REOPEN).
CLOSURE_KINDS = (DeadlineKind.CLOSE_REMINDER, DeadlineKind.CLOSE)
#: Timers of a team: applied by oncall.engine.shift_notices, not the case handlers.
TEAM_KINDS = (DeadlineKind.SHIFT_START, DeadlineKind.SHIFT_REMINDER)
