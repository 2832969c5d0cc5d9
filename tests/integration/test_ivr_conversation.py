"""The critical line's phone IVR, walked the way Twilio walks it.

Each test is a phone conversation: a signed webhook goes in, TwiML comes back, and the next
request follows the TwiML (the ``<Gather action>`` with ``Digits``, the ``<Redirect>`` when the
caller says nothing, the ``<Record action>`` with ``RecordingUrl``, the engineer's ``<Number
url>`` whisper, the ``<Dial action>`` with ``DialCallStatus``), using Twilio's real parameter
names and valid ``X-Twilio-Signature`` headers over the public URL.

The clock starts Tuesday 2026-11-24 03:00 in Toronto (after hours). On call then (see
rotations/support.yaml): primary Alice (+15550100101), secondary Bob (+15550100102).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from oncall.db.models import (
    Attempt,
    Case,
    CaseEvent,
    MisuseFlag,
    OutboundMessage,
    VoiceCall,
    WebhookReceipt,
)
from oncall.services import ivr

BASE = "https://oncall.vendor.example"
TOKEN = "test-auth-token"
ACCOUNT = "AC" + "0" * 32
CRITICAL_LINE = "+15555550501"
ALICE, BOB = "+15550100101", "+15550100102"
WILE, ROAD_RUNNER = "+15551230001", "+15551230002"  # Acme (premium: always covered)
HANK = "+15551230101"  # Globex (standard: business hours only)
BILL = "+15551230201"  # Initech (basic: no critical line)
STRANGER = "+15550009999"


# -- a caller, the way Twilio plays one --------------------------------------------------------
class TwiML:
    def __init__(self, status: int, body: str):
        self.status = status
        self.body = body
        self.root = ET.fromstring(body) if status == 200 else None  # our own TwiML

    def _first(self, tag: str) -> ET.Element | None:
        return None if self.root is None else self.root.find(tag)

    @property
    def says(self) -> list[str]:
        return [] if self.root is None else [e.text or "" for e in self.root.iter("Say")]

    @property
    def text(self) -> str:
        return " ".join(self.says)

    @property
    def verbs(self) -> list[str]:
        return [] if self.root is None else [child.tag for child in self.root]

    gather = property(lambda self: self._first("Gather"))
    record = property(lambda self: self._first("Record"))
    dial = property(lambda self: self._first("Dial"))
    redirect = property(lambda self: self._first("Redirect"))

    @property
    def hangs_up(self) -> bool:
        return self.verbs[-1:] == ["Hangup"]

    def __repr__(self) -> str:
        return f"TwiML({self.status}, {self.body!r})"


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


class Caller:
    """One inbound call to the critical line; each method is one thing Twilio does."""

    def __init__(self, client, from_: str = WILE, call_sid: str | None = None):
        self.client = client
        self.sid = call_sid or "CA" + uuid.uuid4().hex
        self.from_ = from_
        self.params = {
            "CallSid": self.sid,
            "AccountSid": ACCOUNT,
            "From": from_,
            "To": CRITICAL_LINE,
            "Caller": from_,
            "Called": CRITICAL_LINE,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            "FromCountry": "US",
            "FromState": "ON",
            "ToCountry": "US",
            "CallToken": "%7B%22parentCallInfoToken",
            "StirVerstat": "TN-Validation-Passed-A",
        }
        self.last: TwiML | None = None
        self.last_request: tuple[str, dict[str, str]] | None = None
        self.whispers: list[TwiML] = []
        self.child_sid: str | None = None

    def post(self, url: str, params: dict[str, str]) -> TwiML:
        assert url.startswith(BASE), url
        response = self.client.post(
            url[len(BASE) :], data=params, headers={"X-Twilio-Signature": sign(url, params)}
        )
        return TwiML(response.status_code, response.get_data(as_text=True))

    def _step(self, url: str, **extra: str) -> TwiML:
        params = {**self.params, **extra}
        self.last_request = (url, params)
        self.last = self.post(url, params)
        assert self.last.status == 200, self.last
        return self.last

    def dial_in(self) -> TwiML:
        return self._step(BASE + "/twilio/voice", CallStatus="ringing")

    def press(self, digits: str) -> TwiML:
        gather = self._need("gather")
        return self._step(gather.get("action"), Digits=digits)

    def stay_silent(self) -> TwiML:
        """The <Gather> times out: Twilio carries on with the next verb, our <Redirect>."""
        self._need("gather")
        return self._step(self._need("redirect").text)

    def speak(self, seconds: int = 14) -> TwiML:
        record = self._need("record")
        self.recording_sid = "RE" + uuid.uuid4().hex
        return self._step(
            record.get("action"),
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/"
            f"{self.recording_sid}",
            RecordingDuration=str(seconds),
            Digits="#",
        )

    def recording_callback(self, url: str, status: str = "completed") -> TwiML:
        params = {
            "AccountSid": ACCOUNT,
            "CallSid": self.sid,
            "RecordingSid": self.recording_sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/"
            f"{self.recording_sid}",
            "RecordingStatus": status,
            "RecordingDuration": "14",
            "RecordingChannels": "1",
            "RecordingStartTime": "Tue, 24 Nov 2026 08:01:00 +0000",
            "RecordingSource": "RecordVerb",
            "RecordingTrack": "both",
        }
        return self.post(url, params)

    def engineer_answers(self, press: str | None = "1") -> TwiML:
        """The engineer's phone picks up: Twilio fetches the whisper on their leg; they press
        ``press`` (None: a voicemail box listens and presses nothing)."""
        dial = self._need("dial")
        number = dial.find("Number")
        self.child_sid = "CA" + uuid.uuid4().hex
        leg = {
            "CallSid": self.child_sid,
            "ParentCallSid": self.sid,
            "AccountSid": ACCOUNT,
            "From": CRITICAL_LINE,
            "To": number.text,
            "Direction": "outbound-dial",
            "CallStatus": "in-progress",
            "ApiVersion": "2010-04-01",
        }
        whisper = self.post(number.get("url"), leg)
        assert whisper.status == 200, whisper
        self.whispers.append(whisper)
        bridged = False
        if press is not None:
            result = self.post(whisper.gather.get("action"), {**leg, "Digits": press})
            assert result.status == 200, result
            bridged = not result.hangs_up
        return self._step(
            dial.get("action"),
            DialCallStatus="completed",
            DialCallSid=self.child_sid,
            DialCallDuration="95" if bridged else "9",
            DialBridged="true" if bridged else "false",
        )

    def engineer_does_not_answer(self, status: str = "no-answer") -> TwiML:
        dial = self._need("dial")
        return self._step(
            dial.get("action"),
            DialCallStatus=status,
            DialCallSid="CA" + uuid.uuid4().hex,
            DialCallDuration="0",
            DialBridged="false",
        )

    def retry(self) -> TwiML:
        """Twilio sends the very same request again (it timed out waiting for us)."""
        assert self.last_request is not None
        url, params = self.last_request
        return self.post(url, params)

    def _need(self, verb: str) -> ET.Element:
        assert self.last is not None
        element = getattr(self.last, verb)
        assert element is not None, f"no <{verb.capitalize()}> in {self.last.body}"
        return element


# -- database helpers --------------------------------------------------------------------------
def count(runtime, model, *where) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def rows(runtime, model, *where, order=None) -> list[Any]:
    with runtime.sessions() as session:
        query = select(model).where(*where)
        if order is not None:
            query = query.order_by(order)
        result = list(session.scalars(query))
        session.expunge_all()
        return result


def the_case(runtime) -> Case:
    cases = rows(runtime, Case)
    assert len(cases) == 1, cases
    return cases[0]


def event_kinds(runtime, case: Case) -> list[str]:
    return [
        e.kind for e in rows(runtime, CaseEvent, CaseEvent.case_id == case.id, order=CaseEvent.id)
    ]


def open_s1_case(client, from_: str = WILE) -> Caller:
    call = Caller(client, from_)
    call.dial_in()
    call.press("1")
    call.speak()
    return call


# -- the conversations -------------------------------------------------------------------------
def test_known_caller_reports_an_s1_is_connected_and_the_engineer_accepts(client, runtime):
    call = Caller(client, WILE)
    t = call.dial_in()
    assert "Vendor Support critical support line" in t.text
    assert "critical issues only" in t.text
    assert "Hello Wile E. Coyote, from Acme Corp" in t.text  # recognised by caller ID
    assert t.gather.get("action") == BASE + "/twilio/voice/menu/1"
    assert t.gather.get("numDigits") == "1"
    assert "press 1" in t.gather.find("Say").text

    t = call.press("1")
    assert "describe the problem" in t.text
    assert t.record.get("action") == BASE + "/twilio/voice/recorded"
    assert t.record.get("maxLength") == "120"
    assert t.record.get("recordingStatusCallback") == BASE + "/twilio/voice/recording-status"

    t = call.speak(14)
    assert "Your case number is 1 0 0 1" in t.text  # digit by digit
    dial = t.dial
    assert dial.get("callerId") == CRITICAL_LINE
    assert dial.get("timeout") == "20"
    assert dial.get("action") == BASE + "/twilio/voice/dial-result/0"
    number = dial.find("Number")
    assert number.text == ALICE
    assert number.get("url") == BASE + "/twilio/voice/whisper/1001/alice"

    t = call.engineer_answers(press="1")
    whisper = call.whispers[0]
    assert "Acme Corp" in whisper.text and "severity 1" in whisper.text
    assert "case 1 0 0 1" in whisper.text and "Press 1 to accept" in whisper.text
    assert whisper.gather.get("numDigits") == "1" and whisper.hangs_up
    assert "Your case number is 1 0 0 1" in t.text and t.hangs_up

    case = the_case(runtime)
    assert case.number == 1001 and case.channel == "voice" and case.severity == 1
    assert case.state == "acknowledged" and case.acknowledged_by == "alice"
    assert case.intake_key == f"call:{call.sid}"
    assert case.recording_url.endswith(call.recording_sid) and case.recording_duration == 14
    assert case.summary == "Phone report (recording 14s)"
    assert case.contact_phone == WILE and case.contact_email == "wile@acme.example"
    kinds = event_kinds(runtime, case)
    for kind in ("opened", "call_connect", "acknowledged", "call_accepted", "call_ended"):
        assert kind in kinds, kinds
    # The caller also gets the case number in writing.
    sms = rows(
        runtime,
        OutboundMessage,
        OutboundMessage.purpose == "opened",
        OutboundMessage.channel == "sms",
    )
    assert [m.to_address for m in sms] == [WILE]
    assert "1001" in sms[0].body
    assert count(runtime, Attempt) == 0


def test_the_case_email_of_a_call_has_its_message_id_at_once(client, runtime):
    call = Caller(client, WILE)
    call.dial_in()
    call.press("1")
    call.speak()
    (email,) = rows(
        runtime,
        OutboundMessage,
        OutboundMessage.purpose == "opened",
        OutboundMessage.channel == "email",
    )
    assert email.to_address == "wile@acme.example"
    assert re.fullmatch(rf"<oncall\.{email.id}\.[0-9a-f]{{16}}@vendor\.example>", email.message_id)


def test_s2_opens_an_s2_case(client, runtime):
    call = Caller(client, ROAD_RUNNER)
    call.dial_in()
    call.press("2")
    call.speak()
    case = the_case(runtime)
    assert case.severity == 2 and case.contact_name == "Road Runner"
    t = call.engineer_answers(press="2")  # Alice answers and declines (any key but 1)
    assert "severity 2" in call.whispers[0].text
    assert t.dial.find("Number").text == BOB  # not answered: the next person is tried
    assert "call_declined" in event_kinds(runtime, case)
    assert the_case(runtime).acknowledged_by is None


def test_unknown_caller_with_the_right_pin(client, runtime):
    call = Caller(client, STRANGER)
    t = call.dial_in()
    assert "could not recognise the number" in t.text
    gather = t.gather
    assert gather.get("action") == BASE + "/twilio/voice/pin/1"
    assert gather.get("finishOnKey") == "#" and gather.get("numDigits") is None
    t = call.press("482193")
    assert "Your account, Acme Corp, is verified" in t.text
    assert t.gather.get("action") == BASE + "/twilio/voice/menu/1"
    call.press("1")
    call.speak()
    case = the_case(runtime)
    assert case.customer_key == "acme" and case.contact_phone == STRANGER
    assert case.contact_email is None and case.contact_name == ""


def test_unknown_caller_with_three_wrong_pins_hears_goodbye_and_is_recorded(client, runtime):
    call = Caller(client, STRANGER)
    call.dial_in()
    t = call.press("1111")
    assert "that PIN was not recognised" in t.text
    assert t.gather.get("action") == BASE + "/twilio/voice/pin/2"
    t = call.stay_silent()  # the second try: nothing keyed
    assert "not recognised" not in t.text
    assert t.gather.get("action") == BASE + "/twilio/voice/pin/3"
    t = call.press("2222")
    assert "could not verify your account" in t.text and "Goodbye" in t.text
    assert t.hangs_up and t.gather is None
    assert count(runtime, Case) == 0
    (attempt,) = rows(runtime, Attempt, Attempt.reason != "wrong_pin")
    assert attempt.channel == "voice" and attempt.reason == "bad_pin"
    assert attempt.contact == STRANGER and attempt.customer_key is None
    assert "could not verify your account" in attempt.told
    assert attempt.detail["wrong_pins"] == 2
    assert attempt.intake_key == f"call:{call.sid}"
    # Each wrong PIN is recorded on its own too (the PIN guard counts them); silence is not.
    wrong = rows(runtime, Attempt, Attempt.reason == "wrong_pin", order=Attempt.id)
    assert [(a.contact, a.detail["try"]) for a in wrong] == [(STRANGER, 1), (STRANGER, 3)]


def test_a_caller_who_never_keys_a_pin_is_an_unknown_caller(client, runtime):
    call = Caller(client, STRANGER)
    call.dial_in()
    for _ in range(3):
        t = call.stay_silent()
    assert t.hangs_up
    (attempt,) = rows(runtime, Attempt)
    assert attempt.reason == "unknown_caller"


def test_not_entitled_after_hours_is_told_recorded_and_forwarded(client, runtime):
    call = Caller(client, HANK)  # Globex: standard plan, business hours only; it is 03:00
    t = call.dial_in()
    assert "Hello Hank Scorpio, from Globex" in t.text
    assert "your support plan covers the critical line in business hours" in t.text
    assert "email support at vendor dot example" in t.text  # the regular channels
    assert "Monday to Friday, 9 AM to 5 PM Toronto time" in t.text  # and their hours
    assert t.hangs_up and t.gather is None
    assert count(runtime, Case) == 0
    (attempt,) = rows(runtime, Attempt)
    assert attempt.reason == "not_entitled" and attempt.customer_key == "globex"
    assert attempt.forwarded is True and "business hours" in attempt.told
    (forward,) = rows(runtime, OutboundMessage)
    assert forward.channel == "email" and forward.purpose == "forward"
    assert forward.to_address == "support-queue@vendor.example"
    assert forward.from_address == "support@vendor.example"
    assert "Hank Scorpio" in forward.body and HANK in forward.body
    assert forward.subject == "Critical line call refused (not entitled): Hank Scorpio (Globex)"
    # The one forward (oncall.cases.forward): no recipient key, Message-ID given when sent.
    assert forward.recipient == "" and forward.message_id is None
    # Nobody was paged.
    assert count(runtime, OutboundMessage, OutboundMessage.channel == "sms") == 0


def test_a_plan_without_the_critical_line_is_refused(client, runtime):
    t = Caller(client, BILL).dial_in()
    assert "your support plan does not include the critical line" in t.text
    assert rows(runtime, Attempt)[0].reason == "not_entitled"


def test_standard_plan_is_served_in_business_hours(client, runtime, clock):
    clock.set(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))  # 10:00 Toronto, a Tuesday
    t = Caller(client, HANK).dial_in()
    assert t.gather.get("action") == BASE + "/twilio/voice/menu/1"


def test_menu_3_is_refused_with_the_regular_channels_and_the_fee_warning(client, runtime):
    call = Caller(client, WILE)
    call.dial_in()
    t = call.press("3")
    assert "reserved for severity 1 and severity 2" in t.text
    assert "email support at vendor dot example" in t.text
    assert "may incur a fee of 250 US dollars" in t.text
    assert t.hangs_up
    assert count(runtime, Case) == 0
    (attempt,) = rows(runtime, Attempt)
    assert attempt.reason == "non_critical" and attempt.customer_key == "acme"
    assert "fee" in attempt.told


def test_repeated_non_critical_calls_raise_a_review(client, runtime):
    for _ in range(3):  # penalties.refused_attempts_review: 3
        call = Caller(client, WILE)
        call.dial_in()
        call.press("3")
    (flag,) = rows(runtime, MisuseFlag)
    assert flag.kind == "review" and flag.customer_key == "acme"


def test_invalid_digits_repeat_the_menu_then_give_up(client, runtime):
    call = Caller(client, WILE)
    call.dial_in()
    t = call.press("9")
    assert "not one of the choices" in t.text
    assert t.gather.get("action") == BASE + "/twilio/voice/menu/2"
    t = call.stay_silent()
    assert "not one of the choices" not in t.text  # silence just hears the menu again
    assert t.gather.get("action") == BASE + "/twilio/voice/menu/3"
    t = call.press("*")
    assert "did not receive a choice" in t.text and t.hangs_up
    assert count(runtime, Case) == 0
    (attempt,) = rows(runtime, Attempt)
    assert attempt.reason == "no_menu_choice" and attempt.detail["tries"] == 3
    with runtime.sessions() as session:
        assert session.get(VoiceCall, call.sid).menu_attempts == 3


def test_nobody_answers_at_any_level_then_the_caller_hears_they_were_paged(client, runtime):
    call = open_s1_case(client)
    assert call.last.dial.find("Number").text == ALICE
    t = call.engineer_does_not_answer("no-answer")
    assert "Trying the next engineer" in t.text
    assert t.dial.find("Number").text == BOB  # the secondary, the policy's next step
    assert t.dial.get("action") == BASE + "/twilio/voice/dial-result/1"
    t = call.engineer_answers(press=None)  # Bob's voicemail picks up and hears the whisper
    assert t.dial is None
    assert "The on-call engineer has been paged" in t.text
    assert "Your case number is 1 0 0 1" in t.text
    assert "status update within the hour" in t.text
    assert t.hangs_up
    case = the_case(runtime)
    assert case.state == "open" and case.acknowledged_by is None  # the engine keeps paging
    kinds = event_kinds(runtime, case)
    assert kinds.count("call_connect") == 2 and kinds.count("call_not_answered") == 2


def test_completed_without_bridge_counts_as_not_answered():
    assert ivr.dial_answered("completed", "true", accepted=False)
    assert ivr.dial_answered("answered", "true", accepted=False)
    assert not ivr.dial_answered("completed", "false", accepted=True)
    for status in ("busy", "no-answer", "failed", "canceled"):
        assert not ivr.dial_answered(status, "true", accepted=True)
    # Without DialBridged the whisper's own record decides.
    assert ivr.dial_answered("completed", None, accepted=True)
    assert not ivr.dial_answered("completed", None, accepted=False)


def test_a_second_call_joins_the_open_case(client, runtime):
    first = open_s1_case(client)
    first.engineer_does_not_answer()
    first.engineer_does_not_answer("busy")
    pages_before = count(runtime, OutboundMessage)

    second = Caller(client, ROAD_RUNNER)  # a colleague at the same customer
    t = second.dial_in()
    assert "You already have an open case, number 1 0 0 1" in t.text
    # the returning caller's menu (test_returning_caller.py), not the severity menu: 2 connects
    assert t.gather.get("action") == BASE + "/twilio/voice/returning"
    t = second.press("2")
    assert t.dial.find("Number").text == ALICE  # whoever the policy is paging now
    t = second.engineer_answers(press="1")
    assert "Thank you for calling" in t.text
    case = the_case(runtime)
    assert case.acknowledged_by == "alice"
    assert "customer_called" in event_kinds(runtime, case)
    # No page storm: the only new messages are the acknowledgement's notices.
    new = rows(runtime, OutboundMessage, OutboundMessage.id > pages_before)
    assert {m.purpose for m in new} <= {"ack_notice", "acknowledged"}


def test_a_second_call_is_put_through_to_the_engineer_who_acknowledged(client, runtime):
    from oncall.services.case_actions import acknowledge

    open_s1_case(client).engineer_does_not_answer()
    with runtime.sessions() as session, session.begin():
        case = session.scalar(select(Case))
        acknowledge(session, runtime, case, "bob", runtime.clock.now(), via="sms")
    caller = Caller(client, WILE)
    caller.dial_in()
    t = caller.press("2")  # the returning caller's "connect me"
    assert t.dial.find("Number").text == BOB
    assert t.dial.find("Number").get("url") == BASE + "/twilio/voice/whisper/1001/bob"


def test_a_retried_webhook_gets_the_same_twiml_and_opens_one_case(client, runtime):
    call = Caller(client, WILE)
    first = call.dial_in()
    assert call.retry().body == first.body
    call.press("1")
    recorded = call.speak()
    again = call.retry()
    assert again.body == recorded.body
    assert count(runtime, Case) == 1
    assert count(runtime, CaseEvent, CaseEvent.kind == "opened") == 1
    assert count(runtime, OutboundMessage, OutboundMessage.purpose == "opened") == 2  # sms+email
    dial_result = call.engineer_does_not_answer()
    assert call.retry().body == dial_result.body
    assert count(runtime, CaseEvent, CaseEvent.kind == "call_not_answered") == 1
    assert count(runtime, WebhookReceipt) == 4


def test_a_concurrent_duplicate_gets_what_the_first_one_got(client, runtime, db_url, monkeypatch):
    if not db_url.startswith("postgresql"):
        pytest.skip("needs a second writer while the first is in flight (PostgreSQL)")
    from sqlalchemy import insert

    from oncall.services import phone_intake

    real = phone_intake.HANDLERS["entry"]

    def racing(ctx, step):
        reply = real(ctx, step)
        # Twilio's retry reached another worker, which answered and committed first.
        with runtime.db.begin() as connection:
            connection.execute(
                insert(WebhookReceipt).values(
                    key=phone_intake.receipt_key(ctx.call_sid, step, ctx.params),
                    received_at=ctx.now,
                    response="<Response><Say>first</Say></Response>",
                    status_code=200,
                )
            )
        return reply

    monkeypatch.setitem(phone_intake.HANDLERS, "entry", racing)
    t = Caller(client, WILE).dial_in()
    assert t.says == ["first"]
    assert count(runtime, VoiceCall) == 0  # our half was rolled back


def test_a_retried_wrong_pin_is_not_counted_twice(client, runtime):
    call = Caller(client, STRANGER)
    call.dial_in()
    first = call.press("1111")
    assert call.retry().body == first.body
    with runtime.sessions() as session:
        assert session.get(VoiceCall, call.sid).pin_attempts == 1


def test_the_recording_status_callback_stores_the_recording_sid(client, runtime):
    call = Caller(client, WILE)
    call.dial_in()
    record_twiml = call.press("1")
    callback_url = record_twiml.record.get("recordingStatusCallback")
    call.speak()
    answer = call.recording_callback(callback_url)
    assert answer.status == 200 and answer.verbs == []
    case = the_case(runtime)
    assert case.recording_sid == call.recording_sid
    assert "recording" in event_kinds(runtime, case)


def test_a_recording_callback_before_the_case_opens_is_kept(client, runtime):
    call = Caller(client, WILE)
    call.dial_in()
    callback_url = call.press("1").record.get("recordingStatusCallback")
    call.recording_sid = "RE" + uuid.uuid4().hex
    assert call.recording_callback(callback_url).status == 200
    call.speak()  # a new recording SID in the action is irrelevant: the callback's wins
    with runtime.sessions() as session:
        sid = session.get(VoiceCall, call.sid).recording_sid
    assert the_case(runtime).recording_sid == sid


def test_a_silent_caller_still_gets_a_case(client, runtime):
    call = Caller(client, WILE)
    call.dial_in()
    call.press("1")
    # No audio: Twilio skips the <Record> action and follows our <Redirect>.
    t = call._step(call.last.redirect.text)
    assert "Your case number is 1 0 0 1" in t.text
    case = the_case(runtime)
    assert case.recording_url is None and case.summary == "Phone report (no recording)"


def hang_up(call: Caller, status: str = "completed") -> TwiML:
    """The number's status callback: the call is over."""
    return call.post(
        BASE + "/twilio/voice/status", {**call.params, "CallStatus": status, "CallDuration": "31"}
    )


