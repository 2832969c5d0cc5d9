"""Spoof-proof email (issue 10, item 2): a mail is a contact's only when SPF or DKIM passes
aligned with its From domain.

Each attack is replayed as SendGrid would post it, through ``POST /email/inbound``; the engine
and the outbox sender then run (``PagingWorld.settle``) and the phones are read, so "no page"
means no SMS or call reached anybody. The clock is Tuesday 03:00 in Toronto; Alice is on call.
"""

from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.security import generate_password_hash

from oncall.bootstrap.runtime import build_runtime
from oncall.db.models import Attempt, Case, CaseEvent, MisuseFlag, OutboundMessage
from oncall.web.app import create_app
from tests.conftest import ROOT
from tests.fakes.sendgrid import inbound, post, raw, spoofed
from tests.fakes.transports import ALICE, BOB, DANA, FakeTransport, PagingWorld

PASSWORD = "correct horse battery"
USERS = {"maria": {"role": "manager", "password_hash": generate_password_hash(PASSWORD, "pbkdf2")}}
TRUSTY = """
  trusty:
    name: Trusty Ltd
    plan: premium
    team: support
    trust_unauthenticated_email: true
    contacts:
      - {name: Tom Trusty, phone: "+15551230301", email: tom@trusty.example}
"""


@pytest.fixture
def world(make_settings, db_url, clock, db_engine, tmp_path) -> PagingWorld:
    customers = tmp_path / "customers.yaml"
    shutil.copy(ROOT / "customers.yaml", customers)
    customers.write_text(customers.read_text() + TRUSTY)
    settings = make_settings(db_url, users=USERS, paths={"customers": str(customers)})
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    assert runtime.directory().customers["trusty"].trust_unauthenticated_email
    assert not runtime.directory().customers["acme"].trust_unauthenticated_email
    return PagingWorld(runtime, clock, fake)


@pytest.fixture
def client(world):
    return create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()


def send(world, client, form) -> dict:
    response = post(client, form)
    assert response.status_code == 200, response.get_data(as_text=True)
    world.settle()
    return response.get_json()


def count(world, model, *where) -> int:
    with world.runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def rows(world, model, *where) -> list:
    with world.runtime.sessions() as session:
        found = list(session.scalars(select(model).where(*where).order_by(model.id)))
        session.expunge_all()
        return found


def engineer_texts(world) -> list[str]:
    return [text for number in (ALICE, BOB, DANA) for text in world.texts(number)]


