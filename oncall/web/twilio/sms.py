"""``POST /twilio/sms``: engineers reply to pages by SMS.

Validate (Twilio's signature, the fields we need), hand the message to
:func:`oncall.services.sms_conversation.handle_sms`, answer with TwiML: the reply as a
``<Message>``, or an empty ``<Response/>`` when there is nothing to say (unknown numbers, error cap
reached)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from twilio.twiml.messaging_response import MessagingResponse

from oncall.services.sms_conversation import handle_sms
from oncall.web.context import runtime
from oncall.web.twilio.signature import twilio_signed

bp = Blueprint("twilio_sms", __name__)

MAX_BODY = 1600  # Twilio's own limit for an inbound SMS body


@bp.post("/twilio/sms")
@twilio_signed
def inbound_sms():
    form = request.form
    from_number = form.get("From")
    body = form.get("Body")
    # SmsSid/SmsMessageSid are deprecated aliases Twilio still sends.
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid")
    if not from_number or body is None or not sid or len(sid) > 64 or len(body) > MAX_BODY:
        abort(400)
    rt = runtime()
    reply = handle_sms(rt, from_number=from_number, body=body, message_sid=sid, now=rt.clock.now())
    twiml = MessagingResponse()
    if reply:
        twiml.message(reply)
    return Response(str(twiml), mimetype="text/xml")
