"""The manifest: what an index was built with, so loading it can refuse a mismatch."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from retrievers.errors import IndexMismatchError

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Version 1 snapshots have no vectors.npy and are always flat; version 2 records the index type."""


@dataclass(frozen=True)
class EmbeddingSpec:
    """Which embedding model produced the vectors of an index."""

    provider: str
    model: str
    dimension: int
    normalization: str = "l2"
    backend: str = ""
    """What computed the vectors (torch, onnx, onnx-int8, ollama); empty in indexes from
    before it was recorded, which were built with torch (or Ollama)."""

    @property
    def label(self) -> str:
        """Short human form, e.g. ``huggingface:sentence-transformers/all-MiniLM-L6-v2 (384d)``."""
        return f"{self.provider}:{self.model} ({self.dimension}d)"

    @property
    def made_by(self) -> str:
        """The backend that computed the vectors (torch, or the provider, when not recorded)."""
        return self.backend or ("torch" if self.provider == "huggingface" else self.provider)

    def matches(self, provider: str, model: str) -> bool:
        """True when queries embedded by this provider and model fit these vectors."""
        return (provider, model) == (self.provider, self.model)

    def require(self, provider: str, model: str) -> None:
        """Refuse to serve queries embedded by another model than these vectors'."""
        if not self.matches(provider, model):
            raise IndexMismatchError(
                f"the index was built with {self.label} but the settings ask for "
                f"{provider}:{model}; set RAG_EMBED_PROVIDER={self.provider} "
                f"RAG_EMBED_MODEL={self.model}, or run `rag ingest --rebuild PATH`"
            )


@dataclass(frozen=True)
class IndexSpec:
    """How the vectors are searched (FAISS index type and its parameters) and stored on disk."""

    type: str = "flat"
    params: dict[str, int] = field(default_factory=dict)
    vector_dtype: str = "float32"

    @property
    def exact(self) -> bool:
        """True when search compares the query with every stored vector."""
        return self.type == "flat"

    @property
    def label(self) -> str:
        """Short human form, e.g. ``hnsw (M=32, efConstruction=64, efSearch=64), float16``."""
        params = ", ".join(f"{name}={value}" for name, value in self.params.items())
        return f"{self.type}{f' ({params})' if params else ''}, {self.vector_dtype} vectors"


@dataclass(frozen=True)
class Chunking:
    """How the chunks of an index were cut, and what was put in front of each to embed it."""

    chunk_size: int
    chunk_overlap: int
    context: str = "none"
    """What goes in front of each chunk for embedding and BM25: ``none``, ``title`` (the document
    title) or ``section`` (the title, then the chunk's section path); see ``search_text``."""
    splitter: str = "recursive-character"

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as the manifest keeps it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunking:
        """Parse the manifest's chunking; raises ``ValueError`` on malformed input."""
        size, overlap = data.get("chunk_size"), data.get("chunk_overlap")
        if not isinstance(size, int) or not isinstance(overlap, int):
            raise ValueError("chunk_size and chunk_overlap must be whole numbers")
        return cls(
            chunk_size=size,
            chunk_overlap=overlap,
            context=str(data.get("context") or "none"),
            splitter=str(data.get("splitter") or "recursive-character"),
        )


@dataclass(frozen=True)
class FileEntry:
    """One ingested file: where it is, what it hashed to and how many chunks it gave."""

    path: str
    source: str
    content_hash: str
    chunks: int
    size: int
    indexed_at: str = ""
    """When these chunks were made (ISO 8601, UTC); empty in indexes from before it was kept."""
    pages: int = 0
    """How many pages, slides or sheets the file was read as (0: none, or not recorded)."""


@dataclass(frozen=True)
class Manifest:
    """Everything needed to check an index on load and to describe it in ``rag status``."""

    embedding: EmbeddingSpec
    chunking: Chunking
    files: tuple[FileEntry, ...]
    chunk_count: int
    created_at: str
    index: IndexSpec = field(default_factory=IndexSpec)
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialise as pretty JSON (a plain text format, never pickle)."""
        data = asdict(self)
        data["files"] = [asdict(entry) for entry in self.files]
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse and validate; raises ``ValueError`` or ``KeyError`` on malformed input."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("manifest is not a JSON object")
        version = data["format_version"]
        if version not in READABLE_VERSIONS:
            raise ValueError(f"format version {version!r}, this ragkit reads {FORMAT_VERSION}")
        embedding = EmbeddingSpec(**data["embedding"])
        if not isinstance(embedding.dimension, int) or embedding.dimension <= 0:
            raise ValueError("embedding dimension must be a positive integer")
        files = tuple(FileEntry(**entry) for entry in data["files"])
        chunk_count = data["chunk_count"]
        if not isinstance(chunk_count, int) or chunk_count < 0:
            raise ValueError("chunk_count must be a non-negative integer")
        return cls(
            embedding=embedding,
            chunking=Chunking.from_dict(dict(data["chunking"])),
            files=files,
            chunk_count=chunk_count,
            created_at=str(data["created_at"]),
            index=_index_spec(data.get("index", {})),
            format_version=version,
            extra=dict(data.get("extra", {})),
        )


def _index_spec(data: dict[str, Any]) -> IndexSpec:
    spec = IndexSpec(**data)
    if not isinstance(spec.params, dict) or not all(
        isinstance(value, int) for value in spec.params.values()
    ):
        raise ValueError("index parameters must be whole numbers")
    return spec
