"""A case's life after the page, as the customer and the engineer live it (issue 11, items 2
and 3): the engineer asks the customer a question and the clocks pause; the customer answers by
email or SMS; the case is resolved, reopened within the window, closed after it, and a REOPEN
after closure opens a new case that names the old one.

Tuesday 03:00 in Toronto (after hours). Wile (Acme, premium; +15551230001, wile@acme.example)
has an S1; Alice is primary. The engine and the sender run on a fake clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from oncall.bootstrap.runtime import build_runtime
from oncall.cases.opening import NewCase, open_case
from oncall.db.models import Case, Deadline
from oncall.db.session import transaction
from oncall.engine.escalation import start_paging
from oncall.engine.retention import apply_retention
from oncall.reports.sla import sla_report
from oncall.web.app import create_app
from tests.fakes import seed
from tests.fakes.sendgrid import inbound, post
from tests.fakes.transports import ALICE, WILE, FakeTransport, PagingWorld

WILE_MAIL = "wile@acme.example"


@pytest.fixture
def world(settings, clock, db_engine) -> PagingWorld:
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


def open_email_case(world: PagingWorld) -> int:
    """Wile's S1 by email (his phone on file too), paged to Alice at once."""
    acme = world.runtime.directory().customers["acme"]
    now = world.clock.now()
    with transaction(world.runtime.sessions) as session:
        case = open_case(
            session,
            world.runtime,
            NewCase(
                customer_key="acme",
                customer_name=acme.name,
                plan=acme.plan.key,
                team=acme.team,
                channel="email",
                severity=1,
                summary="Checkout down for all users",
                contact_name="Wile E. Coyote",
                contact_phone=WILE,
                contact_email=WILE_MAIL,
            ),
            now,
        )
        start_paging(session, world.runtime, case, now)
        number = case.number
    world.settle()
    return number


def status_due(world: PagingWorld, number: int, states=("pending", "suspended")) -> dict:
    """The case's status timers: kind -> due time."""
    case = world.case(number)
    with world.runtime.sessions() as session:
        rows = session.scalars(
            select(Deadline).where(
                Deadline.case_id == case.id,
                Deadline.kind.in_(("status_warn", "status_due")),
                Deadline.state.in_(states),
            )
        ).all()
        return {row.kind: (row.due_at, row.state) for row in rows}


def email_reply(world: PagingWorld, number: int, text: str, subject: str | None = None) -> dict:
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    form = inbound(
        from_=f"Wile E. Coyote <{WILE_MAIL}>",
        subject=subject or f"Re: [Case {number}] A question about your case",
        text=text,
    )
    response = post(client, form)
    assert response.status_code == 200, response.get_data(as_text=True)
    world.settle()
    return response.get_json()


# -- item 2: waiting for the customer -------------------------------------------------------


def test_wait_pauses_the_status_clocks_for_exactly_the_wait(world):
    number = open_email_case(world)
    world.advance(minutes=2)
    assert world.sms(ALICE, f"ACK {number}").startswith(f"Acknowledged {number}")
    before = status_due(world, number)
    assert before["status_due"][1] == "pending"

    world.advance(minutes=10)
    reply = world.sms(ALICE, f"WAIT {number} Which region do you see the errors in?")
    assert "paused" in reply and "email+sms" in reply
    case = world.case(number)
    assert case.state == "waiting_customer" and case.waiting_since == world.clock.now()
    assert {state for _due, state in status_due(world, number).values()} == {"suspended"}
    # The question reached the customer by email and by SMS from the critical line.
    question = world.outbox(purpose="wait_question", channel="email")[0]
    assert question.subject.startswith(f"[Case {number}]")
    assert "Which region do you see the errors in?" in question.body
    assert any("Which region" in t for t in world.texts(WILE))

    # 3 hours pass: far beyond the first-status target (1h), and no reminder, no breach.
    world.advance(hours=3)
    assert "breach" not in world.kinds(number) and "reminder" not in world.kinds(number)

    answer = email_reply(world, number, "Only in eu-west, since 02:50.")
    assert answer["outcome"] == "reply"
    case = world.case(number)
    assert case.state == "acknowledged" and case.waiting_since is None
    assert case.paused_seconds == 3 * 3600
    after = status_due(world, number, ("pending",))
    for kind in ("status_warn", "status_due"):
        assert after[kind][0] - before[kind][0] == timedelta(hours=3)
    assert case.status_due_at == before["status_due"][0] + timedelta(hours=3)
    # The answer is relayed to Alice, and the timeline says what happened.
    assert "eu-west" in world.last_text(ALICE)
    kinds = world.kinds(number)
    assert kinds.index("waiting_customer") < kinds.index("customer_answered")
    assert "wait_ended" in kinds

    # The clock runs again with the time it had left: the WAIT came 12 minutes after the
    # opening, so the reminder (due 55 minutes after it) comes 43 minutes after the answer.
    world.advance(minutes=42)
    assert "reminder" not in world.kinds(number)
    world.advance(minutes=2)
    assert "reminder" in world.kinds(number)


