"""``/metrics``: read from the database at scrape time, one registry per app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from oncall.db.models import Case, CaseEvent, EngineHeartbeat, OutboundMessage

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def case(number, state, severity, opened_at=NOW) -> Case:
    return Case(
        number=number,
        team="support",
        customer_key="acme",
        customer_name="Acme Corp",
        channel="voice",
        severity_claimed=severity,
        severity=severity,
        state=state,
        opened_at=opened_at,
        escalation={},
    )


def message(case_id, purpose, state, channel="sms", due=NOW) -> OutboundMessage:
    return OutboundMessage(
        case_id=case_id,
        channel=channel,
        purpose=purpose,
        recipient="alice",
        to_address="+15550100101",
        body="x",
        state=state,
        next_attempt_at=due,
        created_at=due,
    )


def test_metrics_are_public_and_empty_at_first(client):
    samples = scrape(client)
    assert samples[("oncall_metrics_scrape_ok", ())] == 1
    assert samples[("oncall_outbox_oldest_pending_age_seconds", ())] == 0
    assert samples[("oncall_sla_breaches_total", (("target", "triage"),))] == 0
    assert samples[("oncall_file_errors", ())] == 0


def test_metrics_from_the_tables(client, runtime, clock):
    with runtime.sessions() as session, session.begin():
        cases = [
            case(1001, "open", 1),
            case(1002, "open", 1),
            case(1003, "acknowledged", 2),
            case(1004, "downgraded", 3),
        ]
        session.add_all(cases)
        session.flush()
        first = cases[0].id
        session.add_all(
            [
                message(first, "page", "delivered"),
                message(first, "page", "failed"),
                message(
                    first, "page_voice", "sending", channel="voice", due=NOW - timedelta(seconds=30)
                ),
                message(first, "manager_page", "pending", due=NOW - timedelta(seconds=90)),
                message(
                    first, "status", "pending", channel="email", due=NOW + timedelta(minutes=5)
                ),  # not due yet: not overdue
                message(first, "reminder", "sent"),
                CaseEvent(
                    case_id=first, at=NOW, kind="breach", text="x", data={"target": "triage"}
                ),
                CaseEvent(
                    case_id=first,
                    at=NOW,
                    kind="breach",
                    text="x",
                    data={"target": "status", "seq": 0},
                ),
                CaseEvent(
                    case_id=first,
                    at=NOW,
                    kind="breach",
                    text="x",
                    data={"target": "status", "seq": 1},
                ),
                CaseEvent(case_id=first, at=NOW, kind="opened", text="x"),
                EngineHeartbeat(
                    instance="clock-1",
                    last_tick_at=NOW - timedelta(seconds=2),
                    last_lag_ms=150.0,
                    last_duration_ms=12.5,
                ),
            ]
        )
    clock.advance(seconds=10)
    samples = scrape(client)
    assert samples[("oncall_cases", (("severity", "S1"), ("state", "open")))] == 2
    assert samples[("oncall_cases", (("severity", "S2"), ("state", "acknowledged")))] == 1
    assert samples[("oncall_cases", (("severity", "S3"), ("state", "downgraded")))] == 1

    def pages(channel, purpose, state):
        key = ("oncall_pages", (("channel", channel), ("purpose", purpose), ("state", state)))
        return samples.get(key)

    assert pages("sms", "page", "delivered") == 1
    assert pages("sms", "page", "failed") == 1
    assert pages("voice", "page_voice", "sending") == 1
    assert pages("sms", "manager_page", "pending") == 1
    assert pages("email", "status", "pending") is None  # not a page
    assert pages("sms", "reminder", "sent") is None

    assert samples[("oncall_sla_breaches_total", (("target", "triage"),))] == 1
    assert samples[("oncall_sla_breaches_total", (("target", "status"),))] == 2
    assert samples[("oncall_outbox_depth", (("channel", "sms"),))] == 1
    assert samples[("oncall_outbox_depth", (("channel", "voice"),))] == 1
    assert samples[("oncall_outbox_depth", (("channel", "email"),))] == 1
    # The manager page has been due since 07:58:30; the clock says 08:00:10.
    assert samples[("oncall_outbox_oldest_pending_age_seconds", ())] == 100
    instance = (("instance", "clock-1"),)
    assert samples[("oncall_engine_tick_lag_seconds", instance)] == 0.15
    assert samples[("oncall_engine_tick_duration_seconds", instance)] == 0.0125
    assert samples[("oncall_engine_seconds_since_tick", instance)] == 12


def test_each_app_has_its_own_registry(runtime):
    from oncall.web.app import create_app

    first, second = create_app(runtime=runtime), create_app(runtime=runtime)
    assert (
        first.extensions["oncall.metrics_registry"]
        is not second.extensions["oncall.metrics_registry"]
    )
    assert scrape(first.test_client()) == scrape(second.test_client())


def test_scrape_answers_when_the_database_is_down(make_settings, clock, transports):
    from oncall.bootstrap.runtime import build_runtime
    from oncall.db.session import make_engine
    from oncall.web.app import create_app

    settings = make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none")
    db = make_engine(settings.database_url, connect_args={"connect_timeout": 1})
    runtime = build_runtime(settings, clock=clock, transports=transports, db=db)
    samples = scrape(create_app(runtime=runtime).test_client())
    assert samples[("oncall_metrics_scrape_ok", ())] == 0
    assert not any(name == "oncall_cases" for name, _labels in samples)
