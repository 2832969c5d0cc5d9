"""Escalation by the customer by email (issue 12, item 3), as Acme lives it: a reply to
``[Case 1001]`` whose subject or first line starts with ESCALATE pages the duty manager (Dana)
with the case, customer, severity, time open, each SLA clock and the reason; the customer is
told who was alerted; a second escalation within 30 minutes is recorded and acknowledged but
pages nobody; mail to ``email.escalation_address`` escalates the case its subject names; the
monthly SLA report counts them.
"""

from __future__ import annotations

import json

import pytest

from oncall.reports.sla import sla_report
from oncall.web.app import create_app
from tests.fakes.sendgrid import inbound, post
from tests.fakes.transports import ALICE, DANA
from tests.integration.test_email_join import RR, WILE, mail, make_world


@pytest.fixture
def world(settings, clock, db_engine):
    return make_world(settings, clock, db_engine)


def manager_pages(world) -> list[str]:
    return [t for t in world.texts(DANA) if "CUSTOMER ESCALATION" in t]


def open_case(world) -> None:
    """03:00 Wile's S1 opens case 1001; 03:02 Alice acknowledges it."""
    mail(world, WILE, "Sev 1: checkout down for all users", "Nobody can pay.")
    world.advance(minutes=2)
    world.sms(ALICE, "ACK 1001")


def test_an_escalate_reply_pages_the_duty_manager_once(world):
    open_case(world)
    world.advance(minutes=40)  # 03:42: the status is overdue
    answer = mail(
        world,
        WILE,
        "Re: [Case 1001] ESCALATE: no update for 40 minutes",
        "We have heard nothing and are losing orders.",
    )
    assert answer["outcome"] == "escalated" and answer["reason"] == "paged"
    (page,) = manager_pages(world)
    assert page.startswith("CUSTOMER ESCALATION case 1001 Acme Corp S1, open 42 minutes; ")
    assert "Alice Ng has it" in page and "triage met" in page and "status due in" in page
    assert page.endswith("Reason: no update for 40 minutes")
    (told,) = [m for m in world.fake.emails_to("wile@acme.example") if "escalation" in m.body]
    assert told.subject == "[Case 1001] Your escalation"
    assert "has reached our duty manager, Dana Ortiz" in told.body and "/c/" in told.body
    assert "customer_escalated" in world.kinds(1001)
    # the engineer is not sent the escalation as a customer reply
    assert not [t for t in world.texts(ALICE) if "losing orders" in t]

    world.advance(minutes=5)  # another contact escalates on the first line: recorded, no page
    again = mail(world, RR, "Re: [Case 1001] checkout", "Escalate please, this is urgent")
    assert again["outcome"] == "escalated" and again["reason"] == "already_escalated"
    assert len(manager_pages(world)) == 1
    (ack,) = world.fake.emails_to("rr@acme.example")
    assert "was already escalated to our duty manager, Dana Ortiz, at 03:42 EST" in ack.body


def test_mail_to_the_escalation_address_escalates_the_named_case(
    make_settings, db_url, clock, db_engine
):
    settings = make_settings(db_url, email={"escalation_address": "escalations@vendor.example"})
    world = make_world(settings, clock, db_engine)
    open_case(world)
    world.advance(minutes=10)
    form = inbound(WILE, "[Case 1001] stuck", "Nobody has called us back.")
    form["to"] = "escalations@vendor.example"
    form["envelope"] = json.dumps(
        {"to": ["escalations@vendor.example"], "from": "wile@acme.example"}
    )
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    answer = post(client, form).get_json()
    world.settle()
    assert answer["outcome"] == "escalated" and answer["reason"] == "paged"
    (page,) = manager_pages(world)
    assert page.endswith("Reason: Nobody has called us back.")
    # the same words to the critical address are a reply, relayed to Alice, not an escalation
    mail(world, WILE, "[Case 1001] stuck", "Nobody has called us back, again.")
    assert len(manager_pages(world)) == 1


def test_the_monthly_report_counts_customer_escalations(world):
    open_case(world)
    mail(world, WILE, "Re: [Case 1001] ESCALATE", "Too slow.")
    world.advance(minutes=1)
    mail(world, WILE, "Re: [Case 1001] ESCALATE", "Still too slow.")
    with world.runtime.sessions() as session:
        report = sla_report(session, "2026-11", world.runtime.settings.zone, now=world.clock.now())
    assert (report.customer_escalations, report.cases_escalated) == (2, 1)
    assert [(c.label, c.count) for c in report.escalations_by_customer] == [("Acme Corp", 2)]
