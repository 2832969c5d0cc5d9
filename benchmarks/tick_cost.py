"""The engine: its tick's cost must depend on what is due, not on what is open, and it must
apply thousands of due deadlines a second.

Seeds a PostgreSQL database with N open cases, each holding pending deadlines due later
(status timers), then times ``tick()`` when nothing is due, and when 10 and 100 deadlines are
due, for N = 100 (the baseline, same run) and N = 10,000. Then, at N = 10,000, makes
``--burst`` deadlines due at once (each of another case, a reminder SMS each) and times the
ticks that apply them all: the engine's steps per second.

    .venv/bin/python -m benchmarks.tick_cost [--open 10000] [--repeat 20] [--burst 2000]

Nothing is asserted; the figures are printed for the closing note.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import insert, text

from benchmarks.figures import record
from oncall.bootstrap.runtime import build_runtime
from oncall.clock import FakeClock
from oncall.config.loading import load_settings
from oncall.db.models import Case, Deadline
from oncall.delivery.transports.base import ConsoleTransport
from oncall.domain.rota.snapshots import policy_snapshot
from oncall.engine.tick import tick
from oncall.fakes.scratch_db import scratch_database

ROOT = Path(__file__).resolve().parent.parent

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def runtime_for(url: str, clock: FakeClock):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["database_url"] = url
    config["paths"] = {
        "rotations": str(ROOT / "rotations"),
        "customers": str(ROOT / "customers.yaml"),
        "voice_flows": str(ROOT / "voice_flows"),
    }
    path = Path(tempfile.mkdtemp()) / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    settings = load_settings(path, environ={})
    console = ConsoleTransport(echo=False)
    return build_runtime(
        settings, clock=clock, transports={"sms": console, "voice": console, "email": console}
    )


def seed(runtime, count: int, first_number: int, timers: int) -> None:
    """``count`` open, acknowledged cases whose timers are all due in the future.

    Each case holds ``timers`` status reminders (and a status target) so that the timed ticks
    can pull enough of them forward however few cases there are.
    """
    snapshot = policy_snapshot(runtime.rotas.team("support"), NOW)
    cases = [
        {
            "number": first_number + i,
            "team": "support",
            "customer_key": "acme",
            "customer_name": "Acme Corp",
            "plan": "premium",
            "contact_name": "Wile",
            "contact_phone": "+15551230001",
            "contact_email": None,
            "channel": "voice",
            "severity_claimed": 1,
            "severity": 1,
            "state": "acknowledged",
            "summary": "seeded",
            "after_hours": True,
            "intake_key": None,
            "opened_at": NOW - timedelta(minutes=5),
            "acknowledged_at": NOW,
            "acknowledged_by": "alice",
            "escalation": snapshot,
            "escalation_round": 0,
            "triage_due_at": NOW,
            "status_due_at": NOW + timedelta(hours=1),
        }
        for i in range(count)
    ]
    with runtime.sessions() as session, session.begin():
        ids = session.scalars(insert(Case).returning(Case.id), cases).all()
        session.execute(
            insert(Deadline),
            [
                {
                    "case_id": case_id,
                    "kind": "status_due",
                    "seq": seq,
                    "due_at": NOW + timedelta(hours=1),
                    "state": "pending",
                    "data": {},
                    "created_at": NOW,
                }
                # A target for every reminder, as the service arms them (in pairs): the same
                # work per reminder however many timers a case holds.
                for case_id in ids
                for seq in range(timers)
            ]
            + [
                {
                    "case_id": case_id,
                    "kind": "status_warn",
                    "seq": seq,
                    "due_at": NOW + timedelta(minutes=55),
                    "state": "pending",
                    "data": {},
                    "created_at": NOW,
                }
                for case_id in ids
                for seq in range(timers)
            ],
        )


def make_due(runtime, count: int) -> None:
    """Pull ``count`` status reminders forward so they are due now (a reminder SMS each)."""
    with runtime.sessions() as session, session.begin():
        session.execute(
            # Spread over the cases (the lowest seq of each case first), as due timers are in
            # life: one case rarely has many deadlines due at the same instant.
            text(
                "UPDATE deadlines SET due_at = :now WHERE id IN (SELECT id FROM deadlines"
                " WHERE state = 'pending' AND kind = 'status_warn' ORDER BY seq, case_id"
                " LIMIT :n)"
            ),
            {"now": NOW, "n": count},
        )


def time_ticks(runtime, repeat: int, due: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        if due:
            make_due(runtime, due)
        started = time.perf_counter()
        result = tick(runtime)
        samples.append((time.perf_counter() - started) * 1000)
        assert result.claimed == due, (result, due)
    return samples


def steps_per_second(runtime, burst: int) -> tuple[float, int]:
    """Make ``burst`` deadlines due at once and tick until they are all applied: steps/s and
    how many ticks that took."""
    make_due(runtime, burst)
    applied, ticks = 0, 0
    started = time.perf_counter()
    while applied < burst:
        result = tick(runtime)
        assert result.claimed and not result.failed, result
        applied += result.claimed
        ticks += 1
    return applied / (time.perf_counter() - started), ticks


def measure(open_cases: int, repeat: int, burst: int = 0):
    with scratch_database("oncall_tick", migrate=True) as url:
        clock = FakeClock(NOW)
        runtime = runtime_for(url, clock)
        needed = repeat * (10 + 100) + burst
        seed(runtime, open_cases, 1001, timers=max(1, -(-needed // open_cases)))
        with runtime.db.begin() as connection:
            connection.execute(text("ANALYZE"))
        tick(runtime)  # warm caches and connections
        figures = {due: time_ticks(runtime, repeat, due) for due in (0, 10, 100)}
        throughput = steps_per_second(runtime, burst) if burst else None
        runtime.close()
        return figures, throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=10_000, help="open cases to seed")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--burst", type=int, default=2000, help="deadlines due at once")
    args = parser.parse_args()
    import logging

    logging.getLogger("oncall").setLevel(logging.WARNING)
    baseline, _ = measure(100, args.repeat)
    loaded, (rate, ticks) = measure(args.open, args.repeat, args.burst)
    batch = runtime_for("sqlite://", FakeClock(NOW)).settings.engine.batch_size
    print(f"\nengine tick cost on PostgreSQL ({args.repeat} ticks each, median / p90 ms)")
    print(f"{'due deadlines':<16}{'100 open':>18}{f'{args.open:,} open':>20}{'ratio':>8}")
    for due in (0, 10, 100):
        base, big = baseline[due], loaded[due]
        p90 = lambda xs: sorted(xs)[int(0.9 * (len(xs) - 1))]  # noqa: E731
        print(
            f"{due:<16}{statistics.median(base):>9.1f} / {p90(base):>6.1f}"
            f"{statistics.median(big):>11.1f} / {p90(big):>6.1f}"
            f"{statistics.median(big) / statistics.median(base):>8.2f}"
        )
    flat = statistics.median(loaded[100]) / statistics.median(baseline[100])
    print(
        f"\nengine throughput at {args.open:,} open: {args.burst:,} deadlines due at once "
        f"applied in {ticks} ticks (engine.batch_size {batch}): {rate:,.0f} steps/s"
    )
    record(
        f"engine, due deadlines applied per second (PostgreSQL, {args.open:,} open cases)",
        rate, "steps/s", ">= 1,000/s (aim 2,000)", rate >= 1000,
    )  # fmt: skip
    record(
        f"tick cost at {args.open:,} open / at 100 (100 due, same run)",
        flat, "ratio", "~1 (flat; <= 1.2)", flat <= 1.2,
    )  # fmt: skip


if __name__ == "__main__":
    main()