def test_the_customers_sms_answer_resumes_and_is_relayed(world):
    number = open_email_case(world)
    world.sms(ALICE, f"ACK {number}")
    world.sms(ALICE, f"WAIT {number} Is it every store or one?")
    world.advance(minutes=25)
    reply = world.sms(WILE, "Every store, all regions")
    assert reply == f"Thank you: your answer on case {number} was passed to the engineer."
    assert "Every store, all regions" in world.last_text(ALICE)
    case = world.case(number)
    assert case.state == "acknowledged" and case.paused_seconds == 25 * 60
    assert "customer_answered" in world.kinds(number)


def test_a_status_from_the_engineer_resumes_the_clocks(world):
    number = open_email_case(world)
    world.sms(ALICE, f"ACK {number}")
    world.sms(ALICE, f"WAIT {number} Can you send the error id?")
    world.advance(minutes=40)
    reply = world.sms(ALICE, f"STATUS {number} Found it in the logs ETA 1h")
    assert reply.startswith("Status sent")
    case = world.case(number)
    assert case.state == "acknowledged" and case.paused_seconds == 40 * 60
    assert "wait_ended" in world.kinds(number)
    # A stray SMS from the customer afterwards is no answer to anything: nobody is told.
    assert world.sms(WILE, "thanks") is None


def test_wait_needs_a_question_and_an_open_case(world):
    number = open_email_case(world)
    assert "WAIT needs the question" in world.sms(ALICE, f"WAIT {number}")
    world.sms(ALICE, f"RESOLVE {number} fixed")
    assert "already resolved" in world.sms(ALICE, f"WAIT {number} anything else?")


def test_resolving_a_waiting_case_counts_the_wait(world):
    number = open_email_case(world)
    world.sms(ALICE, f"WAIT {number} Still broken?")
    world.advance(minutes=30)
    world.sms(ALICE, f"RESOLVE {number} customer confirmed it works")
    case = world.case(number)
    assert case.state == "resolved" and case.paused_seconds == 30 * 60
    assert case.waiting_since is None
    assert status_due(world, number, ("pending", "suspended")) == {}


# -- item 3: closure and reopen -------------------------------------------------------------


def test_resolve_offers_reopen_and_a_reopen_within_the_window_pages_again(world):
    number = open_email_case(world)
    world.sms(ALICE, f"ACK {number}")
    world.sms(ALICE, f"RESOLVE {number} rolled back")
    resolved = world.outbox(purpose="resolved", channel="email")[0]
    assert "reply REOPEN to this email" in resolved.body
    assert f"text REOPEN {number} to +15555550501" in resolved.body
    pages_before = len(world.outbox(purpose="page"))

    world.advance(days=2)
    outcome = email_reply(
        world, number, "It is down again.", subject=f"REOPEN Re: [Case {number}] Resolved"
    )
    assert outcome["outcome"] == "reply" and not outcome["forwarded"]
    case = world.case(number)
    assert case.state == "open" and case.reopen_count == 1
    assert case.reopened_at == world.clock.now() and case.acknowledged_at is None
    assert case.triage_due_at == world.clock.now() + timedelta(minutes=15)
    # Paged again, at once, by the case's policy; the customer is told.
    assert len(world.outbox(purpose="page")) > pages_before
    assert world.last_text(ALICE).startswith(f"[S1] Case {number}")
    told = world.outbox(purpose="reopened", channel="email")[0]
    assert "open again" in told.body and "paged" in told.body
    assert "reopened" in world.kinds(number)
    # The closure timers of the first resolution are gone; the new triage target is live.
    world.advance(minutes=16)
    assert any(kind == "breach" and "Triage" in text for kind, text in world.events(number)[-8:])
    assert world.case(number).state == "open"
    # The second acknowledgement is a new one, with its own notices.
    assert world.sms(ALICE, f"ACK {number}").startswith(f"Acknowledged {number}")


