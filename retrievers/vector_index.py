"""A FAISS index of normalised vectors with a JSON-lines docstore and a manifest.

Nothing here is pickled: the search structure goes through ``faiss.write_index``, the
normalised vectors themselves through ``numpy.save(allow_pickle=False)`` (so another index
type can be built from them without embedding anything again), texts and metadata through
JSON lines read row by row (``retrievers.docstore``), and the manifest is JSON. Cosine
similarity is the inner product of L2-normalised vectors.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from retrievers.docstore import ChunkRecord, Docstore, write_docstore
from retrievers.errors import IndexDamagedError, IndexMismatchError
from retrievers.index_types import (
    REFINE_FACTOR,
    apply_search_params,
    build_faiss_index,
    index_spec_for,
)
from retrievers.manifest import EmbeddingSpec, FileEntry, IndexSpec, Manifest
from retrievers.snapshots import current_snapshot, publish_snapshot
from retrievers.sparse import SPARSE_FOLDER, SparseIndex

if TYPE_CHECKING:
    import faiss

VECTORS_FILE = "index.faiss"
RAW_VECTORS_FILE = "vectors.npy"
MANIFEST_FILE = "manifest.json"

Vectors = npt.NDArray[np.float32]


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
        *,
        stored_vectors: npt.NDArray[np.floating[Any]] | StoredVectorFile,
        index_spec: IndexSpec,
    ) -> None:
        """Wrap a FAISS index whose row i is the vector of ``records[i]`` (and BM25 row i).

        ``records`` may be a list or a ``Docstore`` read from disk on demand.

        ``stored_vectors`` are the same normalised vectors as kept on disk (float32 or
        float16, possibly memory-mapped): the source for rebuilds and exact re-scoring.
        """
        self.embedding = embedding
        self.chunking = dict(chunking)
        self.records: Sequence[ChunkRecord] = records
        self.files: tuple[FileEntry, ...] = tuple(files)
        self.created_at = created_at or datetime.now(UTC).isoformat(timespec="seconds")
        self._faiss = vector_store
        self._stored = stored_vectors
        self.index_spec = index_spec
        self.sparse = sparse

    @classmethod
    def from_vectors(
        cls,
        embedding: EmbeddingSpec,
        chunking: dict[str, Any],
        records: Sequence[ChunkRecord],
        vectors: Vectors,
        files: Sequence[FileEntry],
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
        with_title = chunking.get("context") == "title"
        sparse = SparseIndex.build([search_text(r, with_title) for r in records])
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

    def needs_rebuild(self, index_type: str, vector_dtype: str) -> bool:
        """True when these settings ask for another index type, parameters or vector dtype."""
        return index_spec_for(index_type, len(self), vector_dtype) != self.index_spec

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
    def sources(self) -> list[str]:
        """The source (file name) of every chunk, row by row, read once."""
        return [str(record.metadata.get("source", "")) for record in self.records]

    def __len__(self) -> int:
        """Number of chunks."""
        return len(self.records)

    def vectors(self) -> Vectors:
        """All stored vectors, row i belonging to ``records[i]``."""
        return np.ascontiguousarray(self._stored, dtype=np.float32)

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
        scores, positions = _search_one_thread(self._faiss, query_vector, min(fetch, len(self)))
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
        exact = np.asarray(self._stored[rows], dtype=np.float32) @ query_vector[0]
        ranked = sorted(zip(rows.tolist(), exact.tolist(), strict=True), key=lambda p: -p[1])
        return ranked[:k]

    def vector(self, row: int) -> Vectors:
        """The stored (normalised) vector of one chunk."""
        return np.asarray(self._stored[row], dtype=np.float32)

    def cosines(self, query_vector: Vectors, rows: Sequence[int]) -> list[float]:
        """Cosine similarities of a normalised query with several stored chunks, in order."""
        if not rows:
            return []
        order = np.argsort(rows)
        picked = np.asarray(self._stored[np.asarray(rows)[order]], dtype=np.float32)
        scores = np.empty(len(rows), dtype=np.float32)
        scores[order] = picked @ query_vector[0]
        return [float(score) for score in scores]

    def check_embedding(self, provider: str, model: str) -> None:
        """Refuse to serve queries embedded by another model than the index was built with."""
        self.embedding.require(provider, model)

    def save(self, index_dir: Path) -> Path:
        """Write a new snapshot atomically and return its folder."""
        return publish_snapshot(index_dir, self._write_files)

    def _write_files(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._faiss, str(folder / VECTORS_FILE))
        np.save(folder / RAW_VECTORS_FILE, np.ascontiguousarray(self._stored), allow_pickle=False)
        write_docstore(folder, self.records)
        if self.sparse is not None:
            self.sparse.save(folder)
        (folder / MANIFEST_FILE).write_text(self.manifest.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, index_dir: Path) -> VectorIndex:
        """Read the live snapshot; any inconsistency is an ``IndexDamagedError``."""
        snapshot = current_snapshot(index_dir)
        manifest = read_manifest(index_dir, snapshot)
        records = Docstore.open(snapshot, lambda reason: IndexDamagedError.at(index_dir, reason))
        vectors = _read_vectors(index_dir, snapshot / VECTORS_FILE)
        if not len(records) == vectors.ntotal == manifest.chunk_count:
            raise IndexDamagedError.at(
                index_dir,
                f"{len(records)} docstore rows, {vectors.ntotal} vectors and "
                f"{manifest.chunk_count} chunks in the manifest do not agree",
            )
        if vectors.d != manifest.embedding.dimension:
            raise IndexDamagedError.at(
                index_dir,
                f"vectors have {vectors.d} dimensions, manifest says "
                f"{manifest.embedding.dimension}",
            )
        stored = _read_stored_vectors(index_dir, snapshot, manifest, vectors)
        apply_search_params(vectors, manifest.index)
        sparse = _read_sparse(index_dir, snapshot, len(records))
        return cls(
            manifest.embedding,
            manifest.chunking,
            records,
            vectors,
            manifest.files,
            manifest.created_at,
            sparse,
            stored_vectors=stored,
            index_spec=manifest.index,
        )


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


def read_manifest(index_dir: Path, snapshot: Path | None = None) -> Manifest:
    """Read and validate the manifest of the live (or given) snapshot."""
    folder = snapshot or current_snapshot(index_dir)
    try:
        return Manifest.from_json((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexDamagedError.at(index_dir, f"{MANIFEST_FILE} is missing") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise IndexDamagedError.at(index_dir, f"{MANIFEST_FILE} is invalid ({error})") from error


def _read_vectors(index_dir: Path, path: Path) -> faiss.Index:
    import faiss

    if not path.is_file():
        raise IndexDamagedError.at(index_dir, f"{VECTORS_FILE} is missing")
    try:
        return faiss.read_index(str(path))
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise IndexDamagedError.at(index_dir, f"{VECTORS_FILE} is unreadable ({reason})") from error


def _read_stored_vectors(
    index_dir: Path, snapshot: Path, manifest: Manifest, store: faiss.Index
) -> npt.NDArray[np.floating[Any]] | StoredVectorFile:
    """The vectors file, opened for reading rows on demand."""
    path = snapshot / RAW_VECTORS_FILE
    if manifest.format_version == 1 and not path.exists():
        # Version 1 kept the vectors only in its flat FAISS index.
        return np.asarray(store.reconstruct_n(0, store.ntotal), dtype=np.float32)
    if not path.is_file():
        raise IndexDamagedError.at(index_dir, f"{RAW_VECTORS_FILE} is missing")
    try:
        stored = StoredVectorFile(path)
    except (ValueError, TypeError, OSError) as error:
        raise IndexDamagedError.at(
            index_dir, f"{RAW_VECTORS_FILE} is unreadable ({error})"
        ) from error
    expected = (manifest.chunk_count, manifest.embedding.dimension)
    if stored.shape != expected or stored.dtype != np.dtype(manifest.index.vector_dtype):
        raise IndexDamagedError.at(
            index_dir,
            f"{RAW_VECTORS_FILE} holds {stored.dtype} {stored.shape}, the manifest says "
            f"{manifest.index.vector_dtype} {expected}",
        )
    return stored


class StoredVectorFile:
    """The rows of a vectors.npy file, read on demand: a search needs only a few of them.

    Rows are read with ``pread`` rather than memory-mapped: a mapped file pulls whole
    page-cache folios (about 1 MB) into the process for each row, and a long-running
    process ends up holding the whole file.
    """

    def __init__(self, path: Path) -> None:
        """Open the file and check its header; raises ``ValueError`` when it is not usable."""
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            offset = handle.tell()
        if fortran or dtype.hasobject or len(shape) != 2:
            raise ValueError("not a plain two-dimensional numeric array")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        if path.stat().st_size < offset + self.shape[0] * self._row_bytes:
            raise ValueError("the file is shorter than its header says")
        self._offset = offset
        self._descriptor = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        """Close the file."""
        with contextlib.suppress(AttributeError, OSError):
            os.close(self._descriptor)

    def __getitem__(self, rows: int | npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        """One row, or the given rows in order."""
        picked = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        data = b"".join(
            os.pread(self._descriptor, self._row_bytes, self._offset + row * self._row_bytes)
            for row in picked.tolist()
        )
        array = np.frombuffer(data, dtype=self.dtype).reshape(len(picked), self.shape[1])
        return array[0] if np.ndim(rows) == 0 else array

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        """Every row (read in full)."""
        # Through the open descriptor: the snapshot folder may have been pruned since.
        with os.fdopen(os.dup(self._descriptor), "rb") as handle:
            handle.seek(self._offset)
            count = self.shape[0] * self.shape[1]
            array = np.fromfile(handle, dtype=self.dtype, count=count).reshape(self.shape)
        return array if dtype is None else array.astype(dtype, copy=False)


def _read_sparse(index_dir: Path, snapshot: Path, rows: int) -> SparseIndex | None:
    if not (snapshot / SPARSE_FOLDER).is_dir():
        return None
    try:
        sparse = SparseIndex.load(snapshot)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IndexDamagedError.at(index_dir, f"the BM25 index is unreadable ({error})") from error
    if sparse.size != rows:
        raise IndexDamagedError.at(
            index_dir, f"the BM25 index has {sparse.size} rows, the docstore {rows}"
        )
    return sparse
