"""Intake use cases: the critical line's phone IVR, one webhook step at a time, and email.

Every inbound contact ends where a person will see it: a case (which pages the on-call engineer
through :func:`oncall.cases.store.open_case`), a recorded refusal (:class:`Attempt`), or a
forward to the regular support queue. Nothing is dropped.

Twilio and SendGrid retry, so every entry point here is idempotent:

- a voice step is keyed ``voice:<CallSid>:<step>:<input-hash>`` in :class:`WebhookReceipt`
  and a retried request gets the very TwiML it got the first time; the attempt or leg number
  is part of the step (it is in the action URL), so a caller's second wrong PIN is a new step
  while Twilio's retry of the first is not;
- an email is keyed ``email:<Message-ID>`` (a hash of its headers and text when it has none);
- underneath, cases open once per ``call:<CallSid>`` / ``email:<Message-ID>`` and refusals are
  recorded once per the same key, so even a concurrent duplicate changes nothing twice.

The functions own their transaction: they commit, then wake the sender.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.cases.store import (
    CaseError,
    NewCase,
    add_event,
    case_by_number,
    enqueue,
    find_case_by_intake_key,
    notify_customer,
    open_case,
    open_case_for_customer,
    record_attempt,
)
from oncall.db.models import Case, Deadline, OutboundMessage, VoiceCall, WebhookReceipt
from oncall.domain.eligibility import entitlement
from oncall.domain.enums import DeadlineState
from oncall.domain.mail.inbound import InboundEmail
from oncall.domain.mail.loops import is_auto_generated
from oncall.domain.mail.text import strip_quoted_reply
from oncall.domain.mail.threads import case_number_from_subject, message_ids
from oncall.domain.phones import parse_phone
from oncall.domain.rota.model import Member
from oncall.domain.rota.snapshots import targets_from_snapshot
from oncall.domain.severity import (
    DEFAULT_SEVERITY_RULES,
    SeverityRules,
    classify_severity,
    is_critical,
)
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.runtime import Runtime
from oncall.services import ivr
from oncall.services.case_actions import acknowledge
from oncall.services.ivr import Hangup, Person, Redirect, Reply, Say, Speech, VoiceUrls
from oncall.services.misuse import review_refused_attempts
from oncall.sources.customers import Customer
from oncall.sources.voice_flows import VoiceFlow

log = logging.getLogger("oncall.intake")

MAX_KEY = 400  # WebhookReceipt.key, Case.intake_key and Attempt.intake_key are 400 long
DEDUPE_MAX = 200  # OutboundMessage.dedupe_key


class MalformedRequest(ValueError):
    """A webhook lacks what every request of its kind carries; the web layer answers 400."""


def _bounded_key(prefix: str, value: str, limit: int = MAX_KEY) -> str:
    """``prefix + value``, or a hash of ``value`` when that would not fit the key column."""
    key = prefix + value
    if len(key) <= limit:
        return key
    return prefix + "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def _message_id(settings: Any) -> str:
    """A Message-ID for an email we send, so a reply's In-Reply-To finds its case."""
    domain = settings.email.from_address.rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


# =============================================================================================
# The phone line
# =============================================================================================

STEPS = frozenset(
    {
        "entry",
        "pin",
        "menu",
        "recorded",
        "recording_status",
        "dial_result",
        "whisper",
        "whisper_result",
        "call_status",
    }
)
CALL_SID = re.compile(r"^CA[0-9A-Za-z]{1,62}$")
# What distinguishes one request at a step from another. Everything else Twilio sends
# (CallStatus, geo fields, parameters added next year) may differ on a retry and must not
# make it look like a new request.
STEP_INPUTS = (
    "Digits",
    "RecordingUrl",
    "RecordingDuration",
    "RecordingSid",
    "RecordingStatus",
    "DialCallStatus",
    "DialCallSid",
    "DialBridged",
)
MAX_INPUT = 2000


@dataclass(frozen=True)
class VoiceStep:
    """Which webhook of the call this is: ``pin`` attempt 2, ``dial_result`` leg 1, ..."""

    name: str
    number: int | None = None  # PIN / menu attempt (from 1), or the dial leg (from 0)
    case_number: int | None = None  # whisper steps
    member: str | None = None  # whisper steps

    @property
    def key(self) -> str:
        parts = [self.name, self.number, self.case_number, self.member]
        return "/".join(str(p) for p in parts if p is not None)


def receipt_key(call_sid: str, step: VoiceStep, params: Mapping[str, str]) -> str:
    # A status callback's input is the status itself (ringing, then completed).
    names = (*STEP_INPUTS, "CallStatus") if step.name == "call_status" else STEP_INPUTS
    inputs = {name: params.get(name) for name in names if params.get(name) is not None}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]
    return _bounded_key("voice:", f"{call_sid}:{step.key}:{digest}")


def handle_voice_step(
    runtime: Runtime, step: VoiceStep, params: Mapping[str, str], now: datetime
) -> str:
    """Answer one Twilio voice webhook with TwiML.

    Raises :class:`MalformedRequest` for a request no Twilio call would send (the view
    answers 400). A retried request returns the stored TwiML and changes nothing.
    """
    call_sid = _validate(step, params)
    flow: VoiceFlow | None = runtime.voice_flows.value if runtime.voice_flows else None
    if flow is None:
        # No valid flow was ever loaded (a broken file at start-up; `oncall check` and
        # /healthz say so). The caller still hears something true instead of an error tone.
        log.error("voice flow not loaded; callers hear the fallback message")
        return ivr.to_twiml(FALLBACK_REPLY, None)
    key = receipt_key(call_sid, step, params)
    ctx: _Call | None = None
    with runtime.sessions() as session:
        try:
            with session.begin():
                stored = session.get(WebhookReceipt, key)
                if stored is not None:
                    log.info(
                        "voice step %s repeated; same answer", step.key, extra={"call": call_sid}
                    )
                    return stored.response
                ctx = _Call(runtime, session, flow, params, call_sid, now)
                reply = HANDLERS[step.name](ctx, step)
                twiml = ivr.to_twiml(reply, flow)
                session.add(WebhookReceipt(key=key, received_at=now, response=twiml))
        except IntegrityError:
            # The same step ran at the same time (Twilio retried while we were answering)
            # and the other request committed first: answer exactly what it answered.
            with session.begin():
                stored = session.get(WebhookReceipt, key)
                if stored is None:
                    raise
                return stored.response
    if ctx is not None and ctx.wake:
        runtime.wake_sender()
    return twiml


