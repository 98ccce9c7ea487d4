"""Run ``rag serve`` in a subprocess on a free 127.0.0.1 port, for the length of a with-block."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

START_SECONDS = 180


def free_port() -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def rag_server(
    env: dict[str, str], log: Path, args: Sequence[str] = (), token: str = ""
) -> Iterator[str]:
    """Start ``python -m app serve``; yield its base URL once it answers; stop it by PID.

    Its stderr goes to ``log``; a server that exits or does not answer in time fails the test
    with that log.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with log.open("w", encoding="utf-8") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                if process.poll() is not None:
                    raise AssertionError(
                        f"rag serve exited {process.returncode}:\n{log.read_text()}"
                    )
                try:
                    httpx.get(f"{base}/v1/models", headers=headers, timeout=2).raise_for_status()
                    break
                except httpx.HTTPError as error:
                    if time.monotonic() > deadline:
                        message = f"rag serve did not answer:\n{log.read_text()}"
                        raise AssertionError(message) from error
                    time.sleep(0.3)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


class StreamedAnswer(threading.Thread):
    """Streams one ``POST /api/ask`` in the background, keeping the names of its events.

    ``first_event`` is set when the first event arrives; ``events`` ends with "answer" when
    the answer was complete.
    """

    def __init__(
        self, base_url: str, question: dict[str, object], headers: dict[str, str] | None = None
    ) -> None:
        """Ready to ``start()``; the request is made in the thread."""
        super().__init__(daemon=True)
        self.base_url, self.question, self.headers = base_url, question, headers or {}
        self.first_event = threading.Event()
        self.events: list[str] = []

    def run(self) -> None:
        """Read the event stream to its end."""
        with (
            httpx.Client(base_url=self.base_url, headers=self.headers, timeout=180) as client,
            client.stream(
                "POST", "/api/ask", json=self.question, headers={"Accept": "text/event-stream"}
            ) as response,
        ):
            for line in response.iter_lines():
                if line.startswith("event: "):
                    self.events.append(line[7:])
                    self.first_event.set()
