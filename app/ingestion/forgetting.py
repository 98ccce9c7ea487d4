"""Remove files from the index without touching them on disk: nothing is embedded."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.config.settings import Settings
from app.errors import NotInIndexError
from app.ingestion.indexing import kept_rows
from retrievers.vector_index import VectorIndex

if TYPE_CHECKING:
    from retrievers.manifest import FileEntry
    from retrievers.store import IndexStore


@dataclass(frozen=True)
class ForgetReport:
    """What ``forget`` removed, for the summary line."""

    index_dir: str
    removed: tuple[str, ...]
    chunks_removed: int
    files_left: int
    chunks_left: int
    seconds: float

    def summary(self) -> str:
        """One line: what left the index and what is still in it."""
        files = "file" if len(self.removed) == 1 else "files"
        return (
            f"Removed {len(self.removed)} {files} ({self.chunks_removed} chunks) from "
            f"{self.index_dir}; {self.files_left} files, {self.chunks_left} chunks left; "
            f"{self.seconds:.1f} s"
        )


def matches(entry: FileEntry, names: set[str]) -> bool:
    """Whether ``names`` (sources as indexed, or paths on disk) name this file."""
    return entry.source in names or entry.path in names


def forget(
    store: IndexStore, settings: Settings, names: Iterable[str], wait_seconds: float = 0.0
) -> ForgetReport:
    """Publish the live index without the files ``names`` name (their source or their path).

    A name that matches no file is a ``NotInIndexError``, and then nothing changes.
    """
    started = time.perf_counter()
    keys = {name: {name, str(Path(name).expanduser().resolve())} for name in map(str, names)}
    with store.writer_lock(wait_seconds):
        manifest = store.manifest()
        gone = [entry for entry in manifest.files if any(matches(entry, k) for k in keys.values())]
        unmatched = sorted(name for name, k in keys.items() if not any(matches(e, k) for e in gone))
        if unmatched:
            raise NotInIndexError(
                f"not in the index at {store.location}: {', '.join(unmatched)} "
                "(`rag ls` lists what is)"
            )
        keep = [entry for entry in manifest.files if entry not in gone]
        previous = store.load()
        records, vectors = kept_rows(list(previous.records), previous.vectors(), keep)
        if not records:
            vectors = vectors.reshape(0, previous.embedding.dimension)
        store.publish(
            VectorIndex.from_vectors(
                previous.embedding,
                previous.chunking,
                records,
                vectors,
                keep,
                index_type=settings.index_type,
                vector_dtype=settings.vector_dtype,
            )
        )
    return ForgetReport(
        index_dir=store.location,
        removed=tuple(entry.source for entry in gone),
        chunks_removed=manifest.chunk_count - len(records),
        files_left=len(keep),
        chunks_left=len(records),
        seconds=time.perf_counter() - started,
    )
