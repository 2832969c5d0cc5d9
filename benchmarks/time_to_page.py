"""Time to page: from the intake request to the page SMS arriving at Twilio.

The service runs as an operator runs the single box: ``oncall serve`` in its own process
(:class:`~oncall.fakes.service.ServiceUnderTest`: web, engine and sender in one gunicorn
worker, default tick), with ``transport: twilio`` pointed at the fake Twilio of
``oncall.fakes.twilio`` on loopback, which also sends the delivery callbacks as Twilio would.
This process only plays the customers and Twilio, so the client's own work no longer competes
with the service for one interpreter. A customer's email is POSTed to ``/email/inbound``
(SendGrid's format); the clock stops when the fake records the ``Messages.json`` request
carrying the page to the on-call engineer. Both processes read the same monotonic clock.

Two measurements:

* one case at a time, repeated (``--single``, default 50): the latency of a lone page. One
  warm-up case goes first and is not counted (a service that has just started compiles its
  statements on its first request); its latency is printed as the cold first request;
* a burst (``--burst``, default 200): that many customers email at once (16 at a time), and
  every case's page is timed from its own request.

Bundling is switched off (``engine.sms_rate_window: 0s``) so that every case's own page is
timed; with it on, a burst would be a handful of bundled SMS instead.

    .venv/bin/python -m benchmarks.time_to_page [--database-url postgresql://...]

Without ``--database-url`` this is the single-box default (SQLite, ``oncall serve``): the
figures "one case, intake → page" and "200-case burst on the single box" of issue 14's table
come from here. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks.figures import record as record_figure
from benchmarks.load import BURST_ROTA, BURST_SLA, burst_time_to_page, percentile
from oncall.fakes.service import ACCOUNT_SID, AUTH_TOKEN, ServiceUnderTest, many_customers
from oncall.fakes.twilio.server import FakeTwilio


def report(label: str, ms: list[float]) -> None:
    print(
        f"{label:<34} n={len(ms):<4} p50={percentile(ms, 50):7.1f} ms  "
        f"p99={percentile(ms, 99):7.1f} ms  max={max(ms):7.1f} ms  "
        f"mean={statistics.fmean(ms):7.1f} ms"
    )


def lone_case(svc: ServiceUnderTest, fake: FakeTwilio, url: str, index: int) -> tuple[float, float]:
    """One case on its own, waited for: (intake -> page, the intake's answer), in ms."""
    from_request, from_answer = burst_time_to_page(svc, fake, url, 1, first=index)
    if not from_request or not from_answer:
        raise RuntimeError(f"case {index} was not paged\n{svc.log_text()}")
    # One case: the answer came (request - answer) ms after the request was sent.
    return from_request[0], from_request[0] - from_answer[0]


def measure_one_at_a_time(
    svc: ServiceUnderTest, fake: FakeTwilio, url: str, count: int, database: str
) -> None:
    """``count`` lone cases, each waited for before the next, after one uncounted warm-up."""
    cold_page, cold_answer = lone_case(svc, fake, url, count)
    print(
        f"first request after start (cold, not counted): intake -> page {cold_page:.1f} ms, "
        f"the intake answer {cold_answer:.1f} ms"
    )
    timed = [lone_case(svc, fake, url, index) for index in range(count)]
    lone = [page for page, _ in timed]
    report("one case at a time (warm)", lone)
    report("  (the intake answer itself)", [answer for _, answer in timed])
    p99 = percentile(lone, 99)
    record_figure(
        f"one case, intake -> page at the fake Twilio, p99 ({database})",
        p99, "ms", "< 50 ms", p99 < 50,
    )  # fmt: skip


def measure_burst(
    svc: ServiceUnderTest, fake: FakeTwilio, url: str, first: int, count: int, database: str
) -> None:
    """``count`` customers email at once (16 at a time); every case's page timed from its own
    request."""
    from_request, from_answer = burst_time_to_page(svc, fake, url, count, first=first)
    if not from_request:
        print(f"burst of {count}: no pages matched\n{svc.log_text()}")
        return
    paged = f" ({len(from_request)} of {count} paged)" if len(from_request) < count else ""
    report(f"burst of {count}{paged}", from_request)
    report("  (from the intake's answer)", from_answer)
    if len(from_answer) == len(from_request):  # every case answered: the lists line up
        # How long each intake request itself took, to tell intake from sending in the figure.
        answers = [r - a for r, a in zip(from_request, from_answer, strict=True)]
        report("  (the intake answers themselves)", answers)
    p99 = percentile(from_request, 99) / 1000
    record_figure(
        f"{count}-case email burst, time to page p99 ({database}, one process as oncall serve)"
        + paged,
        p99, "s", "< 3 s", p99 < 3 and not paged,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--single", type=int, default=50, help="lone cases, one at a time")
    parser.add_argument("--burst", type=int, default=200, help="cases opened at once")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as fake,
    ):
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        database = url.split(":")[0].split("+")[0]
        fake.auto_status = "delivered"  # Twilio calls back for every page, as in production
        svc = ServiceUnderTest(
            Path(tmp),
            url,
            fake.base_url,
            customers=many_customers(args.single + args.burst + 1),
            rota=BURST_ROTA,
            engine={"tick": "1s"},  # the default tick; bundling stays off (sms_rate_window 0s)
            sla=BURST_SLA,
        )
        print(
            f"database: {database}, oncall serve at {svc.base_url}, fake Twilio at {fake.base_url}"
        )
        with svc:
            measure_one_at_a_time(svc, fake, url, args.single, database)
            measure_burst(svc, fake, url, args.single + 1, args.burst, database)


if __name__ == "__main__":
    main()
