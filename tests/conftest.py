"""Shared fixtures, in the spirit of Flask's tutorial: ``settings``, ``runtime``, ``app``,
``client``, ``runner``, plus a fake clock and a database on both backends.

Database tests run twice: on SQLite and on PostgreSQL. PostgreSQL comes from
``ONCALL_TEST_DATABASE_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
each pytest session creates its own throw-away database there, so concurrent runs never
collide. Without a reachable server the PostgreSQL half is skipped with the reason shown, except
under ``CI=true``, where it fails: CI must prove both.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url

from oncall.clock import FakeClock
from oncall.config.loading import load_settings
from oncall.config.settings import Settings
from oncall.db.models import Base
from oncall.db.session import make_engine, upgrade
from oncall.delivery.transports.base import ConsoleTransport
from oncall.fakes.scratch_db import ADMIN_URL, create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# -- databases ------------------------------------------------------------------------------
class _Postgres:
    """One throw-away PostgreSQL database per pytest session, migrated once."""

    def __init__(self) -> None:
        self.admin_url = ADMIN_URL
        self.url: str | None = None
        self.error: str | None = None
        self._engine = None

    def get(self) -> str:
        if self.url is None and self.error is None:
            self._create()
        if self.error is not None:
            message = f"PostgreSQL not reachable at {self._safe(self.admin_url)}: {self.error}"
            if IN_CI:
                pytest.fail(f"CI requires PostgreSQL. {message}")
            pytest.skip(message)
        assert self.url is not None
        return self.url

    @staticmethod
    def _safe(url: str) -> str:
        return make_url(url).render_as_string(hide_password=True)

    def _create(self) -> None:
        try:
            url = create_database("oncall_test", self.admin_url)
        except Exception as exc:  # unreachable, refused, no permission: all mean "skip"
            self.error = str(exc).splitlines()[0]
            return
        self.url = url
        upgrade(self.url)

    def engine(self):
        if self._engine is None:
            self._engine = make_engine(self.get())
        return self._engine

    def drop(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self.url is None:
            return
        drop_database(self.url, self.admin_url)


_POSTGRES = _Postgres()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def pytest_sessionfinish(session, exitstatus):
    _POSTGRES.drop()


def _truncate(engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text("INSERT INTO counters (name, value) VALUES ('case_number', 1000)"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, _sqlite_template) -> Iterator[str]:
    """A freshly migrated, empty database: SQLite file or PostgreSQL (truncated per test)."""
    if request.param == "sqlite":
        path = tmp_path / "oncall.db"
        shutil.copy(_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("SQLite-only behaviour")
    engine = _POSTGRES.engine()
    _truncate(engine)
    yield _POSTGRES.get()


@pytest.fixture
def pg_url() -> str:
    """PostgreSQL only (for FOR UPDATE SKIP LOCKED and multi-process tests)."""
    engine = _POSTGRES.engine()
    _truncate(engine)
    return _POSTGRES.get()


@pytest.fixture
def db_engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


# -- settings and runtime ------------------------------------------------------------------
BASE_CONFIG: dict[str, Any] = {
    "company": "Vendor Support",
    "timezone": "America/Toronto",
    "public_url": "https://oncall.vendor.example",
    "secret_key": "test-secret-key",
    "business_hours": {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
        "holidays": ["2026-12-25"],
    },
    "sla": {
        "triage": "15m",
        "first_status": "1h",
        "status_every": {"S1": "4h", "S2": "8h"},
        "warn_before": "5m",
        "after_hours_multiplier": 1,
    },
    "penalties": {"misuse_fee": 250, "currency": "USD", "refused_attempts_review": 3},
    "paths": {
        "rotations": str(ROOT / "rotations"),
        "customers": str(ROOT / "customers.yaml"),
        "voice_flows": str(ROOT / "voice_flows"),
    },
    # One send at a time keeps the order of sends deterministic in unit tests; concurrent
    # delivery has its own test (test_outbox) and runs in the end-to-end tests.
    "engine": {"tick": "1s", "reload_poll": "1s", "sms_rate_window": "60s", "send_concurrency": 1},
    "transport": "console",
    "twilio": {
        "account_sid": "AC" + "0" * 32,
        "auth_token": "test-auth-token",
        "api_base": "https://api.twilio.com",
        "critical_line": "+15555550501",
    },
    "email": {
        "transport": "console",
        "from": "support@vendor.example",
        "critical_address": "critical@vendor.example",
        "forward_to": "support-queue@vendor.example",
        "inbound": {"username": "sendgrid", "password": "inbound-secret"},
    },
    "users": {},
    "api": {"tokens": [{"name": "tests", "token": "test-api-token-0123456789"}]},
}


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture
def make_settings(tmp_path):
    """Write a config file (BASE_CONFIG merged with ``overrides``) and load it."""

    def _make(db_url: str = "sqlite:///:memory:", **overrides: Any) -> Settings:
        data = _merge(BASE_CONFIG, overrides)
        data["database_url"] = db_url
        path = tmp_path / f"config-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return load_settings(path, environ={})

    return _make


@pytest.fixture
def clock() -> FakeClock:
    """Tuesday 2026-11-24 03:00 in Toronto (after hours): 08:00 UTC."""
    return FakeClock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))


@pytest.fixture
def transports() -> dict[str, ConsoleTransport]:
    console = ConsoleTransport(echo=False)
    return {"sms": console, "voice": console, "email": console}


@pytest.fixture
def settings(make_settings, db_url) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def runtime(settings, clock, transports, db_engine):
    from oncall.bootstrap.runtime import build_runtime

    rt = build_runtime(settings, clock=clock, transports=transports, db=db_engine)
    yield rt


@pytest.fixture
def app(runtime):
    from oncall.web.app import create_app

    return create_app(runtime=runtime, test_config={"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner():
    from click.testing import CliRunner

    return CliRunner()


# -- proof in the output: which backends the database tests ran on --------------------------
def pytest_report_header(config):
    url = make_url(_POSTGRES.admin_url).render_as_string(hide_password=True)
    mode = "required (CI=true)" if IN_CI else "skipped with a reason if unreachable"
    return f"databases: sqlite, and postgresql at {url} [{mode}]"


def pytest_terminal_summary(terminalreporter):
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if report.when not in ("call", "setup") or (
                outcome == "passed" and report.when != "call"
            ):
                continue
            if "[postgresql" in nodeid or "[sqlite" in nodeid:
                backend = "postgresql" if "[postgresql" in nodeid else "sqlite"
            elif "_pg" in nodeid or "e2e" in nodeid:
                backend = "postgresql"
            else:
                continue
            counts.setdefault(backend, {}).setdefault(outcome, 0)
            counts[backend][outcome] += 1
    if counts:
        terminalreporter.section("database tests by backend")
        for backend in sorted(counts):
            parts = ", ".join(f"{n} {o}" for o, n in sorted(counts[backend].items()))
            terminalreporter.write_line(f"{backend}: {parts}")
