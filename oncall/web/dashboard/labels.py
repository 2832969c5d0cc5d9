"""Human words for the codes the service stores: timeline event kinds, refused-attempt reasons,
outbound message purposes, deadline kinds, case states, message states and channels.

The codes stay in the database and the API (scripts match on them); people read these labels.
``tests/unit/test_dashboard_labels.py`` reads the code that writes each column and fails when a
code it can write has no label here, so a new kind cannot reach the dashboard as a bare code.
A code this table does not know (a row written by an older or newer version) still reads as
words: :func:`label` falls back to the code with its underscores turned into spaces.
"""

from __future__ import annotations

from collections.abc import Mapping

#: What happened on a case's timeline (``case_events.kind``).
EVENT_LABELS: Mapping[str, str] = {
    # the customer
    "opened": "Case opened",
    "customer_called": "Customer called again",
    "email_received": "Email from the customer",
    "customer_reply": "Customer replied",
    "email_joined": "Customer's email added to this case",
    "customer_note": "Customer's note",
    "customer_escalated": "Customer escalated",
    "recording": "Caller's recording",
    "customer_notified": "Customer told",
    "severity_asked": "Severity asked",
    "severity_answered": "Severity answered",
    "severity_unanswered": "Severity question not answered in time",
    # the call
    "call_connect": "Putting the caller through",
    "call_accepted": "Engineer took the call",
    "call_declined": "Engineer declined the call",
    "call_not_answered": "Call not answered",
    "call_ended": "Call ended",
    # paging
    "page": "Paged",
    "paged": "Paged",
    "manager_page": "Manager paged",
    "reminder": "Reminder",
    "bundled": "Pages sent together",
    "step_empty": "Nobody to page at this step",
    "exhausted": "Escalation ran out",
    "unroutable": "Nobody to page",
    "routed": "Rota found",
    "unreachable": "No phone or email",
    # delivery
    "sent": "Sent",
    "delivered": "Delivered",
    "failed": "Not delivered",
    "reconciled": "Send checked",
    "fallback": "Trying another way",
    "delivery_failed": "Could not deliver",
    # the engineers' work
    "acknowledged": "Acknowledged",
    "status": "Status update",
    "target_met": "Status target met",
    "breach": "SLA target missed",
    "severity_changed": "Severity changed",
    "escalated": "Escalated by hand",
    "downgrade_reason": "Why it was downgraded",
    "note": "Engineer's note",
    "resolved": "Resolved",
    # waiting for the customer, closure and reopen
    "waiting_customer": "Waiting for the customer",
    "customer_answered": "Customer answered",
    "wait_ended": "No longer waiting for the customer",
    "closed": "Closed",
    "reopened": "Reopened by the customer",
    "reopen_refused": "Not reopened",
    "reopen_after_close": "REOPEN after closure: a new case follows",
    "follows": "Follows an earlier case",
    # misuse
    "misuse_flagged": "Misuse fee",
    "misuse_waived": "Fee waived",
    "misuse_not_charged": "No misuse fee",
    "misuse_disputed": "Fee disputed by the customer",
    "misuse_disputed_again": "Fee disputed again",
    "dispute_refused": "Dispute not taken",
    "misuse_confirmed": "Fee confirmed",
    "fee_notice_unsent": "Fee notice not sent (no email address)",
    # sender authentication and retention
    "sender_unverified": "Sender not verified (customer trusts unauthenticated email)",
    "unverified_reply": "Reply from an unverified sender, not relayed",
    "recording_deleted": "Recording deleted (retention)",
}

#: Why an inbound contact did not open a case (``attempts.reason``).
ATTEMPT_LABELS: Mapping[str, str] = {
    "unknown_caller": "Caller not recognised",
    "bad_pin": "Wrong account PIN",
    "unknown_sender": "Sender not recognised",
    "not_entitled": "Plan does not cover it",
    "non_critical": "Not severity 1 or 2",
    "no_severity": "Severity not given",
    "no_menu_choice": "No choice in the menu",
    "abandoned": "Hung up",
    "auto_generated": "Automatic email",
    "unverified": "Sender not verified (SPF and DKIM failed)",
    "wrong_pin": "Wrong account PIN",
    "pin_locked": "Too many wrong PINs from this number",
}

