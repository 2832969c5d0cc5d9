"""The command line: check, db upgrade, help."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import create_engine, inspect

from oncall.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_commands(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "clock", "check", "db", "rota"):
        assert command in result.output


def test_check_passes_on_the_shipped_files(runner, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = runner.invoke(main, ["--config", str(ROOT / "config.yaml"), "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:")


def _copy_project(tmp_path: Path) -> Path:
    for name in ("config.yaml", "customers.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "rotations", tmp_path / "rotations")
    shutil.copytree(ROOT / "voice_flows", tmp_path / "voice_flows")
    return tmp_path / "config.yaml"


def test_check_reports_file_line_and_key_for_a_misspelt_key(runner, tmp_path):
    config = _copy_project(tmp_path)
    text = config.read_text().replace("  triage: 15m", "  trage: 15m")
    config.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("  trage:"))
    result = runner.invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 1
    assert f"{config}:{line}: sla.trage: unknown key (did you mean 'triage'?)" in result.output


def test_check_reports_a_bad_duration(runner, tmp_path):
    config = _copy_project(tmp_path)
    config.write_text(config.read_text().replace("  first_status: 1h", '  first_status: "1 hour"'))
    result = runner.invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 1
    assert 'sla.first_status: "1 hour" is not a duration like 15m' in result.output


def test_check_lists_errors_in_every_file(runner, tmp_path):
    config = _copy_project(tmp_path)
    customers = tmp_path / "customers.yaml"
    customers.write_text(customers.read_text().replace("plan: premium", "plan: platinum", 1))
    result = runner.invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 1
    assert "customers.acme.plan: unknown plan 'platinum'" in result.output


def test_db_upgrade_creates_the_schema(runner, tmp_path, monkeypatch):
    config = _copy_project(tmp_path)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    result = runner.invoke(main, ["--config", str(config), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    assert "cases" in inspect(engine).get_table_names()
    engine.dispose()


def test_check_validates_the_email_severity_phrases(runner, tmp_path):
    config = _copy_project(tmp_path)
    text = config.read_text().replace("    ignore: []", "    ignore: [no such phrase]")
    config.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "no such phrase" in t)
    result = runner.invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 1
    assert (
        f"{config}:{line}: email.severity_phrases.ignore[0]: 'no such phrase' is not a "
        "built-in phrase or cue: nothing to ignore"
    ) in result.output
