"""Misuse of the critical line: the downgrade that takes a case off it with a fee, the fee
itself, a manager's waiver, and the review of customers whose attempts keep being refused.

Like the other use cases, these work inside the caller's transaction; the caller commits.

Rules decided here:

* **The fee** of a downgraded case is its plan's own ``misuse_fee`` (``customers.yaml``), else
  ``penalties.per_plan`` for the plan, else ``penalties.misuse_fee``; one fee flag per case,
  in the month (company zone) it was flagged. A case marked ``sender_unverified`` (opened by
  unauthenticated mail of a customer that trusts it) is never flagged: no fee applies; nor is
  one whose severity the service guessed (an email's words, or an unanswered severity
  question): the customer did not choose it.
* **The evidence** for a fee is the engineer's reason (``SEV 3 1042 customer asked about a
  password reset``): on the timeline and in the flag's reason, beside the fee; with how the
  severity was chosen and the definitions given, frozen on the flag, and a notice to the
  customer who may dispute it (:mod:`oncall.services.fee_disputes`).
* **A waiver** needs a reason, which goes on the case's timeline; waiving twice changes nothing.
* **Refused attempts** at ``penalties.refused_attempts_review`` in a calendar month (company
  zone) raise one review flag for the customer, with no fee: a person decides.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.cases.customer import case_subject, notify_customer
from oncall.cases.deadlines import cancel_deadlines
from oncall.cases.errors import CaseError
from oncall.cases.events import add_event, note_data
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.lookup import case_by_number
from oncall.cases.members import member_of
from oncall.clock import ensure_aware
from oncall.db.models import Attempt, Case, MisuseFlag
from oncall.domain.enums import GUESSED_SEVERITIES, CaseState, FeeState, Purpose
from oncall.engine.escalation import stop_escalation
from oncall.engine.paging import notify_people
from oncall.runtime import Runtime
from oncall.services.fee_disputes import fee_evidence, notify_fee, tell_decision

log = logging.getLogger("oncall.commands")


def downgrade(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    name: str,
    severity: int,
    now: datetime,
    note: str = "",
) -> str:
    """SEV 3/4 on a case the caller has locked: off the critical line, with the misuse fee.

    The escalation and every timer stop, the others paged and the customer are told, the case
    is forwarded to the regular support queue, and it is flagged for the fee (one flag per
    case) with ``note``, the engineer's reason, as its evidence. Returns the reply for the
    engineer.
    """
    old = case.severity
    if case.acknowledged_at is None:
        case.acknowledged_at = now
        case.acknowledged_by = member_key
        case.acknowledged_by_name = name
    case.severity = severity
    case.state = CaseState.DOWNGRADED.value
    cancel_deadlines(session, case, now)
    stop_escalation(session, case, now)
    add_event(
        session,
        case,
        now,
        "severity_changed",
        f"Severity changed S{old} -> S{severity} by {name}: off the critical line"
        + (f". Reason: {note}" if note else ""),
        actor=name,
        old=old,
        new=severity,
        **note_data(f"SEV {severity}", note),
    )
    _announce_downgrade(session, runtime, case, member_key, name, severity, now)
    forward_to_support_queue(
        session,
        runtime,
        now,
        subject=case_subject(
            case, f"Forwarded from the critical line: {case.customer_name} S{severity}"
        ),
        body=(
            f"Case {case.number} came in on the critical line as S{case.severity_claimed} and "
            f"was downgraded to S{severity} by {name}" + (f": {note}" if note else "") + ".\n\n"
            f"Customer: {case.customer_name} ({case.customer_key}, plan {case.plan or '-'})\n"
            f"Contact: {case.contact_name or '-'} {case.contact_phone or ''} "
            f"{case.contact_email or ''}\n\nSummary:\n{case.summary}\n"
        ),
        case=case,
        dedupe_key=f"forward:{case.id}:downgraded",
    )
    return _charge(session, runtime, case, name, severity, now, note)


def _charge(
    session: Session,
    runtime: Runtime,
    case: Case,
    name: str,
    severity: int,
    now: datetime,
    note: str = "",
) -> str:
    """Flag the downgraded case for its fee (never one opened by an unverified sender, never on
    a severity the service guessed); the reply for the engineer."""
    if case.sender_unverified or case.severity_source in GUESSED_SEVERITIES:
        if case.sender_unverified:
            # Nobody proved this mail came from the customer: it can never cost them a fee.
            why = "the email that opened this case came from an unverified sender"
            short = "sender unverified"
        else:
            why = (
                f"S{case.severity_claimed} was the service's guess ({case.severity_source}), "
                "not the customer's choice"
            )
            short = f"the customer did not choose S{case.severity_claimed}"
        add_event(session, case, now, "misuse_not_charged", f"No misuse fee: {why}", actor=name)
        return (
            f"{case.number} downgraded to S{severity}: off the critical line, forwarded to the "
            f"support queue; no misuse fee ({short})."
        )
    flag = _flag_for_fee(session, runtime, case, name, severity, now, note)
    return (
        f"{case.number} downgraded to S{severity}: off the critical line, forwarded to the "
        f"support queue, flagged for the misuse fee ({flag.fee:g} {flag.currency})."
    )


def add_downgrade_reason(
    session: Session, runtime: Runtime, case: Case, member_key: str, note: str, now: datetime
) -> str:
    """A reason sent for a case already downgraded (``SEV 1042 3 <reason>`` again): kept on
    the timeline and added to the fee's reason; nothing else changes."""
    member = member_of(runtime, case, member_key)
    name = member.name if member is not None else member_key
    add_event(
        session,
        case,
        now,
        "note",
        f"Reason for S{case.severity} from {name}: {note}",
        actor=name,
        member=member_key,
        **note_data(f"SEV {case.severity}", note),
    )
    flag = session.scalar(select(MisuseFlag).where(MisuseFlag.case_id == case.id))
    if flag is not None and note not in (flag.reason or ""):
        flag.reason = f"{flag.reason} (reason added by {name}: {note})"
    return f"Reason noted for {case.number} (S{case.severity}): {note[:60]}"