def test_a_caller_who_hangs_up_at_the_menu_leaves_a_recorded_attempt(client, runtime):
    call = Caller(client, WILE)
    call.dial_in()
    assert hang_up(call, "ringing").status == 200  # not the end yet: nothing happens
    assert count(runtime, Attempt) == 0
    assert hang_up(call).status == 200
    assert hang_up(call).status == 200  # retried
    (attempt,) = rows(runtime, Attempt)
    assert attempt.reason == "abandoned" and attempt.customer_key == "acme"
    assert attempt.detail["at_step"] == "menu"


def test_a_caller_who_chose_s1_and_hung_up_before_describing_still_gets_a_case(client, runtime):
    call = Caller(client, WILE)
    call.dial_in()
    call.press("1")
    hang_up(call)
    case = the_case(runtime)
    assert case.severity == 1 and "hung up before describing" in case.summary
    assert (
        count(
            runtime,
            OutboundMessage,
            OutboundMessage.purpose == "opened",
            OutboundMessage.channel == "sms",
        )
        == 1
    )
    # Twilio's <Record> action arriving late still attaches the recording to that case.
    t = call.speak(9)
    assert "Your case number is 1 0 0 1" in t.text and t.hangs_up
    case = the_case(runtime)
    assert case.recording_url.endswith(call.recording_sid) and case.recording_duration == 9
    assert count(runtime, Attempt) == 0


