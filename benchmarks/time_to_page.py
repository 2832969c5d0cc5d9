"""Time to page: from the intake request to the page SMS arriving at Twilio.

The service runs in this process as it does under ``oncall serve``: the Flask app behind a
threaded WSGI server on loopback, with the engine tick and the outbox sender in the
background, and ``transport: twilio`` pointed at the fake Twilio of ``oncall.fakes.twilio``
(a real HTTP server on loopback, reached through the official SDK). A customer's email is
POSTed to ``/email/inbound`` (SendGrid's format); the clock stops when the fake records the
``Messages.json`` request carrying the page to the on-call engineer. Both ends read the same
monotonic clock.

Two measurements:

* one case at a time, repeated (``--single``, default 50): the latency of a lone page;
* a burst (``--burst``, default 200): that many customers email at once (16 at a time), and
  every case's page is timed from its own request.

Bundling is switched off (``engine.sms_rate_window: 0s``) so that every case's own page is
timed; with it on, a burst would be a handful of bundled SMS instead.

    .venv/bin/python -m benchmarks.time_to_page [--database-url postgresql://...]

Without ``--database-url`` this is the single-box default (SQLite, web + engine + sender in
one process, as ``oncall serve``): the figures "one case, intake → page" and "200-case burst on
the single box" of issue 14's table come from here.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml
from werkzeug.serving import WSGIRequestHandler, make_server

from benchmarks.figures import record as record_figure
from oncall.bootstrap.background import BackgroundServices
from oncall.bootstrap.runtime import build_runtime
from oncall.config.loading import load_settings
from oncall.db.session import upgrade
from oncall.delivery.transports import build_transports
from oncall.delivery.transports.base import ConsoleTransport
from oncall.domain.rota.resolve import who_is_on_call
from oncall.fakes.twilio.server import FakeTwilio
from oncall.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent

DATABASE = "sqlite"  # which database the run uses, for the figures' names
ALICE = ""  # whoever is primary on rotations/support.yaml when the benchmark runs
INBOUND = ("sendgrid", "bench-inbound")


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # one line per request would drown the figures
        return


def write_config(directory: Path, fake: FakeTwilio, database_url: str, customers: int) -> Path:
    shutil.copytree(ROOT / "rotations", directory / "rotations")
    listed = {
        f"cust{i:03d}": {
            "name": f"Customer {i:03d}",
            "plan": "premium",
            "team": "support",
            "contacts": [{"name": f"Ops {i:03d}", "email": f"ops@cust{i:03d}.example"}],
        }
        for i in range(customers)
    }
    plans = {"premium": {"critical_line": True, "hours": "always"}}
    (directory / "customers.yaml").write_text(yaml.safe_dump({"plans": plans, "customers": listed}))
    config = {
        "timezone": "America/Toronto",
        "public_url": "http://127.0.0.1:5000",
        "database_url": database_url,
        "paths": {
            "rotations": str(directory / "rotations"),
            "customers": str(directory / "customers.yaml"),
            "voice_flows": str(ROOT / "voice_flows"),
        },
        "engine": {"tick": "1s", "sms_rate_window": "0s"},
        "transport": "twilio",
        "twilio": {
            "account_sid": fake.account_sid,
            "auth_token": fake.auth_token,
            "api_base": fake.base_url,
            "critical_line": "+15555550501",
        },
        "email": {
            "transport": "console",
            "inbound": {"username": INBOUND[0], "password": INBOUND[1]},
        },
        "logging": {"level": "WARNING"},
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def email(base_url: str, index: int, session: requests.Session) -> None:
    sender = f"ops@cust{index:03d}.example"
    subject = "Sev 1: production down"
    fields = {
        "from": f"Ops <{sender}>",
        "to": "critical@vendor.example",
        "subject": subject,
        "text": "All users affected, no workaround.",
        "headers": (
            f"Message-ID: <bench-{index}-{time.time_ns()}@cust.example>\nFrom: Ops <{sender}>\n"
            f"To: critical@vendor.example\nSubject: {subject}\n"
        ),
        "envelope": json.dumps({"to": ["critical@vendor.example"], "from": sender}),
        "SPF": "pass",
    }
    response = session.post(
        f"{base_url}/email/inbound",
        files={key: (None, value) for key, value in fields.items()},
        auth=INBOUND,
        timeout=60,
    )
    response.raise_for_status()


def page_arrival(fake: FakeTwilio, index: int) -> float | None:
    """When the page for customer ``index`` reached the fake (monotonic), or None yet."""
    name = f"Customer {index:03d}"
    for record in fake.messages(to=ALICE):
        if name in (record.body or "") and "Reply ACK" in (record.body or ""):
            return record.monotonic
    return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def report(label: str, latencies: list[float]) -> None:
    ms = [v * 1000 for v in latencies]
    print(
        f"{label:<28} n={len(ms):<4} p50={percentile(ms, 50):7.1f} ms  "
        f"p99={percentile(ms, 99):7.1f} ms  max={max(ms):7.1f} ms  "
        f"mean={statistics.fmean(ms):7.1f} ms"
    )


def measure_one_at_a_time(base_url: str, fake: FakeTwilio, count: int) -> None:
    """``count`` lone cases, each waited for before the next: the latency of a lone page."""
    http = requests.Session()
    lone: list[float] = []
    answered: list[float] = []
    for index in range(count):
        started = time.monotonic()
        email(base_url, index, http)
        answered.append(time.monotonic() - started)
        arrived = fake.wait_for(lambda i=index: page_arrival(fake, i), timeout=30)
        lone.append(arrived - started)
    report("one case at a time", lone)
    report("  (the intake answer itself)", answered)
    p99 = percentile([v * 1000 for v in lone], 99)
    record_figure(
        f"one case, intake -> page at the fake Twilio, p99 ({DATABASE})",
        p99, "ms", "< 50 ms", p99 < 50,
    )  # fmt: skip


def measure_burst(base_url: str, fake: FakeTwilio, first: int, count: int) -> None:
    """``count`` customers email at once (16 at a time); every case's page timed from its own
    request."""
    started_at: dict[int, float] = {}

    def one(index: int) -> None:
        with requests.Session() as session:
            started_at[index] = time.monotonic()
            email(base_url, index, session)

    burst = range(first, first + count)
    burst_start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, burst))
    intake_done = time.monotonic() - burst_start
    fake.wait_for(lambda: all(page_arrival(fake, i) is not None for i in burst), timeout=120)
    latencies = [page_arrival(fake, i) - started_at[i] for i in burst]
    report(f"burst of {count}", latencies)
    p99 = percentile(latencies, 99)
    record_figure(
        f"{count}-case email burst, time to page p99 ({DATABASE}, one process as oncall serve)",
        p99, "s", "< 3 s", p99 < 3,
    )  # fmt: skip
    last = max(started_at[i] + latency for i, latency in zip(burst, latencies, strict=True))
    print(
        f"  the {count} intake requests took {intake_done * 1000:.0f} ms; the last "
        f"page arrived {last - burst_start:.2f} s after the first request"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--single", type=int, default=50, help="lone cases, one at a time")
    parser.add_argument("--burst", type=int, default=200, help="cases opened at once")
    args = parser.parse_args()
    # A tick that overruns its 1 s interval in the burst is expected; don't print each one.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp, FakeTwilio() as fake:
        directory = Path(tmp)
        url = args.database_url or f"sqlite:///{directory / 'bench.db'}"
        settings = load_settings(
            write_config(directory, fake, url, args.single + args.burst), environ={}
        )
        upgrade(settings.database_url)
        transports = build_transports(settings)
        transports["email"] = ConsoleTransport(echo=False)  # customers' emails: not timed
        runtime = build_runtime(settings, transports=transports)
        primary = who_is_on_call(runtime.rotas.team("support"), "primary", runtime.clock.now())
        global ALICE, DATABASE
        ALICE = primary.member.phone
        DATABASE = url.split(":")[0].split("+")[0]
        services = BackgroundServices(runtime, engine=True)
        services.start()
        server = make_server(
            "127.0.0.1", 0, create_app(runtime=runtime), threaded=True, request_handler=_Quiet
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base_url = f"http://127.0.0.1:{server.server_port}"
        print(f"database: {url.split('://')[0]}, fake Twilio at {fake.base_url}")
        try:
            measure_one_at_a_time(base_url, fake, args.single)
            measure_burst(base_url, fake, args.single, args.burst)
        finally:
            server.shutdown()
            services.stop()
            runtime.close()


if __name__ == "__main__":
    main()
