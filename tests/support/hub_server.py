"""A stand-in Hugging Face hub on 127.0.0.1 serving one GGUF file the way the real hub does.

``HEAD`` and ``GET /{repo}/resolve/{revision}/{file}`` answer ``302`` to a "CDN" on another
loopback host (127.0.0.2: clients treat it as another host, as they do the hub's CDN), with
``X-Linked-Size``, ``X-Linked-Etag`` (the SHA-256) and ``X-Repo-Commit`` as the real hub sends
for LFS files; ``/cdn/{sha256}`` serves the bytes with Range support. ``cut_off`` GET responses
are broken off halfway (the connection closes); ``corrupt`` serves bytes that differ from the
SHA-256 the hub reports. Every request is recorded.
"""

from __future__ import annotations

import hashlib
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.loopback import serve_on_loopback

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class Seen:
    """One request the stand-in hub (or its CDN) answered."""

    host: str
    method: str
    path: str
    range: str | None
    authorization: str | None


class StandInHub:
    """Use as ``with StandInHub(repo, path) as hub:``; ``url``, ``cdn_url``, ``requests``."""

    def __init__(self, repo_id: str, source: Path, cut_off: int = 0, corrupt: bool = False):
        self.repo_id = repo_id
        self.filename = source.name
        self.data = source.read_bytes()
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        self.cut_off = cut_off
        served = bytearray(self.data)
        if corrupt:
            served[len(served) // 2] ^= 0xFF
        self.served = bytes(served)
        self.requests: list[Seen] = []
        self.url = ""
        self.cdn_url = ""
        self._lock = threading.Lock()
        self._stack = ExitStack()

    @property
    def resolve_path(self) -> str:
        """The path of the file's resolve address."""
        return f"/{self.repo_id}/resolve/main/{self.filename}"

    def __enter__(self) -> StandInHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read ``requests``."""

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                with hub._lock:
                    hub.requests.append(
                        Seen(
                            self.headers.get("Host", ""),
                            self.command,
                            self.path,
                            self.headers.get("Range"),
                            self.headers.get("Authorization"),
                        )
                    )
                path = self.path.split("?")[0]
                if path == hub.resolve_path:
                    self._redirect()
                elif path == f"/cdn/{hub.sha256}":
                    self._serve_bytes(body)
                elif path.startswith(f"/{hub.repo_id}/resolve/"):
                    self._error(404, "EntryNotFound", "Entry not found")
                else:
                    self._error(404, "RepoNotFound", "Repository not found")

            def _redirect(self) -> None:
                self.send_response(302)
                self.send_header("Location", f"{hub.cdn_url}/cdn/{hub.sha256}")
                self.send_header("X-Linked-Size", str(len(hub.data)))
                self.send_header("X-Linked-Etag", f'"{hub.sha256}"')
                self.send_header("ETag", '"git-blob-of-the-lfs-pointer"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _serve_bytes(self, body: bool) -> None:
                start = 0
                wanted = self.headers.get("Range")
                if wanted and wanted.startswith("bytes=") and wanted.endswith("-"):
                    start = int(wanted[len("bytes=") : -1])
                if start >= len(hub.served):
                    self._error(416, "RangeNotSatisfiable", "Range not satisfiable")
                    return
                part = hub.served[start:]
                self.send_response(206 if start else 200)
                if start:
                    total = len(hub.served)
                    self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(part)))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", f'"{hub.sha256}"')
                self.end_headers()
                if not body:
                    return
                with hub._lock:
                    cut = hub.cut_off > 0
                    if cut:
                        hub.cut_off -= 1
                if cut:
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

            def _error(self, status: int, code: str, message: str) -> None:
                data = f'{{"error": "{message}"}}'.encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

        self.url = self._stack.enter_context(serve_on_loopback(Handler))
        self.cdn_url = self._stack.enter_context(serve_on_loopback(Handler, "127.0.0.2"))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def ranges(self) -> list[str]:
        """The Range headers of the byte requests seen so far."""
        return [seen.range for seen in self.requests if seen.range]
