"""A misuse fee as a billing event the customer may dispute (issue 11, item 4): the evidence
frozen on the flag, the notice to the customer, DISPUTE by email reply within
``penalties.dispute_within``, a manager's decision (CLI and dashboard), the billing export's
states; and the case page's Wait button and the API's wait (item 2 on the web).

Tuesday 03:00 in Toronto. Wile (Acme) calls the critical line and presses 1 for S1; Alice
finds it is a password reset and downgrades it to S3. Dana is the manager (Maria signs in to the
dashboard as one).
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from oncall.bootstrap.runtime import build_runtime
from oncall.cli.main import main
from oncall.db.models import MisuseFlag
from oncall.services.phone_call import VoiceStep
from oncall.web.app import create_app
from tests.fakes.case_story import _call, _call_sid, _newest_case
from tests.fakes.sendgrid import inbound, post
from tests.fakes.transports import ALICE, WILE, FakeTransport, PagingWorld

WILE_MAIL = "wile@acme.example"
PASSWORD = "correct horse battery"
USERS = {
    "maria": {
        "role": "manager",
        "password_hash": generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
    },
    "alice": {
        "role": "engineer",
        "member": "alice",
        "password_hash": generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
    },
}
ACT = "act-token-0123456789"


@pytest.fixture
def world(make_settings, db_url, clock, db_engine) -> PagingWorld:
    settings = make_settings(
        db_url, users=USERS, api={"tokens": [{"name": "bot", "token": ACT, "scope": "act"}]}
    )
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


@pytest.fixture
def client(world):
    return create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()


def called_and_downgraded(world: PagingWorld) -> int:
    """Wile calls, presses 1 (S1) and leaves a message; Alice downgrades it with a reason."""
    sid = _call_sid(world, WILE)
    _call(world, sid, VoiceStep("entry"))
    _call(world, sid, VoiceStep("menu", 1), Digits="1")
    settings = world.runtime.settings
    recording = (
        f"{settings.twilio.api_base}/2010-04-01/Accounts/{settings.twilio.account_sid}"
        f"/Recordings/RE{sid[-32:]}"
    )
    _call(
        world,
        sid,
        VoiceStep("recorded"),
        RecordingUrl=recording,
        RecordingDuration="20",
        Digits="#",
    )
    world.settle()
    number = _newest_case(world)
    reply = world.sms(ALICE, f"SEV {number} 3 customer asked about a password reset")
    assert "flagged for the misuse fee (250 USD)" in reply
    return number


def flag_of(world: PagingWorld, number: int) -> MisuseFlag:
    with world.runtime.sessions() as session:
        return session.scalar(select(MisuseFlag).where(MisuseFlag.case_id == world.case(number).id))


def reply_by_email(world: PagingWorld, client, number: int, text: str) -> dict:
    form = inbound(
        from_=f"Wile E. Coyote <{WILE_MAIL}>",
        subject=f"Re: [Case {number}] Misuse fee 250 USD",
        text=text,
    )
    response = post(client, form)
    assert response.status_code == 200, response.get_data(as_text=True)
    world.settle()
    return response.get_json()


def sign_in(client, username: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/cases").text).group(1)


def test_the_fee_carries_its_evidence_and_the_customer_gets_a_notice(world):
    number = called_and_downgraded(world)
    flag = flag_of(world, number)
    assert flag.state == "flagged"
    evidence = flag.evidence
    assert evidence["reason"] == "customer asked about a password reset"
    assert evidence["engineer"] == "Alice Ng"
    assert evidence["menu_choice"] == "pressed 1 (S1)"
    assert evidence["definitions"].startswith("If a production system is down for all users")
    assert evidence["channel"] == "voice"
    notice = world.outbox(purpose="fee_notice")[0]
    assert (
        notice.to_address == WILE_MAIL and notice.subject == f"[Case {number}] Misuse fee 250 USD"
    )
    assert "Reason given by the engineer: customer asked about a password reset" in notice.body
    assert "How the severity was chosen: pressed 1 (S1)" in notice.body
    # penalties.dispute_within (14 days) from 03:00 on Tue 24 Nov.
    assert (
        "reply DISPUTE to this email (with your reasons) by Tue 08 Dec 2026 03:00 EST"
        in notice.body
    )


def test_dispute_then_a_manager_confirms_it_from_the_command_line(world, client, runner):
    number = called_and_downgraded(world)
    world.advance(days=3)
    outcome = reply_by_email(
        world, client, number, "DISPUTE\nOur whole shop was down, not a password."
    )
    assert outcome["outcome"] == "reply" and not outcome["forwarded"]
    flag = flag_of(world, number)
    assert flag.state == "disputed" and flag.disputed_at == world.clock.now()
    assert "Our whole shop was down" in flag.dispute_text
    answer = world.outbox(purpose="dispute_reply")[-1]
    assert "A manager will review" in answer.body and answer.to_address == WILE_MAIL
    assert "misuse_disputed" in world.kinds(number)
    # The Misuse page puts it before a manager, with the evidence and what the customer wrote.
    sign_in(client, "maria")
    page = client.get("/misuse").text
    disputed = page.split("<h2>Disputed fees")[1].split("<h2>Flagged cases")[0]
    assert f'data-case="{number}"' in disputed and "Our whole shop was down" in disputed
    assert "pressed 1 (S1)" in disputed and f'id="confirm-{number}"' in disputed

    result = runner.invoke(
        main,
        ["--config", world.runtime.settings.source, "misuse", "confirm", str(number),
         "--reason", "the recording asks for a password reset", "--by", "Dana Ortiz"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"Case {number}: misuse fee 250 USD confirmed by Dana Ortiz: the recording asks for a "
        "password reset"
    )
    flag = flag_of(world, number)
    assert flag.state == "confirmed" and flag.confirmed_by == "Dana Ortiz"
    told = world.outbox(purpose="dispute_reply")[-1]
    assert "stands: the recording asks for a password reset" in told.body
    again = runner.invoke(
        main, ["--config", world.runtime.settings.source, "misuse", "confirm", str(number)]
    )
    assert again.exit_code == 1 and "already confirmed" in again.output


def test_dispute_then_a_manager_waives_it_on_the_misuse_page(world, client):
    number = called_and_downgraded(world)
    reply_by_email(world, client, number, "dispute: this was a real outage")
    assert flag_of(world, number).state == "disputed"
    csrf = sign_in(client, "maria")
    response = client.post(
        f"/misuse/{number}/waive",
        data={"csrf_token": csrf, "reason": "outage confirmed in our logs", "next": "/misuse"},
    )
    assert response.status_code == 302
    world.settle()
    flag = flag_of(world, number)
    assert flag.state == "waived" and flag.waive_reason == "outage confirmed in our logs"
    assert (
        "has been waived: outage confirmed in our logs"
        in world.outbox(purpose="dispute_reply")[-1].body
    )
    assert "<h2>Disputed fees" not in client.get("/misuse").text
    # A waived fee cannot be confirmed after all.
    response = client.post(f"/misuse/{number}/confirm", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert "was waived; it cannot be confirmed" in client.get("/misuse").text


def test_a_dispute_after_the_window_is_refused_politely_and_recorded(world, client):
    number = called_and_downgraded(world)
    world.advance(days=15)
    reply_by_email(world, client, number, "DISPUTE we only saw the invoice now")
    flag = flag_of(world, number)
    assert flag.state == "flagged" and flag.disputed_at is None
    refusal = world.outbox(purpose="dispute_reply")[-1]
    assert "could be disputed until Tue 08 Dec 2026 03:00 EST" in refusal.body
    assert "that time has passed" in refusal.body
    events = dict(world.events(number))
    assert "we only saw the invoice now" in events["dispute_refused"]


def test_a_dispute_of_a_case_without_a_fee_changes_nothing(world, client):
    number = world.open_case(channel="email")
    world.sms(ALICE, f"RESOLVE {number} fixed")
    reply_by_email(world, client, number, "DISPUTE")
    assert "no misuse fee on case" in world.outbox(purpose="dispute_reply")[-1].body
    assert flag_of(world, number) is None


def test_the_billing_export_shows_every_state(world, client, runner):
    numbers = [called_and_downgraded(world)]
    for _ in range(3):
        world.advance(minutes=30)
        numbers.append(called_and_downgraded(world))
    flagged, disputed, confirmed, waived = numbers
    for number in (disputed, confirmed, waived):
        reply_by_email(world, client, number, "DISPUTE it was down")
    source = world.runtime.settings.source
    assert (
        runner.invoke(main, ["--config", source, "misuse", "confirm", str(confirmed)]).exit_code
        == 0
    )
    result = runner.invoke(
        main, ["--config", source, "misuse", "waive", str(waived), "--reason", "goodwill"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main, ["--config", source, "report", "misuse", "--month", "2026-11", "--csv"]
    )
    assert result.exit_code == 0, result.output
    rows = {int(row["case"]): row for row in csv.DictReader(io.StringIO(result.output))}
    assert {n: rows[n]["state"] for n in numbers} == {
        flagged: "flagged",
        disputed: "disputed",
        confirmed: "confirmed",
        waived: "waived",
    }
    assert rows[flagged]["menu_choice"] == "pressed 1 (S1)"
    assert rows[disputed]["dispute_text"].startswith("DISPUTE it was down")
    # The recording is linked while retention keeps it.
    assert rows[flagged]["recording"] == f"https://oncall.vendor.example/cases/{flagged}/recording"
    text = runner.invoke(main, ["--config", source, "report", "misuse", "--month", "2026-11"])
    assert "disputed" in text.output and "confirmed" in text.output


# -- item 2 on the web ------------------------------------------------------------------------


def test_wait_from_the_case_page_and_the_api(world, client):
    number = world.open_case(channel="email")
    csrf = sign_in(client, "alice")
    page = client.get(f"/cases/{number}").text
    assert 'id="act-wait"' in page
    response = client.post(
        f"/cases/{number}/wait", data={"csrf_token": csrf, "text": "Which browser do you use?"}
    )
    assert response.status_code == 302
    world.settle()
    case = world.case(number)
    assert case.state == "waiting_customer"
    assert "Which browser do you use?" in world.outbox(purpose="wait_question")[0].body
    page = client.get(f"/cases/{number}").text
    assert 'id="waiting"' in page and "Waiting for the customer" in page
    listing = client.get("/cases").text
    assert "waiting for the customer since Tue 24 Nov 03:00 EST" in listing
    assert "paused, " in listing  # the status clock stands still

    world.advance(minutes=20)
    headers = {"Authorization": f"Bearer {ACT}"}
    answered = client.post(
        f"/api/cases/{number}/status", json={"text": "Found it", "eta": "1h"}, headers=headers
    )
    assert answered.status_code == 200
    body = answered.get_json()["case"]
    assert body["state"] == "acknowledged" and body["paused_seconds"] == 20 * 60
    waited = client.post(
        f"/api/cases/{number}/wait", json={"question": "Did it come back?"}, headers=headers
    )
    assert waited.status_code == 200 and waited.get_json()["case"]["state"] == "waiting_customer"
    assert waited.get_json()["case"]["sla"]["status"]["level"] == "paused"
    assert client.post(f"/api/cases/{number}/wait", json={}, headers=headers).status_code == 400
