"""Loading rota files: every validation error with file:line: key, coverage, and hot reload."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oncall.clock import FakeClock
from oncall.config.yamlsource import SourceErrors
from oncall.domain.rota.resolve import who_is_on_call
from oncall.sources.rotas.coverage import coverage_problems
from oncall.sources.rotas.directory import check_directory
from oncall.sources.rotas.reading import load_team, read_team
from oncall.sources.rotas.registry import RotaRegistry

ROOT = Path(__file__).resolve().parents[2]
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Mon 07:00 in Toronto

GOOD = """\
team: support
timezone: America/Toronto
members:
  alice: {name: Alice Ng, phone: "+15550100101", email: alice@example.com}
  bob: {name: Bob Roy, phone: "+15550100102"}
  carol: {name: Carol Li, phone: "+15550100103"}
  dana: {name: Dana Ortiz, phone: "+15550100104"}
rotations:
  primary:
    members: [alice, bob, carol]
    shift: 1w
    start: 2026-11-02T09:00
  secondary:
    members: [bob, carol, alice]
    shift: 1w
    start: 2026-11-02T09:00
overrides:
  - {rotation: primary, member: carol, from: 2026-11-24T18:00, until: 2026-11-25T09:00}
escalation:
  repeat: 1
  steps:
    - {after: 0m, notify: [primary]}
    - {after: 5m, notify: [secondary]}
    - {after: 10m, notify: [dana]}
