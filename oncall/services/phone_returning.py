"""The returning caller: a verified caller whose customer has an open case joins it and hears,
before anything else, the case number, who is working on it, the latest status in the
engineer's words with its ETA and when the next update is due, then the ``returning`` menu of
the flow file: record a note for the engineer (relayed by SMS with the recording's link), be
put through to the engineer working the case (whisper + accept, as for a new case), or escalate
to the duty manager (:mod:`oncall.services.customer_escalation`). Anything else: goodbye.

The decisions and the words are :mod:`oncall.services.ivr_returning`'s; this module reads the
facts and applies the effects in the step's transaction.
"""

from __future__ import annotations

from sqlalchemy import select

from oncall.cases.customer import notify_customer
from oncall.cases.events import add_event
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.members import member_of
from oncall.cases.outbox import Reached, who_was_reached
from oncall.db.models import Case, CaseEvent, VoiceCall
from oncall.domain.customer_side import first_name
from oncall.domain.enums import Purpose
from oncall.services import ivr
from oncall.services.case_people import case_people
from oncall.services.customer_escalation import escalate_for_customer
from oncall.services.customer_relay import relay_to_case_people
from oncall.services.ivr import Person, Reply, Say
from oncall.services.ivr_returning import (
    Briefing,
    Choice,
    briefing,
    record_note,
    returning_choice,
    returning_menu,
    spoken_time,
)
from oncall.services.phone_call import CallContext, VoiceStep, as_int, load_call, start_over
from oncall.services.phone_case import ring
from oncall.services.receipts import DEDUPE_MAX, bounded_key


def people_on_case(ctx: CallContext, case: Case) -> list[Person]:
    """Whom a caller about an open case is put through to: whoever has the case now."""
    return ivr.dial_plan(
        [case_people(ctx.session, ctx.runtime, case, ctx.now)], ctx.flow.connect_max_calls
    )


def brief_caller(ctx: CallContext, call: VoiceCall, case: Case) -> Reply:
    """After ``joining``: the briefing and the menu."""
    call.state = "returning"
    speech = ctx.for_case(case)
    said = briefing(ctx.flow, speech, _facts(ctx, case))
    return returning_menu(ctx.flow, ctx.urls, speech, said)


def _facts(ctx: CallContext, case: Case) -> Briefing:
    zone = ctx.runtime.settings.zone
    engineer = None
    if case.acknowledged_by:
        member = member_of(ctx.runtime, case, case.acknowledged_by)
        engineer = first_name(
            case.acknowledged_by_name or (member.name if member else case.acknowledged_by)
        )
    status = ctx.session.scalar(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "status")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    words = (status.data or {}).get("note") if status is not None else None
    return Briefing(
        engineer=engineer,
        reached_engineer=who_was_reached(ctx.session, case) is Reached.ENGINEER,
        status=words or None,
        status_by=first_name(status.actor) if status is not None else "",
        status_time=spoken_time(status.at, zone) if status is not None else None,
        eta=spoken_time(case.eta_at, zone) if case.eta_at else None,
        next_update=(
            spoken_time(case.status_due_at, zone) if case.status_due_at and case.is_open else None
        ),
    )


def returning(ctx: CallContext, step: VoiceStep) -> Reply:
    """The key the returning caller pressed (or none)."""
    call = load_call(ctx, {"returning"})
    case = ctx.session.get(Case, call.case_id) if call and call.case_id else None
    if call is None or case is None:
        return start_over(ctx)
    speech = ctx.for_case(case)
    choice = returning_choice(ctx.flow, ctx.digits) if case.is_open else Choice.GOODBYE
    if choice is Choice.NOTE:
        call.state = "note"
        return record_note(ctx.flow, ctx.urls, speech)
    if choice is Choice.CONNECT:
        plan = people_on_case(ctx, case)
        if plan:
            return ring(ctx, call, case, plan, 0)
        call.state = "done"
        return ivr.goodbye(ctx.goodbye_for_case(case, "join_not_connected"))
    call.state = "done"
    if choice is Choice.ESCALATE:
        return _escalate(ctx, call, case)
    return ivr.goodbye(ctx.prompt("returning_goodbye", speech))


def _escalate(ctx: CallContext, call: VoiceCall, case: Case) -> Reply:
    who = call.contact_name or case.customer_name
    done = escalate_for_customer(
        ctx.session,
        ctx.runtime,
        case,
        ctx.now,
        via="phone",
        by=who,
        reason=f"{who} pressed 9 on the critical line to escalate",
        key=f"call:{ctx.call_sid}",
    )
    # In writing too, with the case page's link (the caller may have been cut off).
    notify_customer(
        ctx.session,
        ctx.runtime,
        case,
        ctx.now,
        purpose=Purpose.ESCALATED,
        text=done.acknowledgement(ctx.runtime),
        subject="Your escalation",
        dedupe_key=bounded_key("escalated:", f"call:{ctx.call_sid}", DEDUPE_MAX),
    )
    ctx.wake = True
    speech = ctx.for_case(case).with_(
        manager=done.alerted, escalated_at=spoken_time(done.first_at, ctx.runtime.settings.zone)
    )
    return ivr.goodbye(ctx.prompt("escalated" if done.paged else "escalated_already", speech))


def note_recorded(ctx: CallContext, step: VoiceStep) -> Reply:
    """The caller's note is recorded: on the timeline, and by SMS to whoever has the case."""
    call = load_call(ctx, {"note"})
    case = ctx.session.get(Case, call.case_id) if call and call.case_id else None
    if call is None or case is None:
        return start_over(ctx)
    call.state = "done"
    speech = ctx.for_case(case)
    url = (ctx.params.get("RecordingUrl") or "").strip()[:500]
    if not url:
        return ivr.goodbye(ctx.prompt("note_missing", speech))
    duration = as_int(ctx.params.get("RecordingDuration")) or 0
    who = call.contact_name or case.customer_name
    link = f"{url}.mp3"
    add_event(
        ctx.session,
        case,
        ctx.now,
        "customer_note",
        f"{who} left a voice note for the engineer ({duration}s): {link}",
        actor=who,
        via="phone",
        recording_url=url,
        recording_duration=duration,
        call_sid=ctx.call_sid,
    )
    said = f"{who} left you a voice note ({duration}s): {link}"
    names = relay_to_case_people(
        ctx.session, ctx.runtime, case, said, f"note:{ctx.call_sid}", ctx.now
    )
    if not names:
        forward_to_support_queue(
            ctx.session,
            ctx.runtime,
            ctx.now,
            subject=f"Voice note on case {case.number} ({case.customer_name})",
            body=f"{said}\n\nNobody with a phone has the case, so it was not relayed by SMS.",
            dedupe_key=bounded_key("forward:", f"note:{ctx.call_sid}", DEDUPE_MAX),
            case=case,
        )
    ctx.wake = True
    engineer = first_name(names[0]) if names else "our support team"
    return (Say(ctx.prompt("note_relayed", speech.with_(engineer=engineer))), ivr.Hangup())