def test_the_end_of_a_call_that_opened_a_case_changes_nothing(client, runtime):
    call = open_s1_case(client)
    call.engineer_answers()
    hang_up(call)
    assert count(runtime, Attempt) == 0 and count(runtime, Case) == 1


def test_a_step_for_an_unknown_call_starts_over(client, runtime):
    call = Caller(client, WILE)
    t = call._step(BASE + "/twilio/voice/menu/1", Digits="1")
    assert t.redirect.text == BASE + "/twilio/voice"
    assert count(runtime, Case) == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/twilio/voice", {"From": WILE}),  # no CallSid
        ("/twilio/voice", {"CallSid": "not-a-sid", "From": WILE}),
        ("/twilio/voice/dial-result/0", {"CallSid": "CA" + "1" * 32}),  # no DialCallStatus
        ("/twilio/voice/recording-status", {"CallSid": "CA" + "1" * 32}),  # no RecordingSid
        ("/twilio/voice/recorded", {"CallSid": "CA" + "1" * 32, "RecordingDuration": "ten"}),
        ("/twilio/voice/pin/0", {"CallSid": "CA" + "1" * 32, "Digits": "1"}),
    ],
)
def test_malformed_requests_are_400_not_500(client, runtime, path, params):
    response = client.post(
        path, data=params, headers={"X-Twilio-Signature": sign(BASE + path, params)}
    )
    assert response.status_code == 400
    assert count(runtime, VoiceCall) == 0 and count(runtime, WebhookReceipt) == 0


def test_spoken_digits_and_hours():
    from zoneinfo import ZoneInfo

    from oncall.domain.eligibility import BusinessHours

    assert ivr.spoken_digits(1042) == "1 0 4 2"
    hours = BusinessHours(
        (0, 1, 2, 3, 4), datetime(2026, 1, 1, 9).time(), datetime(2026, 1, 1, 17, 30).time(), ()
    )
    assert ivr.describe_hours(hours, ZoneInfo("America/Toronto")) == (
        "Monday to Friday, 9 AM to 5:30 PM Toronto time"
    )
    assert ivr.describe_fee(250, "USD") == "250 US dollars"
    assert ivr.describe_fee(99.5, "CHF") == "99.50 CHF"
