"""The console transport: the default, needing no accounts.

It speaks :class:`oncall.domain.transport.Transport` like the Twilio and SMTP transports: it
prints what would be sent and keeps it, so ``make run`` shows every page, SMS and email.
"""

from __future__ import annotations

import sys
import threading
import uuid
from datetime import datetime
from typing import TextIO

from oncall.domain.transport import LookupResult, Outgoing, SendResult


class ConsoleTransport:
    """Prints what would be sent and keeps it: the default, needing no accounts."""

    def __init__(self, stream: TextIO | None = None, echo: bool = True):
        self.stream = stream
        self.echo = echo
        self.sent: list[Outgoing] = []
        self.deleted_recordings: list[str] = []
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> SendResult:
        with self._lock:
            self.sent.append(message)
        if self.echo:
            stream = self.stream or sys.stdout
            head = f"[{message.channel} → {message.to}]"
            if message.subject:
                head += f" {message.subject}"
            print(f"{head}\n    " + message.body.replace("\n", "\n    "), file=stream, flush=True)
        return SendResult(provider_id=f"console-{uuid.uuid4().hex[:12]}", status="sent")

    def lookup(self, message: Outgoing, since: datetime) -> LookupResult | None:
        with self._lock:
            for sent in self.sent:
                if sent.id == message.id:
                    return LookupResult("console", "sent")
        return None

    def delete_recording(self, recording_sid: str) -> None:
        """Nothing holds recordings without a provider: say what would be deleted."""
        with self._lock:
            self.deleted_recordings.append(recording_sid)
        if self.echo:
            print(
                f"[recording {recording_sid} deleted]", file=self.stream or sys.stdout, flush=True
            )
