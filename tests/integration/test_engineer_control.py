"""Engineers in control from their phone, as they live it (issue 13's phone conversation).

Tuesday 03:00 in Toronto (rotations/support.yaml): Alice is primary, Bob secondary, Carol is
on the rota, Dana is the manager. A storm of eight cases opens in one second; Alice takes them
all with one SMS; a ninth needs help now; Bob covers the primary shift for two hours; Carol asks
who is on; a stranger asks too; Carol's evening shift starts; a policy that calls first.
Time moves only when the test moves it.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from oncall.bootstrap.runtime import build_runtime
from oncall.cases.opening import numbers_taken_through
from oncall.cli.main import main
from oncall.db.session import transaction
from oncall.web.app import create_app
from tests.conftest import ROOT
from tests.fakes.callers import twilio_post
from tests.fakes.transports import ALICE, BOB, CAROL, DANA, FakeTransport, PagingWorld

STRANGER = "+15550199999"
TORONTO = ZoneInfo("America/Toronto")


def make_world(settings, clock, db_engine, fake=None) -> PagingWorld:
    fake = fake or FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


@pytest.fixture
def world(settings, clock, db_engine) -> PagingWorld:
    return make_world(settings, clock, db_engine)


def next_case_number_is(world: PagingWorld, number: int) -> None:
    with transaction(world.runtime.sessions) as session:
        numbers_taken_through(session, number - 1)


def numbers_in(texts: list[str]) -> set[int]:
    return {int(n) for text in texts for n in re.findall(r"\b1\d{3}\b", text)}


def pages(world: PagingWorld, phone: str) -> list[str]:
    """Pages and bundles a phone got (not notices, reminders or rota messages)."""
    return [t for t in world.texts(phone) if t.startswith(("[S", "ESC by")) or "new critical" in t]


def test_a_night_on_call_from_the_phone(world, runner, settings):
    # A storm: eight cases open in the same second (numbers 1034 to 1041).
    next_case_number_is(world, 1034)
    storm = [world.open_case(c) for c in ["acme", "globex", "initech", "acme"] * 2]
    assert storm == list(range(1034, 1042))
    world.settle()
    # Alice's phone has every one of the eight numbers, and the way to take them all.
    assert numbers_in(world.texts(ALICE)) == set(storm)
    assert world.last_text(ALICE).endswith("Reply ACK ALL or ACK <case>")

    # One SMS takes them all; the reply lists them.
    assert world.sms(ALICE, "ACK ALL") == (
        "Acknowledged 8 cases: 1034, 1035, 1036, 1037, 1038, 1039, 1040, 1041. "
        "First status due by 04:00 EST."
    )
    world.advance(minutes=20)  # past the secondary's step (03:05) and the triage target (03:15)
    assert pages(world, BOB) == []  # the secondary is never paged for any of them
    assert all(world.case(n).state == "acknowledged" for n in storm)
    assert all("breach" not in world.kinds(n) for n in storm)

    # 03:20. Case 1042: Alice needs help now. ESC pages the secondary at once, not at 03:25.
    case = world.open_case("acme", summary="Payments rejected")
    assert case == 1042
    world.settle()
    assert world.sms(ALICE, "ESC 1042") == "Escalated 1042: paged Bob Roy."
    assert world.last_text(BOB) == (
        "ESC by Alice Ng. [S1] Case 1042 Acme Corp: Payments rejected. Reply ACK 1042"
    )
    assert "escalated" in world.kinds(1042)
    assert world.sms(BOB, "ACK 1042").startswith("Acknowledged 1042")

    # Bob covers the primary shift for two hours; Alice is told.
    assert world.sms(BOB, "TAKE primary for 2h") == (
        "You are primary for support until Tue 24 Nov 05:20 EST. Alice Ng was told."
    )
    assert world.last_text(ALICE) == (
        "Bob Roy takes primary for support until Tue 24 Nov 05:20 EST: you are not paged as "
        "primary until then. Reply WHO for the team."
    )
    # The next case pages Bob first, not Alice.
    alice_before = len(pages(world, ALICE))
    world.open_case("globex", summary="Invoices fail")
    world.settle()
    assert pages(world, BOB)[-1] == "[S1] Case 1043 Globex: Invoices fail. Reply ACK 1043"
    assert len(pages(world, ALICE)) == alice_before
    # ... and `oncall rota who` shows the rota as the service pages by it.
    who = runner.invoke(
        main,
        ["--config", settings.source, "rota", "who", "--rotations", str(ROOT / "rotations"),
         "--at", "2026-11-24 03:30"],
    )  # fmt: skip
    assert who.exit_code == 0, who.output
    primary = next(line for line in who.output.splitlines() if line.strip().startswith("primary"))
    assert "Bob Roy" in primary and "Tue 2026-11-24 05:20 EST" in primary
    assert "override: taken by Bob Roy (sms)" in primary

    # WHO answers a member of the rota, and says nothing to a stranger.
    assert world.sms(CAROL, "who's on call?") == (
        "support (America/Toronto): primary Bob Roy +15550100102 (override) until Tue 24 Nov "
        "05:20 EST; secondary Bob Roy +15550100102 until Mon 30 Nov 09:00 EST; manager Dana "
        "Ortiz +15550100104"
    )
    sent_before = len(world.fake.sent)
    assert world.sms(STRANGER, "WHO") is None
    # ... as Twilio sees it: an empty answer, no <Message>.
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    form = {"MessageSid": "SM" + "5" * 32, "From": STRANGER, "To": "+15555550501", "Body": "WHO"}
    answer = twilio_post(client, "/twilio/sms", form)
    assert answer.status_code == 200 and "<Message>" not in answer.text
    assert len(world.fake.sent) == sent_before

    # 05:20: Bob's TAKE ends and Alice is primary again: she is told. 18:00: Carol's shift
    # (the file's override) starts, and she is told at the handoff.
    world.sms(ALICE, "RESOLVE 1042 fixed")
    world.sms(BOB, "ACK 1043")
    world.advance(hours=2)
    assert world.clock.now().astimezone(TORONTO).strftime("%H:%M") == "05:20"
    assert world.last_text(ALICE) == (
        "You are now primary for support until Tue 24 Nov 18:00 EST. Reply WHO for the team."
    )
    assert not any(t.startswith("You are now") for t in world.texts(CAROL))
    world.advance(hours=12, minutes=40)
    assert world.last_text(CAROL) == (
        "You are now primary for support until Wed 25 Nov 09:00 EST. Reply WHO for the team."
    )
    assert [t for t in world.texts(DANA) if t.startswith("You are now")] == []


def test_a_via_voice_step_calls_first(make_settings, db_url, clock, db_engine):
    fake = FakeTransport()
    fake.fail(ALICE, code=21610, channel="voice", times=1)  # the call fails
    world = voice_world(make_settings, db_url, clock, db_engine, "primary", "voice", fake)

    world.open_case()
    world.settle()
    call, text = world.fake.attempts  # the call first, then (below) the SMS
    assert (call.channel, call.to) == ("voice", ALICE)
    assert call.body.startswith("Critical support page. Case 1 0 0 1. Severity 1.")
    # The call failed: the page follows by SMS so Alice has it in writing.
    assert (text.channel, text.to) == ("sms", ALICE)
    assert world.texts(ALICE) == [
        "[S1] Case 1001 Acme Corp: Checkout is down for all users. Reply ACK 1001"
    ]
    assert "fallback" in world.kinds(1001)


def test_a_via_voice_step_that_is_answered_sends_no_sms(make_settings, db_url, clock, db_engine):
    world = voice_world(make_settings, db_url, clock, db_engine, "primary", "voice")
    world.open_case()
    world.advance(minutes=2)
    assert [m.channel for m in world.fake.sent if m.to == ALICE] == ["voice"]
    assert world.texts(ALICE) == []


def test_a_via_both_step_calls_and_texts(make_settings, db_url, clock, db_engine):
    world = voice_world(make_settings, db_url, clock, db_engine, "secondary", "both")
    world.open_case()
    world.advance(minutes=5)
    assert [m.channel for m in world.fake.sent if m.to == BOB] == ["voice", "sms"]
    assert [m.channel for m in world.fake.sent if m.to == ALICE] == ["sms"]  # step 1: SMS


def voice_world(make_settings, db_url, clock, db_engine, level, via, fake=None) -> PagingWorld:
    """The shipped rota, with the step that pages ``level`` paging ``via`` instead."""
    rotations = Path(tempfile.mkdtemp(prefix="rotations-"))
    text = (ROOT / "rotations" / "support.yaml").read_text()
    step = f"notify: [{level}]}}"
    assert step in text
    (rotations / "support.yaml").write_text(text.replace(step, f"notify: [{level}], via: {via}}}"))
    settings = make_settings(db_url, paths={"rotations": str(rotations)})
    return make_world(settings, clock, db_engine, fake)
