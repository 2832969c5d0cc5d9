"""The phone line before a case: who is calling (caller ID, else the account PIN), whether
their plan covers the critical line now, joining the case they already have open, the severity
menu, and the refusals, each recorded and, where a person should follow up, forwarded to the
regular support queue."""

from __future__ import annotations

from typing import Any

from oncall.cases.attempts import record_attempt
from oncall.cases.events import add_event
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.lookup import open_case_for_customer
from oncall.db.models import Case, VoiceCall
from oncall.db.upsert import attach_inserted, insert_once
from oncall.services import ivr
from oncall.services.ivr import Reply, Say
from oncall.services.misuse import review_refused_attempts
from oncall.services.phone_call import CallContext, VoiceStep, load_call, start_over
from oncall.services.phone_returning import brief_caller
from oncall.services.pin_guard import caller_key, locked_until, record_wrong_pin
from oncall.services.receipts import DEDUPE_MAX, bounded_key
from oncall.sources.customers import Customer


def entry(ctx: CallContext, step: VoiceStep) -> Reply:
    """The incoming call: greet, then identify by caller ID or ask for the account PIN."""
    # A new call is the common case: one INSERT … ON CONFLICT DO NOTHING rather than a
    # look-up and an insert. Only a call we already have (a new step 0 of the same call) is
    # read, locked as before.
    fresh = {
        "call_sid": ctx.call_sid,
        "from_number": ctx.caller[:32],
        "pin_attempts": 0,
        "menu_attempts": 0,
        "dial_index": 0,
        "dial_plan": [],
        "state": "greeting",
        "created_at": ctx.now,
        "updated_at": ctx.now,
    }
    table = VoiceCall.__table__
    if insert_once(ctx.session, table, fresh, "call_sid", "call_sid") is not None:
        call = attach_inserted(ctx.session, VoiceCall, ctx.call_sid, fresh)
    else:
        call = ctx.session.get(VoiceCall, ctx.call_sid, with_for_update=True)
        if call is None:  # purged by retention in between: nothing to go on
            return start_over(ctx)
    if call.case_id is not None:
        case = ctx.session.get(Case, call.case_id)
        if case is not None:
            call.state = "done"
            return ivr.goodbye(ctx.goodbye_for_case(case))
    call.updated_at = ctx.now
    reply: list = [Say(ctx.prompt("greeting"))]
    match = ctx.runtime.directory().by_phone(ctx.caller)
    if match is None:
        locked = _lockout(ctx, call)
        if locked is not None:
            return (*reply, *locked)
        call.state = "pin"
        return (*reply, *ivr.ask_pin(ctx.flow, ctx.urls, ctx.speech, 1))
    customer, contact = match
    call.customer_key, call.contact_name = customer.key, contact.name
    speech = ctx.speech.with_(customer=customer.name, contact=contact.name)
    reply.append(Say(ctx.prompt("identified", speech)))
    return (*reply, *_identified(ctx, call, customer))


def pin(ctx: CallContext, step: VoiceStep) -> Reply:
    """The PIN the caller keyed (attempt ``step.number``): identified, ask again, or refuse."""
    call = load_call(ctx, {"pin"})
    if call is None:
        return start_over(ctx)
    assert step.number is not None
    locked = _lockout(ctx, call)  # another call from this number may have used up its tries
    if locked is not None:
        return locked
    digits = ctx.digits
    customer = ctx.runtime.directory().by_pin(digits) if digits else None
    outcome = ivr.pin_outcome(step.number, ctx.flow.pin_tries, customer is not None)
    if customer is not None:
        call.customer_key, call.contact_name = customer.key, ""
        said = Say(ctx.prompt("pin_accepted", ctx.speech.with_(customer=customer.name)))
        return (said, *_identified(ctx, call, customer))
    bad: tuple = (Say(ctx.prompt("bad_pin")),) if digits else ()
    if digits:
        call.pin_attempts += 1
        ctx.wake |= record_wrong_pin(
            ctx.session,
            ctx.runtime,
            _caller_key(ctx),
            ctx.now,
            call_sid=ctx.call_sid,
            attempt=step.number,
            told=ctx.prompt("bad_pin"),
        )
        locked = _lockout(ctx, call)
        if locked is not None:
            return (*bad, *locked)
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


