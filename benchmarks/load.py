"""Load benchmark: inbound SMS and inbound calls against gunicorn on PostgreSQL.

Runs the real deployment shape (gunicorn web workers + one ``oncall clock``) on loopback with
Twilio pointed at the fake, and drives it with ``wrk`` (installed from Debian if missing).
Every request is distinct and validly signed (precomputed: wrk's Lua cannot do HMAC), so the
webhooks do their full work: signature check, idempotency record, parsing, the service call,
TwiML. Figures are printed as ratios against a bare endpoint (``/livez``) of the same app
measured in the same run, then the time from a critical email to the page at the fake Twilio
during a burst of 200 cases.

Then a burst of ``--big-burst`` (default 1,000) cases, and the peak resident memory of the
service's processes (web workers and clock) by then.

    .venv/bin/python -m benchmarks.load [--workers 2] [--seconds 10] [--connections 16]

Nothing is asserted; the numbers are for the closing note.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import requests
from sqlalchemy import create_engine, text

from benchmarks.figures import record
from oncall.fakes.scratch_db import scratch_database
from oncall.fakes.service import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CRITICAL_LINE,
    FAST_ROTA,
    INBOUND_PASSWORD,
    ServiceUnderTest,
    many_customers,
)
from oncall.fakes.twilio.server import FakeTwilio
from oncall.fakes.twilio.signing import sign

# One page per case during the burst: primary at once, nobody else for a long while.
BURST_ROTA = FAST_ROTA | {
    "escalation": {
        "repeat": 0,
        "steps": [
            {"after": "0s", "notify": ["primary"]},
            {"after": "30m", "notify": ["secondary"]},
        ],
    }
}
# No SLA reminder falls due during a burst: only the pages are timed.
BURST_SLA = {"triage": "30m", "first_status": "1h"}
LUA = r"""
local requests = {}
local index = 0
init = function(args)
  local file = io.open(args[1], "r")
  for line in file:lines() do
    local signature, body = line:match("^([^\t]*)\t(.*)$")
    table.insert(requests, {signature = signature, body = body})
  end
  file:close()
  -- each wrk thread starts at a different offset so threads never send the same request
  index = math.random(#requests)
end
request = function()
  index = index % #requests + 1
  local r = requests[index]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = r.signature,
  }, r.body)
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk from Debian ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("wrk") or "wrk"


def write_requests(path: Path, public_url: str, kind: str, count: int) -> None:
    with path.open("w") as out:
        for i in range(count):
            if kind == "sms":
                url = public_url + "/twilio/sms"
                params = {
                    "MessageSid": f"SM{uuid.uuid4().hex}",
                    "AccountSid": ACCOUNT_SID,
                    "From": "+15555550101",
                    "To": CRITICAL_LINE,
                    "Body": "HELP",
                    "NumMedia": "0",
                    "SmsStatus": "received",
                    "ApiVersion": "2010-04-01",
                }
            else:
                url = public_url + "/twilio/voice"
                params = {
                    "CallSid": f"CA{uuid.uuid4().hex}",
                    "AccountSid": ACCOUNT_SID,
                    "From": "+15551230001",
                    "To": CRITICAL_LINE,
                    "Caller": "+15551230001",
                    "Called": CRITICAL_LINE,
                    "CallStatus": "ringing",
                    "Direction": "inbound",
                    "ApiVersion": "2010-04-01",
                }
            out.write(f"{sign(url, params, AUTH_TOKEN)}\t{urlencode(params)}\n")
            del i