manager: dana
"""


def edit(old: str, new: str, text: str = GOOD) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def problems_of(text: str) -> list[str]:
    _team, problems = read_team("support.yaml", text, "rotations/support.yaml")
    return [str(p) for p in problems]


def test_the_good_file_and_the_shipped_example_have_no_problems():
    team, problems = read_team("support.yaml", GOOD)
    assert problems == [] and team is not None
    assert team.levels() == ["primary", "secondary"]
    teams, problems = check_directory(ROOT / "rotations", NOW)
    assert [str(p) for p in problems] == []
    assert list(teams) == ["support"]
    shipped = teams["support"]
    assert shipped.manager == "dana" and shipped.escalation.repeat == 1
    assert len(shipped.overrides) == 1


BAD_CASES = [
    # (what, old, new, expected problem): `new` replaces `old` in GOOD
    (
        "unknown member",
        "members: [alice, bob, carol]",
        "members: [alice, bobb, carol]",
        "rotations/support.yaml:10: rotations.primary.members[1]: 'bobb' is not a member"
        " (did you mean 'bob'?)",
    ),
    (
        "duplicate rotation",
        "  secondary:\n",
        "  primary:\n",
        "rotations/support.yaml:13: invalid YAML: duplicate key 'primary' (first on line 9)",
    ),
    (
        "member named like a rotation",
        "  dana: {",
        '  secondary: {name: X, phone: "+15550100109"}\n  dana: {',
        "rotations/support.yaml:7: members.secondary: 'secondary' is both a member and a rotation"
        " or level: notify names must be unambiguous",
    ),
    (
        "unknown time zone",
        "timezone: America/Toronto",
        "timezone: America/Torronto",
        "rotations/support.yaml:2: timezone: unknown time zone 'America/Torronto'"
        " (did you mean 'America/Toronto'?) (use an IANA name like America/Toronto)",
    ),
    (
        "bad duration",
        "    shift: 1w\n    start: 2026-11-02T09:00\n  secondary",
        "    shift: 1 week\n    start: 2026-11-02T09:00\n  secondary",
        'rotations/support.yaml:11: rotations.primary.shift: "1 week" is not a duration like 15m',
    ),
    (
        "zero shift",
        "    shift: 1w\n    start: 2026-11-02T09:00\n  secondary",
        "    shift: 0m\n    start: 2026-11-02T09:00\n  secondary",
        'rotations/support.yaml:11: rotations.primary.shift: "0m" must be longer than zero',
    ),
    (
        "start not a local datetime",
        "    start: 2026-11-02T09:00\n  secondary",
        "    start: next monday\n  secondary",
        'rotations/support.yaml:12: rotations.primary.start: "next monday" is not a local date and'
        " time like 2026-11-02T09:00",
    ),
    (
        "start with an offset",
        "    start: 2026-11-02T09:00\n  secondary",
        "    start: 2026-11-02T09:00-05:00\n  secondary",
        'rotations/support.yaml:12: rotations.primary.start: "2026-11-02T09:00-05:00" has a UTC'
        " offset; write the local time in the team's time zone, like 2026-11-02T09:00",
    ),
    (
        "override until before from",
        "until: 2026-11-25T09:00",
        "until: 2026-11-24T09:00",
        "rotations/support.yaml:18: overrides[0].until: 2026-11-24T09:00 must be after from"
        " (2026-11-24T18:00)",
    ),
    (
        "override until equals from",
        "until: 2026-11-25T09:00",
        "until: 2026-11-24T18:00",
        "rotations/support.yaml:18: overrides[0].until: 2026-11-24T18:00 must be after from"
        " (2026-11-24T18:00)",
    ),
    (
        "override member not in team",
        "member: carol, from",
        "member: zed, from",
        "rotations/support.yaml:18: overrides[0].member: 'zed' is not a member of this team",
    ),
    (
        "override unknown rotation",
        "{rotation: primary, member: carol",
        "{rotation: primery, member: carol",
        "rotations/support.yaml:18: overrides[0].rotation: 'primery' is not a rotation of this team"
        " (did you mean 'primary'?)",
    ),
    (
        "steps out of order",
        "{after: 5m, notify: [secondary]}",
        "{after: 0m, notify: [secondary]}",
        "rotations/support.yaml:23: escalation.steps[1].after: steps must be in order: each step's"
        " after (the time since the case opened) must be later than the previous step's (0s)",
    ),
    (
        "notify names nothing known",
        "notify: [secondary]",
        "notify: [secondery]",
        "rotations/support.yaml:23: escalation.steps[1].notify[0]: 'secondery' is not a level,"
        " rotation or member of this team (did you mean 'secondary'?)",
    ),
    (
        "policy pages nobody",
        "    - {after: 0m, notify: [primary]}\n    - {after: 5m, notify: [secondary]}\n"
        "    - {after: 10m, notify: [dana]}\n",
        "    - {after: 0m, notify: [nobody]}\n",
        "rotations/support.yaml:21: escalation.steps: the escalation policy pages nobody",
    ),
    (
        "manager not a member",
        "manager: dana",
        "manager: erin",
        "rotations/support.yaml:25: manager: 'erin' is not a member of this team",
    ),
    (
        "team key is not the file name",
        "team: support",
        "team: ops",
        "rotations/support.yaml:1: team: 'ops' must match the file name: this file is support.yaml",
    ),
    (
        "phone without an area code",
        '"+15550100102"',
        '"555-0102"',
        'rotations/support.yaml:5: members.bob.phone: "555-0102" is not a phone number (no area'
        ' code): write it like "+12015550123" (or, in US, "(201) 555-0123")',
    ),
    (
        "phone unquoted, its + lost",
        '"+15550100102"',
        "+447700900123",
        'rotations/support.yaml:5: members.bob.phone: "447700900123" is not a phone number (too'
        ' many digits): write it like "+12015550123" (or, in US, "(201) 555-0123"), and quote it:'
        " YAML reads an unquoted number as digits and drops the +",
    ),
    (
        "misspelt key",
        "    shift: 1w\n    start: 2026-11-02T09:00\n  secondary",
        "    shfit: 1w\n    start: 2026-11-02T09:00\n  secondary",
        "rotations/support.yaml:11: rotations.primary.shfit: unknown key (did you mean 'shift'?)",
    ),
    (
        "unquoted window time",
        "    start: 2026-11-02T09:00\n  secondary",
        "    start: 2026-11-02T09:00\n    window: {days: mon-fri, from: 18:00}\n  secondary",
        "rotations/support.yaml:13: rotations.primary.window.from: write times in quotes, like"
        ' "18:00" (YAML reads an unquoted time as the number 1080)',
    ),
    (
        "bad window day",
        "    start: 2026-11-02T09:00\n  secondary",
        "    start: 2026-11-02T09:00\n"
        '    window: {days: [mon, funday], from: "18:00"}\n  secondary',
        'rotations/support.yaml:13: rotations.primary.window.days: "funday" is not a day: use mon,'
        " tue, wed, thu, fri, sat, sun or mon-fri",
    ),
    # secondary becomes a layer of primary, and primary says it serves level "secondary".
    (
        "level named after another level's rotation",
        "  primary:\n    members",
        "  primary:\n    level: secondary\n    members",
        "rotations/support.yaml:10: rotations.primary.level: 'secondary' is the name of a rotation"
        " that serves level 'primary'; pick another level name",
    ),
    (
        "no escalation",
        "escalation:\n  repeat: 1\n  steps:\n    - {after: 0m, notify: [primary]}\n"
        "    - {after: 5m, notify: [secondary]}\n    - {after: 10m, notify: [dana]}\n",
        "",
        "rotations/support.yaml:1: missing required key 'escalation'",
    ),
]


LEVEL_CLASH_BASE = edit(
    "  secondary:\n    members", "  secondary:\n    level: primary\n    members"
)


@pytest.mark.parametrize(
    ("what", "old", "new", "expected"), BAD_CASES, ids=[case[0] for case in BAD_CASES]
)
def test_validation_errors_name_file_line_and_key(what, old, new, expected):
    text = edit(old, new, LEVEL_CLASH_BASE if what.startswith("level named") else GOOD)
    found = problems_of(text)
    assert expected in found, "\n".join(found)
    team, _ = read_team("support.yaml", text)
    assert team is None


def test_layer_of_its_own_level_is_fine_and_level_may_be_shared():
    text = edit(
        "  secondary:\n    members",
        "  nights:\n    level: primary\n    members: [dana]\n    shift: 1d\n"
        "    start: 2026-11-02T18:00\n"
        '    window: {days: mon-fri, from: "18:00", until: "09:00"}\n'
        "  secondary:\n    members",
    )
    team, problems = read_team("support.yaml", text)
    assert problems == [] and team is not None
    assert team.levels() == ["primary", "secondary"]
    at = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Mon 20:00 Toronto
    assert who_is_on_call(team, "primary", at).member.key == "dana"


def test_warnings_do_not_block_loading():
    text = edit("manager: dana\n", "")
    text = edit(
        "until: 2026-11-25T09:00}",
        "until: 2026-11-25T09:00}\n"
        "  - {rotation: primary, member: dana, from: 2026-11-25T00:00,"
        " until: 2026-11-25T02:00}",
        text,
    )
    team, problems = read_team("support.yaml", text, "rotations/support.yaml")
    assert team is not None
    assert [str(p) for p in problems] == [
        "rotations/support.yaml:1: warning: no manager: SLA breaches will page nobody"
        " (add manager: <member>)",
        "rotations/support.yaml:19: warning: overrides[1]: overlaps overrides[0] (carol) on level"
        " 'primary': this later one wins while both apply",
    ]


def test_dst_local_times_are_explained():
    text = edit(
        "from: 2026-11-24T18:00, until: 2026-11-25T09:00",
        "from: 2027-03-14T02:30, until: 2027-03-15T09:00",
    )
    _team, problems = read_team("support.yaml", text, "rotations/support.yaml")
    assert [str(p) for p in problems] == [
        "rotations/support.yaml:18: warning: overrides[0].from: 2027-03-14 02:30 does not exist in"
        " America/Toronto (the clocks skip it); it means Sun 2027-03-14 03:00 EDT, when the"
        " clocks jump"
    ]


@pytest.mark.parametrize("written", ['"+1 416 555 0101"', '"(416) 555-0101"', "4165550101"])
def test_a_phone_in_any_form_is_the_same_number(written):
    # The same forms mean the same number in config.yaml and customers.yaml.
    team, problems = read_team("support.yaml", edit('"+15550100102"', written))
    assert problems == []
    assert team.members["bob"].phone == "+14165550101"


def test_national_phones_are_read_in_the_configured_region(tmp_path):
    text = edit('"+15550100102"', '"07700 900123"')
    team, problems = read_team("support.yaml", text, phone_region="GB")
    assert problems == [] and team.members["bob"].phone == "+447700900123"
    assert team.members["alice"].phone == "+15550100101"  # a + always wins
    (tmp_path / "support.yaml").write_text(text)
    teams, _problems = check_directory(tmp_path, NOW, phone_region="GB")
    assert teams["support"].members["bob"].phone == "+447700900123"
    registry = RotaRegistry(tmp_path, FakeClock(NOW), phone_region="GB")
    registry.load()
    assert registry.team("support").members["bob"].phone == "+447700900123"
    _team, problems = read_team("support.yaml", text)  # in the default region, US
    assert "too many digits" in str(problems[0])


def window_spans(window: str) -> tuple:
    text = edit(
        "    start: 2026-11-02T09:00\n  secondary",
        f"    start: 2026-11-02T09:00\n    window: {window}\n  secondary",
    )
    team, _problems = read_team("support.yaml", text)
    return team.rotations[0].window.spans


@pytest.mark.parametrize(
    ("window", "spans"),
    [
        # "24:00" is the end of the day, as in config.yaml's business hours.
        ('{days: [mon], from: "18:00", until: "24:00"}', [(18 * HOUR, 6 * HOUR)]),
        ('{days: [mon], from: "18:00", until: "00:00"}', [(18 * HOUR, 6 * HOUR)]),
        ('{days: [mon], from: "24:00", until: "06:00"}', [(DAY, 6 * HOUR)]),  # Tue 00:00
        ("{from: fri 18:00, until: sun 24:00}", [(4 * DAY + 18 * HOUR, 2 * DAY + 6 * HOUR)]),
        ("{from: fri 18:00, until: sun 00:00}", [(4 * DAY + 18 * HOUR, DAY + 6 * HOUR)]),
    ],
)
def test_24_00_in_a_window_is_the_end_of_the_day(window, spans):
    assert list(window_spans(window)) == spans


def test_load_team_raises_every_error():
    with pytest.raises(SourceErrors) as caught:
        load_team(ROOT / "tests" / "no-such-rota.yaml")
    assert "file not found" in str(caught.value)


# -- coverage ---------------------------------------------------------------------------------

NIGHTS_ONLY = edit(
    "    start: 2026-11-02T09:00\n  secondary",
    '    start: 2026-11-02T09:00\n    window: {days: mon-fri, from: "18:00", until: "09:00"}\n'
    "  secondary",
)


def test_coverage_gap_in_first_step_is_an_error_later_steps_a_warning():
    text = edit(
        "  secondary:\n    members: [bob, carol, alice]\n    shift: 1w\n",
        "  secondary:\n    members: [bob, carol, alice]\n    shift: 1w\n"
        "    window: {days: [sat, sun]}\n",
        NIGHTS_ONLY,
    )
    team, _ = read_team("support.yaml", text, "rotations/support.yaml")
    problems = coverage_problems(team, NOW, days=7)
    assert [(p.severity, p.line, p.path) for p in problems] == [
        ("error", 24, "escalation.steps[0].notify"),
        ("warning", 25, "escalation.steps[1].notify"),
    ]
    # Weekday nights only: the days, and the weekend from Saturday 09:00, have nobody.
    assert str(problems[0]) == (
        "rotations/support.yaml:24: escalation.steps[0].notify: nobody is on call for 'primary'"
        " from Mon 2026-11-23 07:00 EST until Mon 2026-11-23 18:00 EST,"
        " from Tue 2026-11-24 09:00 EST until Tue 2026-11-24 18:00 EST,"
        " from Wed 2026-11-25 09:00 EST until Wed 2026-11-25 18:00 EST and 3 more gaps"
        " (next 7 days): a case opened then pages nobody in the first step"
    )
    assert str(problems[1]) == (
        "rotations/support.yaml:25: warning: escalation.steps[1].notify: nobody is on call for"
        " 'secondary' from Mon 2026-11-23 07:00 EST until Sat 2026-11-28 00:00 EST,"
        " from Mon 2026-11-30 00:00 EST until Mon 2026-11-30 07:00 EST (next 7 days):"
        " step 2 pages nobody then"
    )


def test_coverage_future_start_is_an_error():
    text = edit(
        "    start: 2026-11-02T09:00\n  secondary", "    start: 2027-01-04T09:00\n  secondary"
    )
    team, _ = read_team("support.yaml", text)
    (problem,) = coverage_problems(team, NOW)
    assert problem.severity == "error"
    # Nobody until the start (beyond the 28 days), except during Carol's override.
    assert problem.message.startswith(
        "nobody is on call for 'primary' from Mon 2026-11-23 07:00 EST until Tue 2026-11-24"
        " 18:00 EST, from Wed 2026-11-25 09:00 EST until Mon 2026-12-21 07:00 EST (next 28 days)"
    )


def test_check_directory_lists_every_file_and_problem(tmp_path):
    (tmp_path / "support.yaml").write_text(NIGHTS_ONLY)
    (tmp_path / "ops.yaml").write_text(
        edit(
            "team: support",
            "team: ops",
            edit("members: [alice, bob, carol]", "members: [alice, zed]"),
        )
    )
    (tmp_path / "old.yml").write_text(GOOD)
    teams, problems = check_directory(tmp_path, NOW)
    assert list(teams) == ["support"]
    text = [str(p) for p in problems]
    assert f"{tmp_path}/old.yml: warning: ignored: rota files must end in .yaml" in text
    assert f"{tmp_path}/ops.yaml:10: rotations.primary.members[1]: 'zed' is not a member" in text
    assert any(
        t.startswith(f"{tmp_path}/support.yaml:23: escalation.steps[0].notify: nobody")
        for t in text
    )
    _teams, problems = check_directory(tmp_path / "missing", NOW)
    assert [str(p) for p in problems] == [f"{tmp_path}/missing: rotations directory not found"]


# -- hot reload -------------------------------------------------------------------------------


class Files:
    """Writes rota files with a modification time that always moves, as a real edit would
    (two writes within one filesystem tick could otherwise share an mtime)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.tick = 0

    def write(self, name: str, text: str) -> Path:
        path = self.directory / name
        path.write_text(text)
        self.tick += 1
        stamp = 1_800_000_000_000_000_000 + self.tick * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))
        return path


