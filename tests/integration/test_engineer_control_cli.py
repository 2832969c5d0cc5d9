"""The command line and the config for issue 13: ``oncall rota who|show|ics`` with the TAKEs
from the service's database, ``oncall rota override list|remove`` (and ``--yaml``), ``oncall
check`` on a step's channel and on users' and tokens' ``member``, and the new config keys."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from icalendar import Calendar
from sqlalchemy import select

from oncall.bootstrap.runtime import build_runtime
from oncall.cli.main import main
from oncall.config.loading import load_settings
from oncall.config.yamlsource import SourceErrors
from oncall.db.models import LiveOverride
from oncall.sources.rotas.reading import read_team
from tests.conftest import ROOT
from tests.fakes.transports import BOB, DANA, FakeTransport, PagingWorld


@pytest.fixture
def world(settings, clock, db_engine) -> PagingWorld:
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


def oncall(runner, settings, *args: str):
    result = runner.invoke(main, ["--config", settings.source, *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


ROTA = ["--rotations", str(ROOT / "rotations")]
TORONTO = ZoneInfo("America/Toronto")


def test_rota_show_and_ics_include_a_take(world, runner, settings):
    world.sms(BOB, "TAKE primary for 2h")  # 03:00-05:00 Tuesday
    show = oncall(runner, settings, "rota", "show", *ROTA, "--team", "support",
                  "--from", "2026-11-24", "--days", "1")  # fmt: skip
    rows = [line.split() for line in show.output.splitlines() if line.startswith("primary")]
    assert rows[0][:11] == ["primary", "Mon", "2026-11-23", "09:00", "EST", "Tue", "2026-11-24",
                            "03:00", "EST", "Alice", "Ng"]  # fmt: skip
    assert " ".join(rows[1]).startswith(
        "primary Tue 2026-11-24 03:00 EST Tue 2026-11-24 05:00 EST Bob Roy primary override: "
        "taken by Bob Roy (sms)"
    )
    args = ["rota", "ics", *ROTA, "--team", "support", "--member", "bob", "--from", "2026-11-24"]
    ics = runner.invoke(main, ["--config", settings.source, *args, "--days", "1"])
    summaries = [str(e["summary"]) for e in Calendar.from_ical(ics.stdout_bytes).walk("VEVENT")]
    assert "On call: primary (Bob Roy) [override]" in summaries


def test_override_list_yaml_and_remove(world, runner, settings):
    # The command reads the real clock (at the edge): the TAKEs are made at the real time here.
    world.clock.set(datetime.now(UTC).replace(second=0, microsecond=0))
    start = world.clock.now()
    # Dana is on the team but on no rotation: whatever the date, her TAKEs replace somebody.
    assert world.sms(DANA, "TAKE primary for 3h").startswith("You are primary")
    assert world.sms(DANA, "TAKE secondary for 5h").startswith("You are secondary")
    listed = oncall(runner, settings, "rota", "override", "list").output.splitlines()
    assert listed[0].split() == ["ID", "TEAM", "LEVEL", "MEMBER", "FROM", "UNTIL", "MADE", "BY",
                                 "STATE"]  # fmt: skip
    assert [line.split()[:4] for line in listed[1:]] == [
        ["1", "support", "primary", "dana"],
        ["2", "support", "secondary", "dana"],
    ]
    label = "%a %d %b %H:%M %Z"
    take_from = start.astimezone(TORONTO).strftime(label)
    take_until = (start + timedelta(hours=3)).astimezone(TORONTO).strftime(label)
    assert f"{take_from} {take_until} Dana Ortiz (sms) live" in " ".join(listed[1].split())
    exported = oncall(runner, settings, "rota", "override", "list", "--yaml").output
    assert exported.splitlines()[0] == "# rotations/support.yaml (America/Toronto)"
    # The YAML is what the rota file's overrides: section takes, with local times.
    entries = yaml.safe_load(exported)["overrides"]

    def local(at):
        return at.astimezone(TORONTO).strftime("%Y-%m-%dT%H:%M")

    assert entries == [
        {"rotation": "primary", "member": "dana", "from": local(start),
         "until": local(start + timedelta(hours=3)), "note": "TAKE by Dana Ortiz"},
        {"rotation": "secondary", "member": "dana", "from": local(start),
         "until": local(start + timedelta(hours=5)), "note": "TAKE by Dana Ortiz"},
    ]  # fmt: skip
    rota_file = Path(settings.source).parent / "support.yaml"
    pasted = "\n".join(line for line in exported.splitlines() if line.startswith("  - "))
    text = (ROOT / "rotations" / "support.yaml").read_text()
    rota_file.write_text(text.replace("\noverrides:\n", f"\noverrides:\n{pasted}\n"))
    team, problems = read_team(rota_file)
    assert team is not None, problems
    assert len(team.overrides) == 3  # the file's own, and the two pasted

    removed = oncall(runner, settings, "rota", "override", "remove", "1", "--by", "Maria Lopez")
    assert removed.output == (
        "removed live override 1: dana as primary for support; Dana Ortiz is told by SMS\n"
    )
    world.advance(minutes=1)  # the service's sender, a moment later
    assert world.last_text(DANA) == (
        f"Maria Lopez removed your TAKE of primary for support (until {take_until}): the rota "
        "applies again. Reply WHO for the team."
    )
    again = runner.invoke(main, ["--config", settings.source, "rota", "override", "remove", "1"])
    assert again.exit_code == 1 and "already removed by Maria Lopez" in again.output
    missing = runner.invoke(main, ["--config", settings.source, "rota", "override", "remove", "9"])
    assert missing.exit_code == 1 and "No live override 9." in missing.output
    current = oncall(runner, settings, "rota", "override", "list").output
    assert "primary" not in current and "secondary" in current
    everything = oncall(runner, settings, "rota", "override", "list", "--all").output
    assert "removed by Maria Lopez" in everything
    exported = oncall(runner, settings, "rota", "override", "list", "--all", "--yaml").output
    assert "rotation: primary" not in exported and "rotation: secondary" in exported
    with world.runtime.sessions() as session:
        assert session.scalar(select(LiveOverride).where(LiveOverride.id == 1)).removed_at


def test_override_list_when_there_are_none(world, runner, settings):
    assert oncall(runner, settings, "rota", "override", "list").output == (
        "no live overrides in force or to come\n"
    )


def test_rota_who_without_a_database_reads_the_files(runner, tmp_path):
    for name in ("config.yaml", "customers.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "rotations", tmp_path / "rotations")
    result = runner.invoke(
        main,
        ["--config", str(tmp_path / "config.yaml"), "rota", "who", "--rotations",
         str(tmp_path / "rotations"), "--at", "2026-11-24 03:00"],
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'absent.db'}"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Alice Ng" in result.output
    assert not (tmp_path / "absent.db").exists()  # never created by a read


# -- oncall check -----------------------------------------------------------------------------
def project(tmp_path: Path) -> Path:
    for name in ("config.yaml", "customers.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "rotations", tmp_path / "rotations")
    shutil.copytree(ROOT / "voice_flows", tmp_path / "voice_flows")
    return tmp_path / "config.yaml"


def test_check_validates_a_steps_channel(runner, tmp_path):
    config = project(tmp_path)
    rota = tmp_path / "rotations" / "support.yaml"
    rota.write_text(rota.read_text().replace("notify: [primary]}", "notify: [primary], via: fax}"))
    result = runner.invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 1
    assert "escalation.steps[0].via: 'fax' is not one of: sms, voice, both" in result.output
    rota.write_text(rota.read_text().replace("via: fax", "via: voice"))
    assert runner.invoke(main, ["--config", str(config), "check"]).exit_code == 0


def test_check_wants_users_and_tokens_to_be_rota_members(runner, tmp_path):
    config = project(tmp_path)
    text = config.read_text().replace(
        "users: {}",
        'users:\n  alice: {role: engineer, password_hash: "pbkdf2:sha256:1$a$b", member: alice}\n'
        '  ghost: {role: engineer, password_hash: "pbkdf2:sha256:1$a$b", member: casper}',
    )
    text = text.replace(
        "  tokens: []",
        '  tokens: [{name: bot, token: "0123456789abcdefg", scope: act, member: nobody}]',
    )
    config.write_text(text)
    result = runner.invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 1
    assert "users.ghost.member: 'casper' is not on any rota" in result.output
    assert "api.tokens[bot].member: 'nobody' is not on any rota" in result.output
    assert "users.alice" not in result.output


# -- config -----------------------------------------------------------------------------------
def write_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("timezone: UTC\npublic_url: http://x.example\n" + extra)
    return path


def test_the_new_keys_and_their_defaults(tmp_path):
    plain = load_settings(write_config(tmp_path, ""), environ={})
    assert plain.engine.bundle_max_cases == 10
    assert (plain.notify.shift_start, plain.notify.shift_reminder) == (True, None)
    shipped = load_settings(ROOT / "config.yaml", environ={})
    assert shipped.notify.shift_start is True and shipped.engine.bundle_max_cases == 10
    custom = load_settings(
        write_config(
            tmp_path,
            "engine: {bundle_max_cases: 5}\nnotify: {shift_start: false, shift_reminder: 1h}\n"
            'users: {al: {role: engineer, password_hash: "x:y", member: alice}}\n'
            'api: {tokens: [{name: bot, token: "0123456789abcdefg", scope: act}]}\n',
        ),
        environ={},
    )
    assert custom.engine.bundle_max_cases == 5
    assert (custom.notify.shift_start, custom.notify.shift_reminder) == (False, timedelta(hours=1))
    assert custom.users["al"].member == "alice"
    (token,) = custom.api_tokens
    assert (token.scope, token.member) == ("act", None)
    off = load_settings(write_config(tmp_path, "notify: {shift_reminder: off}\n"), environ={})
    assert off.notify.shift_reminder is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("engine: {bundle_max_cases: 0}\n", "engine.bundle_max_cases"),
        ("notify: {shift_start: sometimes}\n", "notify.shift_start: expected true or false"),
        ("notify: {shift_reminder: soon}\n", 'notify.shift_reminder: "soon" is not a duration'),
        ("notify: {shift_remind: 1h}\n", "notify.shift_remind: unknown key"),
        ('api: {tokens: [{name: b, token: "0123456789abcdefg", scope: write}]}\n',
         "scope: 'write' is not one of: read, act"),
    ],
)  # fmt: skip
def test_bad_values_of_the_new_keys(tmp_path, extra, message):
    with pytest.raises(SourceErrors) as info:
        load_settings(write_config(tmp_path, extra), environ={})
    assert any(message in str(e) for e in info.value.errors), info.value.errors


def test_user_add_names_the_rota_member(runner, make_settings):
    result = runner.invoke(
        main,
        ["user", "add", "alice", "--role", "engineer", "--member", "alice", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    entry = yaml.safe_load(result.stdout)  # the hint to paste it is on stderr
    assert entry["alice"]["member"] == "alice"
    assert make_settings(users=entry).users["alice"].member == "alice"  # valid config as printed
    odd = runner.invoke(
        main, ["user", "add", "al", "--member", "not a key", "--password-stdin"], input="x" * 12
    )
    assert odd.exit_code == 2
