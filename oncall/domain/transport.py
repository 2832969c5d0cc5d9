"""The port between the outbox and a provider: what a transport is handed (:class:`Outgoing`),
what it answers (:class:`SendResult`, :class:`LookupResult`), how it fails
(:class:`TransportError`), the :class:`Transport` protocol every channel speaks, and
:class:`RecordingStore`, what a voice transport that keeps recordings can do with them.

It sits in the domain, below the runtime, because the runtime holds one transport per channel
and is typed with this protocol; the transports themselves (console, Twilio, SMTP) live in
``oncall.delivery.transports``. Transports never touch the database: they send, or raise
:class:`TransportError` saying whether trying again could help.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


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


class RecordingStore(Protocol):
    """A voice transport that keeps callers' recordings (Twilio does) and can delete one.

    ``delete_recording`` returns when the recording is gone, including when the provider no
    longer had it (deleting twice is harmless, so two engines may race); it raises
    :class:`TransportError` when it could not be deleted now.
    """

    def delete_recording(self, recording_sid: str) -> None: ...
