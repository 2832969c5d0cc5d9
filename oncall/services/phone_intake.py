"""The critical line's phone intake: one Twilio voice webhook at a time.

The call moves through the IVR (:mod:`oncall.services.ivr` decides, the flow in
``voice_flows/`` words it): greeting and identification, entitlement, the severity menu and
refusals (:mod:`oncall.services.phone_screening`), then the recording, the case and putting the
caller through to the on-call engineer (:mod:`oncall.services.phone_case`); a caller whose
customer has an open case hears it and gets the returning caller's menu
(:mod:`oncall.services.phone_returning`). Every call ends
where a person will see it: a case, a recorded refusal, or a forward to the regular support
queue.

Twilio retries, so each step is idempotent: it is keyed ``voice:<CallSid>:<step>:<input-hash>``
(:mod:`oncall.services.receipts`) and a retried request gets the very TwiML it got the first
time. The attempt or leg number is part of the step (it is in the action URL), so a caller's
second wrong PIN is a new step while Twilio's retry of the first is not. Underneath, a case
opens once per ``call:<CallSid>`` and a refusal is recorded once per the same key, so even a
concurrent duplicate changes nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from oncall.runtime import Runtime
from oncall.services import ivr
from oncall.services.ivr import Hangup, Reply, Say
from oncall.services.phone_call import CallContext, VoiceStep
from oncall.services.phone_case import (
    call_status,
    dial_result,
    recorded,
    recording_status,
    whisper,
    whisper_result,
)
from oncall.services.phone_returning import note_recorded, returning
from oncall.services.phone_screening import entry, menu, pin
from oncall.services.receipts import Repeat, act_once, bounded_key
from oncall.sources.voice_flows import VoiceFlow

log = logging.getLogger("oncall.intake")


class MalformedRequest(ValueError):
    """A webhook lacks what every request of its kind carries; the web layer answers 400."""


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
        "returning",
        "note_recorded",
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


def receipt_key(call_sid: str, step: VoiceStep, params: Mapping[str, str]) -> str:
    """The receipt key of one request at one step: the call, the step, and its inputs."""
    # A status callback's input is the status itself (ringing, then completed).
    names = (*STEP_INPUTS, "CallStatus") if step.name == "call_status" else STEP_INPUTS
    inputs = {name: params.get(name) for name in names if params.get(name) is not None}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]
    return bounded_key("voice:", f"{call_sid}:{step.key}:{digest}")


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

    def answer(session: Session) -> tuple[str, bool]:
        ctx = CallContext(runtime, session, flow, params, call_sid, now)
        return ivr.to_twiml(HANDLERS[step.name](ctx, step), flow), ctx.wake

    result = act_once(runtime, key, now, answer, lambda answered: answered[0])
    if isinstance(result, Repeat):
        # Twilio retried the step (maybe while we were answering it): the same answer again.
        log.info("voice step %s repeated; same answer", step.key, extra={"call": call_sid})
        return result.response
    twiml, wake = result
    if wake:
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


HANDLERS: Mapping[str, Callable[[CallContext, VoiceStep], Reply]] = {
    "call_status": call_status,
    "entry": entry,
    "pin": pin,
    "menu": menu,
    "recorded": recorded,
    "recording_status": recording_status,
    "dial_result": dial_result,
    "whisper": whisper,
    "whisper_result": whisper_result,
    "returning": returning,
    "note_recorded": note_recorded,
}
