"""The fake's HTTP server on loopback: a threading server that can close every open
connection when the fake stops, a handler that hands each request to the fake, and the
reading and writing of a request and its JSON answer.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from oncall.fakes.twilio.protocol import new_sid


class _Fake(Protocol):
    """What the server needs of the fake it serves."""

    def _serve(self, handler: RequestHandler) -> None: ...

    def _note_error(self, text: str) -> None: ...


class LoopbackServer(ThreadingHTTPServer):
    # ThreadingMixIn joins its handler threads in server_close(); we make sure they end by
    # shutting down every open connection first (keep-alive readers would wait forever).
    block_on_close = True
    request_queue_size = 512  # bursts of connections must not wait for SYN retries
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: _Fake) -> None:
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            with contextlib.suppress(OSError):  # already closed by its handler
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # the client went away (timed out, reset): not our bug
            return
        self.fake._note_error(traceback.format_exc())
        super().handle_error(request, client_address)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTwilio/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def read_request(handler: RequestHandler) -> tuple[str, dict[str, list[str]]]:
    """The path of the request, and its parameters: the query, then the form body."""
    split = urlsplit(handler.path)
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    params = parse_qs(split.query, keep_blank_values=True)
    if raw:
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        for name, values in form.items():
            params.setdefault(name, []).extend(values)
    return split.path, params


def write_json(handler: RequestHandler, status: int, payload: dict[str, Any] | None) -> None:
    body = json.dumps(payload).encode("utf-8") if payload is not None else b""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Twilio-Request-Id", new_sid("RQ"))
    if status == 401:
        handler.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
