"""The critical address's intake: one inbound email at a time, as SendGrid posts it.

A mail that answers one of our case emails goes on that case
(:mod:`oncall.services.email_replies`), or answers its severity question
(:mod:`oncall.services.email_answers`). Otherwise a registered contact whose plan covers the
critical line now, writing about an S1 or S2 issue (:func:`oncall.domain.severity
.classify_severity`), opens a case and gets an auto-reply with its number and what happens next;
one whose severity is unclear is asked, as the phone line asks
(:mod:`oncall.services.email_question`); anything else is refused
(:mod:`oncall.services.email_refusals`): told why and where to go, forwarded to the regular
support queue and recorded. Automatic mail (out-of-office, bounces, lists) never opens a case
and is never answered. A mail claiming a
contact, or answering a case, without passing SPF or DKIM aligned with its ``From`` is refused
as ``unverified`` before anything else (:mod:`oncall.services.email_senders`).

SendGrid retries, so a mail is handled once: it is keyed ``email:<Message-ID>`` (a hash of its
headers and text when it has none) in :mod:`oncall.services.receipts`, and the same mail again
gets the first outcome with ``duplicate=True``. Underneath, a case opens once per that key and a
refusal is recorded once per it, so even a concurrent duplicate changes nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.asking import awaits_answer, customer_time, line_of
from oncall.cases.customer import notify_customer
from oncall.cases.events import add_event
from oncall.cases.live_rota import batch_cache
from oncall.cases.opening import NewCase, open_case
from oncall.db.models import Case
from oncall.domain.enums import Purpose, SeveritySource
from oncall.domain.mail.authentication import SenderVerdict
from oncall.domain.mail.inbound import InboundEmail
from oncall.domain.mail.loops import is_auto_generated
from oncall.domain.mail.text import strip_quoted_reply
from oncall.domain.severity import (
    Decision,
    SeverityRules,
    SeverityVerdict,
    classify_severity,
    is_critical,
)
from oncall.domain.severity_question import opened_text
from oncall.engine.escalation import start_paging
from oncall.runtime import Runtime
from oncall.services.customer_escalation import email_escalation, escalate_by_email
from oncall.services.email_answers import answer_by_email
from oncall.services.email_join import case_to_join, join_case
from oncall.services.email_question import ask_severity
from oncall.services.email_refusals import mark_auto_reply, refuse_email, strip_reply_prefix
from oncall.services.email_replies import attach_reply, threaded_case
from oncall.services.email_senders import (
    SenderCheck,
    check_sender,
    customer_of_case,
    refuse_unverified,
)
from oncall.services.misuse import review_refused_attempts
from oncall.services.receipts import Repeat, act_once, bounded_key
from oncall.sources.customers import Contact, Customer


@dataclass(frozen=True)
class IntakeOutcome:
    """What became of one inbound email (also the JSON the webhook answers)."""

    outcome: str  # case | joined | asked | answered | reply | escalated | refused
    case_number: int | None = None
    # refusals: unknown_sender, not_entitled, non_critical, ...; answers: critical,
    # not_critical, unclear (asked again)
    reason: str | None = None
    auto_replied: bool = False
    forwarded: bool = False
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def email_key(mail: InboundEmail) -> str:
    """``email:<Message-ID>``; without one, a hash of what identifies this message."""
    if mail.message_id:
        return bounded_key("email:", mail.message_id)
    material = json.dumps(
        [list(mail.headers.raw_items()), mail.from_address, mail.subject, mail.text],
        ensure_ascii=False,
    )
    return "email:sha256:" + hashlib.sha256(material.encode("utf-8", "replace")).hexdigest()


def handle_inbound_email(runtime: Runtime, mail: InboundEmail, now: datetime) -> IntakeOutcome:
    """Open a case, attach a reply, or refuse (auto-reply + forward + recorded attempt).

    Idempotent on the Message-ID: the same message again returns the first outcome with
    ``duplicate=True`` and changes nothing.
    """
    key = email_key(mail)
    outcome = act_once(
        runtime,
        key,
        now,
        lambda session: _email(session, runtime, mail, key, now),
        lambda done: json.dumps(done.to_json()),
    )
    if isinstance(outcome, Repeat):
        return IntakeOutcome(**{**json.loads(outcome.response or "{}"), "duplicate": True})
    runtime.wake_sender()
    return outcome


def severity_rules(settings: Any) -> SeverityRules:
    """The built-in rules extended by config's ``email.severity_phrases``."""
    return settings.email.severity_rules


