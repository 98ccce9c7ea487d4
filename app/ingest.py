"""Ingest: load -> split -> embed -> write a new index snapshot.

Files already in the index with the same content hash keep their vectors; a file found at
a new path with the content hash of a deleted one is a rename. Chunks of new, changed or
renamed files take their vectors from the embedding cache (the previous index's vectors,
keyed by the exact text embedded), so only chunks whose text changed reach the model.
Files deleted from an ingested folder leave the index unless pruning is off.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.embedding import EmbeddingCache, Progress, embed_texts
from app.errors import ConfigError, IndexNotFoundError, NothingIndexedError, SkippedFilesError
from app.loading import (
    LoadedFile,
    LoadResult,
    SkipHandler,
    SkippedFile,
    check_paths,
    load_paths,
)
from app.settings import Settings
from app.splitting import split_documents
from retrievers.docstore import ChunkRecord
from retrievers.index_types import index_spec_for
from retrievers.manifest import EmbeddingSpec, FileEntry, Manifest
from retrievers.vector_index import (
    VectorIndex,
    Vectors,
    read_manifest,
    search_text,
)
from retrievers.writer_lock import writer_lock

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = [
    "IngestOptions",
    "IngestPlan",
    "IngestReport",
    "Progress",
    "chunking_of",
    "embed_texts",
    "ingest_paths",
    "plan_ingest",
]


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did, for the summary line and for scripts."""

    index_dir: Path
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
        if self.files_missing_kept:
            line += f"; {self.files_missing_kept} deleted files kept (--no-prune)"
        line += (
            f"; {self.chunks_embedded} chunks embedded ({self.backend}), "
            f"{self.chunks_reused} reused"
        )
        if self.unsupported:
            line += f"; ignored {self.unsupported} files of other types"
        return f"{line}; {self.seconds:.1f} s"


@dataclass(frozen=True)
class IngestOptions:
    """How to ingest: start over, wait for another writer, symlinks, skips, pruning."""

    rebuild: bool = False
    wait_seconds: float = 0.0
    follow_symlinks: bool = False
    strict: bool = False
    prune: bool = True


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


def chunking_of(settings: Settings) -> dict[str, Any]:
    """The chunking settings recorded in the manifest."""
    return {
        "splitter": "recursive-character",
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "context": settings.chunk_context,
    }


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
            plan.keep.append(
                FileEntry(entry.path, current.source, entry.content_hash, entry.chunks, entry.size)
            )
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


def ingest_paths(
    paths: Iterable[Path],
    settings: Settings,
    embeddings: Embeddings | Callable[[], Embeddings],
    *,
    options: IngestOptions | None = None,
    on_skip: SkipHandler | None = None,
    on_progress: Progress | None = None,
) -> IngestReport:
    """Index the files under ``paths`` into the settings' index folder.

    One writer at a time: the index's writer lock is held from reading the previous
    index to publishing the new one, while readers keep using the last snapshot.
    ``embeddings`` may be a factory, called only when something needs embedding.
    """
    roots = check_paths(paths)
    options = options or IngestOptions()
    with writer_lock(settings.index_dir, options.wait_seconds):
        return _ingest_locked(roots, settings, embeddings, options, on_skip, on_progress)


