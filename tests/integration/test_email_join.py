"""One case per problem (issue 12, item 1), as Acme lives it: while case 1001 is open, a second
contact's email joins it (the same number in the auto-reply, the engineer relayed once, no new
page, no new target); ``[New]`` or ``intake.join_open_case: false`` opens another; several
emails close together reach the engineer as one waiting SMS; the same mail twice acts once.

Tuesday 03:00 in Toronto; Alice is primary. Mail comes as SendGrid posts it (SPF and DKIM pass).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from oncall.bootstrap.runtime import build_runtime
from oncall.db.models import Case, Deadline
from oncall.web.app import create_app
from tests.fakes.sendgrid import inbound, post
from tests.fakes.transports import ALICE, BOB, FakeTransport, PagingWorld

WILE = "Wile E. Coyote <wile@acme.example>"
RR = "Road Runner <rr@acme.example>"


def make_world(settings, clock, db_engine) -> PagingWorld:
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


@pytest.fixture
def world(settings, clock, db_engine) -> PagingWorld:
    return make_world(settings, clock, db_engine)


def mail(world: PagingWorld, from_: str, subject: str, text: str, **kw) -> dict:
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    response = post(client, inbound(from_, subject, text, **kw))
    assert response.status_code == 200, response.get_data(as_text=True)
    world.settle()
    return response.get_json()


def pages(world: PagingWorld, phone: str) -> list[str]:
    return [t for t in world.texts(phone) if t.startswith("[S")]


def relays(world: PagingWorld, phone: str) -> list[str]:
    return [m.body for m in world.outbox(purpose="customer_reply", to_address=phone)]


def deadlines(world: PagingWorld) -> int:
    with world.runtime.sessions() as session:
        return len(session.scalars(select(Deadline)).all())


def test_a_second_contacts_email_joins_the_open_case(world):
    first = mail(world, WILE, "Sev 1: checkout down for all users", "Nobody can pay.")
    assert first["outcome"] == "case" and first["case_number"] == 1001
    assert len(pages(world, ALICE)) == 1
    world.advance(minutes=2)
    world.sms(ALICE, "ACK")
    armed = deadlines(world)

    world.advance(minutes=10)
    joined = mail(world, RR, "Sev 1: checkout down", "Same here: card payments fail since 02:55.")
    assert joined == {
        "outcome": "joined",
        "case_number": 1001,
        "reason": None,
        "auto_replied": True,
        "forwarded": False,
        "duplicate": False,
    }
    (reply,) = world.fake.emails_to("rr@acme.example")
    assert reply.subject == "[Case 1001] Sev 1: checkout down"
    assert reply.body.startswith(
        "We are already working on case 1001, opened 12 minutes ago; your message was added to it"
    )
    assert "[New] in the subject" in reply.body
    assert "https://oncall.vendor.example/c/" in reply.body
    assert reply.headers["Auto-Submitted"] == "auto-replied"
    # the engineer paged for the case hears it once; nobody is paged again, no new target
    (relayed,) = relays(world, ALICE)
    assert relayed.startswith("Case 1001 Acme Corp: Road Runner emailed: Sev 1: checkout down")
    assert "card payments fail" in relayed
    assert len(pages(world, ALICE)) == 1 and pages(world, BOB) == []
    assert deadlines(world) == armed
    with world.runtime.sessions() as session:
        assert session.scalars(select(Case.number)).all() == [1001]
    assert "email_joined" in world.kinds(1001)

    # SendGrid retries the same post: nothing again
    again = world.outbox(purpose="joined")
    assert len(again) == 1


def test_the_same_mail_twice_joins_once(world):
    mail(world, WILE, "Sev 1: checkout down", "Nobody can pay.")
    message_id = "<same-0001@mail.acme.example>"
    mail(world, RR, "Sev 1: still down", "Still down.", message_id=message_id)
    second = mail(world, RR, "Sev 1: still down", "Still down.", message_id=message_id)
    assert second["duplicate"] is True and second["outcome"] == "joined"
    assert len(world.fake.emails_to("rr@acme.example")) == 1
    assert len(relays(world, ALICE)) == 1
    assert world.kinds(1001).count("email_joined") == 1


def test_new_in_the_subject_opens_another_case(world):
    mail(world, WILE, "Sev 1: checkout down", "Nobody can pay.")
    other = mail(world, RR, "[New] Sev 1: payroll export down", "A different system.")
    assert other["outcome"] == "case" and other["case_number"] == 1002
    assert len(pages(world, ALICE)) == 2  # a new problem is paged as its own case
    assert "email_joined" not in world.kinds(1001)


def test_join_open_case_false_opens_another_case(make_settings, db_url, clock, db_engine):
    world = make_world(make_settings(db_url, intake={"join_open_case": False}), clock, db_engine)
    mail(world, WILE, "Sev 1: checkout down", "Nobody can pay.")
    other = mail(world, RR, "Sev 1: checkout down", "Same here.")
    assert other["outcome"] == "case" and other["case_number"] == 1002


def test_several_open_cases_join_the_most_recent_and_say_which(world):
    mail(world, WILE, "Sev 1: checkout down", "Nobody can pay.")
    world.advance(minutes=5)
    mail(world, WILE, "[New] Sev 1: payroll export down", "Different system.")
    world.advance(minutes=5)
    joined = mail(world, RR, "Sev 1: it is all down", "Everything.")
    assert joined["case_number"] == 1002
    (reply,) = world.fake.emails_to("rr@acme.example")
    assert "case 1002, opened 5 minutes ago" in reply.body
    assert (
        "You have 2 open cases (1001, 1002); your message was added to the most recent one, "
        "case 1002." in reply.body
    )


def test_emails_close_together_reach_the_engineer_bundled(world):
    mail(world, WILE, "Sev 1: checkout down", "Nobody can pay.")
    world.sms(ALICE, "ACK")
    mail(world, RR, "Sev 1: checkout", "First detail.")
    world.clock.advance(seconds=10)
    mail(world, WILE, "more", "Second detail.")
    world.clock.advance(seconds=10)
    mail(world, RR, "more", "Third detail.")
    # the first went at once; the next two wait together for the window (60s in tests)
    assert [t for t in world.texts(ALICE) if "detail" in t] == [
        "Case 1001 Acme Corp: Road Runner emailed: Sev 1: checkout First detail."
    ]
    world.advance(seconds=60)
    texts = [t for t in world.texts(ALICE) if "detail" in t]
    assert len(texts) == 2
    assert "Second detail." in texts[1] and "Third detail." in texts[1]


def test_an_asked_case_is_left_alone(world):
    asked = mail(world, WILE, "Checkout", "Our checkout page is not working.")
    assert asked["outcome"] == "asked"
    other = mail(world, RR, "Sev 1: checkout down", "Nobody can pay.")
    assert other["outcome"] == "case" and other["case_number"] == 1002


def test_an_unclear_mail_during_an_open_case_joins_it_without_a_question(world):
    mail(world, WILE, "Sev 1: checkout down", "Nobody can pay.")
    world.advance(minutes=1)
    joined = mail(world, RR, "Checkout", "Something is odd with checkout.")
    assert joined["outcome"] == "joined" and joined["case_number"] == 1001
    assert world.outbox(purpose="severity_question") == []
    assert world.case(1001).opened_at + timedelta(minutes=15) == world.case(1001).triage_due_at


def test_with_nobody_to_relay_to_the_joined_mail_goes_to_the_support_queue(
    make_settings, db_url, clock, db_engine, tmp_path
):
    empty = tmp_path / "no-rotas"
    empty.mkdir()
    world = make_world(make_settings(db_url, paths={"rotations": str(empty)}), clock, db_engine)
    mail(world, WILE, "Sev 1: checkout down", "Nobody can pay.")  # no rota: managers alerted
    joined = mail(world, RR, "Sev 1: checkout down", "Same here.")
    assert joined["outcome"] == "joined"
    forwarded = [
        m for m in world.fake.emails_to("support-queue@vendor.example") if "joined case" in m.body
    ]
    assert len(forwarded) == 1 and "Same here." in forwarded[0].body
