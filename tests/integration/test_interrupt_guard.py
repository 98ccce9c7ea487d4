"""Ctrl-C reaches a prompt that CPython readline is already waiting at (a real terminal)."""

from __future__ import annotations

import sys
import textwrap

import pexpect
import pytest

pytestmark = pytest.mark.integration

# The SIGINT is taken by another thread while the main thread waits in readline's select():
# Python marks it pending and select() never returns, which is what a SIGINT landing between
# the prompt and select() does. Without the guard this program waits for a key forever.
PROGRAM = textwrap.dedent(
    """
    import readline, signal, threading, time
    from app.cli.interrupts import InterruptGuard

    def interrupt_from_another_thread():
        time.sleep(0.5)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    threading.Thread(target=interrupt_from_another_thread, daemon=True).start()
    with InterruptGuard() as guard:
        try:
            with guard.reading():
                input("> ")
        except KeyboardInterrupt:
            print("interrupted")
    signal.raise_signal(signal.SIGURG)  # the nudge signal is ignored again afterwards
    print("after the guard")
    """
)


def test_a_pending_interrupt_stops_the_prompt() -> None:
    child = pexpect.spawn(sys.executable, ["-c", PROGRAM], encoding="utf-8", timeout=20)
    try:
        child.expect_exact("interrupted")
        child.expect_exact("after the guard")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
