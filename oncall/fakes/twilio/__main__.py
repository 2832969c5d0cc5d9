"""Run the fake Twilio on its own: ``python -m oncall.fakes.twilio --port 8099``, then point
the service's ``twilio.api_base`` at the address it prints. Ctrl-C or SIGTERM stops it."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from oncall.fakes.twilio.protocol import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from oncall.fakes.twilio.server import FakeTwilio


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a fake Twilio REST API on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--auto-status", default=None, help="e.g. delivered")
    args = parser.parse_args(argv)
    fake = FakeTwilio(args.account_sid, args.auth_token, host=args.host, port=args.port)
    fake.auto_status = args.auto_status
    signal.signal(signal.SIGTERM, _interrupt)
    with fake:
        print(f"fake Twilio at {fake.base_url} (account {fake.account_sid})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
