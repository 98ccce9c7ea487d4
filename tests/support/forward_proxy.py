"""Forward proxies on 127.0.0.1: one that records and answers 502, one that forwards.

Exported as HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, ``RecordingProxy`` shows whether a client
sent a request to the proxy instead of straight to Ollama; it never connects anywhere itself.
``ForwardingProxy`` forwards plain HTTP requests to 127.0.0.0/8 addresses only, for clients
that must work through a proxy (hub downloads).
"""

from __future__ import annotations

import http.client
import ipaddress
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.support.loopback import serve_on_loopback


class RecordingProxy:
    """Use as ``with RecordingProxy() as proxy:``; ``proxy.url``, ``proxy.requests``."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.url = ""
        self._stack = ExitStack()

    def __enter__(self) -> RecordingProxy:
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read ``requests``."""

            def _refuse(self) -> None:
                recorded.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = b"502 Bad Gateway (recording test proxy)"
                self.send_response(502)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_CONNECT = _refuse

        self.url = self._stack.enter_context(serve_on_loopback(Handler))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


def _is_ipv4_loopback(host: str | None) -> bool:
    try:
        return ipaddress.IPv4Address(host or "").is_loopback
    except ValueError:
        return False


class ForwardingProxy:
    """A plain HTTP forward proxy that forwards to 127.0.0.0/8 only and records each request.

    Absolute-URI ``GET`` and ``HEAD`` requests to a loopback address are sent on and the answer
    streamed back (a response broken off upstream is broken off here too); anything else,
    ``CONNECT`` included, is refused. Use as ``with ForwardingProxy() as proxy:``.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.url = ""
        self._stack = ExitStack()

    def __enter__(self) -> ForwardingProxy:
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read ``requests``."""

            def _forward(self) -> None:
                recorded.append(f"{self.command} {self.path}")
                target = urlsplit(self.path)
                if target.scheme != "http" or not _is_ipv4_loopback(target.hostname):
                    self._refuse(403, "this test proxy forwards to http://127.0.0.0/8 only")
                    return
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in HOP_BY_HOP
                }
                upstream = http.client.HTTPConnection(
                    str(target.hostname), target.port or 80, timeout=30
                )
                try:
                    path = target.path + (f"?{target.query}" if target.query else "")
                    upstream.request(self.command, path, headers=headers)
                    answer = upstream.getresponse()
                    self.send_response(answer.status, answer.reason)
                    for name, value in answer.getheaders():
                        if name.lower() not in HOP_BY_HOP:
                            self.send_header(name, value)
                    # Said, not only done: a client that thinks the connection stays open
                    # may send its next request on it just as it is closed.
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        while block := answer.read1(1 << 16):
                            self.wfile.write(block)
                except (OSError, http.client.HTTPException):
                    pass
                finally:
                    upstream.close()
                    self.close_connection = True

            def _refuse(self, status: int = 405, message: str = "not supported") -> None:
                if self.command not in ("GET", "HEAD"):
                    recorded.append(f"{self.command} {self.path}")
                body = f"{status} {message} (forwarding test proxy)".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_HEAD = _forward
            do_POST = do_PUT = do_DELETE = do_CONNECT = _refuse

        self.url = self._stack.enter_context(serve_on_loopback(Handler))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