@pytest.fixture
def files(tmp_path):
    return Files(tmp_path)


@pytest.fixture
def clock():
    return FakeClock(NOW)


def primary_now(registry, clock):
    current = who_is_on_call(registry.team("support"), "primary", clock.now())
    return current.member.key


def test_registry_loads_and_polls(files, clock):
    files.write("support.yaml", GOOD)
    registry = RotaRegistry(files.directory, clock)
    registry.load()
    assert list(registry.teams()) == ["support"]
    assert registry.errors() == [] and registry.warnings() == []
    assert primary_now(registry, clock) == "carol"  # week of Nov 16: carol, until 09:00
    assert registry.poll() is False  # nothing changed


def test_broken_edit_keeps_last_good_version_live_until_fixed(files, clock, caplog):
    files.write("support.yaml", GOOD)
    registry = RotaRegistry(files.directory, clock)
    registry.load()
    live = registry.team("support")

    files.write("support.yaml", edit("members: [alice, bob, carol]", "members: [alice, bobb]"))
    with caplog.at_level(logging.ERROR, logger="oncall.sources.rotas"):
        assert registry.poll() is True
    assert registry.team("support") is live  # paging goes on with the last good version
    errors = [str(e) for e in registry.errors()]
    path = files.directory / "support.yaml"
    assert errors[0] == (
        f"{path}:10: rotations.primary.members[1]: 'bobb' is not a member (did you mean 'bob'?)"
    )
    assert errors[1].startswith(f"{path}: this edit is not live: paging uses the version loaded")
    assert "edit rejected, the version loaded at 2026-11-23 12:00:00 UTC stays live" in caplog.text
    assert "'bobb' is not a member" in caplog.text

    clock.advance(minutes=5)
    files.write("support.yaml", edit("members: [alice, bob, carol]", "members: [carol, alice]"))
    assert registry.poll() is True
    assert registry.errors() == []
    assert registry.team("support").rotations[0].members == ("carol", "alice")


