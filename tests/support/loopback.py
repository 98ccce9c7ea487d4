"""Run an HTTP handler on 127.0.0.1 on a free port, in a thread, for the length of a with-block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve_on_loopback(
    handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1"
) -> Iterator[str]:
    """Yield the server's base URL; shut it down and join its thread afterwards.

    ``host`` may be any address of 127.0.0.0/8 (all of it is loopback on Linux).
    """
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
