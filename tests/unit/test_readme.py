"""The README's examples are checked against real runs, so the walkthrough never drifts.

Every ``$ oncall ...`` line in a ``console`` block of README.md is run against the shipped
config and example rota (its ``--at`` pins the instant) and must print exactly what the README
shows under it. The whole walkthrough is run against a real service in
``tests/e2e/test_readme_walkthrough.py``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from oncall.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def console_examples() -> list[tuple[str, str]]:
    """(command line, expected output) for each ``$ oncall`` line of the console blocks."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", README, flags=re.S):
        command, output = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    examples.append((command, "\n".join(output) + "\n"))
                command, output = line[2:], []
            else:
                output.append(line)
        if command is not None:
            examples.append((command, "\n".join(output) + "\n"))
    return examples


def test_the_readme_has_console_examples_of_rota_who():
    commands = [command for command, _ in console_examples()]
    assert any(command.startswith("oncall rota who --at ") for command in commands), commands


@pytest.mark.parametrize(("command", "expected"), console_examples())
def test_a_readme_example_prints_what_the_readme_shows(command, expected, monkeypatch):
    monkeypatch.chdir(ROOT)  # as a reader runs it, in the checkout, with the shipped config
    argv = shlex.split(command)
    assert argv[0] == "oncall"
    result = CliRunner().invoke(main, ["--config", str(ROOT / "config.yaml"), *argv[1:]])
    assert result.exit_code == 0, result.output
    assert result.output == expected, f"README.md is out of date for `{command}`"


def test_the_walkthrough_texts_from_the_phone_rota_who_prints():
    walkthrough = README.split("## Try the whole life of a case", 1)[1]
    block = re.search(r"```sh\n(.*?)```", walkthrough, flags=re.S).group(1)
    assert "ENGINEER=$(oncall rota who --level primary --phone)" in block
    senders = re.findall(r"oncall simulate sms --from (\S+)", block)
    assert senders and set(senders) == {'"$ENGINEER"'}, senders