#: Why a message was sent (``outbox.purpose``).
PURPOSE_LABELS: Mapping[str, str] = {
    "page": "Page",
    "page_voice": "Page by phone call",
    "page_bundle": "Pages in one SMS",
    "manager_page": "Manager page",
    "reminder": "Reminder",
    "notice": "Notice to the others paged",
    "forward": "Forward to the support queue",
    "opened": "Case number to the customer",
    "acknowledged": "Acknowledgement to the customer",
    "status": "Status update to the customer",
    "resolved": "Resolution to the customer",
    "downgraded": "Downgrade to the customer",
    "refusal": "Refusal to the sender",
    "customer_reply": "Customer's reply relayed",
    "severity_question": "Severity question to the customer",
    "joined": "Email added to the open case (to the customer)",
    "escalated": "Escalation acknowledged to the customer",
    "security_alert": "Security alert to the managers",
    "shift_notice": "Shift notice",
    "rota_change": "Rota change (TAKE)",
    "wait_question": "Engineer's question to the customer",
    "closure_reminder": "Closing soon, to the customer",
    "closed": "Closed, to the customer",
    "reopened": "Reopened, to the customer",
    "fee_notice": "Misuse fee notice to the customer",
    "dispute_reply": "Answer to the customer's dispute",
}

#: What the engine will do when a timer falls due (``deadlines.kind``).
DEADLINE_LABELS: Mapping[str, str] = {
    "escalate": "Escalation step",
    "triage_warn": "Triage reminder",
    "triage_due": "Triage target",
    "status_warn": "Status reminder",
    "status_due": "Status due to the customer",
    "route_check": "Look for the team's rota again",
    "shift_start": "Shift starts",
    "shift_reminder": "Shift reminder",
    "severity_question_timeout": "Severity question times out",
    "close_reminder": "Remind the customer the case closes soon",
    "close": "Close the resolved case",
}

#: A case's state (``cases.state``).
STATE_LABELS: Mapping[str, str] = {
    "asked": "Severity asked",
    "open": "Open",
    "acknowledged": "Acknowledged",
    "waiting_customer": "Waiting for the customer",
    "resolved": "Resolved",
    "closed": "Closed",
    "downgraded": "Downgraded",
}

#: Where a message stands in the outbox (``outbox.state``).
MESSAGE_STATE_LABELS: Mapping[str, str] = {
    "pending": "waiting",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "failed": "failed",
    "cancelled": "not needed",
}

#: How a message went out (``outbox.channel``).
CHANNEL_LABELS: Mapping[str, str] = {
    "sms": "SMS",
    "voice": "Call",
    "email": "Email",
}

#: How a customer reached the line (``cases.channel``, ``attempts.channel``).
INTAKE_LABELS: Mapping[str, str] = {
    "voice": "Phone",
    "email": "Email",
    "sms": "SMS",
}

TABLES: Mapping[str, Mapping[str, str]] = {
    "event": EVENT_LABELS,
    "attempt": ATTEMPT_LABELS,
    "purpose": PURPOSE_LABELS,
    "deadline": DEADLINE_LABELS,
    "state": STATE_LABELS,
    "message_state": MESSAGE_STATE_LABELS,
    "channel": CHANNEL_LABELS,
    "intake": INTAKE_LABELS,
}


def label(table: str, code: str | None) -> str:
    """The words for ``code`` in ``table`` (one of :data:`TABLES`); unknown codes as words."""
    if not code:
        return ""
    known = TABLES[table].get(code)
    if known is not None:
        return known
    words = code.replace("_", " ").strip()
    return words[:1].upper() + words[1:]
