"""The small protocol every outbound channel speaks, and the console transport.

The outbox sender turns a row into an :class:`Outgoing` and hands it to the transport for its
channel. Transports never touch the database: they send, or raise :class:`TransportError`
saying whether trying again could help.
"""

from __future__ import annotations

import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TextIO


@dataclass(frozen=True)
class Outgoing:
    id: int
    channel: str  # sms | voice | email
    to: str
    from_: str
    body: str
    subject: str | None = None
    headers: dict = field(default_factory=dict)
    status_callback: str | None = None  # where the provider should report delivery
    voice_url: str | None = None  # TwiML URL for a voice page


@dataclass(frozen=True)
class SendResult:
    provider_id: str | None
    status: str = "sent"  # what the provider said: queued, sent, accepted ...


@dataclass(frozen=True)
class LookupResult:
    """What the provider knows of a send whose outcome we lost (for reconciliation)."""

    provider_id: str
    status: str


class TransportError(Exception):
    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        code: int | None = None,
        http_status: int | None = None,
    ):
        super().__init__(message)
        self.transient = transient
        self.code = code
        self.http_status = http_status


class Transport(Protocol):
    def send(self, message: Outgoing) -> SendResult: ...

    def lookup(self, message: Outgoing, since: datetime) -> LookupResult | None:
        """Find a message we may already have sent (None: the provider never got it)."""
        ...


class ConsoleTransport:
    """Prints what would be sent and keeps it: the default, needing no accounts."""

    def __init__(self, stream: TextIO | None = None, echo: bool = True):
        self.stream = stream
        self.echo = echo
        self.sent: list[Outgoing] = []
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
