"""Config validation: good files load; every mistake names file, line and key path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from oncall.config.settings import load_settings, normalise_phone
from oncall.config.yamlsource import SourceErrors, parse_duration

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
    assert settings.database_url == "sqlite:///oncall.db"


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        (0, timedelta(0)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["15 minutes", "m15", "15", 15, "1.5h", "", True, None, "1h 2x"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 (555) 123-0001", "+15551230001"),
        ("555.123.0001", "+15551230001"),
        ("15551230001", "+15551230001"),
        ("+447700900123", "+447700900123"),
    ],
)
def test_phone_normalisation(raw, e164):
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "+0123456789", "call me", "+1555123000199999"])
def test_bad_phones(raw):
    with pytest.raises(ValueError):
        normalise_phone(raw)
