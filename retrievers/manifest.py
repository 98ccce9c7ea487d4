"""The manifest: what an index was built with, so loading it can refuse a mismatch."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from retrievers.errors import IndexMismatchError

FORMAT_VERSION = 1


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

    def require(self, provider: str, model: str) -> None:
        """Refuse to serve queries embedded by another model than these vectors'."""
        if (provider, model) != (self.provider, self.model):
            raise IndexMismatchError(
                f"the index was built with {self.label} but the settings ask for "
                f"{provider}:{model}; set RAG_EMBED_PROVIDER={self.provider} "
                f"RAG_EMBED_MODEL={self.model}, or run `rag ingest --rebuild PATH`"
            )


@dataclass(frozen=True)
class FileEntry:
    """One ingested file: where it is, what it hashed to and how many chunks it gave."""

    path: str
    source: str
    content_hash: str
    chunks: int
    size: int


@dataclass(frozen=True)
class Manifest:
    """Everything needed to check an index on load and to describe it in ``rag status``."""

    embedding: EmbeddingSpec
    chunking: dict[str, Any]
    files: tuple[FileEntry, ...]
    chunk_count: int
    created_at: str
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
        if version != FORMAT_VERSION:
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
            chunking=dict(data["chunking"]),
            files=files,
            chunk_count=chunk_count,
            created_at=str(data["created_at"]),
            format_version=version,
            extra=dict(data.get("extra", {})),
        )
