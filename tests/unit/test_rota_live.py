"""The live rota (files with TAKEs layered on top), who holds a level until when, the texts
engineers get about the rota, and an escalation step's channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from oncall.domain.rota.live import find_level, level_rotation, stretch, with_live_overrides
from oncall.domain.rota.localtime import to_instant
from oncall.domain.rota.model import EscalationStep, Override
from oncall.domain.rota.resolve import who_is_on_call
from oncall.domain.rota.snapshots import policy_snapshot, team_from_snapshot
from oncall.domain.shift_text import (
    WhoLine,
    local_label,
    replaced_text,
    shift_reminder_text,
    shift_start_text,
    who_text,
)
from oncall.domain.sms_text import is_gsm7
from oncall.sources.rotas.reading import load_team, read_team

ROOT = Path(__file__).resolve().parents[2]
TORONTO = ZoneInfo("America/Toronto")
H = timedelta(hours=1)


def local(text: str) -> datetime:
    return to_instant(datetime.fromisoformat(text), TORONTO)


@pytest.fixture
def team():
    return load_team(ROOT / "rotations" / "support.yaml")


def test_a_live_override_beats_the_file_and_a_later_one_beats_an_earlier(team):
    at = local("2026-11-24T20:00")  # the file's override: Carol is primary tonight
    assert who_is_on_call(team, "primary", at).member.key == "carol"
    bob = Override("primary", "bob", local("2026-11-24T19:00"), local("2026-11-24T23:00"), "TAKE")
    live = with_live_overrides(team, [bob])
    assert who_is_on_call(live, "primary", at).member.key == "bob"
    assert who_is_on_call(live, "primary", local("2026-11-24T23:30")).member.key == "carol"
    dana = Override("primary", "dana", local("2026-11-24T19:30"), local("2026-11-24T21:00"))
    later = with_live_overrides(team, [bob, dana])
    assert who_is_on_call(later, "primary", at).member.key == "dana"
    # The whole level: the weekend layer is replaced too.
    saturday = local("2026-11-28T12:00")
    weekend = Override("primary", "dana", saturday - H, saturday + H)
    assert who_is_on_call(with_live_overrides(team, [weekend]), "primary", saturday).member.key == (
        "dana"
    )


def test_overrides_that_no_longer_fit_the_file_are_left_out(team):
    gone = Override("tertiary", "bob", local("2026-11-24T00:00"), local("2026-11-25T00:00"))
    stranger = Override("primary", "erin", local("2026-11-24T00:00"), local("2026-11-25T00:00"))
    assert with_live_overrides(team, [gone, stranger]) is team
    assert with_live_overrides(team, []) is team


def test_levels_are_found_whatever_their_case(team):
    assert find_level(team, "PRIMARY") == "primary"
    assert find_level(team, "weekend") is None  # a layer, not a level
    assert level_rotation(team, "primary") == "primary"
    assert level_rotation(team, "secondary") == "secondary"


def test_a_stretch_runs_until_somebody_else_takes_over(team):
    at = local("2026-11-24T03:00")
    found = stretch(team, "primary", at)
    assert found.current.member.key == "alice" and found.until == local("2026-11-24T18:00")
    assert found.next.member.key == "carol" and found.next.override
    # Alice takes the evening herself: her own shift and her TAKE are one stretch, until 09:00.
    own = Override("primary", "alice", local("2026-11-24T18:00"), local("2026-11-25T09:00"))
    longer = stretch(with_live_overrides(team, [own]), "primary", at)
    # ... and her weekly shift runs on, until the weekend layer takes over on Friday evening.
    assert longer.until == local("2026-11-27T18:00")
    assert (longer.next.member.key, longer.next.rotation) == ("carol", "weekend")


def test_nobody_on_call_has_no_stretch_but_a_next(team):
    before = local("2026-10-01T00:00")  # before the rota starts
    found = stretch(team, "primary", before)
    assert (found.current, found.until) == (None, None)
    assert found.next.start == local("2026-11-02T09:00")


def test_texts_about_the_rota_name_the_zone_and_are_gsm7():
    until = local("2026-11-30T09:00")
    start_text = shift_start_text("primary", "support", until, TORONTO)
    assert start_text == (
        "You are now primary for support until Mon 30 Nov 09:00 EST. Reply WHO for the team."
    )
    assert shift_reminder_text("primary", "support", local("2026-11-23T09:00"), until, TORONTO) == (
        "Reminder: you are primary for support from Mon 23 Nov 09:00 EST until Mon 30 Nov 09:00 "
        "EST. Reply WHO for the team."
    )
    assert local_label(local("2026-07-06T09:00"), TORONTO) == "Mon 06 Jul 09:00 EDT"
    text = replaced_text("Bob Roy", "primary", "support", None, until, TORONTO)
    assert text.startswith("Bob Roy takes primary for support until Mon 30 Nov 09:00 EST")
    lines = [
        WhoLine("primary", "Zoë “Z” Ng", "+15550100101", until, override=True),
        WhoLine("secondary", None, None, None),
    ]
    who = who_text("support", TORONTO, lines, ("Dana Ortiz", None))
    assert who == (
        'support (America/Toronto): primary Zoe "Z" Ng +15550100101 (override) until Mon 30 Nov '
        "09:00 EST; secondary nobody; manager Dana Ortiz"
    )
    assert all(is_gsm7(t) for t in (start_text, text, who))


def test_a_step_may_call_text_or_both_and_the_snapshot_keeps_it(tmp_path, team):
    text = (ROOT / "rotations" / "support.yaml").read_text()
    path = tmp_path / "support.yaml"
    path.write_text(
        text.replace("notify: [primary]}", "notify: [primary], via: voice}").replace(
            "notify: [secondary]}", "notify: [secondary], via: both}"
        )
    )
    calling = load_team(path)
    assert [s.via for s in calling.escalation.steps] == ["voice", "both", "sms"]
    snapshot = policy_snapshot(calling, local("2026-11-24T03:00"))
    assert [s.via for s in team_from_snapshot(snapshot).escalation.steps] == [
        "voice",
        "both",
        "sms",
    ]
    # A snapshot taken before steps had a channel pages by SMS.
    for step in snapshot["escalation"]["steps"]:
        del step["via"]
    assert {s.via for s in team_from_snapshot(snapshot).escalation.steps} == {"sms"}
    with pytest.raises(ValueError, match="via"):
        EscalationStep(timedelta(0), ("primary",), "pigeon")


def test_a_wrong_channel_is_an_error_with_file_and_line(tmp_path):
    text = (ROOT / "rotations" / "support.yaml").read_text()
    path = tmp_path / "support.yaml"
    path.write_text(text.replace("notify: [secondary]}", "notify: [secondary], via: fax}"))
    team, problems = read_team(path)
    assert team is None
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "via: fax" in t)
    assert [str(p) for p in problems] == [
        f"{path}:{line}: escalation.steps[1].via: 'fax' is not one of: sms, voice, both"
    ]


def test_times_are_shown_in_the_team_zone():
    assert local_label(datetime(2026, 11, 24, 23, 0, tzinfo=UTC), TORONTO) == "Tue 24 Nov 18:00 EST"
