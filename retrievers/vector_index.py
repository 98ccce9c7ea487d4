"""A FAISS index of normalised vectors with a JSON-lines docstore and a manifest.

Nothing here is pickled: vectors go through ``faiss.write_index``, texts and metadata
through JSON lines, and the manifest is JSON. Cosine similarity is the inner product of
L2-normalised vectors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from retrievers.errors import IndexDamagedError, IndexMismatchError
from retrievers.manifest import EmbeddingSpec, FileEntry, Manifest
from retrievers.snapshots import current_snapshot, publish_snapshot
from retrievers.sparse import SPARSE_FOLDER, SparseIndex

if TYPE_CHECKING:
    import faiss

VECTORS_FILE = "index.faiss"
DOCSTORE_FILE = "docstore.jsonl"
MANIFEST_FILE = "manifest.json"

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ChunkRecord:
    """One stored chunk: a stable id, its text and its metadata."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    """A chunk found by a search, with its cosine similarity to the query."""

    record: ChunkRecord
    score: float


def search_text(record: ChunkRecord, with_title: bool) -> str:
    """What is embedded and BM25-indexed for a chunk: its title (when asked) and its text."""
    title = str(record.metadata.get("title") or "")
    if with_title and title and not record.text.lstrip().startswith(title):
        return f"{title}\n\n{record.text}"
    return record.text


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
        chunking: dict[str, Any],
        records: Sequence[ChunkRecord],
        vector_store: faiss.Index,
        files: Sequence[FileEntry],
        created_at: str | None = None,
        sparse: SparseIndex | None = None,
    ) -> None:
        """Wrap a FAISS index whose row i is the vector of ``records[i]`` (and BM25 row i)."""
        self.embedding = embedding
        self.chunking = dict(chunking)
        self.records: list[ChunkRecord] = list(records)
        self.files: tuple[FileEntry, ...] = tuple(files)
        self.created_at = created_at or datetime.now(UTC).isoformat(timespec="seconds")
        self._faiss = vector_store
        self.sparse = sparse

    @classmethod
    def from_vectors(
        cls,
        embedding: EmbeddingSpec,
        chunking: dict[str, Any],
        records: Sequence[ChunkRecord],
        vectors: Vectors,
        files: Sequence[FileEntry],
    ) -> VectorIndex:
        """Build a new index; ``vectors`` are normalised here, row for row with ``records``."""
        import faiss

        if len(records) != len(vectors) or (
            len(records) and vectors.shape[1] != embedding.dimension
        ):
            raise ValueError(
                f"{len(records)} records but vectors of shape {vectors.shape}, "
                f"expected ({len(records)}, {embedding.dimension})"
            )
        store = faiss.IndexFlatIP(embedding.dimension)
        if len(records):
            store.add(normalize(vectors))
        with_title = chunking.get("context") == "title"
        sparse = SparseIndex.build([search_text(r, with_title) for r in records])
        return cls(embedding, chunking, records, store, files, sparse=sparse)

    @property
    def manifest(self) -> Manifest:
        """The manifest describing this index."""
        return Manifest(
            embedding=self.embedding,
            chunking=self.chunking,
            files=self.files,
            chunk_count=len(self.records),
            created_at=self.created_at,
        )

    def __len__(self) -> int:
        """Number of chunks."""
        return len(self.records)

    def vectors(self) -> Vectors:
        """All stored vectors, row i belonging to ``records[i]``."""
        if not self.records:
            return np.zeros((0, self.embedding.dimension), dtype=np.float32)
        return np.asarray(self._faiss.reconstruct_n(0, len(self.records)), dtype=np.float32)

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
        scores, positions = self._faiss.search(query_vector, min(k, len(self.records)))
        return [
            (int(position), float(score))
            for score, position in zip(scores[0], positions[0], strict=True)
            if position >= 0
        ]

    def vector(self, row: int) -> Vectors:
        """The stored (normalised) vector of one chunk."""
        return np.asarray(self._faiss.reconstruct(row), dtype=np.float32)

    def cosine(self, query_vector: Vectors, row: int) -> float:
        """Cosine similarity of a normalised query with one stored chunk."""
        return float(np.dot(self.vector(row), query_vector[0]))

    def check_embedding(self, provider: str, model: str) -> None:
        """Refuse to serve queries embedded by another model than the index was built with."""
        self.embedding.require(provider, model)

    def save(self, index_dir: Path) -> Path:
        """Write a new snapshot atomically and return its folder."""
        return publish_snapshot(index_dir, self._write_files)

    def _write_files(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._faiss, str(folder / VECTORS_FILE))
        with open(folder / DOCSTORE_FILE, "w", encoding="utf-8") as handle:
            for record in self.records:
                line = {"id": record.id, "text": record.text, "metadata": record.metadata}
                # ASCII JSON carries any file name, even undecodable bytes, through a round trip.
                handle.write(json.dumps(line) + "\n")
        if self.sparse is not None:
            self.sparse.save(folder)
        (folder / MANIFEST_FILE).write_text(self.manifest.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, index_dir: Path) -> VectorIndex:
        """Read the live snapshot; any inconsistency is an ``IndexDamagedError``."""
        snapshot = current_snapshot(index_dir)
        manifest = read_manifest(index_dir, snapshot)
        records = _read_docstore(index_dir, snapshot / DOCSTORE_FILE)
        vectors = _read_vectors(index_dir, snapshot / VECTORS_FILE)
        if not len(records) == vectors.ntotal == manifest.chunk_count:
            raise _damaged(
                index_dir,
                f"{len(records)} docstore rows, {vectors.ntotal} vectors and "
                f"{manifest.chunk_count} chunks in the manifest do not agree",
            )
        if vectors.d != manifest.embedding.dimension:
            raise _damaged(
                index_dir,
                f"vectors have {vectors.d} dimensions, manifest says "
                f"{manifest.embedding.dimension}",
            )
        sparse = _read_sparse(index_dir, snapshot, len(records))
        return cls(
            manifest.embedding,
            manifest.chunking,
            records,
            vectors,
            manifest.files,
            manifest.created_at,
            sparse,
        )


def read_manifest(index_dir: Path, snapshot: Path | None = None) -> Manifest:
    """Read and validate the manifest of the live (or given) snapshot."""
    folder = snapshot or current_snapshot(index_dir)
    try:
        return Manifest.from_json((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _damaged(index_dir, f"{MANIFEST_FILE} is missing") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise _damaged(index_dir, f"{MANIFEST_FILE} is invalid ({error})") from error


def _read_docstore(index_dir: Path, path: Path) -> list[ChunkRecord]:
    records: list[ChunkRecord] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    row = json.loads(line)
                    records.append(ChunkRecord(str(row["id"]), str(row["text"]), row["metadata"]))
                except (ValueError, KeyError, TypeError) as error:
                    raise _damaged(
                        index_dir, f"{DOCSTORE_FILE} line {number} is invalid ({error})"
                    ) from error
    except FileNotFoundError:
        raise _damaged(index_dir, f"{DOCSTORE_FILE} is missing") from None
    except UnicodeDecodeError as error:
        raise _damaged(index_dir, f"{DOCSTORE_FILE} is not UTF-8 ({error})") from error
    return records


def _read_vectors(index_dir: Path, path: Path) -> faiss.Index:
    import faiss

    if not path.is_file():
        raise _damaged(index_dir, f"{VECTORS_FILE} is missing")
    try:
        return faiss.read_index(str(path))
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise _damaged(index_dir, f"{VECTORS_FILE} is unreadable ({reason})") from error


def _read_sparse(index_dir: Path, snapshot: Path, rows: int) -> SparseIndex | None:
    if not (snapshot / SPARSE_FOLDER).is_dir():
        return None
    try:
        sparse = SparseIndex.load(snapshot)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _damaged(index_dir, f"the BM25 index is unreadable ({error})") from error
    if sparse.size != rows:
        raise _damaged(index_dir, f"the BM25 index has {sparse.size} rows, the docstore {rows}")
    return sparse


def _damaged(index_dir: Path, reason: str) -> IndexDamagedError:
    return IndexDamagedError(
        f"index at {index_dir} is damaged: {reason}; run `rag ingest --rebuild PATH`"
    )
