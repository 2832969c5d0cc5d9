"""The single box as an operator runs it: real ``oncall serve`` and ``oncall clock`` processes on
an SQLite file, started from a directory that is not the project's (issue 15, findings 4 and 5).

* a user added with ``oncall user add`` signs in after ``kill -HUP``, without a restart;
* a broken config.yaml keeps the last good one live and ``/healthz`` answers 503 naming it;
* a second engine on the same SQLite file is refused with a sentence, and a crashed engine's
  lock does not block the next start.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ONCALL = Path(sys.executable).parent / "oncall"
PASSWORD = "a long enough password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SingleBox:
    """The shipped files in their own folder, run from another one with ``--config``."""

    def __init__(self, tmp_path: Path):
        self.folder = tmp_path / "srv"
        self.cwd = tmp_path / "elsewhere"
        self.cwd.mkdir()
        self.folder.mkdir()
        for name in ("config.yaml", "customers.yaml"):
            shutil.copy(ROOT / name, self.folder / name)
        for name in ("rotations", "voice_flows"):
            shutil.copytree(ROOT / name, self.folder / name)
        self.config = self.folder / "config.yaml"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The poller would pick edits up by itself; a slow one proves SIGHUP did it.
        self.edit(lambda data: data.update(public_url=self.url, engine={"reload_poll": "1h"}))
        self.processes: list[subprocess.Popen] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ONCALL_", "TWILIO_"))}
        env.pop("DATABASE_URL", None)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def edit(self, change) -> None:
        data = yaml.safe_load(self.config.read_text())
        change(data)
        self.config.write_text(yaml.safe_dump(data, sort_keys=False))

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ONCALL), "--config", str(self.config), *args],
            cwd=self.cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self, *args: str, name: str) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [str(ONCALL), "--config", str(self.config), *args],
            cwd=self.cwd,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def serve(self) -> subprocess.Popen:
        process = self.start("serve", "--port", str(self.port), name="serve")
        wait_until(lambda: self.health().status_code == 200, "the service to be healthy", self)
        return process

    def health(self) -> requests.Response:
        try:
            return requests.get(f"{self.url}/healthz", timeout=5)
        except requests.ConnectionError:
            return _NotYet()

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


class _NotYet:
    status_code = 0
    text = "not listening yet"


def wait_until(predicate, what: str, box: SingleBox, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in box.folder.glob("*.log"))
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


def _post_sign_in(box: SingleBox, username: str) -> tuple[requests.Session, int]:
    browser = requests.Session()
    page = browser.get(f"{box.url}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = browser.post(
        f"{box.url}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    return browser, response.status_code


def sign_in(box: SingleBox, username: str) -> int:
    return _post_sign_in(box, username)[1]


def signed_in(box: SingleBox, username: str) -> requests.Session:
    browser, status = _post_sign_in(box, username)
    assert status == 302, status
    return browser


@pytest.fixture
def box(tmp_path) -> Iterator[SingleBox]:
    single = SingleBox(tmp_path)
    assert single.run("db", "upgrade").returncode == 0
    try:
        yield single
    finally:
        single.stop()


def test_a_user_added_with_user_add_signs_in_after_kill_hup(box):
    server = box.serve()
    assert sign_in(box, "dana") == 401
    added = subprocess.run(
        [str(ONCALL), "user", "add", "dana", "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    box.edit(lambda data: data.update(users=yaml.safe_load(added.stdout)))
    os.kill(server.pid, signal.SIGHUP)
    # Wait for the reload, then sign in once: failed sign-ins are rate-limited.
    wait_until(lambda: "config reloaded" in box.log("serve"), "the SIGHUP reload", box)
    assert sign_in(box, "dana") == 302
    assert server.poll() is None  # the same process: no restart


def test_a_broken_config_keeps_the_last_good_one_live_with_503_and_file_and_line(box):
    password_hash = yaml.safe_load(
        subprocess.run(
            [str(ONCALL), "user", "add", "dana", "--password-stdin"],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    box.edit(lambda data: data.update(users=password_hash))
    server = box.serve()
    good = box.config.read_text()
    broken = good.replace("triage: 15m", "triage: 15 minutes")
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "15 minutes" in text)
    box.config.write_text(broken)
    os.kill(server.pid, signal.SIGHUP)

    # (a list, not the response: a 503 response is falsy)
    (response,) = wait_until(
        lambda: [r for r in [box.health()] if r.status_code == 503], "/healthz to turn 503", box
    )
    # /healthz is public: it names the file; the signed-in Now page gives line and problem.
    assert (
        "last good version live: config.yaml has errors (details on the dashboard)"
        in response.json()["reasons"]
    )
    browser = signed_in(box, "dana")  # the last good config still serves
    now_page = html.unescape(browser.get(f"{box.url}/", timeout=10).text)
    assert f'{box.config}:{line}: sla.triage: "15 minutes" is not a duration like 15m' in now_page

    box.config.write_text(good)
    os.kill(server.pid, signal.SIGHUP)
    wait_until(lambda: box.health().status_code == 200, "/healthz to recover", box)


def test_a_second_engine_on_the_same_sqlite_file_is_refused(box):
    first = box.serve()
    database = box.folder / "oncall.db"
    refusal = re.compile(
        rf"Error: another engine is already running on {re.escape(str(database))} "
        rf"\(pid {first.pid} on .+ since .+\)\. SQLite takes one engine: stop that one first, "
        r"or use PostgreSQL to run several\.\n"
    )
    for args in (["serve", "--port", str(free_port())], ["clock"]):
        second = box.run(*args)
        assert second.returncode == 1, second.stderr
        assert refusal.fullmatch(second.stderr), second.stderr
        assert second.stdout == ""

    busy = box.run("serve", "--port", str(box.port))  # a second `make run`: same port too
    assert busy.returncode == 1
    assert busy.stderr == (
        f"Error: port {box.port} on 127.0.0.1 is already in use (another `oncall serve`?): "
        "stop that process or choose another --port\n"
    )

    # A crashed engine leaves its lock file behind; it must not block the next start.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert (box.folder / "oncall.db-engine.lock").exists()
    box.start("clock", name="clock")
    wait_until(lambda: "oncall clock running" in box.log("clock"), "the clock to start", box)
