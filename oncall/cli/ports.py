"""Is the address ``oncall serve`` was told to listen on free? Asked before gunicorn starts, so
that a busy port is one sentence instead of gunicorn's "Connection in use" five times over."""

from __future__ import annotations

import errno
import socket


class PortInUse(Exception):
    """The address to listen on is taken; the message says so in one sentence."""


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`PortInUse` when something already listens on ``host:port``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As gunicorn binds: SO_REUSEADDR, so a socket in TIME_WAIT is not "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port {port} on {host} is already in use (another `oncall serve`?): stop "
                    "that process or choose another --port"
                ) from None
            raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None