def _email(
    session: Session, runtime: Runtime, mail: InboundEmail, key: str, now: datetime
) -> IntakeOutcome:
    """Decide what ``mail`` is and act on it; ``key`` ("email:<Message-ID>") makes the case or
    the refusal it leads to happen once."""
    settings = runtime.settings
    robot = is_auto_generated(mail)
    ours = _is_our_address(settings, mail.from_address)
    sender = check_sender(runtime, mail)

    case = threaded_case(session, runtime, mail)
    if case is not None:
        if not sender.accepted_for(customer_of_case(runtime, case)):
            return _unverified(session, runtime, mail, key, now, sender, robot, ours, case)
        return _on_case(session, runtime, case, mail, key, robot, now, sender.verdict)

    def refuse(
        reason: str, customer: Customer | None, why: str, severity: int | None = None
    ) -> IntakeOutcome:
        replied, forwarded = refuse_email(
            session,
            runtime,
            mail,
            key,
            now,
            reason,
            customer,
            robot,
            ours,
            why,
            severity,
            sender=sender.verdict,
        )
        return IntakeOutcome("refused", reason=reason, auto_replied=replied, forwarded=forwarded)

    match = runtime.directory().by_email(mail.from_address)
    if match is not None and not sender.accepted_for(match[0]):
        return _unverified(session, runtime, mail, key, now, sender, robot, ours, None, match[0])
    if robot:
        # Out-of-office answers, bounces, list mail and other automatic messages never open a
        # case (an absence notice quoting "Sev 1" must not wake an engineer) and never get an
        # auto-reply; the regular queue still sees them.
        return refuse(
            "auto_generated",
            match[0] if match else None,
            why=f"it is an automatic message ({robot})",
        )
    if match is None:
        return refuse(
            "unknown_sender",
            None,
            why=f"{mail.from_address or 'the sender'} is not registered as a contact for "
            f"the critical line",
        )
    customer, contact = match
    verdict = customer.entitlement(settings.business_hours, settings.zone, now)
    if not verdict.entitled:
        return refuse("not_entitled", customer, why=verdict.reason)
    severity = classify_severity(mail.subject, mail.text, severity_rules(settings))
    if severity.decision is Decision.ASK:
        # An unclear mail from a customer with an open case is about that case: no question.
        joined = _join(session, runtime, mail, key, now, customer, contact, sender, ours)
        if joined is not None:
            return joined
        asked = ask_severity(
            session, runtime, mail, key, now, match, severity, _summary(mail), ours
        )
        outcome = IntakeOutcome("asked", asked.number, auto_replied=not ours)
    elif not is_critical(severity.severity):
        # Only a message that says it is minor counts towards the misuse review.
        outcome = refuse("non_critical", customer, why=severity.reason, severity=severity.severity)
        review_refused_attempts(session, runtime, customer.key, now)
        return outcome
    else:
        joined = _join(session, runtime, mail, key, now, customer, contact, sender, ours)
        if joined is not None:
            return joined
        outcome = _open_email_case(
            session, runtime, mail, key, now, customer, contact, severity, ours
        )
    if not sender.verified:
        _mark_sender_unverified(session, outcome, sender, now)
    return outcome


def _join(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    key: str,
    now: datetime,
    customer: Customer,
    contact: Contact,
    sender: SenderCheck,
    ours: bool,
) -> IntakeOutcome | None:
    """The customer's open case takes this mail (see :mod:`oncall.services.email_join`)."""
    case = case_to_join(session, runtime, mail, customer)
    if case is None:
        return None
    replied = join_case(
        session, runtime, case, mail, key, now, contact, verified=sender.verified, ours=ours
    )
    return IntakeOutcome("joined", case.number, auto_replied=replied)


def _unverified(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    key: str,
    now: datetime,
    sender: SenderCheck,
    robot: str | None,
    ours: bool,
    case: Case | None,
    claimed: Customer | None = None,
) -> IntakeOutcome:
    """A mail that claims a contact or answers ``case`` without proof: refused, see
    :mod:`oncall.services.email_senders`."""
    claimed = claimed or (customer_of_case(runtime, case) if case is not None else None)
    replied, forwarded = refuse_unverified(
        session, runtime, mail, key, now, sender, claimed, robot=robot, ours=ours, case=case
    )
    return IntakeOutcome("refused", reason="unverified", auto_replied=replied, forwarded=forwarded)


