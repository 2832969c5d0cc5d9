"""The JSON API: bearer tokens, every route, filters, and an OpenAPI document that matches."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from oncall import __version__
from oncall.db.models import Case, CaseEvent, MisuseFlag, OutboundMessage
from oncall.domain.enums import CaseState, OutboxState
from oncall.web.api import routes as api_routes
from tests.fakes import seed

TOKEN = "test-api-token-0123456789"  # from tests/conftest.py BASE_CONFIG
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def add_case(
    session,
    number,
    *,
    opened_at=NOW,
    state="open",
    severity=1,
    team="support",
    customer="acme",
    **extra,
) -> Case:
    return seed.add_case(
        session, number, opened_at=opened_at, state=state, severity=severity, team=team,
        customer_key=customer, customer_name=customer.title(), channel="email",
        summary=f"case {number}", **extra,
    )  # fmt: skip


@pytest.fixture
def seeded(runtime):
    with runtime.sessions() as session, session.begin():
        add_case(session, 1001, opened_at=NOW - timedelta(days=30), state="resolved")  # October
        add_case(session, 1002, opened_at=NOW - timedelta(days=2), severity=2, customer="globex")
        add_case(
            session,
            1003,
            opened_at=NOW - timedelta(hours=3),
            state="acknowledged",
            acknowledged_at=NOW - timedelta(hours=3) + timedelta(minutes=4),
            acknowledged_by="alice",
            acknowledged_by_name="Alice Ng",
        )
        add_case(session, 1004, opened_at=NOW - timedelta(minutes=12), team="platform")
        down = add_case(
            session,
            1005,
            opened_at=NOW - timedelta(hours=1),
            state="downgraded",
            severity=3,
            severity_claimed=1,
            recording_url="https://api.twilio.com/rec/RE1",
        )
        session.add_all(
            [
                CaseEvent(
                    case_id=down.id, at=NOW - timedelta(hours=1), kind="opened", text="opened"
                ),
                CaseEvent(
                    case_id=down.id,
                    at=NOW - timedelta(minutes=50),
                    kind="downgraded",
                    text="SEV 3 by Alice Ng",
                    actor="alice",
                ),
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
                ),
                MisuseFlag(
                    kind="fee",
                    case_id=down.id,
                    customer_key="acme",
                    month="2026-11",
                    flagged_at=NOW - timedelta(minutes=50),
                    flagged_by="Alice Ng",
                    severity_claimed=1,
                    severity_set=3,
                    fee=250.0,
                    currency="USD",
                    reason="Downgraded",
                ),
            ]
        )


def get(client, path, **kwargs):
    return client.get(path, headers=AUTH, **kwargs)


# -- tokens -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
def test_missing_or_wrong_token_is_401(app, client, headers):
    routes = [
        (_example(r.rule), method)
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/") and r.rule != "/api/openapi.json"  # public: its own test
        for method in sorted(r.methods - {"HEAD", "OPTIONS"})
    ]
    assert len(routes) == 11  # 6 to read (the contract statement too), 5 to act on a case
    for path, method in routes:
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json() == {"error": "a valid bearer token is required"}
    if headers.get("Authorization", "").startswith("Bearer "):
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_the_api_needs_no_dashboard_sign_in(client):
    response = get(client, "/api/cases")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


# -- routes -----------------------------------------------------------------------------------
def numbers(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [case["number"] for case in response.get_json()["cases"]]


def test_list_cases_newest_first_with_clocks(client, seeded):
    response = get(client, "/api/cases")
    assert numbers(response) == [1004, 1005, 1003, 1002, 1001]
    body = response.get_json()
    assert body["count"] == 5
    newest = body["cases"][0]
    assert newest["customer"] == {"key": "acme", "name": "Acme", "plan": "premium"}
    assert newest["sla"]["triage"] == {
        "due": "2026-11-24T08:03:00+00:00",
        "seconds_left": 180.0,
        "level": "warn",
    }
    assert newest["opened_at"] == "2026-11-24T07:48:00+00:00"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=open", [1004, 1002]),
        ("state=open,acknowledged", [1004, 1003, 1002]),
        ("state=open&state=downgraded", [1004, 1005, 1002]),
        ("severity=2", [1002]),
        ("severity=S3,1", [1004, 1005, 1003, 1001]),
        ("team=platform", [1004]),
        ("customer=globex", [1002]),
        ("since=2026-11-22", [1004, 1005, 1003, 1002]),  # local midnight, Toronto
        ("since=2026-11-24T05:00:00Z", [1004, 1005, 1003]),  # 1003 opened at 05:00
        ("until=2026-11-24T05:00:00%2B00:00", [1002, 1001]),
        ("since=2026-11-01&until=2026-11-23", [1002]),
        ("limit=2", [1004, 1005]),
    ],
)
def test_list_cases_filters(client, seeded, query, expected):
    assert numbers(get(client, f"/api/cases?{query}")) == expected


@pytest.mark.parametrize(
    "query",
    [
        "state=shut",
        "severity=5",
        "severity=high",
        "since=yesterday",
        "since=2026-11-24T05:00:00",
        "limit=0",
        "limit=501",
        "limit=many",
    ],
)
def test_list_cases_rejects_bad_filters(client, query):
    response = get(client, f"/api/cases?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_case_detail_with_timeline(client, seeded):
    response = get(client, "/api/cases/1005")
    assert response.status_code == 200
    body = response.get_json()
    assert body["number"] == 1005 and body["state"] == "downgraded"
    assert (body["severity_claimed"], body["severity"]) == (1, 3)
    assert [e["kind"] for e in body["timeline"]] == ["opened", "downgraded"]
    assert body["timeline"][1]["actor"] == "alice"
    assert body["messages"][0]["purpose"] == "page" and body["messages"][0]["state"] == "delivered"
    assert body["misuse"]["fee"] == 250.0 and body["misuse"]["waived"] is False
    assert body["recording"]["url"] == "https://api.twilio.com/rec/RE1"
    assert body["contact"]["email"] == "wile@acme.example"
    missing = get(client, "/api/cases/999")
    assert missing.status_code == 404 and missing.get_json() == {"error": "no case 999"}


def test_on_call_now(client):
    body = get(client, "/api/oncall").get_json()
    assert body["at"] == NOW.isoformat()
    (team,) = body["teams"]
    assert team["team"] == "support" and team["timezone"] == "America/Toronto"
    primary = next(level for level in team["levels"] if level["level"] == "primary")
    assert primary["member"] == {"key": "alice", "name": "Alice Ng"}
    assert primary["until"] == "2026-11-24T23:00:00+00:00"  # Carol's override at 18:00 EST
    assert primary["next"] == {
        "member": {"key": "carol", "name": "Carol Li"},
        "from": "2026-11-24T23:00:00+00:00",
        "override": True,
    }


def test_sla_report(client, seeded):
    body = get(client, "/api/reports/sla?month=2026-11").get_json()
    assert body["month"] == "2026-11" and body["timezone"] == "America/Toronto"
    assert body["cases"] == 4  # 1001 opened in October
    assert body["acknowledged"] == 1 and body["median_triage_seconds"] == 240
    october = get(client, "/api/reports/sla?month=2026-10").get_json()
    assert october["cases"] == 1
    assert get(client, "/api/reports/sla").get_json()["month"] == "2026-11"  # the clock's month
    assert get(client, "/api/reports/sla?month=2026-1").status_code == 400


def test_misuse_report(client, seeded):
    body = get(client, "/api/reports/misuse?month=2026-11").get_json()
    assert body["due"] == {"USD": 250.0}
    (row,) = body["rows"]
    assert row["case"] == 1005 and row["customer"] == "acme" and row["waived"] is False
    assert row["date"] == "2026-11-24"
    assert get(client, "/api/reports/misuse?month=2026-10").get_json()["rows"] == []
    assert get(client, "/api/reports/misuse?month=x").status_code == 400


# -- OpenAPI ----------------------------------------------------------------------------------
def _example(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1001", rule)


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


@pytest.fixture
def document(client) -> dict:
    response = get(client, "/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_openapi_document_is_valid_openapi_3_1(runtime, document):
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["openapi"].startswith("3.1")
    assert document["info"]["version"] == __version__
    assert document["servers"] == [{"url": runtime.settings.public_url}]


def test_openapi_lists_exactly_the_api_routes(app, document):
    routes: dict[str, set[str]] = {}
    converters: dict[str, dict[str, str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            methods = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
            routes.setdefault(_openapi_path(rule.rule), set()).update(methods)
            converters[_openapi_path(rule.rule)] = {
                name: converter or "default"
                for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule.rule)
            }
    documented = {path: set(ops) for path, ops in document["paths"].items()}
    assert documented == routes
    operation_ids = []
    for path, operations in document["paths"].items():
        for operation in operations.values():
            # Every operation answers 401 without the token, but the public document itself.
            public = operation.get("security") == []
            assert ({"200"} if public else {"200", "401"}) <= set(operation["responses"]), path
            assert public == (path == "/api/openapi.json"), path
            assert operation["operationId"] and operation["summary"]
            operation_ids.append(operation["operationId"])
            declared = {
                p["name"]: p["schema"]["type"]
                for p in operation.get("parameters", [])
                if p["in"] == "path"
            }
            expected = {
                name: _CONVERTER_TYPES[converter] for name, converter in converters[path].items()
            }
            assert declared == expected, path
    assert len(operation_ids) == len(set(operation_ids))


_CONVERTER_TYPES = {"default": "string", "string": "string", "int": "integer", "path": "string"}


def test_openapi_references_resolve(document):
    schemas = document["components"]["schemas"]
    refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(document))
    assert refs and all(ref in schemas for ref in refs)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_openapi_filters_match_the_code(document):
    parameters = {p["name"]: p for p in document["paths"]["/api/cases"]["get"]["parameters"]}
    assert set(parameters) == {"state", "severity", "team", "customer", "since", "until", "limit"}
    states = [state.value for state in CaseState]
    assert parameters["state"]["schema"]["items"]["enum"] == states
    limit = parameters["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (api_routes.DEFAULT_LIMIT, api_routes.MAX_LIMIT)
    schemas = document["components"]["schemas"]
    assert schemas["Case"]["properties"]["state"]["enum"] == states
    outbox_states = [state.value for state in OutboxState]
    assert schemas["Message"]["properties"]["state"]["enum"] == outbox_states


@pytest.mark.parametrize(
    ("path", "template", "status"),
    [
        ("/api/cases", "/api/cases", "200"),
        ("/api/cases?limit=0", "/api/cases", "400"),
        ("/api/cases/1003", "/api/cases/{number}", "200"),
        ("/api/cases/1005", "/api/cases/{number}", "200"),
        ("/api/cases/999", "/api/cases/{number}", "404"),
        ("/api/oncall", "/api/oncall", "200"),
        ("/api/reports/sla?month=2026-11", "/api/reports/sla", "200"),
        ("/api/reports/sla?month=x", "/api/reports/sla", "400"),
        ("/api/reports/misuse?month=2026-11", "/api/reports/misuse", "200"),
        ("/api/openapi.json", "/api/openapi.json", "200"),
    ],
)
def test_answers_match_the_documented_schemas(client, seeded, document, path, template, status):
    response = get(client, path)
    assert str(response.status_code) == status
    documented = document["paths"][template]["get"]["responses"][status]
    schema = documented["content"]["application/json"]["schema"]
    # The schema's $refs point into the document's components: give it them to resolve against.
    OAS31Validator({**schema, "components": document["components"]}).validate(response.get_json())


def test_unauthorized_answers_match_the_documented_schema(client, document):
    response = client.get("/api/cases")
    documented = document["paths"]["/api/cases"]["get"]["responses"]["401"]
    assert set(documented["headers"]) <= set(response.headers.keys())
    schema = documented["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": document["components"]}).validate(response.get_json())
