"""Severity by email when the words leave it unclear (issue 16), as the customer and the
engineer live it: the severity menu by email and SMS, the answer by reply or by SMS, and the
timeout that pages a mail leaning critical and forwards the others.

Tuesday 03:00 in Toronto (after hours). Wile (Acme, premium plan; phone +15551230001) writes to
the critical address; Alice is primary on the support rota. Emails are posted as SendGrid posts
them, SMS come signed as Twilio sends them; the engine and the sender run on a fake clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from oncall.bootstrap.runtime import build_runtime
from oncall.db.models import Attempt, Case, MisuseFlag, OutboundMessage
from oncall.domain.severity import Decision
from oncall.domain.severity_question import MENU
from oncall.services.case_actions import set_severity
from oncall.web.app import create_app
from tests.fakes.transports import ALICE, BOB, WILE, FakeTransport, PagingWorld
from tests.integration.test_email_intake import post, simple
from tests.integration.test_sms_webhook import Phone
from tests.severity_corpus import ASKED, ASKED_LEANING, NOT_CRITICAL, PAGED, judge, load_corpus
from tests.unit.test_severity_corpus import ISSUE_TABLE

WILE_MAIL = "wile@acme.example"
QUEUE = "support-queue@vendor.example"
AT_0300 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
UNCLEAR_CRITICAL = ("Checkout", "Our checkout page is not working.")  # leans critical (S2)
UNCLEAR = ("Reports", "Something is odd with the reports.")  # leans nowhere


@pytest.fixture
def world(settings, clock, db_engine) -> PagingWorld:
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


def send(world: PagingWorld, subject: str, text: str, **fields: str) -> dict:
    """Wile's email reaches the critical address; the sender and engine catch up."""
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    form = simple(
        subject=subject,
        text=text,
        message_id=fields.pop("message_id", None),
        extra_headers=fields.pop("headers", ""),
    )
    form.update(fields)
    response = post(client, form)
    assert response.status_code == 200, response.get_data(as_text=True)
    world.settle()
    return response.get_json()


def question(world: PagingWorld, number: int = 1001) -> OutboundMessage:
    """The first question about case ``number`` (a reply without an answer is asked again)."""
    return next(
        m
        for m in world.outbox(purpose="severity_question", channel="email")
        if m.subject and m.subject.startswith(f"[Case {number}]")
    )


def downgrade(world: PagingWorld, number: int) -> str:
    """Alice sets SEV 3 on case ``number``."""
    case_id = world.case(number).id
    with world.runtime.sessions() as session, session.begin():
        case = session.get(Case, case_id)
        return set_severity(session, world.runtime, case, "alice", 3, world.clock.now())


def reply(world: PagingWorld, body: str, number: int = 1001) -> dict:
    """Wile answers the question by email: a reply threaded under it, history quoted."""
    asked = question(world, number)
    quoted = "\n".join(f"> {line}" for line in asked.body.splitlines())
    text = (
        f"{body}\n\nOn Tue, 24 Nov 2026, Vendor Support <support@vendor.example> wrote:\n{quoted}"
    )
    return send(world, f"Re: {asked.subject}", text, headers=f"In-Reply-To: {asked.message_id}\n")


def pages(world: PagingWorld, number: str) -> list[str]:
    return [t for t in world.texts(number) if t.startswith("[S")]


def emails_to(world: PagingWorld, address: str) -> list:
    return world.fake.emails_to(address)


