"""What a store holds, read from its manifests: the live index, its files, the collections.

No vectors or models are loaded: ``rag status``, ``rag ls``, ``rag status --all`` and the
server's status and documents endpoints read only this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.config.settings import Settings
from app.errors import IndexNotFoundError, RagError, one_line
from app.retrieval import build_store, drop_store_collection, store_collections

if TYPE_CHECKING:
    from retrievers.manifest import Chunking
    from retrievers.store import IndexStore


@dataclass(frozen=True)
class IndexStatus:
    """What ``rag status`` shows about the live index."""

    index_dir: str
    files: int
    chunks: int
    embedding: str
    dimension: int
    size_bytes: int
    created_at: str
    chunking: Chunking
    index_type: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {**self.__dict__, "chunking": self.chunking.to_dict()}


@dataclass(frozen=True)
class IndexedFile:
    """One file in the index, as ``rag ls``, the server and MCP list it."""

    source: str
    path: str
    chunks: int
    size: int
    content_hash: str
    indexed_at: str = ""
    pages: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class CollectionInfo:
    """One collection of the store, as ``rag status --all`` lists it."""

    name: str
    location: str
    files: int
    chunks: int
    size_bytes: int
    embedding: str
    last_ingest: str
    in_use: bool
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return dict(self.__dict__)


def index_status(settings: Settings, store: IndexStore | None = None) -> IndexStatus:
    """Describe the live index from its manifest, without loading vectors or models."""
    store = store or build_store(settings)
    manifest = store.manifest()
    return IndexStatus(
        index_dir=store.location,
        files=len(manifest.files),
        chunks=manifest.chunk_count,
        embedding=f"{manifest.embedding.provider}:{manifest.embedding.model}",
        dimension=manifest.embedding.dimension,
        size_bytes=store.size_bytes(),
        created_at=manifest.created_at,
        chunking=manifest.chunking,
        index_type=manifest.index.label,
    )


def collections(settings: Settings) -> list[CollectionInfo]:
    """The collections of the settings' store (data folder or database), from their manifests."""
    live = build_store(settings).location
    found = []
    for name, store in store_collections(settings).items():
        in_use = store.location == live
        try:
            manifest = store.manifest()
        except RagError as error:
            problem = "empty" if isinstance(error, IndexNotFoundError) else one_line(error)
            found.append(CollectionInfo(name, store.location, 0, 0, 0, "", "", in_use, problem))
            continue
        found.append(
            CollectionInfo(
                name=name,
                location=store.location,
                files=len(manifest.files),
                chunks=manifest.chunk_count,
                size_bytes=store.size_bytes(),
                embedding=f"{manifest.embedding.provider}:{manifest.embedding.model}",
                last_ingest=manifest.created_at,
                in_use=in_use,
            )
        )
    return found


def drop_collection(settings: Settings, name: str, wait_seconds: float = 0.0) -> str:
    """Delete a collection of the settings' store (its documents stay); where it was."""
    return drop_store_collection(settings, name, wait_seconds)


def indexed_files(store: IndexStore) -> list[IndexedFile]:
    """The files in the store's live index, by source."""
    files = sorted(store.manifest().files, key=lambda entry: entry.source)
    return [
        IndexedFile(
            entry.source,
            entry.path,
            entry.chunks,
            entry.size,
            entry.content_hash,
            entry.indexed_at,
            entry.pages,
        )
        for entry in files
    ]