def test_added_and_removed_files(files, clock):
    files.write("support.yaml", GOOD)
    registry = RotaRegistry(files.directory, clock)
    registry.load()
    files.write("ops.yaml", edit("team: support", "team: ops"))
    assert registry.poll() is True
    assert sorted(registry.teams()) == ["ops", "support"]
    # A deleted file is a problem, not a wish: its team keeps paging with the last good
    # version until a manager retires it.
    live = registry.team("support")
    (files.directory / "support.yaml").unlink()
    assert registry.poll() is True
    assert registry.team("support") is live
    (gone,) = registry.vanished()
    assert (gone.team, gone.file_name, gone.look_alikes) == ("support", "support.yaml", ())
    assert registry.poll() is False  # reported once, not "changed" at every poll
    assert registry.retire("ops") is False  # its file is there: not touched
    assert registry.retire("support") is True
    assert sorted(registry.teams()) == ["ops"] and registry.vanished() == []
    # Editor droppings are not rota files.
    files.write(".#ops.yaml", "not: [yaml")
    assert registry.poll() is False


def test_a_renamed_rota_keeps_paging_until_it_is_back(files, clock, caplog):
    path = files.write("support.yaml", GOOD)
    registry = RotaRegistry(files.directory, clock)
    registry.load()
    live = registry.team("support")
    clock.advance(minutes=10)
    path.rename(files.directory / "support.yml")  # same inode, same times
    with caplog.at_level(logging.ERROR, logger="oncall.sources.rotas"):
        assert registry.poll() is True
    assert registry.team("support") is live
    assert primary_now(registry, clock) == "carol"
    (gone,) = registry.vanished()
    assert gone.look_alikes == ("support.yml",) and gone.vanished_at == clock.now()
    assert "support.yml found: rota files must end in .yaml" in caplog.text
    assert "`oncall rota retire support`" in caplog.text
    assert registry.teams_with_files() == set()
    # Renamed back: the very same file (inode and times) is live again, not "vanished".
    (files.directory / "support.yml").rename(path)
    assert registry.poll() is True
    assert registry.vanished() == [] and registry.teams_with_files() == {"support"}
    assert registry.team("support") == live


