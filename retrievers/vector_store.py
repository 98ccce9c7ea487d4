"""ragkit's own index as a LangChain ``VectorStore``: add, delete, get and search by vector.

Every write is one atomic publish through the ``IndexStore`` under its writer lock, so a
reader (``rag ask``, the server) sees the index before or after a call, never half of it.
The manifest's embedding check applies: a store built with another model refuses to serve.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from retrievers.docstore import ChunkRecord
from retrievers.errors import IndexMismatchError, IndexNotFoundError
from retrievers.manifest import Chunking, EmbeddingSpec, FileEntry
from retrievers.store import IndexStore
from retrievers.vector_index import VectorIndex, normalize, search_text

Filter = dict[str, Any] | Callable[[dict[str, Any]], bool]
"""Metadata filter: equal values for every key given, or a predicate on the metadata."""
DEFAULT_CHUNKING = Chunking(chunk_size=0, chunk_overlap=0, splitter="none")
"""Recorded in the manifest of an index made by the VectorStore: texts are stored as given."""


def embedding_identity(embeddings: Embeddings) -> tuple[str, str]:
    """A (provider, model) pair for a LangChain embeddings object, as the manifest records it."""
    model = next(
        (
            str(value)
            for name in ("model_name", "model", "model_id")
            if (value := getattr(embeddings, name, None))
        ),
        "",
    )
    return type(embeddings).__name__, model


def matches(metadata: dict[str, Any], where: Filter | None) -> bool:
    """Whether a chunk's metadata passes the filter (no filter passes everything)."""
    if where is None:
        return True
    if callable(where):
        return bool(where(metadata))
    return all(metadata.get(key) == value for key, value in where.items())