def run_wrk(
    wrk: str,
    url: str,
    seconds: int,
    connections: int,
    script: Path | None = None,
    data: Path | None = None,
) -> dict[str, float]:
    args = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        args += ["-s", str(script)]
    args.append(url)
    if data is not None:
        args += ["--", str(data)]
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)

    def latency(percent: str) -> float:
        match = re.search(rf"\s{percent}%\s+([\d.]+)(us|ms|s)", output)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def send_burst(
    svc: ServiceUnderTest, count: int, first: int = 0
) -> tuple[dict[str, float], dict[str, float]]:
    """``count`` critical emails, 16 at a time: when each was sent and when it was answered,
    by Message-ID."""
    sent_at: dict[str, float] = {}
    answered_at: dict[str, float] = {}

    def one(i: int) -> None:
        message_id = f"bench-{i}-{uuid.uuid4().hex[:6]}@cust{i}.example"
        fields = {
            "from": f"ops@cust{i}.example",
            "to": "critical@vendor.example",
            "subject": "Sev 1: production down",
            "text": "All users affected.",
            "headers": f"Message-ID: <{message_id}>\nFrom: ops@cust{i}.example\n",
            "envelope": json.dumps(
                {"to": ["critical@vendor.example"], "from": f"ops@cust{i}.example"}
            ),
            # SendGrid's verdict: a mail counts as the customer's only when SPF (or DKIM)
            # passes for its From domain; without it every case would be refused.
            "SPF": "pass",
        }
        sent_at[message_id] = time.monotonic()
        response = requests.post(
            f"{svc.base_url}/email/inbound",
            files={k: (None, v) for k, v in fields.items()},
            auth=("sendgrid", INBOUND_PASSWORD),
            timeout=60,
        )
        if response.status_code == 200:
            answered_at[message_id] = time.monotonic()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(first, first + count)))
    return sent_at, answered_at


def paged_cases(fake: FakeTwilio) -> set[int]:
    """The numbers of the cases whose page reached the primary so far (repeats count once)."""
    return {
        int(match.group(1))
        for m in fake.messages(to="+15555550101")
        if (match := re.search(r"Reply ACK (\d+)", m.body or ""))
    }


def first_pages(fake: FakeTwilio) -> dict[int, float]:
    """When each case's first page reached the primary (monotonic), by case number."""
    arrived: dict[int, float] = {}
    for message in fake.messages(to="+15555550101"):
        match = re.search(r"ACK (\d+)", message.body or "")
        if match:
            arrived.setdefault(int(match.group(1)), message.monotonic)
    return arrived


def burst_time_to_page(
    svc: ServiceUnderTest, fake: FakeTwilio, db_url: str, count: int, first: int = 0
):
    """Time to page for every case of a burst: from its request, and from its answer (ms).

    Cases paged before the burst (an earlier burst, or lone cases) are not waited for again."""
    earlier = len(paged_cases(fake))
    sent_at, answered_at = send_burst(svc, count, first)
    deadline = time.monotonic() + 120
    # Every case's own first page, not just as many pages as cases: repeats do not count.
    while len(paged_cases(fake)) < earlier + count and time.monotonic() < deadline:
        time.sleep(0.2)
    engine = create_engine(db_url)
    with engine.connect() as connection:
        numbers = dict(connection.execute(text("SELECT intake_key, number FROM cases")).all())
    engine.dispose()
    arrived = first_pages(fake)
    from_request, from_answer = [], []
    for message_id, started in sent_at.items():
        number = numbers.get(f"email:<{message_id}>") or numbers.get(f"email:{message_id}")
        if number in arrived:
            from_request.append((arrived[number] - started) * 1000)
            if message_id in answered_at:
                from_answer.append((arrived[number] - answered_at[message_id]) * 1000)
    return from_request, from_answer


def service_processes(svc: ServiceUnderTest) -> list[int]:
    """The pids of the service: the web (gunicorn master and workers) and the clock(s)."""
    roots = [p.pid for p in [svc.web, *svc.engines] if p is not None]
    found: list[int] = []
    while roots:
        pid = roots.pop()
        found.append(pid)
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        roots.extend(int(child) for child in children)
    return found


def peak_rss_mb(pids: list[int]) -> dict[int, float]:
    """Each process's peak resident set size so far (VmHWM), in MB."""
    peaks = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            peaks[pid] = int(match.group(1)) / 1024
    return peaks


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def measure_endpoints(
    wrk: str, svc: ServiceUnderTest, workdir: Path, seconds: int, connections: int
) -> dict[str, dict[str, float]]:
    """wrk against the bare endpoint and the two webhooks, each request distinct and signed."""
    lua = workdir / "signed.lua"
    lua.write_text(LUA)
    total = seconds * 4000
    write_requests(workdir / "sms.tsv", svc.base_url, "sms", total)
    write_requests(workdir / "voice.tsv", svc.base_url, "voice", total)
    for path in ("/livez", "/healthz"):
        run_wrk(wrk, svc.base_url + path, 2, 4)  # warm-up
    return {
        "bare GET /livez": run_wrk(wrk, svc.base_url + "/livez", seconds, connections),
        "POST /twilio/sms": run_wrk(
            wrk, svc.base_url + "/twilio/sms", seconds, connections, lua, workdir / "sms.tsv"
        ),
        "POST /twilio/voice": run_wrk(
            wrk, svc.base_url + "/twilio/voice", seconds, connections, lua, workdir / "voice.tsv"
        ),
    }


