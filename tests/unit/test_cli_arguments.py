"""``--config`` and ``--debug`` may come anywhere on the ``oncall`` command line."""

from __future__ import annotations

import pytest

from oncall.cli.errors import hoist_global_options


@pytest.mark.parametrize(
    ("given", "parsed"),
    [
        (["rota", "who", "--config", "c.yaml"], ["--config", "c.yaml", "rota", "who"]),
        (
            ["rota", "who", "--config=c.yaml", "--json"],
            ["--config=c.yaml", "rota", "who", "--json"],
        ),
        (["--config", "c.yaml", "check"], ["--config", "c.yaml", "check"]),
        (["report", "sla", "--debug"], ["--debug", "report", "sla"]),
        (["simulate", "sms", "--", "--debug"], ["simulate", "sms", "--", "--debug"]),
    ],
)
def test_global_options_move_to_the_front(given, parsed):
    assert hoist_global_options(given) == parsed


def test_a_config_option_without_its_path_is_a_usage_error():
    from click.testing import CliRunner

    from oncall.cli.main import main

    result = CliRunner().invoke(main, ["rota", "who", "--config"])
    assert result.exit_code == 2
    assert "Option '--config' requires an argument." in result.output
