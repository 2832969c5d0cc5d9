"""The phone line's case: the caller's recorded description opens it (so does hanging up
after choosing S1 or S2), the caller hears its number and gets it in writing, and is put
through to the on-call engineer, one dial leg at a time, each engineer accepting with a key
after a whisper (which acknowledges the case). A caller who hangs up earlier leaves a recorded
attempt."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from oncall.cases.attempts import record_attempt
from oncall.cases.customer import notify_customer
from oncall.cases.errors import CaseError
from oncall.cases.events import add_event
from oncall.cases.live_rota import live_team
from oncall.cases.lookup import case_by_number, find_case_by_intake_key
from oncall.cases.opening import NewCase, open_case
from oncall.cases.outbox import Reached
from oncall.db.models import Case, VoiceCall
from oncall.domain.enums import Purpose
from oncall.domain.mail.threads import make_message_id
from oncall.engine.escalation import start_paging
from oncall.services import ivr
from oncall.services.case_actions import acknowledge
from oncall.services.case_people import step_targets
from oncall.services.ivr import Hangup, Person, Reply, Say
from oncall.services.phone_call import (
    CallContext,
    VoiceStep,
    as_int,
    load_call,
    phone_or_none,
    start_over,
)
from oncall.sources.customers import Customer

log = logging.getLogger("oncall.intake")


def recorded(ctx: CallContext, step: VoiceStep) -> Reply:
    """The description is recorded (or the caller pressed on): open the case, put them through."""
    call = load_call(ctx)
    if call is None:
        return start_over(ctx)
    url = (ctx.params.get("RecordingUrl") or "").strip()[:500] or None
    duration = as_int(ctx.params.get("RecordingDuration"))
    if call.state != "record":
        case = ctx.session.get(Case, call.case_id) if call.case_id is not None else None
        if case is None:
            return start_over(ctx)
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
        return ivr.goodbye(ctx.goodbye_for_case(case))
    customer = ctx.customer(call)
    if customer is None:  # removed from customers.yaml mid-call: verify them again
        call.state = "greeting"
        return start_over(ctx)
    summary = f"Phone report (recording {duration or 0}s)" if url else "Phone report (no recording)"
    case = _open_voice_case(ctx, call, customer, summary, url, duration)
    speech = ctx.for_case(case)
    opened = Say(ctx.prompt("case_opened", speech))
    plan = _people_for_new_case(ctx, case)
    if not plan:
        call.state = "done"
        return (opened, *ivr.goodbye(ctx.goodbye_for_case(case)))
    return (opened, *ring(ctx, call, case, plan, 0))


def _open_voice_case(
    ctx: CallContext,
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
            contact_phone=phone_or_none(call.from_number, ctx.runtime.settings.phone_region),
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
    # The first step is paged now, in this transaction, so what the caller is told next is
    # what happened (nobody to page: the managers were alerted instead).
    reached = start_paging(ctx.session, ctx.runtime, case, ctx.now)
    _tell_caller_in_writing(ctx, case, reached)
    ctx.wake = True
    return case


def _tell_caller_in_writing(ctx: CallContext, case: Case, reached: Reached) -> None:
    """The case number by SMS to the number that called (and by email when we have one), and
    who has been told: the on-call engineer, the support managers, or only the support queue."""
    settings = ctx.runtime.settings
    values = {
        "company": settings.company,
        "case_number": case.number,
        "severity": case.severity,
        "customer": case.customer_name,
        "regular_channels": ctx.speech.values["regular_channels"],
        "hours": ctx.speech.values["hours"],
    }
    which = {Reached.ENGINEER: "", Reached.MANAGERS: "_managers", Reached.NOBODY: "_unreached"}[
        reached
    ]
    sent = notify_customer(
        ctx.session,
        ctx.runtime,
        case,
        ctx.now,
        purpose=Purpose.OPENED,
        text=ctx.flow.message(f"case_opened{which}_email", values),
        subject="Critical case opened by phone",
        sms_text=ctx.flow.message(f"case_opened{which}_sms", values),
        dedupe_key=f"opened:{case.number}",
    )
    for message in sent:
        # The sender would give it one at send time; giving it now lets a reply that races
        # the send still thread to this case.
        if message.channel == "email" and not message.message_id:
            message.message_id = make_message_id(message.id, message.from_address)


def ring(ctx: CallContext, call: VoiceCall, case: Case, plan: Sequence[Person], leg: int) -> Reply:
    """Put the caller through to ``plan[leg]`` (the plan is kept on the call for retries)."""
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


def dial_result(ctx: CallContext, step: VoiceStep) -> Reply:
    """A dial leg ended: the caller spoke with the engineer, or the next one is tried."""
    call = load_call(ctx)
    case = ctx.session.get(Case, call.case_id) if call and call.case_id else None
    if call is None or case is None:
        return ivr.goodbye(ctx.prompt("unavailable"))
    assert step.number is not None
    plan = [Person.from_json(p) for p in call.dial_plan or []]
    speech = ctx.for_case(case)
    own_case = case.intake_key == f"call:{ctx.call_sid}"
    last = ctx.goodbye_for_case(case, "paged" if own_case else "join_not_connected")
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
            f"({as_int(ctx.params.get('DialCallDuration')) or 0}s)",
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
        return ring(ctx, call, case, plan, step.number + 1)
    call.state = "done"
    return ivr.goodbye(last)


def whisper(ctx: CallContext, step: VoiceStep) -> Reply:
    """The engineer's leg answered (a person or a voicemail box): ask them to accept."""
    assert step.case_number is not None and step.member is not None
    case = case_by_number(ctx.session, step.case_number)
    if case is None:
        return (Hangup(),)
    return ivr.whisper(ctx.flow, ctx.urls, ctx.for_case(case), case.number, step.member)


def whisper_result(ctx: CallContext, step: VoiceStep) -> Reply:
    """The engineer pressed the accept key (the case is theirs: bridge) or did not (hang up)."""
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


def recording_status(ctx: CallContext, step: VoiceStep) -> Reply:
    """The recording is ready (or failed): its SID, URL and length go on the case."""
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
        duration = as_int(ctx.params.get("RecordingDuration"))
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


def call_status(ctx: CallContext, step: VoiceStep) -> Reply:
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


def _people_for_new_case(ctx: CallContext, case: Case) -> list[Person]:
    """The first ``connect.levels`` escalation steps' people, in order (the engine pages
    them by SMS at the same time; the phone just tries to put the caller through)."""
    live = live_team(ctx.session, ctx.runtime, case.team, ctx.now)
    levels = []
    for step in range(ctx.flow.connect_levels):
        targets = step_targets(case, step, ctx.now, live)
        if targets is None:
            break
        levels.append(targets)
    return ivr.dial_plan(levels, ctx.flow.connect_max_calls)
