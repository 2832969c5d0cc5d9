"""``make bench``: run every benchmark, then print issue 14's figures beside their targets.

Needs PostgreSQL at ONCALL_TEST_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1
:5432/test) for the engine, load and burst figures, and wrk (installed from Debian by load.py
if missing). Nothing is asserted: a figure that misses its target says so. Throughputs are
ratios measured in the same run (a webhook against the bare endpoint, the tick at 10,000 open
cases against the tick at 100), because on a shared 2-core machine absolute figures move with
the neighbours' load: the machine line says how loaded it was when the run started.

About 5-7 minutes on the 2-core machine. The 100,000-case simulation of docs/scaling.md is
not part of it (``make scale-sim``).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.figures import ENV, read  # noqa: E402  (the repository root is put first)

SCRIPTS = [
    ("rota lookups", "benchmarks.rota_lookup", []),
    ("email severity rules on the labelled corpus", "benchmarks.severity_corpus", []),
    (
        "time to page on the single box (SQLite, oncall serve as its own process)",
        "benchmarks.time_to_page",
        [],
    ),
    ("engine: tick cost and steps per second (PostgreSQL)", "benchmarks.tick_cost", []),
    ("load and bursts (gunicorn + PostgreSQL, wrk)", "benchmarks.load", []),
]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    load = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} cores, {cpu_model()}, {platform.platform()}, "
        f"Python {platform.python_version()}; load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def summary(figures: list[dict]) -> None:
    print("\n===== issue 14's figures (this run)")
    print(f"{'figure':<92}{'measured':>16}  {'target':<24}met")
    for f in figures:
        value = f["value"]
        shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
        met = {True: "yes", False: "NO", None: "-"}[f["met"]]
        print(f"{f['figure']:<92}{shown + ' ' + f['unit']:>16}  {f['target']:<24}{met}")


def main() -> int:
    print(machine_line(), flush=True)
    started_all = time.monotonic()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        collected = Path(tmp) / "figures.jsonl"
        env = {**os.environ, ENV: str(collected), "PYTHONPATH": str(ROOT)}
        for title, module, args in SCRIPTS:
            print(f"\n===== {title}", flush=True)
            started = time.monotonic()
            code = subprocess.call([sys.executable, "-m", module, *args], cwd=ROOT, env=env)
            print(f"({time.monotonic() - started:.0f}s, exit {code})", flush=True)
            failed += code != 0
        summary(read(collected))
    load = os.getloadavg()
    print(
        f"\nmake bench took {time.monotonic() - started_all:.0f}s; load average at the end "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
