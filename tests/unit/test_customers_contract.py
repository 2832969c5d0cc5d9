"""customers.yaml's contract keys: plan hours, targets per severity, the after-hours
multiplier and a customer's timezone; every mistake named with file:line and a did-you-mean."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from oncall.config.yamlsource import SourceErrors
from oncall.domain.eligibility import BusinessHours
from oncall.sources.customers import directory_errors, load_directory
from tests.unit.test_customers import ROOT

VENDOR = BusinessHours((0, 1, 2, 3, 4), time(9), time(17), ())
TORONTO = ZoneInfo("America/Toronto")

GOOD = """\
plans:
  premium:
    critical_line: true
    hours: always
    targets:
      S1: {triage: 15m, first_status: 1h, updates: 4h, resolution: 1d}
      S2: {triage: 30m, first_status: 2h, updates: 8h, clock: business}
    after_hours_multiplier: 2
  basic:
    critical_line: true
    hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00", timezone: customer}
customers:
  acme:
    name: Acme Corp
    plan: basic
    timezone: America/Vancouver
    team: support
"""


def test_the_issues_example_loads(tmp_path):
    path = tmp_path / "customers.yaml"
    path.write_text(GOOD)
    directory = load_directory(path)
    premium = directory.plans["premium"].contract
    assert premium.after_hours_multiplier == 2
    assert premium.targets[1].resolution == timedelta(days=1)
    assert premium.targets[2].clock == "business" and premium.targets[2].resolution is None
    basic = directory.plans["basic"]
    assert basic.hours == "schedule" and basic.contract.schedule.timezone == "customer"
    acme = directory.customers["acme"]
    assert acme.timezone == ZoneInfo("America/Vancouver")
    hours = acme.support_hours(VENDOR, TORONTO)
    assert hours.zone == ZoneInfo("America/Vancouver") and hours.start == time(9)
    # 12:00 UTC on a Tuesday is 04:00 in Vancouver: outside Acme's hours.
    assert not acme.entitlement(VENDOR, TORONTO, datetime(2026, 11, 24, 12, tzinfo=UTC)).entitled
    assert acme.entitlement(VENDOR, TORONTO, datetime(2026, 11, 24, 18, tzinfo=UTC)).entitled
    assert directory_errors(path) == []


def test_the_shipped_file_shows_a_contract():
    directory = load_directory(ROOT / "customers.yaml")
    assert any(plan.contract.targets for plan in directory.plans.values())
    assert any(c.timezone is not None for c in directory.customers.values())
    assert directory_errors(ROOT / "customers.yaml") == []


def test_mistakes_name_file_line_key_and_a_guess(tmp_path):
    path = tmp_path / "customers.yaml"
    path.write_text(
        "plans:\n"
        "  premium:\n"
        "    critical_line: true\n"
        "    hours: bussiness\n"
        "    targets:\n"
        "      S5: {triage: 15m}\n"
        "      S1: {trage: 15m, updates: soon, clock: buisness}\n"
        "    after_hours_multiplier: 0.5\n"
        "  basic:\n"
        "    critical_line: true\n"
        '    hours: {days: [mon, funday], start: "17:00", end: "09:00",\n'
        "            timezone: America/Vancuver}\n"
        "customers:\n"
        "  acme:\n"
        "    name: Acme Corp\n"
        "    plan: premium\n"
        "    timezone: Europe/Londn\n"
        "    team: support\n"
    )
    with pytest.raises(SourceErrors) as info:
        load_directory(path)
    messages = [str(e) for e in info.value.errors]
    p = str(path)
    expected = [
        f"{p}:4: plans.premium.hours: 'bussiness' is not one of: always, business, after_hours"
        " (did you mean 'business'?)",
        f"{p}:6: plans.premium.targets.S5: unknown key",
        f"{p}:7: plans.premium.targets.S1.trage: unknown key (did you mean 'triage'?)",
        f'{p}:7: plans.premium.targets.S1.updates: "soon" is not a duration like 15m',
        f"{p}:7: plans.premium.targets.S1.clock: 'buisness' is not one of: wall, business"
        " (did you mean 'business'?)",
        f"{p}:8: plans.premium.after_hours_multiplier: must be 1 or more (targets never shrink)",
        f"{p}:11: plans.basic.hours.days[1]: 'funday' is not a day (mon … sun)",
        f"{p}:11: plans.basic.hours.end: the hours must end after they start",
        f"{p}:12: plans.basic.hours.timezone: 'America/Vancuver' is not a time zone like"
        " 'America/Toronto' or 'customer' (did you mean 'America/Vancouver'?)",
        f"{p}:17: customers.acme.timezone: 'Europe/Londn' is not a time zone like"
        " 'America/Toronto' (did you mean 'Europe/London'?)",
    ]
    for message in expected:
        assert message in messages, (message, messages)


def test_a_customer_zone_plan_without_the_customers_zone_is_a_warning(tmp_path):
    path = tmp_path / "customers.yaml"
    path.write_text(GOOD.replace("    timezone: America/Vancouver\n", ""))
    acme = load_directory(path).customers["acme"]
    assert acme.support_hours(VENDOR, TORONTO).zone == TORONTO
    (warning,) = directory_errors(path)
    assert warning.severity == "warning"
    assert "customers.acme.plan" in str(warning) and "timezone" in str(warning)


def test_omitted_keys_fall_back(tmp_path):
    path = tmp_path / "customers.yaml"
    path.write_text(
        "plans:\n  p: {critical_line: true, hours: {start: '08:00', end: '24:00'}}\ncustomers: {}\n"
    )
    plan = load_directory(path).plans["p"]
    schedule = plan.contract.schedule
    assert schedule.days == (0, 1, 2, 3, 4) and schedule.timezone is None
    assert schedule.holidays is None  # the vendor's holidays
    assert plan.contract.targets == {} and plan.contract.after_hours_multiplier is None
