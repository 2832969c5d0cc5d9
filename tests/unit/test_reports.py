"""Monthly SLA and misuse reports over seeded rows with known times, and their CLIs."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from oncall.cli.main import main
from oncall.db.models import Case, CaseEvent, MisuseFlag, OutboundMessage
from oncall.db.session import make_session_factory
from oncall.reports.clocks import format_seconds, sla_clock
from oncall.reports.misuse import misuse_csv, misuse_report
from oncall.reports.months import month_bounds, month_of
from oncall.reports.sla import percentile_nearest_rank, sla_report

TORONTO = ZoneInfo("America/Toronto")
AFTER_MONTH = datetime(2026, 12, 5, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
MEMBERS = {
    key: {"name": name}
    for key, name in (
        ("alice", "Alice Ng"),
        ("bob", "Bob Roy"),
        ("carol", "Carol Li"),
        ("dana", "Dana Ortiz"),
    )
}


@pytest.fixture
def sessions(db_engine):
    return make_session_factory(db_engine)


def add_case(
    session,
    number,
    opened_at,
    *,
    ack=None,
    ack_by=None,
    first_status=None,
    state=None,
    team="support",
    customer="acme",
    resolved=None,
    after_hours=True,
):
    case = Case(
        number=number,
        team=team,
        customer_key=customer,
        customer_name={"acme": "Acme Corp", "globex": "Globex"}[customer],
        plan="premium",
        channel="voice",
        severity_claimed=1,
        severity=1,
        state=state or ("acknowledged" if ack is not None else "open"),
        summary="down",
        after_hours=after_hours,
        opened_at=opened_at,
        triage_due_at=opened_at + 15 * MINUTE,
        status_due_at=opened_at + 60 * MINUTE,
        acknowledged_at=opened_at + ack * MINUTE if ack is not None else None,
        acknowledged_by=ack_by,
        acknowledged_by_name=MEMBERS[ack_by]["name"] if ack_by else None,
        first_status_at=opened_at + first_status * MINUTE if first_status is not None else None,
        resolved_at=opened_at + resolved * MINUTE if resolved is not None else None,
        escalation={"members": MEMBERS},
    )
    session.add(case)
    session.flush()
    return case


def breach(session, case, minutes, target):
    session.add(
        CaseEvent(
            case_id=case.id,
            at=case.opened_at + minutes * MINUTE,
            kind="breach",
            text=f"{target} target missed",
            data={"target": target},
        )
    )


def page(session, case, minutes, member, purpose="page"):
    at = case.opened_at + minutes * MINUTE
    session.add(
        OutboundMessage(
            case_id=case.id,
            channel="sms",
            purpose=purpose,
            recipient=member,
            to_address="+15550100101",
            body="page",
            state="delivered",
            next_attempt_at=at,
            created_at=at,
        )
    )


@pytest.fixture
def november(sessions):
    """Six November cases (Toronto time), one October case; see the expectations below."""
    with sessions() as session, session.begin():
        add_case(
            session,
            1001,
            datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
            ack=5,
            ack_by="alice",
            first_status=30,
        )
        add_case(
            session,
            1002,
            datetime(2026, 11, 5, 10, 0, tzinfo=UTC),
            ack=10,
            ack_by="alice",
            first_status=50,
        )
        late = add_case(
            session,
            1003,
            datetime(2026, 11, 10, 10, 0, tzinfo=UTC),
            ack=20,
            ack_by="bob",
            first_status=70,
        )
        page(session, late, 0, "alice")
        page(session, late, 5, "carol")
        breach(session, late, 15, "triage")  # nobody had acknowledged: charged to carol
        page(session, late, 15, "dana", purpose="manager_page")  # the manager's: not an engineer
        breach(session, late, 60, "status")  # bob owned the case by then
        ignored = add_case(
            session,
            1004,
            datetime(2026, 11, 12, 10, 0, tzinfo=UTC),
            team="platform",
            customer="globex",
        )
        page(session, ignored, 0, "dana")
        breach(session, ignored, 15, "triage")
        breach(session, ignored, 60, "status")
        add_case(
            session,
            1005,
            datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
            ack=3,
            ack_by="carol",
            state="downgraded",
        )
        # 2026-12-01 03:00 UTC is 22:00 on 30 November in Toronto: a November case. Exactly on
        # both targets, which counts as met.
        add_case(
            session,
            1007,
            datetime(2026, 12, 1, 3, 0, tzinfo=UTC),
            ack=15,
            ack_by="alice",
            first_status=60,
        )
        # 2026-11-01 03:30 UTC is 23:30 on 31 October in Toronto (EDT): not November.
        october = add_case(session, 1008, datetime(2026, 11, 1, 3, 30, tzinfo=UTC))
        breach(session, october, 15, "triage")
    return sessions


def test_month_bounds_are_local():
    start, end = month_bounds("2026-11", TORONTO)
    assert start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # EDT until 1 November 02:00
    assert end == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # EST
    assert month_bounds("2026-12", TORONTO)[1] == datetime(2027, 1, 1, 5, 0, tzinfo=UTC)
    for bad in ("2026-13", "2026-1", "november", ""):
        with pytest.raises(ValueError):
            month_bounds(bad, TORONTO)
    assert month_of(datetime(2026, 12, 1, 3, 0, tzinfo=UTC), TORONTO) == "2026-11"
    assert month_of(datetime(2026, 12, 1, 5, 0, tzinfo=UTC), TORONTO) == "2026-12"


def test_percentiles_and_durations():
    assert percentile_nearest_rank([], 90) is None
    assert percentile_nearest_rank([5.0], 90) == 5.0
    assert percentile_nearest_rank([float(n) for n in range(1, 11)], 90) == 9.0
    assert percentile_nearest_rank([float(n) for n in range(1, 12)], 90) == 10.0
    assert format_seconds(None) == "–"
    assert format_seconds(42) == "42s"
    assert format_seconds(450) == "7m 30s"
    assert format_seconds(3900) == "1h 05m"
    assert format_seconds(-90) == "-1m 30s"  # a breached clock
    assert format_seconds(0) == "0s"


def test_sla_clock_levels():
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    warn = timedelta(minutes=5)
    assert sla_clock(now + timedelta(minutes=6), now, warn).level == "ok"
    assert sla_clock(now + timedelta(minutes=5), now, warn).level == "warn"
    assert sla_clock(now + timedelta(seconds=1), now, warn).level == "warn"
    assert sla_clock(now, now, warn).level == "breached"
    late = sla_clock(now - timedelta(minutes=2), now, warn)
    assert (late.level, late.seconds_left) == ("breached", -120.0)
    assert sla_clock(None, now, warn).level == "none"
    assert sla_clock(now, now, warn, met=True).level == "met"


def test_sla_report(november, settings):
    with november() as session:
        report = sla_report(session, "2026-11", TORONTO, sla=settings.sla, now=AFTER_MONTH)
    assert report.cases == 6
    assert report.acknowledged == 5
    # Times to triage: 3, 5, 10, 15, 20 minutes.
    assert report.median_triage_seconds == 600
    assert report.p90_triage_seconds == 1200
    # Met: 1001, 1002, 1005, 1007 (exactly on time); missed: 1003 (late), 1004 (never).
    assert (report.triaged_within_target, report.triage_measured) == (4, 6)
    assert report.triage_pct == 66.7
    # Met: 1001, 1002, 1007; missed: 1003 (70m), 1004 (none); 1005 was downgraded: left out.
    assert (report.first_status_within_target, report.first_status_measured) == (3, 5)
    assert report.first_status_pct == 60.0
    assert report.breaches == 4
    assert report.breaches_by_target == {"status": 2, "triage": 2}
    assert [(c.key, c.count) for c in report.breaches_by_team] == [("platform", 2), ("support", 2)]
    assert [(c.label, c.count) for c in report.breaches_by_engineer] == [
        ("Dana Ortiz", 2),  # 1004: paged, never acknowledged, both targets missed
        ("Bob Roy", 1),  # 1003's status target: bob had acknowledged
        ("Carol Li", 1),  # 1003's triage target: carol was the last one paged
    ]
    assert [(c.label, c.count) for c in report.breaches_by_customer] == [
        ("Acme Corp", 2),
        ("Globex", 2),
    ]
    data = report.to_dict()
    assert json.loads(json.dumps(data))["triage_pct"] == 66.7


def test_targets_still_running_are_neither_met_nor_missed(sessions, settings):
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    with sessions() as session, session.begin():
        add_case(session, 1001, now - 5 * MINUTE)  # triage due in 10 minutes
        add_case(session, 1002, now - 30 * MINUTE, ack=3, ack_by="alice", resolved=20)
    with sessions() as session:
        report = sla_report(session, "2026-11", TORONTO, sla=settings.sla, now=now)
    assert (report.triaged_within_target, report.triage_measured) == (1, 1)
    # A resolution within the hour tells the customer: it counts as the first status.
    assert (report.first_status_within_target, report.first_status_measured) == (1, 1)
    assert report.median_triage_seconds == 180


def test_after_hours_multiplier_scales_the_first_status_target(sessions, make_settings):
    settings = make_settings(sla={"after_hours_multiplier": 2})
    opened = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    with sessions() as session, session.begin():
        add_case(session, 1001, opened, ack=5, ack_by="alice", first_status=90)
        add_case(session, 1002, opened, ack=5, ack_by="alice", first_status=90, after_hours=False)
    with sessions() as session:
        report = sla_report(session, "2026-11", TORONTO, sla=settings.sla, now=AFTER_MONTH)
    assert (report.first_status_within_target, report.first_status_measured) == (1, 2)


def test_empty_month(november, settings):
    # November has cases; February has none, and says so rather than dividing by zero.
    with november() as session:
        report = sla_report(session, "2027-02", TORONTO, sla=settings.sla, now=AFTER_MONTH)
    assert report.cases == 0 and report.acknowledged == 0 and report.breaches == 0
    assert report.median_triage_seconds is None and report.p90_triage_seconds is None
    assert report.triage_pct is None and report.first_status_pct is None
    assert report.breaches_by_target == {} and report.breaches_by_engineer == []


def test_breaches_are_charged_to_who_let_them_lapse(sessions, settings):
    opened = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
    with sessions() as session, session.begin():
        voice = add_case(session, 1001, opened)
        page(session, voice, 0, "alice")
        page(session, voice, 10, "bob", purpose="page_voice")  # a voice page counts as paged
        page(session, voice, 15, "carol")  # the next step, written in the breach instant
        breach(session, voice, 15, "triage")
        unpaged = add_case(session, 1002, opened)
        breach(session, unpaged, 15, "triage")
        late = add_case(session, 1003, opened, ack=20, ack_by="dana")
        breach(session, late, 15, "triage")  # nobody paged; dana acknowledged afterwards
    with sessions() as session:
        report = sla_report(session, "2026-11", TORONTO, sla=settings.sla, now=AFTER_MONTH)
    assert [(c.key, c.label, c.count) for c in report.breaches_by_engineer] == [
        ("(nobody paged)", "(nobody paged)", 1),
        ("bob", "Bob Roy", 1),
        ("dana", "Dana Ortiz", 1),
    ]


def _flags(sessions):
    with sessions() as session, session.begin():
        first = add_case(
            session, 1001, datetime(2026, 11, 3, 12, 0, tzinfo=UTC), state="downgraded"
        )
        second = add_case(
            session, 1002, datetime(2026, 12, 1, 3, 0, tzinfo=UTC), state="downgraded"
        )
        third = add_case(
            session, 1003, datetime(2026, 10, 3, 12, 0, tzinfo=UTC), state="downgraded"
        )
        for case, month, waived in (
            (first, "2026-11", False),
            (second, "2026-11", True),
            (third, "2026-10", False),
        ):
            session.add(
                MisuseFlag(
                    kind="fee",
                    case_id=case.id,
                    customer_key="acme",
                    month=month,
                    flagged_at=case.opened_at + 30 * MINUTE,
                    flagged_by="Alice Ng",
                    severity_claimed=1,
                    severity_set=3,
                    fee=250.0,
                    currency="USD",
                    reason="Downgraded from S1 to S3 by Alice Ng",
                    waived_at=AFTER_MONTH if waived else None,
                    waived_by="maria" if waived else None,
                    waive_reason='=HYPERLINK("http://evil.example")' if waived else None,
                )
            )
        # The engineers' notes on the timeline: the evidence shown beside the fee.
        for case, at, kind, verb, note in (
            (first, 20, "status", "STATUS", "looking into it"),
            (first, 30, "severity_changed", "SEV 3", "customer asked about a password reset"),
            (first, 31, "customer_notified", None, None),  # no note: not evidence
            (second, 30, "severity_changed", "SEV 3", "=cmd|' /C calc'!A0"),
        ):
            data = {"note": note, "verb": verb} if note else {}
            session.add(
                CaseEvent(
                    case_id=case.id,
                    at=case.opened_at + at * MINUTE,
                    kind=kind,
                    actor="Alice Ng",
                    text="",
                    data=data,
                )
            )
        session.add(
            MisuseFlag(
                kind="review",
                customer_key="initech",
                month="2026-11",
                flagged_at=AFTER_MONTH,
                reason="3 refused attempts",
            )
        )


def test_misuse_report_and_csv(sessions):
    _flags(sessions)
    with sessions() as session:
        rows = misuse_report(session, "2026-11", TORONTO)
    assert [(r.case, r.date, r.waived, r.due) for r in rows] == [
        (1001, "2026-11-03", False, 250.0),
        (1002, "2026-11-30", True, 0.0),  # flagged 03:30 UTC on 1 December: 30 November local
    ]
    table = list(csv.DictReader(io.StringIO(misuse_csv(rows))))
    assert table[0] == {
        "customer": "acme",
        "customer_name": "Acme Corp",
        "case": "1001",
        "date": "2026-11-03",
        "severity_claimed": "1",
        "severity_set": "3",
        "fee": "250.00",
        "currency": "USD",
        "waived": "no",
        "due": "250.00",
        "reason": "Downgraded from S1 to S3 by Alice Ng",
        "waived_by": "",
        "waive_reason": "",
        "engineer_notes": (
            "2026-11-03 07:20 EST STATUS (Alice Ng): looking into it | "
            "2026-11-03 07:30 EST SEV 3 (Alice Ng): customer asked about a password reset"
        ),
        "state": "flagged",
        "menu_choice": "",
        "recording": "",
        "dispute_text": "",
    }
    assert list(table[0]) == [  # the columns only grow at the end: billing reads by position
        "customer", "customer_name", "case", "date", "severity_claimed", "severity_set", "fee",
        "currency", "waived", "due", "reason", "waived_by", "waive_reason", "engineer_notes",
        "state", "menu_choice", "recording", "dispute_text",
    ]  # fmt: skip
    assert table[1]["waived"] == "yes" and table[1]["due"] == "0.00"
    # A typed reason that a spreadsheet would run as a formula is neutralised.
    assert table[1]["waive_reason"] == '\'=HYPERLINK("http://evil.example")'
    assert table[1]["engineer_notes"].startswith("2026-11-30 22:30 EST SEV 3 (Alice Ng): =cmd")


# -- the CLIs ---------------------------------------------------------------------------------
def test_report_sla_cli(november, settings, runner):
    result = runner.invoke(
        main, ["--config", settings.source, "report", "sla", "--month", "2026-11", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cases"] == 6 and data["median_triage_seconds"] == 600
    assert data["breaches_by_team"][0] == {"key": "platform", "label": "platform", "count": 2}

    text = runner.invoke(main, ["--config", settings.source, "report", "sla", "--month", "2026-11"])
    assert text.exit_code == 0, text.output
    assert "median time to triage       10m 00s" in text.output
    assert "Dana Ortiz" in text.output

    bad = runner.invoke(main, ["--config", settings.source, "report", "sla", "--month", "11/2026"])
    assert bad.exit_code == 2 and "is not a month like 2026-11" in bad.output


def test_report_misuse_cli(sessions, settings, runner):
    _flags(sessions)
    result = runner.invoke(
        main, ["--config", settings.source, "report", "misuse", "--month", "2026-11", "--csv"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("customer,customer_name,case,date,severity_claimed,severity_set")
    assert len(lines) == 3
    text = runner.invoke(
        main, ["--config", settings.source, "report", "misuse", "--month", "2026-11"]
    )
    assert text.exit_code == 0, text.output
    assert "Misuse fees for 2026-11: 2" in text.output
    assert "waived by maria" in text.output
    assert "total due: 250.00 USD" in text.output  # the waived fee is not due
