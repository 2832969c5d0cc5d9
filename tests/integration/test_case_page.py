"""A page for the case (issue 12, item 4), as Acme lives it: every message Wile gets about case
1001 carries ``{public_url}/c/<token>``; the page answers 200 with the case's status for that
token and 404 for any other; it shows who is working on it (a first name), the status in the
engineer's words, the ETA, the next update, and a timeline with nothing internal; its forms
(CSRF-checked, limited per token) add a note that reaches the engineer and escalate to the
duty manager; the link stops working ``retention.case_page`` after the case is resolved.
"""

from __future__ import annotations

import re

import pytest

from oncall.bootstrap.runtime import build_runtime
from oncall.cases.page_link import token_hash
from oncall.web.app import create_app
from tests.fakes.callers import csrf_from
from tests.fakes.case_story import RESOLUTION, STATUS, phone_case_story
from tests.fakes.transports import ALICE, DANA, FakeTransport, PagingWorld

LINK = re.compile(r"https://oncall\.vendor\.example/c/([A-Za-z0-9_-]+)")


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


def token_of(world: PagingWorld, number: int = 1001) -> str:
    """The token from the customer's messages (every one carries the same link)."""
    tokens = {
        match.group(1)
        for m in world.fake.sent
        if m.to in ("+15551230001", "wile@acme.example")
        for match in LINK.finditer(m.body)
    }
    assert len(tokens) == 1, tokens
    return tokens.pop()


def post_form(client, token: str, action: str, **fields: str):
    page = client.get(f"/c/{token}")
    form_id = re.search(r'name="form_id" value="([^"]+)"', page.text).group(1)
    return client.post(
        f"/c/{token}/{action}",
        data={"csrf_token": csrf_from(page.text), "form_id": form_id, **fields},
    )


def test_every_customer_message_links_the_page_and_it_shows_the_case(world, client):
    number = phone_case_story(world, resolve=False)
    told = [m for m in world.fake.sent if m.to == "+15551230001"]
    assert told and all(LINK.search(m.body) for m in told)  # opened, acknowledged, status
    token = token_of(world)
    assert len(token) >= 22  # at least 128 bits
    case = world.case(number)
    assert case.page_token_hash == token_hash(token)
    assert token not in (case.page_nonce or "")  # only its hash is stored

    page = client.get(f"/c/{token}")
    assert page.status_code == 200
    html = page.text
    assert f"Case {number}" in html and "S1" in html and "Being worked on" in html
    assert "Alice is working on it." in html
    assert STATUS.replace("ETA 45m", "").strip().split(";")[0] in html
    assert "Estimated resolution" in html and "Next update due" in html
    assert "Alice Ng" not in html  # first names only
    # nothing internal: no phones, no pages, no deliveries
    assert "+1555" not in html
    for internal in ("Paged", "Putting the caller through", "Delivered", "Reminder"):
        assert internal not in html
    assert "dashboard.css" in html and "https://" not in html.split("<main>")[0].replace(
        "https://oncall.vendor.example", ""
    )


def test_staff_see_the_customers_link_on_the_dashboard(make_settings, db_url, clock, db_engine):
    from tests.fakes.callers import MANAGERS, sign_in

    fake = FakeTransport()
    settings = make_settings(db_url, users=MANAGERS)
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    world = PagingWorld(runtime, clock, fake)
    number = phone_case_story(world, resolve=False)
    staff = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    sign_in(staff)
    html = staff.get(f"/cases/{number}").text
    link = re.search(r'id="customer-page"', html) and re.search(r'href="([^"]+/c/[^"]+)"', html)
    assert link and link.group(1) == f"https://oncall.vendor.example/c/{token_of(world)}"


def test_any_other_token_is_404(world, client):
    phone_case_story(world, resolve=False)
    token = token_of(world)
    assert client.get(f"/c/{token[:-1]}x").status_code == 404
    assert client.get("/c/nothing").status_code == 404
    assert client.get("/c/" + "a" * 300).status_code == 404
    assert client.post("/c/nothing/note", data={"text": "hi"}).status_code == 400  # no CSRF
    csrf = csrf_from(client.get(f"/c/{token}").text)  # a real session's token, a wrong link
    fields = {"csrf_token": csrf, "form_id": "f1", "text": "hi", "reason": "hi"}
    assert client.post(f"/c/{token[:-1]}x/note", data=fields).status_code == 404
    assert client.post(f"/c/{token[:-1]}x/escalate", data=fields).status_code == 404


def test_the_form_adds_a_note_that_reaches_the_engineer(world, client):
    phone_case_story(world, resolve=False)
    token = token_of(world)
    response = post_form(client, token, "note", text="The error started after our 02:50 deploy")
    assert response.status_code == 303
    world.settle()
    page = client.get(f"/c/{token}")
    assert "your information was passed to the engineer" in page.text
    assert "Note from Wile E. Coyote: The error started after our 02:50 deploy" in page.text
    relayed = [t for t in world.texts(ALICE) if "02:50 deploy" in t]
    assert relayed == [
        "Case 1001 Acme Corp: Wile E. Coyote added on the case page: The error started after "
        "our 02:50 deploy"
    ]
    assert "customer_note" in world.kinds(1001)


def test_a_form_without_its_csrf_token_is_refused(world, client):
    phone_case_story(world, resolve=False)
    token = token_of(world)
    response = client.post(f"/c/{token}/note", data={"text": "forged", "form_id": "x"})
    assert response.status_code == 400
    assert "customer_note" not in world.kinds(1001)


def test_the_same_form_twice_adds_once_and_posts_are_limited(world, client):
    phone_case_story(world, resolve=False)
    token = token_of(world)
    page = client.get(f"/c/{token}")
    fields = {"csrf_token": csrf_from(page.text), "form_id": "abc123", "text": "once"}
    client.post(f"/c/{token}/note", data=fields)
    client.post(f"/c/{token}/note", data=fields)
    assert world.kinds(1001).count("customer_note") == 1
    for n in range(6):
        post_form(client, token, "note", text=f"more {n}")
    assert world.kinds(1001).count("customer_note") == 5  # five per ten minutes
    assert "please wait a few minutes" in client.get(f"/c/{token}").text
    world.advance(minutes=11)
    post_form(client, token, "note", text="later")
    assert world.kinds(1001).count("customer_note") == 6


def test_escalating_from_the_page_pages_the_manager_once(world, client):
    phone_case_story(world, resolve=False)
    token = token_of(world)
    post_form(client, token, "escalate", reason="No progress in an hour")
    world.settle()
    page = client.get(f"/c/{token}").text
    assert "has reached our duty manager, Dana Ortiz" in page
    assert "Escalated to the duty manager (Dana Ortiz alerted)" in page
    post_form(client, token, "escalate", reason="Still nothing")
    world.settle()
    pages = [t for t in world.texts(DANA) if "CUSTOMER ESCALATION" in t]
    assert len(pages) == 1 and "Reason: No progress in an hour" in pages[0]


def test_the_link_stops_working_after_retention_once_resolved(world, client):
    number = phone_case_story(world, resolve=True)
    token = token_of(world)
    page = client.get(f"/c/{token}")
    assert page.status_code == 200 and "Resolved" in page.text and RESOLUTION in page.text
    assert 'id="add-note"' not in page.text  # closed: nothing to add
    world.clock.advance(days=29)
    assert client.get(f"/c/{token}").status_code == 200
    world.clock.advance(days=2)
    assert client.get(f"/c/{token}").status_code == 404
    assert world.case(number).state == "resolved"