def _validate(step: VoiceStep, params: Mapping[str, str]) -> str:
    if step.name not in STEPS:
        raise MalformedRequest(f"unknown voice step {step.name!r}")
    call_sid = (params.get("CallSid") or "").strip()
    if not CALL_SID.match(call_sid):
        raise MalformedRequest("CallSid missing or not a call SID")
    for name in (*STEP_INPUTS, "From", "ParentCallSid"):
        if len(params.get(name) or "") > MAX_INPUT:
            raise MalformedRequest(f"{name} is too long")
    if step.name in ("pin", "menu") and (step.number is None or step.number < 1):
        raise MalformedRequest("attempts count from 1")
    if step.name == "dial_result":
        if step.number is None or step.number < 0:
            raise MalformedRequest("dial legs count from 0")
        if not params.get("DialCallStatus"):
            raise MalformedRequest("DialCallStatus missing")
    if step.name in ("whisper", "whisper_result") and (step.case_number is None or not step.member):
        raise MalformedRequest("whisper steps name a case and a member")
    if step.name == "call_status" and not params.get("CallStatus"):
        raise MalformedRequest("CallStatus missing")
    if step.name == "recording_status" and not params.get("RecordingSid"):
        raise MalformedRequest("RecordingSid missing")
    duration = params.get("RecordingDuration")
    if duration not in (None, "") and not duration.strip().lstrip("-").isdigit():
        raise MalformedRequest("RecordingDuration is not a number")
    return call_sid


FALLBACK_REPLY: Reply = (
    Say(
        "We are sorry, the critical line cannot take your call right now. Please call again in "
        "a few minutes, or email the critical support address."
    ),
    Hangup(),
)


@dataclass
class _Call:
    """One request's view of the world: the call's parameters and the live files."""

    runtime: Runtime
    session: Session
    flow: VoiceFlow
    params: Mapping[str, str]
    call_sid: str
    now: datetime
    wake: bool = False
    urls: VoiceUrls = field(init=False)
    speech: Speech = field(init=False)

    def __post_init__(self) -> None:
        settings = self.runtime.settings
        self.urls = VoiceUrls(settings.public_url)
        values = {
            "company": settings.company,
            "regular_channels": self.flow.regular_channels.format(company=settings.company),
            "hours": ivr.describe_hours(settings.business_hours, settings.zone),
            "accept_digit": self.flow.accept_digit,
            # Given a value here so no prompt can ever meet a missing placeholder.
            "customer": "",
            "contact": "",
            "severity": "",
            "case_digits": "",
            "reason": "",
            "fee": "",
        }
        self.speech = Speech(values)

    @property
    def digits(self) -> str:
        return (self.params.get("Digits") or "").strip()

    @property
    def caller(self) -> str:
        """The caller's number as Twilio gave it (may be "anonymous" or empty)."""
        return (self.params.get("From") or self.params.get("Caller") or "").strip()

    def prompt(self, name: str, speech: Speech | None = None) -> str:
        return self.flow.prompt(name, (speech or self.speech).values)

    def customer(self, call: VoiceCall) -> Customer | None:
        if not call.customer_key:
            return None
        return self.runtime.directory().customers.get(call.customer_key)

    def for_case(self, case: Case) -> Speech:
        return self.speech.with_(
            customer=case.customer_name,
            contact=case.contact_name or "",
            severity=case.severity,
            case_digits=ivr.spoken_digits(case.number),
        )


def _load_call(ctx: _Call, states: set[str] | None = None) -> VoiceCall | None:
    """The call's IVR state, locked for this request; None when it is not at ``states``."""
    call = ctx.session.get(VoiceCall, ctx.call_sid, with_for_update=True)
    if call is None or (states is not None and call.state not in states):
        log.warning(
            "voice request for a call in state %s (expected %s)",
            call.state if call else "unknown",
            ", ".join(sorted(states or ["any"])),
            extra={"call": ctx.call_sid},
        )
        return None
    call.updated_at = ctx.now
    return call


def _start_over(ctx: _Call) -> Reply:
    # A step arrived for a call we have no state for (or in another state): greet the caller
    # again rather than fail; the entry step knows what to do with a call that has a case.
    return (Redirect(ctx.urls.entry()),)


