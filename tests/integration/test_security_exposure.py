"""Least exposure (issue 10, item 7): what the public endpoints tell a stranger.

``/healthz`` says what is wrong without absolute paths, file contents or database error text
(those go to the log and, for files, to the signed-in dashboard); ``/metrics`` can require a
bearer token; an unknown team's calendar feed answers exactly like a wrong token.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from oncall.reports.calendars import feed_token

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
USERS = {
    "maria": {
        "role": "manager",
        "password_hash": generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
    }
}
# Written into the broken files: none of it may reach /healthz.
CONTENT = "internal-hostname-db7.corp.example"
METRICS_TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def files(tmp_path) -> Path:
    """A private copy of the rotas and customers, to break while the service runs."""
    shutil.copytree(ROOT / "rotations", tmp_path / "rotations")
    shutil.copy(ROOT / "customers.yaml", tmp_path / "customers.yaml")
    return tmp_path


@pytest.fixture
def settings(make_settings, db_url, files):
    return make_settings(
        db_url,
        users=USERS,
        paths={
            "rotations": str(files / "rotations"),
            "customers": str(files / "customers.yaml"),
            "voice_flows": str(ROOT / "voice_flows"),
        },
    )


def break_files(runtime, files: Path) -> None:
    rota = files / "rotations" / "support.yaml"
    rota.write_text(rota.read_text().replace("shift: 1w", f"shift: {CONTENT}", 1))
    customers = files / "customers.yaml"
    customers.write_text(customers.read_text() + f"\n  {CONTENT}: [\n")
    runtime.poll_files()
    assert len(runtime.file_errors()) >= 2


def sign_in(client) -> None:
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"username": "maria", "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 302


# -- /healthz -------------------------------------------------------------------------------
def test_healthz_names_broken_files_without_their_paths_or_contents(client, runtime, files):
    break_files(runtime, files)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert "last good version live: customers.yaml has errors" in " ".join(body["reasons"])
    assert "last good version live: support.yaml has errors" in " ".join(body["reasons"])
    text = response.get_data(as_text=True)
    assert str(files) not in text and str(ROOT) not in text
    assert CONTENT not in text
    assert not re.search(r'"/[^"]*/', text), "an absolute path in /healthz"


def test_the_signed_in_dashboard_shows_the_file_problems_in_full(client, runtime, files):
    break_files(runtime, files)
    sign_in(client)
    page = client.get("/").text
    assert "support.yaml" in page and "customers.yaml" in page
    assert "rotations.primary.shift" in page  # the key, the line and the message, in full


def test_healthz_keeps_the_database_error_for_the_log(make_settings, clock, transports, caplog):
    from oncall.bootstrap.runtime import build_runtime
    from oncall.db.session import make_engine
    from oncall.web.app import create_app

    settings = make_settings("postgresql+psycopg://secretuser@127.0.0.1:1/secretdb")
    runtime = build_runtime(
        settings,
        clock=clock,
        transports=transports,
        db=make_engine(settings.database_url, connect_args={"connect_timeout": 1}),
    )
    with caplog.at_level(logging.WARNING, logger="oncall.web.health"):
        response = create_app(runtime=runtime).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["reasons"] == ["database unreachable (details in the log)"]
    text = response.get_data(as_text=True)
    for secret in ("secretuser", "secretdb", "127.0.0.1", "port 1"):
        assert secret not in text
    assert "database unreachable" in caplog.text and "127.0.0.1" in caplog.text


def test_healthz_names_no_config_file(client, runtime):
    body = client.get("/healthz").get_json()
    assert body["config"] == {"loaded": True}
    assert runtime.settings.source not in client.get("/healthz").get_data(as_text=True)


# -- /metrics -------------------------------------------------------------------------------
def test_metrics_are_open_by_default(client):
    assert client.get("/metrics").status_code == 200


def test_metrics_token_is_required_once_configured(
    make_settings, db_url, clock, transports, db_engine
):
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    settings = make_settings(db_url, metrics={"token": METRICS_TOKEN})
    client = create_app(
        runtime=build_runtime(settings, clock=clock, transports=transports, db=db_engine)
    ).test_client()
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdef"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"Authorization": "Bearer é"},
    ):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "oncall_" not in response.get_data(as_text=True)
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert "oncall_metrics_scrape_ok" in response.get_data(as_text=True)


def test_a_short_metrics_token_is_a_config_error(make_settings):
    from oncall.config.yamlsource import SourceErrors

    with pytest.raises(
        SourceErrors, match=re.escape("metrics.token: the metrics token must be at least")
    ):
        make_settings(metrics={"token": "short"})


# -- calendar feeds -------------------------------------------------------------------------
def test_an_unknown_teams_feed_answers_like_a_wrong_token(client):
    unknown = client.get("/rota/nosuchteam.ics?token=0123456789abcdef0123456789abcdef")
    wrong = client.get("/rota/support.ics?token=0123456789abcdef0123456789abcdef")
    assert unknown.status_code == wrong.status_code == 403
    assert unknown.get_data() == wrong.get_data()
    assert unknown.headers.get("Content-Type") == wrong.headers.get("Content-Type")
    unknown_member = client.get("/rota/support/zed.ics?token=x")
    assert unknown_member.status_code == 403 and unknown_member.get_data() == wrong.get_data()


def test_only_a_token_made_from_the_secret_learns_that_a_team_is_unknown(client, runtime):
    token = feed_token(runtime.settings.secret_key, "nosuchteam", None)
    assert client.get(f"/rota/nosuchteam.ics?token={token}").status_code == 404