def test_a_broken_edit_that_is_then_deleted_leaves_only_the_gone_file_to_report(files, clock):
    files.write("support.yaml", GOOD)
    registry = RotaRegistry(files.directory, clock)
    registry.load()
    live = registry.team("support")
    files.write("support.yaml", edit("timezone: America/Toronto", "timezone: Mars/Olympus"))
    registry.poll()
    assert registry.errors()
    (files.directory / "support.yaml").unlink()
    registry.poll()
    assert registry.errors() == [] and registry.team("support") is live
    assert [gone.file_name for gone in registry.vanished()] == ["support.yaml"]


def test_a_gone_rota_no_customer_names_is_forgotten(files, clock):
    files.write("support.yaml", GOOD)
    files.write("ops.yaml", edit("team: support", "team: ops"))
    registry = RotaRegistry(files.directory, clock)
    registry.load()
    (files.directory / "support.yaml").unlink()
    (files.directory / "ops.yaml").unlink()
    registry.poll()
    assert registry.forget_vanished_except({"support"}) == ["ops"]
    assert list(registry.teams()) == ["support"]


def test_a_file_that_never_loaded_is_simply_forgotten_when_removed(files, clock):
    files.write("support.yaml", edit("timezone: America/Toronto", "timezone: Mars/Olympus"))
    registry = RotaRegistry(files.directory, clock)
    registry.load()
    assert registry.errors()
    (files.directory / "support.yaml").unlink()
    assert registry.poll() is True
    assert registry.errors() == [] and registry.vanished() == [] and registry.teams() == {}