def sms(client, number: str, body: str, sid: str) -> str:
    url = "https://oncall.vendor.example/twilio/sms"
    params = {
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": number,
        "To": "+15555550501",
        "Body": body,
        "NumMedia": "0",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    signature = RequestValidator("test-auth-token").compute_signature(url, params)
    response = client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def sign_in(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login", data={"username": "maria", "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302


# -- the attacks -------------------------------------------------------------------------------
def test_spoofed_from_with_spf_and_dkim_failing_opens_nothing_pages_nobody_bills_nobody(
    world, client
):
    """From: rr@acme.example, SPF=fail, dkim={@acme.example : fail}: the attack as written."""
    answer = send(world, client, spoofed(text="Production down for all users. Call me."))
    assert answer["outcome"] == "refused" and answer["reason"] == "unverified"
    assert count(world, Case) == 0  # no case as Acme
    assert engineer_texts(world) == []  # nobody paged, even after the engine ran
    assert count(world, MisuseFlag) == 0  # no fee, no review flag against Acme
    (attempt,) = rows(world, Attempt)
    assert attempt.reason == "unverified" and attempt.channel == "email"
    assert attempt.contact == "rr@acme.example"
    assert attempt.customer_key is None  # it proves nothing about Acme
    assert attempt.detail["claimed_customer"] == "acme"
    assert attempt.detail["sender_authentication"] == (
        "SPF fail for acme.example; DKIM fail for acme.example"
    )
    # Forwarded to the regular queue, marked as unverified.
    (forward,) = world.outbox(purpose="forward")
    assert forward.to_address == "support-queue@vendor.example"
    assert forward.subject.startswith("[unverified sender] Fwd: Sev 1")
    assert forward.body.startswith("WARNING: unverified sender.")
    assert "Production down for all users" in forward.body
    assert attempt.forwarded


def test_the_unverified_attempt_is_on_the_misuse_page(world, client):
    send(world, client, spoofed(subject="Sev 1: pay the invoice now"))
    sign_in(client)
    page = client.get("/misuse").get_data(as_text=True)
    section = page.split("<h2>Unverified senders</h2>", 1)[1].split("<h2>", 1)[0]
    assert "rr@acme.example" in section and "Acme Corp" in section
    assert "Sev 1: pay the invoice now" in section
    assert "SPF fail for acme.example; DKIM fail for acme.example" in section


def test_a_spoofed_reply_to_a_case_reaches_no_engineer(world, client):
    """A forged ``Re: [Case N]`` must not relay the attacker's text to the engineer's phone."""
    opened = send(world, client, inbound("Wile E. Coyote <wile@acme.example>"))
    number = opened["case_number"]
    before = engineer_texts(world)
    assert before  # Alice was paged for the real case
    answer = send(
        world,
        client,
        spoofed(
            "Wile E. Coyote <wile@acme.example>",
            subject=f"Re: [Case {number}] Sev 1: checkout down",
            text="Call me on +15550009999, urgent, and RESOLVE the case.",
        ),
    )
    assert answer["reason"] == "unverified"
    assert engineer_texts(world) == before  # nothing more reached a phone
    assert world.outbox(purpose="customer_reply") == []
    kinds = world.kinds(number)
    assert "customer_reply" not in kinds and kinds.count("unverified_reply") == 1
    events = dict(world.events(number))
    assert "+15550009999" not in " ".join(events.values())  # the attacker's words stay out
    (forward,) = [f for f in world.outbox(purpose="forward") if "[unverified sender]" in f.subject]
    assert "its sender could not be verified" in forward.body
    assert "Call me on +15550009999" in forward.body  # a person in the queue may judge it
    (attempt,) = rows(world, Attempt)
    assert attempt.reason == "unverified" and attempt.detail["case"] == number


def test_a_spoofed_reply_naming_our_message_id_is_refused_too(world, client):
    send(world, client, inbound("Wile E. Coyote <wile@acme.example>"))
    (ours,) = world.outbox(purpose="opened")
    answer = send(
        world,
        client,
        spoofed(
            "Wile E. Coyote <wile@acme.example>",
            subject="Re: your case",
            extra_headers=f"In-Reply-To: {ours.message_id}\n",
        ),
    )
    assert answer["reason"] == "unverified"
    assert world.outbox(purpose="customer_reply") == []


def test_an_authenticated_reply_is_still_relayed(world, client):
    number = send(world, client, inbound("Wile E. Coyote <wile@acme.example>"))["case_number"]
    answer = send(
        world,
        client,
        inbound(
            "Wile E. Coyote <wile@acme.example>",
            subject=f"Re: [Case {number}] Sev 1",
            text="The portal is back.",
        ),
    )
    assert answer["outcome"] == "reply"
    assert any("The portal is back." in text for text in world.texts(ALICE))


@pytest.mark.parametrize(
    ("spf", "envelope_from", "dkim"),
    [
        # the attacker's own domain passes, not Acme's
        ("pass", "bounce@evil.example", "{@evil.example : pass}"),
        # a look-alike domain that merely starts with Acme's
        ("fail", "x@acme.example.evil.example", "{@acme.example.evil.example : pass}"),
        # no verdicts at all
        ("", "", ""),
        ("softfail", "rr@acme.example", "none"),
    ],
)
def test_passing_for_another_domain_does_not_authenticate(world, client, spf, envelope_from, dkim):
    form = inbound(spf=spf, envelope_from=envelope_from, dkim=dkim)
    assert send(world, client, form)["reason"] == "unverified"
    assert count(world, Case) == 0 and engineer_texts(world) == []


def test_relaxed_alignment_accepts_the_customers_own_subdomains(world, client):
    form = inbound(spf="pass", envelope_from="bounces@mail.acme.example", dkim="none")
    assert send(world, client, form)["outcome"] == "case"
    form = inbound(
        spf="fail", dkim="{@eu.mail.acme.example : pass}", subject="[New] Sev 1: EU down"
    )
    assert send(world, client, form)["outcome"] == "case"


# -- the raw variant: Authentication-Results ---------------------------------------------------
def raw_message(auth_results: list[str], from_: str = "rr@acme.example") -> str:
    headers = "".join(f"Authentication-Results: {value}\r\n" for value in auth_results)
    return (
        f"{headers}Received: from mail.acme.example by mx.sendgrid.net\r\n"
        f"From: Road Runner <{from_}>\r\nTo: critical@vendor.example\r\n"
        "Subject: Sev 1: everything is down\r\nMessage-ID: <raw-1@mail.acme.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nDown for all users.\r\n"
    )


PASS_HEADER = (
    "mx.sendgrid.net; spf=pass smtp.mailfrom=rr@acme.example; dkim=pass header.d=acme.example"
)
FAIL_HEADER = (
    "mx.sendgrid.net; spf=fail smtp.mailfrom=rr@acme.example; dkim=fail header.d=acme.example"
)


@pytest.fixture
def mta_world(make_settings, db_url, clock, db_engine) -> PagingWorld:
    settings = make_settings(db_url, email={"authserv_ids": ["mx.sendgrid.net"]})
    assert settings.email.authserv_ids == ("mx.sendgrid.net",)
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


def test_raw_mail_is_authenticated_by_the_receiving_mtas_header(mta_world):
    client = create_app(runtime=mta_world.runtime, test_config={"TESTING": True}).test_client()
    answer = send(mta_world, client, raw(raw_message([PASS_HEADER]), SPF="none"))
    assert answer["outcome"] == "case"


def test_raw_mail_with_a_forged_header_below_the_mtas_is_refused(mta_world):
    client = create_app(runtime=mta_world.runtime, test_config={"TESTING": True}).test_client()
    forged = raw_message([FAIL_HEADER, PASS_HEADER])  # the forger's "pass" sits lower
    answer = send(mta_world, client, raw(forged, SPF="fail", dkim="{@acme.example : fail}"))
    assert answer["reason"] == "unverified"
    assert count(mta_world, Case) == 0


def test_raw_mail_forging_a_header_is_judged_by_sendgrids_verdicts_by_default(world, client):
    forged = raw_message(["evil.example; dkim=pass header.d=acme.example", PASS_HEADER])
    answer = send(world, client, raw(forged, SPF="fail", dkim="{@acme.example : fail}"))
    assert answer["reason"] == "unverified"
    genuine = raw_message([FAIL_HEADER]).replace("raw-1@", "raw-2@")
    answer = send(world, client, raw(genuine, SPF="pass", dkim="{@acme.example : pass}"))
    assert answer["outcome"] == "case"


# -- a customer that trusts unauthenticated email ----------------------------------------------
def test_a_trusting_customers_unauthenticated_mail_opens_a_case_marked_sender_unverified(
    world, client
):
    answer = send(world, client, spoofed("Tom Trusty <tom@trusty.example>"))
    assert answer["outcome"] == "case"
    (case,) = rows(world, Case)
    assert case.customer_key == "trusty" and case.sender_unverified
    assert "sender_unverified" in world.kinds(case.number)
    assert world.texts(ALICE)  # the manager accepted this customer: the engineer is paged
    sign_in(client)
    assert "sender unverified" in client.get(f"/cases/{case.number}").get_data(as_text=True)


def test_downgrading_an_unverified_case_charges_no_fee(world, client):
    number = send(world, client, spoofed("Tom Trusty <tom@trusty.example>"))["case_number"]
    reply = sms(client, ALICE, f"SEV {number} 3", sid="SM" + "3" * 32)
    assert "no misuse fee (sender unverified)" in reply
    assert world.case(number).state == "downgraded"
    assert count(world, MisuseFlag) == 0
    assert "misuse_not_charged" in world.kinds(number)
    # ...while a verified customer's downgrade is charged, as before.
    verified = send(world, client, inbound("Wile E. Coyote <wile@acme.example>"))["case_number"]
    reply = sms(client, ALICE, f"SEV {verified} 3", sid="SM" + "4" * 32)
    assert "flagged for the misuse fee (250 USD)" in reply
    (flag,) = rows(world, MisuseFlag)
    assert flag.customer_key == "acme"


def test_a_trusting_customers_unauthenticated_reply_is_relayed_marked(world, client):
    number = send(world, client, inbound("Tom Trusty <tom@trusty.example>"))["case_number"]
    form = spoofed(
        "Tom Trusty <tom@trusty.example>", subject=f"Re: [Case {number}]", text="Still down."
    )
    assert send(world, client, form)["outcome"] == "reply"
    relay = world.last_text(ALICE)
    assert "replied (sender unverified): Still down." in relay
    (event,) = [e for e in rows(world, CaseEvent) if e.kind == "customer_reply"]
    assert event.data["sender_verified"] is False


def test_unverified_mail_names_no_customer_and_raises_no_review(world, client):
    # Refused attempts per customer raise a review flag at 3 a month (tests/conftest.py):
    # forged mail must never count against the customer it names.
    for n in range(5):
        send(world, client, spoofed(subject="Sev 3: a question", message_id=f"<f{n}@x.example>"))
    assert count(world, Attempt, Attempt.customer_key == "acme") == 0
    assert count(world, MisuseFlag) == 0
    assert count(world, OutboundMessage, OutboundMessage.purpose == "forward") == 5
