"""The pure parts of the customer's side of a case (issue 12): what a subject asks for
(``[New]``, ``ESCALATE``), durations in words, the joined auto-reply, the duty manager's page,
the returning caller's briefing and menu, and the new config and voice-flow keys with their
mistakes reported at file and line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from oncall.config.loading import load_settings
from oncall.config.yamlsource import SourceErrors
from oncall.domain.customer_side import (
    clock_words,
    describe_ago,
    escalation_ack,
    escalation_page,
    escalation_reason,
    first_name,
    joined_text,
    wants_new_case,
)
from oncall.domain.sla_clock import sla_clock
from oncall.services.ivr import Speech
from oncall.services.ivr_returning import Briefing, Choice, briefing, returning_choice, spoken_time
from oncall.sources.voice_flows import load_flow_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_FLOW = ROOT / "voice_flows" / "critical_line.yaml"
NOW = datetime(2026, 11, 24, 8, 42, tzinfo=UTC)
TORONTO = ZoneInfo("America/Toronto")


@pytest.mark.parametrize(
    "subject",
    ["[New] Sev 1: payroll down", "Sev 1 [new]: payroll", "Re: [ NEW ] payroll", "[NEW]"],
)
def test_new_in_brackets_asks_for_a_separate_case(subject):
    assert wants_new_case(subject)


@pytest.mark.parametrize("subject", ["New: payroll down", "Sev 1: new payroll bug", "", "[News]"])
def test_anything_else_does_not(subject):
    assert not wants_new_case(subject)


@pytest.mark.parametrize(
    ("subject", "first_line", "reason"),
    [
        ("Re: [Case 1001] ESCALATE: no update", "", "no update"),
        ("[Case 1001] escalate - nobody called", "", "nobody called"),
        ("RE: Fwd: [Case #1001] Escalate", "", ""),
        ("Re: [Case 1001] checkout", "ESCALATE please, we lose orders", "please, we lose orders"),
        ("Re: [Case 1001] checkout", "Escalate: urgent", "urgent"),
    ],
)
def test_escalate_first_in_the_subject_or_the_first_line(subject, first_line, reason):
    assert escalation_reason(subject, first_line) == reason


@pytest.mark.parametrize(
    ("subject", "first_line"),
    [
        ("Re: [Case 1001] checkout", "Please do not escalate yet"),
        ("Re: [Case 1001] why escalate?", "Thanks"),
        ("Re: [Case 1001] Escalated yesterday", ""),
        ("", ""),
    ],
)
def test_escalate_elsewhere_is_not_an_escalation(subject, first_line):
    assert escalation_reason(subject, first_line) is None


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=20), "less than a minute"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=12), "12 minutes"),
        (timedelta(hours=1, minutes=5), "1 hour 5 minutes"),
        (timedelta(days=2, hours=3, minutes=4), "2 days 3 hours"),
        (timedelta(seconds=-5), "less than a minute"),
    ],
)
def test_durations_in_words(delta, words):
    assert describe_ago(delta) == words


def test_first_names_only():
    assert first_name("Alice Ng") == "Alice" and first_name("") == ""


def test_the_joined_reply_names_the_case_and_with_several_which_one():
    alone = joined_text(1001, "12 minutes", [1001])
    assert alone.startswith(
        "We are already working on case 1001, opened 12 minutes ago; your message was added"
    )
    assert "open cases" not in alone and "[New] in the subject" in alone
    several = joined_text(1003, "2 minutes", [1001, 1003])
    assert (
        "You have 2 open cases (1001, 1003); your message was added to the most recent "
        "one, case 1003." in several
    )


def test_the_managers_page_has_the_case_the_clocks_and_the_reason():
    warn = timedelta(minutes=5)
    clocks = [
        ("triage", sla_clock(NOW - timedelta(minutes=30), NOW, warn, met=True)),
        ("status", sla_clock(NOW - timedelta(minutes=2), NOW, warn)),
    ]
    text = escalation_page(
        1001,
        "Acme Corp",
        1,
        NOW - timedelta(minutes=62),
        NOW,
        clocks,
        " lost orders ",
        "Alice has it",
    )
    assert text == (
        "CUSTOMER ESCALATION case 1001 Acme Corp S1, open 1 hour 2 minutes; Alice has it. "
        "triage met; status BREACHED 2 minutes ago. Reason: lost orders"
    )
    assert "Reason: no reason given" in escalation_page(1001, "Acme", 2, NOW, NOW, [], "", "x")
    assert clock_words("status", sla_clock(NOW + timedelta(minutes=18), NOW, warn)) == (
        "status due in 18 minutes"
    )
    assert clock_words("status", sla_clock(None, NOW, warn)) == "status not running"


def test_the_customer_is_told_who_was_alerted_or_when():
    assert "has reached our duty manager, Dana Ortiz" in escalation_ack(
        1001, "Dana Ortiz", True, ""
    )
    later = escalation_ack(1001, "Dana Ortiz", False, "03:42 EST")
    assert "already escalated to our duty manager, Dana Ortiz, at 03:42 EST" in later


# -- the returning caller -----------------------------------------------------------------------
def test_times_are_spoken_in_the_customers_zone():
    assert spoken_time(NOW, TORONTO) == "3:42 AM"
    assert spoken_time(NOW + timedelta(hours=10), TORONTO) == "1:42 PM"
    assert spoken_time(datetime(2026, 11, 24, 5, 0, tzinfo=UTC), TORONTO) == "12:00 AM"


def test_the_menu_digits_come_from_the_flow():
    flow = load_flow_file(SHIPPED_FLOW)
    assert returning_choice(flow, "1") is Choice.NOTE
    assert returning_choice(flow, "2") is Choice.CONNECT
    assert returning_choice(flow, "9") is Choice.ESCALATE
    for other in ("", "3", "#", "*", "0"):
        assert returning_choice(flow, other) is Choice.GOODBYE


def test_the_briefing_says_who_has_it_the_status_the_eta_and_the_next_update():
    flow = load_flow_file(SHIPPED_FLOW)
    speech = Speech({"company": "Vendor", "regular_channels": "", "hours": "", "case_digits": "1"})
    working = Briefing("Alice", True, "Rolled back", "Alice", "3:05 AM", "3:35 AM", "4:05 AM")
    assert briefing(flow, speech, working) == [
        "Alice is working on it.",
        "The latest update from Alice, at 3:05 AM: Rolled back.",
        "The estimated time to resolution is 3:35 AM.",
        "The next update is due by 4:05 AM.",
    ]
    paged = Briefing(None, True, None, "", None, None, None)
    assert briefing(flow, speech, paged) == [
        "An engineer has been paged and will take charge of it.",
        "There is no status update yet.",
    ]
    managers = Briefing(None, False, None, "", None, None, None)
    assert briefing(flow, speech, managers)[0].startswith("Our support managers have been alerted")


def flow_errors(tmp_path: Path, section: str) -> list[str]:
    text = SHIPPED_FLOW.read_text()
    start = text.index("returning:\n")
    end = text.index("\nprompts:")
    path = tmp_path / "critical_line.yaml"
    path.write_text(text[:start] + section + text[end:])
    with pytest.raises(SourceErrors) as info:
        load_flow_file(path)
    return [str(e) for e in info.value.errors]


def test_a_bad_returning_menu_is_reported_with_its_line(tmp_path):
    errors = flow_errors(tmp_path, 'returning:\n  choices: {"1": note, "22": connect}\n')
    assert any("returning.choices" in e and "'22' is not one key" in e for e in errors)
    errors = flow_errors(tmp_path, 'returning:\n  choices: {"1": note, "2": call_me}\n')
    assert any("returning.choices" in e and "call_me" in e for e in errors)
    errors = flow_errors(tmp_path, 'returning:\n  choices: {"1": note, "2": note}\n')
    assert any("note is on two digits" in e for e in errors)
    errors = flow_errors(tmp_path, "returning:\n  timeout: 5m\n")
    assert any("returning.timeout" in e for e in errors)


def test_a_flow_without_the_returning_section_gets_the_default_menu(tmp_path):
    text = SHIPPED_FLOW.read_text()
    start, end = text.index("returning:\n"), text.index("\nprompts:")
    body = text[:start] + text[end:]
    # and without the new prompts: they have defaults too
    body = "\n".join(
        line
        for line in body.splitlines()
        if not line.lstrip().startswith(("returning_", "note_", "escalated"))
        and not line.startswith(
            (
                "    To record a note",
                "    case, press 2",
                "    After the tone, please record your note",
                "    Your case has been escalated",
                "    you. Goodbye",
                "    Your case was already",
                "    noted that",
            )
        )
    )
    path = tmp_path / "critical_line.yaml"
    path.write_text(body)
    flow = load_flow_file(path)
    assert dict(flow.returning) == {"1": "note", "2": "connect", "9": "escalate"}
    assert "press 9" in flow.prompt("returning_menu", {})


# -- config ---------------------------------------------------------------------------------------
BASE = "timezone: UTC\npublic_url: http://127.0.0.1:5000\n"


def settings_from(tmp_path: Path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(BASE + text)
    return load_settings(path, environ={})


def config_errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SourceErrors) as info:
        settings_from(tmp_path, text)
    return [str(e) for e in info.value.errors]


def test_the_new_keys_default_and_read(tmp_path):
    settings = settings_from(tmp_path, "")
    assert settings.intake.join_open_case is True
    assert settings.retention.case_page == timedelta(days=30)
    assert settings.email.escalation_address == ""
    settings = settings_from(
        tmp_path,
        "intake: {join_open_case: false}\nretention: {case_page: never}\n"
        "email: {escalation_address: Escalations@Vendor.example}\n",
    )
    assert settings.intake.join_open_case is False
    assert settings.retention.case_page is None
    assert settings.email.escalation_address == "escalations@vendor.example"
    shipped = load_settings(ROOT / "config.yaml", environ={})
    assert shipped.intake.join_open_case and shipped.retention.case_page == timedelta(days=30)


def test_mistakes_in_the_new_keys_are_reported(tmp_path):
    assert any(
        "intake.join_open_case" in e
        for e in config_errors(tmp_path, "intake: {join_open_case: maybe}\n")
    )
    assert any(
        "intake.join_new" in e or "join_new" in e
        for e in config_errors(tmp_path, "intake: {join_new: true}\n")
    )
    assert any(
        "retention.case_page" in e for e in config_errors(tmp_path, "retention: {case_page: 2h}\n")
    )
    assert any(
        "email.escalation_address" in e
        for e in config_errors(tmp_path, "email: {escalation_address: nobody}\n")
    )