def _caller_key(ctx: CallContext) -> str:
    return caller_key(ctx.caller, ctx.runtime.settings.phone_region)


def _lockout(ctx: CallContext, call: VoiceCall) -> Reply | None:
    """A number with too many wrong PINs is told to email instead and not asked for a PIN
    (see :mod:`oncall.services.pin_guard`); None when it may key one."""
    caller = _caller_key(ctx)
    until = locked_until(ctx.session, caller, ctx.now)
    if until is None:
        return None
    told = ctx.prompt("pin_locked")
    _refuse(
        ctx,
        call,
        "pin_locked",
        told,
        None,
        detail={
            "number": caller,
            "locked_until": until.isoformat(),
            "wrong_pins": call.pin_attempts,
        },
    )
    return ivr.goodbye(told)


def _identified(ctx: CallContext, call: VoiceCall, customer: Customer) -> Reply:
    """After caller ID or PIN: entitlement, then join an open case or ask the severity."""
    settings = ctx.runtime.settings
    speech = ctx.speech.with_(customer=customer.name, contact=call.contact_name or "")
    verdict = customer.entitlement(settings.business_hours, settings.zone, ctx.now)
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


def _join(ctx: CallContext, call: VoiceCall, case: Case) -> Reply:
    """A second call while a case is open joins it: a line on its timeline, no new case and
    no new pages (the engine is already paging), then the returning caller's briefing and
    menu (:mod:`oncall.services.phone_returning`)."""
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
    said = Say(ctx.prompt("joining", ctx.for_case(case)))
    return (said, *brief_caller(ctx, call, case))


def menu(ctx: CallContext, step: VoiceStep) -> Reply:
    """The severity the caller chose: record a description (S1/S2), or refuse politely."""
    call = load_call(ctx, {"menu"})
    customer = ctx.customer(call) if call is not None else None
    if call is None or customer is None:
        return start_over(ctx)
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


# -- refusals ----------------------------------------------------------------------------------
def _refuse(
    ctx: CallContext,
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
    if forward:
        _forward_refused_call(ctx, call, reason, told, customer)


def _forward_refused_call(
    ctx: CallContext, call: VoiceCall, reason: str, told: str, customer: Customer | None
) -> None:
    local = ctx.now.astimezone(ctx.runtime.settings.zone).strftime("%Y-%m-%d %H:%M %Z")
    if customer is None:
        who, account = "an unidentified caller", "-"
    else:
        who = f"{call.contact_name} ({customer.name})" if call.contact_name else customer.name
        account = f"{customer.name} ({customer.key}, plan {customer.plan.key})"
    forward_to_support_queue(
        ctx.session,
        ctx.runtime,
        ctx.now,
        subject=f"Critical line call refused ({reason.replace('_', ' ')}): {who}",
        body=(
            f"The critical line refused a call and passed it to the regular support queue.\n\n"
            f"Caller: {who}, from {ctx.caller or 'an unknown number'}\n"
            f"Customer: {account}\n"
            f"When: {local}\n"
            f"Why: {reason.replace('_', ' ')}\n"
            f"They were told: {told}\n\n"
            f"Please follow up with them through the regular support channels."
        ),
        dedupe_key=bounded_key("forward:", f"call:{ctx.call_sid}", DEDUPE_MAX),
    )
    ctx.wake = True


def _fee(ctx: CallContext, customer: Customer) -> str:
    """The misuse fee the caller is warned of: their plan's, else config's for the plan."""
    penalties = ctx.runtime.settings.penalties
    amount = customer.plan.misuse_fee
    if amount is None:
        amount = penalties.per_plan.get(customer.plan.key, penalties.misuse_fee)
    return ivr.describe_fee(amount, penalties.currency)