def print_burst(count: int, target_s: float, from_request: list[float], from_answer: list[float]):
    if not from_request:
        print(f"\ntime to page ({count}-case burst): no pages matched (see the service logs)")
        return
    print(f"\ntime to page during a {count}-case email burst (16 concurrent senders):")
    for label, values in (
        ("from the intake request sent", from_request),
        ("from the intake's answer", from_answer),
    ):
        print(
            f"  {label:<30} n={len(values):<4} p50 {statistics.median(values):>6.0f} ms"
            f"  p99 {percentile(values, 99):>6.0f} ms  max {max(values):>6.0f} ms"
        )
    p99 = percentile(from_request, 99) / 1000
    paged = f" ({len(from_request)} of {count} paged)" if len(from_request) < count else ""
    record(
        f"{count}-case email burst, time to page p99 from the request (gunicorn + PostgreSQL)"
        + paged,
        p99, "s", f"< {target_s:g} s", p99 < target_s and not paged,
    )  # fmt: skip


def print_figures(
    args: argparse.Namespace,
    results: dict[str, dict[str, float]],
    from_request: list[float],
    from_answer: list[float],
) -> None:
    bare = results["bare GET /livez"]["rps"]
    for label, figure in (("POST /twilio/sms", "sms"), ("POST /twilio/voice", "voice")):
        ratio = results[label]["rps"] / bare
        name = f"{label} throughput / bare /livez (gunicorn + PostgreSQL, wrk, same run)"
        if figure == "voice":
            name = name.replace("voice", "voice (first IVR step)")
        record(name, ratio, "ratio", ">= 0.33", ratio >= 0.33)
    print(
        f"\nload: gunicorn {args.workers} workers x 8 threads on PostgreSQL, wrk -t2 "
        f"-c{args.connections} -d{args.seconds}s, {os.cpu_count()} cores"
    )
    print(f"{'endpoint':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs bare':>10}{'non-2xx':>9}")
    for label, r in results.items():
        print(
            f"{label:<22}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}"
            f"{r['rps'] / bare:>10.2f}{r['errors']:>9.0f}"
        )
    print_burst(args.burst, 2, from_request, from_answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn web workers")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--big-burst", type=int, default=1000, help="0: skip it")
    args = parser.parse_args()
    wrk = ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="oncall-bench-"))
    try:
        with (
            scratch_database("oncall_bench") as db_url,
            FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as fake,
        ):
            fake.auto_status = "delivered"
            svc = ServiceUnderTest(
                workdir,
                db_url,
                fake.base_url,
                split=True,
                web_workers=args.workers,
                engines=1,
                customers=many_customers(args.burst + args.big_burst),
                rota=BURST_ROTA,
                engine={"tick": "1s"},
                sla=BURST_SLA,
            )
            with svc:
                results = measure_endpoints(wrk, svc, workdir, args.seconds, args.connections)
                fake.reset()
                fake.auto_status = "delivered"
                from_request, from_answer = burst_time_to_page(svc, fake, db_url, args.burst)
                big = ([], [])
                if args.big_burst:
                    fake.reset()
                    fake.auto_status = "delivered"
                    big = burst_time_to_page(svc, fake, db_url, args.big_burst, first=args.burst)
                peaks = peak_rss_mb(service_processes(svc))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_figures(args, results, from_request, from_answer)
    if args.big_burst:
        print_burst(args.big_burst, 4, *big)
    if peaks:
        largest, total = max(peaks.values()), sum(peaks.values())
        print(
            f"\npeak RSS of the service by the end of the bursts: largest process "
            f"{largest:.0f} MB, all {len(peaks)} processes {total:.0f} MB"
        )
        record(
            f"peak RSS of the service during the bursts ({len(peaks)} processes, summed)",
            total, "MB", "(reported)", None,
        )  # fmt: skip


if __name__ == "__main__":
    main()
