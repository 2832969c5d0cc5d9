"""``make bench``: run every benchmark and print its figures (nothing is asserted).

Needs PostgreSQL at ONCALL_TEST_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1
:5432/test) for the engine, time-to-page and load figures, and wrk (installed from Debian by
load.py if missing).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ("rota lookups", ["rota_lookup.py"]),
    ("email severity rules on the labelled corpus", ["severity_corpus.py"]),
    ("time to page (in-process, fake Twilio on loopback)", ["time_to_page.py"]),
    ("engine tick cost", ["tick_cost.py"]),
    ("load (gunicorn + PostgreSQL, wrk)", ["load.py"]),
]


def main() -> int:
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    failed = 0
    for title, args in SCRIPTS:
        print(f"\n===== {title}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / args[0]), *args[1:]])
        print(f"({time.monotonic() - started:.0f}s, exit {code})", flush=True)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
