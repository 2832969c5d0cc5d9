"""``make run`` installs the service's dependencies only; ``make test`` adds the test extras.

Read with ``make -n`` (print the recipes, run nothing) against a virtualenv path that does not
exist, which is what a fresh clone sees.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def recipe(target: str, tmp_path: Path) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # Under `make test` this is a sub-make: without the parent's variables it prints the same
    # recipes as in a fresh shell.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def installs(lines: list[str]) -> list[str]:
    return [line for line in lines if " install " in line and "--upgrade pip" not in line]


def test_make_run_installs_runtime_dependencies_only(tmp_path):
    lines = recipe("run", tmp_path)
    assert [line.split("bin/", 1)[1] for line in installs(lines)] == ["pip install --quiet -e ."]
    assert lines[-1].endswith("oncall serve --host 127.0.0.1 --port 5000")


def test_make_test_adds_the_test_extras(tmp_path):
    lines = recipe("test", tmp_path)
    assert [line.split("bin/", 1)[1] for line in installs(lines)] == [
        "pip install --quiet -e '.[test]'"
    ]
    assert lines[-1].split("bin/", 1)[1].startswith("python -m pytest")


def test_the_test_extras_hold_what_only_tests_need():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {dep.split(">")[0].split("[")[0].split("<")[0] for dep in project["dependencies"]}
    for tool in ("pytest", "ruff", "playwright", "import-linter", "responses", "hypothesis"):
        assert tool not in runtime
        assert any(dep.startswith(tool) for dep in project["optional-dependencies"]["test"])
