"""A forward proxy on 127.0.0.1 that records every request and answers 502.

Exported as HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, it shows whether a client sent a request
to the proxy instead of straight to Ollama. It never connects anywhere itself.
"""

from __future__ import annotations

from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler
from typing import Any

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
