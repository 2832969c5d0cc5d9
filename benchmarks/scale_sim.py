"""A simulation for docs/scaling.md: the engine against 100,000 open cases and 1,000
escalations running at once, on the fake clock.

Seeds a database with ``--open`` acknowledged cases whose status timers fall due over the next
hours (a reminder and a target each, every ``--cadence``), and ``--escalations`` cases that
open together at the start and that nobody acknowledges: each runs the example rota's policy
(rotations/support.yaml: three steps 5 minutes apart, once more, then the manager), with its
triage reminder, triage breach and status targets. Then moves the fake clock ``--step`` at a
time for ``--minutes`` and, at each instant, runs the engine (``tick()``) until nothing is due,
as a clock process that keeps up would.

Printed: steps applied, steps per second (wall time spent in the engine), and the lag: for each
instant, the wall time from its start until its last due deadline was applied (an engine whose
lag stays below its tick interval keeps up in real time). Outbox rows pile up (no sender runs):
only the engine is measured.

    .venv/bin/python -m benchmarks.scale_sim [--open 100000] [--escalations 1000]
        [--minutes 40] [--step 15s] [--database-url URL]  (default: a scratch PostgreSQL)

Nothing is asserted. About 2-4 minutes on the 2-core machine (most of it seeding).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from contextlib import nullcontext
from datetime import timedelta

from sqlalchemy import insert, text

from benchmarks.tick_cost import NOW, runtime_for
from oncall.clock import FakeClock
from oncall.db.models import Case, Deadline
from oncall.db.session import upgrade
from oncall.domain.rota.snapshots import policy_snapshot
from oncall.domain.timetext import parse_duration
from oncall.engine.tick import tick
from oncall.fakes.scratch_db import scratch_database

CHUNK = 5000  # rows per INSERT while seeding


def case_rows(runtime, count: int, first: int, *, acknowledged: bool) -> list[dict]:
    snapshot = policy_snapshot(runtime.rotas.team("support"), NOW)
    return [
        {
            "number": first + i,
            "team": "support",
            "customer_key": "acme",
            "customer_name": "Acme Corp",
            "plan": "premium",
            "contact_name": "Wile",
            "contact_phone": "+15551230001",
            "contact_email": None,
            "channel": "email",
            "severity_claimed": 1,
            "severity": 1,
            "state": "acknowledged" if acknowledged else "open",
            "summary": "seeded for the scaling simulation",
            "after_hours": True,
            "intake_key": None,
            "opened_at": NOW - (timedelta(hours=1) if acknowledged else timedelta(0)),
            "acknowledged_at": NOW if acknowledged else None,
            "acknowledged_by": "alice" if acknowledged else None,
            "escalation": snapshot,
            "escalation_round": 0,
            "triage_due_at": NOW + timedelta(minutes=15),
            "status_due_at": NOW + timedelta(hours=1),
        }
        for i in range(count)
    ]


def deadline(case_id: int, kind: str, due, seq: int = 0) -> dict:
    return {
        "case_id": case_id,
        "kind": kind,
        "seq": seq,
        "due_at": due,
        "state": "pending",
        "data": {},
        "created_at": NOW,
    }


def seed(runtime, open_cases: int, escalations: int, cadence: timedelta) -> None:
    """The open cases' status timers spread evenly over one cadence; the escalations' first
    deadlines as opening a case arms them (first step due now)."""
    with runtime.sessions() as session, session.begin():
        for start in range(0, open_cases, CHUNK):
            count = min(CHUNK, open_cases - start)
            ids = session.scalars(
                insert(Case).returning(Case.id),
                case_rows(runtime, count, 100_000 + start, acknowledged=True),
            ).all()
            rows = []
            for offset, case_id in enumerate(ids):
                due = NOW + cadence * ((start + offset) / open_cases)
                rows.append(deadline(case_id, "status_warn", due - timedelta(minutes=5)))
                rows.append(deadline(case_id, "status_due", due))
            session.execute(insert(Deadline), rows)
        ids = session.scalars(
            insert(Case).returning(Case.id),
            case_rows(runtime, escalations, 1001, acknowledged=False),
        ).all()
        rows = []
        for case_id in ids:
            rows.append(deadline(case_id, "escalate", NOW))
            rows.append(deadline(case_id, "triage_warn", NOW + timedelta(minutes=10)))
            rows.append(deadline(case_id, "triage_due", NOW + timedelta(minutes=15)))
            rows.append(deadline(case_id, "status_warn", NOW + timedelta(minutes=55)))
            rows.append(deadline(case_id, "status_due", NOW + timedelta(hours=1)))
        session.execute(insert(Deadline), rows)


def simulate(runtime, clock: FakeClock, minutes: int, step: timedelta) -> None:
    instants = int(timedelta(minutes=minutes) / step)
    lags: list[float] = []
    per_instant: list[int] = []
    steps, busy = 0, 0.0
    for _ in range(instants):
        started = time.perf_counter()
        applied = 0
        while True:
            result = tick(runtime)
            applied += result.claimed
            if result.claimed == 0:
                break
        elapsed = time.perf_counter() - started
        if applied:
            lags.append(elapsed)
            per_instant.append(applied)
            steps += applied
            busy += elapsed
        clock.advance(seconds=step.total_seconds())
    print(
        f"\nsimulated {minutes} min in steps of {step.total_seconds():g}s: {steps:,} deadlines "
        f"applied in {busy:.1f}s of engine time: {steps / busy if busy else 0:,.0f} steps/s"
    )
    if lags:
        ordered = sorted(lags)
        print(
            f"lag per instant with work (wall time to apply all that was due), n={len(lags)}: "
            f"p50 {statistics.median(lags) * 1000:.0f} ms, "
            f"p99 {ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms (busiest instant: {max(per_instant):,} deadlines)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--escalations", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=40)
    parser.add_argument("--step", default="15s", help="fake time between engine passes")
    parser.add_argument("--cadence", default="4h", help="the open cases' status cadence")
    parser.add_argument("--database-url", default=None, help="default: a scratch PostgreSQL")
    args = parser.parse_args()
    logging.getLogger("oncall").setLevel(logging.WARNING)
    scratch = (
        nullcontext(args.database_url)
        if args.database_url
        else scratch_database("oncall_scale", migrate=True)
    )
    with scratch as url:
        if args.database_url:
            upgrade(url)
        clock = FakeClock(NOW)
        runtime = runtime_for(url, clock)
        started = time.perf_counter()
        seed(runtime, args.open, args.escalations, parse_duration(args.cadence))
        with runtime.db.begin() as connection:
            if url.startswith("postgresql"):
                connection.execute(text("ANALYZE"))
        print(
            f"seeded {args.open:,} open cases and {args.escalations:,} escalations in "
            f"{time.perf_counter() - started:.0f}s ({url.split(':')[0]}); "
            f"engine.batch_size {runtime.settings.engine.batch_size}"
        )
        simulate(runtime, clock, args.minutes, parse_duration(args.step))
        runtime.close()


if __name__ == "__main__":
    main()