def test_reopen_by_sms_from_the_contacts_phone(world):
    number = open_email_case(world)
    world.sms(ALICE, f"RESOLVE {number} fixed")
    world.advance(hours=5)
    reply = world.sms(WILE, f"reopen {number} still failing for some users")
    assert reply.startswith(f"Your case {number} is open again.")
    assert world.case(number).state == "open"
    assert (
        world.sms(WILE, "REOPEN")
        == "Which case? Reply REOPEN and the case number, e.g. REOPEN 1042."
    )
    assert world.sms(WILE, "REOPEN 9999") == "We found no case 9999 for your account."
    assert world.sms("+15550009999", f"REOPEN {number}") is None  # strangers learn nothing


def test_auto_close_after_the_window_with_one_reminder_at_half_time(world):
    number = open_email_case(world)
    world.sms(ALICE, f"RESOLVE {number} fixed")
    resolved_at = world.clock.now()
    world.advance(days=3, hours=11)
    assert world.outbox(purpose="closure_reminder") == []
    world.advance(hours=2)
    reminders = world.outbox(purpose="closure_reminder")
    assert len(reminders) == 1 and reminders[0].created_at == resolved_at + timedelta(days=3.5)
    assert "reply REOPEN" in reminders[0].body
    assert world.case(number).state == "resolved"
    world.advance(days=4)
    case = world.case(number)
    assert case.state == "closed" and case.closed_at == resolved_at + timedelta(days=7)
    assert len(world.outbox(purpose="closure_reminder")) == 1
    assert "now closed" in world.outbox(purpose="closed", channel="email")[0].body
    assert "closed" in world.kinds(number)


def test_a_reopen_after_closure_opens_a_new_case_that_names_the_old_one(world):
    number = open_email_case(world)
    world.sms(ALICE, f"RESOLVE {number} fixed")
    world.advance(days=8)
    assert world.case(number).state == "closed"

    outcome = email_reply(
        world, number, "REOPEN\nIt broke again.", subject=f"Re: [Case {number}] Closed"
    )
    assert outcome["outcome"] == "reply"
    assert world.case(number).state == "closed"  # a closed case never reopens
    new_number = number + 1
    new = world.case(new_number)
    assert new is not None and new.follows_number == number and new.state == "open"
    assert f"Follows case {number}" in new.summary
    assert "follows" in world.kinds(new_number)
    assert "reopen_after_close" in world.kinds(number)
    told = world.outbox(purpose="reopened", channel="email")[0]
    assert f"opened case {new_number}, which follows case {number}" in told.body
    assert told.subject.startswith(f"[Case {new_number}]")
    # Eight days on, whoever is primary that week is paged for the new case.
    pages = world.outbox(case_id=new.id, purpose="page")
    assert pages and pages[0].body.startswith(f"[S1] Case {new_number}")
    # The same mail again (SendGrid retries) opens nothing more.
    assert world.case(new_number + 1) is None


def test_a_late_reopen_before_the_engine_closed_it_still_opens_a_new_case(world):
    number = open_email_case(world)
    world.sms(ALICE, f"RESOLVE {number} fixed")
    # The engine is down for the whole window: nothing applied the closure yet.
    world.clock.advance(days=7, minutes=1)
    reply = world.sms(WILE, f"REOPEN {number}")
    assert f"Case {number} was closed on" in reply and f"case {number + 1}" in reply
    assert world.case(number).state == "closed"
    assert world.case(number + 1).follows_number == number