# -- steps -----------------------------------------------------------------------------------
def _entry(ctx: _Call, step: VoiceStep) -> Reply:
    call = ctx.session.get(VoiceCall, ctx.call_sid, with_for_update=True)
    if call is None:
        call = VoiceCall(
            call_sid=ctx.call_sid,
            from_number=ctx.caller[:32],
            pin_attempts=0,
            menu_attempts=0,
            dial_index=0,
            dial_plan=[],
            state="greeting",
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        ctx.session.add(call)
        ctx.session.flush()
    elif call.case_id is not None:
        case = ctx.session.get(Case, call.case_id)
        if case is not None:
            call.state = "done"
            return ivr.goodbye(ctx.prompt("paged", ctx.for_case(case)))
    call.updated_at = ctx.now
    reply: list = [Say(ctx.prompt("greeting"))]
    match = ctx.runtime.directory().by_phone(ctx.caller)
    if match is None:
        call.state = "pin"
        return (*reply, *ivr.ask_pin(ctx.flow, ctx.urls, ctx.speech, 1))
    customer, contact = match
    call.customer_key, call.contact_name = customer.key, contact.name
    speech = ctx.speech.with_(customer=customer.name, contact=contact.name)
    reply.append(Say(ctx.prompt("identified", speech)))
    return (*reply, *_identified(ctx, call, customer))


def _pin(ctx: _Call, step: VoiceStep) -> Reply:
    call = _load_call(ctx, {"pin"})
    if call is None:
        return _start_over(ctx)
    assert step.number is not None
    digits = ctx.digits
    customer = ctx.runtime.directory().by_pin(digits) if digits else None
    outcome = ivr.pin_outcome(step.number, ctx.flow.pin_tries, customer is not None)
    if customer is not None:
        call.customer_key, call.contact_name = customer.key, ""
        said = Say(ctx.prompt("pin_accepted", ctx.speech.with_(customer=customer.name)))
        return (said, *_identified(ctx, call, customer))
    if digits:
        call.pin_attempts += 1
    bad: tuple = (Say(ctx.prompt("bad_pin")),) if digits else ()
    if outcome is ivr.PinOutcome.RETRY:
        return (*bad, *ivr.ask_pin(ctx.flow, ctx.urls, ctx.speech, step.number + 1))
    told = ctx.prompt("pin_goodbye")
    _refuse(
        ctx,
        call,
        ivr.pin_refusal_reason(call.pin_attempts),
        told,
        None,
        detail={"wrong_pins": call.pin_attempts, "tries": step.number},
    )
    return (*bad, *ivr.goodbye(told))


def _identified(ctx: _Call, call: VoiceCall, customer: Customer) -> Reply:
    """After caller ID or PIN: entitlement, then join an open case or ask the severity."""
    settings = ctx.runtime.settings
    speech = ctx.speech.with_(customer=customer.name, contact=call.contact_name or "")
    verdict = entitlement(
        customer.plan.critical_line,
        customer.plan.hours,
        settings.business_hours,
        ctx.now,
        settings.zone,
    )
    if not verdict.entitled:
        told = ctx.prompt("not_entitled", speech.with_(reason=verdict.reason))
        _refuse(
            ctx,
            call,
            "not_entitled",
            told,
            customer,
            forward=True,
            detail={"plan": customer.plan.key, "why": verdict.reason},
        )
        return ivr.goodbye(told)
    existing = open_case_for_customer(ctx.session, customer.key)
    if existing is not None:
        return _join(ctx, call, existing)
    call.state = "menu"
    return ivr.ask_menu(ctx.flow, ctx.urls, speech, 1)


def _join(ctx: _Call, call: VoiceCall, case: Case) -> Reply:
    """A second call while a case is open joins it: a line on its timeline, no new case and
    no new pages (the engine is already paging), and a try to reach whoever has it."""
    call.case_id = case.id
    add_event(
        ctx.session,
        case,
        ctx.now,
        "customer_called",
        f"{call.contact_name or 'The customer'} called the critical line again "
        f"(from {call.from_number or 'an unknown number'}); the call joined this case",
        actor=call.contact_name or case.customer_name,
        call_sid=ctx.call_sid,
    )
    speech = ctx.for_case(case)
    plan = _people_on_case(ctx, case)
    said = Say(ctx.prompt("joining", speech))
    if not plan:
        call.state = "done"
        return (said, *ivr.goodbye(ctx.prompt("join_not_connected", speech)))
    return (said, *_ring(ctx, call, case, plan, 0))


def _menu(ctx: _Call, step: VoiceStep) -> Reply:
    call = _load_call(ctx, {"menu"})
    customer = ctx.customer(call) if call is not None else None
    if call is None or customer is None:
        return _start_over(ctx)
    assert step.number is not None
    decision = ivr.menu_decision(ctx.flow, step.number, ctx.digits)
    speech = ctx.speech.with_(customer=customer.name)
    if decision.outcome is ivr.MenuOutcome.CRITICAL:
        call.severity = decision.severity
        call.state = "record"
        return ivr.record_description(ctx.flow, ctx.urls, speech)
    if decision.outcome is ivr.MenuOutcome.NON_CRITICAL:
        told = ctx.prompt("non_critical", speech.with_(fee=_fee(ctx, customer)))
        _refuse(ctx, call, "non_critical", told, customer, detail={"digit": ctx.digits})
        review_refused_attempts(ctx.session, ctx.runtime, customer.key, ctx.now)
        return ivr.goodbye(told)
    call.menu_attempts += 1
    invalid: tuple = (Say(ctx.prompt("menu_invalid")),) if decision.invalid_key else ()
    if decision.outcome is ivr.MenuOutcome.RETRY:
        return (*invalid, *ivr.ask_menu(ctx.flow, ctx.urls, speech, step.number + 1))
    told = ctx.prompt("menu_goodbye")
    _refuse(
        ctx,
        call,
        "no_menu_choice",
        told,
        customer,
        detail={"tries": step.number, "last_digits": ctx.digits},
    )
    return (*invalid, *ivr.goodbye(told))


def _recorded(ctx: _Call, step: VoiceStep) -> Reply:
    call = _load_call(ctx)
    if call is None:
        return _start_over(ctx)
    url = (ctx.params.get("RecordingUrl") or "").strip()[:500] or None
    duration = _int(ctx.params.get("RecordingDuration"))
    if call.state != "record":
        case = ctx.session.get(Case, call.case_id) if call.case_id is not None else None
        if case is None:
            return _start_over(ctx)
        if url and case.intake_key == f"call:{ctx.call_sid}" and not case.recording_url:
            # The hang-up status callback opened the case first; the recording still belongs.
            case.recording_url, case.recording_duration = url, duration
            add_event(
                ctx.session,
                case,
                ctx.now,
                "recording",
                f"Recording of the caller's description ({duration or 0}s)",
            )
        return ivr.goodbye(ctx.prompt("paged", ctx.for_case(case)))
    customer = ctx.customer(call)
    if customer is None:  # removed from customers.yaml mid-call: verify them again
        call.state = "greeting"
        return _start_over(ctx)
    summary = f"Phone report (recording {duration or 0}s)" if url else "Phone report (no recording)"
    case = _open_voice_case(ctx, call, customer, summary, url, duration)
    speech = ctx.for_case(case)
    opened = Say(ctx.prompt("case_opened", speech))
    plan = _people_for_new_case(ctx, case)
    if not plan:
        call.state = "done"
        return (opened, *ivr.goodbye(ctx.prompt("paged", speech)))
    return (opened, *_ring(ctx, call, case, plan, 0))


def _open_voice_case(
    ctx: _Call,
    call: VoiceCall,
    customer: Customer,
    summary: str,
    url: str | None,
    duration: int | None,
) -> Case:
    match = ctx.runtime.directory().by_phone(call.from_number)
    contact = match[1] if match is not None and match[0].key == customer.key else None
    case = open_case(
        ctx.session,
        ctx.runtime,
        NewCase(
            customer_key=customer.key,
            customer_name=customer.name,
            plan=customer.plan.key,
            team=customer.team,
            channel="voice",
            severity=call.severity or 1,
            summary=summary,
            contact_name=call.contact_name or (contact.name if contact else ""),
            contact_phone=_phone(call.from_number, ctx.runtime.settings.phone_region),
            contact_email=contact.email if contact else None,
            intake_key=f"call:{ctx.call_sid}",
            recording_url=url,
            recording_duration=duration,
        ),
        ctx.now,
    )
    if call.recording_sid and not case.recording_sid:
        case.recording_sid = call.recording_sid
    call.case_id = case.id
    _tell_caller_in_writing(ctx, case)
    ctx.wake = True
    return case


def _tell_caller_in_writing(ctx: _Call, case: Case) -> None:
    """The case number by SMS to the number that called (and by email when we have one)."""
    settings = ctx.runtime.settings
    values = {
        "company": settings.company,
        "case_number": case.number,
        "severity": case.severity,
        "customer": case.customer_name,
        "regular_channels": ctx.speech.values["regular_channels"],
        "hours": ctx.speech.values["hours"],
    }
    sent = notify_customer(
        ctx.session,
        ctx.runtime,
        case,
        ctx.now,
        purpose="opened",
        text=ctx.flow.message("case_opened_email", values),
        subject="Critical case opened by phone",
        sms_text=ctx.flow.message("case_opened_sms", values),
        dedupe_key=f"opened:{case.number}",
    )
    for message in sent:
        # The sender would give it one at send time; giving it now lets a reply that races
        # the send still thread to this case.
        if message.channel == "email" and not message.message_id:
            message.message_id = _message_id(settings)


def _ring(ctx: _Call, call: VoiceCall, case: Case, plan: Sequence[Person], leg: int) -> Reply:
    person = plan[leg]
    call.dial_plan = [p.to_json() for p in plan]
    call.dial_index = leg
    call.state = "connecting"
    add_event(
        ctx.session,
        case,
        ctx.now,
        "call_connect",
        f"Putting the caller through to {person.name} ({leg + 1} of {len(plan)})",
        member=person.key,
        call_sid=ctx.call_sid,
    )
    return ivr.connect(
        ctx.flow,
        ctx.urls,
        ctx.for_case(case),
        plan,
        leg,
        case.number,
        ctx.runtime.settings.twilio.critical_line,
    )


def _dial_result(ctx: _Call, step: VoiceStep) -> Reply:
    call = _load_call(ctx)
    case = ctx.session.get(Case, call.case_id) if call and call.case_id else None
    if call is None or case is None:
        return ivr.goodbye(ctx.prompt("unavailable"))
    assert step.number is not None
    plan = [Person.from_json(p) for p in call.dial_plan or []]
    speech = ctx.for_case(case)
    own_case = case.intake_key == f"call:{ctx.call_sid}"
    last = ctx.prompt("paged" if own_case else "join_not_connected", speech)
    if step.number >= len(plan):
        call.state = "done"
        return ivr.goodbye(last)
    person = plan[step.number]
    status = (ctx.params.get("DialCallStatus") or "").strip().lower()
    accepted = call.state == "connected" and case.acknowledged_by == person.key
    if ivr.dial_answered(status, ctx.params.get("DialBridged"), accepted):
        call.state = "done"
        add_event(
            ctx.session,
            case,
            ctx.now,
            "call_ended",
            f"The caller spoke with {person.name} "
            f"({_int(ctx.params.get('DialCallDuration')) or 0}s)",
            member=person.key,
            call_sid=ctx.call_sid,
        )
        return ivr.goodbye(ctx.prompt("connected_goodbye", speech))
    add_event(
        ctx.session,
        case,
        ctx.now,
        "call_not_answered",
        f"{person.name} did not take the caller's call ({status or 'no status'})",
        member=person.key,
        status=status,
        call_sid=ctx.call_sid,
    )
    if step.number + 1 < len(plan):
        return _ring(ctx, call, case, plan, step.number + 1)
    call.state = "done"
    return ivr.goodbye(last)


def _whisper(ctx: _Call, step: VoiceStep) -> Reply:
    """The engineer's leg answered (a person or a voicemail box): ask them to accept."""
    assert step.case_number is not None and step.member is not None
    case = case_by_number(ctx.session, step.case_number)
    if case is None:
        return (Hangup(),)
    return ivr.whisper(ctx.flow, ctx.urls, ctx.for_case(case), case.number, step.member)


def _whisper_result(ctx: _Call, step: VoiceStep) -> Reply:
    assert step.case_number is not None and step.member is not None
    case = case_by_number(ctx.session, step.case_number, for_update=True)
    if case is None:
        return (Hangup(),)
    if ctx.digits != ctx.flow.accept_digit:
        add_event(
            ctx.session,
            case,
            ctx.now,
            "call_declined",
            f"{step.member} did not accept the caller's call "
            f"({'pressed ' + ctx.digits if ctx.digits else 'no key'})",
            member=step.member,
        )
        return (Hangup(),)
    if case.is_open:
        try:
            acknowledge(ctx.session, ctx.runtime, case, step.member, ctx.now, via="voice")
            ctx.wake = True
        except CaseError as exc:
            # Still put them through: talking to the customer is the point of the call.
            log.warning("accepting the call did not acknowledge case %s: %s", case.number, exc)
    add_event(
        ctx.session,
        case,
        ctx.now,
        "call_accepted",
        f"{step.member} accepted the caller's call",
        actor=step.member,
        member=step.member,
    )
    parent_sid = (ctx.params.get("ParentCallSid") or "").strip()
    parent = ctx.session.get(VoiceCall, parent_sid) if parent_sid else None
    if parent is not None:
        parent.state = "connected"
        parent.updated_at = ctx.now
    return ivr.BRIDGE


def _recording_status(ctx: _Call, step: VoiceStep) -> Reply:
    sid = (ctx.params.get("RecordingSid") or "").strip()[:64]
    status = (ctx.params.get("RecordingStatus") or "completed").strip().lower()
    case = find_case_by_intake_key(ctx.session, f"call:{ctx.call_sid}")
    if case is None:
        # The callback can beat the <Record> action: keep the SID for when the case opens.
        call = ctx.session.get(VoiceCall, ctx.call_sid, with_for_update=True)
        if call is not None and status == "completed":
            call.recording_sid = sid
        return ()
    if status == "completed":
        case.recording_sid = sid
        url = (ctx.params.get("RecordingUrl") or "").strip()
        if url and not case.recording_url:
            case.recording_url = url[:500]
        duration = _int(ctx.params.get("RecordingDuration"))
        if duration is not None and case.recording_duration is None:
            case.recording_duration = duration
    add_event(
        ctx.session,
        case,
        ctx.now,
        "recording",
        f"Recording {status} ({sid})",
        recording_sid=sid,
        status=status,
    )
    return ()


TERMINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# States a caller can hang up in without a case or a refusal to show for it.
HUNG_UP_STATES = frozenset({"greeting", "pin", "menu", "record"})


def _call_status(ctx: _Call, step: VoiceStep) -> Reply:
    """The call ended (the number's status callback). A caller who hangs up half-way is not
    lost: one who already chose S1 or S2 gets their case (the engineer can call back), anyone
    else leaves a recorded attempt."""
    status = (ctx.params.get("CallStatus") or "").strip().lower()
    if status not in TERMINAL_CALL_STATUSES:
        return ()
    call = ctx.session.get(VoiceCall, ctx.call_sid, with_for_update=True)
    if call is None or call.case_id is not None or call.state not in HUNG_UP_STATES:
        return ()
    call.updated_at = ctx.now
    customer = ctx.customer(call)
    if call.state == "record" and customer is not None:
        _open_voice_case(
            ctx,
            call,
            customer,
            "Phone report (the caller hung up before describing the problem)",
            None,
            None,
        )
        call.state = "done"
        return ()
    record_attempt(
        ctx.session,
        ctx.now,
        channel="voice",
        reason="abandoned",
        contact=ctx.caller[:320],
        told="",
        customer_key=customer.key if customer else None,
        detail={
            "call_sid": ctx.call_sid,
            "at_step": call.state,
            "status": status,
            "contact": call.contact_name or "",
        },
        intake_key=f"call:{ctx.call_sid}",
    )
    call.state = "abandoned"
    return ()


HANDLERS: Mapping[str, Callable[[_Call, VoiceStep], Reply]] = {
    "call_status": _call_status,
    "entry": _entry,
    "pin": _pin,
    "menu": _menu,
    "recorded": _recorded,
    "recording_status": _recording_status,
    "dial_result": _dial_result,
    "whisper": _whisper,
    "whisper_result": _whisper_result,
}


# -- refusals ----------------------------------------------------------------------------------
def _refuse(
    ctx: _Call,
    call: VoiceCall,
    reason: str,
    told: str,
    customer: Customer | None,
    forward: bool = False,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record the refused call (once per CallSid) and, when asked, forward it to the regular
    support queue so a person follows up."""
    call.state = "refused"
    settings = ctx.runtime.settings
    record_attempt(
        ctx.session,
        ctx.now,
        channel="voice",
        reason=reason,
        contact=ctx.caller[:320],
        told=told,
        customer_key=customer.key if customer else None,
        detail={"call_sid": ctx.call_sid, "contact": call.contact_name or "", **(detail or {})},
        intake_key=f"call:{ctx.call_sid}",
        forwarded=forward,
    )
    if not forward:
        return
    local = ctx.now.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M %Z")
    if customer is None:
        who, account = "an unidentified caller", "-"
    else:
        who = f"{call.contact_name} ({customer.name})" if call.contact_name else customer.name
        account = f"{customer.name} ({customer.key}, plan {customer.plan.key})"
    body = (
        f"The critical line refused a call and passed it to the regular support queue.\n\n"
        f"Caller: {who}, from {ctx.caller or 'an unknown number'}\n"
        f"Customer: {account}\n"
        f"When: {local}\n"
        f"Why: {reason.replace('_', ' ')}\n"
        f"They were told: {told}\n\n"
        f"Please follow up with them through the regular support channels."
    )
    enqueue(
        ctx.session,
        ctx.now,
        channel="email",
        purpose="forward",
        recipient="support_queue",
        to=settings.email.forward_to,
        from_address=settings.email.from_address,
        subject=f"Critical line call refused ({reason.replace('_', ' ')}): {who}",
        body=body,
        message_id=_message_id(settings),
        dedupe_key=_bounded_key("forward:", f"call:{ctx.call_sid}", DEDUPE_MAX),
    )
    ctx.wake = True


def _fee(ctx: _Call, customer: Customer) -> str:
    penalties = ctx.runtime.settings.penalties
    amount = customer.plan.misuse_fee
    if amount is None:
        amount = penalties.per_plan.get(customer.plan.key, penalties.misuse_fee)
    return ivr.describe_fee(amount, penalties.currency)


# -- who takes the call ------------------------------------------------------------------------
def _people_for_new_case(ctx: _Call, case: Case) -> list[Person]:
    """The first ``connect.levels`` escalation steps' people, in order (the engine pages
    them by SMS at the same time; the phone just tries to put the caller through)."""
    live = ctx.runtime.rotas.team(case.team)
    levels = []
    for step in range(ctx.flow.connect_levels):
        targets = _targets(case, step, ctx.now, live)
        if targets is None:
            break
        levels.append(targets)
    return ivr.dial_plan(levels, ctx.flow.connect_max_calls)


def _people_on_case(ctx: _Call, case: Case) -> list[Person]:
    return ivr.dial_plan(
        [case_people(ctx.session, ctx.runtime, case, ctx.now)], ctx.flow.connect_max_calls
    )


def case_people(session: Session, runtime: Runtime, case: Case, now: datetime) -> list[Member]:
    """Who has the case: the engineer who acknowledged it, else whoever the escalation step
    paged last is paging now (live overrides honoured)."""
    live = runtime.rotas.team(case.team)
    if case.acknowledged_by:
        member = _member(case, case.acknowledged_by, live)
        return [member] if member is not None else []
    step = _current_step(session, case)
    return _targets(case, step, now, live) or []


def _member(case: Case, key: str, live: Any) -> Member | None:
    if live is not None and key in live.members:
        return live.members[key]
    data = (case.escalation or {}).get("members", {}).get(key)
    if not data:
        return None
    return Member(key, data.get("name", key), data.get("phone"), data.get("email"))


def _current_step(session: Session, case: Case) -> int:
    """The escalation step that fired last (``escalate`` deadlines count up one per step and
    round; a repeated round reuses the steps)."""
    steps = len(((case.escalation or {}).get("escalation") or {}).get("steps") or [])
    fired = session.scalar(
        select(func.max(Deadline.seq)).where(
            Deadline.case_id == case.id,
            Deadline.kind == "escalate",
            Deadline.state == DeadlineState.DONE.value,
        )
    )
    if not steps or fired is None:
        return 0
    rounds = int(((case.escalation or {}).get("escalation") or {}).get("repeat") or 0) + 1
    if fired >= steps * rounds:  # the "nobody acknowledged" page: the last step had it
        return steps - 1
    return int(fired) % steps


def _targets(case: Case, step: int, now: datetime, live: Any) -> list[Member] | None:
    """Who escalation step ``step`` reaches; None when the policy has no such step."""
    if not case.escalation:
        return None
    try:
        return targets_from_snapshot(case.escalation, step, now, live)
    except IndexError:
        return None
    except (KeyError, ValueError, TypeError) as exc:
        log.error("case %s: cannot resolve escalation step %s: %s", case.number, step, exc)
        return None


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() else None


def _phone(value: str | None, region: str) -> str | None:
    try:
        return parse_phone(value, region) if value else None
    except ValueError:  # "anonymous", "+266696687" (withheld) and other non-numbers
        return None


# =============================================================================================
# Email
# =============================================================================================


@dataclass(frozen=True)
class IntakeOutcome:
    """What became of one inbound email (also the JSON the webhook answers)."""

    outcome: str  # case | reply | refused
    case_number: int | None = None
    reason: str | None = None  # refusals: unknown_sender, not_entitled, non_critical, ...
    auto_replied: bool = False
    forwarded: bool = False
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def email_key(mail: InboundEmail) -> str:
    """``email:<Message-ID>``; without one, a hash of what identifies this message."""
    if mail.message_id:
        return _bounded_key("email:", mail.message_id)
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
    with runtime.sessions() as session:
        try:
            with session.begin():
                stored = session.get(WebhookReceipt, key)
                if stored is not None:
                    return _stored_outcome(stored)
                outcome = _email(session, runtime, mail, key, now)
                session.add(
                    WebhookReceipt(key=key, received_at=now, response=json.dumps(outcome.to_json()))
                )
        except IntegrityError:
            with session.begin():
                stored = session.get(WebhookReceipt, key)
                if stored is None:
                    raise
                return _stored_outcome(stored)
    runtime.wake_sender()
    return outcome


def _stored_outcome(receipt: WebhookReceipt) -> IntakeOutcome:
    data = json.loads(receipt.response or "{}")
    data["duplicate"] = True
    return IntakeOutcome(**data)


def severity_rules(settings: Any) -> SeverityRules:
    """The default rules with config's ``email.severity_phrases`` merged over them."""
    phrases = settings.email.severity_phrases
    extra_s1 = tuple(phrases.get(1, ()))
    extra_s2 = tuple(phrases.get(2, ()))
    return SeverityRules(
        s1_phrases=tuple(dict.fromkeys(extra_s1 + DEFAULT_SEVERITY_RULES.s1_phrases)),
        s2_phrases=tuple(dict.fromkeys(extra_s2 + DEFAULT_SEVERITY_RULES.s2_phrases)),
        low_phrases=DEFAULT_SEVERITY_RULES.low_phrases,
    )


def _email(
    session: Session, runtime: Runtime, mail: InboundEmail, key: str, now: datetime
) -> IntakeOutcome:
    settings = runtime.settings
    intake_key = key  # "email:<Message-ID>": a case or a refusal, once
    robot = is_auto_generated(mail)
    ours = _is_our_address(settings, mail.from_address)

    case = _threaded_case(session, runtime, mail)
    if case is not None:
        return _attach_reply(session, runtime, case, mail, intake_key, robot, now)

    directory = runtime.directory()
    match = directory.by_email(mail.from_address)
    if robot:
        # Out-of-office answers, bounces, list mail and other automatic messages never open a
        # case (an absence notice quoting "Sev 1" must not wake an engineer) and never get an
        # auto-reply; the regular queue still sees them.
        return _refuse_email(
            session,
            runtime,
            mail,
            intake_key,
            now,
            "auto_generated",
            match[0] if match else None,
            robot,
            ours,
            why=f"it is an automatic message ({robot})",
        )
    if match is None:
        return _refuse_email(
            session,
            runtime,
            mail,
            intake_key,
            now,
            "unknown_sender",
            None,
            robot,
            ours,
            why=f"{mail.from_address or 'the sender'} is not registered as a contact for "
            f"the critical line",
        )
    customer, contact = match
    verdict = entitlement(
        customer.plan.critical_line,
        customer.plan.hours,
        settings.business_hours,
        now,
        settings.zone,
    )
    if not verdict.entitled:
        return _refuse_email(
            session,
            runtime,
            mail,
            intake_key,
            now,
            "not_entitled",
            customer,
            robot,
            ours,
            why=verdict.reason,
        )
    severity = classify_severity(mail.subject, mail.text, severity_rules(settings))
    if not is_critical(severity.severity):
        # No severity at all is a question to ask back, not misuse: only a message that says
        # it is minor (S3/S4, "not urgent") counts towards the misuse review.
        reason = "non_critical" if severity.severity is not None else "no_severity"
        outcome = _refuse_email(
            session,
            runtime,
            mail,
            intake_key,
            now,
            reason,
            customer,
            robot,
            ours,
            why=severity.reason,
            severity=severity.severity,
        )
        if reason == "non_critical":
            review_refused_attempts(session, runtime, customer.key, now)
        return outcome

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
            intake_key=intake_key,
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
    if ours:  # a contact registered with one of our own addresses: never mail ourselves
        return IntakeOutcome("case", case.number)
    sent = notify_customer(
        session,
        runtime,
        case,
        now,
        purpose="opened",
        text=_opened_text(runtime, case),
        subject=_strip_reply_prefix(mail.subject) or "Critical case opened",
        dedupe_key=f"opened:{case.number}",
    )
    for message in sent:
        if message.channel == "email":
            _mark_auto_reply(settings, message, mail)
    return IntakeOutcome("case", case.number, auto_replied=any(m.channel == "email" for m in sent))


def _threaded_case(session: Session, runtime: Runtime, mail: InboundEmail) -> Case | None:
    """The case this mail answers: our Message-ID in In-Reply-To/References (they received
    our mail), or ``[Case N]`` in the subject from someone of that customer (a subject alone
    is easy to forge, and a reply is relayed to an engineer's phone)."""
    ids = [mid for mid in message_ids(mail) if len(mid) <= MAX_KEY]
    if ids:
        case_id = session.scalar(
            select(OutboundMessage.case_id)
            .where(OutboundMessage.message_id.in_(ids[:100]), OutboundMessage.case_id.is_not(None))
            .limit(1)
        )
        if case_id is not None:
            case = session.get(Case, case_id)
            if case is not None:
                return case
    number = case_number_from_subject(mail.subject)
    if number is None:
        return None
    case = case_by_number(session, number)
    if case is None:
        return None
    if case.contact_email and case.contact_email.casefold() == mail.from_address:
        return case
    match = runtime.directory().by_email(mail.from_address)
    if match is not None and match[0].key == case.customer_key:
        return case
    log.warning(
        "email names case %s but %s is not of that customer; treated as new mail",
        number,
        mail.from_address,
    )
    return None


def _attach_reply(
    session: Session,
    runtime: Runtime,
    case: Case,
    mail: InboundEmail,
    intake_key: str,
    robot: str | None,
    now: datetime,
) -> IntakeOutcome:
    """A customer's reply goes on the case's timeline and to the engineer's phone; no case,
    no auto-reply. Auto-generated replies (out-of-office) are kept but not relayed."""
    settings = runtime.settings
    text = strip_quoted_reply(mail.text).strip() or mail.text.strip()
    add_event(
        session,
        case,
        now,
        "customer_reply",
        f"Customer replied by email ({mail.from_address}): {text[:4000]}",
        actor=mail.from_name or mail.from_address,
        message_id=mail.message_id,
        subject=mail.subject,
        auto_generated=robot,
    )
    if robot:
        return IntakeOutcome("reply", case.number)
    if not case.is_open:
        # Closed cases have nobody paging on them: the regular queue picks the reply up.
        _forward(
            session,
            runtime,
            mail,
            intake_key,
            now,
            f"a reply to closed case {case.number}",
            "the reply was not relayed",
        )
        return IntakeOutcome("reply", case.number, forwarded=True)
    body = to_gsm7(" ".join(f"Case {case.number} {case.customer_name} replied: {text}".split()))
    body = truncate_words(body, 306)  # two SMS segments at most
    people = [m for m in case_people(session, runtime, case, now) if m.phone]
    if not people:
        # Nobody to text (no rota for the team): a person in the queue must still see it.
        _forward(
            session,
            runtime,
            mail,
            intake_key,
            now,
            f"a reply to case {case.number}, which has nobody to relay it to",
            "the reply was not relayed",
        )
        return IntakeOutcome("reply", case.number, forwarded=True)
    for member in people:
        enqueue(
            session,
            now,
            channel="sms",
            purpose="customer_reply",
            recipient=member.key,
            to=member.phone,
            from_address=settings.twilio.critical_line,
            body=body,
            case=case,
            dedupe_key=_bounded_key("relay:", f"{intake_key}:{member.key}", DEDUPE_MAX),
        )
    return IntakeOutcome("reply", case.number)


def _refuse_email(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    intake_key: str,
    now: datetime,
    reason: str,
    customer: Customer | None,
    robot: str | None,
    ours: bool,
    why: str,
    severity: int | None = None,
) -> IntakeOutcome:
    """Tell the sender why and where to go (unless the mail is automatic), forward the
    message to the regular queue, and record the refusal."""
    settings = runtime.settings
    told = _refusal_text(runtime, reason, why)
    replied = False
    if not robot and not ours:
        subject = _strip_reply_prefix(mail.subject)
        enqueue(
            session,
            now,
            channel="email",
            purpose="refusal",
            recipient="sender",
            to=mail.reply_to or mail.from_address,
            from_address=settings.email.from_address,
            subject=f"Re: {subject}" if subject else "Your message to the critical line",
            body=told,
            headers=_auto_reply_headers(mail),
            message_id=_message_id(settings),
            dedupe_key=_bounded_key("autoreply:", intake_key, DEDUPE_MAX),
        )
        replied = True
    forwarded = False
    if not ours:  # never forward our own (or the queue's) mail back: that is a loop
        _forward(
            session,
            runtime,
            mail,
            intake_key,
            now,
            why,
            told if replied else f"nothing (no auto-reply: {robot})",
        )
        forwarded = True
    record_attempt(
        session,
        now,
        channel="email",
        reason=reason,
        contact=mail.from_address[:320],
        told=told if replied else "",
        customer_key=customer.key if customer else None,
        detail={
            "subject": mail.subject[:500],
            "why": why,
            "severity": severity,
            "message_id": mail.message_id,
            "auto_generated": robot,
        },
        intake_key=intake_key,
        forwarded=forwarded,
    )
    return IntakeOutcome("refused", reason=reason, auto_replied=replied, forwarded=forwarded)


def _forward(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    intake_key: str,
    now: datetime,
    why: str,
    told: str,
) -> None:
    settings = runtime.settings
    local = now.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M %Z")
    body = (
        f"The critical line did not open a case for this message: {why}.\n"
        f"The sender was told: {told}\n\n"
        f"---------- Forwarded message ----------\n"
        f"From: {mail.from_raw or mail.from_address}\n"
        f"Date: {mail.header('Date') or local}\n"
        f"Subject: {mail.subject}\n"
        f"To: {', '.join(mail.to)}\n\n"
        f"{mail.text}"
    )
    enqueue(
        session,
        now,
        channel="email",
        purpose="forward",
        recipient="support_queue",
        to=settings.email.forward_to,
        from_address=settings.email.from_address,
        subject=f"Fwd: {mail.subject}" if mail.subject else "Fwd: (no subject)",
        body=body,
        headers={"Reply-To": mail.reply_to or mail.from_address},
        message_id=_message_id(settings),
        dedupe_key=_bounded_key("forward:", intake_key, DEDUPE_MAX),
    )


def _auto_reply_headers(mail: InboundEmail) -> dict[str, Any]:
    # RFC 3834: mark the reply automatic so the sender's own responders do not answer it,
    # and thread it under their message.
    headers: dict[str, Any] = {"Auto-Submitted": "auto-replied"}
    if mail.message_id:
        headers["In-Reply-To"] = mail.message_id
        headers["References"] = " ".join([*mail.references, mail.message_id][-10:])
    return headers


def _mark_auto_reply(settings: Any, message: OutboundMessage, mail: InboundEmail) -> None:
    message.headers = {**(message.headers or {}), **_auto_reply_headers(mail)}
    if not message.message_id:
        message.message_id = _message_id(settings)


def _is_our_address(settings: Any, address: str) -> bool:
    ours = {
        settings.email.from_address.casefold(),
        settings.email.critical_address.casefold(),
        settings.email.forward_to.casefold(),
    }
    return address.casefold() in ours


_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|sv|tr)\s*:\s*)+", re.IGNORECASE)


