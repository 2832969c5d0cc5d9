"""One engine per SQLite file: the lock file beside the database (``oncall.db.single_engine``).

The CLI's refusals are replayed with real processes in ``tests/e2e/test_operators.py``; these
check the lock itself, with a second process where a second process is what matters.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from oncall.db.preflight import DatabaseNotReady
from oncall.db.single_engine import claim_engine, lock_file

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
CLAIM_IN_ANOTHER_PROCESS = """
import sys
from datetime import UTC, datetime
from oncall.db.single_engine import EngineAlreadyRunning, claim_engine
try:
    claim_engine(sys.argv[1], datetime.now(UTC))
except EngineAlreadyRunning as refused:
    print(refused)
    sys.exit(3)
print("claimed")
"""


def claim_elsewhere(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLAIM_IN_ANOTHER_PROCESS, url],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_process_is_refused_naming_the_holder_until_the_lock_is_released(tmp_path):
    url = f"sqlite:///{tmp_path / 'oncall.db'}"
    lock = claim_engine(url, NOW)
    assert lock is not None
    assert claim_engine(url, NOW) is lock  # this process already holds it
    assert lock_file(tmp_path / "oncall.db").read_text().startswith(f"pid {os.getpid()} on ")

    refused = claim_elsewhere(url)
    assert refused.returncode == 3, refused.stderr
    assert refused.stdout.startswith(
        f"another engine is already running on {tmp_path / 'oncall.db'} (pid {os.getpid()} on "
    )
    assert "since 2026-11-24 08:00:00 UTC). SQLite takes one engine" in refused.stdout

    lock.release()
    assert claim_elsewhere(url).stdout == "claimed\n"


def test_a_dead_holders_lock_file_blocks_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'oncall.db'}"
    assert claim_elsewhere(url).stdout == "claimed\n"  # that process exited holding it
    assert lock_file(tmp_path / "oncall.db").exists()
    lock = claim_engine(url, NOW)
    assert lock is not None
    lock.release()


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@db.example/oncall"],
    ids=["in-memory", "named-in-memory", "server"],
)
def test_only_sqlite_files_are_locked(url):
    assert claim_engine(url, NOW) is None


def test_a_database_folder_that_does_not_exist_is_a_sentence(tmp_path):
    with pytest.raises(DatabaseNotReady, match=r"^cannot use the database .*missing/oncall.db: "):
        claim_engine(f"sqlite:///{tmp_path / 'missing' / 'oncall.db'}", NOW)