def _announce_downgrade(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    name: str,
    severity: int,
    now: datetime,
) -> None:
    """Everyone else paged stands down; the customer learns where the case went and why."""
    notify_people(
        session,
        runtime,
        case,
        now,
        f"{case.number} downgraded to S{severity} by {name}; no action needed.",
        key="downgrade_notice",
        exclude=member_key,
    )
    notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.DOWNGRADED,
        subject="Moved to regular support",
        text=(
            f"Our on-call engineer reviewed case {case.number} as Severity {severity}. The "
            "critical line is for Severity 1 and 2 only: production down or an important "
            "function unavailable, with no workaround. Your case has been forwarded to our "
            "regular support queue, which will contact you during business hours."
        ),
        dedupe_key=f"customer:downgraded:{case.id}",
    )


def _flag_for_fee(
    session: Session,
    runtime: Runtime,
    case: Case,
    name: str,
    severity: int,
    now: datetime,
    note: str = "",
) -> MisuseFlag:
    """The case's fee flag, raised the first time the case leaves the critical line."""
    settings = runtime.settings
    flag = session.scalar(select(MisuseFlag).where(MisuseFlag.case_id == case.id))
    if flag is None:
        fee = misuse_fee(runtime, case)
        flag = MisuseFlag(
            kind="fee",
            case_id=case.id,
            customer_key=case.customer_key,
            month=now.astimezone(settings.zone).strftime("%Y-%m"),
            flagged_at=now,
            flagged_by=name,
            severity_claimed=case.severity_claimed,
            severity_set=severity,
            fee=fee,
            currency=settings.penalties.currency,
            reason=f"Downgraded from S{case.severity_claimed} to S{severity} by {name}"
            + (f": {note}" if note else ""),
            state=FeeState.FLAGGED.value,
            evidence=fee_evidence(runtime, case, name, note),
        )
        session.add(flag)
        session.flush()
        notify_fee(session, runtime, case, flag, now)
        add_event(
            session,
            case,
            now,
            "misuse_flagged",
            f"Flagged for the misuse fee: {fee:g} {flag.currency} "
            f"(critical line used for S{severity})",
            actor=name,
            fee=fee,
            currency=flag.currency,
            flag_id=flag.id,
        )
    return flag


