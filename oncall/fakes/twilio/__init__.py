"""A fake Twilio for end-to-end tests and benchmarks: a real HTTP server on loopback.

The service under test talks to it exactly as it talks to Twilio (the official SDK, or plain
HTTP, with ``twilio.api_base`` set to ``fake.base_url``), and the fake calls the service back
the way Twilio does: signed status callbacks, signed inbound SMS, and a voice client that
follows TwiML ``action`` URLs. Split the way GoAlert's ``devtools/mocktwilio`` is:

- ``server``: :class:`~.server.FakeTwilio`, its settings, start and stop, reset;
- ``rest``: the REST API (Messages, Calls), over ``loopback`` (the HTTP server) and
  ``resources`` (their JSON and list pages); ``failures``: failures programmed per request;
- ``callbacks``: status callbacks to the service; ``inbound``: inbound SMS, answered calls;
- ``signing``: ``X-Twilio-Signature`` and signed webhook requests;
- ``voice``: :class:`~.voice.VoiceCall`, a phone call driven through the service's TwiML
  (``twiml`` reads the documents);
- ``state``: what the fake recorded; ``expectations``: fail on a message nobody expected;
- ``protocol``: Twilio's constants, error codes and formats.

Start and stop::

    with FakeTwilio() as fake:               # ThreadingHTTPServer on 127.0.0.1, port 0
        fake.base_url                        # "http://127.0.0.1:54321"
        fake.account_sid, fake.auth_token    # the credentials it accepts (HTTP Basic)
        client = fake.twilio_client()        # a twilio.rest.Client aimed at the fake;
                                             # its HTTP session is closed by fake.stop()

Pointing the official SDK at it by hand: ``client = Client(sid, token)`` then
``client.api.base_url = fake.base_url`` (``Domain.absolute_url`` reads it on every request, so
``client.messages`` and ``client.calls`` follow).

A phone call to the service::

    call = VoiceCall("http://127.0.0.1:5000", token, from_="+15551230001", to="+15555550500")
    call.start()                        # POST /twilio/voice, CallStatus=ringing
    call.said()                         # ["Welcome to the critical line.", …]
    call.gather()                       # {"action": "…", "numDigits": "1", "timeout": "5"}
    call.press("1")                     # POST to the Gather action with Digits=1
    call.no_input()                     # Gather timed out: actionOnEmptyResult or the next verb
    call.record(duration=12, digits="#")  # POST to <Record action> (RecordingUrl, …)
    call.recording_status_callback()    # POST to recordingStatusCallback (RecordingSid, …)
    leg = call.whisper(digits="1")      # the engineer's leg: <Number url> whisper, press 1
    call.dial_result("completed", bridged=True)  # POST to <Dial action>
    call.follow_redirect()
    call.hangup()                       # status callback CallStatus=completed, if configured

Behind a proxy: ``VoiceCall(..., public_base_url="https://oncall.example.com")`` and
``fake.route("https://oncall.example.com", "http://127.0.0.1:5000")`` sign the public URL and
deliver to the local one. Standalone: ``python -m oncall.fakes.twilio --port 8099``.

Nothing here imports pytest or the service's own parts.
"""
