"""The plan of an ingest: which files keep their chunks, which are chunked again, which go.

Unchanged files are kept; new, changed and renamed ones chunked again; deleted ones removed.
Pure: file entries in, a plan out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.ingestion.loading import LoadedFile
from retrievers.manifest import FileEntry


@dataclass
class IngestPlan:
    """Which files keep their chunks, which are chunked again, which leave the index."""

    keep: list[FileEntry] = field(default_factory=list)
    embed: list[LoadedFile] = field(default_factory=list)
    removed: list[FileEntry] = field(default_factory=list)
    renamed: list[tuple[FileEntry, LoadedFile]] = field(default_factory=list)
    unchanged: int = 0
    updated: int = 0
    missing_kept: int = 0

    @property
    def added(self) -> int:
        """Files new to the index (neither changed in place nor renamed)."""
        return len(self.embed) - self.updated - len(self.renamed)


def plan_ingest(
    previous: Sequence[FileEntry],
    loaded: Sequence[LoadedFile],
    roots: Sequence[Path],
    exists: Callable[[str], bool] = os.path.exists,
    prune: bool = True,
) -> IngestPlan:
    """Decide per file: keep, chunk again (new, changed, renamed) or remove (deleted).

    A file outside ``roots``, or one that could not be read this time, keeps its chunks.
    A deleted file under a root is removed (kept when ``prune`` is off); a new file with
    the content hash of a removed one is its rename.
    """
    plan = IngestPlan()
    loaded_by_path = {str(item.path): item for item in loaded}
    for entry in previous:
        current = loaded_by_path.get(entry.path)
        if current is not None and current.content_hash == entry.content_hash:
            plan.keep.append(replace(entry, source=current.source))
            plan.unchanged += 1
            del loaded_by_path[entry.path]
        elif current is not None:
            plan.updated += 1
        elif _under_any(entry.path, roots) and not exists(entry.path):
            if prune:
                plan.removed.append(entry)
            else:
                plan.keep.append(entry)
                plan.missing_kept += 1
        else:
            plan.keep.append(entry)
    plan.embed = list(loaded_by_path.values())
    known_paths = {entry.path for entry in previous}
    removed_by_hash = {entry.content_hash: entry for entry in plan.removed}
    for item in plan.embed:
        if str(item.path) in known_paths:
            continue
        old = removed_by_hash.pop(item.content_hash, None)
        if old is not None:
            plan.renamed.append((old, item))
            plan.removed.remove(old)
    return plan


def _under_any(path: str, roots: Sequence[Path]) -> bool:
    candidate = Path(path)
    return any(candidate == root or root in candidate.parents for root in roots)
