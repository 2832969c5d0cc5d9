"""Production refuses the development secrets (issue 10, item 1).

In production (an https ``public_url``, or ``ONCALL_ENV=production``) ``oncall check``,
``serve``, ``clock`` and the gunicorn app refuse to start while the secret key, the Twilio auth
token or the inbound email password is empty or a value published in the repo, naming the
environment variable to set. On a developer's machine (``make run`` on the shipped config)
none of them is needed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from oncall.cli.main import main
from oncall.config.loading import load_settings
from oncall.config.production import PUBLISHED_SECRETS, refuse_development_secrets

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VARIABLES = ("ONCALL_SECRET_KEY", "TWILIO_AUTH_TOKEN", "ONCALL_INBOUND_PASSWORD")
REAL = {
    "ONCALL_SECRET_KEY": "kq3V0n6bq1Yp7rVx0m2sZfE4d8uTgHcW",
    "TWILIO_AUTH_TOKEN": "5f2b8c1d9e7a4b3c6d0e1f2a3b4c5d6e",
    "ONCALL_INBOUND_PASSWORD": "c8T1y4Qw0zLm6Rn2",
}


def project(tmp_path: Path, public_url: str | None = None) -> Path:
    """A copy of the shipped config, customers, rotas and voice flows; ``public_url`` set."""
    for name in ("config.yaml", "customers.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("rotations", "voice_flows"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    config = tmp_path / "config.yaml"
    if public_url is not None:
        text = re.sub(r"(?m)^public_url: \S+", f"public_url: {public_url}", config.read_text())
        config.write_text(text)
    return config


def environment(**extra: str) -> dict[str, str | None]:
    """The process environment without any of the secrets (None unsets for CliRunner)."""
    env: dict[str, str | None] = dict.fromkeys((*VARIABLES, "ONCALL_ENV", "DATABASE_URL"))
    env.update(extra)
    return env


def run(runner, config: Path, *args: str, **env: str):
    return runner.invoke(main, ["--config", str(config), *args], env=environment(**env))


# -- oncall check ---------------------------------------------------------------------------
def test_check_with_an_https_public_url_and_no_secrets_exits_1_naming_each_variable(
    runner, tmp_path
):
    config = project(tmp_path, "https://oncall.vendor.example")
    result = run(runner, config, "check")
    assert result.exit_code == 1, result.output
    for variable in VARIABLES:
        assert f"set {variable}" in result.output
    assert "3 error(s)" in result.output
    assert "public_url is https://oncall.vendor.example" in result.output


def test_oncall_env_production_counts_as_production(runner, tmp_path):
    result = run(runner, project(tmp_path), "check", ONCALL_ENV="production")
    assert result.exit_code == 1
    assert all(f"set {variable}" in result.output for variable in VARIABLES)
    assert "ONCALL_ENV=production" in result.output


def test_check_passes_in_production_once_every_secret_is_set(runner, tmp_path):
    config = project(tmp_path, "https://oncall.vendor.example")
    result = run(runner, config, "check", **REAL)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:")


def test_each_missing_secret_is_named_alone(runner, tmp_path):
    config = project(tmp_path, "https://oncall.vendor.example")
    for missing in VARIABLES:
        present = {k: v for k, v in REAL.items() if k != missing}
        result = run(runner, config, "check", **present)
        assert result.exit_code == 1
        named = [v for v in VARIABLES if f"set {v}" in result.output]
        assert named == [missing]


def test_a_published_value_set_in_the_environment_is_refused_too(runner, tmp_path):
    config = project(tmp_path, "https://oncall.vendor.example")
    env = {**REAL, "TWILIO_AUTH_TOKEN": "dev-auth-token"}
    result = run(runner, config, "check", **env)
    assert result.exit_code == 1
    assert "twilio.auth_token: is a development value published in the repo" in result.output


def test_empty_secrets_written_in_the_file_are_refused(runner, tmp_path):
    config = project(tmp_path, "https://oncall.vendor.example")
    text = config.read_text()
    text = text.replace("${TWILIO_AUTH_TOKEN:-dev-auth-token}", '""')
    text = text.replace("${ONCALL_INBOUND_PASSWORD:-dev-inbound-password}", "")
    config.write_text(text)
    env = {"ONCALL_SECRET_KEY": REAL["ONCALL_SECRET_KEY"]}
    result = run(runner, config, "check", **env)
    assert result.exit_code == 1
    assert "twilio.auth_token: is empty" in result.output
    assert "email.inbound.password: is empty" in result.output


def test_a_short_secret_key_is_a_warning(runner, tmp_path):
    config = project(tmp_path, "https://oncall.vendor.example")
    result = run(runner, config, "check", **{**REAL, "ONCALL_SECRET_KEY": "tooshort"})
    assert result.exit_code == 0
    assert "warning: secret_key: is shorter than 16 characters" in result.output


def test_the_shipped_config_checks_ok_without_any_secret(runner, monkeypatch):
    """``make run`` runs ``oncall check`` first: it must pass on a fresh checkout."""
    monkeypatch.chdir(ROOT)
    result = run(runner, ROOT / "config.yaml", "check")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:")


def test_every_published_default_of_config_yaml_is_refused():
    """The shipped config's fallbacks for the secrets are all on the refused list."""
    text = (ROOT / "config.yaml").read_text()
    defaults = re.findall(r"\$\{(\w+):-([^}]*)\}", text)
    published = {value for name, value in defaults if name in VARIABLES and value}
    assert published == {"dev-only-secret-change-me", "dev-auth-token", "dev-inbound-password"}
    assert published <= PUBLISHED_SECRETS