# -- the conversation ---------------------------------------------------------------------------
def test_an_unclear_critical_mail_gets_the_menu_by_email_and_sms_and_1_pages_the_primary(world):
    assert send(world, *UNCLEAR_CRITICAL) == {
        "outcome": "asked",
        "case_number": 1001,
        "reason": None,
        "auto_replied": True,
        "forwarded": False,
        "duplicate": False,
    }
    (mail,) = emails_to(world, WILE_MAIL)
    assert mail.subject == "[Case 1001] Checkout"
    assert "case 1001" in mail.body and MENU in mail.body
    assert "If we have no answer by 03:10 EST, we will page the on-call engineer anyway" in (
        mail.body
    )
    assert mail.headers["Auto-Submitted"] == "auto-replied"
    (sms,) = world.texts(WILE)
    assert sms.startswith("Vendor Support case 1001: how severe is it? Reply 1 production down")
    assert "No reply by 03:10 EST: we page the on-call engineer." in sms
    assert pages(world, ALICE) == []  # nobody is woken for a question
    case = world.case(1001)
    assert case.state == "asked" and case.severity_asked_at == AT_0300
    assert case.triage_due_at is None

    world.advance(minutes=2)  # 03:02: Wile answers 1
    assert reply(world, "1") == {
        "outcome": "answered",
        "case_number": 1001,
        "reason": "critical",
        "auto_replied": False,
        "forwarded": False,
        "duplicate": False,
    }
    # paged at once: no time passed since the answer
    assert pages(world, ALICE) == [
        "[S1] Case 1001 Acme Corp: Checkout Our checkout page is not working. Reply ACK 1001"
    ]
    case = world.case(1001)
    assert (case.state, case.severity, case.severity_source) == ("open", 1, "answered")
    answered = AT_0300 + timedelta(minutes=2)
    assert case.severity_answered_at == answered and case.opened_at == answered
    assert case.triage_due_at == answered + timedelta(minutes=15)  # the triage clock starts now
    events = world.events(1001)
    assert [k for k, _ in events if k.startswith("severity_") or k == "opened"] == [
        "severity_asked",
        "severity_answered",
        "opened",
    ]
    assert dict(events)["severity_answered"] == (
        "Wile E. Coyote answered 1 by email at 03:02 EST (asked at 03:00 EST)"
    )
    opened = emails_to(world, WILE_MAIL)[-1]
    assert opened.subject == "[Case 1001] Checkout"
    assert opened.body.startswith("Thank you. You answered 1 at 03:02 EST. Your message opened ")
    assert "within 15 minutes" in opened.body
    # the reply threads under our question, and the timeout will not fire any more
    world.advance(minutes=10)
    assert [k for k, _ in world.events(1001)].count("severity_unanswered") == 0


def test_3_forwards_to_the_regular_queue_with_no_fee(world):
    send(world, *UNCLEAR_CRITICAL)
    assert reply(world, "3 - it's only the coupon field")["reason"] == "not_critical"
    case = world.case(1001)
    assert (case.state, case.severity, case.severity_source) == ("downgraded", 3, "answered")
    assert pages(world, ALICE) == [] and pages(world, BOB) == []
    (forward,) = emails_to(world, QUEUE)
    assert forward.subject == "[Case 1001] Forwarded from the critical line: Acme Corp"
    assert "Our checkout page is not working." in forward.body and "no fee" in forward.body
    assert forward.headers["Reply-To"] == WILE_MAIL
    told = emails_to(world, WILE_MAIL)[-1]
    assert told.subject == "[Case 1001] Forwarded to regular support"
    assert "You answered 3" in told.body and "no fee applies" in told.body
    with world.runtime.sessions() as session:
        assert session.scalars(select(MisuseFlag)).all() == []
        assert session.scalars(select(Attempt)).all() == []  # a case, not a refusal


def test_the_contact_answers_by_sms_to_the_critical_line(world):
    send(world, *UNCLEAR_CRITICAL)
    wile = Phone(world, WILE)
    assert wile.text("2") == (
        "Thank you. Case 1001 is critical (S2): the on-call engineer has been paged and will "
        "take charge within 15 minutes."
    )
    assert pages(world, ALICE) == [
        "[S2] Case 1001 Acme Corp: Checkout Our checkout page is not working. Reply ACK 1001"
    ]
    assert dict(world.events(1001))["severity_answered"].startswith(
        "Wile E. Coyote answered 2 by SMS at 03:00 EST"
    )
    # a second answer changes nothing
    assert wile.text("1") is None  # nothing is waiting: silence, as to any customer
    assert world.case(1001).severity == 2


