"""How fast is ``who_is_on_call``, and does it slow down as a rota ages?

A rota with three layers on one level (a weekly base, a weekday-nights layer, a weekend layer)
and 50 overrides is asked "who is on call?" at many instants spread over a week, starting one
day after the rota's start and again ten years later. Lookups are arithmetic, so the two rates
should be within noise of each other (ratio close to 1.0).

The resolver memoises local-time conversions and window edges (lookups cluster around "now"),
so the "cold" rows clear those caches before every lookup: the worst case, also flat in time.

Run: ``.venv/bin/python benchmarks/rota_lookup.py``
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock

from oncall.domain.rota import localtime, windows
from oncall.domain.rota.localtime import to_instant
from oncall.domain.rota.model import (
    EscalationPolicy,
    EscalationStep,
    Member,
    Override,
    Rotation,
    Team,
)
from oncall.domain.rota.resolve import who_is_on_call
from oncall.domain.rota.windows import daily_window, weekly_window

ZONE = "America/Toronto"
START = datetime(2026, 11, 2, 9, 0)  # noqa: DTZ001 - a local wall-clock time, read in ZONE
LOOKUPS = 10_000
COLD_LOOKUPS = 1_000
ROUNDS = 5


def build_team() -> Team:
    keys = [f"eng{i:02d}" for i in range(12)]
    members = {
        key: Member(key, f"Engineer {i}", f"+1555010{i:04d}", f"{key}@example.com")
        for i, key in enumerate(keys)
    }
    rotations = (
        Rotation("base", "primary", tuple(keys[:4]), timedelta(weeks=1), START),
        Rotation(
            "nights",
            "primary",
            tuple(keys[4:8]),
            timedelta(days=1),
            START,
            daily_window(range(5), clock(18), clock(9)),
        ),
        Rotation(
            "weekend",
            "primary",
            tuple(keys[8:]),
            timedelta(weeks=1),
            START,
            weekly_window(4, clock(18), 0, clock(9)),
        ),
    )
    team = Team(
        "bench",
        ZONE,
        members,
        rotations,
        (),
        EscalationPolicy((EscalationStep(timedelta(0), ("primary",)),), 0),
    )
    # 50 overrides: a night every three weeks over the first three years.
    overrides = tuple(
        Override(
            rotations[i % 3].name,
            keys[(i * 5) % len(keys)],
            to_instant(START + timedelta(weeks=3 * i, hours=9), team.zone),
            to_instant(START + timedelta(weeks=3 * i, hours=24), team.zone),
        )
        for i in range(50)
    )
    return Team("bench", ZONE, members, rotations, overrides, team.escalation)


def clear_caches() -> None:
    """Cold start: forget every memoised local-time conversion and window instance."""
    localtime.clear_caches()
    windows.clear_caches()


def rate(team: Team, origin: datetime, cold: bool = False) -> float:
    # Instants spread over a week, so every layer, window edge and override is exercised.
    count = COLD_LOOKUPS if cold else LOOKUPS
    instants = [origin + timedelta(seconds=604800 / count * i) for i in range(count)]
    best = float("inf")
    for _ in range(ROUNDS):
        clear_caches()
        began = time.perf_counter()
        for at in instants:
            if cold:
                clear_caches()
            who_is_on_call(team, "primary", at)
        best = min(best, time.perf_counter() - began)
    return count / best


def main() -> None:
    team = build_team()
    start = to_instant(START, team.zone).astimezone(UTC)
    print(f"rota: 3 layers, {len(team.overrides)} overrides; best of {ROUNDS} rounds")
    for label, cold in (("warm", False), ("cold", True)):
        near = rate(team, start + timedelta(days=1), cold)
        far = rate(team, start + timedelta(days=3653), cold)
        print(f"{label}  start + 1 day:    {near:10,.0f} lookups/s")
        print(f"{label}  start + 10 years: {far:10,.0f} lookups/s")
        print(f"{label}  ratio (10y / 1d): {far / near:10.2f}")


if __name__ == "__main__":
    main()
