"""``POST /twilio/sms``: the engineers' side of the conversation, signed like Twilio.

Two teams: support (Alice, Bob, Carol, Dana; rotations/support.yaml) and nights (Eve only).
Case 1001 is Acme's, support's case; Alice has been paged for it.
"""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from oncall.bootstrap.runtime import build_runtime
from oncall.db.models import WebhookReceipt
from oncall.web.app import create_app
from tests.conftest import ROOT
from tests.fakes.transports import ALICE, BOB, WILE, FakeTransport, PagingWorld

URL = "https://oncall.vendor.example/twilio/sms"
EVE = "+15550100199"
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response />'
NIGHTS = """
team: nights
timezone: America/Toronto
members:
  eve: {name: Eve Park, phone: "+15550100199"}
rotations:
  primary: {members: [eve], shift: 1w, start: 2026-11-02T09:00}
escalation:
  steps:
    - {after: 0m, notify: [primary]}
manager: eve
"""


@pytest.fixture
def world(make_settings, db_url, clock, db_engine, tmp_path) -> PagingWorld:
    rotations = tmp_path / "rotations"
    rotations.mkdir()
    shutil.copy(ROOT / "rotations" / "support.yaml", rotations / "support.yaml")
    (rotations / "nights.yaml").write_text(NIGHTS)
    settings = make_settings(db_url, paths={"rotations": str(rotations)})
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    assert sorted(runtime.rotas.teams()) == ["nights", "support"]
    return PagingWorld(runtime, clock, fake)


class Phone:
    """An engineer's phone texting the critical line through Twilio's webhook."""

    def __init__(self, world: PagingWorld, number: str):
        self.world = world
        self.number = number
        self.client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
        self.sids = 0

    def params(self, body: str, sid: str | None = None) -> dict[str, str]:
        self.sids += 1
        return {
            "MessageSid": sid or f"SM{self.number[-4:]}{self.sids:028d}",
            "AccountSid": "AC" + "0" * 32,
            "From": self.number,
            "To": "+15555550501",
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }

    def post(self, params: dict[str, str], signature: str | None = None):
        signature = signature or RequestValidator("test-auth-token").compute_signature(URL, params)
        response = self.client.post(
            "/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
        )
        self.world.settle()
        return response

    def text(self, body: str, sid: str | None = None) -> str | None:
        """Send ``body``; the reply's text, or None for an empty ``<Response/>``."""
        response = self.post(self.params(body, sid))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/xml"
        xml = response.get_data(as_text=True)
        if xml == EMPTY:
            return None
        prefix = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        assert xml.startswith(prefix) and xml.endswith("</Message></Response>"), xml
        from html import unescape

        return unescape(xml[len(prefix) : -len("</Message></Response>")])


@pytest.fixture
def alice(world) -> Phone:
    return Phone(world, ALICE)


def test_alice_acknowledges_and_a_retried_webhook_acts_once(world, alice):
    world.open_case()
    world.settle()
    params = alice.params("ack 1001", sid="SM" + "1" * 32)
    first = alice.post(params)
    assert "Acknowledged 1001 (Acme Corp, S1). Status due to the customer by 04:00 EST." in (
        first.get_data(as_text=True)
    )
    again = alice.post(params)  # Twilio retries the same MessageSid
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert world.kinds(1001).count("acknowledged") == 1
    assert len([t for t in world.texts(WILE) if "working on" in t]) == 1


def test_a_forged_request_is_refused_and_changes_nothing(world, alice):
    world.open_case()
    world.settle()
    response = alice.post(alice.params("ACK 1001"), signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    unsigned = alice.client.post("/twilio/sms", data=alice.params("ACK 1001"))
    assert unsigned.status_code == 403
    assert world.case(1001).state == "open"
    with world.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebhookReceipt)) == 0


def test_an_unknown_number_learns_nothing(world):
    world.open_case()
    world.settle()
    stranger = Phone(world, "+15559990000")
    assert stranger.text("ACK 1001") is None
    assert stranger.text("HELP") is None
    assert Phone(world, WILE).text("STATUS 1001 is anyone there?") is None  # the customer
    assert Phone(world, "Twilio").text("hello") is None  # not even a number
    assert world.case(1001).state == "open"


