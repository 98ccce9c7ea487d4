"""Rebuild the live index as another index type from its stored vectors: nothing is embedded."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.config.settings import Settings
from app.errors import UsageError
from retrievers.index_types import needs_rebuild
from retrievers.store import IncrementalStore

if TYPE_CHECKING:
    from retrievers.manifest import Manifest
    from retrievers.store import IndexStore


@dataclass(frozen=True)
class ReindexReport:
    """What a reindex did: the index type before and after, for the summary line."""

    index_dir: str
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


def reindex(store: IndexStore, settings: Settings, wait_seconds: float = 0.0) -> ReindexReport:
    """Give the live index the type and vector dtype the settings ask for."""
    started = time.perf_counter()
    if isinstance(store, IncrementalStore):
        raise UsageError(
            "rag reindex rebuilds the local store's FAISS index; a Postgres collection is "
            "searched by pgvector's HNSW index (to change RAG_VECTOR_DTYPE, run "
            "`rag ingest --rebuild PATH`)"
        )
    with store.writer_lock(wait_seconds):
        manifest = store.manifest()
        after = rebuild_if_needed(store, manifest, settings)
    return ReindexReport(
        index_dir=store.location,
        chunks=manifest.chunk_count,
        before=manifest.index.label,
        after=(after or manifest).index.label,
        rebuilt=after is not None,
        seconds=time.perf_counter() - started,
    )


def rebuild_if_needed(store: IndexStore, manifest: Manifest, settings: Settings) -> Manifest | None:
    """Publish the live index rebuilt as RAG_INDEX_TYPE / RAG_VECTOR_DTYPE when it is not.

    Returns the new manifest, or None when the index already is what the settings ask for
    (then nothing is loaded). The caller holds the writer lock.
    """
    if not needs_rebuild(
        manifest.index, manifest.chunk_count, settings.index_type, settings.vector_dtype
    ):
        return None
    index = store.load().rebuilt(settings.index_type, settings.vector_dtype)
    store.publish(index)
    return index.manifest
