"""One writer at a time per index folder (the local store's lock); readers never wait.

The lock is an OS file lock, so a killed writer releases it. The holder writes who it is
beside the lock so that a second writer can name it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from retrievers.errors import IndexBusyError

LOCK_FILE = "writer.lock"
HOLDER_FILE = "writer.json"


@contextlib.contextmanager
def writer_lock(index_dir: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the index's writer lock, waiting up to ``wait_seconds`` for another writer."""
    from filelock import FileLock, Timeout

    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / LOCK_FILE), timeout=max(wait_seconds, 0.0))
    try:
        lock.acquire()
    except Timeout:
        waited = f" after waiting {wait_seconds:g} s" if wait_seconds > 0 else ""
        raise IndexBusyError(
            f"another ingest is writing the index at {index_dir}{waited} "
            f"({describe_holder(index_dir)}); wait for it, or retry with --wait SECONDS"
        ) from None
    try:
        _write_holder(index_dir)
        yield
    finally:
        with contextlib.suppress(OSError):
            (index_dir / HOLDER_FILE).unlink()
        lock.release()


def describe_holder(index_dir: Path) -> str:
    """Who holds the lock, as recorded by the holder: pid, host, command and start time."""
    try:
        holder = json.loads((index_dir / HOLDER_FILE).read_text(encoding="utf-8"))
        return (
            f"pid {holder['pid']} on {holder['host']}, `{holder['command']}`, "
            f"since {holder['since']}"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


def _write_holder(index_dir: Path) -> None:
    command = " ".join(["rag", *sys.argv[1:]]) if sys.argv else "python"
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command[:200],
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    temp = index_dir / f".{HOLDER_FILE}.{os.getpid()}"
    temp.write_text(json.dumps(holder), encoding="utf-8")
    os.replace(temp, index_dir / HOLDER_FILE)
