"""Atomic index folders: each write is a complete snapshot folder, published by renames.

Layout of an index folder::

    CURRENT              one line: the name of the live snapshot folder
    snapshot-<id>/       complete, never modified after publication
    .tmp-<pid>-<id>/     a snapshot being written (removed when its writer is gone)

A reader resolves CURRENT once and reads that snapshot; a crash at any moment leaves
CURRENT pointing at a complete snapshot, the old one or the new one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from retrievers.errors import IndexDamagedError, IndexNotFoundError

CURRENT_FILE = "CURRENT"
SNAPSHOT_PREFIX = "snapshot-"
TEMP_PREFIX = ".tmp-"


def current_snapshot(index_dir: Path) -> Path:
    """Return the live snapshot folder, or raise a clear error when there is none."""
    pointer = index_dir / CURRENT_FILE
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexNotFoundError(
            f"no index at {index_dir} yet: run `rag ingest PATH` first"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise IndexDamagedError.at(index_dir, f"cannot read {CURRENT_FILE} ({error})") from error
    snapshot = index_dir / name
    if not name.startswith(SNAPSHOT_PREFIX) or "/" in name or not snapshot.is_dir():
        raise IndexDamagedError.at(index_dir, f"{CURRENT_FILE} names a missing snapshot {name!r}")
    return snapshot


def publish_snapshot(index_dir: Path, write: Callable[[Path], None]) -> Path:
    """Let ``write`` fill a fresh folder, then make it the live snapshot atomically."""
    index_dir.mkdir(parents=True, exist_ok=True)
    remove_abandoned_temp_folders(index_dir)
    token = _sortable_token()
    temp = index_dir / f"{TEMP_PREFIX}{os.getpid()}-{token}"
    temp.mkdir()
    try:
        write(temp)
        _fsync_tree(temp)
        snapshot = index_dir / f"{SNAPSHOT_PREFIX}{token}"
        os.rename(temp, snapshot)
        _replace_pointer(index_dir, snapshot.name)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    prune_snapshots(index_dir, keep=2)
    return snapshot


def prune_snapshots(index_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` snapshots, never the live one.

    The previous snapshot is kept so a reader that resolved CURRENT just before a
    publish can still finish reading it.
    """
    try:
        live = current_snapshot(index_dir).name
    except (IndexNotFoundError, IndexDamagedError):
        return
    snapshots = sorted(
        (p for p in index_dir.iterdir() if p.name.startswith(SNAPSHOT_PREFIX) and p.is_dir()),
        key=lambda p: p.name,
        reverse=True,
    )
    for old in snapshots[keep:]:
        if old.name != live:
            shutil.rmtree(old, ignore_errors=True)


def remove_abandoned_temp_folders(index_dir: Path) -> None:
    """Remove half-written snapshots whose writer process no longer runs."""
    for entry in index_dir.glob(f"{TEMP_PREFIX}*"):
        pid_text = entry.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and _process_alive(int(pid_text)):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def index_size_bytes(snapshot: Path) -> int:
    """Total size of the files of one snapshot."""
    return sum(p.stat().st_size for p in snapshot.rglob("*") if p.is_file())


def _sortable_token() -> str:
    """A name part that sorts in creation order: UTC time to the nanosecond, then noise."""
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 1_000_000_000))
    return f"{stamp}.{now % 1_000_000_000:09d}-{secrets.token_hex(3)}"


def _replace_pointer(index_dir: Path, name: str) -> None:
    temp_pointer = index_dir / f"{TEMP_PREFIX}{os.getpid()}-{CURRENT_FILE}"
    with open(temp_pointer, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp_pointer, index_dir / CURRENT_FILE)
    _fsync_directory(index_dir)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_directory(folder)


def _fsync_directory(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