# -- serve, clock and the gunicorn app refuse to start ----------------------------------------
@pytest.mark.parametrize("command", [["serve", "--no-migrate"], ["clock"]])
def test_serve_and_clock_refuse_to_start_on_development_secrets(runner, tmp_path, command):
    config = project(tmp_path, "https://oncall.vendor.example")
    result = run(runner, config, *command)
    assert result.exit_code == 1
    assert "refusing to start" in result.output
    assert "set ONCALL_SECRET_KEY, TWILIO_AUTH_TOKEN, ONCALL_INBOUND_PASSWORD" in result.output


def test_the_gunicorn_app_refuses_to_start_on_development_secrets(tmp_path):
    config = project(tmp_path, "https://oncall.vendor.example")
    env = {k: v for k, v in os.environ.items() if k not in (*VARIABLES, "ONCALL_ENV")}
    env.update(ONCALL_CONFIG=str(config), DATABASE_URL=f"sqlite:///{tmp_path / 'oncall.db'}")
    result = subprocess.run(
        [str(BIN / "gunicorn"), "oncall.web.wsgi:app", "--bind", "127.0.0.1:0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "set ONCALL_SECRET_KEY, TWILIO_AUTH_TOKEN, ONCALL_INBOUND_PASSWORD" in result.stderr


def test_refusal_is_a_plain_function_of_the_settings(tmp_path):
    settings = load_settings(project(tmp_path, "https://oncall.vendor.example"), environ={})
    with pytest.raises(RuntimeError, match="refusing to start") as refused:
        refuse_development_secrets(settings, environ={})
    assert refused.value.variables == list(VARIABLES)
    production = load_settings(settings.source, environ=REAL)
    refuse_development_secrets(production, environ=REAL)  # every secret set: fine
    (tmp_path / "dev").mkdir()
    development = load_settings(project(tmp_path / "dev"), environ={})
    refuse_development_secrets(development, environ={})  # http and no ONCALL_ENV: fine


# -- make run keeps working -----------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_make_run_serves_the_shipped_config_without_any_secret(tmp_path):
    """What ``make run`` does (check, then serve) on a copy of the checkout, no secret set."""
    config = project(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in (*VARIABLES, "ONCALL_ENV")}
    env.update(ONCALL_CONFIG=str(config), DATABASE_URL=f"sqlite:///{tmp_path / 'oncall.db'}")
    check = subprocess.run(
        [str(BIN / "oncall"), "check"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "oncall"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code
                break
            except requests.RequestException:
                time.sleep(0.2)  # waiting for a process to bind, not for a deadline
        assert status == 200, server.stderr.read().decode() if server.poll() is not None else ""
    finally:
        server.terminate()
        server.wait(timeout=20)
        if server.stderr is not None:
            server.stderr.close()