def test_no_answer_pages_a_mail_leaning_critical_with_no_fee_on_the_guess(world):
    send(world, *UNCLEAR_CRITICAL)
    world.advance(minutes=9, seconds=59)
    assert pages(world, ALICE) == []
    world.advance(seconds=1)  # 03:10: the question's timeout
    assert pages(world, ALICE) == [
        "[S2] Case 1001 Acme Corp: Checkout Our checkout page is not working. Reply ACK 1001"
    ]
    case = world.case(1001)
    assert (case.state, case.severity, case.severity_source) == ("open", 2, "timeout")
    assert case.severity_answered_at is None
    assert case.triage_due_at == AT_0300 + timedelta(minutes=25)
    assert (
        "paged as S2, as the email leaned critical"
        in dict(world.events(1001))["severity_unanswered"]
    )
    told = emails_to(world, WILE_MAIL)[-1]
    assert told.body.startswith("We did not hear back by 03:10 EST. Because your message ")
    # the engineer finds it is not critical: no fee on a severity the service guessed
    assert "no misuse fee" in downgrade(world, 1001)
    with world.runtime.sessions() as session:
        assert session.scalars(select(MisuseFlag)).all() == []


def test_no_answer_forwards_a_mail_leaning_nowhere_and_tells_the_customer(world):
    assert send(world, *UNCLEAR)["outcome"] == "asked"
    assert (
        "your message will go to our regular support queue" in emails_to(world, WILE_MAIL)[0].body
    )
    world.advance(minutes=10)
    case = world.case(1001)
    assert (case.state, case.severity_source) == ("downgraded", "timeout")
    assert pages(world, ALICE) == [] and pages(world, BOB) == []
    (forward,) = emails_to(world, QUEUE)
    assert "Something is odd with the reports." in forward.body
    told = emails_to(world, WILE_MAIL)[-1]
    assert told.body.startswith("We did not hear back about case 1001 by 03:10 EST.")
    assert "No fee applies" in told.body and "reply 1 or 2 to this email" in told.body


def test_a_late_1_still_pages_a_case_the_timeout_forwarded(world):
    send(world, *UNCLEAR)
    world.advance(minutes=30)
    assert world.case(1001).state == "downgraded"
    assert Phone(world, WILE).text("1").startswith("Thank you. Case 1001 is critical (S1)")
    assert world.case(1001).state == "open"
    assert len(pages(world, ALICE)) == 1
    assert emails_to(world, QUEUE)[-1].subject == (
        "[Case 1001] Now critical: the on-call engineer has it"
    )


def test_a_reply_without_an_answer_is_asked_again_and_words_that_are_clear_count(world):
    send(world, *UNCLEAR)
    assert reply(world, "Not sure, the numbers look off?")["reason"] == "unclear"
    again = emails_to(world, WILE_MAIL)[-1]
    assert again.subject == "[Case 1001] How severe is it?" and MENU in again.body
    assert world.case(1001).state == "asked"
    assert reply(world, "Now it is down for all users!")["reason"] == "critical"
    case = world.case(1001)
    assert (case.severity, case.severity_source) == (1, "phrases")  # our reading: no fee


def test_a_customer_gets_no_engineer_command(world):
    send(world, *UNCLEAR_CRITICAL)
    wile = Phone(world, WILE)
    assert wile.text("ACK 1001").startswith("Please reply 1, 2 or 3 for case 1001.")
    assert world.case(1001).state == "asked" and world.case(1001).acknowledged_at is None
    # another contact with nothing waiting learns nothing, as before
    assert Phone(world, "+15551230002").text("1") is None


def test_the_same_mail_asks_once_and_the_same_sms_answers_once(world):
    message_id = f"<{uuid.uuid4().hex}@mail.acme.example>"
    send(world, *UNCLEAR_CRITICAL, message_id=message_id)
    assert send(world, *UNCLEAR_CRITICAL, message_id=message_id)["duplicate"] is True
    assert len(world.outbox(purpose="severity_question")) == 2  # one email, one SMS
    wile = Phone(world, WILE)
    params = wile.params("1", sid="SM" + "7" * 32)
    first = wile.post(params).get_data(as_text=True)
    assert wile.post(params).get_data(as_text=True) == first
    assert [k for k, _ in world.events(1001)].count("severity_answered") == 1


