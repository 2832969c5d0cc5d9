"""The app factory and /healthz."""

from __future__ import annotations

import json

from oncall import __version__


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["database"]["reachable"] is True
    assert body["config"]["loaded"] is True
    assert body["reasons"] == []


def test_request_id_is_returned_and_propagated(client):
    response = client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert response.headers["X-Request-Id"] == "abc123"
    generated = client.get("/healthz").headers["X-Request-Id"]
    assert generated and generated != "abc123"


def test_healthz_503_when_database_unreachable(make_settings, clock, transports):
    from oncall.bootstrap.runtime import build_runtime
    from oncall.db.session import make_engine
    from oncall.web.app import create_app

    settings = make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none")
    runtime = build_runtime(
        settings,
        clock=clock,
        transports=transports,
        db=make_engine(settings.database_url, connect_args={"connect_timeout": 1}),
    )
    response = create_app(runtime=runtime).test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert any(r.startswith("database unreachable") for r in body["reasons"])


def test_healthz_503_when_not_migrated(make_settings, clock, transports, tmp_path):
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    settings = make_settings(f"sqlite:///{tmp_path / 'empty.db'}")
    runtime = build_runtime(settings, clock=clock, transports=transports)
    response = create_app(runtime=runtime).test_client().get("/healthz")
    assert response.status_code == 503
    assert "not migrated" in json.dumps(response.get_json())


def test_healthz_503_when_outbox_stuck(client, runtime, clock):
    from datetime import timedelta

    from oncall.cases.outbox import enqueue

    with runtime.sessions() as session, session.begin():
        enqueue(
            session,
            clock.now() - timedelta(minutes=10),
            channel="sms",
            purpose="page",
            to="+15551230009",
            body="hi",
        )
    body = client.get("/healthz").get_json()
    assert any("outbox stuck" in r for r in body["reasons"])


def test_unknown_route_is_404(client):
    # At once under a public path. Under a private one a stranger is sent to the sign-in form
    # first, so the answer never tells which private paths exist (signed in, it is a 404 too:
    # test_dashboard.py).
    for path in ("/api/nope", "/twilio/nope", "/email/inbound/nope", "/healthz/nope", "/static/x"):
        assert client.get(path).status_code == 404, path
    response = client.get("/nope")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/nope"


def test_livez_answers_without_touching_the_database(client):
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}


def test_outbox_backlog_age_survives_retry_backoff(runtime, clock):
    """A provider outage pushes next_attempt_at forward on every retry; the age must not reset."""
    from datetime import timedelta

    from oncall.cases.outbox import enqueue, outbox_backlog

    with runtime.sessions() as session, session.begin():
        message = enqueue(
            session, clock.now(), channel="sms", purpose="page", to="+15555550101", body="page"
        )
        later = enqueue(
            session,
            clock.now(),
            channel="sms",
            purpose="page",
            to="+15555550102",
            body="not yet due",
            not_before=clock.now() + timedelta(hours=1),
        )
        assert later is not None
        clock.advance(minutes=3)
        message.attempts = 4
        message.next_attempt_at = clock.now() + timedelta(seconds=30)  # backing off
    with runtime.sessions() as session:
        depth, age = outbox_backlog(session, clock.now())
    assert depth == 1  # the message scheduled for later is not waiting yet
    assert age == 180.0


def test_healthz_reports_a_stalled_engine(client, runtime, clock):
    from datetime import timedelta

    from oncall.db.models import EngineHeartbeat

    with runtime.sessions() as session, session.begin():
        session.add(EngineHeartbeat(instance="clock-1", last_tick_at=clock.now()))
    assert client.get("/healthz").status_code == 200
    clock.advance(timedelta(minutes=2))
    body = client.get("/healthz").get_json()
    assert any(r.startswith("engine stalled: no tick for 120s") for r in body["reasons"])


def test_healthz_reports_open_cases_without_a_rota(client, runtime, clock):
    from oncall.cases.events import add_event
    from oncall.cases.opening import NewCase, open_case

    with runtime.sessions() as session, session.begin():
        case = open_case(
            session,
            runtime,
            NewCase("acme", "Acme Corp", "premium", "nosuchteam", "email", 1, "down"),
            clock.now(),
        )
        add_event(session, case, clock.now(), "unroutable", "no rota")
    body = client.get("/healthz").get_json()
    assert "case 1001 has no rota for team 'nosuchteam': paging fallbacks only" in body["reasons"]
