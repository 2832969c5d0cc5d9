"""The support contract's targets, as a case lives them (issue 11, item 1).

A customers.yaml written for these tests: plan `gold` with its own targets per severity (S2
counted in business hours) and after-hours doubling, plan `local` whose hours are the
customer's own Mon-Fri 09:00-17:00, and `plain` with no contract keys (config.yaml's sla).
Time only moves when a test moves it; the fake clock starts Tuesday 24 November 2026 03:00 in
Toronto (after hours).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from oncall.bootstrap.runtime import build_runtime
from oncall.db.models import Deadline
from oncall.domain.enums import DeadlineKind
from tests.fakes.transports import ALICE, FakeTransport, PagingWorld

TORONTO = ZoneInfo("America/Toronto")
VANCOUVER = ZoneInfo("America/Vancouver")

CUSTOMERS = """\
plans:
  gold:
    critical_line: true
    hours: always
    targets:
      S1: {triage: 10m, first_status: 30m, updates: 2h, resolution: 1d}
      S2: {triage: 2h, first_status: 4h, updates: 4h, clock: business}
    after_hours_multiplier: 2
  local:
    critical_line: true
    hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00", timezone: customer}
    targets:
      S1: {triage: 2h, clock: business}
  plain: {critical_line: true, hours: always}
customers:
  acme:
    name: Acme Corp
    plan: gold
    pin: "482193"
    team: support
    contacts:
      - {name: Wile E. Coyote, phone: "+15551230001", email: wile@acme.example}
  globex:
    name: Globex
    plan: plain
    pin: "731042"
    team: support
    contacts:
      - {name: Hank Scorpio, phone: "+15551230101", email: hank@globex.example}
  hooli:
    name: Hooli
    plan: local
    timezone: America/Vancouver
    pin: "615243"
    team: support
    contacts:
      - {name: Gavin Belson, phone: "+15551230301", email: gavin@hooli.example}
  initech:
    name: Initech
    plan: local
    timezone: America/Toronto
    pin: "515077"
    team: support
    contacts:
      - {name: Bill Lumbergh, phone: "+15551230201", email: bill@initech.example}
