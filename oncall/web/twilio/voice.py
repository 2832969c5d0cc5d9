"""The critical line's voice webhooks: ``POST /twilio/voice`` and the steps its TwiML names.

``/twilio/voice`` is what the Twilio console points at and must stay; every later step is
reached through the ``action=`` URLs our own TwiML returns, so those paths are ours to choose.
The attempt or dial leg is part of the path, which makes "Twilio retried this step" and "the
caller tried again" different requests (see :mod:`oncall.services.phone_intake`).

Views only check the signature, hand the form to one service call and return its TwiML.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from oncall.services.phone_call import VoiceStep
from oncall.services.phone_intake import MalformedRequest, handle_voice_step
from oncall.web.context import runtime
from oncall.web.twilio.signature import twilio_signed

log = logging.getLogger("oncall.web.voice")

bp = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice")


def _answer(step: VoiceStep) -> Response:
    rt = runtime()
    # Twilio sends each parameter once; a repeated one is not Twilio's, so the first counts.
    params = request.form.to_dict(flat=True)
    try:
        twiml = handle_voice_step(rt, step, params, rt.clock.now())
    except MalformedRequest as exc:
        log.warning("malformed voice webhook %s: %s", request.path, exc)
        return Response(f"bad request: {exc}\n", status=400, mimetype="text/plain")
    return Response(twiml, status=200, mimetype="text/xml")


@bp.post("")
@twilio_signed
def incoming_call():
    """The incoming-call webhook of the critical line."""
    return _answer(VoiceStep("entry"))


@bp.post("/pin/<int:attempt>")
@twilio_signed
def pin(attempt: int):
    return _answer(VoiceStep("pin", attempt))


@bp.post("/menu/<int:attempt>")
@twilio_signed
def menu(attempt: int):
    return _answer(VoiceStep("menu", attempt))


@bp.post("/recorded")
@twilio_signed
def recorded():
    return _answer(VoiceStep("recorded"))


@bp.post("/recording-status")
@twilio_signed
def recording_status():
    return _answer(VoiceStep("recording_status"))


@bp.post("/dial-result/<int:leg>")
@twilio_signed
def dial_result(leg: int):
    return _answer(VoiceStep("dial_result", leg))


@bp.post("/whisper/<int:case_number>/<member>")
@twilio_signed
def whisper(case_number: int, member: str):
    return _answer(VoiceStep("whisper", case_number=case_number, member=member))


@bp.post("/whisper-result/<int:case_number>/<member>")
@twilio_signed
def whisper_result(case_number: int, member: str):
    return _answer(VoiceStep("whisper_result", case_number=case_number, member=member))


@bp.post("/returning")
@twilio_signed
def returning():
    """The returning caller's menu: 1 note, 2 connect, 9 escalate (as the flow file says)."""
    return _answer(VoiceStep("returning"))


@bp.post("/note-recorded")
@twilio_signed
def note_recorded():
    """The returning caller's note is recorded: relayed to the engineer."""
    return _answer(VoiceStep("note_recorded"))


@bp.post("/status")
@twilio_signed
def call_status():
    """The critical line number's "call status changes" callback: a caller who hangs up
    half-way still leaves a case or a recorded attempt."""
    return _answer(VoiceStep("call_status"))
