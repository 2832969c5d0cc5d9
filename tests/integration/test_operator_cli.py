"""The command line as an operator meets it (issue 15, findings 3 and 6).

One base directory: every path in config.yaml, the SQLite file included, is relative to the
config's folder, whatever the current directory. No tracebacks for the common slips: an
unreachable service, a missing database, missing tables, an unknown team, a busy port are one
sentence and exit code 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from oncall.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
ONCALL = Path(sys.executable).parent / "oncall"


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the shipped files in their own folder; returns its config.yaml."""
    folder = tmp_path / "srv"
    folder.mkdir()
    for name in ("config.yaml", "customers.yaml"):
        shutil.copy(ROOT / name, folder / name)
    for name in ("rotations", "voice_flows"):
        shutil.copytree(ROOT / name, folder / name)
    return folder / "config.yaml"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """An empty current directory that is not the project's (``cd /tmp``)."""
    for name in ("DATABASE_URL", "ONCALL_CONFIG", "ONCALL_ROTATIONS", "ONCALL_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def oncall(runner, config: Path, *args: str):
    return runner.invoke(main, ["--config", str(config), *args])


def one_error_line(result) -> str:
    """The output of a refused command: exit 1, one line, no traceback."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- one base directory ---------------------------------------------------------------------
def test_cd_elsewhere_with_config_uses_the_config_folder_for_every_path(runner, project, elsewhere):
    folder = project.parent
    assert oncall(runner, project, "db", "upgrade").exit_code == 0
    assert (folder / "oncall.db").is_file()
    for args in (
        ["check"],
        ["report", "sla", "--month", "2026-11"],
        ["report", "misuse", "--month", "2026-11", "--csv"],
        ["rota", "check", "--from", "2026-11-23T12:00"],
        ["rota", "who", "--at", "2026-11-24 03:00"],
        ["rota", "show", "--from", "2026-11-24", "--days", "2"],
        ["rota", "ics", "--from", "2026-11-24", "--days", "2"],
        ["rota", "feed-url", "--member", "alice"],
    ):
        result = oncall(runner, project, *args)
        assert result.exit_code == 0, (args, result.output, result.exception)
    assert list(elsewhere.iterdir()) == []  # no stray oncall.db (or anything) here


def test_rota_commands_read_the_rota_directory_the_config_names(runner, project, elsewhere):
    folder = project.parent
    (folder / "rotations").rename(folder / "teams")
    project.write_text(project.read_text().replace("rotations: rotations/", "rotations: teams/"))
    result = oncall(runner, project, "rota", "who", "--at", "2026-11-24 03:00")
    assert result.exit_code == 0, result.output
    assert "primary    Alice Ng" in result.output
    check = oncall(runner, project, "rota", "check", "--from", "2026-11-23T12:00")
    assert check.output == "ok: 1 team(s) (support), covered for the next 28 days\n"


def test_rota_who_with_config_after_the_command_replayed_as_written(runner, project, elsewhere):
    """Finding 3: `oncall rota who --config …` ignored the config's rota path."""
    folder = project.parent
    (folder / "rotations").rename(folder / "teams")
    project.write_text(project.read_text().replace("rotations: rotations/", "rotations: teams/"))
    for args in (
        ["rota", "who", "--config", str(project), "--at", "2026-11-24 20:00"],
        ["rota", "who", "--at", "2026-11-24 20:00", f"--config={project}"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "primary    Carol Li" in result.output
    debug = runner.invoke(main, ["report", "sla", "--config", str(project), "--debug"])
    assert debug.exception is not None and "Error:" not in debug.output  # the traceback


def test_the_config_from_oncall_config_is_honoured_too(runner, project, elsewhere, monkeypatch):
    monkeypatch.setenv("ONCALL_CONFIG", str(project))
    result = runner.invoke(main, ["rota", "show", "--from", "2026-11-24", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("support: on call from Tue 2026-11-24 00:00 EST")


def test_a_broken_config_stops_rota_commands_that_need_its_path_and_names_the_line(
    runner, project, elsewhere
):
    text = project.read_text().replace("  rotations: rotations/", "  rotations: [rotations/]")
    project.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "[rotations/]" in t)
    result = oncall(runner, project, "rota", "who")
    assert result.exit_code == 1
    assert result.output == (f"{project}:{line}: paths.rotations: expected text, got a list\n")
    rotations = project.parent / "rotations"
    given = oncall(runner, project, "rota", "who", "--rotations", str(rotations), "--phone")
    assert given.exit_code == 0, given.output  # with the directory named, the config can wait


def test_cd_tmp_report_sla_replayed_as_written(project, elsewhere):
    """Finding 3 as a real process: `cd /tmp && oncall --config …/config.yaml report sla`."""

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ONCALL), "--config", str(project), *args],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=60,
        )

    before = run("report", "sla")
    assert before.returncode == 1
    assert before.stderr == (
        f"Error: no database at {project.parent / 'oncall.db'}: run `oncall db upgrade` "
        "to create it\n"
    )
    assert run("db", "upgrade").returncode == 0
    after = run("report", "sla", "--month", "2026-11")
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("SLA report for 2026-11 (America/Toronto)")
    assert list(elsewhere.iterdir()) == []


# -- no tracebacks --------------------------------------------------------------------------
def test_simulate_against_a_service_that_is_not_running(runner, project, elsewhere):
    port = free_port()
    args = ["simulate", "sms", "--url", f"http://127.0.0.1:{port}", "--from", "+15550100101"]
    line = one_error_line(oncall(runner, project, *args, "ACK"))
    assert line == (
        f"Error: cannot reach the service at http://127.0.0.1:{port} (connection refused): is it "
        "running (`oncall serve`), and are --url and public_url right?"
    )
    debug = runner.invoke(main, ["--debug", "--config", str(project), *args, "ACK"])
    assert isinstance(debug.exception, requests.ConnectionError)  # the traceback, on demand


def test_a_missing_sqlite_database_is_a_sentence_and_no_new_file(runner, project, elsewhere):
    line = one_error_line(oncall(runner, project, "report", "misuse"))
    path = project.parent / "oncall.db"
    assert line == f"Error: no database at {path}: run `oncall db upgrade` to create it"
    assert not path.exists()
    waive = oncall(runner, project, "misuse", "waive", "1001", "--reason", "goodwill")
    assert one_error_line(waive) == line
    assert one_error_line(oncall(runner, project, "clock")) == line
    assert one_error_line(oncall(runner, project, "rota", "retire", "support")) == line


def test_a_missing_postgresql_database_is_a_sentence(runner, project, elsewhere, pg_url):
    name = f"oncall_missing_{uuid.uuid4().hex[:8]}"
    missing = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    shown = make_url(missing).render_as_string(hide_password=True)
    for args in (["report", "sla"], ["db", "upgrade"]):
        result = runner.invoke(
            main, ["--config", str(project), *args], env={"DATABASE_URL": missing}
        )
        verb = "migrate" if args[0] == "db" else "use"
        assert one_error_line(result) == (
            f'Error: cannot {verb} the database {shown}: database "{name}" does not exist: '
            f"create it (`createdb {name}`), then run `oncall db upgrade`"
        )


def test_missing_tables_say_run_db_upgrade(runner, project, elsewhere, db_url, tmp_path):
    if db_url.startswith("sqlite"):
        empty = tmp_path / "empty.db"
        empty.touch()
        url = f"sqlite:///{empty}"
    else:  # the same database seen through a schema with no tables in it
        url = make_url(db_url).update_query_dict({"options": "-csearch_path=no_tables"})
        url = url.render_as_string(hide_password=False)
    shown = make_url(url).render_as_string(hide_password=True)
    result = runner.invoke(
        main, ["--config", str(project), "report", "sla"], env={"DATABASE_URL": url}
    )
    assert one_error_line(result) == (
        f"Error: the database {shown} has no tables yet: run `oncall db upgrade`"
    )


def test_an_unknown_team_is_a_sentence(runner, project, elsewhere):
    for command in ("who", "show", "ics", "feed-url"):
        line = one_error_line(oncall(runner, project, "rota", command, "--team", "ops"))
        assert line == "Error: no valid rota for team 'ops' (files: support)"


def test_a_busy_port_is_one_sentence(runner, project, elsewhere):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = oncall(runner, project, "serve", "--port", str(port))
    assert one_error_line(result) == (
        f"Error: port {port} on 127.0.0.1 is already in use (another `oncall serve`?): stop "
        "that process or choose another --port"
    )


def test_an_unexpected_error_is_one_line_pointing_at_debug(runner, project, elsewhere, monkeypatch):
    assert oncall(runner, project, "db", "upgrade").exit_code == 0

    def broken(*_args, **_kwargs):
        raise ValueError("the report could not be built")

    monkeypatch.setattr("oncall.cli.report.sla_report", broken)
    line = one_error_line(oncall(runner, project, "report", "sla"))
    assert line == (
        "Error: unexpected ValueError: the report could not be built "
        "(run `oncall --debug ...` for the traceback)"
    )
    debug = runner.invoke(main, ["--debug", "--config", str(project), "report", "sla"])
    assert isinstance(debug.exception, ValueError)


def test_a_missing_config_file_says_how_to_name_one(runner, elsewhere):
    result = runner.invoke(main, ["report", "sla"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "config.yaml: file not found",
        "Give the config file with --config PATH or ONCALL_CONFIG.",
    ]


def test_debug_is_in_the_help(runner):
    result = runner.invoke(main, ["--help"])
    assert "--debug" in result.output and "traceback" in result.output
