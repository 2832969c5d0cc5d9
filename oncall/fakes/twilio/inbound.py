"""Traffic from the phones to the service: an inbound SMS (every parameter of Twilio's
incoming-message webhook, signed), with Twilio's own handling of the opt-out keywords, and a
callee picking up a call the service placed::

    fake.send_sms("http://127.0.0.1:5000", "+15555550101", "+15555550500", "ACK 1042")
    fake.answer_call(call_sid)          # a VoiceCall that fetched the call's Url (or inline Twiml)

Without a fake: ``send_sms(url, from_, to, body, auth_token)`` posts one signed inbound SMS,
and :func:`inbound_sms_params` builds its parameters.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from oncall.fakes.twilio.callbacks import StatusCallbacks
from oncall.fakes.twilio.failures import FailureInjection
from oncall.fakes.twilio.protocol import (
    API_VERSION,
    DEFAULT_ACCOUNT_SID,
    HELP_KEYWORDS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    geo_params,
    new_sid,
    num_segments,
)
from oncall.fakes.twilio.resources import inbound_message_json
from oncall.fakes.twilio.signing import multi, post_signed
from oncall.fakes.twilio.state import Callback, Resource
from oncall.fakes.twilio.voice import VoiceCall


def inbound_sms_params(
    from_: str,
    to: str,
    body: str,
    *,
    account_sid: str = DEFAULT_ACCOUNT_SID,
    message_sid: str | None = None,
    messaging_service_sid: str | None = None,
    media: Sequence[tuple[str, str]] = (),
    opt_out_type: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every parameter of Twilio's incoming-message webhook. ``media`` is (url, content type)
    pairs; ``opt_out_type`` (STOP/START/HELP) is what Advanced Opt-Out adds."""
    sid = message_sid or new_sid("MM" if media else "SM")
    params: dict[str, str] = {
        "ToCountry": "",
        "ToState": "",
        "ToCity": "",
        "ToZip": "",
        "FromCountry": "",
        "FromState": "",
        "FromCity": "",
        "FromZip": "",
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": str(num_segments(body)),
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }
    params.update(geo_params("To", to))
    params.update(geo_params("From", from_))
    if messaging_service_sid:
        params["MessagingServiceSid"] = messaging_service_sid
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    if opt_out_type:
        params["OptOutType"] = opt_out_type
    params.update(extra or {})
    return params


def send_sms(
    url: str,
    from_: str,
    to: str,
    body: str,
    auth_token: str,
    *,
    send_to: str | None = None,
    timeout: float = 10.0,
    **kwargs: Any,
) -> requests.Response:
    """POST a signed inbound SMS to ``url`` (the service's ``/twilio/sms``). ``kwargs`` go to
    :func:`inbound_sms_params` (``account_sid``, ``message_sid``, ``media``, ``extra``…)."""
    params = inbound_sms_params(from_, to, body, **kwargs)
    return post_signed(url, params, auth_token, send_to=send_to, timeout=timeout)


def _opt_out_type(body: str) -> str | None:
    """STOP, START or HELP when ``body`` is one of Twilio's keywords for them."""
    keyword = body.strip().upper()
    if keyword in OPT_OUT_KEYWORDS:
        return "STOP"
    if keyword in OPT_IN_KEYWORDS:
        return "START"
    if keyword in HELP_KEYWORDS:
        return "HELP"
    return None


class InboundTraffic(FailureInjection, StatusCallbacks):
    """The fake's side of inbound SMS and answered calls."""

    messaging_service_sid: str  # carried by inbound SMS
    handle_opt_out: bool  # inbound STOP/START change who gets 21610
    advanced_opt_out: bool  # adds OptOutType to inbound keywords

    def send_sms(
        self,
        service_url: str,
        from_: str,
        to: str,
        body: str,
        auth_token: str | None = None,
        *,
        media: Sequence[tuple[str, str]] = (),
        extra: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> requests.Response:
        """POST a signed inbound SMS to the service. ``service_url`` is the webhook URL; a bare
        base URL gets ``/twilio/sms``. STOP/START keywords update who gets 21610, as Twilio's
        own opt-out handling does, before the webhook is sent."""
        if urlsplit(service_url).path in ("", "/"):
            service_url = service_url.rstrip("/") + "/twilio/sms"
        opt_out_type = _opt_out_type(body)
        if self.handle_opt_out and opt_out_type == "STOP":
            self.opt_out(from_)
        elif self.handle_opt_out and opt_out_type == "START":
            self.opt_in(from_)
        params = inbound_sms_params(
            from_,
            to,
            body,
            account_sid=self.account_sid,
            messaging_service_sid=self.messaging_service_sid,
            media=media,
            opt_out_type=opt_out_type if self.advanced_opt_out else None,
            extra=extra,
        )
        self._store_inbound(params, from_, to, body, len(media))
        started = time.time()
        sent = multi(params)
        try:
            response = post_signed(
                service_url,
                params,
                auth_token or self.auth_token,
                send_to=self._send_to(service_url),
                timeout=timeout,
            )
        except requests.RequestException as exc:
            self._record_callback(Callback("sms", service_url, sent, None, repr(exc), started))
            raise
        self._record_callback(
            Callback("sms", service_url, sent, response.status_code, None, started)
        )
        return response

    def _store_inbound(
        self, params: dict[str, str], from_: str, to: str, body: str, num_media: int
    ) -> None:
        """Hold the inbound message, as Twilio does (``messages.list`` shows it)."""
        now = self._clock()
        sid = params["MessageSid"]
        data = inbound_message_json(
            self.account_sid,
            sid,
            to=to,
            from_=from_,
            service=self.messaging_service_sid,
            body=body,
            num_media=num_media,
            segments=params["NumSegments"],
            now=now,
        )
        self._store(Resource("messages", sid, data, multi(params), now, self._next_seq(), sent=now))

    def answer_call(
        self, call_sid: str, *, answered_by: str | None = None, timeout: float = 10.0
    ) -> VoiceCall:
        """The callee picks up a call the service placed: fetch its ``Url`` (or read its
        inline ``Twiml``) as Twilio does, and return the :class:`VoiceCall` to drive it."""
        with self._lock:
            res = self._resources.get(call_sid)
            if res is None or res.kind != "calls":
                raise KeyError(call_sid)
            url = (res.params.get("Url") or [""])[0]
            twiml = (res.params.get("Twiml") or [""])[0]
            method = (res.params.get("Method") or ["POST"])[0]
            from_, to = res.data["from"], res.data["to"]
            status_callback = res.status_callback
            routes = dict(self._routes)
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url)) if url else ""
        voice = VoiceCall(
            origin,
            self.auth_token,
            from_,
            to,
            call_sid,
            account_sid=self.account_sid,
            direction="outbound-api",
            status_callback=status_callback,
            extra_params={"AnsweredBy": answered_by} if answered_by else None,
            timeout=timeout,
            routes=routes,
        )

        def ended(status: str, duration: int) -> None:
            self._set_call_status(res, status, duration, self._clock())

        voice._on_end = ended
        self._set_call_status(res, "in-progress", None, self._clock())
        if url:
            voice.start(url, method=method, status="in-progress")
        else:
            voice.load_twiml(twiml)
        return voice
