"""``oncall rota check|who|show|ics|feed-url`` through click's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from icalendar import Calendar

from oncall.cli.rota import rota
from oncall.reports.calendars import feed_token

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rotations(tmp_path):
    directory = tmp_path / "rotations"
    directory.mkdir()
    shutil.copy(ROOT / "rotations" / "support.yaml", directory / "support.yaml")
    return directory


def run(*args, env=None):
    return CliRunner().invoke(rota, [str(a) for a in args], env=env)


def test_check_passes_for_the_shipped_example():
    result = run("check", "--rotations", ROOT / "rotations", "--from", "2026-11-23T12:00")
    assert result.exit_code == 0, result.output
    assert result.output == "ok: 1 team(s) (support), covered for the next 28 days\n"


def test_check_lists_every_error_with_file_and_line_and_exits_1(rotations):
    path = rotations / "support.yaml"
    text = path.read_text()
    text = text.replace("members: [alice, bob, carol]", "members: [alice, bobb, carol]")
    text = text.replace("manager: dana", "manager: erin")
    path.write_text(text)
    result = run("check", "--rotations", rotations)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines == [
        f"{path}:16: rotations.primary.members[1]: 'bobb' is not a member (did you mean 'bob'?)",
        f"{path}:42: manager: 'erin' is not a member of this team",
        "2 error(s), 0 warning(s)",
    ]


def test_rotations_directory_comes_from_the_environment(rotations):
    result = run("check", "--from", "2026-11-23T12:00", env={"ONCALL_ROTATIONS": str(rotations)})
    assert result.exit_code == 0, result.output


def test_who_json(rotations):
    result = run("who", "--rotations", rotations, "--at", "2026-11-24 20:00", "--json")
    assert result.exit_code == 0, result.output
    (team,) = json.loads(result.output)["teams"]
    assert team["team"] == "support" and team["at"] == "2026-11-24T20:00:00-05:00"
    primary, secondary = team["levels"]
    assert primary == {
        "level": "primary",
        "member": "carol",
        "name": "Carol Li",
        "phone": "+15550100103",
        "email": "carol@example.com",
        "rotation": "primary",
        "override": True,
        "note": "swap with alice",
        "start": "2026-11-24T18:00:00-05:00",
        "end": "2026-11-25T09:00:00-05:00",
    }
    assert (secondary["member"], secondary["end"]) == ("bob", "2026-11-30T09:00:00-05:00")
    assert team["manager"]["member"] == "dana"


def test_who_table_at_a_local_time(rotations):
    result = run("who", "--rotations", rotations, "--team", "support", "--at", "2026-11-28 03:00")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "support (America/Toronto) at Sat 2026-11-28 03:00 EST",
        "  LEVEL      ON CALL     PHONE         UNTIL                     NOTE",
        "  primary    Carol Li    +15550100103  Mon 2026-11-30 09:00 EST  rotation weekend",
        "  secondary  Bob Roy     +15550100102  Mon 2026-11-30 09:00 EST",
        "  manager    Dana Ortiz  +15550100104",
    ]


def test_who_before_the_rota_starts_says_who_is_next(rotations):
    result = run("who", "--rotations", rotations, "--at", "2026-10-30 12:00")
    assert result.exit_code == 0, result.output
    assert "primary    nobody" in result.output
    assert "next: Alice Ng from Mon 2026-11-02 09:00 EST" in result.output


def test_who_unknown_team(rotations):
    result = run("who", "--rotations", rotations, "--team", "ops")
    assert result.exit_code == 1
    assert "no valid rota for team 'ops' (files: support)" in result.output


def test_show_marks_overrides_and_gaps(rotations):
    result = run(
        "show", "--rotations", rotations, "--team", "support", "--from", "2026-11-24", "--days", "2"
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "support: on call from Tue 2026-11-24 00:00 EST until Thu 2026-11-26 00:00 EST"
    )
    assert lines[3].split() == [
        "primary",
        "Tue",
        "2026-11-24",
        "18:00",
        "EST",
        "Wed",
        "2026-11-25",
        "09:00",
        "EST",
        "Carol",
        "Li",
        "primary",
        "override:",
        "swap",
        "with",
        "alice",
    ]
    before = run(
        "show", "--rotations", rotations, "--team", "support", "--from", "2026-11-01", "--days", "2"
    )
    assert "-- nobody --" in before.output and "GAP" in before.output


def test_ics_parses_back(rotations):
    result = CliRunner().invoke(
        rota,
        [
            "ics",
            "--rotations",
            str(rotations),
            "--team",
            "support",
            "--member",
            "carol",
            "--from",
            "2026-11-23",
            "--days",
            "8",
        ],
    )
    assert result.exit_code == 0, result.output
    calendar = Calendar.from_ical(result.stdout_bytes)
    summaries = [str(event["summary"]) for event in calendar.walk("VEVENT")]
    assert summaries == [
        "On call: primary (Carol Li) [override]",
        "On call: primary (Carol Li)",
        "On call: secondary (Carol Li)",
    ]


def test_ics_unknown_member(rotations):
    result = run("ics", "--rotations", rotations, "--team", "support", "--member", "zed")
    assert result.exit_code == 1
    assert "'zed' is not a member of team 'support'" in result.output


def test_feed_url(rotations):
    result = run(
        "feed-url",
        "--rotations",
        rotations,
        "--team",
        "support",
        "--member",
        "carol",
        "--secret-key",
        "s3cret",
        "--base-url",
        "https://oncall.example.com/",
    )
    assert result.exit_code == 0, result.output
    token = feed_token("s3cret", "support", "carol")
    assert result.output == f"https://oncall.example.com/rota/support/carol.ics?token={token}\n"


def test_national_phones_are_read_in_the_config_region(rotations, tmp_path):
    from oncall.cli.main import main

    path = rotations / "support.yaml"
    path.write_text(path.read_text().replace('"+15550100102"', '"07700 900123"'))
    config = tmp_path / "config.yaml"
    config.write_text("timezone: UTC\npublic_url: http://x.example\nphone_region: GB\n")
    args = ["rota", "who", "--rotations", str(rotations), "--at", "2026-11-24 20:00", "--json"]
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    levels = json.loads(result.output)["teams"][0]["levels"]
    assert {level["level"]: level["phone"] for level in levels}["secondary"] == "+447700900123"
    # Without a config the default region (US) applies, where that is not a number.
    result = run("check", "--rotations", rotations, "--from", "2026-11-23T12:00")
    assert result.exit_code == 1 and "too many digits" in result.output
