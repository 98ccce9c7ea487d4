"""An index in memory: chunk records, their normalised vectors in FAISS, BM25, the manifest.

Cosine similarity is the inner product of L2-normalised vectors. Where an index is kept
(a snapshot folder, a database) is a store's business: see ``retrievers.store``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from retrievers.docstore import ChunkRecord
from retrievers.errors import IndexMismatchError
from retrievers.index_types import REFINE_FACTOR, build_faiss_index, index_spec_for
from retrievers.manifest import Chunking, EmbeddingSpec, FileEntry, IndexSpec, Manifest
from retrievers.sparse import SparseIndex

if TYPE_CHECKING:
    import faiss

    from retrievers.stored_vectors import StoredVectorFile

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SearchHit:
    """A chunk found by a search, with its cosine similarity to the query."""

    record: ChunkRecord
    score: float


def search_text(record: ChunkRecord, context: str) -> str:
    """What is embedded and BM25-indexed for a chunk: its context (see ``Chunking``), then its text.

    ``title`` puts the document title in front, ``section`` the title and then the section path
    (``Guide > Installation > Windows``; the title is left out when the path starts with it),
    ``none`` nothing. A title the text already starts with is not repeated.
    """
    text = record.text
    title = str(record.metadata.get("title") or "").strip()
    section = str(record.metadata.get("section") or "").strip() if context == "section" else ""
    lines = []
    repeated = text.lstrip().startswith(title) or section.startswith(title)
    if context in ("title", "section") and title and not repeated:
        lines.append(title)
    if section:
        lines.append(section)
    return "\n".join(lines) + f"\n\n{text}" if lines else text


def text_key(text: str) -> str:
    """The key of an embedded text in the embedding cache: SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def normalize(vectors: Sequence[Sequence[float]] | Sequence[float] | Vectors) -> Vectors:
    """Return float32 rows scaled to unit length (zero rows stay zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(array / norms, dtype=np.float32)


class VectorIndex:
    """Chunks, their vectors and the manifest that says how they were made."""

    def __init__(
        self,
        embedding: EmbeddingSpec,
        chunking: Chunking,
        records: Sequence[ChunkRecord],
        vector_store: faiss.Index,
        files: Sequence[FileEntry],
        *,
        created_at: str | None = None,
        sparse: SparseIndex | None = None,
        stored_vectors: npt.NDArray[np.floating[Any]] | StoredVectorFile,
        index_spec: IndexSpec,
    ) -> None:
        """Wrap a FAISS index whose row i is the vector of ``records[i]`` (and BM25 row i).

        ``records`` may be a list or a ``Docstore`` read from disk on demand.

        ``stored_vectors`` are the same normalised vectors as kept on disk (float32 or
        float16, possibly memory-mapped): the source for rebuilds and exact re-scoring.
        """
        self.embedding = embedding
        self.chunking = chunking
        self.records: Sequence[ChunkRecord] = records
        self.files: tuple[FileEntry, ...] = tuple(files)
        self.created_at = created_at or datetime.now(UTC).isoformat(timespec="seconds")
        self.faiss_index = vector_store
        self.stored_vectors = stored_vectors
        self.index_spec = index_spec
        self.sparse = sparse

    @classmethod
    def from_vectors(
        cls,
        embedding: EmbeddingSpec,
        chunking: Chunking,
        records: Sequence[ChunkRecord],
        vectors: Vectors,
        files: Sequence[FileEntry],
        *,
        index_type: str = "flat",
        vector_dtype: str = "float32",
    ) -> VectorIndex:
        """Build a new index; ``vectors`` are normalised here, row for row with ``records``.

        ``index_type`` is flat, hnsw, ivf-sq8 or auto (chosen by the number of chunks);
        ``vector_dtype`` is how the vectors are kept on disk (float32 or float16).
        """
        if len(records) != len(vectors) or (
            len(records) and vectors.shape[1] != embedding.dimension
        ):
            raise ValueError(
                f"{len(records)} records but vectors of shape {vectors.shape}, "
                f"expected ({len(records)}, {embedding.dimension})"
            )
        unit = normalize(vectors) if len(records) else np.zeros((0, embedding.dimension), "f4")
        spec = index_spec_for(index_type, len(records), vector_dtype)
        sparse = SparseIndex.build([search_text(r, chunking.context) for r in records])
        return cls(
            embedding,
            chunking,
            records,
            build_faiss_index(spec, unit),
            files,
            sparse=sparse,
            stored_vectors=unit.astype(spec.vector_dtype, copy=False),
            index_spec=spec,
        )

    def rebuilt(self, index_type: str, vector_dtype: str = "float32") -> VectorIndex:
        """The same chunks as another index type, built from the stored vectors; no embedding."""
        spec = index_spec_for(index_type, len(self), vector_dtype)
        vectors = self.vectors()
        return VectorIndex(
            self.embedding,
            self.chunking,
            self.records,
            build_faiss_index(spec, vectors),
            self.files,
            sparse=self.sparse,
            stored_vectors=vectors.astype(spec.vector_dtype, copy=False),
            index_spec=spec,
        )

    @property
    def manifest(self) -> Manifest:
        """The manifest describing this index."""
        return Manifest(
            embedding=self.embedding,
            chunking=self.chunking,
            files=self.files,
            chunk_count=len(self.records),
            created_at=self.created_at,
            index=self.index_spec,
        )

    @cached_property
    def source_rows(self) -> dict[str, npt.NDArray[np.int64]]:
        """The rows of each source (file name), ascending, read once from the chunk records.

        A source filter then matches file names, not rows.
        """
        found: dict[str, list[int]] = {}
        for row, record in enumerate(self.records):
            found.setdefault(str(record.metadata.get("source", "")), []).append(row)
        return {source: np.asarray(rows, dtype=np.int64) for source, rows in found.items()}

    @cached_property
    def _rows_by_id(self) -> dict[str, int]:
        return {record.id: row for row, record in enumerate(self.records)}

    def record(self, chunk_id: str) -> ChunkRecord | None:
        """The chunk with this id, or None (the id map is built on first use)."""
        row = self._rows_by_id.get(chunk_id)
        return None if row is None else self.records[row]

    def records_of(self, source: str) -> list[ChunkRecord]:
        """The chunks of one file, in the order they were cut."""
        return [self.records[int(row)] for row in self.source_rows.get(source, ())]

    def __len__(self) -> int:
        """Number of chunks."""
        return len(self.records)

    def vectors(self) -> Vectors:
        """All stored vectors, row i belonging to ``records[i]``."""
        return np.ascontiguousarray(self.stored_vectors, dtype=np.float32)

    def search(self, query_vector: Sequence[float], k: int) -> list[SearchHit]:
        """Return up to ``k`` chunks by cosine similarity, best first."""
        query = normalize(query_vector)
        if query.shape[1] != self.embedding.dimension:
            raise IndexMismatchError(
                f"the query embedding has {query.shape[1]} dimensions but the index was built "
                f"with {self.embedding.label}; use that model or run `rag ingest --rebuild PATH`"
            )
        return [SearchHit(self.records[row], score) for row, score in self.dense_rows(query, k)]

    def dense_rows(self, query_vector: Vectors, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` (row, cosine) pairs for a normalised query, best first."""
        if not self.records or k <= 0:
            return []
        fetch = k if self.index_spec.exact else REFINE_FACTOR * k
        scores, positions = _search_one_thread(
            self.faiss_index, query_vector, min(fetch, len(self))
        )
        found = [
            (int(position), float(score))
            for score, position in zip(scores[0], positions[0], strict=True)
            if position >= 0
        ]
        if self.index_spec.exact:
            return found
        # Approximate scores (quantised, or a graph's partial view) are replaced by exact
        # cosines from the stored vectors, which also puts the candidates in exact order.
        rows = np.array(sorted(row for row, _ in found), dtype=np.int64)
        exact = np.asarray(self.stored_vectors[rows], dtype=np.float32) @ query_vector[0]
        ranked = sorted(zip(rows.tolist(), exact.tolist(), strict=True), key=lambda p: -p[1])
        return ranked[:k]

    def vector(self, row: int) -> Vectors:
        """The stored (normalised) vector of one chunk."""
        return np.asarray(self.stored_vectors[row], dtype=np.float32)

    def cosines(self, query_vector: Vectors, rows: Sequence[int]) -> list[float]:
        """Cosine similarities of a normalised query with several stored chunks, in order."""
        if not rows:
            return []
        order = np.argsort(rows)
        picked = np.asarray(self.stored_vectors[np.asarray(rows)[order]], dtype=np.float32)
        scores = np.empty(len(rows), dtype=np.float32)
        scores[order] = picked @ query_vector[0]
        return [float(score) for score in scores]

    def check_embedding(self, provider: str, model: str) -> None:
        """Refuse to serve queries embedded by another model than the index was built with."""
        self.embedding.require(provider, model)


def _search_one_thread(
    store: faiss.Index, query_vector: Vectors, k: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Search in the calling thread only.

    FAISS splits its work by query, so for one query its OpenMP threads add nothing but
    their start-up: 30 ms a search on a busy 2-core machine, against 0.5 ms without them.
    """
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        scores, positions = store.search(query_vector, k)
    finally:
        faiss.omp_set_num_threads(threads)
    return scores, positions