def _strip_reply_prefix(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject or "").strip()[:300]


def _summary(mail: InboundEmail) -> str:
    """Subject plus the first lines of the new text: what the page and dashboard show."""
    lines = [line.strip() for line in strip_quoted_reply(mail.text).splitlines() if line.strip()]
    head = mail.subject.strip() or "(no subject)"
    return "\n".join([head, *lines[:5]])[:1000]


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes and minutes % 60 == 0:
        hours = minutes // 60
        return "the hour" if hours == 1 else f"{hours} hours"
    if minutes:
        return f"{minutes} minutes"
    return f"{int(delta.total_seconds())} seconds"


def _opened_text(runtime: Runtime, case: Case) -> str:
    settings = runtime.settings
    due = (
        case.status_due_at.astimezone(settings.zone).strftime("%H:%M %Z")
        if (case.status_due_at)
        else ""
    )
    status_by = f" (by {due})" if due else ""
    return (
        f"Thank you. Your message opened critical case {case.number} (severity "
        f"{case.severity}) with {settings.company}.\n\n"
        f"What happens next: the on-call engineer has been paged and will take charge of the "
        f"case within {_human(settings.sla.triage)}. You will receive a status update with an "
        f"estimated time to resolution within {_human(settings.sla.first_status)}{status_by}, "
        f"then regular updates until it is resolved.\n\n"
        f"To add information, reply to this email and keep [Case {case.number}] in the "
        f"subject. If things get worse, call the critical line: "
        f"{settings.twilio.critical_line or 'see your support contract'}."
    )


