"""Schemathesis against the JSON API's own OpenAPI document, in process, on a seeded database.

Schemathesis reads ``/api/openapi.json`` from the app (public: no token needed), then sends
every operation requests generated from the document (valid ones, and invalid ones that must be
refused with a 4xx) with the bearer token, and runs its checks on every answer: no server
error, status codes, content types, headers and bodies as documented, invalid data refused,
valid data accepted, and the token enforced. The app runs with ``TESTING`` on, so an unhandled
exception fails the test instead of hiding as a 500. Examples are bounded to keep the run short.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from oncall.db.models import CaseEvent, MisuseFlag, OutboundMessage
from tests.fakes import seed

TOKEN = "test-api-token-0123456789"  # from tests/conftest.py BASE_CONFIG
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
EXAMPLES = 30  # per operation and mode, on each database: about 20 s in all


@pytest.fixture(name="settings")
def settings_with_an_acting_token(make_settings, db_url):
    # A token that may act too, so the POST operations (ack, status, escalate, resolve) are
    # driven through to the case actions rather than stopped at the scope check.
    return make_settings(
        db_url, api={"tokens": [{"name": "tests", "token": TOKEN, "scope": "act"}]}
    )


def _seed(runtime) -> None:
    """Cases in every state, with a timeline, a message and a misuse flag to describe."""
    with runtime.sessions() as session, session.begin():
        seed.add_case(session, 1001, opened_at=NOW - timedelta(days=30), state="resolved")
        seed.add_case(session, 1002, opened_at=NOW - timedelta(days=2), severity=2)
        seed.add_case(
            session,
            1003,
            opened_at=NOW - timedelta(hours=3),
            state="acknowledged",
            acknowledged_at=NOW - timedelta(hours=2, minutes=56),
            acknowledged_by="alice",
            acknowledged_by_name="Alice Ng",
        )
        down = seed.add_case(
            session, 1004, opened_at=NOW - timedelta(hours=1), state="downgraded", severity=3
        )
        session.add(CaseEvent(case_id=down.id, at=NOW, kind="sev", actor="alice", text="S3"))
        session.add(
            OutboundMessage(
                case_id=down.id,
                channel="sms",
                purpose="page",
                recipient="alice",
                to_address="+15550100101",
                body="page",
                state="delivered",
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )
        session.add(
            MisuseFlag(
                kind="fee",
                case_id=down.id,
                customer_key="acme",
                month="2026-11",
                flagged_at=NOW,
                flagged_by="alice",
                severity_claimed=1,
                severity_set=3,
                fee=250.0,
                currency="USD",
                reason="downgraded to S3",
            )
        )


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_the_api_as_schemathesis_drives_it(app, runtime, mode):
    """Zero server errors and zero schema violations, for valid and for invalid requests.

    Schemathesis's pytest plugin does not run under this pytest, so the test drives its
    strategies itself: one Hypothesis run per operation and generation mode.
    """
    _seed(runtime)
    # The token as the document's "bearer" scheme: schemathesis then sends it, and knows that a
    # request it sends without it must be refused.
    config = schemathesis.Config.from_dict({"auth": {"openapi": {"bearer": {"bearer": TOKEN}}}})
    api = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=config)
    operations = [result.ok() for result in api.get_all_operations()]
    # Every documented operation but the document itself (schemathesis leaves that one out).
    documented = {
        f"{method.upper()} {path}"
        for path, methods in api.raw_schema["paths"].items()
        for method in methods
    } - {"GET /api/openapi.json"}
    assert {operation.label for operation in operations} == documented

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case):
            case.call_and_validate()

        run()
