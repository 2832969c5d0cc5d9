"""Bounded storage (issue 10, item 6): the retention policy of ``config.yaml`` applied by the
engine in small batches, with recordings deleted at Twilio (``DELETE …/Recordings/{sid}.json``,
through the Twilio transport; ``responses`` plays Twilio and refuses any other request).

The clock stands at Tuesday 2026-11-24 08:00 UTC; rows are written "days ago" from it.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import responses
from sqlalchemy import func, select, text
from twilio.request_validator import RequestValidator

from oncall.bootstrap.background import BackgroundServices
from oncall.bootstrap.runtime import build_runtime
from oncall.config.yamlsource import SourceErrors
from oncall.db.models import (
    Attempt,
    Case,
    CaseEvent,
    MisuseFlag,
    OutboundMessage,
    VoiceCall,
    WebhookReceipt,
)
from oncall.delivery.transports.base import ConsoleTransport
from oncall.delivery.transports.twilio import TwilioTransport
from oncall.engine import retention
from oncall.engine.retention import apply_retention
from oncall.web.app import create_app
from tests.fakes import seed

TWILIO = "http://twilio.fake.example:8080"
ACCOUNT = "AC" + "0" * 32
TOKEN = "test-api-token-0123456789"  # tests/conftest.py


def rec_sid(n: int) -> str:
    return f"RE{n:032x}"


def rec_url(n: int) -> str:
    return f"{TWILIO}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{rec_sid(n)}.json"


@pytest.fixture
def settings(make_settings, db_url):
    return make_settings(db_url, twilio={"api_base": TWILIO})


@pytest.fixture
def runtime(settings, clock, db_engine):
    console = ConsoleTransport(echo=False)
    transports = {"sms": console, "voice": TwilioTransport(settings), "email": console}
    return build_runtime(settings, clock=clock, transports=transports, db=db_engine)


def days_ago(clock, days: float):
    return clock.now() - timedelta(days=days)


def write(runtime, *rows) -> None:
    with runtime.sessions() as session, session.begin():
        session.add_all(rows)


def count(runtime, model, *where) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def receipt(clock, key: str, days: float) -> WebhookReceipt:
    return WebhookReceipt(key=key, received_at=days_ago(clock, days), response="{}")


def attempt(clock, n: int, days: float) -> Attempt:
    return Attempt(
        at=days_ago(clock, days),
        channel="voice",
        reason="wrong_pin",
        contact="+15550009999",
        intake_key=f"pin:CA{n}:1",
    )


def recorded_case(runtime, clock, number: int, days: float, **extra) -> None:
    with runtime.sessions() as session, session.begin():
        seed.add_case(
            session,
            number,
            opened_at=days_ago(clock, days),
            recording_url=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/"
            f"{rec_sid(number)}",
            recording_sid=rec_sid(number),
            recording_duration=14,
            **extra,
        )


# -- receipts and refused attempts -------------------------------------------------------------
def test_old_receipts_and_attempts_go_in_small_batches(runtime, clock, monkeypatch):
    monkeypatch.setattr(retention, "ROWS_PER_PASS", 4)
    write(runtime, *(receipt(clock, f"sms:SM{n}", 31 + n) for n in range(10)))
    write(runtime, *(receipt(clock, f"sms:SMnew{n}", 29) for n in range(3)))
    write(runtime, *(attempt(clock, n, 366 + n) for n in range(6)))
    write(runtime, *(attempt(clock, 100 + n, 364) for n in range(2)))
    passes = []
    while True:
        result = apply_retention(runtime)
        if not result.deleted:
            break
        passes.append((result.receipts, result.attempts))
    assert passes == [(4, 4), (4, 2), (2, 0)]  # bounded per pass, oldest gone in three
    assert count(runtime, WebhookReceipt) == 3  # 29 days old: kept
    assert count(runtime, Attempt) == 2  # 364 days old: kept


def test_messages_of_no_case_go_with_the_refused_attempts(runtime, clock):
    def message(state: str, days: float, case_id=None) -> OutboundMessage:
        return OutboundMessage(
            channel="email",
            purpose="refusal",
            to_address="someone@unknown.example",
            body="no",
            state=state,
            next_attempt_at=days_ago(clock, days),
            created_at=days_ago(clock, days),
            case_id=case_id,
        )

    write(runtime, message("sent", 400), message("failed", 400), message("pending", 400))
    write(runtime, message("sent", 300))
    apply_retention(runtime)
    with runtime.sessions() as session:
        kept = sorted(session.scalars(select(OutboundMessage.state)))
    assert kept == ["pending", "sent"]  # still to send; and too young


def test_ivr_call_states_go_with_the_receipts_unless_they_hold_a_recording(runtime, clock):
    def call(sid: str, days: float, recording: str | None = None) -> VoiceCall:
        at = days_ago(clock, days)
        return VoiceCall(call_sid=sid, created_at=at, updated_at=at, recording_sid=recording)

    write(runtime, call("CAold", 40), call("CAnew", 2), call("CAheld", 40, rec_sid(7)))
    apply_retention(runtime)
    with runtime.sessions() as session:
        assert sorted(session.scalars(select(VoiceCall.call_sid))) == ["CAheld", "CAnew"]


# -- recordings --------------------------------------------------------------------------------
@responses.activate
def test_old_recordings_are_deleted_at_twilio_and_their_links_leave_the_case(runtime, clock):
    recorded_case(runtime, clock, 1001, days=91)
    recorded_case(runtime, clock, 1002, days=89)
    deleted = responses.delete(rec_url(1001), status=204)
    result = apply_retention(runtime)
    assert result.recordings == 1 and deleted.call_count == 1
    assert responses.calls[0].request.method == "DELETE"
    assert responses.calls[0].request.url == rec_url(1001)
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")
    with runtime.sessions() as session:
        old, young = session.scalars(select(Case).order_by(Case.number))
        assert (old.recording_url, old.recording_sid, old.recording_duration) == (None,) * 3
        assert young.recording_url and young.recording_sid == rec_sid(1002)
        (event,) = session.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id == old.id, CaseEvent.kind == "recording_deleted"
            )
        )
        assert "gone here and at Twilio" in event.text
    # The links are gone where people look: the API and the dashboard.
    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    detail = client.get("/api/cases/1001", headers={"Authorization": f"Bearer {TOKEN}"})
    assert detail.status_code == 200 and detail.get_json()["recording"] is None
    assert client.get("/api/cases/1002", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()[
        "recording"
    ]


@responses.activate
def test_a_recording_twilio_no_longer_has_counts_as_deleted(runtime, clock):
    recorded_case(runtime, clock, 1001, days=100)
    responses.delete(
        rec_url(1001),
        status=404,
        json={"code": 20404, "message": "not found", "status": 404, "more_info": ""},
    )
    assert apply_retention(runtime).recordings == 1
    with runtime.sessions() as session:
        assert session.scalar(select(Case.recording_url)) is None


@responses.activate
def test_when_twilio_fails_the_link_stays_and_the_next_pass_tries_again(runtime, clock):
    recorded_case(runtime, clock, 1001, days=100)
    recorded_case(runtime, clock, 1002, days=95)
    failing = responses.delete(rec_url(1001), status=503, json={"message": "down", "status": 503})
    result = apply_retention(runtime)
    assert (result.recordings, result.recordings_failed) == (0, 1)
    assert failing.call_count == 1  # the pass stopped: 1002 was not tried against a failing API
    assert count(runtime, Case, Case.recording_url.is_not(None)) == 2
    responses.replace(responses.DELETE, rec_url(1001), status=204)
    responses.delete(rec_url(1002), status=204)
    assert apply_retention(runtime).recordings == 2
    assert count(runtime, Case, Case.recording_url.is_not(None)) == 0


@responses.activate
def test_two_engines_racing_clear_a_recording_once(runtime, clock, settings, db_engine):
    recorded_case(runtime, clock, 1001, days=100)
    console = ConsoleTransport(echo=False)
    other = build_runtime(
        settings,
        clock=clock,
        transports={"sms": console, "voice": TwilioTransport(settings), "email": console},
        db=db_engine,
    )
    responses.delete(rec_url(1001), status=204)
    responses.delete(rec_url(1001), status=404, json={"code": 20404, "status": 404})
    real = runtime.transports["voice"].delete_recording

    def slow_delete(sid: str) -> None:
        real(sid)
        apply_retention(other)  # the other engine takes its pass meanwhile

    runtime.transports["voice"].delete_recording = slow_delete
    apply_retention(runtime)
    assert len(responses.calls) == 2  # deleting twice at Twilio is harmless (404 = gone)
    with runtime.sessions() as session:
        kinds = list(session.scalars(select(CaseEvent.kind)))
        assert kinds.count("recording_deleted") == 1
        assert session.scalar(select(Case.recording_url)) is None


@responses.activate
def test_recordings_of_calls_that_opened_no_case_are_deleted_too(runtime, clock):
    at = days_ago(clock, 91)
    write(
        runtime, VoiceCall(call_sid="CA1", created_at=at, updated_at=at, recording_sid=rec_sid(9))
    )
    deleted = responses.delete(rec_url(9), status=204)
    apply_retention(runtime)
    assert deleted.call_count == 1
    # The call state itself is older than the receipts' 30 days: it goes at the next pass.
    apply_retention(runtime)
    assert count(runtime, VoiceCall) == 0


def ivr(client, path: str, **params: str) -> str:
    """One signed Twilio webhook of a call from Wile (Acme) to the critical line."""
    url = "https://oncall.vendor.example" + path
    params = {"CallSid": "CA" + "1" * 32, "AccountSid": ACCOUNT, "From": "+15551230001",
              "To": "+15555550501", "CallStatus": "in-progress", **params}  # fmt: skip
    signature = RequestValidator("test-auth-token").compute_signature(url, params)
    answer = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def test_a_recording_left_on_the_phone_line_is_deleted_after_90_days_not_before(runtime, clock):
    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    ivr(client, "/twilio/voice", CallStatus="ringing")
    ivr(client, "/twilio/voice/menu/1", Digits="1")  # S1: record a description
    recording = {
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/"
        f"{rec_sid(1)}",
        "RecordingDuration": "14",
    }
    ivr(client, "/twilio/voice/recorded", Digits="#", **recording)
    ivr(client, "/twilio/voice/recording-status", RecordingSid=rec_sid(1),
        RecordingStatus="completed", **recording)  # fmt: skip
    with runtime.sessions() as session:
        assert session.scalar(select(Case.recording_sid)) == rec_sid(1)
    with responses.RequestsMock() as twilio:  # any request to Twilio now would fail the test
        clock.advance(days=89)
        apply_retention(runtime)
        twilio.delete(rec_url(1), status=204)
        clock.advance(days=2)
        assert apply_retention(runtime).recordings == 1
        assert [call.request.url for call in twilio.calls] == [rec_url(1)]
    with runtime.sessions() as session:
        assert session.scalar(select(Case.recording_url)) is None
        assert session.scalar(select(VoiceCall.recording_sid)) is None


# -- closed cases ------------------------------------------------------------------------------
def test_closed_cases_are_kept_for_ever_by_default(runtime, clock):
    with runtime.sessions() as session, session.begin():
        seed.add_case(
            session, 1001, opened_at=days_ago(clock, 2000), state="resolved",
            resolved_at=days_ago(clock, 1999),
        )  # fmt: skip
    apply_retention(runtime)
    assert count(runtime, Case) == 1


@responses.activate
def test_closed_cases_go_when_configured_except_fee_flagged_ones(
    make_settings, db_url, clock, db_engine
):
    settings = make_settings(
        db_url,
        twilio={"api_base": TWILIO},
        retention={"closed_cases": "400d", "recordings": "never"},
    )
    console = ConsoleTransport(echo=False)
    runtime = build_runtime(
        settings,
        clock=clock,
        transports={"sms": console, "voice": TwilioTransport(settings), "email": console},
        db=db_engine,
    )
    old = days_ago(clock, 500)
    recorded_case(runtime, clock, 1001, days=500, state="resolved", resolved_at=old)
    with runtime.sessions() as session, session.begin():
        seed.add_case(session, 1002, opened_at=old, state="downgraded")
        billed = seed.add_case(session, 1003, opened_at=old, state="downgraded")
        session.add(
            MisuseFlag(kind="fee", case_id=billed.id, customer_key="acme", month="2025-07",
                       flagged_at=old, fee=250.0)
        )  # fmt: skip
        seed.add_case(session, 1004, opened_at=old, state="open")  # never closed: stays
        seed.add_case(session, 1005, opened_at=days_ago(clock, 10), state="resolved",
                      resolved_at=days_ago(clock, 9))  # fmt: skip
    responses.delete(rec_url(1001), status=204)
    result = apply_retention(runtime)
    assert result.cases == 2 and result.recordings == 1  # its recording at Twilio first
    with runtime.sessions() as session:
        assert sorted(session.scalars(select(Case.number))) == [1003, 1004, 1005]


# -- two engines on PostgreSQL -----------------------------------------------------------------
def test_a_pass_skips_rows_another_engine_holds(runtime, clock, db_url, db_engine):
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks of a second engine (PostgreSQL)")
    write(runtime, *(receipt(clock, f"sms:SM{n}", 40) for n in range(6)))
    held = threading.Event()
    release = threading.Event()

    def other_engine():
        with db_engine.connect() as connection, connection.begin():
            connection.execute(
                text("SELECT key FROM webhook_receipts ORDER BY key LIMIT 2 FOR UPDATE SKIP LOCKED")
            )
            held.set()
            release.wait(10)

    thread = threading.Thread(target=other_engine)
    thread.start()
    try:
        assert held.wait(10)
        assert apply_retention(runtime).receipts == 4  # the two held rows are skipped, no wait
    finally:
        release.set()
        thread.join(10)
    assert apply_retention(runtime).receipts == 2


# -- the policy in config.yaml and the engine's job ----------------------------------------------
def test_the_policy_and_its_defaults(make_settings):
    assert make_settings().retention == retention_settings(30, 365, 90, None)
    settings = make_settings(
        retention={"receipts": "7d", "refused_attempts": "never", "recordings": "2d"}
    )
    assert settings.retention == retention_settings(7, None, 2, None)


def retention_settings(receipts, attempts, recordings, cases):
    from oncall.config.settings import RetentionSettings

    def days(value):
        return None if value is None else timedelta(days=value)

    return RetentionSettings(days(receipts), days(attempts), days(recordings), days(cases))


@pytest.mark.parametrize(
    ("retention_config", "message"),
    [
        ({"receipts": "1d"}, 'retention.receipts: "1d" is too short: keep them 3d or more'),
        ({"recordings": "2h"}, 'retention.recordings: "2h" is too short: keep them 1d or more'),
        ({"recordings": "soon"}, "retention.recordings:"),
        ({"receipt": "30d"}, "retention.receipt: unknown key"),
    ],
)
def test_a_bad_policy_names_the_key(make_settings, retention_config, message):
    with pytest.raises(SourceErrors) as raised:
        make_settings(retention=retention_config)
    assert any(message in str(error) for error in raised.value.errors), raised.value.errors


def test_the_engine_runs_the_pass_as_its_own_job(runtime):
    services = BackgroundServices(runtime, engine=True, sender=False)
    services.start()
    try:
        job = services.scheduler.get_job("retention")
        assert job is not None
        assert job.trigger.interval == retention.RETENTION_EVERY
    finally:
        services.stop()
    web_only = BackgroundServices(runtime, engine=False, sender=False)
    web_only.start()
    try:
        assert web_only.scheduler.get_job("retention") is None  # web processes leave it
    finally:
        web_only.stop()
