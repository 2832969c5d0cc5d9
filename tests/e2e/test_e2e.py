"""Proof under fire: the real service as processes, against a fake Twilio on loopback.

These run in real time with every target shrunk to seconds (see oncall/fakes/service.py), on
PostgreSQL (the multi-process backend). They count what actually reached the fake Twilio:
a page that should go out goes out, once, to the right person.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from oncall.fakes.service import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CRITICAL_LINE,
    FAST_ROTA,
    INBOUND_PASSWORD,
    ServiceUnderTest,
    many_customers,
)
from oncall.fakes.twilio.server import FakeTwilio
from oncall.fakes.twilio.voice import VoiceCall

pytestmark = pytest.mark.e2e

ALICE, BOB, DANA = "+15555550101", "+15555550102", "+15555550104"
WILE = "+15551230001"
PAGE = re.compile(r"ACK (\d{4,})")


@pytest.fixture
def fake():
    twilio = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    twilio.auto_status = "delivered"
    with twilio:
        yield twilio


def pages_by_case(fake: FakeTwilio, to: str) -> Counter:
    """How many page SMS each case sent to ``to`` (a page says "Reply ACK <case>")."""
    counts: Counter = Counter()
    for message in fake.messages(to=to):
        match = PAGE.search(message.body or "")
        if match and "Reply ACK" in (message.body or ""):
            counts[int(match.group(1))] += 1
    return counts


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def send_email(svc: ServiceUnderTest, sender: str, subject: str, body: str, message_id: str):
    fields = {
        "from": f"Ops <{sender}>",
        "to": "critical@vendor.example",
        "subject": subject,
        "text": body,
        "headers": (
            f"Message-ID: <{message_id}>\nFrom: Ops <{sender}>\nTo: critical@vendor.example\n"
            f"Subject: {subject}\n"
        ),
        "envelope": json.dumps({"to": ["critical@vendor.example"], "from": sender}),
        "charsets": json.dumps(
            {"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "UTF-8"}
        ),
        "SPF": "pass",
        "dkim": f"{{@{sender.rpartition('@')[2]} : pass}}",
    }
    return requests.post(
        f"{svc.base_url}/email/inbound",
        files={k: (None, v) for k, v in fields.items()},
        auth=("sendgrid", INBOUND_PASSWORD),
        timeout=60,
    )


def sms(fake: FakeTwilio, svc: ServiceUnderTest, sender: str, body: str) -> str:
    response = fake.send_sms(svc.base_url, sender, CRITICAL_LINE, body)
    assert response.status_code == 200, response.text
    return response.text


def db_rows(url: str, query: str, **params):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(query), params).all()
    finally:
        engine.dispose()


def no_duplicate_messages(fake: FakeTwilio) -> None:
    seen = Counter((m.to, m.body) for m in fake.messages())
    duplicates = {k: n for k, n in seen.items() if n > 1}
    assert not duplicates, f"sent twice: {duplicates}"


# -- 2. the whole life of a case ----------------------------------------------------------
# These two hold the conversation to account: each message is claimed as it is expected, and
# any other message the service sent fails the test at the end.
BREACH = r"(?i)breach.*\b{number}\b"


def allow_the_third_step(fake: FakeTwilio, number: int) -> None:
    """On a slow machine the third escalation step (the manager, 4s in) can go out before the
    acknowledgement lands; the manager is then paged, and later told who acknowledged."""
    fake.allow_messages(to=DANA, body=f"Reply ACK {number}")
    fake.allow_messages(to=DANA, body=f"{number} acknowledged by")


def test_phone_case_escalates_breaches_pages_manager_and_reaches_the_customer(
    tmp_path, pg_url, fake
):
    with ServiceUnderTest(tmp_path, pg_url, fake.base_url) as svc:
        call = VoiceCall(svc.base_url, AUTH_TOKEN, WILE, CRITICAL_LINE, account_sid=ACCOUNT_SID)
        call.start()
        call.press("1")  # S1: down for all users
        call.record(duration=14, digits="#")
        while call.dialed():  # nobody accepts the connect attempts
            call.dial_result("no-answer")
        heard = call.text()
        assert "paged" in heard
        (number,) = [row[0] for row in db_rows(pg_url, "SELECT number FROM cases")]
        assert " ".join(str(number)) in heard  # the case number, digit by digit
        fake.expect_message(to=WILE, body=f"your critical case {number} is open")

        # Primary is paged at once, nobody acknowledges, secondary is paged next.
        fake.expect_message(to=ALICE, body=f"Reply ACK {number}")
        fake.expect_message(to=BOB, body=f"Reply ACK {number}")
        allow_the_third_step(fake, number)

        reply = sms(fake, svc, BOB, f"ACK {number}")
        assert f"Acknowledged {number}" in reply
        fake.expect_message(to=ALICE, body=f"{number} acknowledged by Bob")
        fake.expect_message(to=WILE, body=f"An engineer is working on your case {number}")

        # No status: a reminder to Bob, then the breach pages the manager.
        fake.expect_message(to=BOB, body=f"Reply STATUS {number}", timeout=20)
        fake.expect_message(to=DANA, body=re.compile(BREACH.format(number=number)), timeout=20)

        sms(fake, svc, BOB, f"STATUS {number} rolled back the release ETA 30m")
        fake.expect_message(to=WILE, body="rolled back the release")  # the status, by SMS
        sms(fake, svc, BOB, f"RESOLVE {number} fixed by rollback")
        fake.expect_message(to=WILE, body=re.compile("(?i)resolved"))
        (state,) = db_rows(pg_url, "SELECT state FROM cases WHERE number = :n", n=number)
        assert state[0] == "resolved"
        kinds = {row[0] for row in db_rows(pg_url, "SELECT kind FROM case_events")}
        assert {"opened", "acknowledged", "breach", "resolved"} <= kinds
        no_duplicate_messages(fake)
        fake.expect_no_other_messages(settle=1.0)


def test_email_case_lives_the_same_life(tmp_path, pg_url, fake):
    with ServiceUnderTest(tmp_path, pg_url, fake.base_url) as svc:
        response = send_email(
            svc,
            "wile@acme.example",
            "Sev 1: checkout down for all users",
            "Nobody can check out since 02:10.",
            "e2e-1@acme.example",
        )
        assert response.status_code == 200, response.text
        (number,) = [row[0] for row in db_rows(pg_url, "SELECT number FROM cases")]
        fake.expect_message(to=ALICE, body=f"Reply ACK {number}")
        fake.expect_message(to=BOB, body=f"Reply ACK {number}")
        allow_the_third_step(fake, number)
        assert f"Acknowledged {number}" in sms(fake, svc, ALICE, "ack")  # the only open case
        fake.expect_message(to=BOB, body=f"{number} acknowledged by Alice")
        fake.expect_message(to=ALICE, body=f"Reply STATUS {number}", timeout=25)
        fake.expect_message(to=DANA, body=re.compile(BREACH.format(number=number)), timeout=25)
        sms(fake, svc, ALICE, "STATUS cache cleared, ETA 20m")
        sms(fake, svc, ALICE, "RESOLVE")
        told = [
            row[0]
            for row in db_rows(
                pg_url,
                "SELECT body FROM outbox WHERE recipient = 'customer' AND channel = 'email'"
                " ORDER BY id",
            )
        ]
        assert any(f"Case {number}" in b or str(number) in b for b in told)  # the auto-reply
        assert any("cache cleared" in b for b in told)  # the status, verbatim
        no_duplicate_messages(fake)
        fake.expect_no_other_messages(settle=1.0)  # the customer hears by email, not SMS


# -- 3. crash and restart -----------------------------------------------------------------
CRASH_ROTA = FAST_ROTA | {
    "escalation": {
        "repeat": 0,
        "steps": [
            {"after": "0s", "notify": ["primary"]},
            {"after": "4s", "notify": ["secondary"]},
        ],
    }
}


def open_burst(svc: ServiceUnderTest, count: int, workers: int = 8) -> None:
    def one(i: int) -> int:
        return send_email(
            svc,
            f"ops@cust{i}.example",
            "Sev 1: production down",
            "All users affected.",
            f"burst-{i}@cust{i}.example",
        ).status_code

    with ThreadPoolExecutor(workers) as pool:
        statuses = list(pool.map(one, range(count)))
    assert set(statuses) == {200}, Counter(statuses)


def test_engine_killed_mid_escalation_sends_every_due_page_once(tmp_path, pg_url, fake):
    svc = ServiceUnderTest(
        tmp_path,
        pg_url,
        fake.base_url,
        split=True,
        web_workers=2,
        engines=1,
        sla={"triage": "10m", "first_status": "1h"},
        rota=CRASH_ROTA,
        customers=many_customers(200),
    )
    with svc:
        open_burst(svc, 200)
        cases = {row[0] for row in db_rows(pg_url, "SELECT number FROM cases")}
        assert len(cases) == 200
        # Kill the engine as the second step starts going out, mid-escalation.
        wait_until(lambda: pages_by_case(fake, BOB), 30, "the first escalations")
        svc.kill_engines()
        paged_before = sum(pages_by_case(fake, BOB).values())
        time.sleep(2)  # real time passes while no engine runs; due pages pile up
        svc.start_engine()
        wait_until(lambda: set(pages_by_case(fake, BOB)) >= cases, 60, "every escalation")
        wait_until(lambda: set(pages_by_case(fake, ALICE)) >= cases, 30, "every first page")
        time.sleep(1)  # anything sent twice would show up by now
        alice, bob = pages_by_case(fake, ALICE), pages_by_case(fake, BOB)
        assert {n: c for n, c in alice.items() if c != 1} == {}
        assert {n: c for n, c in bob.items() if c != 1} == {}
        assert paged_before < len(cases), "the kill happened after everything was sent"


# -- 4. two engines ------------------------------------------------------------------------
def test_two_engines_and_several_workers_on_postgres_never_double_or_miss_a_page(
    tmp_path, pg_url, fake
):
    svc = ServiceUnderTest(
        tmp_path,
        pg_url,
        fake.base_url,
        split=True,
        web_workers=3,
        engines=2,
        sla={"triage": "10m", "first_status": "1h"},
        rota=CRASH_ROTA,
        customers=many_customers(500),
    )
    with svc:
        open_burst(svc, 500, workers=12)
        cases = {row[0] for row in db_rows(pg_url, "SELECT number FROM cases")}
        assert len(cases) == 500
        wait_until(lambda: set(pages_by_case(fake, ALICE)) >= cases, 60, "every first page")
        wait_until(lambda: set(pages_by_case(fake, BOB)) >= cases, 90, "every escalation")
        time.sleep(1)
        alice, bob = pages_by_case(fake, ALICE), pages_by_case(fake, BOB)
        assert {n: c for n, c in alice.items() if c != 1} == {}
        assert {n: c for n, c in bob.items() if c != 1} == {}
        engines = {
            row[0]
            for row in db_rows(
                pg_url, "SELECT DISTINCT done_by FROM deadlines WHERE done_by IS NOT NULL"
            )
        }
        assert len(engines) >= 2, f"only one engine did any work: {engines}"


# -- 5. provider outage --------------------------------------------------------------------
def test_twilio_outage_retries_with_backoff_and_delivers_everything_after_recovery(
    tmp_path, pg_url, fake
):
    svc = ServiceUnderTest(
        tmp_path,
        pg_url,
        fake.base_url,
        sla={"triage": "10m", "first_status": "1h"},
        rota=CRASH_ROTA,
        customers=many_customers(20),
    )
    with svc:
        fake.outage(status=500, seconds=15)
        open_burst(svc, 20, workers=4)
        # While it lasts, /metrics shows the outbox backing up.
        time.sleep(3)
        metrics = requests.get(f"{svc.base_url}/metrics", timeout=10).text
        depth = re.search(r"^oncall_outbox_depth(?:\{[^}]*\})? (\S+)", metrics, re.M)
        oldest = re.search(r"^oncall_outbox_oldest_pending_age_seconds (\S+)", metrics, re.M)
        assert depth and float(depth.group(1)) > 0, metrics
        assert oldest and float(oldest.group(1)) > 0, metrics
        errors_during = len([r for r in fake.requests if r.response_status == 500])
        assert errors_during > 0
        fake.outage(status="timeout", seconds=15)  # then requests simply hang
        wait_until(lambda: len(pages_by_case(fake, ALICE)) == 20, 90, "every page after recovery")
        time.sleep(1)
        assert set(pages_by_case(fake, ALICE).values()) == {1}
        no_duplicate_messages(fake)


# -- 6. hostile input in a running service -------------------------------------------------
def test_broken_rota_and_customers_dropped_into_a_running_service_keep_paging(
    tmp_path, pg_url, fake
):
    with ServiceUnderTest(tmp_path, pg_url, fake.base_url) as svc:
        rota = tmp_path / "rotations" / "support.yaml"
        customers = tmp_path / "customers.yaml"
        rota.write_text(rota.read_text().replace("shift: 1w", "shift: one week", 1))
        customers.write_text(customers.read_text() + "\n  broken: [\n")

        def degraded():
            response = requests.get(f"{svc.base_url}/healthz", timeout=5)
            return (
                response.status_code == 503
                and "support.yaml" in response.text
                and ("customers.yaml" in response.text)
            )

        wait_until(degraded, 10, "/healthz reporting both broken files")
        response = send_email(
            svc,
            "wile@acme.example",
            "Sev 1: site down",
            "everything is down",
            "hostile-1@acme.example",
        )
        assert response.status_code == 200
        (number,) = [row[0] for row in db_rows(pg_url, "SELECT number FROM cases")]
        wait_until(lambda: pages_by_case(fake, ALICE)[number], 10, "a page from the last good rota")

        # Strangers and engineers not on the case get nothing done.
        assert "<Message>" not in sms(fake, svc, "+15555559999", f"ACK {number}")
        (state,) = db_rows(pg_url, "SELECT state FROM cases WHERE number = :n", n=number)
        assert state[0] == "open"
