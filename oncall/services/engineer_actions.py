"""The engineers' side of a case: ACK, STATUS, RESOLVE, SEV, by SMS, voice or dashboard.

The use cases (:func:`acknowledge`, :func:`post_status`, :func:`resolve`, :func:`set_severity`,
:func:`waive_misuse`, :func:`review_refused_attempts`) work inside the caller's transaction and
return the reply for the person who acted; the caller commits and wakes the sender. Each one
locks the case row first (the lock order described in :mod:`oncall.engine`), so an ACK and an
engine tick on the same case never interleave, and each is safe to repeat: a second ACK, a
second RESOLVE, a second SEV 3 change nothing and say so.

:func:`handle_sms` is the whole SMS conversation: idempotent on ``MessageSid``, silent to
unknown numbers, authorising the sender per case, and capping error replies per number.

Rules decided here:

* **Who may act on a case**: whoever was paged for it (an outbox page, voice page, manager
  page or reminder to that number), or a member of its team's rota (live, or as snapshotted
  on the case). A bare command (no case number) acts on the sender's only open case; with
  several, the reply lists them.
* **Error replies** (bad syntax, unknown or foreign case, ambiguous bare command) are capped
  at :data:`ERROR_REPLIES_PER_HOUR` per number per hour; after that the service stays silent
  (and logs), so a misbehaving phone or an auto-responder cannot start a loop.
* **The status target** is met by a STATUS that reaches the customer *with an ETA*: the text
  has one (``ETA 2h``, ``ETA 04:30``) or an ETA given earlier is still ahead. A status
  without any ETA still goes to the customer (it is true), but the target stays open and the
  reply asks for an ETA. A STATUS implies the acknowledgement.
* **RESOLVE** and **SEV 3/4** on an unacknowledged case also stop the escalation and record
  the acknowledgement (whoever closes or downgrades a case has looked at it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.cases.customer import case_subject, notify_customer
from oncall.cases.deadlines import cancel_deadlines
from oncall.cases.errors import CaseError
from oncall.cases.events import add_event
from oncall.cases.lookup import case_by_number
from oncall.cases.members import member_of
from oncall.cases.outbox import enqueue, has_work_due
from oncall.config.settings import normalise_phone
from oncall.db.models import Attempt, Case, MisuseFlag, OutboundMessage, WebhookReceipt
from oncall.db.session import transaction
from oncall.domain.commands import (
    HELP_TEXT,
    Command,
    CommandError,
    Verb,
    find_eta_phrase,
    parse_command,
    parse_eta,
)
from oncall.domain.enums import (
    OPEN_STATES,
    PAGING_PURPOSES,
    STATUS_KINDS,
    CaseState,
    Purpose,
)
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.engine.escalation import stop_escalation
from oncall.engine.paging import notify_people
from oncall.engine.status import arm_status_target, next_status_seq
from oncall.engine.wording import case_zone, hhmm
from oncall.runtime import Runtime

log = logging.getLogger("oncall.commands")

ERROR_REPLIES_PER_HOUR = 3
# Twilio answers these itself (Advanced Opt-Out); a reply from us would only fail with 21610.
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
    | {"START", "YES", "UNSTOP"}  # opting back in: Twilio answers those too
)


# -- helpers --------------------------------------------------------------------------------
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
    if case.state == CaseState.RESOLVED.value:
        return f"Case {case.number} is already resolved."
    return (
        f"Case {case.number} was downgraded to S{case.severity} and left the critical line; "
        "the regular queue has it."
    )


def _record_ack(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    now: datetime,
    via: str,
    *,
    notice: str | None = None,
    tell_customer: bool = True,
) -> None:
    """The acknowledgement itself: state, timers stopped, the others and the customer told."""
    name = _name(runtime, case, member_key)
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
        f"{'met' if met else 'missed'})",
        actor=name,
        via=via,
        member=member_key,
        triage_met=met,
    )
    # So nobody else gets up: everyone else who was paged hears who has it.
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


# -- use cases ------------------------------------------------------------------------------
def acknowledge(
    session: Session, runtime: Runtime, case: Case, member_key: str, now: datetime, via: str
) -> str:
    """ACK: stop the escalation for everyone. Harmless when repeated."""
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
    _record_ack(session, runtime, case, member_key, now, via)
    due = (
        f" Status due to the customer by {hhmm(case.status_due_at, zone)}."
        if case.status_due_at
        else ""
    )
    return f"Acknowledged {_label(case)}.{due}"


def post_status(
    session: Session, runtime: Runtime, case: Case, member_key: str, text: str, now: datetime
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
    name = _name(runtime, case, member_key)
    if case.acknowledged_at is None:
        _record_ack(session, runtime, case, member_key, now, "status", tell_customer=False)
    eta = parse_eta(text, now, zone)
    if eta is not None:
        case.eta_at = eta
        case.eta_text = (find_eta_phrase(text) or "")[:200] or None
    has_eta = eta is not None or (case.eta_at is not None and case.eta_at > now)
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
    on_time = due_before is None or now <= due_before
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
    )
    if not has_eta:
        return (
            f"Sent to {truncate_words(to_gsm7(case.customer_name), 30)}, but with no ETA the "
            f"status target is still open: STATUS {case.number} <text> ETA 2h"
        )
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
    following = arm_status_target(session, runtime, case, now, next_status_seq(session, case))
    return (
        f"Status sent to {truncate_words(to_gsm7(case.customer_name), 30)} for {case.number}. "
        f"ETA {hhmm(case.eta_at, zone)}. Next update due by {hhmm(following, zone)}."
    )


def resolve(
    session: Session, runtime: Runtime, case: Case, member_key: str, note: str, now: datetime
) -> str:
    """RESOLVE: the case is closed, every timer stops, the customer is told."""
    case = _lock(session, case)
    if not case.is_open:
        return _closed_reply(case)
    name = _name(runtime, case, member_key)
    note = (note or "").strip()
    if case.acknowledged_at is None:
        _record_ack(
            session,
            runtime,
            case,
            member_key,
            now,
            "resolve",
            notice=f"{case.number} resolved by {name}",
            tell_customer=False,
        )
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
    )
    notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.RESOLVED,
        subject="Resolved",
        text=f"Your case {case.number} has been resolved." + (f"\n{note}" if note else ""),
        dedupe_key=f"customer:resolved:{case.id}",
    )
    return f"Resolved {_label(case)}. The customer has been told."


def set_severity(
    session: Session, runtime: Runtime, case: Case, member_key: str, severity: int, now: datetime
) -> str:
    """SEV: 1/2 re-rate and keep going; 3/4 take the case off the critical line with a fee."""
    case = _lock(session, case)
    if severity not in (1, 2, 3, 4):
        return "Severity must be 1, 2, 3 or 4."
    if not case.is_open:
        return _closed_reply(case)
    name = _name(runtime, case, member_key)
    old = case.severity
    if severity in (1, 2):
        if severity == old:
            return f"{case.number} is already S{severity}."
        case.severity = severity
        add_event(
            session,
            case,
            now,
            "severity_changed",
            f"Severity changed S{old} -> S{severity} by {name}",
            actor=name,
            old=old,
            new=severity,
        )
        tail = "" if case.acknowledged_at else f" Not acknowledged yet: reply ACK {case.number}."
        return f"{case.number} is now S{severity}.{tail}"
    return _downgrade(session, runtime, case, member_key, name, severity, now)


def _downgrade(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    name: str,
    severity: int,
    now: datetime,
) -> str:
    settings = runtime.settings
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
        f"Severity changed S{old} -> S{severity} by {name}: off the critical line",
        actor=name,
        old=old,
        new=severity,
    )
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
    enqueue(
        session,
        now,
        channel="email",
        purpose=Purpose.FORWARD,
        to=settings.email.forward_to,
        from_address=settings.email.from_address,
        subject=case_subject(
            case, f"Forwarded from the critical line: {case.customer_name} S{severity}"
        ),
        body=(
            f"Case {case.number} came in on the critical line as S{case.severity_claimed} and "
            f"was downgraded to S{severity} by {name}.\n\n"
            f"Customer: {case.customer_name} ({case.customer_key}, plan {case.plan or '-'})\n"
            f"Contact: {case.contact_name or '-'} {case.contact_phone or ''} "
            f"{case.contact_email or ''}\n\nSummary:\n{case.summary}\n"
        ),
        case=case,
        dedupe_key=f"forward:{case.id}:downgraded",
    )
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
            reason=f"Downgraded from S{case.severity_claimed} to S{severity} by {name}",
        )
        session.add(flag)
        session.flush()
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
    return (
        f"{case.number} downgraded to S{severity}: off the critical line, forwarded to the "
        f"support queue, flagged for the misuse fee ({flag.fee:g} {flag.currency})."
    )


def misuse_fee(runtime: Runtime, case: Case) -> float:
    """The plan's own fee (customers.yaml), else ``penalties.per_plan``, else the default."""
    penalties = runtime.settings.penalties
    customer = runtime.directory().customers.get(case.customer_key)
    if customer is not None and customer.plan.misuse_fee is not None:
        return float(customer.plan.misuse_fee)
    if case.plan in penalties.per_plan:
        return float(penalties.per_plan[case.plan])
    return float(penalties.misuse_fee)


