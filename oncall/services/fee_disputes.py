"""A misuse fee as a billing event the customer may dispute: its evidence, its notice, the
customer's ``DISPUTE`` and a manager's decision.

Like the other use cases these work inside the caller's transaction; the caller commits.

Rules decided here:

* **The evidence** is frozen on the flag when the fee is raised (``misuse_flags.evidence``):
  the engineer's reason and name, how the severity was chosen (the phone menu's digit, the
  answer to the email's severity question, or the severity stated in the email), the
  definitions the customer was given (the voice flow's menu prompt, or the email question's
  menu), and whether a recording was kept. The recording itself is linked from the case while
  ``retention.recordings`` keeps it (the Misuse page and the export read the case's link, which
  retention clears).
* **The notice** goes to the customer by email (the case's address, else the customer's
  contact with the case's phone), with the fee, the reason and until when they may reply
  ``DISPUTE`` (``penalties.dispute_within`` after the fee was flagged).
* **A dispute** in time sets the fee ``disputed`` and puts it before a manager (the Misuse
  page lists it first); a later one is answered with a polite refusal and recorded; a fee
  already decided says so. Either way the customer's words are on the timeline.
* **A manager decides**: :func:`confirm_fee` (``oncall misuse confirm``, the Misuse page) or
  a waiver (:func:`oncall.services.misuse.waive_misuse`); a disputed fee's customer is told
  the decision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.customer import case_subject, notify_customer
from oncall.cases.errors import CaseError
from oncall.cases.events import add_event
from oncall.cases.lookup import case_by_number
from oncall.cases.outbox import enqueue
from oncall.db.models import Case, MisuseFlag
from oncall.domain.enums import FeeState, Purpose, SeveritySource
from oncall.domain.severity_question import MENU
from oncall.engine.closure import customer_when
from oncall.runtime import Runtime


def fee_evidence(runtime: Runtime, case: Case, name: str, note: str) -> dict[str, Any]:
    """What the fee of ``case`` rests on, as billing and a disputing customer will read it."""
    evidence: dict[str, Any] = {
        "reason": note,
        "engineer": name,
        "channel": case.channel,
        "severity_claimed": case.severity_claimed,
        "severity_source": case.severity_source,
        "recording": bool(case.recording_url),
    }
    if case.channel == "voice":
        flow = runtime.voice_flows.value if runtime.voice_flows is not None else None
        if flow is not None:
            digits = [d for d, sev in flow.menu.items() if sev == case.severity_claimed]
            evidence["menu_choice"] = (
                f"pressed {digits[0]} (S{case.severity_claimed})"
                if digits
                else f"chose S{case.severity_claimed}"
            )
            evidence["definitions"] = " ".join(flow.prompts.get("menu", "").split())
        else:
            evidence["menu_choice"] = f"chose S{case.severity_claimed} in the phone menu"
    elif case.severity_source == SeveritySource.ANSWERED:
        evidence["menu_choice"] = f"answered {case.severity_claimed} to the severity question"
        evidence["definitions"] = MENU
    else:
        evidence["menu_choice"] = f"stated S{case.severity_claimed} in the email"
    return evidence


def notify_fee(
    session: Session, runtime: Runtime, case: Case, flag: MisuseFlag, now: datetime
) -> bool:
    """The notice of the fee to the customer, by email; False when no address is known (the
    timeline says so, and billing sends it another way)."""
    settings = runtime.settings
    address = _address(runtime, case)
    evidence = flag.evidence or {}
    until = customer_when(runtime, flag.flagged_at + settings.penalties.dispute_within)
    text = (
        f"Case {case.number} came to the {settings.company} critical line as Severity "
        f"{case.severity_claimed}. Our on-call engineer reviewed it as Severity "
        f"{flag.severity_set}; the critical line is for Severity 1 and 2 only, so the misuse "
        f"fee of {flag.fee:g} {flag.currency} applies.\n\n"
        f"Reason given by the engineer: {evidence.get('reason') or 'none given'}\n"
        f"How the severity was chosen: {evidence.get('menu_choice', '-')}\n"
        + (
            f"The definitions given: {evidence['definitions']}\n"
            if evidence.get("definitions")
            else ""
        )
        + f"\nIf you believe this is wrong, reply DISPUTE to this email (with your reasons) by "
        f"{until}. A manager will review it and tell you the outcome."
    )
    if not address:
        add_event(
            session,
            case,
            now,
            "fee_notice_unsent",
            "No email address known for the customer: the fee notice was not sent",
        )
        return False
    message = enqueue(
        session,
        now,
        channel="email",
        purpose=Purpose.FEE_NOTICE,
        recipient="customer",
        to=address,
        from_address=settings.email.from_address,
        subject=case_subject(case, f"Misuse fee {flag.fee:g} {flag.currency}"),
        body=text,
        case=case,
        dedupe_key=f"customer:fee_notice:{case.id}",
    )
    if message is not None:
        add_event(
            session,
            case,
            now,
            "customer_notified",
            f"Customer told (email): {text[:500]}",
            purpose=Purpose.FEE_NOTICE,
            outbox_ids=[message.id],
        )
    return True


def dispute_fee(
    session: Session, runtime: Runtime, case: Case, who: str, text: str, now: datetime
) -> str:
    """The customer's DISPUTE of the fee on ``case``; what they are told (by email)."""
    flag = session.scalar(select(MisuseFlag).where(MisuseFlag.case_id == case.id).with_for_update())
    window = runtime.settings.penalties.dispute_within
    if flag is None or flag.kind != "fee":
        told = f"There is no misuse fee on case {case.number}: there is nothing to dispute."
        kind = "dispute_refused"
    elif flag.state == FeeState.DISPUTED:
        told = f"Your dispute of the fee on case {case.number} is already with a manager."
        kind = "misuse_disputed_again"
    elif flag.state in (FeeState.WAIVED, FeeState.CONFIRMED):
        told = f"The fee on case {case.number} was already {flag.state} by a manager."
        kind = "dispute_refused"
    elif now > flag.flagged_at + window:
        told = (
            f"We are sorry: the fee on case {case.number} could be disputed until "
            f"{customer_when(runtime, flag.flagged_at + window)}, and that time has passed, "
            "so it stands. Your message has been kept with the case; your account manager "
            "can still discuss it with you."
        )
        kind = "dispute_refused"
    else:
        flag.state = FeeState.DISPUTED.value
        flag.disputed_at = now
        flag.dispute_text = text[:4000]
        told = (
            f"We received your dispute of the fee on case {case.number}. A manager will review "
            "the evidence and tell you the outcome; the fee is on hold until then."
        )
        kind = "misuse_disputed"
    add_event(
        session,
        case,
        now,
        kind,
        f"{who} disputed the misuse fee: {text[:1000]}"
        + ("" if kind == "misuse_disputed" else f" (answered: {told})"),
        actor=who,
        flag_id=flag.id if flag is not None else None,
    )
    _tell(session, runtime, case, now, told, f"dispute:{kind}:{now.isoformat()}")
    return told


