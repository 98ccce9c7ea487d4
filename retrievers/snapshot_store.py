"""The local store: an index folder of atomic snapshots (``retrievers.snapshots``).

Nothing here is pickled: the search structure goes through ``faiss.write_index``, the
normalised vectors through ``numpy.save(allow_pickle=False)`` (so another index type can be
built from them without embedding anything again), texts and metadata through JSON lines
read row by row (``retrievers.docstore``), and the manifest is JSON.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from retrievers.docstore import Docstore, write_docstore
from retrievers.errors import IndexDamagedError, first_line
from retrievers.index_types import apply_search_params
from retrievers.manifest import Manifest
from retrievers.snapshots import current_snapshot, index_size_bytes, publish_snapshot
from retrievers.sparse import SPARSE_FOLDER, SparseIndex
from retrievers.stored_vectors import StoredVectorFile
from retrievers.vector_index import VectorIndex
from retrievers.writer_lock import writer_lock

if TYPE_CHECKING:
    import faiss

VECTORS_FILE = "index.faiss"
RAW_VECTORS_FILE = "vectors.npy"
MANIFEST_FILE = "manifest.json"


class SnapshotStore:
    """An index kept in a folder on this machine, published as complete snapshot folders."""

    def __init__(self, index_dir: Path) -> None:
        """The store at ``index_dir`` (created on the first publish)."""
        self.index_dir = index_dir

    @property
    def location(self) -> str:
        """The index folder."""
        return str(self.index_dir)

    def version(self) -> str:
        """The name of the live snapshot folder."""
        return current_snapshot(self.index_dir).name

    def manifest(self) -> Manifest:
        """The live snapshot's manifest."""
        return self._manifest(current_snapshot(self.index_dir))

    def load(self) -> VectorIndex:
        """Read the live snapshot; any inconsistency is an ``IndexDamagedError``."""
        snapshot = current_snapshot(self.index_dir)
        manifest = self._manifest(snapshot)
        records = Docstore.open(snapshot, self._damaged)
        vectors = self._faiss_index(snapshot / VECTORS_FILE)
        if not len(records) == vectors.ntotal == manifest.chunk_count:
            raise self._damaged(
                f"{len(records)} docstore rows, {vectors.ntotal} vectors and "
                f"{manifest.chunk_count} chunks in the manifest do not agree"
            )
        if vectors.d != manifest.embedding.dimension:
            raise self._damaged(
                f"vectors have {vectors.d} dimensions, manifest says {manifest.embedding.dimension}"
            )
        stored = self._stored_vectors(snapshot, manifest, vectors)
        apply_search_params(vectors, manifest.index)
        return VectorIndex(
            manifest.embedding,
            manifest.chunking,
            records,
            vectors,
            manifest.files,
            created_at=manifest.created_at,
            sparse=self._sparse(snapshot, len(records)),
            stored_vectors=stored,
            index_spec=manifest.index,
        )

    def searchable(self) -> VectorIndex:
        """The loaded index: the local store searches in memory."""
        return self.load()

    def verify(self) -> Manifest:
        """Manifest, docstore rows and the vectors file agree (no vectors are read)."""
        snapshot = current_snapshot(self.index_dir)
        manifest = self._manifest(snapshot)
        rows = len(Docstore.open(snapshot, self._damaged))
        if rows != manifest.chunk_count:
            raise self._damaged(f"{rows} docstore rows, manifest says {manifest.chunk_count}")
        if not (snapshot / VECTORS_FILE).is_file():
            raise self._damaged(f"{VECTORS_FILE} is missing")
        return manifest

    def publish(self, index: VectorIndex) -> None:
        """Write a new snapshot folder and switch CURRENT to it atomically."""
        publish_snapshot(self.index_dir, lambda folder: write_index_files(index, folder))

    def writer_lock(self, wait_seconds: float = 0.0) -> AbstractContextManager[None]:
        """The index folder's OS file lock."""
        return writer_lock(self.index_dir, wait_seconds)

    def size_bytes(self) -> int:
        """Total size of the live snapshot's files."""
        return index_size_bytes(current_snapshot(self.index_dir))

    def _damaged(self, reason: str) -> IndexDamagedError:
        return IndexDamagedError.at(self.index_dir, reason)

    def _manifest(self, snapshot: Path) -> Manifest:
        try:
            return Manifest.from_json((snapshot / MANIFEST_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise self._damaged(f"{MANIFEST_FILE} is missing") from None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise self._damaged(f"{MANIFEST_FILE} is invalid ({error})") from error

    def _faiss_index(self, path: Path) -> faiss.Index:
        import faiss

        if not path.is_file():
            raise self._damaged(f"{VECTORS_FILE} is missing")
        try:
            return faiss.read_index(str(path))
        except RuntimeError as error:
            reason = first_line(error) if str(error).strip() else "unreadable"
            raise self._damaged(f"{VECTORS_FILE} is unreadable ({reason})") from error

    def _stored_vectors(
        self, snapshot: Path, manifest: Manifest, store: faiss.Index
    ) -> npt.NDArray[np.floating[Any]] | StoredVectorFile:
        """The vectors file, opened for reading rows on demand."""
        path = snapshot / RAW_VECTORS_FILE
        if manifest.format_version == 1 and not path.exists():
            # Version 1 kept the vectors only in its flat FAISS index.
            return np.asarray(store.reconstruct_n(0, store.ntotal), dtype=np.float32)
        if not path.is_file():
            raise self._damaged(f"{RAW_VECTORS_FILE} is missing")
        try:
            stored = StoredVectorFile(path)
        except (ValueError, TypeError, OSError) as error:
            raise self._damaged(f"{RAW_VECTORS_FILE} is unreadable ({error})") from error
        expected = (manifest.chunk_count, manifest.embedding.dimension)
        if stored.shape != expected or stored.dtype != np.dtype(manifest.index.vector_dtype):
            raise self._damaged(
                f"{RAW_VECTORS_FILE} holds {stored.dtype} {stored.shape}, the manifest says "
                f"{manifest.index.vector_dtype} {expected}"
            )
        return stored

    def _sparse(self, snapshot: Path, rows: int) -> SparseIndex | None:
        if not (snapshot / SPARSE_FOLDER).is_dir():
            return None
        try:
            sparse = SparseIndex.load(snapshot)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise self._damaged(f"the BM25 index is unreadable ({error})") from error
        if sparse.size != rows:
            raise self._damaged(f"the BM25 index has {sparse.size} rows, the docstore {rows}")
        return sparse


def write_index_files(index: VectorIndex, folder: Path) -> None:
    """Write every file of ``index`` into an empty snapshot folder."""
    import faiss

    faiss.write_index(index.faiss_index, str(folder / VECTORS_FILE))
    stored = np.ascontiguousarray(index.stored_vectors)
    np.save(folder / RAW_VECTORS_FILE, stored, allow_pickle=False)
    write_docstore(folder, index.records)
    if index.sparse is not None:
        index.sparse.save(folder)
    (folder / MANIFEST_FILE).write_text(index.manifest.to_json() + "\n", encoding="utf-8")
