"""Config validation: good files load; every mistake names file, line and key path."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from oncall.config.loading import load_settings
from oncall.config.yamlsource import SourceErrors
from oncall.domain.eligibility import is_business_hours
from oncall.domain.timetext import END_OF_DAY

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def errors_of(path: Path, environ=None) -> list[str]:
    with pytest.raises(SourceErrors) as info:
        load_settings(path, environ=environ or {})
    return [str(e) for e in info.value.errors]


def test_shipped_config_loads():
    settings = load_settings(ROOT / "config.yaml", environ={})
    assert settings.sla.triage == timedelta(minutes=15)
    assert settings.sla.first_status == timedelta(hours=1)
    assert settings.sla.status_every == {1: timedelta(hours=4), 2: timedelta(hours=8)}
    assert settings.transport == "console"
    assert settings.paths.rotations == ROOT / "rotations"
    assert settings.database_url == f"sqlite:///{ROOT / 'oncall.db'}"


def test_misspelt_sla_key_is_an_error_with_file_line_and_path(tmp_path):
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: http://x.example\nsla:\n  triage: 15m\n  trage: 10m\n",
    )
    assert errors_of(path) == [f"{path}:5: sla.trage: unknown key (did you mean 'triage'?)"]


def test_bad_duration_names_the_line(tmp_path):
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: http://x.example\nsla:\n  triage: 15 minutes\n",
    )
    assert errors_of(path) == [f'{path}:4: sla.triage: "15 minutes" is not a duration like 15m']


def test_every_error_is_listed_not_just_the_first(tmp_path):
    path = write(
        tmp_path,
        "timezone: Mars/Olympus\npublic_url: ftp://x\nsla: {triage: 0m, warn_before: 1h}\n"
        "transport: pigeon\nengine: {tick: often}\nbogus: 1\n",
    )
    messages = errors_of(path)
    assert any("timezone: 'Mars/Olympus' is not a known time zone" in m for m in messages)
    assert any("public_url" in m for m in messages)
    assert any("sla.triage" in m and "longer than zero" in m for m in messages)
    assert any("transport: 'pigeon' is not one of: console, twilio" in m for m in messages)
    assert any("engine.tick" in m for m in messages)
    assert any(m.endswith("bogus: unknown key") for m in messages)
    assert all(m.startswith(f"{path}:") for m in messages)


def test_wrong_types_are_rejected(tmp_path):
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: http://x.example\nemail:\n  smtp: {port: seventy}\n"
        "penalties: {misuse_fee: lots}\n",
    )
    messages = errors_of(path)
    assert any("email.smtp.port: expected a whole number" in m for m in messages)
    assert any("penalties.misuse_fee: expected a number" in m for m in messages)


def test_missing_required_keys(tmp_path):
    path = write(tmp_path, "company: X\n")
    messages = errors_of(path)
    assert any("missing required key 'timezone'" in m for m in messages)
    assert any("missing required key 'public_url'" in m for m in messages)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "timezone: UTC\npublic_url: [unclosed\n")
    (message,) = errors_of(path)
    assert message.startswith(f"{path}:") and "invalid YAML" in message


def test_duplicate_keys_are_an_error(tmp_path):
    path = write(tmp_path, "timezone: UTC\ntimezone: UTC\npublic_url: http://x.example\n")
    (message,) = errors_of(path)
    assert "duplicate key 'timezone'" in message and ":2:" in message


def test_interpolation_and_environment_overrides(tmp_path):
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: ${PUBLIC:-http://default.example}\n"
        "twilio: {account_sid: '${SID}', auth_token: from-file, critical_line: '+15555550501'}\n",
    )
    settings = load_settings(
        path,
        environ={
            "SID": "AC123",
            "TWILIO_AUTH_TOKEN": "from-env",
            "DATABASE_URL": "postgres://u@db.example/x",
        },
    )
    assert settings.public_url == "http://default.example"
    assert settings.twilio.account_sid == "AC123"
    assert settings.twilio.auth_token == "from-env"  # environment beats the file for secrets
    assert settings.database_url == "postgresql+psycopg://u@db.example/x"


def test_twilio_transport_requires_credentials(tmp_path):
    path = write(tmp_path, "timezone: UTC\npublic_url: http://x.example\ntransport: twilio\n")
    messages = errors_of(path)
    assert any("twilio.account_sid: is required when transport is twilio" in m for m in messages)
    assert any("twilio.auth_token" in m for m in messages)


def test_settings_are_frozen():
    settings = load_settings(ROOT / "config.yaml", environ={})
    with pytest.raises(AttributeError):
        settings.transport = "twilio"  # type: ignore[misc]


# -- phone numbers: one parser, one region (the same rules as in rota files and customers) -----


@pytest.mark.parametrize("written", ["+1 416 555 0101", "(416) 555-0101", "4165550101"])
def test_critical_line_in_any_form_is_the_same_number(tmp_path, written):
    path = write(
        tmp_path,
        f"timezone: UTC\npublic_url: http://x.example\ntwilio: {{critical_line: '{written}'}}\n",
    )
    assert load_settings(path, environ={}).twilio.critical_line == "+14165550101"


def test_unquoted_ten_digit_critical_line_is_the_same_number(tmp_path):
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: http://x.example\ntwilio: {critical_line: 4165550101}\n",
    )
    assert load_settings(path, environ={}).twilio.critical_line == "+14165550101"


def test_junk_critical_line_is_an_error_with_file_and_line(tmp_path):
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: http://x.example\ntwilio:\n  critical_line: 'call us'\n",
    )
    (message,) = errors_of(path)
    assert message.startswith(
        f'{path}:4: twilio.critical_line: "call us" is not a phone number (letters are not digits)'
    )


def test_phone_region_defaults_to_us_and_reads_national_numbers(tmp_path):
    assert load_settings(ROOT / "config.yaml", environ={}).phone_region == "US"
    path = write(
        tmp_path,
        "timezone: Europe/London\npublic_url: http://x.example\nphone_region: gb\n"
        "twilio: {critical_line: '020 7946 0018'}\n",
    )
    settings = load_settings(path, environ={})
    assert settings.phone_region == "GB"
    assert settings.twilio.critical_line == "+442079460018"


def test_unknown_phone_region_is_an_error(tmp_path):
    path = write(tmp_path, "timezone: UTC\npublic_url: http://x.example\nphone_region: Canada\n")
    assert errors_of(path) == [
        f"{path}:3: phone_region: 'Canada' is not a region code like US, CA or GB (ISO 3166-1)"
    ]


# -- "24:00" is the end of the day (as in rota windows) -----------------------------------------


def test_business_hours_ending_at_24_00_run_until_midnight(tmp_path):
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: http://x.example\n"
        'business_hours: {days: [mon], start: "18:00", end: "24:00"}\n',
    )
    hours = load_settings(path, environ={}).business_hours
    assert hours.end == END_OF_DAY
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    assert is_business_hours(hours, monday.replace(hour=23, minute=59, second=59), UTC)
    assert not is_business_hours(hours, monday + timedelta(days=1), UTC)  # Tuesday 00:00


def test_business_hours_read_times_like_rota_windows(tmp_path):
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: http://x.example\n"
        'business_hours: {start: " 9:30", end: "17:00"}\n',
    )
    assert load_settings(path, environ={}).business_hours.start == time(9, 30)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ('"24:00"', '"24:00"', "end: business hours must end after they start"),
        ('"09:00"', '"24:30"', 'end: "24:30" is not a time of day like "18:00"'),
        # YAML reads an unquoted 10:00 as the number 600; both files say so the same way.
        ("10:00", '"17:00"', 'start: write times in quotes, like "18:00" (YAML reads an unquoted'),
    ],
)
def test_bad_business_hours_times(tmp_path, start, end, expected):
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: http://x.example\n"
        f"business_hours: {{start: {start}, end: {end}}}\n",
    )
    assert any(f":3: business_hours.{expected}" in m for m in errors_of(path))


# -- email severity rules (issue 16) -------------------------------------------------------------
EMAIL_HEAD = "timezone: UTC\npublic_url: http://x.example\nemail:\n"


def test_severity_question_timeout_defaults_to_10m_and_is_at_most_an_hour(tmp_path):
    settings = load_settings(write(tmp_path, EMAIL_HEAD + "  transport: console\n"), environ={})
    assert settings.email.severity_question_timeout == timedelta(minutes=10)
    shipped = load_settings(ROOT / "config.yaml", environ={})
    assert shipped.email.severity_question_timeout == timedelta(minutes=10)
    assert "warehouse on fire" not in shipped.email.severity_rules.s1_phrases
    path = write(tmp_path, EMAIL_HEAD + "  severity_question_timeout: 2h\n")
    assert errors_of(path) == [
        f"{path}:4: email.severity_question_timeout: must be 1h or less: an emergency nobody "
        "confirmed waits this long for its page"
    ]


def test_severity_phrases_extend_every_list(tmp_path):
    path = write(
        tmp_path,
        EMAIL_HEAD
        + "  severity_phrases:\n"
        + "    S1: [warehouse on fire]\n"
        + "    low: [just curious]\n"
        + "    maintenance: [patch night]\n"
        + "    ignore: [outage]\n"
        + "    negation_window: 2\n",
    )
    rules = load_settings(path, environ={}).email.severity_rules
    assert rules.s1_phrases[0] == "warehouse on fire" and "outage" not in rules.s1_phrases
    assert rules.low_phrases[0] == "just curious" and rules.maintenance_cues[0] == "patch night"
    assert rules.negation_window == 2 and rules.cue_window == 6


def test_bad_severity_phrases_are_errors_with_file_line_and_key(tmp_path):
    path = write(
        tmp_path,
        EMAIL_HEAD
        + "  severity_phrases:\n"
        + "    S1: [meltdown, x]\n"  # line 5
        + "    low: [Meltdown]\n"
        + "    symptom: [kaput]\n"  # line 7: misspelt key
        + "    ignore: [not a built-in]\n"
        + "    cue_window: 99\n"
        + "    S2: keine Umgehung\n",  # line 10: not a list
    )
    assert errors_of(path) == [
        f"{path}:7: email.severity_phrases.symptom: unknown key (did you mean 'symptoms'?)",
        f"{path}:5: email.severity_phrases.S1[1]: 'x' is too short: it would match inside "
        "almost every email",
        f"{path}:10: email.severity_phrases.S2: expected a list of phrases, got 'keine Umgehung'",
        f"{path}:8: email.severity_phrases.ignore[0]: 'not a built-in' is not a built-in "
        "phrase or cue: nothing to ignore",
        f"{path}:9: email.severity_phrases.cue_window: must be 20 words or fewer, got 99",
        f"{path}:5: email.severity_phrases.S1: 'meltdown' is listed under both S1 and low, "
        "which contradict",
    ]


def test_the_shipped_retention_policy_and_sender_trust_settings():
    settings = load_settings(ROOT / "config.yaml", environ={})
    retention = settings.retention
    assert (retention.receipts, retention.refused_attempts, retention.recordings) == (
        timedelta(days=30),
        timedelta(days=365),
        timedelta(days=90),
    )
    assert retention.closed_cases is None  # never
    assert settings.email.authserv_ids == ()


def test_authserv_ids_are_a_list_of_names(tmp_path):
    base = "timezone: UTC\npublic_url: http://127.0.0.1:5000\n"
    path = write(tmp_path, base + "email:\n  authserv_ids: [MX.SendGrid.net, mx2.example.net]\n")
    assert load_settings(path, environ={}).email.authserv_ids == (
        "mx.sendgrid.net",
        "mx2.example.net",
    )
    path = write(tmp_path, base + "email:\n  authserv_ids: mx.sendgrid.net\n")
    assert any("email.authserv_ids" in e for e in errors_of(path))


def test_closure_and_dispute_windows_default_and_are_validated(tmp_path):
    shipped = load_settings(ROOT / "config.yaml", environ={})
    assert shipped.closure.reopen_within == timedelta(days=7)
    assert shipped.penalties.dispute_within == timedelta(days=14)
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: http://x.example\nclosure:\n  reopen_within: 3d\n"
        "penalties: {dispute_within: 30d}\n",
    )
    settings = load_settings(path, environ={})
    assert settings.closure.reopen_within == timedelta(days=3)
    assert settings.penalties.dispute_within == timedelta(days=30)
    path = write(
        tmp_path,
        "timezone: UTC\npublic_url: http://x.example\nclosure:\n  reopen_witin: 3d\n"
        "penalties:\n  dispute_within: soon\n",
    )
    assert sorted(errors_of(path)) == [
        f"{path}:4: closure.reopen_witin: unknown key (did you mean 'reopen_within'?)",
        f'{path}:6: penalties.dispute_within: "soon" is not a duration like 15m',
    ]
    path = write(
        tmp_path, "timezone: UTC\npublic_url: http://x.example\nclosure: {reopen_within: 10s}\n"
    )
    assert errors_of(path) == [
        f'{path}:3: closure.reopen_within: "10s" is too short: give the customer 1m or more'
    ]
