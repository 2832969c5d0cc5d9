"""Health means "can page": the pure check of the teams customers may reach now, the config
of who is alerted when nobody can be paged, the transport that knows it cannot send, and the
voice-flow texts that tell a caller the truth."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oncall.config.loading import load_settings
from oncall.config.yamlsource import SourceErrors
from oncall.domain.readiness import first_step_reaches_somebody, team_problems
from oncall.sources.rotas.reading import read_team
from oncall.sources.voice_flows import DEFAULT_MESSAGES, DEFAULT_PROMPTS, load_flow_file

ROOT = Path(__file__).resolve().parents[2]
TUESDAY_3AM = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # Alice is primary
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def support_team(text: str | None = None):
    path = ROOT / "rotations" / "support.yaml"
    team, problems = read_team(path, text)
    assert team is not None, problems
    return team


# -- the pure check ---------------------------------------------------------------------------
def test_a_team_whose_first_step_pages_somebody_now_is_fine():
    team = support_team()
    assert first_step_reaches_somebody(team, TUESDAY_3AM)
    assert team_problems({"support": ["Acme Corp"]}, {"support": team}, TUESDAY_3AM) == []


def test_a_team_without_a_rota_is_named_with_who_would_call():
    callers = {"nights": ["Initech", "Acme Corp", "Globex", "Hooli", "Acme Corp"]}
    assert team_problems(callers, {}, TUESDAY_3AM) == [
        "team 'nights' has no rota loaded: a call from Acme Corp, Globex, Hooli (and 1 more) "
        "would page no engineer (the managers are alerted instead)"
    ]


def test_nobody_on_call_now_or_nobody_reachable_is_a_problem():
    weekend_only = (ROOT / "rotations" / "support.yaml").read_text()
    weekend_only = weekend_only.replace("notify: [primary]}", "notify: [weekend]}")
    team = support_team(weekend_only)
    assert not first_step_reaches_somebody(team, TUESDAY_3AM)  # weekends only
    assert first_step_reaches_somebody(team, SATURDAY)
    assert team_problems({"support": ["Acme Corp"]}, {"support": team}, TUESDAY_3AM) == [
        "team 'support': nobody can be paged for the first escalation step (weekend) now: a "
        "call from Acme Corp would page no engineer at once"
    ]
    # Alice is primary now, but with neither phone nor email she cannot be paged.
    team = support_team()
    alice = team.members["alice"]
    unreachable = replace(
        team, members={**team.members, "alice": replace(alice, phone=None, email=None)}
    )
    assert not first_step_reaches_somebody(unreachable, TUESDAY_3AM)


# -- escalation_contacts in config.yaml ------------------------------------------------------
def config_with(tmp_path: Path, contacts: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"timezone: UTC\npublic_url: http://x.example\nescalation_contacts: {contacts}\n"
    )
    return path


def test_escalation_contacts_are_phones_and_addresses_normalised(tmp_path):
    path = config_with(tmp_path, '["+1 555 010 0199", "(555) 010-0199", Duty@Vendor.example]')
    settings = load_settings(path, environ={})
    assert settings.escalation_contacts == ("+15550100199", "duty@vendor.example")
    shipped = load_settings(ROOT / "config.yaml", environ={})
    assert shipped.escalation_contacts == ("+15550100104",)  # the example duty manager
    path.write_text("timezone: UTC\npublic_url: http://x.example\n")
    assert load_settings(path, environ={}).escalation_contacts == ()  # every team's manager


def test_a_bad_escalation_contact_names_file_and_line(tmp_path):
    path = config_with(tmp_path, '["duty@", "call Dana", {a: b}]')
    with pytest.raises(SourceErrors) as info:
        load_settings(path, environ={})
    errors = [str(e) for e in info.value.errors]
    assert errors[0] == f"{path}:3: escalation_contacts[0]: 'duty@' is not an email address"
    assert errors[1].startswith(f'{path}:3: escalation_contacts[1]: "call Dana" is not a phone')
    assert errors[2] == (
        f"{path}:3: escalation_contacts[2]: expected a phone number or an email address"
    )


# -- a transport that knows it cannot send ----------------------------------------------------
def test_the_twilio_transport_without_credentials_says_so(tmp_path, monkeypatch):
    from oncall.delivery.readiness import transport_problems
    from oncall.delivery.transports.base import ConsoleTransport
    from oncall.delivery.transports.twilio import TwilioTransport

    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)  # the SDK falls back on these
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    settings = load_settings(ROOT / "config.yaml", environ={})
    missing = TwilioTransport(replace(settings, twilio=replace(settings.twilio, auth_token="")))
    assert missing.cannot_send() == (
        "transport cannot send: the Twilio transport has no account SID or auth token"
    )
    full = replace(settings.twilio, account_sid="AC" + "1" * 32, auth_token="a-token")
    assert TwilioTransport(replace(settings, twilio=full)).cannot_send() is None
    console = ConsoleTransport(echo=False)
    transports = {"sms": missing, "voice": missing, "email": console}
    assert transport_problems(transports) == [missing.cannot_send()]  # once, not per channel


# -- what the caller hears and reads ---------------------------------------------------------
def test_the_shipped_flow_tells_a_caller_when_only_the_managers_were_alerted():
    flow = load_flow_file(ROOT / "voice_flows" / "critical_line.yaml")
    said = flow.prompt("managers_alerted", {"case_digits": "1 0 4 2", "company": "V"})
    assert "1 0 4 2" in said and "support managers have been alerted" in said
    assert "paged" not in said
    values = {"company": "Vendor", "case_number": 1042, "severity": 1, "customer": "Acme"}
    for name in ("case_opened_managers_sms", "case_opened_managers_email"):
        text = flow.message(name, values)
        assert "case 1042" in text and "support managers have been alerted" in text, name
        assert "paged" not in text, name
    said = flow.prompt(
        "nobody_alerted", {"case_digits": "1 0 4 2", "company": "V", "regular_channels": "mail"}
    )
    assert "could not reach an engineer or a manager" in said and "alerted" not in said
    values["regular_channels"] = "mail"
    for name in ("case_opened_unreached_sms", "case_opened_unreached_email"):
        text = flow.message(name, values)
        assert "case 1042" in text and "could not reach an engineer or a manager" in text, name
        assert "paged" not in text and "alerted" not in text, name


def test_a_flow_file_written_before_those_texts_still_loads_with_them(tmp_path):
    text = (ROOT / "voice_flows" / "critical_line.yaml").read_text()
    start = text.index("  # Said instead of `paged`")
    end = text.index("  connected_goodbye:")
    text = text[:start] + text[end:]
    text = text[: text.index("  # The same, when nobody could be paged")]
    path = tmp_path / "critical_line.yaml"
    path.write_text(text)
    flow = load_flow_file(path)
    for name in ("managers_alerted", "nobody_alerted"):
        assert flow.prompts[name] == DEFAULT_PROMPTS[name], name
    assert set(DEFAULT_MESSAGES) == {
        "case_opened_managers_sms", "case_opened_managers_email",
        "case_opened_unreached_sms", "case_opened_unreached_email",
    }  # fmt: skip
    for name, default in DEFAULT_MESSAGES.items():
        assert flow.messages[name] == default, name
