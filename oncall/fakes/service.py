"""Run the real service as processes, the way an operator would, for end-to-end tests.

:class:`ServiceUnderTest` writes a config (targets shrunk to seconds, Twilio pointed at a fake
on loopback), migrates the database, and starts either ``oncall serve`` (single box) or
gunicorn web workers plus one or more ``oncall clock`` engines. Engines can be killed with
SIGKILL and started again mid-scenario. Usable from tests and from ``benchmarks/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml

# The repository (a source checkout): the example customers and the voice flows come from it.
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AUTH_TOKEN = "e2e-auth-token"
ACCOUNT_SID = "AC" + "e" * 32
INBOUND_PASSWORD = "e2e-inbound"
CRITICAL_LINE = "+15555550501"

# A team whose escalation runs in seconds: primary at once, secondary after 2s, manager after
# 4s, one repeat. Phone numbers are in the fictional +1555 range.
FAST_ROTA = {
    "team": "support",
    "timezone": "America/Toronto",
    "members": {
        "alice": {"name": "Alice Ng", "phone": "+15555550101", "email": "alice@vendor.example"},
        "bob": {"name": "Bob Roy", "phone": "+15555550102"},
        "dana": {"name": "Dana Ortiz", "phone": "+15555550104", "email": "dana@vendor.example"},
    },
    "rotations": {
        "primary": {"members": ["alice"], "shift": "1w", "start": "2020-01-06T09:00"},
        "secondary": {"members": ["bob"], "shift": "1w", "start": "2020-01-06T09:00"},
    },
    "escalation": {
        "repeat": 1,
        "steps": [
            {"after": "0s", "notify": ["primary"]},
            {"after": "2s", "notify": ["secondary"]},
            {"after": "4s", "notify": ["dana"]},
        ],
    },
    "manager": "dana",
}


def many_customers(count: int) -> dict[str, Any]:
    """``count`` premium customers, each with one contact ``ops@custN.example``."""
    customers = {
        f"cust{i}": {
            "name": f"Customer {i}",
            "plan": "premium",
            "pin": str(100000 + i),
            "team": "support",
            "contacts": [{"name": f"Ops {i}", "email": f"ops@cust{i}.example"}],
        }
        for i in range(count)
    }
    customers["acme"] = {
        "name": "Acme Corp",
        "plan": "premium",
        "pin": "4821",
        "team": "support",
        "contacts": [
            {"name": "Wile E. Coyote", "phone": "+15551230001", "email": "wile@acme.example"}
        ],
    }
    return {
        "plans": {"premium": {"critical_line": True, "hours": "always"}},
        "customers": customers,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceUnderTest:
    def __init__(
        self,
        workdir: Path,
        database_url: str,
        twilio_base: str,
        *,
        split: bool = False,
        web_workers: int = 2,
        engines: int = 1,
        sla: dict[str, Any] | None = None,
        engine: dict[str, Any] | None = None,
        rota: dict[str, Any] | None = None,
        customers: dict[str, Any] | None = None,
    ):
        self.workdir = Path(workdir)
        self.database_url = database_url
        self.twilio_base = twilio_base
        self.split = split
        self.web_workers = web_workers
        self.engine_count = engines
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.web: subprocess.Popen | None = None
        self.engines: list[subprocess.Popen] = []
        self._logs: list[Any] = []
        self.sla = {
            "triage": "8s",
            "first_status": "14s",
            "status_every": {"S1": "20s", "S2": "30s"},
            "warn_before": "3s",
        } | (sla or {})
        self.engine_settings = {
            "tick": "200ms",
            "reload_poll": "500ms",
            "retry_base": "200ms",
            "retry_max": "2s",
            "max_attempts": 100,
            "sending_timeout": "5s",
            "sms_rate_window": "0s",
        } | (engine or {})
        self.rota = rota or FAST_ROTA
        self.customers = customers
        self.config_path = self._write_files()

    # -- files ---------------------------------------------------------------------------
    def _write_files(self) -> Path:
        (self.workdir / "rotations").mkdir(parents=True, exist_ok=True)
        (self.workdir / "rotations" / "support.yaml").write_text(yaml.safe_dump(self.rota))
        customers = self.workdir / "customers.yaml"
        if self.customers is None:
            customers.write_text((ROOT / "customers.yaml").read_text())
        else:
            customers.write_text(yaml.safe_dump(self.customers, sort_keys=False))
        config = {
            "company": "Vendor Support",
            "timezone": "America/Toronto",
            "public_url": self.base_url,
            "secret_key": "e2e-secret",
            "database_url": self.database_url,
            # Every hour is after hours, so the critical line is always the way in.
            "business_hours": {"days": [], "start": "09:00", "end": "17:00"},
            "sla": self.sla,
            "paths": {
                "rotations": "rotations/",
                "customers": "customers.yaml",
                "voice_flows": str(ROOT / "voice_flows"),
            },
            "engine": self.engine_settings,
            "transport": "twilio",
            "twilio": {
                "account_sid": ACCOUNT_SID,
                "auth_token": AUTH_TOKEN,
                "api_base": self.twilio_base,
                "critical_line": CRITICAL_LINE,
                "timeout": "2s",
            },
            "email": {
                "transport": "console",
                "inbound": {"username": "sendgrid", "password": INBOUND_PASSWORD},
            },
            "api": {"tokens": [{"name": "e2e", "token": "e2e-api-token-0123456789"}]},
            "logging": {"format": "json", "level": "INFO"},
        }
        path = self.workdir / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
        env.pop("DATABASE_URL", None)
        env["ONCALL_CONFIG"] = str(self.config_path)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("ab")
        self._logs.append(log)
        return subprocess.Popen(
            args,
            cwd=self.workdir,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_text(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.workdir.glob("*.log"))
        )

    # -- processes -----------------------------------------------------------------------
    def migrate(self) -> None:
        subprocess.run(
            [str(BIN / "oncall"), "db", "upgrade"],
            cwd=self.workdir,
            env=self.env(),
            check=True,
            capture_output=True,
        )

    def start(self, timeout: float = 30.0) -> ServiceUnderTest:
        self.migrate()
        if self.split:
            self.web = self._spawn(
                [
                    str(BIN / "gunicorn"),
                    "oncall.web.wsgi:app",
                    "--worker-class",
                    "gthread",
                    "--workers",
                    str(self.web_workers),
                    "--threads",
                    "8",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                ],
                "web",
            )
            for _ in range(self.engine_count):
                self.start_engine()
        else:
            self.web = self._spawn(
                [
                    str(BIN / "oncall"),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--no-migrate",
                ],
                "serve",
            )
        self.wait_healthy(timeout)
        return self

    def start_engine(self) -> subprocess.Popen:
        process = self._spawn([str(BIN / "oncall"), "clock"], f"clock{len(self.engines)}")
        self.engines.append(process)
        return process

    def kill_engines(self) -> None:
        """SIGKILL every engine process (or the single-box server): no chance to clean up."""
        targets = self.engines if self.split else [self.web]
        for process in targets:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self.split:
            self.engines = []

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.web is not None and self.web.poll() is not None:
                raise RuntimeError(f"service exited early\n{self.log_text()}")
            try:
                response = requests.get(f"{self.base_url}/healthz", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.1)
        raise RuntimeError(f"service not healthy after {timeout}s: {last}\n{self.log_text()}")

    def stop(self) -> None:
        for process in [self.web, *self.engines]:
            if process is not None and process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
        for log in self._logs:
            log.close()
        self._logs.clear()

    def __enter__(self) -> ServiceUnderTest:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