def confirm_fee(
    session: Session, runtime: Runtime, case_number: int, by: str, reason: str, now: datetime
) -> MisuseFlag:
    """A manager upholds the fee of case ``case_number`` (disputed or not); the reason, if
    any, goes on the timeline and to a disputing customer."""
    case = case_by_number(session, case_number, for_update=True)
    if case is None:
        raise CaseError(f"No case {case_number}.")
    flag = session.scalar(select(MisuseFlag).where(MisuseFlag.case_id == case.id).with_for_update())
    if flag is None:
        raise CaseError(f"Case {case_number} has no misuse flag.")
    if flag.state == FeeState.WAIVED or flag.waived_at is not None:
        raise CaseError(f"Case {case_number}: the misuse fee was waived; it cannot be confirmed.")
    if flag.state == FeeState.CONFIRMED:
        raise CaseError(f"Case {case_number}: the misuse fee is already confirmed.")
    disputed = flag.state == FeeState.DISPUTED
    flag.state = FeeState.CONFIRMED.value
    flag.confirmed_at = now
    flag.confirmed_by = by
    flag.confirm_reason = (reason or "").strip() or None
    add_event(
        session,
        case,
        now,
        "misuse_confirmed",
        f"Misuse fee ({flag.fee:g} {flag.currency}) confirmed by {by}"
        + (f": {flag.confirm_reason}" if flag.confirm_reason else ""),
        actor=by,
        flag_id=flag.id,
    )
    if disputed:
        tell_decision(session, runtime, case, flag, now)
    return flag


def tell_decision(
    session: Session, runtime: Runtime, case: Case, flag: MisuseFlag, now: datetime
) -> None:
    """A disputed fee was decided: the customer hears which way, and why."""
    if flag.state == FeeState.WAIVED:
        told = f"After review, the misuse fee on case {case.number} has been waived" + (
            f": {flag.waive_reason}" if flag.waive_reason else "."
        )
    else:
        told = (
            f"After review, the misuse fee of {flag.fee:g} {flag.currency} on case "
            f"{case.number} stands" + (f": {flag.confirm_reason}" if flag.confirm_reason else ".")
        )
    _tell(session, runtime, case, now, told, f"dispute:decided:{flag.state}")


def _address(runtime: Runtime, case: Case) -> str | None:
    """Where fee mail goes: the case's address, else that of the contact with its phone (a
    phone case's caller disputes by email too)."""
    if case.contact_email:
        return case.contact_email
    match = runtime.directory().by_phone(case.contact_phone) if case.contact_phone else None
    return match[1].email if match is not None and match[1].email else None


def _tell(
    session: Session, runtime: Runtime, case: Case, now: datetime, text: str, key: str
) -> None:
    """An answer about the fee, by email like the notice (else as the case's messages go)."""
    dedupe = f"customer:{key}:{case.id}"[:190]
    subject = "Your dispute of the misuse fee"
    address = _address(runtime, case)
    if address is None:
        notify_customer(
            session,
            runtime,
            case,
            now,
            purpose=Purpose.DISPUTE_REPLY,
            subject=subject,
            text=text,
            dedupe_key=dedupe,
        )
        return
    message = enqueue(
        session,
        now,
        channel="email",
        purpose=Purpose.DISPUTE_REPLY,
        recipient="customer",
        to=address,
        from_address=runtime.settings.email.from_address,
        subject=case_subject(case, subject),
        body=text,
        case=case,
        dedupe_key=dedupe,
    )
    if message is not None:
        add_event(
            session,
            case,
            now,
            "customer_notified",
            f"Customer told (email): {text[:500]}",
            purpose=Purpose.DISPUTE_REPLY,
            outbox_ids=[message.id],
        )
