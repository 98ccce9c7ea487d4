"""Ingest: load -> split -> embed -> publish a new version of the index in its store.

Files already in the index with the same content hash keep their vectors; a file found at
a new path with the content hash of a deleted one is a rename. Chunks of new, changed or
renamed files take their vectors from the embedding cache (the previous index's vectors,
keyed by the exact text embedded), so only chunks whose text changed reach the model.
Files deleted from an ingested folder leave the index unless pruning is off.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.config.settings import Settings
from app.errors import ConfigError, IndexNotFoundError, NothingIndexedError, SkippedFilesError
from app.ingestion.indexing import (
    build_index,
    chunk_records,
    chunking_of,
    embedded_texts,
    embedding_spec,
    kept_rows,
    made_otherwise,
)
from app.ingestion.loading import (
    FileProgress,
    LoadResult,
    SkipHandler,
    SkippedFile,
    check_paths,
    load_paths,
)
from app.ingestion.plan import IngestPlan, plan_ingest
from app.ingestion.reindexing import rebuild_if_needed
from app.models.embedding_cache import EmbeddingCache, Progress
from retrievers.docstore import ChunkRecord
from retrievers.manifest import Chunking, FileEntry, IndexSpec, Manifest
from retrievers.store import IncrementalStore, IndexChanges
from retrievers.vector_index import Vectors, text_key

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from retrievers.store import IndexStore

__all__ = ["IngestOptions", "IngestReport", "Progress", "ingest_paths"]


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did, for the summary line and for scripts."""

    index_dir: str
    files_added: int
    files_updated: int
    files_renamed: int
    files_removed: int
    files_unchanged: int
    files_missing_kept: int
    chunks_embedded: int
    chunks_reused: int
    total_files: int
    total_chunks: int
    skipped: tuple[SkippedFile, ...]
    unsupported: int
    backend: str
    seconds: float
    warned: tuple[SkippedFile, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (``rag ingest --json``, the server's ingest jobs)."""
        return {
            **self.__dict__,
            "skipped": [dict(item.__dict__) for item in self.skipped],
            "warned": [dict(item.__dict__) for item in self.warned],
        }

    def summary(self) -> str:
        """One line: files by what happened to them, chunks embedded and reused, seconds."""
        line = (
            f"Indexed {self.total_files} files, {self.total_chunks} chunks: "
            f"{self.files_added} added, {self.files_updated} updated, "
            f"{self.files_renamed} renamed, {self.files_removed} removed, "
            f"{self.files_unchanged} unchanged, skipped {len(self.skipped)}"
        )
        if self.skipped:
            reasons = Counter(_reason_kind(s.reason) for s in self.skipped)
            detail = ", ".join(f"{kind}: {count}" for kind, count in sorted(reasons.items()))
            line += f" ({detail})"
        if self.warned:
            line += f"; {len(self.warned)} read with warnings"
        if self.files_missing_kept:
            line += f"; {self.files_missing_kept} deleted files kept (--no-prune)"
        line += (
            f"; {self.chunks_embedded} chunks embedded ({self.backend}), "
            f"{self.chunks_reused} reused"
        )
        if self.unsupported:
            line += f"; ignored {self.unsupported} files of other types"
        return f"{line}; {self.seconds:.1f} s"


@dataclass(frozen=True, kw_only=True)
class IngestOptions:
    """How to ingest: start over, wait for another writer, symlinks, skips, pruning."""

    rebuild: bool = False
    wait_seconds: float = 0.0
    follow_symlinks: bool = False
    strict: bool = False
    prune: bool = True


def ingest_paths(
    paths: Iterable[Path],
    store: IndexStore,
    settings: Settings,
    embeddings: Embeddings | Callable[[], Embeddings],
    *,
    options: IngestOptions | None = None,
    on_skip: SkipHandler | None = None,
    on_progress: Progress | None = None,
    on_file: FileProgress | None = None,
) -> IngestReport:
    """Index the files under ``paths`` into ``store``.

    One writer at a time: the store's writer lock is held from reading the previous
    index to publishing the new one, while readers keep using the live version.
    ``embeddings`` may be a factory, called only when something needs embedding.
    ``on_file(done, total)`` follows the files read, ``on_progress`` the chunks embedded.
    """
    roots = check_paths(paths)
    options = options or IngestOptions()
    with store.writer_lock(options.wait_seconds):
        return _ingest_locked(
            roots, store, settings, embeddings, options, on_skip, on_progress, on_file
        )


def _ingest_locked(
    roots: list[Path],
    store: IndexStore,
    settings: Settings,
    embeddings: Embeddings | Callable[[], Embeddings],
    options: IngestOptions,
    on_skip: SkipHandler | None,
    on_progress: Progress | None,
    on_file: FileProgress | None,
) -> IngestReport:
    started = time.perf_counter()
    chunking = chunking_of(settings)
    manifest = None if options.rebuild else _previous_manifest(store, settings)
    loaded = load_paths(
        roots,
        settings.max_file_mb * 1024 * 1024,
        on_skip,
        follow_symlinks=options.follow_symlinks,
        exclude=[Path(store.location)],
        ocr=settings.ocr,
        on_file=on_file,
    )
    if options.strict and loaded.skipped:
        raise SkippedFilesError(
            f"{len(loaded.skipped)} files could not be indexed and --strict is on; "
            "the index was not changed"
        )
    plan = plan_ingest(manifest.files if manifest else (), loaded.files, roots, prune=options.prune)
    report = _Reporter(store, settings, plan, loaded, started)
    if isinstance(store, IncrementalStore):
        return _write_changes(
            store, settings, manifest, plan, roots, embeddings, on_progress, report
        )
    if manifest is not None and not plan.embed and not plan.removed:
        # Nothing changed: the vectors, texts and BM25 index are not even read, unless
        # another index type is asked for (then rebuilt from the stored vectors).
        rebuild_if_needed(store, manifest, settings)
        return report(0, 0, len(plan.keep), manifest.chunk_count)
    previous = store.load() if manifest is not None else None
    # The docstore and vectors are read once: kept files and the embedding cache both
    # draw on them.
    stored_records = list(previous.records) if previous is not None else []
    stored_vectors = previous.vectors() if previous is not None else None

    kept_records, kept_vectors = kept_rows(stored_records, stored_vectors, plan.keep)
    new_records = chunk_records([doc for item in plan.embed for doc in item.documents], settings)
    cache = _cache_of(stored_records, stored_vectors, chunking) if new_records else EmbeddingCache()
    new_vectors, embedded = cache.embed(
        embeddings, embedded_texts(new_records, chunking), on_progress
    )

    records = kept_records + new_records
    if not records:
        raise _nothing_indexed(roots, loaded)
    files = plan.keep + _written_files(plan, new_records)
    parts = [kept_vectors] if kept_records else []
    vectors = np.vstack([*parts, new_vectors] if new_records else parts)
    store.publish(build_index(settings, records, vectors, files))
    return report(embedded, len(new_records) - embedded, len(files), len(records))


def _write_changes(
    store: IncrementalStore,
    settings: Settings,
    manifest: Manifest | None,
    plan: IngestPlan,
    roots: list[Path],
    embeddings: Embeddings | Callable[[], Embeddings],
    on_progress: Progress | None,
    report: _Reporter,
) -> IngestReport:
    """Write only what changed (a database store): kept files' rows are never read."""
    if manifest is not None and not plan.embed and not plan.removed:
        return report(0, 0, len(plan.keep), manifest.chunk_count)
    chunking = chunking_of(settings)
    new_records = chunk_records([doc for item in plan.embed for doc in item.documents], settings)
    texts = embedded_texts(new_records, chunking)
    cache = EmbeddingCache()
    if manifest is not None and new_records:
        cache.add_keyed(store.known_vectors([text_key(text) for text in texts]))
    new_vectors, embedded = cache.embed(embeddings, texts, on_progress)
    kept_chunks = sum(entry.chunks for entry in plan.keep)
    if not kept_chunks and not new_records:
        raise _nothing_indexed(roots, report.loaded)
    files = plan.keep + _written_files(plan, new_records)
    if new_records:
        dimension = int(new_vectors.shape[1])
    else:
        assert manifest is not None  # kept chunks come from a previous index
        dimension = manifest.embedding.dimension
    new_manifest = Manifest(
        embedding=embedding_spec(settings, dimension),
        chunking=chunking,
        files=tuple(files),
        chunk_count=kept_chunks + len(new_records),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        index=IndexSpec("pgvector-hnsw", {}, settings.vector_dtype),
    )
    gone = [entry.path for entry in plan.removed] + [old.path for old, _ in plan.renamed]
    store.apply(
        IndexChanges(
            new_manifest,
            removed_paths=gone + [str(item.path) for item in plan.embed],
            records=new_records,
            vectors=new_vectors if new_records else np.zeros((0, dimension), dtype=np.float32),
            replace=manifest is None,
        )
    )
    return report(embedded, len(new_records) - embedded, len(files), new_manifest.chunk_count)


def _nothing_indexed(roots: Sequence[Path], loaded: LoadResult) -> NothingIndexedError:
    return NothingIndexedError(
        f"nothing to index under {', '.join(map(str, roots))}: no readable document "
        f"(text, PDF, Office, OpenDocument, EPUB, e-mail, code; see docs/formats.md) "
        f"({len(loaded.skipped)} skipped)"
    )


def _written_files(plan: IngestPlan, new_records: Sequence[ChunkRecord]) -> list[FileEntry]:
    chunk_counts = Counter(str(record.metadata["path"]) for record in new_records)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return [
        FileEntry(
            str(item.path),
            item.source,
            item.content_hash,
            chunk_counts[str(item.path)],
            item.size,
            now,
            len({doc.metadata["page"] for doc in item.documents} - {None}),
        )
        for item in plan.embed
    ]


@dataclass(frozen=True)
class _Reporter:
    """Makes the report of one ingest once the chunk counts are known."""

    store: IndexStore
    settings: Settings
    plan: IngestPlan
    loaded: LoadResult
    started: float

    def __call__(
        self, embedded: int, reused: int, total_files: int, total_chunks: int
    ) -> IngestReport:
        plan = self.plan
        return IngestReport(
            index_dir=self.store.location,
            files_added=plan.added,
            files_updated=plan.updated,
            files_renamed=len(plan.renamed),
            files_removed=len(plan.removed),
            files_unchanged=plan.unchanged,
            files_missing_kept=plan.missing_kept,
            chunks_embedded=embedded,
            chunks_reused=reused,
            total_files=total_files,
            total_chunks=total_chunks,
            skipped=tuple(self.loaded.skipped),
            unsupported=self.loaded.unsupported,
            warned=tuple(self.loaded.warned),
            backend=self.settings.embedding_backend,
            seconds=time.perf_counter() - self.started,
        )


def _cache_of(
    records: Sequence[ChunkRecord], stored: Vectors | None, chunking: Chunking
) -> EmbeddingCache:
    """The previous index's vectors (``stored``), keyed by the text each was embedded from."""
    cache = EmbeddingCache()
    if stored is not None and records:
        cache.add(embedded_texts(records, chunking), stored)
    return cache


def _previous_manifest(store: IndexStore, settings: Settings) -> Manifest | None:
    """The live index's manifest, checked against the settings (None when there is none)."""
    try:
        previous = store.manifest()
    except IndexNotFoundError:
        return None
    difference = made_otherwise(previous, settings)
    if difference == "embedding":
        previous.embedding.require(settings.embed_provider, settings.embed_model)
    if difference == "chunking":
        raise ConfigError(
            f"the index at {store.location} was built with RAG_CHUNK_SIZE="
            f"{previous.chunking.chunk_size} and RAG_CHUNK_OVERLAP="
            f"{previous.chunking.chunk_overlap} and RAG_CHUNK_CONTEXT={previous.chunking.context}; "
            f"run `rag ingest --rebuild PATH` to re-chunk with {settings.chunk_size}/"
            f"{settings.chunk_overlap} and RAG_CHUNK_CONTEXT={settings.chunk_context}"
        )
    if difference == "backend":
        recorded = previous.embedding.made_by
        raise ConfigError(
            f"the index at {store.location} was embedded with RAG_EMBED_BACKEND={recorded}; "
            f"run `rag ingest --rebuild PATH` to re-embed it with {settings.embedding_backend}, "
            f"or set RAG_EMBED_BACKEND={recorded}"
        )
    return previous


def _reason_kind(reason: str) -> str:
    return reason.split(" (", 1)[0]
