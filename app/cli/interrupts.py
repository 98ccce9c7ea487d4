"""Ctrl-C at the chat prompt always stops the prompt, even in CPython readline's blind spot.

CPython's readline prints the prompt and only then waits in ``select()``. A SIGINT that lands
between the two merely marks the signal as pending: ``select()`` never sees it, and the REPL
sits at the prompt until the next key press (a race a busy machine or a fast terminal
program can hit). The guard learns of every SIGINT through the signal wakeup fd and, while
the main thread waits for input with the interrupt still unhandled, sends it a harmless
signal, which makes ``select()`` return so Python runs the pending handler.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType

# Ignored by default, so a nudge that arrives after the guard is gone does nothing.
_NUDGE = signal.SIGURG
_NUDGE_EVERY_SECONDS = 0.05
_NUDGES_AT_MOST = 40  # two seconds: the handler may have run before the watcher looked


class InterruptGuard:
    """``with InterruptGuard() as guard:`` then ``with guard.reading(): input(...)``.

    Only for the main thread of an interactive session; it restores the previous signal
    handlers and wakeup fd when the block ends.
    """

    def __init__(self) -> None:
        """Nothing is installed until the block starts."""
        self._handled = 0
        self._reading = False
        self._stopped = threading.Event()
        self._main = threading.main_thread().ident or 0
        self._read_fd = self._write_fd = -1
        self._watcher: threading.Thread | None = None
        self._previous_fd = -1
        self._previous_interrupt: signal._HANDLER = signal.default_int_handler
        self._previous_nudge: signal._HANDLER = signal.SIG_DFL

    def __enter__(self) -> InterruptGuard:
        """Route SIGINT through the guard and start watching for it."""
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._previous_nudge = signal.signal(_NUDGE, _ignore)
        self._previous_interrupt = signal.signal(signal.SIGINT, self._on_interrupt)
        self._previous_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        self._watcher = threading.Thread(target=self._watch, name="interrupt-guard", daemon=True)
        self._watcher.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop watching, then put back what was there before."""
        self._stopped.set()
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._write_fd)  # the watcher's read returns: it ends
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        os.close(self._read_fd)
        signal.signal(signal.SIGINT, self._previous_interrupt)
        signal.signal(_NUDGE, self._previous_nudge)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Mark the main thread as waiting for a line (the only time it needs nudging)."""
        self._reading = True
        try:
            yield
        finally:
            self._reading = False

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        self._handled += 1
        raise KeyboardInterrupt

    def _watch(self) -> None:
        while not self._stopped.is_set():
            try:
                data = os.read(self._read_fd, 64)
            except OSError:
                return
            if not data:
                return
            if signal.SIGINT in data:
                self._nudge_until_handled(self._handled)

    def _nudge_until_handled(self, handled_before: int) -> None:
        for _ in range(_NUDGES_AT_MOST):
            if not self._reading or self._handled > handled_before or self._stopped.is_set():
                return
            signal.pthread_kill(self._main, _NUDGE)
            self._stopped.wait(_NUDGE_EVERY_SECONDS)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A handler that does nothing: its only effect is to interrupt a blocking wait."""
