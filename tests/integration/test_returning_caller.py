"""The line knows a returning caller (issue 12, item 2), as Acme lives it: Wile's S1 call opened
case 1001 at 03:00, Alice acknowledged it and sent a status with an ETA. Road Runner calls
back: they hear the case number, that Alice is working on it, her status in her words with
its ETA and when the next update is due, then the returning menu: 1 records a note that
reaches Alice by SMS with the recording's link, 2 puts them through to her, 9 pages the duty
manager (Dana) once, however often it is pressed within 30 minutes; anything else: goodbye.

Calls come signed as Twilio sends them; the engine and the sender run on a fake clock.
"""

from __future__ import annotations

import pytest

from oncall.bootstrap.runtime import build_runtime
from oncall.web.app import create_app
from tests.fakes.transports import ALICE, DANA, FakeTransport, PagingWorld
from tests.integration.test_ivr_conversation import BASE, ROAD_RUNNER, WILE, Caller, open_s1_case

STATUS = "Rolled back the deploy, watching the queues ETA 30m"


@pytest.fixture
def world(settings, clock, db_engine) -> PagingWorld:
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


@pytest.fixture
def client(world):
    return create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()


@pytest.fixture
def case_with_status(world, client) -> int:
    """03:00 Wile reports an S1 (nobody takes the call); 03:02 Alice ACKs; 03:05 her status."""
    call = open_s1_case(client)
    call.engineer_does_not_answer()
    call.engineer_does_not_answer()
    world.settle()
    world.advance(minutes=2)
    world.sms(ALICE, "ACK 1001")
    world.advance(minutes=3)
    world.sms(ALICE, f"STATUS 1001 {STATUS}")
    world.advance(minutes=5)  # 03:10
    return 1001


def manager_pages(world: PagingWorld) -> list[str]:
    return [t for t in world.texts(DANA) if "CUSTOMER ESCALATION" in t]


def test_a_returning_caller_hears_who_has_the_case_its_status_eta_and_next_update(
    world, client, case_with_status
):
    t = Caller(client, ROAD_RUNNER).dial_in()
    said = t.text
    assert "You already have an open case, number 1 0 0 1" in said
    assert "Alice is working on it." in said
    assert f"The latest update from Alice, at 3:05 AM: {STATUS}." in said
    assert "The estimated time to resolution is 3:35 AM." in said
    assert "The next update is due by" in said
    assert "press 1" in said and "press 2" in said and "press 9" in said
    assert t.gather.get("action") == BASE + "/twilio/voice/returning"
    assert "+1555" not in said  # no phone number is ever read out


def test_before_anyone_acknowledges_the_caller_hears_an_engineer_has_been_paged(world, client):
    call = open_s1_case(client)
    call.engineer_does_not_answer()
    call.engineer_does_not_answer()
    world.settle()
    t = Caller(client, ROAD_RUNNER).dial_in()
    assert "An engineer has been paged and will take charge of it." in t.text
    assert "There is no status update yet." in t.text


def test_pressing_1_records_a_note_that_reaches_the_engineer(world, client, case_with_status):
    caller = Caller(client, ROAD_RUNNER)
    caller.dial_in()
    t = caller.press("1")
    assert "record your note for the engineer" in t.text
    assert t.verbs[-2:] == ["Record", "Redirect"]
    t = caller.speak(seconds=23)
    assert "Your note has been passed to Alice." in t.text and t.hangs_up
    world.settle()
    (note,) = [x for x in world.texts(ALICE) if "voice note" in x]
    assert note.startswith("Case 1001 Acme Corp: Road Runner left you a voice note (23s): ")
    assert f"/Recordings/{caller.recording_sid}.mp3" in note
    assert "customer_note" in world.kinds(1001)
    # Twilio retries the callback: no second SMS
    caller.retry()
    world.settle()
    assert len([x for x in world.texts(ALICE) if "voice note" in x]) == 1


def test_a_silent_note_says_so_and_relays_nothing(world, client, case_with_status):
    caller = Caller(client, ROAD_RUNNER)
    caller.dial_in()
    caller.press("1")
    # the <Record> heard nothing: Twilio skips its action and follows our <Redirect>
    t = caller._step(caller._need("redirect").text)
    assert "We did not receive a note." in t.text
    world.settle()
    assert not [x for x in world.texts(ALICE) if "voice note" in x]


def test_pressing_2_connects_to_the_engineer_working_the_case(world, client, case_with_status):
    caller = Caller(client, ROAD_RUNNER)
    caller.dial_in()
    t = caller.press("2")
    number = t.dial.find("Number")
    assert number.text == ALICE
    assert number.get("url") == BASE + "/twilio/voice/whisper/1001/alice"
    t = caller.engineer_answers(press="1")
    assert "Thank you for calling" in t.text


def test_pressing_9_pages_the_duty_manager_once(world, client, case_with_status):
    caller = Caller(client, ROAD_RUNNER)
    caller.dial_in()
    t = caller.press("9")
    assert "Your case has been escalated. Dana Ortiz, the duty manager, has been alerted" in t.text
    assert caller.retry().body == t.body  # Twilio's retry: the same answer, no second page
    world.settle()
    (page,) = manager_pages(world)
    assert page.startswith("CUSTOMER ESCALATION case 1001 Acme Corp S1, open 10 minutes; ")
    assert "Alice Ng has it" in page
    assert "triage met" in page and "status due in" in page
    assert "Road Runner pressed 9" in page
    assert "customer_escalated" in world.kinds(1001)

    world.advance(minutes=10)  # 03:20: Wile escalates too; Dana is not paged again
    again = Caller(client, WILE)
    again.dial_in()
    t = again.press("9")
    assert "already escalated to the duty manager, Dana Ortiz, at 3:10 AM" in t.text
    world.settle()
    assert len(manager_pages(world)) == 1
    assert world.kinds(1001).count("customer_escalated") == 2
    # the customer has it in writing, with the case page's link
    told = [m.body for m in world.outbox(purpose="escalated")]
    assert told and all("/c/" in body for body in told)

    world.advance(minutes=31)  # past the window: a new escalation pages again
    third = Caller(client, ROAD_RUNNER)
    third.dial_in()
    third.press("9")
    world.settle()
    assert len(manager_pages(world)) == 2


def test_any_other_key_or_silence_is_goodbye(world, client, case_with_status):
    caller = Caller(client, ROAD_RUNNER)
    caller.dial_in()
    t = caller.press("5")
    assert "Thank you for calling. Your case number is 1 0 0 1. Goodbye." in t.text
    assert t.hangs_up
    silent = Caller(client, WILE)
    silent.dial_in()
    t = silent.stay_silent()
    assert "Goodbye" in t.text and t.hangs_up
    world.settle()
    assert manager_pages(world) == []