REFUSALS = {
    # Never sent (automatic mail gets no auto-reply); recorded as what the queue is told.
    "auto_generated": (
        "We received a message at the {company} critical support line, but {why}; automatic "
        "messages do not open critical cases."
    ),
    "unknown_sender": (
        "We received your email to the {company} critical support line, but {why}, so no "
        "critical case was opened."
    ),
    "not_entitled": (
        "We received your email to the {company} critical support line, but {why}, so no "
        "critical case was opened."
    ),
    "non_critical": (
        "The {company} critical support line is for Severity 1 issues (a production system "
        "down for all users, or a security incident) and Severity 2 issues (an important "
        "function unavailable with no workaround) only. Your message does not describe one, "
        "so no critical case was opened. Please note that non-critical use of the critical "
        "line may incur a fee."
    ),
    "no_severity": (
        "The {company} critical support line is for Severity 1 issues (a production system "
        "down for all users, or a security incident) and Severity 2 issues (an important "
        "function unavailable with no workaround) only. We could not tell from your message "
        "that it is one of these, so no critical case was opened. If it is, reply with "
        '"Severity 1" or "Severity 2" in the subject, or call the critical line.'
    ),
}


def _refusal_text(runtime: Runtime, reason: str, why: str) -> str:
    settings = runtime.settings
    first = REFUSALS.get(reason, REFUSALS["unknown_sender"]).format(
        company=settings.company, why=why
    )
    hours = ivr.describe_hours(settings.business_hours, settings.zone)
    return (
        f"{first}\n\n"
        f"Your message has been forwarded to our regular support queue "
        f"({settings.email.forward_to}), which answers {hours}. You do not need to send it "
        f"again."
    )
