"""A reader that keeps asking while something else writes the index (concurrency tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from app import Rag


@dataclass
class Reads:
    """How many passages each read returned, and every error a read raised."""

    counts: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


@contextmanager
def reading_continuously(rag: Rag, question: str, k: int = 3) -> Iterator[Reads]:
    """Retrieve ``question`` every 20 ms in a thread until the block ends."""
    reads = Reads()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                reads.counts.append(len(rag.retrieve(question, k=k)))
            except BaseException as error:  # any failure of a reader fails the test
                reads.errors.append(error)
            time.sleep(0.02)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        yield reads
    finally:
        stop.set()
        reader.join(timeout=30)