def test_file_broken_from_the_start_is_not_loaded_but_reported(files, clock):
    files.write("support.yaml", edit("timezone: America/Toronto", "timezone: Mars/Olympus"))
    registry = RotaRegistry(files.directory, clock)
    registry.load()
    assert registry.teams() == {}
    assert "unknown time zone 'Mars/Olympus'" in str(registry.errors()[0])


def test_reload_rereads_every_file(files, clock):
    path = files.write("support.yaml", GOOD)
    registry = RotaRegistry(files.directory, clock)
    registry.load()
    path.write_text(edit("manager: dana", "manager: alice"))  # no mtime bump: poll may miss it
    registry.reload()  # SIGHUP
    assert registry.team("support").manager == "alice"


def test_edit_that_opens_a_first_step_gap_is_rejected(files, clock, caplog):
    files.write("support.yaml", GOOD)
    registry = RotaRegistry(files.directory, clock)
    registry.load()
    live = registry.team("support")
    # A typo in the year: primary would have nobody until 2027.
    files.write(
        "support.yaml",
        edit(
            "    start: 2026-11-02T09:00\n  secondary", "    start: 2027-11-02T09:00\n  secondary"
        ),
    )
    registry.poll()
    assert registry.team("support") is live
    messages = [e.message for e in registry.errors()]
    assert any(
        m.startswith(
            "this edit would leave 'primary' with nobody on call from Mon 2026-11-23 07:00 EST"
        )
        for m in messages
    )


