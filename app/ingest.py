"""Ingest: load -> split -> embed -> write a new index snapshot.

Files already in the index with the same content hash keep their vectors; only new or
changed files are embedded. Files deleted from an ingested folder leave the index.
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

from app.errors import ConfigError, IndexNotFoundError, NothingIndexedError, SkippedFilesError
from app.loading import LoadedFile, SkipHandler, SkippedFile, check_paths, load_paths
from app.settings import Settings
from app.splitting import split_documents
from retrievers.manifest import EmbeddingSpec, FileEntry
from retrievers.vector_index import ChunkRecord, VectorIndex, Vectors, search_text
from retrievers.writer_lock import writer_lock

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

EMBED_BATCH_SIZE = 64
Progress = Callable[[int, int], None]
"""Called with (chunks embedded so far, chunks to embed)."""


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did, for the summary line and for scripts."""

    index_dir: Path
    files_indexed: int
    files_unchanged: int
    files_removed: int
    chunks_embedded: int
    total_files: int
    total_chunks: int
    skipped: tuple[SkippedFile, ...]
    unsupported: int
    seconds: float

    def summary(self) -> str:
        """One line: files, chunks, skips with reasons, seconds."""
        line = (
            f"Indexed {self.total_files} files, {self.total_chunks} chunks "
            f"({self.files_indexed} new or changed, {self.files_unchanged} unchanged, "
            f"{self.files_removed} removed; {self.chunks_embedded} chunks embedded)"
        )
        if self.skipped:
            reasons = Counter(_reason_kind(s.reason) for s in self.skipped)
            detail = ", ".join(f"{kind}: {count}" for kind, count in sorted(reasons.items()))
            line += f"; skipped {len(self.skipped)} ({detail})"
        if self.unsupported:
            line += f"; ignored {self.unsupported} files of other types"
        return f"{line}; {self.seconds:.1f} s"


@dataclass(frozen=True)
class IngestOptions:
    """How to ingest: start over, wait for another writer, follow symlinks, fail on skips."""

    rebuild: bool = False
    wait_seconds: float = 0.0
    follow_symlinks: bool = False
    strict: bool = False


@dataclass
class IngestPlan:
    """Which files keep their chunks, which are embedded anew, which leave the index."""

    keep: list[FileEntry] = field(default_factory=list)
    embed: list[LoadedFile] = field(default_factory=list)
    removed: list[FileEntry] = field(default_factory=list)
    unchanged: int = 0


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
) -> IngestPlan:
    """Decide per file: keep (unchanged or outside the roots), embed, or remove (deleted)."""
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
        elif current is None and _under_any(entry.path, roots) and not exists(entry.path):
            plan.removed.append(entry)
        elif current is None:
            plan.keep.append(entry)
    plan.embed = list(loaded_by_path.values())
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
    previous = None if options.rebuild else _previous_index(settings, chunking)
    max_bytes = settings.max_file_mb * 1024 * 1024
    loaded = load_paths(
        roots, max_bytes, on_skip, options.follow_symlinks, exclude=[settings.index_dir]
    )
    if options.strict and loaded.skipped:
        raise SkippedFilesError(
            f"{len(loaded.skipped)} files could not be indexed and --strict is on; "
            "the index was not changed"
        )
    plan = plan_ingest(previous.files if previous else (), loaded.files, roots)

    kept_records, kept_vectors = _kept_rows(previous, plan.keep)
    chunks = split_documents(
        [doc for item in plan.embed for doc in item.documents],
        settings.chunk_size,
        settings.chunk_overlap,
    )
    new_records = [ChunkRecord(str(c.id), c.page_content, dict(c.metadata)) for c in chunks]
    with_title = chunking["context"] == "title"
    texts = [search_text(record, with_title) for record in new_records]
    new_vectors = (
        embed_texts(_resolve(embeddings), texts, on_progress)
        if new_records
        else np.zeros((0, 0), dtype=np.float32)
    )

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
    changed = bool(plan.embed or plan.removed or previous is None)
    if changed:
        dimension = new_vectors.shape[1] if len(new_records) else kept_vectors.shape[1]
        spec = EmbeddingSpec(settings.embed_provider, settings.embed_model, int(dimension))
        vectors = np.vstack([kept_vectors, new_vectors]) if len(kept_records) else new_vectors
        VectorIndex.from_vectors(
            spec, chunking, records, vectors, files, settings.index_type, settings.vector_dtype
        ).save(settings.index_dir)
    elif previous is not None and previous.needs_rebuild(
        settings.index_type, settings.vector_dtype
    ):
        previous.rebuilt(settings.index_type, settings.vector_dtype).save(settings.index_dir)
    return IngestReport(
        index_dir=settings.index_dir,
        files_indexed=len(plan.embed),
        files_unchanged=plan.unchanged,
        files_removed=len(plan.removed),
        chunks_embedded=len(new_records),
        total_files=len(files),
        total_chunks=len(records),
        skipped=tuple(loaded.skipped),
        unsupported=loaded.unsupported,
        seconds=time.perf_counter() - started,
    )


def embed_texts(
    embeddings: Embeddings, texts: Sequence[str], on_progress: Progress | None = None
) -> Vectors:
    """Embed in batches of similar length (less padding), returning rows in input order."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    rows: list[list[float]] = [[] for _ in texts]
    for start in range(0, len(order), EMBED_BATCH_SIZE):
        batch = order[start : start + EMBED_BATCH_SIZE]
        for position, vector in zip(
            batch, embeddings.embed_documents([texts[i] for i in batch]), strict=True
        ):
            rows[position] = list(vector)
        if on_progress is not None:
            on_progress(min(start + EMBED_BATCH_SIZE, len(texts)), len(texts))
    return np.asarray(rows, dtype=np.float32)


def _resolve(embeddings: Embeddings | Callable[[], Embeddings]) -> Embeddings:
    from langchain_core.embeddings import Embeddings

    return embeddings if isinstance(embeddings, Embeddings) else embeddings()


def _previous_index(settings: Settings, chunking: dict[str, Any]) -> VectorIndex | None:
    try:
        previous = VectorIndex.load(settings.index_dir)
    except IndexNotFoundError:
        return None
    previous.check_embedding(settings.embed_provider, settings.embed_model)
    if previous.chunking != chunking:
        raise ConfigError(
            f"the index at {settings.index_dir} was built with RAG_CHUNK_SIZE="
            f"{previous.chunking.get('chunk_size')} and RAG_CHUNK_OVERLAP="
            f"{previous.chunking.get('chunk_overlap')}; run `rag ingest --rebuild PATH` to "
            f"re-chunk with {settings.chunk_size}/{settings.chunk_overlap}"
        )
    return previous


def _kept_rows(
    previous: VectorIndex | None, keep: Sequence[FileEntry]
) -> tuple[list[ChunkRecord], Vectors]:
    if previous is None or not keep:
        return [], np.zeros((0, 0), dtype=np.float32)
    kept_paths = {entry.path for entry in keep}
    sources = {entry.path: entry.source for entry in keep}
    positions = [
        i for i, record in enumerate(previous.records) if record.metadata.get("path") in kept_paths
    ]
    records = []
    for i in positions:
        record = previous.records[i]
        metadata = {**record.metadata, "source": sources[str(record.metadata["path"])]}
        records.append(ChunkRecord(record.id, record.text, metadata))
    return records, previous.vectors()[positions]


def _under_any(path: str, roots: Sequence[Path]) -> bool:
    candidate = Path(path)
    return any(candidate == root or root in candidate.parents for root in roots)


def _reason_kind(reason: str) -> str:
    return reason.split(" (", 1)[0]