class IndexVectorStore(VectorStore):
    """A LangChain vector store kept in a ragkit index (snapshot folder or another store).

    ``provider`` and ``model`` name the embedding model in the manifest; by default they come
    from the embeddings object. An existing index built with another model is refused.
    """

    def __init__(
        self,
        store: IndexStore,
        embedding: Embeddings,
        *,
        provider: str | None = None,
        model: str | None = None,
        chunking: Chunking = DEFAULT_CHUNKING,
        index_type: str = "flat",
        wait_seconds: float = 0.0,
    ) -> None:
        """Search and write the index in ``store``, embedding with ``embedding``."""
        default_provider, default_model = embedding_identity(embedding)
        self.store = store
        self._embedding = embedding
        self.provider = provider or default_provider
        self.model = model or default_model
        self.chunking = chunking
        self.index_type = index_type
        self.wait_seconds = wait_seconds
        self._index: VectorIndex | None = None
        self._version: str | None = None

    @property
    def embeddings(self) -> Embeddings:
        """The embedding model of queries and added texts."""
        return self._embedding

    def index(self) -> VectorIndex | None:
        """The live index (reloaded after any publish), or None before the first write."""
        try:
            version = self.store.version()
        except IndexNotFoundError:
            return None
        if self._index is None or version != self._version:
            index = self.store.load()
            index.check_embedding(self.provider, self.model)
            self._index, self._version = index, version
        return self._index

    # Writing.

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and add texts in one publish; a given id replaces the chunk that has it."""
        items = list(texts)
        metadata = list(metadatas) if metadatas is not None else [{} for _ in items]
        chosen = [
            str(given) if given else str(uuid.uuid4())
            for given in (ids if ids is not None else [None] * len(items))
        ]
        if not len(items) == len(metadata) == len(chosen):
            raise ValueError(
                f"{len(items)} texts, {len(metadata)} metadatas and {len(chosen)} ids differ"
            )
        if len(set(chosen)) != len(chosen):
            raise ValueError("the ids of one call must differ from each other")
        if not items:
            return []
        with self.store.writer_lock(self.wait_seconds):
            current = self.index()
            chunking = current.chunking if current is not None else self.chunking
            records = [
                ChunkRecord(chunk_id, text, dict(meta))
                for chunk_id, text, meta in zip(chosen, items, metadata, strict=True)
            ]
            embedded = self._embedding.embed_documents(
                [search_text(record, chunking.context) for record in records]
            )
            vectors = normalize(embedded)
            replaced = set(chosen)
            kept = self._kept_rows(current, replaced)
            old_records = [current.records[row] for row in kept] if current is not None else []
            if current is not None and vectors.shape[1] != current.embedding.dimension:
                raise IndexMismatchError(
                    f"the embeddings have {vectors.shape[1]} dimensions but the index was "
                    f"built with {current.embedding.label}"
                )
            old_vectors = current.vectors()[kept] if current is not None and kept else None
            all_vectors = vectors if old_vectors is None else np.vstack([old_vectors, vectors])
            self._publish(current, [*old_records, *records], all_vectors, chunking)
        return chosen

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Remove the chunks with these ids in one publish (ids not in the index are ignored)."""
        if ids is None:
            raise ValueError("delete needs the ids of the chunks to remove")
        with self.store.writer_lock(self.wait_seconds):
            current = self.index()
            if current is None:
                return True
            gone = {str(chunk_id) for chunk_id in ids}
            kept = self._kept_rows(current, gone)
            if len(kept) == len(current):
                return True
            vectors = current.vectors()[kept]
            records = [current.records[row] for row in kept]
            self._publish(current, records, vectors, current.chunking)
        return True

    def _kept_rows(self, index: VectorIndex | None, gone: set[str]) -> list[int]:
        if index is None:
            return []
        return [row for row, record in enumerate(index.records) if record.id not in gone]

    def _publish(
        self,
        current: VectorIndex | None,
        records: Sequence[ChunkRecord],
        vectors: np.ndarray[Any, Any],
        chunking: Chunking,
    ) -> None:
        """Build the new index (same type and manifest entries as the current one) and publish."""
        spec = (
            current.embedding
            if current is not None
            else EmbeddingSpec(self.provider, self.model, int(vectors.shape[1]))
        )
        index_type = current.index_spec.type if current is not None else self.index_type
        dtype = current.index_spec.vector_dtype if current is not None else "float32"
        files = _files_still_present(current.files if current is not None else (), records)
        if not len(vectors):
            vectors = np.zeros((0, spec.dimension), dtype=np.float32)
        index = VectorIndex.from_vectors(
            spec, chunking, records, vectors, files, index_type=index_type, vector_dtype=dtype
        )
        self.store.publish(index)

    # Reading.

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The chunks with these ids, in the order asked; unknown ids are left out."""
        index = self.index()
        if index is None:
            return []
        records = [index.record(str(chunk_id)) for chunk_id in ids]
        return [_document(record) for record in records if record is not None]

    def similarity_search(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` chunks closest to the query (``filter``: metadata values or a predicate)."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` closest chunks with their cosine similarity (higher is closer)."""
        if self.index() is None:
            return []
        vector = self._embedding.embed_query(query)
        return self.similarity_search_with_score_by_vector(vector, k, filter)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` chunks closest to a query vector."""
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, filter)]

    def similarity_search_with_score_by_vector(
        self, embedding: Sequence[float], k: int = 4, filter: Filter | None = None
    ) -> list[tuple[Document, float]]:
        """The ``k`` chunks closest to a query vector, with cosine similarities."""
        index = self.index()
        if index is None or k <= 0:
            return []
        pool = len(index) if filter is not None else k
        found = []
        for hit in index.search(embedding, pool):
            if matches(hit.record.metadata, filter):
                found.append((_document(hit.record), hit.score))
                if len(found) == k:
                    break
        return found

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` chunks relevant to the query but unlike each other, of the ``fetch_k`` closest."""
        if self.index() is None:
            return []
        vector = self._embedding.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """As ``max_marginal_relevance_search``, for a query vector."""
        index = self.index()
        if index is None or k <= 0:
            return []
        query = normalize(embedding)
        if query.shape[1] != index.embedding.dimension:
            index.search(embedding, 1)  # raises the mismatch error
        pool = len(index) if filter is not None else max(fetch_k, k)
        rows = [
            row
            for row, _ in index.dense_rows(query, pool)
            if matches(index.records[row].metadata, filter)
        ][: max(fetch_k, k)]
        if not rows:
            return []
        candidates = np.stack([index.vector(row) for row in rows])
        picked = maximal_marginal_relevance(query[0], candidates.tolist(), lambda_mult, k)
        return [_document(index.records[rows[position]]) for position in picked]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Cosine similarity in [-1, 1] as a relevance in [0, 1]."""
        return lambda score: min(1.0, max(0.0, (1.0 + score) / 2.0))

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        store: IndexStore | None = None,
        index_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> IndexVectorStore:
        """A store at ``store`` (or a snapshot folder ``index_dir``) holding these texts."""
        if store is None:
            if index_dir is None:
                raise ValueError("from_texts needs store= or index_dir=")
            from retrievers.snapshot_store import SnapshotStore

            store = SnapshotStore(Path(index_dir))
        vector_store = cls(store, embedding, **kwargs)
        vector_store.add_texts(texts, metadatas, ids=ids)
        return vector_store


def _document(record: ChunkRecord) -> Document:
    return Document(page_content=record.text, metadata=dict(record.metadata), id=record.id)


def _files_still_present(
    files: Sequence[FileEntry], records: Sequence[ChunkRecord]
) -> tuple[FileEntry, ...]:
    """The manifest's file entries with their chunk counts after a write; empty files go."""
    counts: dict[str, int] = {}
    for record in records:
        path = record.metadata.get("path")
        if isinstance(path, str):
            counts[path] = counts.get(path, 0) + 1
    return tuple(
        FileEntry(entry.path, entry.source, entry.content_hash, counts[entry.path], entry.size)
        for entry in files
        if counts.get(entry.path)
    )
