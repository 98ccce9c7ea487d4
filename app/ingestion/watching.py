"""Keep an index in sync with folders as they change (``rag watch``).

An initial sync, then one sync per burst of changes (``watchfiles`` groups them). Editors'
temporary and swap files and hidden folders never trigger a sync. A sync that fails (the lock
is held too long, a folder is gone) is retried on the next tick; a root that disappears is
left out (its chunks stay) until it comes back. A first Ctrl-C stops between syncs.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from app.errors import RagError, one_line

TICK_MS = 500
"""How often the watcher wakes without changes: retries, vanished or returning folders, stop."""
DEBOUNCE_MS = 1600
"""Longest a burst of changes is gathered before one sync (watchfiles' default)."""
QUIET_MS = 300
"""A burst ends after this long without a new change."""

_TEMPORARY_NAME = re.compile(
    r"""(
        .*~                       # emacs, gedit, kate backups
      | \#.*\#                    # emacs auto-save
      | .*\.(sw[a-px]|tmp|temp|bak|part|crdownload|kate-swp)
      | 4913                      # vim's write test
      | ~\$.*                     # Office owner files
      | .*\.goutputstream-\w+     # GNOME
    )""",
    re.VERBOSE | re.IGNORECASE,
)


def is_ignored(path: Path, roots: Sequence[Path], ignore_under: Sequence[Path] = ()) -> bool:
    """Whether a change at ``path`` cannot matter to the index: hidden, temporary, our own."""
    if any(path == folder or folder in path.parents for folder in ignore_under):
        return True
    root = next((r for r in roots if path == r or r in path.parents), None)
    parts = path.relative_to(root).parts if root is not None and root != path else (path.name,)
    if any(part.startswith(".") for part in parts):
        return True
    return bool(_TEMPORARY_NAME.fullmatch(path.name))


@dataclass
class Watcher:
    """Sync ``roots`` now, then after every burst of changes, until ``stop`` is set.

    ``sync`` gets the roots that exist and returns a report; ``on_start`` hears how many
    changes a sync follows (0 for the first and for retries), ``on_report`` each report,
    ``on_warning`` a line for each problem (the watcher goes on).
    """

    roots: Sequence[Path]
    sync: Callable[[list[Path]], Any]
    on_report: Callable[[Any], None]
    on_warning: Callable[[str], None]
    on_start: Callable[[int], None] = lambda changes: None
    ignore_under: Sequence[Path] = ()
    stop: threading.Event = field(default_factory=threading.Event)
    syncing: bool = False
    syncs: int = 0

    def __post_init__(self) -> None:
        """Watch absolute roots (events carry absolute paths)."""
        self.roots = [root.expanduser().absolute() for root in self.roots]
        self.ignore_under = [folder.expanduser().absolute() for folder in self.ignore_under]

    def existing_roots(self) -> list[Path]:
        """The roots that exist now."""
        return [root for root in self.roots if root.exists()]

    def run(self) -> None:
        """Watch until ``stop`` is set: one sync once watching has begun, then one per burst.

        The first sync waits for the watch's first tick, so a change made while it runs (or
        just before) is seen rather than lost.
        """
        present = self.existing_roots()
        pending = bool(present) or self._sync_once(present)  # no roots: say so now
        while not self.stop.is_set():
            if not present:
                self.stop.wait(TICK_MS / 1000)
            for changed in self._bursts(present):
                if self.stop.is_set():
                    return
                now = self.existing_roots()
                if now != present:
                    self._say_which_roots_changed(present, now)
                    present, pending = now, True
                    break  # watch the new set of folders
                if changed or pending:
                    pending = self._sync_once(present, changed)
            else:
                now = self.existing_roots()
                if now != present:
                    self._say_which_roots_changed(present, now)
                    present, pending = now, True
            if pending and present and not self.stop.is_set():
                pending = self._sync_once(present)

    def _bursts(self, present: list[Path]) -> Iterator[int]:
        """How many relevant changes each tick brought (watchfiles groups a burst into one)."""
        if not present:
            return
        from watchfiles import watch

        def relevant(_change: object, path: str) -> bool:
            return not is_ignored(Path(path), self.roots, self.ignore_under)

        try:
            for changes in watch(
                *present,
                watch_filter=relevant,
                debounce=DEBOUNCE_MS,
                step=QUIET_MS,
                rust_timeout=TICK_MS,
                yield_on_timeout=True,
                stop_event=self.stop,
                raise_interrupt=False,
            ):
                yield len(changes)
        except (FileNotFoundError, RuntimeError, OSError) as error:
            # A watched folder vanished under the watcher: the caller looks again.
            self.on_warning(f"watching stopped for a moment ({one_line(error)})")

    def _sync_once(self, present: list[Path], changes: int = 0) -> bool:
        """Sync the present roots after ``changes`` changes; True when it must be retried."""
        if not present:
            missing = ", ".join(map(str, self.roots))
            self.on_warning(f"waiting for {missing} to exist; its chunks stay in the index")
            return False
        self.syncing = True
        try:
            self.on_start(changes)
            self.on_report(self.sync(present))
            return False
        except RagError as error:
            self.on_warning(f"sync failed, retrying after the next change: {one_line(error)}")
            return not self.stop.is_set() and _retry_soon(error)
        finally:
            self.syncs += 1
            self.syncing = False

    def _say_which_roots_changed(self, before: list[Path], now: list[Path]) -> None:
        for root in self.roots:
            if root in before and root not in now:
                self.on_warning(f"{root} disappeared; its chunks stay until it comes back")
            elif root in now and root not in before:
                self.on_warning(f"{root} is back")


def _retry_soon(error: RagError) -> bool:
    """A busy index is retried on the next tick; other failures wait for a change."""
    from app.errors import IndexBusyError

    return isinstance(error, IndexBusyError)


@contextlib.contextmanager
def stop_on_interrupt(watcher: Watcher, say: Callable[[str], None]) -> Iterator[None]:
    """A first Ctrl-C sets ``watcher.stop`` (a sync in progress finishes); a second one raises."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if watcher.stop.is_set():
            raise KeyboardInterrupt
        watcher.stop.set()
        if watcher.syncing:
            say("stopping once this sync is done (Ctrl-C again to stop now)")

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def watch_paths(paths: Iterable[Path]) -> list[Path]:
    """The roots to watch, each once, in the order given."""
    unique: dict[Path, None] = {}
    for path in paths:
        unique.setdefault(path.expanduser().absolute(), None)
    return list(unique)
