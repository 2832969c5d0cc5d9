"""The outbox: retries, fallbacks, delivery callbacks, reconciliation and bundling.

Same world as tests/integration/test_engine.py: case 1001 opens at 03:00 Toronto, Alice is
primary, Bob secondary (5 min), Dana after 10 min and the manager.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from oncall.bootstrap.runtime import build_runtime
from oncall.cases.lookup import case_by_number
from oncall.cases.outbox import enqueue
from oncall.db.models import OutboundMessage
from oncall.db.session import transaction
from oncall.delivery.reconcile import reconcile_stuck
from oncall.delivery.status_callbacks import apply_status_callback
from oncall.delivery.worker import backoff
from oncall.domain.enums import Purpose
from oncall.domain.transport import TransportError
from oncall.web.app import create_app
from tests.fakes.transports import ALICE, BOB, DANA, FakeTransport, PagingWorld

PAGE_1001 = "[S1] Case 1001 Acme Corp: Checkout is down for all users. Reply ACK 1001"
PUBLIC = "https://oncall.vendor.example"
TOKEN = "test-auth-token"


def make_world(settings, clock, db_engine) -> PagingWorld:
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


@pytest.fixture
def world(settings, clock, db_engine) -> PagingWorld:
    return make_world(settings, clock, db_engine)


@pytest.fixture
def twilio(world):
    """A Flask test client that posts to /twilio/* signed like Twilio."""
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()

    def post(path: str, params: dict[str, str], signed: bool = True):
        signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
        headers = {"X-Twilio-Signature": signature if signed else "forged"}
        response = client.post(path, data=params, headers=headers)
        world.settle()
        return response

    return post


def page_rows(world: PagingWorld, to: str) -> list[OutboundMessage]:
    return [r for r in world.outbox(to_address=to) if r.purpose in ("page", "page_voice")]


# -- retries ---------------------------------------------------------------------------------
def test_backoff_is_exponential_capped_and_jittered():
    import random

    rng = random.Random(1)
    base, cap = timedelta(seconds=2), timedelta(minutes=2)
    for attempt, full in [(1, 2), (2, 4), (3, 8), (4, 16), (7, 120), (30, 120)]:
        delays = [backoff(attempt, base, cap, rng).total_seconds() for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays), (attempt, delays)
        assert len(set(delays)) > 1  # jittered


def test_twilio_errors_then_recovery_deliver_the_page_once(world):
    world.fake.fail(ALICE, transient=True, times=3)  # 500, 500, 500, then fine
    case = world.open_case()
    world.settle()
    assert world.texts(ALICE) == []
    (row,) = page_rows(world, ALICE)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "fake transient error 500")
    first_retry = row.next_attempt_at - world.clock.now()
    assert timedelta(seconds=1) <= first_retry <= timedelta(seconds=2)

    world.advance(seconds=30)
    assert world.texts(ALICE) == [PAGE_1001]  # exactly once
    (row,) = page_rows(world, ALICE)
    assert (row.state, row.attempts) == ("sent", 4)
    assert len([m for m in world.fake.attempts if m.to == ALICE]) == 4

    assert (
        apply_status_callback(world.runtime, row.provider_id, "delivered", world.clock.now())
        == "applied"
    )
    (row,) = page_rows(world, ALICE)
    assert row.state == "delivered" and row.delivered_at == world.clock.now()
    assert world.kinds(case).count("delivered") == 1


def test_a_page_that_never_gets_through_fails_and_falls_back_to_a_call(
    make_settings, db_url, clock, db_engine
):
    settings = make_settings(db_url, engine={"max_attempts": 3, "retry_base": "1s"})
    world = make_world(settings, clock, db_engine)
    world.fake.fail(ALICE, transient=True, channel="sms")  # SMS to Alice is down for good
    case = world.open_case()
    world.advance(seconds=20)
    sms, call = page_rows(world, ALICE)
    assert (sms.state, sms.attempts, sms.last_error) == ("failed", 3, "gave up after 3 attempts")
    assert (call.channel, call.purpose, call.state, call.fallback_of) == (
        "voice",
        "page_voice",
        "sent",
        sms.id,
    )
    assert [k for k in world.kinds(case) if k in ("failed", "fallback")] == ["failed", "fallback"]


# -- fallbacks -------------------------------------------------------------------------------
def test_an_engineer_who_texted_stop_is_called_instead(world, twilio):
    world.fake.fail(ALICE, code=21610, channel="sms")  # Twilio: recipient opted out
    case = world.open_case()
    world.settle()
    assert world.texts(ALICE) == []
    (call,) = world.fake.calls_to(ALICE)
    sms_row, call_row = page_rows(world, ALICE)
    assert (sms_row.state, sms_row.error_code) == ("failed", 21610)
    assert call.voice_url == f"{PUBLIC}/twilio/page/{call_row.id}"
    assert call.status_callback == f"{PUBLIC}/twilio/status"
    fallback = [text for kind, text in world.events(case) if kind == "fallback"]
    assert fallback == [
        "sms to Alice Ng (+15550100101) failed (21610): calling Alice Ng (+15550100101) instead"
    ]

    # Twilio fetches the TwiML when Alice picks up: the page is read, 1 acknowledges.
    twiml = twilio(
        f"/twilio/page/{call_row.id}",
        {"CallSid": "CA1", "From": "+15555550501", "To": ALICE, "CallStatus": "in-progress"},
    )
    body = twiml.get_data(as_text=True)
    assert twiml.status_code == 200 and "<Gather" in body and 'numDigits="1"' in body
    assert f'action="{PUBLIC}/twilio/page/{call_row.id}/ack"' in body
    assert "Case 1 0 0 1. Severity 1. Customer: Acme Corp. Checkout is down" in body
    assert "Press 1 to acknowledge." in body

    other = twilio(f"/twilio/page/{call_row.id}/ack", {"CallSid": "CA1", "Digits": "7"})
    assert "<Redirect" in other.get_data(as_text=True)
    assert world.case(case).state == "open"
    pressed = twilio(f"/twilio/page/{call_row.id}/ack", {"CallSid": "CA1", "Digits": "1"})
    assert "Acknowledged 1001 (Acme Corp, S1)" in pressed.get_data(as_text=True)
    stored = world.case(case)
    assert stored.state == "acknowledged" and stored.acknowledged_by == "alice"
    acknowledged = next(text for kind, text in world.events(case) if kind == "acknowledged")
    assert acknowledged.startswith("Acknowledged by Alice Ng via voice")
    again = twilio(f"/twilio/page/{call_row.id}", {"CallSid": "CA2", "CallStatus": "in-progress"})
    assert "<Gather" not in again.get_data(as_text=True)


def test_when_the_call_fails_too_the_next_target_is_paged_at_once(world):
    world.fake.fail(ALICE, code=21610, channel="sms")
    world.fake.fail(ALICE, code=21217, channel="voice")  # and her phone cannot be called
    case = world.open_case()
    world.settle()
    assert world.texts(BOB) == [PAGE_1001]  # at 03:00, not 03:05
    assert (
        "paging the next escalation step now"
        in dict((k, t) for k, t in world.events(case) if k == "fallback" and "next" in t)[
            "fallback"
        ]
    )
    world.advance(minutes=9)
    assert world.texts(DANA) == []  # later steps keep their times
    world.advance(minutes=1)
    assert world.texts(DANA) == [PAGE_1001]


def test_an_undelivered_status_callback_falls_back_like_an_error(world, twilio):
    case = world.open_case()
    world.settle()
    (row,) = page_rows(world, ALICE)
    sid = row.provider_id
    response = twilio(
        "/twilio/status",
        {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003", "To": ALICE},
    )
    assert response.status_code == 200
    assert len(world.fake.calls_to(ALICE)) == 1
    sms_row = world.outbox(id=row.id)[0]
    assert (sms_row.state, sms_row.error_code, sms_row.provider_status) == (
        "failed",
        30003,
        "undelivered",
    )
    # The call is not answered: Bob is paged now.
    call_row = page_rows(world, ALICE)[1]
    twilio("/twilio/status", {"CallSid": call_row.provider_id, "CallStatus": "no-answer"})
    assert world.texts(BOB) == [PAGE_1001]
    assert world.case(case).state == "open"


def test_status_callbacks_apply_in_order_and_once(world, twilio):
    case = world.open_case()
    world.settle()
    (row,) = page_rows(world, ALICE)
    sid = row.provider_id

    def callback(status: str, **extra: str):
        return twilio("/twilio/status", {"MessageSid": sid, "MessageStatus": status, **extra})

    callback("delivered")
    callback("sent")  # late: changes nothing
    callback("delivered")  # duplicate
    callback("undelivered", ErrorCode="30003")  # after a terminal status: ignored
    stored = world.outbox(id=row.id)[0]
    assert (stored.state, stored.provider_status) == ("delivered", "delivered")
    assert world.kinds(case).count("delivered") == 1
    assert world.fake.calls_to(ALICE) == []

    assert callback("failed").status_code == 200
    unknown = twilio("/twilio/status", {"MessageSid": "SM" + "f" * 32, "MessageStatus": "sent"})
    assert unknown.status_code == 200
    assert twilio("/twilio/status", {"MessageStatus": "sent"}).status_code == 400
    forged = twilio("/twilio/status", {"MessageSid": sid, "MessageStatus": "failed"}, signed=False)
    assert forged.status_code == 403


def test_progress_statuses_move_forward_only(world):
    world.open_case()
    world.settle()
    (row,) = page_rows(world, ALICE)
    now = world.clock.now()
    assert apply_status_callback(world.runtime, row.provider_id, "sent", now) == "applied"
    assert apply_status_callback(world.runtime, row.provider_id, "queued", now) == "ignored"
    assert apply_status_callback(world.runtime, row.provider_id, "sent", now) == "ignored"
    assert apply_status_callback(world.runtime, row.provider_id, "bogus", now) == "ignored"
    assert world.outbox(id=row.id)[0].provider_status == "sent"


def test_a_failed_message_to_the_customer_is_forwarded_to_the_support_queue(world):
    world.fake.fail("wile@acme.example", code=550)
    case = world.open_case(channel="email")
    world.sms(ALICE, "ACK 1001")
    (forward,) = world.fake.emails_to("support-queue@vendor.example")
    assert forward.subject == "[Case 1001] Could not reach the customer"
    assert "An engineer is working on your case 1001" in forward.body
    assert "delivery_failed" in world.kinds(case)


def test_emails_get_a_message_id_before_the_first_attempt(world):
    world.fake.fail("wile@acme.example", transient=True, times=1)
    world.open_case(channel="email")
    world.sms(ALICE, "ACK 1001")
    world.advance(seconds=10)
    (row,) = world.outbox(to_address="wile@acme.example")
    assert re.fullmatch(rf"<oncall\.{row.id}\.[0-9a-f]{{16}}@vendor\.example>", row.message_id)
    first, second = [m for m in world.fake.attempts if m.to == "wile@acme.example"]
    assert first.headers["Message-ID"] == second.headers["Message-ID"] == row.message_id


def test_pages_waiting_to_be_retried_are_cancelled_by_an_ack(world):
    world.fake.fail(BOB, transient=True)  # Bob's SMS keeps failing
    world.open_case()
    world.advance(minutes=5, seconds=5)
    world.sms(ALICE, "ACK 1001")
    (bob_row,) = page_rows(world, BOB)
    assert bob_row.state == "cancelled"
    world.fake.heal()
    world.advance(minutes=5)
    assert world.texts(BOB) == ["1001 acknowledged by Alice Ng"]


# -- reconciliation --------------------------------------------------------------------------
def crash_mid_send(world: PagingWorld):
    """Claim due rows as the sender does (committed ``sending``), then "die" before the
    provider answers: the rows stay in ``sending``."""
    return world.sender.claim(world.clock.now())


def test_a_send_lost_in_a_crash_is_found_at_the_provider_and_not_sent_again(world):
    case = world.open_case()
    from oncall.engine.tick import tick

    tick(world.runtime)
    (claim,) = crash_mid_send(world)
    sid = world.fake.remember(claim.outgoing)  # it did reach Twilio
    world.clock.advance(seconds=59)
    assert reconcile_stuck(world.runtime, world.clock.now()) == 0  # not yet in doubt
    world.clock.advance(seconds=2)
    assert reconcile_stuck(world.runtime, world.clock.now()) == 1
    assert reconcile_stuck(world.runtime, world.clock.now()) == 0  # decided once
    (row,) = page_rows(world, ALICE)
    assert (row.state, row.provider_id) == ("sent", sid)
    _message, since = world.fake.lookups[0]
    assert since == row.sending_since - timedelta(minutes=1)
    world.settle()
    assert world.texts(ALICE) == [PAGE_1001]  # once
    assert any("found at the provider" in t for k, t in world.events(case) if k == "sent")


def test_a_send_lost_before_reaching_the_provider_is_sent_again(world):
    from oncall.engine.tick import tick

    world.open_case()
    tick(world.runtime)
    assert len(crash_mid_send(world)) == 1
    world.clock.advance(seconds=61)
    world.settle()  # the tick reconciles: not at Twilio, so back to pending and sent
    assert world.texts(ALICE) == [PAGE_1001]
    (row,) = page_rows(world, ALICE)
    assert row.state == "sent" and row.attempts == 2


def test_a_row_reconciled_while_it_waited_in_its_batch_is_not_sent_twice(world):
    """Behind a hanging provider a claimed row can wait longer than sending_timeout; if the
    reconciler queued it again meanwhile, the sender that claimed it must not send it too."""
    from oncall.engine.tick import tick

    world.open_case()
    tick(world.runtime)
    (claim,) = crash_mid_send(world)  # claimed, still waiting for its turn
    world.clock.advance(seconds=61)
    reconcile_stuck(world.runtime, world.clock.now())  # not at Twilio: queued again
    world.sender.deliver(claim, world.clock.now())  # its turn finally comes
    assert world.fake.attempts == []
    (row,) = page_rows(world, ALICE)
    assert row.state == "pending"
    world.settle()
    assert world.texts(ALICE) == [PAGE_1001]


def test_a_late_outcome_after_reconciliation_is_ignored(world):
    from oncall.engine.tick import tick

    world.open_case()
    tick(world.runtime)
    (claim,) = crash_mid_send(world)
    world.sender.deliver(claim, world.clock.now())  # sent: then the process hangs ...
    (row,) = page_rows(world, ALICE)
    assert row.state == "sent"
    # ... and a stale "failed" for that attempt must not undo what was recorded.
    world.sender.record(claim, TransportError("late", transient=False), world.clock.now())
    assert page_rows(world, ALICE)[0].state == "sent"
    assert world.fake.calls_to(ALICE) == []


def test_an_email_in_doubt_is_sent_again(world):
    world.open_case(channel="email")
    world.sms(ALICE, "ACK 1001")
    world.fake.clear()
    with transaction(world.runtime.sessions) as session:
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.to_address == "wile@acme.example")
            .values(state="sending", sending_since=world.clock.now())
        )
    world.clock.advance(seconds=61)
    world.settle()
    (mail,) = world.fake.emails_to("wile@acme.example")
    assert world.fake.lookups == []  # SMTP cannot be asked
    assert mail.subject == "[Case 1001] An engineer is working on it"


def test_an_ambiguous_timeout_is_looked_up_before_any_resend(world):
    world.fake.fail(ALICE, transient=True, ambiguous=True, reached=True, times=1)
    world.open_case()
    world.settle()
    assert world.texts(ALICE) == [PAGE_1001]  # Twilio got it; we did not send it again
    (row,) = page_rows(world, ALICE)
    assert row.state == "sent" and row.attempts == 1

    world.fake.fail(BOB, transient=True, ambiguous=True, reached=False, times=1)
    world.advance(minutes=5, seconds=10)
    assert world.texts(BOB) == [PAGE_1001]
    assert page_rows(world, BOB)[0].attempts == 2


# -- bundling --------------------------------------------------------------------------------
def test_pages_due_together_for_different_cases_go_out_as_one_sms(world):
    for customer in ("acme", "globex", "initech"):
        world.open_case(customer)
    world.settle()
    assert world.texts(ALICE) == [
        "3 new critical cases: 1001 Acme Corp S1, 1002 Globex S1, 1003 Initech S1. "
        "Reply ACK ALL or ACK <case>"
    ]
    rows = [r for r in world.outbox(to_address=ALICE)]
    bundle = next(r for r in rows if r.purpose == "page_bundle")
    members = [r for r in rows if r.purpose == Purpose.PAGE]
    assert {m.bundled_into for m in members} == {bundle.id}
    assert {m.state for m in members} == {"sent"} and bundle.state == "sent"
    assert "bundled" in world.kinds(1002)

    # The bundle's delivery report counts for every case in it.
    apply_status_callback(world.runtime, bundle.provider_id, "delivered", world.clock.now())
    assert {r.state for r in world.outbox(to_address=ALICE) if r.purpose == Purpose.PAGE} == {
        "delivered"
    }
    # Acknowledging one of them by SMS works as usual.
    assert world.sms(ALICE, "ACK 1002").startswith("Acknowledged 1002 (Globex, S1)")


def test_the_first_page_of_a_case_is_never_delayed(world):
    world.open_case("acme")
    world.settle()
    world.clock.advance(seconds=10)
    world.open_case("globex")
    world.settle()
    assert world.texts(ALICE) == [
        PAGE_1001,
        "[S1] Case 1002 Globex: Checkout is down for all users. Reply ACK 1002",
    ]


def test_repeat_pages_inside_the_window_are_held_and_bundled_never_past_it(world):
    for offset, customer in ((0, "acme"), (20, "globex"), (20, "initech")):
        world.clock.advance(seconds=offset)
        world.open_case(customer)
        world.settle()
    assert len([t for t in world.texts(ALICE) if t.startswith("[S1]")]) == 3  # firsts: at once
    world.fake.clear()

    def pages() -> list[str]:
        return [t for t in world.texts(ALICE) if not t.startswith("Reminder")]

    world.advance(minutes=14, seconds=20)  # 03:15:00: round 2 for 1001 goes at once
    assert pages() == [PAGE_1001]
    world.advance(seconds=40)  # 03:15:20 and 03:15:40: 1002, 1003 due, held
    assert pages() == [PAGE_1001]
    held = [r for r in page_rows(world, ALICE) if r.state == "pending"]
    assert len(held) == 2
    start = world.clock.now() - timedelta(seconds=40)
    assert {r.next_attempt_at for r in held} == {start + timedelta(seconds=60)}
    world.advance(seconds=20)  # 03:16:00: the window after the last page ends
    assert pages() == [
        PAGE_1001,
        "2 new critical cases: 1002 Globex S1, 1003 Initech S1. Reply ACK ALL or ACK <case>",
    ]


def test_two_pages_of_the_same_case_are_never_merged(world):
    world.open_case("acme")
    world.open_case("globex")
    with transaction(world.runtime.sessions) as session:
        case = case_by_number(session, 1001)
        enqueue(
            session,
            world.clock.now(),
            channel="sms",
            purpose=Purpose.PAGE,
            to=ALICE,
            from_address="+15555550501",
            body="second page of 1001",
            case=case,
            recipient="alice",
            dedupe_key="test:second",
        )
    world.settle()
    texts = world.texts(ALICE)
    assert len(texts) == 2
    assert (
        "2 new critical cases: 1001 Acme Corp S1, 1002 Globex S1. Reply ACK ALL or ACK <case>"
        in texts
    )
    rows_1001 = [r for r in world.outbox(to_address=ALICE, purpose=Purpose.PAGE, case_id=1)]
    assert len(rows_1001) == 2
    assert sorted(r.bundled_into is None for r in rows_1001) == [False, True]  # one rode alone


def test_a_failed_bundle_falls_back_for_each_case(world):
    world.fake.fail(ALICE, code=21610, channel="sms")
    world.open_case("acme")
    world.open_case("globex")
    world.settle()
    calls = world.fake.calls_to(ALICE)
    assert len(calls) == 2
    assert {c.body.split(".")[1].strip() for c in calls} == {"Case 1 0 0 1", "Case 1 0 0 2"}
    with world.runtime.sessions() as session:
        assert (
            session.scalar(
                select(OutboundMessage.state).where(OutboundMessage.purpose == "page_bundle")
            )
            == "failed"
        )


# -- the sender thread -----------------------------------------------------------------------
def test_a_woken_sender_pages_at_once_without_waiting_for_the_engine(
    make_settings, db_url, clock, db_engine
):
    # The engine's safety-net interval is an hour: only the wake-up can send this page.
    settings = make_settings(db_url, engine={"tick": "1h"})
    world = make_world(settings, clock, db_engine)
    world.runtime.wake_hooks.append(world.sender.wake)
    world.sender.start()
    try:
        # Its start-up pass is over, so the page below needs the wake-up.
        assert world.sender.wait_idle(timeout=10)
        assert world.texts(ALICE) == []
        world.open_case()  # commits, then wakes the sender (what intake does)
        assert world.sender.wait_idle(timeout=10)  # the wake-up was served
        assert world.texts(ALICE) == [PAGE_1001]
    finally:
        world.sender.stop()
    assert not world.sender.running


# -- email over SMTP -------------------------------------------------------------------------
def test_smtp_sends_threaded_headers_and_refusals_are_permanent(make_settings):
    import socket

    from aiosmtpd.controller import Controller

    from oncall.delivery.transports.smtp import SmtpTransport
    from oncall.domain.transport import Outgoing, TransportError

    received = []

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, options):
            if address.startswith("nobody@"):
                return "550 5.1.1 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content.decode())
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = make_settings(
            email={"transport": "smtp", "smtp": {"host": "127.0.0.1", "port": port}}
        )
        smtp = SmtpTransport(settings)
        mail = Outgoing(
            id=5,
            channel="email",
            to="wile@acme.example",
            from_="support@vendor.example",
            body="An engineer is working on your case 1001.",
            subject="[Case 1001] An engineer is working on it",
            headers={
                "Message-ID": "<oncall.5.ab@vendor.example>",
                "In-Reply-To": "<oncall.1.cd@vendor.example>",
                "References": "<oncall.1.cd@vendor.example>",
            },
        )
        result = smtp.send(mail)
        assert result.provider_id == "<oncall.5.ab@vendor.example>"
        (raw,) = received
        for header in (
            "Message-ID: <oncall.5.ab@vendor.example>",
            "In-Reply-To: <oncall.1.cd@vendor.example>",
            "Auto-Submitted: auto-replied",
            "Subject: [Case 1001] An engineer is working on it",
        ):
            assert header in raw, header
        with pytest.raises(TransportError) as refused:
            smtp.send(
                Outgoing(
                    id=6,
                    channel="email",
                    to="nobody@acme.example",
                    from_="support@vendor.example",
                    body="x",
                    subject="y",
                )
            )
        assert refused.value.transient is False and refused.value.code == 550
        assert smtp.lookup(mail, datetime(2026, 11, 24, 8, 0, tzinfo=UTC)) is None  # no lookup
    finally:
        controller.stop()
    with pytest.raises(TransportError) as down:
        smtp.send(mail)  # nothing listens any more
    assert down.value.transient is True


class _RendezvousTransport(FakeTransport):
    """Every send waits at a barrier: it only opens when ``parties`` sends are in flight at
    once, so sends made one after another break it (and the message fails)."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        import threading

        self.barrier = threading.Barrier(parties, timeout=10)

    def send(self, message):
        import threading

        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            raise TransportError("sends were not concurrent", transient=False) from None
        return super().send(message)


def test_a_burst_is_delivered_side_by_side_each_message_once(
    make_settings, db_url, clock, db_engine
):
    settings = make_settings(db_url, engine={"send_concurrency": 4})
    fake = _RendezvousTransport(parties=4)
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    world = PagingWorld(runtime, clock, fake)
    with transaction(runtime.sessions) as session:
        for n in range(8):
            enqueue(
                session,
                clock.now(),
                channel="sms",
                purpose="notice",
                to=f"+1555010{n:04d}",
                body=f"notice {n}",
            )
    assert world.sender.run_once() == 8
    assert sorted(m.body for m in fake.sent) == [f"notice {n}" for n in range(8)]
    states = {r.state for r in world.outbox()}
    assert states == {"sent"}
