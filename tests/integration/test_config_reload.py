"""config.yaml reloads like a rota: on SIGHUP and by the poller, keeping the last good version.

Issue 15, finding 4: a user added with ``oncall user add`` needed a restart that nothing
mentioned, and a typo in config.yaml stayed invisible until the next restart.
"""

from __future__ import annotations

import html
import logging
import os
import re
import signal
from pathlib import Path

import yaml

from oncall.bootstrap.background import install_sighup
from oncall.cli.main import main
from oncall.config.live import restart_only_values

PASSWORD = "a long enough password"


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client, username: str, password: str = PASSWORD) -> int:
    page = client.get("/login")
    data = {"username": username, "password": password, "csrf_token": csrf_from(page.text)}
    return client.post("/login", data=data).status_code


def add_user_line(runner, name: str) -> str:
    """What a manager pastes under ``users:``: the line ``oncall user add`` prints."""
    result = runner.invoke(main, ["user", "add", name, "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def edit_config(settings, change) -> Path:
    path = Path(settings.source)
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def paste_user(settings, line: str) -> None:
    edit_config(settings, lambda data: data["users"].update(yaml.safe_load(line)))


def test_a_user_added_with_user_add_signs_in_after_the_poll_without_a_restart(
    client, runtime, runner, settings
):
    assert sign_in(client, "dana") == 401
    paste_user(settings, add_user_line(runner, "dana"))
    runtime.poll_files()  # what the reload poller does every engine.reload_poll
    assert sign_in(client, "dana") == 302
    assert client.get("/").status_code == 200


def test_a_user_added_then_sighup_signs_in(client, runtime, runner, settings):
    previous = signal.getsignal(signal.SIGHUP)
    install_sighup(runtime)
    try:
        paste_user(settings, add_user_line(runner, "maria"))
        os.kill(os.getpid(), signal.SIGHUP)  # the handler runs before kill returns to Python
        assert sign_in(client, "maria") == 302
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_the_user_add_hint_says_how_the_service_picks_the_user_up(runner):
    result = runner.invoke(main, ["user", "add", "lee", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0
    assert result.stdout.startswith("lee: {role: manager, password_hash: ")
    assert "kill -HUP" in result.stderr and "no restart" in result.stderr


def test_a_broken_config_keeps_the_last_good_one_live_and_healthz_503_names_file_and_line(
    client, runtime, runner, settings
):
    paste_user(settings, add_user_line(runner, "dana"))
    runtime.poll_files()
    path = Path(settings.source)
    text = path.read_text()
    broken = text.replace("triage: 15m", "triage: 15 minutes")
    assert broken != text
    path.write_text(broken)
    line = next(i for i, t in enumerate(broken.splitlines(), 1) if "15 minutes" in t)
    runtime.poll_files()

    health = client.get("/healthz")
    assert health.status_code == 503
    # /healthz is public: it names the file; the signed-in Now page gives line and problem.
    assert (
        f"last good version live: {path.name} has errors (details on the dashboard)"
        in health.get_json()["reasons"]
    )
    # The last good settings keep working: the user signs in, the targets are the old ones.
    assert sign_in(client, "dana") == 302
    assert runtime.settings.sla.triage.total_seconds() == 15 * 60
    now_page = html.unescape(client.get("/").text)
    assert f'{path}:{line}: sla.triage: "15 minutes" is not a duration like 15m' in now_page

    path.write_text(text)
    runtime.poll_files()
    assert client.get("/healthz").status_code == 200


def test_sla_targets_and_api_tokens_take_effect_on_reload(client, runtime, settings):
    token = "grafana-token-0123456789"
    assert client.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    def change(data):
        data["sla"]["triage"] = "20m"
        data["api"]["tokens"].append({"name": "grafana", "token": token})

    edit_config(settings, change)
    runtime.reload_files()  # SIGHUP
    assert runtime.settings.sla.triage.total_seconds() == 20 * 60
    assert client.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_restart_only_key_is_logged_and_the_running_value_stays(runtime, settings, caplog):
    running_url = settings.database_url

    def change(data):
        data["database_url"] = "sqlite:///elsewhere.db"
        data["company"] = "Vendor Support Ltd"

    path = edit_config(settings, change)
    with caplog.at_level(logging.WARNING, logger="oncall.reload"):
        runtime.poll_files()
    assert runtime.settings.company == "Vendor Support Ltd"  # reloadable: live at once
    assert runtime.settings.database_url == running_url  # restart-only: the running value
    assert (
        f"{path}: database_url changed; it takes effect when the service restarts "
        "(the running value stays until then)"
    ) in caplog.messages
    assert runtime.file_errors() == []


def test_the_shipped_config_names_exactly_the_keys_that_need_a_restart(settings):
    text = (Path(__file__).resolve().parents[2] / "config.yaml").read_text()
    comment = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    match = re.search(r"Restart needed for: (.+?)\. ", comment)
    assert match, "config.yaml must say which keys need a restart"
    named = {key.strip() for key in match.group(1).split(",")}
    assert named == set(restart_only_values(settings))
