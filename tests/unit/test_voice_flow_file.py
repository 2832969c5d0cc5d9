"""voice_flows/critical_line.yaml: the shipped flow loads, and every mistake a manager can
make is reported with file, line and key (and the last good flow stays live)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from oncall.config.reloading import ReloadingFile
from oncall.config.yamlsource import SourceErrors
from oncall.sources.voice_flows import PROMPTS, load_flow_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "voice_flows" / "critical_line.yaml"


def errors_for(tmp_path: Path, edit) -> list[str]:
    """Copy the shipped flow, apply ``edit(text) -> text``, return the error strings."""
    path = tmp_path / "critical_line.yaml"
    path.write_text(edit(SHIPPED.read_text()))
    with pytest.raises(SourceErrors) as info:
        load_flow_file(path)
    return [str(e) for e in info.value.errors]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_flow_loads():
    flow = load_flow_file(SHIPPED)
    assert dict(flow.menu) == {"1": 1, "2": 2, "3": None}
    assert flow.pin_tries == 3 and flow.menu_tries == 3
    assert flow.ring_timeout == 20 and flow.record_max_length == 120
    assert flow.connect_levels >= 1 and flow.accept_digit == "1"
    assert set(flow.prompts) == set(PROMPTS)
    values = {
        "company": "Vendor Support",
        "regular_channels": "email",
        "hours": "9 to 5",
        "customer": "Acme Corp",
        "contact": "Wile",
        "severity": 1,
        "case_digits": "1 0 4 2",
        "reason": "no",
        "fee": "250 US dollars",
        "accept_digit": "1",
        "email": "critical at vendor dot example",
        # the returning caller's briefing
        "engineer": "Alice",
        "status": "Rolled back the deploy",
        "status_time": "3:05 AM",
        "eta": "3:35 AM",
        "next_update": "4:05 AM",
        "manager": "Dana Ortiz",
        "escalated_at": "3:10 AM",
    }
    for name in PROMPTS:  # every prompt renders with the values the service supplies
        assert "{" not in flow.prompt(name, values)
    assert "Vendor Support" in flow.prompt("greeting", values)
    assert "1 0 4 2" in flow.prompt("paged", values)
    assert "within the hour" in flow.prompt("paged", values)
    whisper = flow.prompt("whisper", values)
    assert "Acme Corp" in whisper and "severity 1" in whisper and "Press 1" in whisper


def test_an_unknown_key_names_file_line_and_path(tmp_path):
    text = SHIPPED.read_text().replace("  ring_timeout: 20s", "  ring_timout: 20s")
    errors = errors_for(tmp_path, lambda _: text)
    line = line_of(text, "ring_timout")
    assert any(
        e.startswith(f"{tmp_path / 'critical_line.yaml'}:{line}: connect.ring_timout: unknown key")
        and "did you mean 'ring_timeout'" in e
        for e in errors
    ), errors


def test_a_missing_prompt_is_an_error(tmp_path):
    def drop_menu(text: str) -> str:
        lines = text.splitlines()
        start = line_of(text, "  menu: >-") - 1
        # the folded prompt is the key line and its indented continuation lines
        end = start + 1
        while lines[end].startswith("    "):
            end += 1
        return "\n".join(lines[:start] + lines[end:]) + "\n"

    errors = errors_for(tmp_path, drop_menu)
    assert any("prompts: missing required key 'menu'" in e for e in errors), errors


def test_an_empty_prompt_is_an_error(tmp_path):
    text = SHIPPED.read_text().replace(
        "  menu_invalid: Sorry, that is not one of the choices.", '  menu_invalid: ""'
    )
    errors = errors_for(tmp_path, lambda _: text)
    assert any(
        f":{line_of(text, 'menu_invalid:')}: prompts.menu_invalid: the prompt is empty" in e
        for e in errors
    ), errors


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  ring_timeout: 20s",
            "  ring_timeout: twenty seconds",
            'connect.ring_timeout: "twenty seconds" is not a duration like 15m',
        ),
        (
            "  ring_timeout: 20s",
            "  ring_timeout: 2s",
            'connect.ring_timeout: "2s" must be between 5s and 600s',
        ),
        (
            "  max_length: 2m",
            "  max_length: 1500ms",
            'record.max_length: "1500ms" must be whole seconds',
        ),
        (
            "  timeout: 8s",
            "  timeout: 8",
            "menu.timeout: 8 is not a duration like 15m (add a unit: s, m, h, d)",
        ),
    ],
)
def test_bad_durations(tmp_path, old, new, message):
    text = SHIPPED.read_text().replace(old, new, 1)
    errors = errors_for(tmp_path, lambda _: text)
    key_line = line_of(text, new.strip())
    assert any(f":{key_line}: {message}" in e for e in errors), errors


def test_an_unknown_placeholder_is_an_error_with_what_the_prompt_may_use(tmp_path):
    text = SHIPPED.read_text().replace(
        "  identified: Hello {contact}, from {customer}.",
        "  identified: Hello {contact}, from {custmer}.",
    )
    errors = errors_for(tmp_path, lambda _: text)
    line = line_of(text, "{custmer}")
    assert any(
        f":{line}: prompts.identified: unknown placeholder {{custmer}}" in e
        and "company, contact, customer" in e
        for e in errors
    ), errors


def test_a_placeholder_of_another_prompt_is_refused(tmp_path):
    # {case_digits} exists, but the greeting is spoken before any case does.
    text = SHIPPED.read_text().replace(
        "Thank you for calling the {company} critical support line.",
        "Thank you for calling, case {case_digits}.",
    )
    errors = errors_for(tmp_path, lambda _: text)
    assert any("prompts.greeting: unknown placeholder {case_digits}" in e for e in errors)


def test_unbalanced_braces_and_format_tricks_are_errors(tmp_path):
    text = (
        SHIPPED.read_text()
        .replace("  bad_pin: Sorry, that PIN was not recognised.", "  bad_pin: Sorry {")
        .replace(
            "Your case number is {case_digits}. Again,",
            "Your case number is {case_digits.real}. Again,",
        )
    )
    errors = errors_for(tmp_path, lambda _: text)
    assert any("prompts.bad_pin:" in e and "literal braces" in e for e in errors), errors
    assert any(
        "prompts.case_opened: {case_digits.real} is not a placeholder" in e for e in errors
    ), errors


def test_menu_choices_are_checked(tmp_path):
    text = SHIPPED.read_text().replace('    "3": non_critical', '    "3": S3\n    "12": S1')
    errors = errors_for(tmp_path, lambda _: text)
    assert any(
        f":{line_of(text, chr(34) + '3' + chr(34) + ': S3')}: menu.choices.3: 'S3' is "
        "not one of: S1, S2, non_critical" in e
        for e in errors
    ), errors
    assert any("menu.choices.12: '12' is not one key" in e for e in errors), errors


def test_a_menu_without_s2_is_an_error(tmp_path):
    text = SHIPPED.read_text().replace('    "2": S2\n', "")
    errors = errors_for(tmp_path, lambda _: text)
    assert any("menu.choices: no digit opens an S2 case" in e for e in errors), errors


def test_every_error_is_listed_in_one_run(tmp_path):
    text = (
        SHIPPED.read_text()
        .replace("  ring_timeout: 20s", "  ring_timeout: soon")
        .replace("  tries: 3                     # wrong", "  tries: zero                  # wrong")
        .replace("say:\n", "sayy:\n")
    )
    errors = errors_for(tmp_path, lambda _: text)
    assert len(errors) >= 3, errors


def test_invalid_yaml_names_the_line(tmp_path):
    broken = "  accept_digit: [1"
    errors = errors_for(tmp_path, lambda t: t.replace('  accept_digit: "1"', broken))
    assert any("invalid YAML" in e for e in errors), errors


def test_a_broken_edit_keeps_the_last_good_flow_live(tmp_path):
    path = tmp_path / "critical_line.yaml"
    shutil.copy(SHIPPED, path)
    live = ReloadingFile(path, load_flow_file, "voice flow")
    live.load()
    good = live.value
    assert good is not None
    path.write_text(SHIPPED.read_text().replace("  ring_timeout: 20s", "  ring_timeout: 1x"))
    live.load()
    assert live.value is good
    assert any("connect.ring_timeout" in str(e) for e in live.errors())


def test_oncall_check_reports_flow_errors(runner, tmp_path):
    from oncall.cli.main import main

    for name in ("config.yaml", "customers.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "rotations", tmp_path / "rotations")
    shutil.copytree(ROOT / "voice_flows", tmp_path / "voice_flows")
    flow = tmp_path / "voice_flows" / "critical_line.yaml"
    flow.write_text(flow.read_text().replace("  levels: 2", "  levles: 2"))
    result = runner.invoke(main, ["--config", str(tmp_path / "config.yaml"), "check"])
    assert result.exit_code == 1
    assert "critical_line.yaml:" in result.output
    assert "connect.levles: unknown key" in result.output


def test_a_flow_file_written_before_pin_locked_still_loads_and_says_the_default(tmp_path):
    text = SHIPPED.read_text()
    start = text.index("  pin_locked: >-")
    end = text.index("  not_entitled:")
    older = tmp_path / "critical_line.yaml"
    older.write_text(text[:start] + text[end:])
    flow = load_flow_file(older)
    said = flow.prompt("pin_locked", {"email": "critical at vendor dot example"})
    assert said.startswith("Too many wrong PINs have been entered from this number.")
    assert "critical at vendor dot example" in said