"""


@pytest.fixture
def customers_file(tmp_path):
    path = tmp_path / "customers.yaml"
    path.write_text(CUSTOMERS)
    return path


@pytest.fixture
def world(make_settings, db_url, clock, db_engine, customers_file) -> PagingWorld:
    settings = make_settings(db_url, paths={"customers": str(customers_file)})
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


def at(zone: ZoneInfo, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)


def due_rows(world: PagingWorld, number: int, kind: DeadlineKind) -> list[datetime]:
    with world.runtime.sessions() as session:
        case_id = world.case(number).id
        return list(
            session.scalars(
                select(Deadline.due_at)
                .where(Deadline.case_id == case_id, Deadline.kind == kind)
                .order_by(Deadline.seq)
            )
        )


# -- per plan and severity ------------------------------------------------------------------
def test_a_plans_targets_per_severity_with_after_hours_doubling(world):
    opened = world.clock.now()  # 03:00 Tuesday: outside the vendor's business hours
    s1 = world.open_case("acme", severity=1)
    case = world.case(s1)
    # gold S1 at night: triage 10m and first status 30m doubled; resolution is not a response
    # target and is not doubled.
    assert case.after_hours is True
    assert case.triage_due_at == opened + timedelta(minutes=20)
    assert case.status_due_at == case.first_status_due_at == opened + timedelta(hours=1)
    assert case.resolution_due_at == opened + timedelta(days=1)
    assert due_rows(world, s1, DeadlineKind.TRIAGE_DUE) == [opened + timedelta(minutes=20)]
    assert case.targets["plan"] == "gold"
    assert case.targets["multiplied"] is True and case.targets["multiplier"] == 2
    assert case.targets["severities"]["S1"]["updates"] == 7200

    # The plan's own update cadence (2h) is not stretched after hours.
    world.sms(ALICE, f"ACK {s1}")
    world.advance(minutes=10)
    reply = world.sms(ALICE, f"STATUS {s1} rolled back ETA 1h")
    assert "Next update due by 05:10" in reply
    assert world.case(s1).status_due_at == opened + timedelta(minutes=10, hours=2)


def test_the_same_plan_in_business_hours_is_not_doubled(world):
    world.clock.set(at(TORONTO, "2026-11-24T10:00"))
    number = world.open_case("acme", severity=1)
    case = world.case(number)
    assert case.after_hours is False and case.targets["multiplied"] is False
    assert case.triage_due_at == at(TORONTO, "2026-11-24T10:10")
    assert case.status_due_at == at(TORONTO, "2026-11-24T10:30")


def test_a_plan_without_targets_keeps_config_sla(world):
    opened = world.clock.now()
    number = world.open_case("globex", severity=2)
    case = world.case(number)
    assert case.triage_due_at == opened + timedelta(minutes=15)
    assert case.status_due_at == opened + timedelta(hours=1)
    assert case.resolution_due_at is None
    row = case.targets["severities"]["S2"]
    assert (row["triage"], row["updates"], row["clock"], row["from_plan"]) == (
        900,
        8 * 3600,
        "wall",
        [],
    )


# -- business time on the case ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("opened", "triage_due", "first_status_due"),
    [
        # A weekend: Friday 16:30 is inside the hours (not doubled): Monday.
        ("2026-11-20T16:30", "2026-11-23T10:30", "2026-11-23T12:30"),
        # A holiday (config: 2026-12-25) and the weekend after it.
        ("2026-12-24T16:30", "2026-12-28T10:30", "2026-12-28T12:30"),
        # Fall back (1 November 2026): Friday EDT, Monday EST.
        ("2026-10-30T16:30", "2026-11-02T10:30", "2026-11-02T12:30"),
        # Spring forward (8 March 2026): Friday EST, Monday EDT.
        ("2026-03-06T16:30", "2026-03-09T10:30", "2026-03-09T12:30"),
    ],
)
def test_business_clock_due_dates(world, opened, triage_due, first_status_due):
    world.clock.set(at(TORONTO, opened))
    number = world.open_case("acme", severity=2)
    case = world.case(number)
    assert case.targets["severities"]["S2"]["clock"] == "business"
    assert case.after_hours is False
    assert case.triage_due_at == at(TORONTO, triage_due)
    assert case.status_due_at == at(TORONTO, first_status_due)
    assert due_rows(world, number, DeadlineKind.TRIAGE_DUE) == [at(TORONTO, triage_due)]


def test_after_hours_business_clock_doubles_then_counts_in_hours(world):
    # Saturday night: outside the hours, so 2h doubles to 4h, counted from Monday 09:00.
    world.clock.set(at(TORONTO, "2026-11-21T22:00"))
    number = world.open_case("acme", severity=2)
    case = world.case(number)
    assert case.targets["multiplied"] is True
    assert case.triage_due_at == at(TORONTO, "2026-11-23T13:00")
    assert case.status_due_at == at(TORONTO, "2026-11-23T17:00")  # 8h: all of Monday


def test_the_customers_own_zone_counts_business_time(world):
    # Hooli keeps Vancouver hours: Friday 16:30 in Vancouver, 2 business hours: Monday 10:30
    # there, across the spring DST change.
    world.clock.set(at(VANCOUVER, "2026-03-06T16:30"))
    number = world.open_case("hooli", severity=1)
    case = world.case(number)
    assert case.triage_due_at == at(VANCOUVER, "2026-03-09T10:30")
    assert case.targets["schedule"]["timezone"] == "America/Vancouver"


# -- entitlement by the customer's hours ---------------------------------------------------------
def test_the_customers_zone_entitles_one_and_refuses_another_at_one_instant(world):
    # Tuesday 10:00 in Toronto is 07:00 in Vancouver.
    instant = at(TORONTO, "2026-11-24T10:00")
    directory = world.runtime.directory()
    settings = world.runtime.settings
    toronto = directory.customers["initech"].entitlement(
        settings.business_hours, settings.zone, instant
    )
    vancouver = directory.customers["hooli"].entitlement(
        settings.business_hours, settings.zone, instant
    )
    assert toronto.entitled
    assert not vancouver.entitled
    assert "business hours" in vancouver.reason
    # Three hours later both are inside their hours.
    later = instant + timedelta(hours=3)
    assert (
        directory.customers["hooli"]
        .entitlement(settings.business_hours, settings.zone, later)
        .entitled
    )


def test_email_intake_applies_the_customers_hours(world):
    from oncall.web.app import create_app
    from tests.fakes.sendgrid import inbound, post

    world.clock.set(at(TORONTO, "2026-11-24T10:00"))
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    refused = post(client, inbound("Gavin Belson <gavin@hooli.example>"))
    assert refused.get_json()["reason"] == "not_entitled"
    taken = post(client, inbound("Bill Lumbergh <bill@initech.example>"))
    assert taken.get_json()["outcome"] == "case"


# -- the snapshot ---------------------------------------------------------------------------------
def test_a_later_edit_of_customers_yaml_does_not_move_an_open_cases_clocks(world, customers_file):
    opened = world.clock.now()
    first = world.open_case("acme", severity=1)
    before = world.case(first)
    customers_file.write_text(
        CUSTOMERS.replace(
            "S1: {triage: 10m, first_status: 30m, updates: 2h, resolution: 1d}",
            "S1: {triage: 1h, first_status: 3h, updates: 6h, resolution: 3d}",
        )
    )
    world.runtime.reload_files()
    assert world.runtime.directory().plans["gold"].contract.targets[1].updates == timedelta(hours=6)
    world.sms(ALICE, f"ACK {first}")
    world.sms(ALICE, f"STATUS {first} on it ETA 2h")
    after = world.case(first)
    assert after.triage_due_at == before.triage_due_at
    assert after.resolution_due_at == before.resolution_due_at
    assert after.targets == before.targets
    assert after.status_due_at == opened + timedelta(hours=2)  # the old 2h cadence
    # A case opened after the edit gets the new targets.
    second = world.open_case("acme", severity=1)
    assert world.case(second).triage_due_at == opened + timedelta(hours=2)  # 1h doubled


def test_the_customer_reads_the_cases_own_targets(world):
    from oncall.web.app import create_app
    from tests.fakes.sendgrid import inbound, post

    # Friday 16:30: gold's S2 first status is 4 business hours, due Monday 12:30.
    world.clock.set(at(TORONTO, "2026-11-20T16:30"))
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    form = inbound("Wile E. Coyote <wile@acme.example>", subject="Sev 2: exports fail")
    assert post(client, form).get_json()["outcome"] == "case"
    world.settle()
    (reply,) = [m for m in world.fake.emails_to("wile@acme.example")]
    assert "within 4 hours counted in business hours (by Mon 23 Nov 12:30 EST)" in reply.body, (
        reply.body
    )
