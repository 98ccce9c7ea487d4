"""From documents to an index the settings describe.

Chunk records, the embedding spec, the chunking recorded in the manifest, and the index built
from vectors: ingest and ``rag eval`` both build their indexes here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from langchain_core.documents import Document

from app.config.settings import Settings
from app.ingestion.splitting import split_documents
from retrievers.docstore import ChunkRecord
from retrievers.manifest import Chunking, EmbeddingSpec, FileEntry, Manifest
from retrievers.vector_index import VectorIndex, Vectors, search_text


def chunking_of(settings: Settings) -> Chunking:
    """The chunking settings recorded in the manifest."""
    return Chunking(
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        context=settings.chunk_context,
    )


MadeOtherwise = Literal["embedding", "chunking", "backend"]
"""What of an index differs from what the settings ask: its model, its chunking or its backend."""


def made_otherwise(manifest: Manifest, settings: Settings) -> MadeOtherwise | None:
    """What the index was made with otherwise than the settings say (None: as they say)."""
    if not manifest.embedding.matches(settings.embed_provider, settings.embed_model):
        return "embedding"
    if manifest.chunking != chunking_of(settings):
        return "chunking"
    if manifest.embedding.made_by != settings.embedding_backend:
        return "backend"
    return None


def chunk_records(documents: Sequence[Document], settings: Settings) -> list[ChunkRecord]:
    """The documents split as the settings say, as the records a docstore keeps."""
    chunks = split_documents(documents, settings.chunk_size, settings.chunk_overlap)
    return [ChunkRecord(str(c.id), c.page_content, dict(c.metadata)) for c in chunks]


def embedded_texts(records: Sequence[ChunkRecord], chunking: Chunking) -> list[str]:
    """What is embedded for each record (its title in front when the chunking says so)."""
    return [search_text(record, chunking.context) for record in records]


def embedding_spec(settings: Settings, dimension: int) -> EmbeddingSpec:
    """Which model and backend made vectors of ``dimension``, as the manifest records it."""
    return EmbeddingSpec(
        settings.embed_provider,
        settings.embed_model,
        int(dimension),
        backend=settings.embedding_backend,
    )


def build_index(
    settings: Settings,
    records: Sequence[ChunkRecord],
    vectors: Vectors,
    files: Sequence[FileEntry],
) -> VectorIndex:
    """An index of the records and their vectors, of the settings' index type and dtype."""
    return VectorIndex.from_vectors(
        embedding_spec(settings, vectors.shape[1]),
        chunking_of(settings),
        records,
        vectors,
        files,
        index_type=settings.index_type,
        vector_dtype=settings.vector_dtype,
    )


def kept_rows(
    previous: Sequence[ChunkRecord], stored: Vectors | None, keep: Sequence[FileEntry]
) -> tuple[list[ChunkRecord], Vectors]:
    """The chunks (and their vectors) of the files in ``keep``, with their current sources."""
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
