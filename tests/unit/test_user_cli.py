"""``oncall user add``: the config line it prints for a dashboard user."""

from __future__ import annotations

import yaml
from werkzeug.security import check_password_hash

from oncall.cli.main import main


def test_user_add_prints_a_config_line(runner, make_settings):
    result = runner.invoke(
        main,
        ["user", "add", "maria", "--role", "engineer"],
        input="long enough pw\nlong enough px\nlong enough pw\nlong enough pw\n",
    )
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("maria: {role: engineer, password_hash: ")
    entry = yaml.safe_load(line)
    assert check_password_hash(entry["maria"]["password_hash"], "long enough pw")
    # The line is valid config as printed.
    assert make_settings(users=entry).users["maria"].role == "engineer"


def test_user_add_from_stdin_and_refusals(runner):
    result = runner.invoke(
        main, ["user", "add", "ops.lead", "--password-stdin"], input="from a password manager\n"
    )
    assert result.exit_code == 0, result.output
    entry = yaml.safe_load(result.stdout)
    assert entry["ops.lead"]["role"] == "manager"
    assert check_password_hash(entry["ops.lead"]["password_hash"], "from a password manager")
    short = runner.invoke(main, ["user", "add", "x", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    odd = runner.invoke(main, ["user", "add", "bad name:", "--password-stdin"], input="x" * 12)
    assert odd.exit_code == 2