def test_retention_treats_closed_like_resolved_and_keeps_waiting_cases(
    make_settings, db_url, clock, db_engine
):
    settings = make_settings(db_url, retention={"closed_cases": "400d", "recordings": "never"})
    runtime = build_runtime(settings, clock=clock, db=db_engine)
    old = clock.now() - timedelta(days=500)
    with transaction(runtime.sessions) as session:
        seed.add_case(session, 1001, opened_at=old, state="closed", resolved_at=old, closed_at=old)
        seed.add_case(session, 1002, opened_at=old, state="resolved", resolved_at=old)
        # Open work however old: waiting for the customer is not finished.
        seed.add_case(session, 1003, opened_at=old, state="waiting_customer", waiting_since=old)
    assert apply_retention(runtime).cases == 2
    with runtime.sessions() as session:
        assert list(session.scalars(select(Case.number))) == [1003]


def test_the_first_status_target_in_the_sla_report_moves_with_the_wait(world):
    number = open_email_case(world)
    world.sms(ALICE, f"ACK {number}")
    world.sms(ALICE, f"WAIT {number} Which region?")
    world.advance(hours=2)  # an hour past the first-status target, all of it waiting
    with world.runtime.sessions() as session:
        report = sla_report(
            session, "2026-11", world.runtime.settings.zone, sla=world.runtime.settings.sla,
            now=world.clock.now(),
        )  # fmt: skip
    assert report.first_status_measured == 0  # not missed: the clock is paused
    world.sms(WILE, "eu-west")
    world.sms(ALICE, f"STATUS {number} Rolled back eu-west ETA 30m")
    with world.runtime.sessions() as session:
        report = sla_report(
            session, "2026-11", world.runtime.settings.zone, sla=world.runtime.settings.sla,
            now=world.clock.now(),
        )  # fmt: skip
    assert (report.first_status_within_target, report.first_status_measured) == (1, 1)


def test_the_case_page_shows_the_wait_and_the_closure_to_come(
    make_settings, db_url, clock, db_engine
):
    from werkzeug.security import generate_password_hash

    users = {
        "maria": {
            "role": "manager",
            "password_hash": generate_password_hash("pw", "pbkdf2:sha256:1000"),
        }
    }
    settings = make_settings(db_url, users=users)
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    world = PagingWorld(runtime, clock, fake)
    number = open_email_case(world)
    world.sms(ALICE, f"ACK {number}")
    world.sms(ALICE, f"WAIT {number} Which region?")
    world.advance(minutes=30)
    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"username": "maria", "password": "pw", "csrf_token": token})
    page = client.get(f"/cases/{number}").text
    assert 'id="waiting"' in page and "since 03:00 EST" in page
    # The WAIT came at 03:00, an hour before the first status was due: the hour stands still,
    # and the due time moves with the wait (04:30 after half an hour).
    assert "paused, 1h 00m left" in page and "due Tue 24 Nov 04:30 EST" in page
    world.sms(WILE, "eu-west")
    world.sms(ALICE, f"RESOLVE {number} fixed")
    page = client.get(f"/cases/{number}").text
    assert '<dd id="paused">30m 00s</dd>' in page
    assert "Remind the customer the case closes soon" in page  # what the engine does next


def test_wait_implies_the_acknowledgement_and_a_second_wait_keeps_the_first_start(world):
    number = open_email_case(world)
    reply = world.sms(ALICE, f"WAIT {number} Is it all stores?")
    assert reply.startswith("Asked Acme Corp (email+sms)")
    case = world.case(number)
    assert case.acknowledged_by == "alice" and case.state == "waiting_customer"
    first = case.waiting_since
    world.advance(minutes=10)
    again = world.sms(ALICE, f"WAIT {number} And since when?")
    assert again.endswith("Still waiting since 03:00 EST.")
    assert world.case(number).waiting_since == first
    assert len(world.outbox(purpose="wait_question", channel="email")) == 2


def test_a_downgraded_case_is_not_reopened(world):
    number = open_email_case(world)
    world.sms(ALICE, f"SEV {number} 3 a question about invoices")
    reply = world.sms(WILE, f"REOPEN {number}")
    assert reply.startswith(f"Case {number} is with our regular support")
    assert world.case(number).state == "downgraded"
    assert "reopen_refused" in world.kinds(number)