def _ingest_locked(
    roots: list[Path],
    settings: Settings,
    embeddings: Embeddings | Callable[[], Embeddings],
    options: IngestOptions,
    on_skip: SkipHandler | None,
    on_progress: Progress | None,
) -> IngestReport:
    started = time.perf_counter()
    chunking = chunking_of(settings)
    manifest = None if options.rebuild else _previous_manifest(settings, chunking)
    max_bytes = settings.max_file_mb * 1024 * 1024
    loaded = load_paths(
        roots, max_bytes, on_skip, options.follow_symlinks, exclude=[settings.index_dir]
    )
    if options.strict and loaded.skipped:
        raise SkippedFilesError(
            f"{len(loaded.skipped)} files could not be indexed and --strict is on; "
            "the index was not changed"
        )
    plan = plan_ingest(manifest.files if manifest else (), loaded.files, roots, prune=options.prune)
    if manifest is not None and not plan.embed and not plan.removed:
        # Nothing changed: the vectors, texts and BM25 index are not even read, unless
        # another index type is asked for (then rebuilt from the stored vectors).
        wanted = index_spec_for(settings.index_type, manifest.chunk_count, settings.vector_dtype)
        if wanted != manifest.index:
            stored = VectorIndex.load(settings.index_dir)
            stored.rebuilt(settings.index_type, settings.vector_dtype).save(settings.index_dir)
        return _report(settings, plan, loaded, 0, 0, len(plan.keep), manifest.chunk_count, started)
    previous = VectorIndex.load(settings.index_dir) if manifest is not None else None
    # The docstore and vectors are read from disk once: kept files and the embedding cache
    # both draw on them.
    stored_records = list(previous.records) if previous is not None else []
    stored_vectors = previous.vectors() if previous is not None else None

    kept_records, kept_vectors = _kept_rows(stored_records, stored_vectors, plan.keep)
    chunks = split_documents(
        [doc for item in plan.embed for doc in item.documents],
        settings.chunk_size,
        settings.chunk_overlap,
    )
    new_records = [ChunkRecord(str(c.id), c.page_content, dict(c.metadata)) for c in chunks]
    with_title = chunking["context"] == "title"
    texts = [search_text(record, with_title) for record in new_records]
    cache = (
        _cache_of(stored_records, stored_vectors, with_title) if new_records else EmbeddingCache()
    )
    new_vectors, embedded = cache.embed(embeddings, texts, on_progress)

    records = kept_records + new_records
    if not records:
        raise NothingIndexedError(
            f"nothing to index under {', '.join(map(str, roots))}: no readable .txt, .md, "
            f".pdf or .html file ({len(loaded.skipped)} skipped)"
        )
    chunk_counts = Counter(str(c.metadata["path"]) for c in chunks)
    files = plan.keep + [
        FileEntry(
            str(item.path), item.source, item.content_hash, chunk_counts[str(item.path)], item.size
        )
        for item in plan.embed
    ]
    dimension = new_vectors.shape[1] if len(new_records) else kept_vectors.shape[1]
    spec = EmbeddingSpec(
        settings.embed_provider,
        settings.embed_model,
        int(dimension),
        backend=settings.embedding_backend,
    )
    parts = [kept_vectors] if kept_records else []
    vectors = np.vstack([*parts, new_vectors] if new_records else parts)
    VectorIndex.from_vectors(
        spec, chunking, records, vectors, files, settings.index_type, settings.vector_dtype
    ).save(settings.index_dir)
    embedded_or_reused = (embedded, len(new_records) - embedded)
    return _report(settings, plan, loaded, *embedded_or_reused, len(files), len(records), started)


def _report(
    settings: Settings,
    plan: IngestPlan,
    loaded: LoadResult,
    embedded: int,
    reused: int,
    total_files: int,
    total_chunks: int,
    started: float,
) -> IngestReport:
    return IngestReport(
        index_dir=settings.index_dir,
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
        skipped=tuple(loaded.skipped),
        unsupported=loaded.unsupported,
        backend=settings.embedding_backend,
        seconds=time.perf_counter() - started,
    )


def _cache_of(
    records: Sequence[ChunkRecord], stored: Vectors | None, with_title: bool
) -> EmbeddingCache:
    """The previous index's vectors (``stored``), keyed by the text each was embedded from."""
    cache = EmbeddingCache()
    if stored is not None and records:
        cache.add([search_text(r, with_title) for r in records], stored)
    return cache


def _previous_manifest(settings: Settings, chunking: dict[str, Any]) -> Manifest | None:
    """The live index's manifest, checked against the settings (None when there is none)."""
    try:
        previous = read_manifest(settings.index_dir)
    except IndexNotFoundError:
        return None
    previous.embedding.require(settings.embed_provider, settings.embed_model)
    if previous.chunking != chunking:
        raise ConfigError(
            f"the index at {settings.index_dir} was built with RAG_CHUNK_SIZE="
            f"{previous.chunking.get('chunk_size')} and RAG_CHUNK_OVERLAP="
            f"{previous.chunking.get('chunk_overlap')}; run `rag ingest --rebuild PATH` to "
            f"re-chunk with {settings.chunk_size}/{settings.chunk_overlap}"
        )
    recorded = previous.embedding.backend or (
        "torch" if previous.embedding.provider == "huggingface" else previous.embedding.provider
    )
    if recorded != settings.embedding_backend:
        raise ConfigError(
            f"the index at {settings.index_dir} was embedded with RAG_EMBED_BACKEND={recorded}; "
            f"run `rag ingest --rebuild PATH` to re-embed it with {settings.embedding_backend}, "
            f"or set RAG_EMBED_BACKEND={recorded}"
        )
    return previous


def _kept_rows(
    previous: Sequence[ChunkRecord], stored: Vectors | None, keep: Sequence[FileEntry]
) -> tuple[list[ChunkRecord], Vectors]:
    if stored is None or not previous or not keep:
        return [], np.zeros((0, 0), dtype=np.float32)
    sources = {entry.path: entry.source for entry in keep}
    positions, records = [], []
    for i, record in enumerate(previous):
        path = record.metadata.get("path")
        if path in sources:
            positions.append(i)
            metadata = {**record.metadata, "source": sources[str(path)]}
            records.append(ChunkRecord(record.id, record.text, metadata))
    return records, stored[positions]


def _under_any(path: str, roots: Sequence[Path]) -> bool:
    candidate = Path(path)
    return any(candidate == root or root in candidate.parents for root in roots)


def _reason_kind(reason: str) -> str:
    return reason.split(" (", 1)[0]
