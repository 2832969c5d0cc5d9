"""The monthly contract statement (issue 11, item 5), over a small November lived on a fake
clock with the `gold` plan of test_contract_targets.py:

* case 1001, S1, Tuesday 24 November 03:00 Toronto (after hours: triage 10m and first status
  30m doubled to 20m and 1h; resolution 1d): acknowledged at 03:05, a status with an ETA at
  03:30, resolved at 05:00. Every target met; 5 minutes to acknowledge, 2 hours to resolve.
* case 1002, S2, the same day at 10:00 (business hours, business clock: triage 2h due 12:00,
  first status 4h due 14:00): acknowledged at 12:30 (30 minutes late), a status at 13:00,
  then no update by 17:00 (one update missed), downgraded to S3 at 18:00 (fee flagged).
* a Globex case that is not Acme's.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft202012Validator

from oncall.bootstrap.runtime import build_runtime
from oncall.cli.main import main
from oncall.reports.contract import contract_statement
from oncall.reports.sla import sla_report
from oncall.web.app import create_app
from tests.fakes.callers import API, MANAGERS, sign_in
from tests.fakes.transports import ALICE, FakeTransport, PagingWorld
from tests.integration.test_contract_targets import CUSTOMERS

TORONTO = ZoneInfo("America/Toronto")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TORONTO).astimezone(UTC)


@pytest.fixture
def world(make_settings, db_url, clock, db_engine, tmp_path) -> PagingWorld:
    customers = tmp_path / "customers.yaml"
    customers.write_text(CUSTOMERS)
    settings = make_settings(db_url, paths={"customers": str(customers)}, users=MANAGERS)
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    world = PagingWorld(runtime, clock, fake)
    _november(world)
    return world


def _november(world: PagingWorld) -> None:
    first = world.open_case("acme", severity=1)  # 03:00
    world.advance(minutes=5)
    world.sms(ALICE, f"ACK {first}")
    world.advance(minutes=25)
    world.sms(ALICE, f"STATUS {first} rolled back the deploy ETA 1h")
    world.advance(minutes=90)
    world.sms(ALICE, f"RESOLVE {first} fixed")
    world.advance(hours=5)  # 10:00
    second = world.open_case("acme", severity=2, summary="Exports fail")
    world.advance(hours=2, minutes=30)  # 12:30: triage was due at 12:00
    world.sms(ALICE, f"ACK {second}")
    world.advance(minutes=30)
    world.sms(ALICE, f"STATUS {second} found it ETA 3h")
    world.advance(hours=5)  # 18:00: the update due at 17:00 was missed
    world.sms(ALICE, f"SEV {second} 3 a report export is not an outage")
    world.open_case("globex", severity=1)


def statement_of(world: PagingWorld):
    with world.runtime.sessions() as session:
        return contract_statement(
            session,
            "acme",
            "2026-11",
            world.runtime.settings.zone,
            world.clock.now(),
            known={"acme": ("Acme Corp", "gold")},
        )


def test_the_statements_figures(world):
    statement = statement_of(world)
    assert [c.number for c in statement.cases] == [1001, 1002]
    first, second = statement.cases

    assert first.after_hours and first.multiplied
    triage = first.target("triage")
    assert (triage.seconds, triage.due_at, triage.met) == (1200, at("2026-11-24T03:20"), True)
    assert first.target("first_status").met and first.target("first_status").seconds == 3600
    assert first.target("updates").met is True
    resolution = first.target("resolution")
    assert resolution.due_at == at("2026-11-25T03:00") and resolution.met
    assert first.acknowledge_seconds == 300 and first.resolution_seconds == 7200
    assert first.paused_seconds == 0 and first.fee is None

    assert not second.after_hours and second.state == "downgraded"
    triage = second.target("triage")
    assert triage.clock == "business" and triage.due_at == at("2026-11-24T12:00")
    assert triage.met is False and triage.late_seconds == 1800
    assert second.target("first_status").met is True
    assert second.target("updates").met is False and second.target("updates").missed == 1
    assert second.target("resolution") is None  # gold sets no S2 resolution target
    assert second.resolution_seconds is None
    assert (second.fee, second.currency, second.fee_state) == (250.0, "USD", "flagged")

    totals = {t.kind: (t.met, t.measured, t.pct) for t in statement.totals}
    assert totals == {
        "triage": (1, 2, 50.0),
        "first_status": (2, 2, 100.0),
        "updates": (1, 2, 50.0),
        "resolution": (1, 1, 100.0),
    }
    assert statement.median_acknowledge_seconds == (300 + 9000) / 2
    assert statement.p90_acknowledge_seconds == 9000
    assert statement.median_resolution_seconds == statement.p90_resolution_seconds == 7200
    assert (statement.after_hours_cases, statement.after_hours_pct) == (1, 50.0)
    assert statement.fees_due == {"USD": 250.0}


def test_the_sla_report_gains_mttr_and_plans(world):
    with world.runtime.sessions() as session:
        report = sla_report(session, "2026-11", world.runtime.settings.zone, now=world.clock.now())
    assert report.resolved == 1 and report.median_resolution_seconds == 7200
    plans = {p.plan: p for p in report.by_plan}
    assert sorted(plans) == ["gold", "plain"]
    gold = plans["gold"]
    assert (gold.cases, gold.triaged_within_target, gold.triage_measured) == (2, 1, 2)
    # The first-status targets come from the cases' snapshots even with no sla given.
    assert (gold.first_status_within_target, gold.first_status_measured) == (2, 2)
    assert report.to_dict()["by_plan"][0]["plan"] == "gold"


def test_the_cli_in_text_csv_html_and_json(world, runner):
    config = world.runtime.settings.source
    base = ["--config", config, "report", "contract", "--customer", "acme", "--month", "2026-11"]
    text = runner.invoke(main, base)
    assert text.exit_code == 0, text.output
    assert "Contract statement for Acme Corp (acme, plan gold), 2026-11" in text.output
    assert "triage met            50.0% (1/2)" in text.output
    assert "MTTR                  median 2h 00m, p90 2h 00m" in text.output
    assert "after hours           50.0% (1/2)" in text.output
    assert "case 1002  2026-11-24 10:00 EST  S3 voice  downgraded" in text.output
    assert "Triage        2h 00m business  due 2026-11-24 12:00 EST: late 30m 00s" in text.output
    assert "fee 250.00 USD (flagged)" in text.output

    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, [*base, "--csv"]).output)))
    assert [r["case"] for r in rows] == ["1001", "1002"]
    assert rows[0]["triage_target"] == "20m 00s" and rows[0]["triage"] == "met"
    assert rows[1]["triage"] == "late 30m 00s" and rows[1]["updates"] == "1 missed"
    assert rows[1]["fee"] == "250.00" and rows[1]["fee_state"] == "flagged"

    html = runner.invoke(main, [*base, "--html"]).output
    assert html.startswith("<!doctype html>")
    assert "Contract statement: Acme Corp, 2026-11" in html and "late 30m 00s" in html

    data = json.loads(runner.invoke(main, [*base, "--json"]).output)
    assert data["totals"]["cases"] == 2 and data["totals"]["mttr"]["median_seconds"] == 7200

    unknown = runner.invoke(main, [*base[:4], "--customer", "nobody", "--month", "2026-11"])
    assert unknown.exit_code == 1 and "no customer 'nobody'" in unknown.output
    both = runner.invoke(main, [*base, "--csv", "--html"])
    assert both.exit_code == 2


def test_the_api_serves_the_statement_as_documented(world):
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    response = client.get("/api/reports/contract?customer=acme&month=2026-11", headers=API)
    assert response.status_code == 200
    body = response.get_json()
    assert [c["number"] for c in body["cases"]] == [1001, 1002]
    assert body["totals"]["after_hours_pct"] == 50.0
    assert body["cases"][1]["targets"][0] == {
        "kind": "triage",
        "seconds": 7200.0,
        "clock": "business",
        "due_at": at("2026-11-24T12:00").isoformat(),
        "done_at": at("2026-11-24T12:30").isoformat(),
        "met": False,
        "late_seconds": 1800.0,
        "missed": 0,
    }
    document = client.get("/api/openapi.json").get_json()
    schema = document["paths"]["/api/reports/contract"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    Draft202012Validator({**schema, "components": document["components"]}).validate(body)

    case = client.get("/api/cases/1001", headers=API).get_json()
    assert case["targets"]["plan"] == "gold" and case["targets"]["multiplied"] is True
    assert case["resolution_due_at"] == at("2026-11-25T03:00").isoformat()
    assert case["first_status_due_at"] == at("2026-11-24T04:00").isoformat()

    assert client.get("/api/reports/contract?customer=nobody", headers=API).status_code == 404
    assert client.get("/api/reports/contract", headers=API).status_code == 400
    bad_month = client.get("/api/reports/contract?customer=acme&month=11-2026", headers=API)
    assert bad_month.status_code == 400
    assert client.get("/api/reports/contract?customer=acme").status_code == 401


def test_the_dashboard_page_for_a_manager(world):
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    assert client.get("/reports/contract?customer=acme").status_code == 302  # sign in first
    sign_in(client)
    reports = client.get("/reports?month=2026-11")
    assert reports.status_code == 200
    assert "/reports/contract?customer=acme&amp;month=2026-11" in reports.text
    assert "Time to resolve (MTTR)" in reports.text and "By plan" in reports.text
    page = client.get("/reports/contract?customer=acme&month=2026-11")
    assert page.status_code == 200
    assert "Contract statement: Acme Corp" in page.text
    assert "late 30m 00s" in page.text and "1 missed" in page.text
    assert "250.00 USD" in page.text
    # Each case's page names the targets frozen on it.
    first = client.get("/cases/1001").text
    assert "S1 on plan gold: triage 20m 00s, first status 1h 00m, updates every 2h 00m" in first
    assert "opened after hours: response targets x2" in first
    assert "resolution due Wed 25 Nov 03:00 EST" in first
    second = client.get("/cases/1002").text
    assert "counted in business hours (Mon-Fri 09:00-17:00 America/Toronto)" in second
    assert client.get("/reports/contract?customer=nobody&month=2026-11").status_code == 404
    assert client.get("/reports/contract").status_code == 302


def test_a_later_month_is_empty(world):
    world.clock.set(world.clock.now() + timedelta(days=10))
    with world.runtime.sessions() as session:
        statement = contract_statement(
            session, "acme", "2026-12", world.runtime.settings.zone, world.clock.now()
        )
    assert statement.cases == [] and statement.after_hours_pct is None
    assert all(t.measured == 0 for t in statement.totals)
