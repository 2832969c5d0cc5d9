"""The case page a manager reads: one timeline with every message folded in once, a header with
the SLA clocks and the next thing due (and nothing that no longer applies), words instead of
codes, every time in the team's zone with the zone named; and the rest of the console's
polish (member names on the rota, "at once", tables that stack on a phone, the favicon).

The cases are written by the real service (:mod:`tests.fakes.case_story`: the IVR, the engine,
the sender and the engineer's SMS replies on a fake clock starting Tuesday 03:00 in Toronto).
"""

from __future__ import annotations

import html as html_lib
import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from oncall.db.models import Case, CaseEvent, OutboundMessage
from oncall.web.app import create_app
from oncall.web.dashboard import labels
from tests.fakes import seed
from tests.fakes.case_story import RESOLUTION, phone_case_story, refused_call_story
from tests.fakes.transports import FakeTransport, PagingWorld
from tests.integration.test_dashboard import NOW, USERS, sign_in


@pytest.fixture
def world(make_settings, db_url, clock, db_engine) -> PagingWorld:
    from oncall.bootstrap.runtime import build_runtime

    fake = FakeTransport()
    runtime = build_runtime(
        make_settings(db_url, users=USERS),
        clock=clock,
        transports={"sms": fake, "voice": fake, "email": fake},
        db=db_engine,
    )
    return PagingWorld(runtime, clock, fake)


@pytest.fixture
def client(world):
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    sign_in(client)
    return client