def test_fees_follow_who_chose_the_severity(world):
    # clear from the words: paged at once, but a downgrade carries no fee
    assert send(world, "Checkout", "Checkout is broken for every customer.")["outcome"] == "case"
    # stated by the customer: the fee applies as before
    assert send(world, "[New] Sev 1: reports", "Reports fail.")["outcome"] == "case"
    assert "no misuse fee" in downgrade(world, 1001)
    assert "flagged for the misuse fee" in downgrade(world, 1002)
    assert (world.case(1001).severity_source, world.case(1002).severity_source) == (
        "phrases",
        "stated",
    )
    with world.runtime.sessions() as session:
        flags = session.scalars(select(MisuseFlag)).all()
    assert [f.case_id for f in flags] == [world.case(1002).id]


# -- the issue's table and the corpus, through the webhook --------------------------------------
@pytest.mark.parametrize(
    ("subject", "body", "decision"), ISSUE_TABLE, ids=[row[0] for row in ISSUE_TABLE]
)
def test_the_seven_mails_of_the_issue_through_the_webhook(world, subject, body, decision):
    outcome = send(world, subject, body)
    if decision is Decision.PAGE:
        assert outcome["outcome"] == "case"
        assert world.case(1001).severity == 1 and len(pages(world, ALICE)) == 1
    else:
        assert (outcome["outcome"], outcome["reason"]) == ("refused", "non_critical")
        assert outcome["forwarded"] is True and pages(world, ALICE) == []
        assert "may incur a fee" in emails_to(world, WILE_MAIL)[0].body


def test_the_corpus_through_the_webhook(make_settings, db_url, clock, db_engine):
    """Every labelled email posted as SendGrid posts it (HTML-only ones as HTML) ends where the
    rules say: a case paged, a question asked, or a refusal. Every mail opens its own case
    (``intake.join_open_case: false``): they are all Wile's, and would join the first one."""
    settings = make_settings(db_url, intake={"join_open_case": False})
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    world = PagingWorld(runtime, clock, fake)
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    wanted = {PAGED: "case", ASKED_LEANING: "asked", ASKED: "asked", NOT_CRITICAL: "refused"}
    got = {}
    for mail in load_corpus():
        form = simple(subject=mail.subject, text=mail.text)
        if not mail.text:
            form.pop("text")
            form["html"] = mail.html
        response = post(client, form)
        assert response.status_code == 200, mail.id
        got[mail.id] = (response.get_json()["outcome"], wanted[judge(mail)[0]])
    assert {k: v for k, v in got.items() if v[0] != v[1]} == {}
    asked = [m for m in world.outbox(purpose="severity_question") if m.channel == "email"]
    assert len(asked) == sum(1 for outcome, _ in got.values() if outcome == "asked")


def test_the_case_shows_when_it_was_asked_and_answered(world):
    send(world, *UNCLEAR_CRITICAL)
    world.advance(minutes=3)
    Phone(world, WILE).text("1")
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    response = client.get(
        "/api/cases/1001", headers={"Authorization": "Bearer test-api-token-0123456789"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["severity_source"] == "answered"
    assert body["severity_asked_at"] == "2026-11-24T08:00:00+00:00"
    assert body["severity_answered_at"] == body["opened_at"] == "2026-11-24T08:03:00+00:00"
    kinds = [event["kind"] for event in body["timeline"]]
    assert kinds.index("severity_asked") < kinds.index("severity_answered") < kinds.index("opened")


def test_the_dashboard_shows_the_question_and_the_answer(make_settings, db_url, clock, db_engine):
    from tests.integration.test_dashboard import USERS, sign_in

    fake = FakeTransport()
    runtime = build_runtime(
        make_settings(db_url, users=USERS),
        clock=clock,
        transports={"sms": fake, "voice": fake, "email": fake},
        db=db_engine,
    )
    world = PagingWorld(runtime, clock, fake)
    send(world, *UNCLEAR)
    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    sign_in(client)
    waiting = client.get("/cases/1001")
    assert waiting.status_code == 200
    assert "asked" in waiting.text and "Severity unclear" in waiting.text
    assert client.get("/cases").status_code == 200
    world.advance(minutes=1)
    Phone(world, WILE).text("2")
    answered = client.get("/cases/1001").text
    assert "Wile E. Coyote answered 2 by SMS at 03:01 EST (asked at 03:00 EST)" in answered