def _mark_sender_unverified(
    session: Session, outcome: IntakeOutcome, sender: SenderCheck, now: datetime
) -> None:
    """A case from a customer that trusts unauthenticated email, opened by mail that did not
    pass: marked, so it shows and is never charged a misuse fee."""
    case = session.scalar(select(Case).where(Case.number == outcome.case_number))
    if case is None:
        return
    case.sender_unverified = True
    add_event(
        session,
        case,
        now,
        "sender_unverified",
        f"Sender unverified ({sender.verdict.describe()}): accepted because the customer "
        f"trusts unauthenticated email; no misuse fee applies to this case",
    )


def _on_case(
    session: Session,
    runtime: Runtime,
    case: Case,
    mail: InboundEmail,
    key: str,
    robot: str | None,
    now: datetime,
    sender: SenderVerdict,
) -> IntakeOutcome:
    """A mail threaded to ``case`` (its sender checked): the answer to its severity question,
    or a reply."""
    if awaits_answer(case) and not robot:
        answered = answer_by_email(session, runtime, case, mail, key, now)
        if answered is not None:
            return IntakeOutcome("answered", case.number, reason=answered)
    reason = None if robot or not case.is_open else email_escalation(runtime, mail)
    if reason is not None:
        ours = _is_our_address(runtime.settings, mail.from_address)
        done = escalate_by_email(session, runtime, case, mail, key, now, reason, answer=not ours)
        return IntakeOutcome(
            "escalated", case.number, reason="paged" if done.paged else "already_escalated"
        )
    forwarded = attach_reply(session, runtime, case, mail, key, robot, now, sender)
    return IntakeOutcome("reply", case.number, forwarded=forwarded)


def _open_email_case(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    key: str,
    now: datetime,
    customer: Customer,
    contact: Contact,
    severity: SeverityVerdict,
    ours: bool,
) -> IntakeOutcome:
    """Open the case and tell the sender its number and what happens next."""
    with batch_cache(session):  # the team's live rota read once for the snapshot and the page
        case = open_case(
            session,
            runtime,
            NewCase(
                customer_key=customer.key,
                customer_name=customer.name,
                plan=customer.plan.key,
                team=customer.team,
                channel="email",
                severity=severity.severity or 1,
                summary=_summary(mail),
                contact_name=contact.name or mail.from_name,
                contact_phone=contact.phone,
                contact_email=contact.email or mail.from_address,
                intake_key=key,
                severity_source=SeveritySource.STATED
                if severity.stated
                else SeveritySource.PHRASES,
                page_link=not ours,  # told below, with the case page's link
            ),
            now,
        )
        add_event(
            session,
            case,
            now,
            "email_received",
            f"Email from {mail.from_address}: {mail.subject or '(no subject)'} "
            f"(severity from {severity.reason})",
            actor=contact.name or mail.from_address,
            message_id=mail.message_id,
        )
        # The first step is paged now, in this transaction, so the auto-reply says what happened.
        reached = start_paging(session, runtime, case, now)
        if ours:  # a contact registered with one of our own addresses: never mail ourselves
            return IntakeOutcome("case", case.number)
        status_by = customer_time(runtime, case.status_due_at, now) if case.status_due_at else ""
        sent = notify_customer(
            session,
            runtime,
            case,
            now,
            purpose=Purpose.OPENED,
            text=opened_text(
                line_of(runtime, case), case.number, case.severity, status_by, "Thank you.", reached
            ),
            subject=strip_reply_prefix(mail.subject) or "Critical case opened",
            dedupe_key=f"opened:{case.number}",
        )
        for message in sent:
            if message.channel == "email":
                mark_auto_reply(message, mail)
        return IntakeOutcome(
            "case", case.number, auto_replied=any(m.channel == "email" for m in sent)
        )


def _is_our_address(settings: Any, address: str) -> bool:
    """Mail from our own addresses (or the queue's) is never answered or forwarded: a loop."""
    ours = {
        settings.email.from_address.casefold(),
        settings.email.critical_address.casefold(),
        settings.email.forward_to.casefold(),
    }
    return address.casefold() in ours


def _summary(mail: InboundEmail) -> str:
    """Subject plus the first lines of the new text: what the page and dashboard show."""
    lines = [line.strip() for line in strip_quoted_reply(mail.text).splitlines() if line.strip()]
    head = mail.subject.strip() or "(no subject)"
    return "\n".join([head, *lines[:5]])[:1000]