def waive_misuse(
    session: Session, runtime: Runtime, case_number: int, by: str, reason: str, now: datetime
) -> MisuseFlag:
    """A manager waives a case's misuse flag; the reason is required and goes on the timeline.

    Waiving an already waived flag returns it unchanged.
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
        return flag
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


# -- the SMS conversation -------------------------------------------------------------------
@dataclass
class _Sender:
    """Who an SMS comes from, as far as the rotas and the outbox know."""

    phone: str
    teams: dict[str, str] = field(default_factory=dict)  # team key -> member key (live rotas)
    paged: dict[int, str] = field(default_factory=dict)  # case id -> member key (outbox)

    @property
    def known(self) -> bool:
        return bool(self.teams or self.paged)

    def snapshot_key(self, case: Case) -> str | None:
        for key, member in ((case.escalation or {}).get("members") or {}).items():
            if isinstance(member, dict) and member.get("phone") == self.phone:
                return key
        return None

    def member_key(self, case: Case) -> str | None:
        return self.paged.get(case.id) or self.teams.get(case.team) or self.snapshot_key(case)

    def may_act(self, case: Case) -> bool:
        return self.member_key(case) is not None


def _identify(session: Session, runtime: Runtime, phone: str) -> _Sender:
    sender = _Sender(phone)
    for team in runtime.rotas.teams().values():
        for member in team.members.values():
            if member.phone == phone:
                sender.teams[team.key] = member.key
    rows = session.execute(
        select(OutboundMessage.case_id, OutboundMessage.recipient)
        .where(
            OutboundMessage.to_address == phone,
            OutboundMessage.purpose.in_(PAGING_PURPOSES),
            OutboundMessage.case_id.is_not(None),
            OutboundMessage.recipient != "",
            OutboundMessage.recipient != "customer",
        )
        .order_by(OutboundMessage.id)
    ).all()
    for case_id, recipient in rows:
        sender.paged.setdefault(case_id, recipient)
    return sender


def _open_cases(session: Session, sender: _Sender) -> list[Case]:
    cases = session.scalars(
        select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.opened_at, Case.id)
    )
    return [case for case in cases if sender.may_act(case)]


def handle_sms(
    runtime: Runtime, *, from_number: str, body: str, message_sid: str, now: datetime
) -> str | None:
    """Handle one inbound SMS; returns the reply text, or None for no reply.

    Acts once per ``MessageSid``: a retried webhook gets the first reply again and changes
    nothing. Unknown numbers (in no loaded rota, never paged) get nothing and are only logged.
    """
    key = f"sms:{message_sid}"
    queued = False
    try:
        with transaction(runtime.sessions) as session:
            existing = session.get(WebhookReceipt, key)
            if existing is not None:
                log.info("SMS %s already handled; repeating its reply", message_sid)
                return existing.response or None
            receipt = WebhookReceipt(key=key, received_at=now, response="", status_code=200)
            session.add(receipt)
            session.flush()  # a concurrent retry of the same SMS waits here, then fails
            reply = _conversation(session, runtime, from_number, body, message_sid, now)
            receipt.response = reply or ""
            queued = has_work_due(session)
    except IntegrityError:
        # A retry of this very SMS was handled at the same time and committed first: answer
        # what it answered. Any other integrity error is a bug, not a duplicate.
        with runtime.sessions() as session:
            existing = session.get(WebhookReceipt, key)
        if existing is None:
            raise
        return existing.response or None
    if queued:
        runtime.wake_sender()
    return reply


def _conversation(
    session: Session, runtime: Runtime, from_number: str, body: str, sid: str, now: datetime
) -> str | None:
    try:
        phone = normalise_phone(from_number)
    except ValueError:
        log.info("SMS from %r (not a phone number) ignored", from_number)
        return None
    sender = _identify(session, runtime, phone)
    if not sender.known:
        log.info("SMS from unknown number %s ignored", phone)
        return None
    if body.strip().upper().rstrip(".!") in OPT_OUT_WORDS:
        log.warning(
            "%s sent %r: Twilio handles opt-outs; while opted out their pages fall back to "
            "voice calls",
            phone,
            body.strip(),
        )
        return None
    reply, is_error = _command_reply(session, runtime, sender, body, now)
    if not is_error or reply is None:
        return reply
    since = now - timedelta(hours=1)
    recent = session.scalar(
        select(func.count())
        .select_from(WebhookReceipt)
        .where(WebhookReceipt.key.like(f"sms-error:{phone}:%"), WebhookReceipt.received_at > since)
    )
    if (recent or 0) >= ERROR_REPLIES_PER_HOUR:
        log.warning("error reply to %s suppressed (cap reached): %s", phone, reply)
        return None
    session.add(WebhookReceipt(key=f"sms-error:{phone}:{sid}", received_at=now, response=reply))
    return reply


def _command_reply(
    session: Session, runtime: Runtime, sender: _Sender, body: str, now: datetime
) -> tuple[str | None, bool]:
    """``(reply, is_error)``."""
    command = parse_command(body)
    if isinstance(command, CommandError):
        return command.message, True
    if command.verb is Verb.HELP:
        return HELP_TEXT, False
    if command.case_number is not None:
        case = case_by_number(session, command.case_number)
        if case is None:
            return f"No case {command.case_number}. Check the number in the page.", True
        if not sender.may_act(case):
            log.warning(
                "%s tried %s on case %s: not paged for it and not on team %s",
                sender.phone,
                command.verb,
                case.number,
                case.team,
            )
            return f"Case {case.number} is not yours: you were not paged for it.", True
    else:
        cases = _open_cases(session, sender)
        if not cases:
            return "You have no open cases. Add the case number, e.g. ACK 1042.", True
        if len(cases) > 1:
            listed = ", ".join(
                f"{c.number} {truncate_words(to_gsm7(c.customer_name), 12)} S{c.severity}"
                for c in cases[:5]
            )
            more = f" +{len(cases) - 5} more" if len(cases) > 5 else ""
            return (
                f"Which case? Open: {listed}{more}. Reply e.g. {command.verb} {cases[0].number}",
                True,
            )
        case = cases[0]
    member_key = sender.member_key(case)
    assert member_key is not None
    return _dispatch(session, runtime, case, member_key, command, now), False


def _dispatch(
    session: Session, runtime: Runtime, case: Case, member_key: str, command: Command, now: datetime
) -> str:
    if command.verb is Verb.ACK:
        return acknowledge(session, runtime, case, member_key, now, via="sms")
    if command.verb is Verb.STATUS:
        return post_status(session, runtime, case, member_key, command.text, now)
    if command.verb is Verb.RESOLVE:
        return resolve(session, runtime, case, member_key, command.text, now)
    if command.verb is Verb.SEV:
        assert command.severity is not None
        return set_severity(session, runtime, case, member_key, command.severity, now)
    return HELP_TEXT


# -- voice pages ----------------------------------------------------------------------------
@dataclass(frozen=True)
class VoicePage:
    """What a voice page says, and whether pressing 1 acknowledges."""

    text: str
    can_acknowledge: bool
    case_number: int | None = None


def voice_page(runtime: Runtime, outbox_id: int) -> VoicePage | None:
    """The script for the voice page outbox row ``outbox_id`` (None: no such voice page)."""
    with runtime.sessions() as session:
        row = session.get(OutboundMessage, outbox_id)
        if row is None or row.channel != "voice" or row.case_id is None:
            return None
        case = session.get(Case, row.case_id)
        if case is None:
            return None
        digits = " ".join(str(case.number))
        if case.state == CaseState.OPEN.value:
            return VoicePage(row.body, True, case.number)
        if case.state == CaseState.ACKNOWLEDGED.value and row.purpose != Purpose.PAGE_VOICE:
            return VoicePage(row.body, False, case.number)
        if case.state == CaseState.ACKNOWLEDGED.value:
            if case.acknowledged_by == row.recipient:
                return VoicePage(row.body, False, case.number)
            return VoicePage(
                f"Case {digits} was already acknowledged by {case.acknowledged_by_name}. "
                "No action is needed.",
                False,
                case.number,
            )
        return VoicePage(f"Case {digits} is {case.state}. No action is needed.", False, case.number)


def acknowledge_voice_page(runtime: Runtime, outbox_id: int, now: datetime) -> str | None:
    """The paged person pressed 1: acknowledge as them. Returns what to say (None: no page)."""
    with transaction(runtime.sessions) as session:
        row = session.get(OutboundMessage, outbox_id)
        if row is None or row.case_id is None or not row.recipient:
            return None
        case = session.get(Case, row.case_id)
        if case is None:
            return None
        reply = acknowledge(session, runtime, case, row.recipient, now, via="voice")
    runtime.wake_sender()
    return reply
