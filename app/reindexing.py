"""Rebuild the live index as another index type from its stored vectors: nothing is embedded."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from app.settings import Settings
from retrievers.vector_index import VectorIndex
from retrievers.writer_lock import writer_lock


@dataclass(frozen=True)
class ReindexReport:
    """What a reindex did: the index type before and after, for the summary line."""

    index_dir: Path
    chunks: int
    before: str
    after: str
    rebuilt: bool
    seconds: float

    def summary(self) -> str:
        """One line: what the index is now and whether it was rebuilt."""
        if not self.rebuilt:
            return f"The index of {self.chunks} chunks is already {self.after}; nothing to do"
        return (
            f"Rebuilt the index of {self.chunks} chunks as {self.after} (was {self.before}) "
            f"from its stored vectors, nothing embedded; {self.seconds:.1f} s"
        )


def reindex(settings: Settings, wait_seconds: float = 0.0) -> ReindexReport:
    """Give the live index the type and vector dtype the settings ask for."""
    started = time.perf_counter()
    with writer_lock(settings.index_dir, wait_seconds):
        index = VectorIndex.load(settings.index_dir)
        before = index.index_spec.label
        rebuilt = index.needs_rebuild(settings.index_type, settings.vector_dtype)
        if rebuilt:
            index = index.rebuilt(settings.index_type, settings.vector_dtype)
            index.save(settings.index_dir)
    return ReindexReport(
        settings.index_dir,
        len(index),
        before,
        index.index_spec.label,
        rebuilt,
        time.perf_counter() - started,
    )