def visible_text(page: str) -> str:
    """What a reader sees: tags and attributes gone, entities decoded, spaces collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def entry_of(page: str, kind: str) -> str:
    """The first timeline entry of ``kind``, up to the next entry."""
    start = page.index(f'<li class="event" data-kind="{kind}">')
    end = page.find('<li class="', start + 1)  # the messages' history lines have no class
    return page[start : end if end != -1 else len(page)]


def tile(page: str, tile_id: str) -> str:
    match = re.search(rf'<section class="tile[^"]*" id="{tile_id}">(.*?)</section>', page, re.S)
    assert match, f"no #{tile_id} tile"
    return visible_text(match.group(1))


# -- one timeline -------------------------------------------------------------------------------
def test_every_message_is_shown_once_inside_the_timeline(world, client):
    number = phone_case_story(world)
    with world.runtime.sessions() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        messages = list(
            session.scalars(select(OutboundMessage).where(OutboundMessage.case_id == case.id))
        )
        delivery = session.scalar(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "sent")
        )
    assert len(messages) == 9 and delivery is not None  # the story sent nine, and said so
    page = client.get(f"/cases/{number}").text

    assert page.count('<details class="message"') == len(messages)
    bodies = Counter(html_lib.escape(m.body, quote=False) for m in messages)
    for message in messages:
        assert page.count(f'data-message="{message.id}"') == 1
    for body, times in bodies.items():  # the SMS and the email may say the same
        assert page.count(body) == times, body
    # Delivery news is each message's history, not a line of its own.
    assert 'data-kind="sent"' not in page
    assert page.count('<ol class="timeline card" id="timeline">') == 1
    assert "What the customer was told" not in page and "<h2>Messages</h2>" not in page


def test_what_the_customer_is_told_joins_the_moment_that_caused_it(world, client):
    number = phone_case_story(world)
    page = client.get(f"/cases/{number}").text
    text = visible_text(entry_of(page, "acknowledged"))
    assert "Acknowledged by Alice Ng" in text and "Customer told by email and SMS" in text
    assert "Email to the customer" in text and "SMS to the customer" in text
    assert "An engineer is working on your case" in text  # inside the folded message
    assert 'data-kind="customer_notified"' not in page  # no second line for the same moment


def test_the_case_page_speaks_words_not_codes(world, client):
    number = phone_case_story(world)
    refused_call_story(world)
    with world.runtime.sessions() as session:
        kinds = set(session.scalars(select(CaseEvent.kind)))
    assert {"call_connect", "call_not_answered", "customer_notified", "target_met"} <= kinds
    page = client.get(f"/cases/{number}").text
    text = visible_text(page)
    for kind in kinds:
        if "_" in kind:  # the others are English words too ("opened", "sent")
            assert kind not in text, kind
        assert labels.EVENT_LABELS[kind] in text, kind
    badges = re.findall(r'<span class="badge kind kind-(\w+)">([^<]*)</span>', page)
    assert badges and all(words == labels.EVENT_LABELS[kind] for kind, words in badges)
    assert "escalate #" not in text and "triage_warn" not in text
    misuse = visible_text(client.get("/misuse").text)
    assert "Wrong account PIN" in misuse and "bad_pin" not in misuse


# -- the header ------------------------------------------------------------------------------
def test_a_new_case_shows_its_clocks_and_the_next_escalation_step(world, client, clock):
    number = world.open_case()
    world.settle()
    clock.advance(minutes=2)
    page = client.get(f"/cases/{number}").text
    assert "13m 00s left" in tile(page, "triage")
    assert "due Tue 24 Nov 03:15 EST" in tile(page, "triage")
    assert "First status to the customer" in tile(page, "status")
    assert "due Tue 24 Nov 04:00 EST" in tile(page, "status")
    assert tile(page, "next") == (
        "Next Escalation step 2 of 3 (round 1 of 2): secondary Tue 24 Nov 03:05 EST"
    )
    coming = visible_text(re.search(r'id="coming">(.*?)</ol>', page, re.S).group(1))
    assert "03:10:00 EST Triage reminder" in coming and "03:15:00 EST Triage target" in coming
    assert 'id="eta"' not in page and 'id="closing"' not in page


def test_an_ongoing_case_shows_the_eta_cleanly(world, client):
    number = phone_case_story(world, resolve=False)  # the status "ETA 45m" at 03:20:50
    page = client.get(f"/cases/{number}").text
    assert tile(page, "eta") == "Estimated resolution 04:05 EST Tue 24 Nov · from “ETA 45m”"
    assert "met" in tile(page, "triage") and "Alice Ng, 2m 00s after opening" in tile(
        page, "triage"
    )
    assert "Next status to the customer" in tile(page, "status")
    assert "last sent Tue 24 Nov 03:20 EST" in tile(page, "status")
    assert tile(page, "next").startswith("Next Status reminder")


def test_a_resolved_case_shows_how_it_ended_and_nothing_that_no_longer_applies(world, client):
    number = phone_case_story(world)
    page = client.get(f"/cases/{number}").text
    closing = tile(page, "closing")
    assert closing.startswith("Resolved Tue 24 Nov 03:50 EST by Alice Ng, open 50m 00s")
    assert RESOLUTION in closing
    assert "met" in tile(page, "status-outcome")
    for gone in ('id="status"', 'id="eta"', "data-due="):
        assert gone not in page, gone
    # What still applies: the customer may reopen it until closure.reopen_within (issue 11).
    assert tile(page, "next").startswith("Next Remind the customer the case closes soon")
    assert "Next status" not in visible_text(page)


def test_a_missed_target_says_so_after_the_case_closed(world, client, clock):
    number = world.open_case()
    world.advance(minutes=16)  # the triage target lapses
    world.sms("+15550100101", f"ACK {number}")
    world.sms("+15550100101", f"RESOLVE {number} restarted the service")
    page = client.get(f"/cases/{number}").text
    assert tile(page, "triage").startswith("Triage missed Alice Ng, 16m")
    assert "Missed: triage." in visible_text(page)


# -- zones and names -------------------------------------------------------------------------
def test_times_are_in_the_zone_of_the_case_team_and_name_it(world, client):
    with world.runtime.sessions() as session, session.begin():
        case = seed.add_case(session, 1090, opened_at=NOW, escalation={"timezone": "Europe/London"})
        session.add(CaseEvent(case_id=case.id, at=NOW, kind="opened", text="Case 1090 opened"))
    page = client.get("/cases/1090").text
    text = visible_text(page)
    assert "Opened Tue 24 Nov 08:00 GMT" in text
    assert "Timeline times in GMT (Europe/London)" in text and "08:00:00 GMT" in text
    assert "due Tue 24 Nov 08:15 GMT" in tile(page, "triage")
    listed = visible_text(
        re.search(r'<tr data-case="1090">(.*?)</tr>', client.get("/cases").text, re.S).group(1)
    )
    assert "Tue 24 Nov 08:00 GMT" in listed


def test_the_rota_page_names_people_and_says_at_once(client):
    page = client.get("/rotas/support").text
    steps = visible_text(re.search(r'<ol class="steps">(.*?)</ol>', page, re.S).group(1))
    assert steps == (
        "at once: primary (now Alice Ng) after 5m: secondary (now Bob Roy) after 10m: Dana Ortiz"
    )
    assert "after 0s" not in page and ">dana<" not in page


# -- layout ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/", "/cases", "/cases/1001", "/rotas/support", "/misuse", "/reports"]
)
def test_every_table_stacks_on_a_phone_with_every_cell_labelled(world, client, path):
    phone_case_story(world)
    refused_call_story(world)
    late = world.open_case()
    world.advance(minutes=16)  # a triage breach: the reports list it by team, engineer, customer
    assert "breach" in world.kinds(late)
    page = client.get(path).text
    assert "hide-narrow" not in page  # no column is hidden on a phone
    if path == "/reports":
        assert "Breaches by team" in page and "None." not in page
    for table in re.findall(r"<table\b.*?</table>", page, re.S):
        assert re.match(r'<table class="[^"]*\bstack\b', table), table[:80]
        for cell in re.findall(r"<td\b[^>]*>", table):
            assert "data-label=" in cell, cell


def test_the_favicon_is_served_from_the_static_files_without_sign_in(app):
    anonymous = app.test_client()
    icon = anonymous.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/x-icon"
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    svg = anonymous.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data and b"http" not in svg.data.replace(b"http://www.w3.org", b"")
    svg.close()
    login = anonymous.get("/login").text
    assert 'rel="icon" href="/static/favicon.svg"' in login


def test_a_case_opened_days_ago_shows_its_day(world, client, clock):
    number = world.open_case()
    world.sms("+15550100101", f"ACK {number}")
    clock.advance(days=2)
    world.sms("+15550100101", f"RESOLVE {number} done")
    sign_in(client)  # the session of two days ago has expired
    page = visible_text(client.get(f"/cases/{number}").text)
    assert "Tue 24 Nov" in page and "Thu 26 Nov" in page  # a day heading for each day
    assert f"open {int(timedelta(days=2).total_seconds() // 3600)}h" in page
