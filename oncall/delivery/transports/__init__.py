"""Outbound delivery: the outbox sender and the transports it sends through."""

from __future__ import annotations

from typing import Any

from oncall.config.settings import Settings
from oncall.delivery.transports.base import ConsoleTransport


def build_transports(settings: Settings) -> dict[str, Any]:
    """One transport per channel (sms, voice, email), as chosen in config."""
    console = ConsoleTransport()
    transports: dict[str, Any] = {"sms": console, "voice": console, "email": console}
    if settings.transport == "twilio":
        from oncall.delivery.transports.twilio import TwilioTransport

        twilio = TwilioTransport(settings)
        transports["sms"] = transports["voice"] = twilio
    if settings.email.transport == "smtp":
        from oncall.delivery.transports.smtp import SmtpTransport

        transports["email"] = SmtpTransport(settings)
    return transports
