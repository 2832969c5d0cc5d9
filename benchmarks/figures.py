"""The figures of issue 14's table: each benchmark records what it measured beside its target,
and ``run_all.py`` prints them together at the end. Nothing is asserted: a figure that misses
its target is printed as such, with the run's machine line, for whoever reads the output."""

from __future__ import annotations

import json
import os
from pathlib import Path

#: Where the figures of one ``make bench`` run are collected (set by run_all.py).
ENV = "ONCALL_BENCH_FIGURES"


def record(figure: str, value: float, unit: str, target: str, met: bool | None) -> None:
    """Keep one figure for the summary (printed by the benchmark itself as well)."""
    line = {"figure": figure, "value": value, "unit": unit, "target": target, "met": met}
    path = os.environ.get(ENV)
    if path:
        with Path(path).open("a") as out:
            out.write(json.dumps(line) + "\n")


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
