"""Every transport speaks the :class:`~oncall.domain.transport.Transport` protocol that the
runtime's ``transports`` are typed with: the console, Twilio and SMTP transports, and the tests'
fake. Nothing checks types when the service runs, so this does."""

from __future__ import annotations

import inspect
from typing import get_type_hints

import pytest

from oncall.delivery.transports.base import ConsoleTransport
from oncall.delivery.transports.smtp import SmtpTransport
from oncall.delivery.transports.twilio import TwilioTransport
from oncall.domain.transport import Transport
from oncall.runtime import Runtime
from tests.fakes.transports import FakeTransport

METHODS = ("send", "lookup")


def test_the_runtime_holds_transports_by_channel():
    assert get_type_hints(Runtime)["transports"] == dict[str, Transport]


@pytest.mark.parametrize(
    "transport", [ConsoleTransport, TwilioTransport, SmtpTransport, FakeTransport]
)
def test_speaks_the_transport_protocol(transport):
    for name in METHODS:
        expected, actual = getattr(Transport, name), getattr(transport, name)
        assert list(inspect.signature(actual).parameters) == list(
            inspect.signature(expected).parameters
        ), f"{transport.__name__}.{name}"
        assert get_type_hints(actual) == get_type_hints(expected), f"{transport.__name__}.{name}"
