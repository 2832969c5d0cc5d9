"""What follows a message that could not be delivered, so a page is never silently lost. The
same for a permanent send error and for an ``undelivered``/``failed`` status callback:

* a page, manager page or reminder by SMS → a voice call to the same person (``page_voice``,
  whose TwiML reads the page and takes ``1`` to acknowledge), while the case still needs it;
* an email page (the member has no phone) that fails → the next escalation target;
* a voice page that fails (busy, no answer, failed) → the next escalation target: the case's
  next ``escalate`` deadline is pulled forward to now (the manager's own voice page has no
  next target: it is recorded);
* a voice page of a ``via: voice`` step (a call first) that fails → the same page by SMS, so the
  person has it in writing; the escalation goes on at its own pace;
* anything to the customer (SMS or email) → a ``delivery_failed`` event for the humans on the
  timeline, and the message is forwarded to the regular support queue (``email.forward_to``)
  so somebody contacts the customer another way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.outbox import enqueue
from oncall.db.models import Case, OutboundMessage
from oncall.delivery.rows import who
from oncall.domain.enums import CaseState, Purpose
from oncall.domain.sms_text import page_text
from oncall.engine.escalation import escalate_now
from oncall.engine.paging import voice_script
from oncall.runtime import Runtime

#: Engineer-facing messages by SMS or email whose failure calls the person instead.
_CALL_INSTEAD = (Purpose.PAGE, Purpose.MANAGER_PAGE, Purpose.REMINDER)


def fallback(
    session: Session,
    runtime: Runtime,
    row: OutboundMessage,
    now: datetime,
    *,
    reason: str,
    code: int | None = None,
) -> None:
    """What happens after ``row`` (not a bundle: its members) could not be delivered."""
    case = session.get(Case, row.case_id) if row.case_id is not None else None
    failure = f"{row.channel} to {who(runtime, case, row)} failed" + (f" ({code})" if code else "")
    if row.purpose == Purpose.FORWARD:
        return  # the support queue itself: logged already, nothing further to fall back to
    if row.recipient == "customer":
        _forward_to_support_queue(session, runtime, case, row, now, reason, failure)
        return
    if case is None:
        return
    if row.channel in ("sms", "email") and row.purpose in _CALL_INSTEAD:
        _engineer_message_failed(session, runtime, case, row, now, failure)
        return
    if row.channel == "voice" and row.purpose == Purpose.PAGE_VOICE:
        _voice_page_failed(session, runtime, case, row, now, reason, failure)
        return
    add_event(session, case, now, "delivery_failed", f"{failure}: {reason}", outbox_id=row.id)


def _forward_to_support_queue(
    session: Session,
    runtime: Runtime,
    case: Case | None,
    row: OutboundMessage,
    now: datetime,
    reason: str,
    failure: str,
) -> None:
    settings = runtime.settings
    forwarded = forward_to_support_queue(
        session,
        runtime,
        now,
        subject=(
            f"[Case {case.number}] Could not reach the customer"
            if case
            else "Could not reach a customer"
        ),
        body=(
            f"Our {row.channel} to {row.to_address} could not be delivered ({reason}).\n"
            "Please contact the customer another way. The message was:\n\n"
            f"{row.subject + chr(10) if row.subject else ''}{row.body}"
        ),
        case=case,
        dedupe_key=f"forward:{row.id}",
    )
    if case is not None and forwarded is not None:
        add_event(
            session,
            case,
            now,
            "delivery_failed",
            f"Could not reach the customer: {failure}. Forwarded to the support queue "
            f"({settings.email.forward_to}) so somebody contacts them another way",
            outbox_id=row.id,
        )


def _engineer_message_failed(
    session: Session,
    runtime: Runtime,
    case: Case,
    row: OutboundMessage,
    now: datetime,
    failure: str,
) -> None:
    """A page, manager page or reminder by SMS or email: call them, or page the next step."""
    still_needed = case.is_open and (row.purpose != Purpose.PAGE or case.state == CaseState.OPEN)
    if not still_needed:
        add_event(
            session,
            case,
            now,
            "delivery_failed",
            f"{failure}; no fallback needed (case {case.state})",
            outbox_id=row.id,
        )
        return
    if row.channel == "sms":
        # A reminder or manager page is read as written, minus the SMS reply instructions
        # (the call takes 1 instead).
        body = voice_script(case) if row.purpose == Purpose.PAGE else row.body.split(" Reply ")[0]
        call = enqueue(
            session,
            now,
            channel="voice",
            purpose=Purpose.PAGE_VOICE,
            to=row.to_address,
            from_address=runtime.settings.twilio.critical_line,
            body=body,
            case=case,
            recipient=row.recipient,
            fallback_of=row.id,
            dedupe_key=f"voice:{row.id}",
        )
        if call is not None:
            add_event(
                session,
                case,
                now,
                "fallback",
                f"{failure}: calling {who(runtime, case, row)} instead",
                outbox_id=row.id,
                voice_id=call.id,
            )
        return
    # An email page (the member has no phone) that failed: nobody else can take it.
    if row.purpose == Purpose.PAGE:
        escalate_now(session, case, now, reason=failure)


def _voice_page_failed(
    session: Session,
    runtime: Runtime,
    case: Case,
    row: OutboundMessage,
    now: datetime,
    reason: str,
    failure: str,
) -> None:
    """A call that was itself a fallback: the next escalation target, if it was a page."""
    original = session.get(OutboundMessage, row.fallback_of) if row.fallback_of else None
    if (row.headers or {}).get("via") == "voice" and case.state == CaseState.OPEN:
        _text_instead_of_call(session, runtime, case, row, now, failure)
    elif original is not None and original.purpose == Purpose.PAGE and case.state == CaseState.OPEN:
        reason = f"voice page to {who(runtime, case, row)} failed ({reason})"
        escalate_now(session, case, now, reason=reason)
    else:
        add_event(session, case, now, "delivery_failed", f"{failure}: {reason}", outbox_id=row.id)


def _text_instead_of_call(
    session: Session,
    runtime: Runtime,
    case: Case,
    row: OutboundMessage,
    now: datetime,
    failure: str,
) -> None:
    """A call-first page nobody answered: the page by SMS, so it is there in writing."""
    text = enqueue(
        session,
        now,
        channel="sms",
        purpose=Purpose.PAGE,
        to=row.to_address,
        from_address=runtime.settings.twilio.critical_line,
        body=page_text(case.number, case.severity, case.customer_name, case.summary),
        case=case,
        recipient=row.recipient,
        fallback_of=row.id,
        dedupe_key=f"sms:{row.id}",
    )
    if text is not None:
        add_event(
            session,
            case,
            now,
            "fallback",
            f"{failure}: paging {who(runtime, case, row)} by SMS instead",
            outbox_id=row.id,
            sms_id=text.id,
        )
