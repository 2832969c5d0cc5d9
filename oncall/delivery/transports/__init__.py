"""Outbound delivery: the outbox sender and the transports it sends through."""

from __future__ import annotations

from oncall.config.settings import Settings
from oncall.delivery.transports.base import ConsoleTransport
from oncall.domain.transport import Transport


def build_transports(settings: Settings) -> dict[str, Transport]:
    """One transport per channel (sms, voice, email), as chosen in config."""
    console = ConsoleTransport()
    transports: dict[str, Transport] = {"sms": console, "voice": console, "email": console}
    if settings.transport == "twilio":
        from oncall.delivery.transports.twilio import TwilioTransport

        twilio = TwilioTransport(settings)
        transports["sms"] = transports["voice"] = twilio
    if settings.email.transport == "smtp":
        from oncall.delivery.transports.smtp import SmtpTransport

        transports["email"] = SmtpTransport(settings)
    return transports
