"""The README's walkthrough, run as written against a real ``oncall serve`` (issue 15, finding
8: the walkthrough said Alice was on call when ``rota who`` said Bob).

The service runs from a copy of the shipped files (console transport, SQLite beside
config.yaml) and the README's ``sh`` block runs in bash in that folder with the virtualenv on
PATH, as a reader's second terminal would. Every line must succeed, and the engineer's reply
must read as the README says (its times aside: they depend on when the test runs).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
README = (ROOT / "README.md").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def walkthrough() -> str:
    section = README.split("## Try the whole life of a case", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)
    # The test puts the virtualenv on PATH instead of sourcing its activate script.
    return "\n".join(line for line in block.splitlines() if "/bin/activate" not in line)


def documented_reply() -> re.Pattern[str]:
    """The README's example reply, with any clock time and North American zone accepted."""
    text = " ".join(README.split())
    example = re.search(r"`(reply: Acknowledged [^`]+)`", text).group(1)
    pattern = re.escape(example)
    pattern = re.sub(r"\d\d:\d\d\\ E[SD]T", r"\\d\\d:\\d\\d\\ E[SD]T", pattern)
    return re.compile(pattern)


@pytest.fixture
def service(tmp_path):
    folder = tmp_path / "checkout"
    folder.mkdir()
    for name in ("config.yaml", "customers.yaml"):
        shutil.copy(ROOT / name, folder / name)
    for name in ("rotations", "voice_flows"):
        shutil.copytree(ROOT / name, folder / name)
    port = free_port()
    config = folder / "config.yaml"
    data = yaml.safe_load(config.read_text())
    data["public_url"] = f"http://127.0.0.1:{port}"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONCALL_", "TWILIO_"))}
    env.pop("DATABASE_URL", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    log = (folder / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "oncall"), "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, (folder / "serve.log").read_text()
            time.sleep(0.2)
        yield folder, env
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
        log.close()


def test_the_readme_walkthrough_runs_as_written(service):
    folder, env = service
    script = "set -euo pipefail\n" + walkthrough()
    run = subprocess.run(
        ["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    replies = [line for line in run.stdout.splitlines() if line.startswith("reply: ")]
    assert len(replies) == 3, run.stdout
    assert documented_reply().fullmatch(replies[0]), (replies[0], documented_reply().pattern)
    assert replies[1].startswith("reply: Status sent to Acme Corp for 1001. ETA ")
    assert "1001" in replies[2] and "resolved" in replies[2].lower(), replies[2]
    assert "Your case number is 1 0 0 1" in run.stdout