def test_missing_fields_are_a_400(world, alice):
    for missing in ("From", "Body", "MessageSid"):
        params = alice.params("ACK 1001")
        del params[missing]
        assert alice.post(params).status_code == 400


def test_every_command(world, alice):
    world.open_case()
    world.settle()
    assert alice.text("HELP").startswith("Commands: ACK 1042 | STATUS 1042")
    assert alice.text("SEV 1001 2") == "1001 is now S2. Not acknowledged yet: reply ACK 1001."
    assert alice.text("Ack #1001 -- Sent from my iPhone") == (
        "Acknowledged 1001 (Acme Corp, S2). Status due to the customer by 04:00 EST."
    )
    assert alice.text('STATUS 1001 "DB restored, replaying queue. ETA 30m"') == (
        "Status sent to Acme Corp for 1001. ETA 03:30 EST. Next update due by 11:00 EST."
    )
    assert world.customer_text(WILE).endswith("Estimated time to resolution: 03:30 EST.")
    assert alice.text("resolve 1001 queue drained") == (
        "Resolved 1001 (Acme Corp, S2). The customer has been told."
    )
    world.open_case("globex", summary="Payments fail")
    world.settle()
    assert alice.text("sev 3") == (
        "1002 downgraded to S3: off the critical line, forwarded to the support queue, flagged "
        "for the misuse fee (250 USD)."
    )


def test_a_bare_command_needs_exactly_one_open_case(world, alice):
    world.open_case("acme")
    world.open_case("globex")
    world.settle()
    assert alice.text("ACK") == (
        "Which case? Open: 1001 Acme Corp S1, 1002 Globex S1. Reply e.g. ACK 1001 or ACK ALL"
    )
    assert alice.text("ACK 1002").startswith("Acknowledged 1002")
    assert alice.text("RESOLVE 1002 fixed").startswith("Resolved 1002")
    assert alice.text("ACK").startswith("Acknowledged 1001")  # only one left


def test_bob_on_the_rota_may_act_before_he_is_paged(world):
    world.open_case()
    world.settle()
    bob = Phone(world, BOB)
    assert world.texts(BOB) == []
    assert bob.text("ACK").startswith("Acknowledged 1001")
    assert world.case(1001).acknowledged_by == "bob"
    assert world.last_text(ALICE) == "1001 acknowledged by Bob Roy"


def test_an_engineer_not_on_the_case_is_refused(world):
    world.open_case()
    world.settle()
    eve = Phone(world, EVE)  # on the nights rota, never paged for Acme's case
    assert eve.text("ACK 1001") == "Case 1001 is not yours: you were not paged for it."
    assert eve.text("ACK") == "You have no open cases. Add the case number, e.g. ACK 1042."
    assert eve.text("ACK 1999") == "No case 1999. Check the number in the page."
    assert world.case(1001).state == "open"


def test_error_replies_are_capped_per_number(world, alice):
    world.open_case()
    world.settle()
    replies = [alice.text(body) for body in ("hello?", "ACK 104", "STATUS", "what", "ACK 1999")]
    assert [r is not None for r in replies] == [True, True, True, False, False]
    assert replies[0].startswith("Sorry, not a command.")
    assert alice.text("HELP").startswith("Commands:")  # not an error: always answered
    assert alice.text("ACK 1001").startswith("Acknowledged 1001")  # commands still work
    world.clock.advance(minutes=61)
    assert alice.text("huh") is not None  # the cap is per hour


def test_opt_out_keywords_get_no_reply(world, alice):
    world.open_case()
    world.settle()
    assert alice.text("STOP") is None
    assert world.case(1001).state == "open"


def test_a_reply_that_queues_nothing_does_not_wake_the_sender(settings, clock, db_engine):
    """HELP is answered in the TwiML itself: waking the sender would only cost it a claim."""
    from oncall.bootstrap.runtime import build_runtime
    from oncall.services.sms_conversation import handle_sms
    from tests.fakes.transports import FakeTransport

    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    wakes = []
    runtime.wake_hooks.append(lambda: wakes.append(1))
    alice = runtime.rotas.team("support").members["alice"].phone
    reply = handle_sms(
        runtime, from_number=alice, body="HELP", message_sid="SM" + "1" * 32, now=clock.now()
    )
    assert reply and "ACK" in reply
    assert wakes == []