def misuse_fee(runtime: Runtime, case: Case) -> float:
    """The plan's own fee (customers.yaml), else ``penalties.per_plan``, else the default."""
    penalties = runtime.settings.penalties
    customer = runtime.directory().customers.get(case.customer_key)
    if customer is not None and customer.plan.misuse_fee is not None:
        return float(customer.plan.misuse_fee)
    if case.plan in penalties.per_plan:
        return float(penalties.per_plan[case.plan])
    return float(penalties.misuse_fee)


class AlreadyWaived(CaseError):
    """The fee was waived before; the message gives the earlier reason, who and when."""


def waive_misuse(
    session: Session, runtime: Runtime, case_number: int, by: str, reason: str, now: datetime
) -> MisuseFlag:
    """A manager waives a case's misuse flag; the reason is required and goes on the timeline.

    Waiving an already waived flag changes nothing and raises :class:`AlreadyWaived`, which
    says when, by whom and why it was waived: "waived" again would hide the earlier reason.
    """
    reason = (reason or "").strip()
    if not reason:
        raise CaseError("A reason is required to waive a misuse flag.")
    case = case_by_number(session, case_number, for_update=True)
    if case is None:
        raise CaseError(f"No case {case_number}.")
    flag = session.scalar(select(MisuseFlag).where(MisuseFlag.case_id == case.id).with_for_update())
    if flag is None:
        raise CaseError(f"Case {case_number} has no misuse flag.")
    if flag.waived_at is not None:
        when = ensure_aware(flag.waived_at).astimezone(runtime.settings.zone)
        raise AlreadyWaived(
            f"the misuse fee is already waived (reason: {flag.waive_reason}; by "
            f"{flag.waived_by} on {when:%Y-%m-%d %H:%M %Z})"
        )
    disputed = flag.state == FeeState.DISPUTED
    flag.state = FeeState.WAIVED.value
    flag.waived_at = now
    flag.waived_by = by
    flag.waive_reason = reason
    add_event(
        session,
        case,
        now,
        "misuse_waived",
        f"Misuse fee ({flag.fee:g} {flag.currency}) waived by {by}: {reason}",
        actor=by,
        flag_id=flag.id,
        reason=reason,
    )
    if disputed:  # the customer who disputed it hears the outcome
        tell_decision(session, runtime, case, flag, now)
    return flag


def review_refused_attempts(
    session: Session, runtime: Runtime, customer_key: str, now: datetime
) -> MisuseFlag | None:
    """Refused attempts this month (company zone) at the threshold raise one review flag.

    No fee: a person decides. Returns the flag (new or existing) or None under the threshold.
    """
    settings = runtime.settings
    local = now.astimezone(settings.zone)
    month = local.strftime("%Y-%m")
    start = datetime.combine(local.date().replace(day=1), time(), tzinfo=settings.zone)
    end = datetime.combine(
        (local.date().replace(day=28) + timedelta(days=4)).replace(day=1),
        time(),
        tzinfo=settings.zone,
    )
    count = session.scalar(
        select(func.count(Attempt.id)).where(
            Attempt.customer_key == customer_key, Attempt.at >= start, Attempt.at < end
        )
    )
    if (count or 0) < settings.penalties.refused_attempts_review:
        return None
    review_key = f"review:{customer_key}:{month}"
    flag = session.scalar(select(MisuseFlag).where(MisuseFlag.review_key == review_key))
    if flag is not None:
        return flag
    flag = MisuseFlag(
        kind="review",
        case_id=None,
        customer_key=customer_key,
        month=month,
        flagged_at=now,
        flagged_by="system",
        fee=0.0,
        currency=settings.penalties.currency,
        reason=f"{count} refused attempts on the critical line in {month}",
        review_key=review_key,
    )
    try:
        with session.begin_nested():
            session.add(flag)
            session.flush()
    except IntegrityError:  # a concurrent refusal raised it first
        return session.scalar(select(MisuseFlag).where(MisuseFlag.review_key == review_key))
    log.warning("customer %s flagged for review: %s", customer_key, flag.reason)
    return flag
