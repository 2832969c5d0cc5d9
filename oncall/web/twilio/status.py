"""Delivery and call status callbacks, and the voice page (TwiML) with "press 1".

* ``POST /twilio/status``: message (``MessageSid``/``MessageStatus``) and call (``CallSid``/
  ``CallStatus``) status callbacks, applied in order and idempotently by
  :func:`oncall.delivery.status_callbacks.apply_status_callback`. A sid we don't know gets 200
  and is ignored (Twilio would otherwise retry it). That includes a callback that overtakes our own
  record of the send (the provider id is stored when ``Messages.json`` answers): Twilio sends
  the later statuses too, and a page that fails this way is still caught by the escalation.
* ``POST /twilio/page/<id>``: what a voice page says (case, severity, customer, summary) in a
  ``<Gather numDigits=1>``; ``POST /twilio/page/<id>/ack``: ``Digits=1`` acknowledges the case
  as the person who was called.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, request
from twilio.twiml.voice_response import VoiceResponse

from oncall.db.models import INTEGER_MAX
from oncall.delivery.status_callbacks import apply_status_callback
from oncall.services.voice_pages import acknowledge_voice_page, voice_page
from oncall.web.context import runtime
from oncall.web.twilio.signature import public_url_for, twilio_signed

log = logging.getLogger("oncall.web.twilio")

bp = Blueprint("twilio_status", __name__)

GATHER_TIMEOUT = 8  # seconds to press 1 after the page has been read


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


@bp.post("/twilio/status")
@twilio_signed
def status_callback():
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid") or form.get("CallSid")
    status = form.get("MessageStatus") or form.get("SmsStatus") or form.get("CallStatus")
    if not sid or not status or len(sid) > 64 or len(status) > 40:
        abort(400)
    code_text = form.get("ErrorCode") or ""
    # Twilio's codes have five digits; anything else is not one of theirs (and "²".isdigit()).
    error_code = int(code_text) if code_text.isascii() and code_text.isdigit() else None
    if error_code is not None and error_code > INTEGER_MAX:
        error_code = None
    rt = runtime()
    outcome = apply_status_callback(rt, sid, status, rt.clock.now(), error_code=error_code)
    log.info("status callback %s %s: %s", sid, status, outcome)
    return Response("", status=200, mimetype="text/plain")


@bp.post("/twilio/page/<int:outbox_id>")
@twilio_signed
def page_call(outbox_id: int):
    page = voice_page(runtime(), outbox_id)
    response = VoiceResponse()
    if page is None:
        response.say("Sorry, this page is no longer available. Goodbye.")
        response.hangup()
        return _twiml(response)
    if not page.can_acknowledge:
        response.say(page.text)
        response.hangup()
        return _twiml(response)
    gather = response.gather(
        num_digits=1,
        action=public_url_for(f"/twilio/page/{outbox_id}/ack"),
        method="POST",
        timeout=GATHER_TIMEOUT,
    )
    gather.say(f"{page.text} Press 1 to acknowledge.")
    # Nothing pressed: say it once more, then hang up (the escalation goes on by its timers).
    again = response.gather(
        num_digits=1,
        action=public_url_for(f"/twilio/page/{outbox_id}/ack"),
        method="POST",
        timeout=GATHER_TIMEOUT,
    )
    again.say("Press 1 to acknowledge this case.")
    response.say("Not acknowledged. Goodbye.")
    response.hangup()
    return _twiml(response)


@bp.post("/twilio/page/<int:outbox_id>/ack")
@twilio_signed
def page_ack(outbox_id: int):
    digits = request.form.get("Digits", "")
    response = VoiceResponse()
    if digits != "1":
        response.redirect(public_url_for(f"/twilio/page/{outbox_id}"), method="POST")
        return _twiml(response)
    rt = runtime()
    reply = acknowledge_voice_page(rt, outbox_id, rt.clock.now())
    if reply is None:
        response.say("Sorry, this page is no longer available. Goodbye.")
    else:
        response.say(reply)
    response.hangup()
    return _twiml(response)