def test_existing_coverage_gap_does_not_block_unrelated_edits(files, clock):
    files.write("support.yaml", NIGHTS_ONLY)
    registry = RotaRegistry(files.directory, clock)
    registry.load()  # loaded (some paging beats none), with the gap reported
    assert registry.team("support") is not None
    assert "nobody is on call for 'primary'" in registry.errors()[0].message
    files.write("support.yaml", edit('"+15550100101"', '"+15550100111"', NIGHTS_ONLY))
    registry.poll()
    assert registry.team("support").members["alice"].phone == "+15550100111"
    assert all("edit is not live" not in e.message for e in registry.errors())


def test_coverage_is_rechecked_as_time_passes(files, clock):
    # Primary starts on 2027-01-04; an override covers it until 2026-12-30. Today the 28-day
    # horizon ends before the gap; three weeks later it doesn't.
    text = edit(
        "    start: 2026-11-02T09:00\n  secondary", "    start: 2027-01-04T09:00\n  secondary"
    )
    text = edit(
        "from: 2026-11-24T18:00, until: 2026-11-25T09:00",
        "from: 2026-11-20T09:00, until: 2026-12-30T09:00",
        text,
    )
    files.write("support.yaml", text)
    registry = RotaRegistry(files.directory, clock, coverage_every=timedelta(hours=1))
    registry.load()
    assert registry.errors() == []
    clock.advance(days=21)
    assert registry.poll() is False  # no file changed ...
    (gap,) = registry.errors()  # ... but the gap is now inside the horizon
    assert "from Wed 2026-12-30 09:00 EST until Mon 2027-01-04 09:00 EST" in gap.message


def test_missing_directory_keeps_the_teams(files, clock, tmp_path):
    directory = tmp_path / "rotas"
    directory.mkdir()
    shutil.copy(ROOT / "rotations" / "support.yaml", directory / "support.yaml")
    registry = RotaRegistry(directory, clock)
    registry.load()
    shutil.rmtree(directory)
    assert registry.poll() is False
    assert list(registry.teams()) == ["support"]
    assert registry.errors()[0].message == "rotations directory not found; rotas kept"
