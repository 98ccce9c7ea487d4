"""One answer at a time from the answer model, with a bounded line of answers waiting.

A llama.cpp model runs one generation at a time; a request that would wait behind a full line
is refused at once (``AnswerQueueFullError``, HTTP 503 with Retry-After) rather than stalled.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio

from app.errors import AnswerQueueFullError

DEFAULT_ANSWER_SECONDS = 5.0
TURN_POLL_SECONDS = 0.02


class Place:
    """One admitted answer's place in line; ``leave`` gives it back once, however often called."""

    def __init__(self, release: Callable[[], None]) -> None:
        """A place that ``release`` gives back."""
        self._release = release
        self._lock = threading.Lock()
        self._left = False

    def leave(self) -> None:
        """Give the place back (again: nothing happens)."""
        with self._lock:
            if self._left:
                return
            self._left = True
        self._release()


class AnswerQueue:
    """Admits at most one running and ``waiting`` waiting answers."""

    def __init__(self, waiting: int) -> None:
        """``waiting``: answers that may wait while one runs (0: none wait)."""
        self.capacity = waiting + 1
        self._count_lock = threading.Lock()
        self._turn = threading.Lock()
        self._admitted = 0
        self._durations: deque[float] = deque(maxlen=20)

    @property
    def admitted(self) -> int:
        """Answers running or waiting now."""
        return self._admitted

    def retry_after(self) -> float:
        """Seconds until a place is likely free: the recent answer time times the line."""
        recent = sum(self._durations) / len(self._durations) if self._durations else 0.0
        return max(1.0, (recent or DEFAULT_ANSWER_SECONDS) * max(1, self._admitted))

    def admit(self) -> Place:
        """Take a place in line, or raise ``AnswerQueueFullError`` when the line is full."""
        with self._count_lock:
            if self._admitted >= self.capacity:
                seconds = round(self.retry_after())
                raise AnswerQueueFullError(
                    f"busy: {self._admitted} answers running or waiting; retry after {seconds} s",
                    retry_after=seconds,
                )
            self._admitted += 1
        return Place(self._release)

    def _release(self) -> None:
        with self._count_lock:
            self._admitted -= 1

    def wait_turn(self) -> float:
        """Block until the answer model is free; returns when the turn started."""
        self._turn.acquire()
        return time.perf_counter()

    async def next_turn(self) -> float:
        """Wait for the answer model without a thread, so a client that leaves stops waiting."""
        while not self._turn.acquire(blocking=False):
            await anyio.sleep(TURN_POLL_SECONDS)
        return time.perf_counter()

    def end_turn(self, started: float) -> None:
        """Free the answer model and remember how long the turn took."""
        self._durations.append(time.perf_counter() - started)
        self._turn.release()

    @contextmanager
    def place(self) -> Iterator[None]:
        """Admitted and waited for in one block (for answers that do not stream)."""
        place = self.admit()
        try:
            started = self.wait_turn()
            try:
                yield
            finally:
                self.end_turn(started)
        finally:
            place.leave()
